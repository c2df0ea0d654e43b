"""Real processes for the chaos tests: workers, and brokers of their own to restart.

A worker in a process of its own, started with the command a deployment
runs, is the only kind that can be killed with SIGKILL or stopped with
SIGTERM. The brokers here are private instances on free ports, in a
temporary directory, so restarting one disturbs nobody else's tests.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
{% if cookiecutter.framework == 'standalone' or cookiecutter.broker == 'redis' %}
import ssl
{% endif %}
import subprocess
import sys
{% if cookiecutter.framework == 'django' or cookiecutter.__flower == 'yes' %}
import threading
{% endif %}
import time
import uuid
{% if cookiecutter.__flower == 'yes' %}
import warnings
{% endif %}
from collections import Counter
from pathlib import Path

from {{ cookiecutter.project_slug }} import topology

PROJECT_DIR = Path(__file__).resolve().parents[1]


def run_python(code: str, *args: str, env: dict[str, str] | None = None):
    """``code`` with ``args`` in a Python process of its own, in the project; its output kept."""
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, timeout: float, what: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(interval)


{% if cookiecutter.__flower == 'yes' %}
def stop_or_show_why(process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    """SIGTERM ``process``; one still running ``timeout`` s later is killed, with a warning.

    For a process whose stopping is not what the test checks (Flower). Started
    with PYTHONFAULTHANDLER=1, its threads' stacks go to ``log`` before it dies,
    and the warning shows them: what it was waiting on.
    """
    process.terminate()
    try:
        process.wait(timeout=timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    process.send_signal(signal.SIGABRT)  # faulthandler writes every thread's stack
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)
    warnings.warn(
        f"{process.args} still ran {timeout:.0f} s after SIGTERM; killed. Its log ends:\n"
        + log.read_text(errors="replace")[-4000:],
        stacklevel=2,
    )


{% endif %}
@contextlib.contextmanager
def in_process_worker(app, **options):
    """Celery's embedded test worker (a thread of this process), stopped as soon as it is left.

    Celery's ``start_worker`` orders the stop, then waits for the worker's
    thread, which looks for the order only between two polls of its event
    loop: an idle loop sleeps until its next timer, up to 10 s. Here the order
    is given first and the loop woken, so the thread ends at once.
    """
    from celery.contrib.testing.worker import start_worker
    from celery.worker import state

    with start_worker(app, **options) as worker:
        try:
            yield worker
        finally:
            state.should_terminate = 0  # what start_worker sets before it waits
            if getattr(worker, "hub", None) is not None:
                worker.hub.call_soon(lambda: None)


class Certificates:
    """A test certificate authority, a server certificate it signed, and an unrelated CA.

    The server certificate names localhost and 127.0.0.1, so host name checks pass.
    """

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.ca = directory / "ca.pem"
        self.server_cert = directory / "server.pem"
        self.server_key = directory / "server.key"
        self.other_ca = directory / "other-ca.pem"
        self._ca("test-ca", self.ca, directory / "ca.key")
        self._ca("other-ca", self.other_ca, directory / "other-ca.key")
        (directory / "server.ext").write_text(
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n"
            "basicConstraints=CA:FALSE\n"
            "keyUsage=critical,digitalSignature,keyEncipherment\n"
            "extendedKeyUsage=serverAuth\n"
            "subjectKeyIdentifier=hash\n"
            "authorityKeyIdentifier=keyid,issuer\n"
        )
        csr = directory / "server.csr"
        new_key = ["-newkey", "rsa:2048", "-nodes", "-keyout", self.server_key]
        self._openssl("req", *new_key, "-subj", "/CN=localhost", "-out", csr)
        signed_by_ca = ["-CA", self.ca, "-CAkey", directory / "ca.key", "-CAcreateserial"]
        extensions = ["-extfile", directory / "server.ext"]
        self._openssl(
            "x509", "-req", "-in", csr, *signed_by_ca, "-days", "2", *extensions,
            "-out", self.server_cert,
        )  # fmt: skip

    @staticmethod
    def missing() -> str | None:
        if shutil.which("openssl") is None:
            return "openssl is not installed"
        return None

    def _ca(self, name: str, certificate: Path, key: Path) -> None:
        self._openssl(
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
            "-keyout", key, "-out", certificate,
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        )  # fmt: skip

    @staticmethod
    def _openssl(*args) -> None:
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, timeout=60)


class Journal:
    """What the chaos tasks did, read back from their journal file (tests/chaos_tasks.py)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[tuple[str, str, int, float]]:
        if not self.path.exists():
            return []
        rows = (line.split() for line in self.path.read_text().splitlines())
        return [(event, key, int(pid), float(when)) for event, key, pid, when in rows]

    def count(self, event: str) -> Counter:
        """How many times ``event`` happened, by key."""
        return Counter(key for seen, key, _, _ in self.lines() if seen == event)

    def pids(self, event: str, key: str) -> list[int]:
        return [pid for seen, k, pid, _ in self.lines() if seen == event and k == key]

    def times(self, event: str) -> list[float]:
        return [when for seen, _, _, when in self.lines() if seen == event]

    def wait_completed(self, keys, timeout: float) -> None:
        keys = set(keys)

        def unfinished() -> set[str]:
            return keys - set(self.count("completed"))

        try:
            wait_for(lambda: not unfinished(), timeout, "every task completed")
        except AssertionError:
            raise AssertionError(
                f"{len(unfinished())} of {len(keys)} tasks not completed within {timeout} s"
            ) from None


class ProcessWorker:
    """``celery worker`` for one worker group of the topology, in a process of its own."""

    def __init__(
        self, group: topology.Worker, log_dir: Path, env: dict[str, str], hostname: str = ""
    ) -> None:
        self.group = group
        self.hostname = hostname or f"{group.name}-{uuid.uuid4().hex[:8]}@chaos"
        self.log = log_dir / f"{self.hostname}.log"
        # The launcher a deployment runs, with the group's options from the topology.
        command = [
            sys.executable,
            "-m",
            "{{ cookiecutter.project_slug }}.worker",
            group.name,
            "--include=tests.chaos_tasks",
            f"--hostname={self.hostname}",
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=PROJECT_DIR,
                env={**os.environ, **env},
                stdout=log,
                stderr=subprocess.STDOUT,
                # Its own process group, so the whole worker can be killed at once.
                start_new_session=True,
            )
        self.started_at = time.monotonic()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, timeout: float = 90) -> ProcessWorker:
        def ready() -> bool:
            if self.process.poll() is not None:
                raise AssertionError(f"worker {self.hostname} exited:\n{self.output()[-3000:]}")
            return " ready." in self.output()

        wait_for(ready, timeout, f"worker {self.hostname} ready")
        return self

    def received(self, task_ids) -> int:
        """How many of these tasks the worker has received."""
        log = self.output()
        return sum(1 for task_id in task_ids if f"[{task_id}] received" in log)

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the main process, as an orchestrator does."""
        self.process.send_signal(signum)

    def kill(self) -> None:
        """SIGKILL the main process and its children at once: a crash, an OOM kill, a lost node."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self, timeout: float = 30) -> None:
        if self.process.poll() is None:
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=timeout)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # children left behind, if any
        self.process.wait(timeout=30)


{% if cookiecutter.framework == 'standalone' or cookiecutter.broker == 'redis' %}
class PrivateRedis:
    """A redis-server of our own, on a free port, with its append-only file in ``directory``.

    With ``certificates`` it listens for TLS only (``rediss://``).
    """

    def __init__(self, directory: Path, certificates: Certificates | None = None) -> None:
        self.directory = directory
        self.certificates = certificates
        self.port = free_port()
        scheme = "rediss" if certificates else "redis"
        self.url = f"{scheme}://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    @staticmethod
    def missing() -> str | None:
        if shutil.which("redis-server") is None:
            return "redis-server is not installed (apt-get install redis-server)"
        return None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as connection:
                if self.certificates:
                    context = ssl.create_default_context(cafile=self.certificates.ca)
                    connection = context.wrap_socket(connection, server_hostname="127.0.0.1")
                connection.sendall(b"PING\r\n")
                return connection.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def _listen(self) -> list[str]:
        if not self.certificates:
            return ["--port", str(self.port)]
        return [
            "--port",
            "0",
            "--tls-port",
            str(self.port),
            "--tls-cert-file",
            str(self.certificates.server_cert),
            "--tls-key-file",
            str(self.certificates.server_key),
            "--tls-ca-cert-file",
            str(self.certificates.ca),
            "--tls-auth-clients",
            "no",
        ]

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                *self._listen(),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.directory),
                # Every write is logged to disk, as production Redis does.
                "--appendonly",
                "yes",
                "--save",
                "",
                "--maxmemory-policy",
                "noeviction",
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(self._answers, 30, f"redis-server on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()  # a clean shutdown: the append-only file is complete
            self.process.wait(timeout=30)

    def restart(self) -> None:
        self.stop()
        self.start()

    def freeze(self) -> None:
        """Stall Redis as a frozen host or a black-holed network would: it answers nothing."""
        self.process.send_signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self.process.send_signal(signal.SIGCONT)

    def holds(self, task_ids) -> set[str]:
        """Which of these tasks Redis still has: queued, or delivered and unacknowledged."""
        import redis

        client = redis.Redis.from_url(self.url)
        stored = list(client.hvals("unacked"))
        for key in client.scan_iter():
            if client.type(key) == b"list":
                stored += client.lrange(key, 0, -1)
        everything = b"\n".join(stored)
        return {task_id for task_id in task_ids if task_id.encode() in everything}


{% endif %}
{% if cookiecutter.broker == 'redis' %}
PrivateBroker = PrivateRedis
{% else %}
class PrivateRabbitMQ:
    """A RabbitMQ node of our own: its own name, ports, data, logs and Erlang cookie."""

    def __init__(self, directory: Path, certificates: Certificates | None = None) -> None:
        self.directory = directory
        self.certificates = certificates
        self.node = f"chaos-{uuid.uuid4().hex[:8]}@localhost"
        self.port = free_port()
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}//"
        if certificates:
            # A TLS listener beside the plain one; clients verify the server.
            tls_port = free_port()
            self.url = f"amqps://guest:guest@127.0.0.1:{tls_port}//"
            (directory / "rabbitmq.conf").write_text(
                f"listeners.ssl.default = 127.0.0.1:{tls_port}\n"
                f"ssl_options.cacertfile = {certificates.ca}\n"
                f"ssl_options.certfile = {certificates.server_cert}\n"
                f"ssl_options.keyfile = {certificates.server_key}\n"
                "ssl_options.verify = verify_none\n"
                "ssl_options.fail_if_no_peer_cert = false\n"
            )
        (directory / "enabled_plugins").write_text("[].\n")  # no management listener
        (directory / "rabbitmq-env.conf").write_text("")
        self.env = {
            **os.environ,
            # The Erlang cookie is created under HOME: a private one.
            "HOME": str(directory),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(free_port()),
            "RABBITMQ_CONF_ENV_FILE": str(directory / "rabbitmq-env.conf"),
            "RABBITMQ_CONFIG_FILE": str(directory / "rabbitmq"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(directory / "advanced.config"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(directory / "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": str(directory / "mnesia"),
            "RABBITMQ_LOG_BASE": str(directory / "log"),
            "RABBITMQ_PID_FILE": str(directory / "rabbitmq.pid"),
        }

    @staticmethod
    def bin_dir() -> Path | None:
        # Debian and Ubuntu keep the real scripts here; /usr/sbin has wrappers
        # that switch to the rabbitmq user and drop the environment.
        packaged = Path("/usr/lib/rabbitmq/bin")
        if (packaged / "rabbitmq-server").exists():
            return packaged
        found = shutil.which("rabbitmq-server")
        return Path(found).parent if found else None

    @classmethod
    def missing(cls) -> str | None:
        if cls.bin_dir() is None:
            return "rabbitmq-server is not installed (apt-get install rabbitmq-server)"
        return None

    def _tool(self, name: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(self.bin_dir() / name), "-n", self.node, *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=check,
        )

    def start(self) -> None:
        subprocess.run(
            [str(self.bin_dir() / "rabbitmq-server"), "-detached"],
            env=self.env,
            check=True,
            timeout=60,
        )
        wait_for(
            lambda: self._tool("rabbitmq-diagnostics", "-q", "ping", check=False).returncode == 0,
            90,
            f"RabbitMQ node {self.node} up",
            interval=0.5,
        )
        self._tool("rabbitmqctl", "-q", "await_startup")

    def stop(self) -> None:
        self._tool("rabbitmqctl", "-q", "stop", check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def memory_alarm(self, on: bool) -> None:
        """Set off RabbitMQ's memory alarm, which blocks every publisher, or clear it."""
        watermark = ["absolute", "1"] if on else ["0.4"]
        self._tool("rabbitmqctl", "-q", "set_vm_memory_high_watermark", *watermark)

        def alarm() -> bool:
            alarms = self._tool("rabbitmq-diagnostics", "-q", "alarms", check=False).stdout
            return "memory alarm" in alarms.lower()

        wait_for(lambda: alarm() == on, 60, f"the memory alarm {'on' if on else 'off'}")


PrivateBroker = PrivateRabbitMQ
{% endif %}
{% if cookiecutter.framework == 'django' or cookiecutter.__flower == 'yes' %}


class ServiceLink:
    """A TCP relay to a service (the database, the broker) that tests cut: an outage.

    The processes under test reach the service through it; the test process
    connects directly, so it can still read what they recorded.
    """

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = free_port()
        self._server: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def up(self) -> None:
        server = socket.create_server(("127.0.0.1", self.port))
        self._server = server
        threading.Thread(target=self._accept, args=(server,), daemon=True).start()

    def down(self) -> None:
        """Refuse new connections and cut the open ones, as a lost service does."""
        with self._lock:
            if self._server is not None:
                self._server.close()
                self._server = None
            for connection in self._connections:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._connections.clear()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return  # closed by down()
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._server is not server:  # cut while this one was connecting
                    client.close()
                    upstream.close()
                    continue
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
{% endif %}

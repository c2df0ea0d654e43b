"""Every service of every compose file runs natively, the way compose would run it.

There is no Docker engine on the test machines. For a few baked projects that
together hold every kind of service, each compose file is resolved by
docker-compose itself (``config``: anchors, merges, interpolation of the
required variables), and each service's command runs on this machine with the
environment the file gives it. Only addresses are translated: service host
names point at the local PostgreSQL and RabbitMQ and at a Redis started from
the compose file's own ``redis-server`` command on a free port; container
paths point at the project folder and temporary folders.

Each service is exercised for what it is: infrastructure answers its
healthcheck; the migration finishes; each worker answers its healthcheck (a
ping to its own node) and runs a task sent to each of its queues; beat passes
its healthcheck and sends a scheduled task; the web app answers its
healthcheck and serves the admin; Flower refuses a request without credentials
and accepts one with them; the exporters serve metrics. A service this test
does not know how to exercise fails it.

The services listen on the ports compose gives them, so these tests run one
at a time (a lock file, held across xdist workers).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from cookiecutter.main import cookiecutter

from tests import monitoring
from tests.options import TEMPLATE_DIR, check_known_keys, combo_id
from tests.test_generated_suites import UV, install, project_env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("machine_ports_to_ourselves")]

# Together: both frameworks, both brokers, every beat scheduler, every
# monitoring service, message signing, and every worker topology shape.
PROJECTS = [
    {
        "framework": "django",
        "broker": "rabbitmq",
        "result_backend": "rpc",
        "queue_topology": "fast-slow",
        "beat_scheduler": "django-celery-beat",
        "monitoring": "flower+prometheus",
        "message_signing": True,
        # Every optional integration, at the newest versions the ranges allow
        # (as of the template's lock): Sentry starts in every process.
        "use_sentry": True,
        "use_opentelemetry": True,
    },
    {
        "framework": "standalone",
        "broker": "redis",
        "result_backend": "redis",
        "queue_topology": "per-domain",
        "beat_scheduler": "static",
        "monitoring": "flower",
    },
    {
        "framework": "django",
        "broker": "redis",
        "result_backend": "none",
        "queue_topology": "priority",
        "beat_scheduler": "redbeat",
        "monitoring": "prometheus",
    },
    {
        "framework": "standalone",
        "broker": "rabbitmq",
        "result_backend": "none",
        "queue_topology": "single",
        "beat_scheduler": "none",
        "monitoring": "none",
    },
]
COMPOSE_FILES = ["compose.yaml", "compose.prod.yaml"]

# What an operator puts in the environment of compose.prod.yaml. The local
# RabbitMQ only knows guest, and guest may connect from localhost.
SECRETS = {
    "DJANGO_SECRET_KEY": "native-run-" + "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "app.example.com",
    "POSTGRES_PASSWORD": "unused-with-trust-auth",
    "REDIS_PASSWORD": "native-run-redis-password",
    "RABBITMQ_USER": "guest",
    "RABBITMQ_PASSWORD": "guest",
    "FLOWER_BASIC_AUTH": "operator:native-run-flower-password",
    "GRAFANA_ADMIN_PASSWORD": "native-run-grafana-password",
    # Reports go nowhere (nothing listens on port 9), but Sentry is set up.
    "SENTRY_DSN": "http://public@127.0.0.1:9/1",
}
DOCKER_COMPOSE = shutil.which("docker-compose") or "/usr/bin/docker-compose"
EXPORTER_IMAGE = "danihodovic/celery-exporter"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, what: str, interval: float = 0.5):
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if outcome:
            return outcome
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


def http_get(url: str, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 (http only)
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except OSError:
        return 0, ""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 10) -> int | None:
        if self.popen.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                with suppress(ProcessLookupError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait()
                return None
        return self.popen.returncode


@dataclass
class NativeStack:
    """One compose file's services, run on this machine."""

    project: Path
    config: dict
    scratch: Path
    redis_port: int = 0
    exporter_port: int = 0
    prometheus_port: int = 0
    processes: dict[str, Process] = field(default_factory=dict)
    exercised: dict[str, str] = field(default_factory=dict)

    # Translation of container addresses and paths ---------------------------------
    def address_map(self) -> dict[str, str]:
        return {
            "redis:6379": f"127.0.0.1:{self.redis_port}",
            "rabbitmq:5672": "127.0.0.1:5672",
            "postgres:5432": "127.0.0.1:5432",
        }

    def path_map(self, service: dict) -> dict[str, str]:
        paths = {"/app": str(self.project)}
        for volume in service.get("volumes", []):
            source, target = volume_source_and_target(volume)
            if source.startswith(("/", ".")):
                paths[target] = str((self.project / source).resolve())
            else:  # a named volume: a folder of its own
                folder = self.scratch / "volumes" / source
                folder.mkdir(parents=True, exist_ok=True)
                paths[target] = str(folder)
        return dict(sorted(paths.items(), key=lambda item: -len(item[0])))

    def translate(self, value: str, service: dict) -> str:
        for container, native in self.address_map().items():
            value = value.replace(container, native)
        for container, native in self.path_map(service).items():
            value = re.sub(rf"(?<![\w/]){re.escape(container)}(?=/|$)", native, value)
        return value

    def environment(self, name: str) -> dict[str, str]:
        service = self.config["services"][name]
        env = project_env()
        env["PATH"] = f"{self.project / '.venv' / 'bin'}{os.pathsep}{env['PATH']}"
        env["HOSTNAME"] = socket.gethostname()
        for key, value in (service.get("environment") or {}).items():
            env[key] = self.translate("" if value is None else str(value), service)
        return env

    def command(self, name: str) -> list[str]:
        service = self.config["services"][name]
        return [self.translate(str(part), service) for part in service["command"]]

    # Running ---------------------------------------------------------------------
    def start(self, name: str, argv: list[str] | None = None, env=None) -> Process:
        log = self.scratch / f"{name}.log"
        popen = subprocess.Popen(
            argv or self.command(name),
            cwd=self.project,
            env=env or self.environment(name),
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.processes[name] = process = Process(name, popen, log)
        return process

    def healthcheck(self, name: str, extra: list[str] = ()) -> subprocess.CompletedProcess:
        test = self.config["services"][name]["healthcheck"]["test"]
        assert test[0] == "CMD", f"{name}: healthcheck {test} is not an exec-form CMD"
        service = self.config["services"][name]
        argv = [self.translate(str(part), service) for part in test[1:]] + list(extra)
        return subprocess.run(
            argv,
            cwd=self.project,
            env=self.environment(name),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def healthy(self, name: str, timeout: float = 90, extra: list[str] = ()) -> None:
        process = self.processes.get(name)

        def passes():
            if process is not None and process.popen.poll() is not None:
                raise AssertionError(f"{name} exited early:\n{process.output()[-4000:]}")
            return self.healthcheck(name, extra).returncode == 0

        wait_until(passes, timeout, f"{name}'s healthcheck", interval=1)

    def python(self, name: str, code: str) -> str:
        result = subprocess.run(
            [str(self.project / ".venv" / "bin" / "python"), "-c", code],
            cwd=self.project,
            env=self.environment(name),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout.strip()

    def stop_all(self) -> None:
        for process in reversed(list(self.processes.values())):
            process.stop(signal.SIGKILL)


def volume_source_and_target(volume) -> tuple[str, str]:
    if isinstance(volume, dict):
        return str(volume.get("source", "")), str(volume["target"])
    parts = str(volume).split(":")
    return parts[0], parts[1]


def resolved_config(project: Path, compose_file: str, env: dict[str, str]) -> dict:
    """The compose file as docker-compose resolves it."""
    result = subprocess.run(
        [DOCKER_COMPOSE, "-f", compose_file, "config"],
        cwd=project,
        env={"PATH": os.environ["PATH"], **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def group_of(command: list[str]) -> str | None:
    """The worker group a launcher command starts (``python -m <slug>.worker GROUP``)."""
    words = " ".join(command).split()
    for index, word in enumerate(words[1:-1], start=1):
        if words[index - 1] == "-m" and word.endswith(".worker"):
            return words[index + 1]
    return None


def kind_of(name: str, service: dict) -> str:
    """Which exerciser a service gets; unknown services are refused."""
    image = str(service.get("image", ""))
    command = [str(part) for part in service.get("command") or []]
    if image.startswith(("postgres:", "rabbitmq:")):
        return image.split(":")[0]
    if image.startswith("redis:"):
        return "redis"
    if image.startswith(EXPORTER_IMAGE + ":"):
        return "exporter"
    if image.startswith(("prom/prometheus:", "grafana/grafana:")):
        return image.split("/")[1].split(":")[0]
    joined = " ".join(command)
    if "manage.py migrate" in joined:
        return "migrate"
    if "manage.py runserver" in joined or joined.startswith("gunicorn"):
        return "web"
    if group_of(command) or " worker " in f" {joined} ":
        return "worker"
    if " beat " in f" {joined} ":
        return "beat"
    if " flower" in f" {joined}":
        return "flower"
    if joined.endswith(".unacked"):
        return "unacked"
    return "unknown"


# Fixtures ----------------------------------------------------------------------------
def test_the_exporter_run_natively_is_the_release_of_the_image():
    shared = Path(__file__).parents[1] / "templates" / "compose.jinja"
    assert f"{EXPORTER_IMAGE}:{monitoring.EXPORTER_VERSION}" in shared.read_text()


@pytest.fixture(scope="module", params=PROJECTS, ids=combo_id)
def project(request, tmp_path_factory) -> Path:
    answers = {**request.param, "project_name": f"Native Compose {PROJECTS.index(request.param)}"}
    check_known_keys(answers)
    output = tmp_path_factory.mktemp("native-compose")
    path = Path(
        cookiecutter(str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=output)
    )
    return install(path)


def local_rabbitmq_vhost(vhost: str):
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], capture_output=True, check=False)
    subprocess.run(
        ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
        capture_output=True,
        check=True,
    )


def local_database(name: str, owner: str):
    def psql(sql: str):
        subprocess.run(
            ["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q", "-c", sql],
            capture_output=True,
            check=False,
        )

    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if owner != "postgres":
        psql(f'DROP ROLE IF EXISTS "{owner}"')
        psql(f'CREATE ROLE "{owner}" LOGIN')
    psql(f'CREATE DATABASE "{name}" OWNER "{owner}"')


# The test ----------------------------------------------------------------------------
@pytest.mark.parametrize("compose_file", COMPOSE_FILES)
def test_every_compose_service_runs_natively(project, compose_file, tmp_path):
    slug = project.name
    env_file_values = {**SECRETS, "CELERY_SIGNING_KEYS_DIR": str(project / "keys")}
    config = resolved_config(project, compose_file, env_file_values)
    services = config["services"]
    kinds = {name: kind_of(name, service) for name, service in services.items()}
    unknown = sorted(name for name, kind in kinds.items() if kind == "unknown")
    assert not unknown, f"no native exerciser for {unknown}: add one to {__name__}"

    stack = NativeStack(project, config, tmp_path)
    with ExitStack() as cleanup:
        cleanup.callback(stack.stop_all)
        # Keys for signed messages, as an operator creates them (once per project).
        keys = project / "keys"
        if (project / "src" / slug / "tasking" / "signing.py").exists() and not keys.exists():
            keys.mkdir()
            stack.python(
                next(n for n, k in kinds.items() if k == "worker"),
                f"from {slug}.tasking.signing import create_keys; from pathlib import Path; "
                f"create_keys(Path('keys/celery-signing.key'), Path('keys/celery-signing.crt'))",
            )
        started = time.monotonic()
        infrastructure(stack, kinds)
        if "migrate" in kinds.values():
            exercise_migrate(stack, kinds)
        # Long-running services start together, as compose starts them.
        for name, kind in kinds.items():
            if kind in {"worker", "beat", "web", "flower", "unacked"}:
                stack.start(name)
            elif kind == "exporter":
                start_exporter(stack, name)
            elif kind == "prometheus":
                start_prometheus(stack, name)
        for name, kind in kinds.items():
            if kind == "worker":
                exercise_worker(stack, name)
            elif kind == "web":
                exercise_web(stack, name)
            elif kind == "flower":
                exercise_flower(stack, name)
            elif kind == "exporter":
                exercise_exporter(stack, name)
            elif kind == "unacked":
                exercise_unacked(stack, name)
            elif kind == "prometheus":
                exercise_prometheus(stack, name)
            elif kind == "grafana":
                exercise_grafana(stack, name)
        stopping = stop_workers(stack, kinds)
        for name, kind in kinds.items():
            if kind == "beat":
                exercise_beat(stack, name)
        check_workers_stopped(stack, stopping)
        took = time.monotonic() - started
        print(f"\n{slug} {compose_file}: {len(services)} services in {took:.0f} s")
        for name in services:
            print(f"  {name}: {stack.exercised.get(name, 'NOT EXERCISED')}")
    missing = sorted(set(services) - set(stack.exercised))
    assert not missing, f"services started but not exercised: {missing}"


def infrastructure(stack: NativeStack, kinds: dict[str, str]) -> None:
    slug = stack.project.name
    for name, kind in kinds.items():
        service = stack.config["services"][name]
        if kind == "redis":
            stack.redis_port = free_port()
            command = [str(part) for part in service["command"]]
            assert command[0] == "redis-server", command
            # The compose file's own server options, on a private port and folder.
            data = stack.scratch / "redis"
            data.mkdir()
            stack.start(
                name,
                [
                    *command,
                    "--port",
                    str(stack.redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(data),
                    "--daemonize",
                    "no",
                ],
                env=project_env(),
            )
            stack.healthy(name, timeout=30, extra=["-p", str(stack.redis_port)])
            stack.exercised[name] = f"redis-server with the compose options on :{stack.redis_port}"
        elif kind == "rabbitmq":
            vhost = service["environment"]["RABBITMQ_DEFAULT_VHOST"]
            local_rabbitmq_vhost(vhost)
            stack.healthy(name, timeout=60)
            stack.exercised[name] = f"local RabbitMQ answers its healthcheck; vhost {vhost}"
        elif kind == "postgres":
            owner = service["environment"].get("POSTGRES_USER", "postgres")
            local_database(service["environment"]["POSTGRES_DB"], owner)
            stack.healthy(name, timeout=30)
            stack.exercised[name] = f"local PostgreSQL answers its healthcheck; database {slug}"


def exercise_migrate(stack: NativeStack, kinds: dict[str, str]) -> None:
    for name in (n for n, k in kinds.items() if k == "migrate"):
        for attempt in ("first", "second"):
            process = stack.start(name)
            code = process.popen.wait(300)
            assert code == 0, f"{name} ({attempt} run) exited {code}:\n{process.output()[-4000:]}"
        stack.exercised[name] = "migrations applied, and a second run changes nothing"


def queues_of(stack: NativeStack, name: str) -> list[str]:
    """The queues a worker service consumes, as its launcher reads them from the topology."""
    group = group_of(stack.command(name))
    assert group, f"{name} is not started by the worker launcher: {stack.command(name)}"
    return stack.python(
        name,
        f"from {stack.project.name} import topology; "
        f"print(*(topology.prefix() + q for q in topology.worker({group!r}).queues))",
    ).split()


# Tasks sent to each queue of a worker; see exercise_worker.
TASKS_PER_QUEUE = 8


def exercise_worker(stack: NativeStack, name: str) -> None:
    slug = stack.project.name
    stack.healthy(name, timeout=120)
    queues = queues_of(stack, name)
    task = f"{slug}.maintenance.tasks.heartbeat"
    # Several tasks per queue: a queue consumed by several groups (the priority
    # topology's "high") shares its tasks among them. Each task must run on a
    # worker of its queue, and this worker must run at least one of them.
    sent = {}
    for queue in queues:
        sent[queue] = stack.python(
            name,
            f"from {slug}.celery_app import app; app.loader.import_default_modules(); "
            f"print(*(app.send_task({task!r}, queue={queue!r}).id "
            f"for _ in range({TASKS_PER_QUEUE})))",
        ).split()
    workers = {
        other: process
        for other, process in stack.processes.items()
        if kind_of(other, stack.config["services"][other]) == "worker"
    }

    def runner_of(task_id: str) -> str | None:
        marker = f"[{task_id}] succeeded"
        return next((w for w, process in workers.items() if marker in process.output()), None)

    runners, consumed = {}, {name: queues}
    for queue, task_ids in sent.items():
        for task_id in task_ids:
            runners[task_id] = wait_until(
                lambda task_id=task_id: runner_of(task_id),
                60,
                f"a worker of {queue} to run the task sent to it",
            )
            runner = runners[task_id]
            if runner not in consumed:
                consumed[runner] = queues_of(stack, runner)
            assert queue in consumed[runner], (queue, runner)
    ran = sorted(set(runners.values()))
    assert name in ran, f"{name} ran none of the tasks sent to {queues}; {ran} ran them"
    stack.exercised[name] = f"healthy; ran tasks sent to {', '.join(queues)}"
    if stack.command(name)[0] == "watchfiles":
        check_reload_on_python_changes_only(stack, name)


def check_reload_on_python_changes_only(stack: NativeStack, name: str) -> None:
    """Development workers restart when a Python file changes, and only then."""
    process = stack.processes[name]
    package = stack.project / "src" / stack.project.name

    def starts() -> int:
        return process.output().count(" ready.")

    before = starts()
    (package / "notes.txt").write_text("not code\n")
    time.sleep(3)
    assert starts() == before, f"{name} restarted for a change to a text file"
    module = package / "overrides.py"
    module.write_text(module.read_text())
    wait_until(lambda: starts() > before, 60, f"{name} to restart after a Python change")
    (package / "notes.txt").unlink()
    stack.healthy(name, timeout=60)
    stack.exercised[name] += "; restarted for a Python change, not for a text file"


def stop_workers(stack: NativeStack, kinds: dict[str, str]) -> dict[str, dict]:
    """SIGTERM to each worker's main process, as ``docker compose stop`` sends it through tini.

    A thread per worker notes when it exited, while the test goes on.
    """
    stopping = {}
    for name in (n for n, k in kinds.items() if k == "worker"):
        popen = stack.processes[name].popen
        record = stopping[name] = {"signalled": time.monotonic()}

        def note_exit(popen=popen, record=record):
            popen.wait()
            record["exited"] = time.monotonic()

        waiter = threading.Thread(target=note_exit, daemon=True)
        popen.send_signal(signal.SIGTERM)
        waiter.start()
        record["waiter"] = waiter
    return stopping


def seconds(duration: str) -> float:
    """A compose duration ("1m50s", "90s") in seconds."""
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", duration)
    assert parts, f"not a duration: {duration!r}"
    return sum(float(number) * units[unit] for number, unit in parts)


def check_workers_stopped(stack: NativeStack, stopping: dict[str, dict]) -> None:
    for name, record in stopping.items():
        # Docker's default grace period is 10 s.
        grace = str(stack.config["services"][name].get("stop_grace_period", "10s"))
        left = seconds(grace) - (time.monotonic() - record["signalled"])
        record["waiter"].join(max(0.1, left))
        exited = record.get("exited")
        took = None if exited is None else exited - record["signalled"]
        assert took is not None and took <= seconds(grace), (
            f"{name} did not exit within its grace period {grace} after SIGTERM "
            f"(it would be killed):\n{stack.processes[name].output()[-3000:]}"
        )
        stack.exercised[name] += f"; exited {took:.0f} s after SIGTERM (grace {grace})"


def exercise_beat(stack: NativeStack, name: str) -> None:
    stack.healthy(name, timeout=90)
    process = stack.processes[name]
    wait_until(
        lambda: "Sending due task" in process.output(),
        150,
        "beat to send a scheduled task",
        interval=1,
    )
    sent = re.search(r"Sending due task (\S+) \((\S+)\)", process.output())
    stack.exercised[name] = f"healthy; sent {sent.group(2)}"


def exercise_web(stack: NativeStack, name: str) -> None:
    stack.healthy(name, timeout=60)
    env = stack.environment(name)
    host = env.get("DJANGO_ALLOWED_HOSTS", "localhost").split(",")[0]
    answers: list[int] = []  # 0: no answer within http_get's 5 s

    def login_page_served() -> bool:
        status, _ = http_get(
            "http://127.0.0.1:8000/admin/login/",
            {"Host": host, "X-Forwarded-Proto": "https"},
        )
        answers.append(status)
        return status == 200

    # Once in CI it answered 0 (no answer within 5 s) right after /healthz
    # passed; its first request imports and renders the admin, on a machine
    # loaded by two other test workers. An error status fails at once; only a
    # missing answer is asked again, for up to a minute.
    wait_until(lambda: login_page_served() or answers[-1] != 0, 60, f"{name}'s admin login page")
    assert answers[-1] == 200, f"{name}: the admin login page answered {answers}"
    stack.exercised[name] = "/healthz answers (database reached); admin login page served"


def exercise_flower(stack: NativeStack, name: str) -> None:
    stack.healthy(name, timeout=60)
    env = stack.environment(name)
    prefix = env.get("FLOWER_URL_PREFIX", "").strip("/")
    url = f"http://127.0.0.1:{env.get('FLOWER_PORT', '5555')}/{prefix + '/' if prefix else ''}"
    refused, _ = http_get(url)
    assert refused == 401, f"{name}: a request without credentials got {refused}, not 401"
    token = base64.b64encode(env["FLOWER_BASIC_AUTH"].encode()).decode()
    accepted, _ = http_get(url, {"Authorization": f"Basic {token}"})
    assert accepted == 200, f"{name}: a request with credentials got {accepted}, not 200"
    # Compose passes an empty password on (":?" only refuses an empty value):
    # Flower itself refuses it, with one line.
    refusal = subprocess.run(
        stack.command(name),
        cwd=stack.project,
        env={**env, "FLOWER_BASIC_AUTH": "admin:"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    reason = (refusal.stderr.strip().splitlines() or [""])[-1]
    assert refusal.returncode != 0, f"{name}: started with FLOWER_BASIC_AUTH=admin:"
    assert "FLOWER_BASIC_AUTH entry 'admin' is not user:password" in reason, refusal.stderr
    stack.exercised[name] = (
        "healthy; 401 without credentials, 200 with them; an empty password is refused"
    )


def start_exporter(stack: NativeStack, name: str) -> None:
    port = free_port()
    stack.exporter_port = port
    # The image's entry point is the exporter's command line; the arguments are compose's.
    argv = [
        *monitoring.exporter_command(UV),
        *stack.command(name),
        f"--port={port}",
        "--host=127.0.0.1",
    ]
    env = {k: v for k, v in project_env().items() if not k.startswith("CELERY_EXPORTER_")}
    stack.start(name, argv, env=env)


def exercise_exporter(stack: NativeStack, name: str) -> None:
    base = f"http://127.0.0.1:{stack.exporter_port}"
    wait_until(lambda: http_get(f"{base}/health")[0] == 200, 180, f"{name} /health")
    status, body = http_get(f"{base}/metrics")
    assert status == 200 and "celery_" in body, f"{name}: /metrics answered {status}"
    stack.exercised[name] = "/health answers; /metrics serves celery_* metrics"


def exercise_unacked(stack: NativeStack, name: str) -> None:
    """Its compose healthcheck reads /metrics on the port Prometheus scrapes."""
    stack.healthy(name, timeout=60)
    status, body = http_get("http://127.0.0.1:9809/metrics")
    metric = next(iter(monitoring.UNACKED_METRICS))
    assert status == 200 and metric in body, f"{name}: /metrics answered {status}"
    stack.exercised[name] = f"healthy; /metrics serves {metric}"


def start_prometheus(stack: NativeStack, name: str) -> None:
    """Debian's prometheus with the compose command; the web port is a free one."""
    stack.prometheus_port = free_port()
    argv = ["prometheus", *stack.command(name)]
    argv.append(f"--web.listen-address=127.0.0.1:{stack.prometheus_port}")
    stack.start(name, argv, env=project_env())


def exercise_prometheus(stack: NativeStack, name: str) -> None:
    base = f"http://127.0.0.1:{stack.prometheus_port}"
    wait_until(lambda: http_get(f"{base}/-/ready")[0] == 200, 60, f"{name} /-/ready")
    status, body = http_get(f"{base}/api/v1/rules")
    rules = json.loads(body)["data"]["groups"] if status == 200 else []
    assert rules, f"{name} loaded no alert rules: {status} {body[:300]}"

    def active_targets() -> list[str]:
        status, body = http_get(f"{base}/api/v1/targets")
        assert status == 200, f"{name} /api/v1/targets answered {status}"
        return [t["labels"]["instance"] for t in json.loads(body)["data"]["activeTargets"]]

    # Every scrape target is a service of this compose file, on a port it serves.
    # Ready comes before target discovery has run once (it runs every 5 s).
    targets = wait_until(active_targets, 60, f"{name} to list its scrape targets")
    for target in targets:
        host, port = target.rsplit(":", 1)
        assert host in stack.config["services"], f"{name} scrapes {target}: no such service"
        assert port in {"9808", "9809", "5555"}, f"{name} scrapes {target}: not an exporter's"
    alerts = sum(len(group["rules"]) for group in rules)
    stack.exercised[name] = f"ready; {alerts} alert rules loaded; scrapes {', '.join(targets)}"


def exercise_grafana(stack: NativeStack, name: str) -> None:
    """No Grafana binary here: its provisioning is checked against this compose file."""
    service = stack.config["services"][name]
    mounts = stack.path_map(service)
    provisioning = Path(mounts["/etc/grafana/provisioning"])
    sources = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())
    url = sources["datasources"][0]["url"]
    host, port = url.split("//")[1].rsplit(":", 1)
    assert host in stack.config["services"] and port == "9090", f"{name}: data source {url}"
    providers = yaml.safe_load((provisioning / "dashboards" / "celery.yml").read_text())
    folder = providers["providers"][0]["options"]["path"]
    assert folder in mounts, f"{name}: dashboards are read from {folder}, which is not mounted"
    dashboards = sorted(Path(mounts[folder]).glob("*.json"))
    panels = sum(len(json.loads(d.read_text()).get("panels", [])) for d in dashboards)
    assert dashboards and panels, f"{name}: no dashboards with panels in {folder}"
    stack.exercised[name] = (
        f"not run (no Grafana here); data source {url} is a service of this file; "
        f"{len(dashboards)} dashboards, {panels} panels in the mounted folder"
    )


def test_an_unknown_service_is_refused():
    """The classification the test above relies on names what it cannot run."""
    assert kind_of("mailhog", {"image": "mailhog/mailhog:1"}) == "unknown"
    assert kind_of("worker-x", {"command": ["celery", "-A", "x", "worker"]}) == "worker"
    assert kind_of("worker-y", {"command": ["python", "-m", "x.worker", "y"]}) == "worker"
    assert kind_of("celery-unacked", {"command": ["python", "-m", "x.unacked"]}) == "unacked"
    assert group_of(["watchfiles", "--filter=python", "python -m x.worker fast", "src"]) == "fast"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v", "-s"]))

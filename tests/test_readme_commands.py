"""The generated README's getting-started path works as written.

For a covering set of projects (both frameworks, both brokers), the commands
of the README's "Run it natively" section are taken from the README itself,
never restated here, and run one line at a time with ``bash -e`` from the
project folder, with the environment a user has: setup (database creation
included), the RabbitMQ virtual host a careful user creates on a shared
broker and the ``.env`` line the README says to set then, the test command,
and ``uv run honcho start``. The stack runs in a process group of its own
until every process of the ``Procfile`` answers; then it gets SIGINT, as
Ctrl+C sends it, and everything must have stopped within 20 s.

A README command that fails fails this test, naming the command and its
output. A code block of that section this test does not know fails it too.

The README's web app and Flower listen on 8000 and 5555, fixed: this test
holds the lock of tests/test_compose_services.py, so neither runs at once.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

from tests.test_generated_suites import project_env

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("machine_ports_to_ourselves")]

# The README's test command runs where it takes under two minutes: the
# standalone suite takes about one, the Django suite over two (left to
# tests/test_generated_suites.py, which runs every project's suite).
PROJECTS = [
    {
        "framework": "django",
        "broker": "rabbitmq",
        "queue_topology": "per-domain",
        "beat_scheduler": "django-celery-beat",
        "monitoring": "flower+prometheus",
        "run_test_command": False,
    },
    {
        "framework": "standalone",
        "broker": "redis",
        "queue_topology": "fast-slow",
        "beat_scheduler": "redbeat",
        "monitoring": "flower",
        "run_test_command": True,
    },
]
START = "uv run honcho start"
TEST_COMMAND = "uv run pytest"
STOP_WITHIN = 20  # seconds, after Ctrl+C


def section(readme: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match, f"README has no section {title!r}"
    return match.group(1)


def bash_blocks(text: str) -> list[tuple[str, list[str]]]:
    """Each ```bash block: the prose just before it, and its command lines."""
    blocks = []
    for match in re.finditer(r"^```bash\n(.*?)^```", text, re.M | re.S):
        before = text[: match.start()].rsplit("```", 1)[-1]
        joined = match.group(1).replace("\\\n", " ")
        blocks.append((before, [line for line in joined.splitlines() if line.strip()]))
    return blocks


def getting_started(readme: str) -> tuple[list[str], list[str], str | None, list[str]]:
    """The section's setup lines, its vhost lines, the .env line, its test lines."""
    text = section(readme, "Run it natively")
    setup, vhost, tests = [], [], []
    for before, block in bash_blocks(text):
        if block[-1] == START:
            assert not setup, f"two blocks end with {START!r}"
            setup = block
        elif any(line.startswith("rabbitmqctl add_vhost ") for line in block):
            vhost = block
        elif block == [TEST_COMMAND]:
            tests = block
        elif block == [f"{TEST_COMMAND} -m chaos"]:
            continue  # minutes, with brokers of their own: the project's own suite runs them
        elif "One process per terminal instead" in before:
            continue  # the alternative to honcho, a terminal for each process
        else:
            raise AssertionError(f"a README block this test does not know: {block}")
    assert setup, f"no block of 'Run it natively' ends with {START!r}"
    env_line = None
    if vhost:
        match = re.search(r"then set `(\w+=[^`]+)` in `\.env`", text)
        assert match, "the vhost block is not followed by the .env line to set"
        env_line = match.group(1)
    return setup, vhost, env_line, tests


def run_line(line: str, project: Path, timeout: int) -> None:
    started = time.monotonic()
    completed = subprocess.run(
        ["bash", "-e", "-c", line],
        cwd=project,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    print(f"  {time.monotonic() - started:6.1f} s  {line}")
    assert completed.returncode == 0, (
        f"README command failed (exit {completed.returncode}): {line}\n"
        f"{completed.stdout[-4000:]}\n{completed.stderr[-4000:]}"
    )


def set_env_line(env_file: Path, assignment: str) -> None:
    """Edit .env as the README says: the variable's line gets the new value."""
    name = assignment.split("=", 1)[0]
    lines = env_file.read_text().splitlines()
    assert any(line.startswith(f"{name}=") for line in lines), f".env has no {name}="
    edited = [assignment if line.startswith(f"{name}=") else line for line in lines]
    env_file.write_text("\n".join(edited) + "\n")


def env_value(env_file: Path, name: str) -> str:
    for line in env_file.read_text().splitlines():
        if line.startswith(f"{name}="):
            return line.split("=", 1)[1]
    raise AssertionError(f".env has no {name}")


def http_status(url: str, auth: str | None = None) -> int | None:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return None


def healthy(project: Path, slug: str, *check: str) -> bool:
    completed = subprocess.run(
        ["uv", "run", "--no-sync", "python", "-m", f"{slug}.healthcheck", *check],
        cwd=project,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return completed.returncode == 0


def answers_of(process: str, project: Path, slug: str, flower_auth: str, log: Path):
    """How a Procfile process shows it answers: its healthcheck, or an HTTP answer."""
    if process.startswith("worker-"):
        return lambda: healthy(project, slug, "worker", process.removeprefix("worker-"))
    if process == "beat":
        return lambda: healthy(project, slug, "beat")
    if process == "web":
        return lambda: http_status("http://127.0.0.1:8000/") is not None
    if process == "flower":
        return lambda: http_status("http://127.0.0.1:5555/", flower_auth) == 200
    if process == "celery-exporter":
        return lambda: http_status("http://127.0.0.1:9808/metrics") == 200
    if process == "celery-unacked":
        return lambda: http_status("http://127.0.0.1:9809/metrics") == 200
    if process == "prometheus":
        if shutil.which("prometheus"):
            return lambda: http_status("http://127.0.0.1:9090/-/ready") == 200
        # Optional: without the binary, one line says so and the stack runs on.
        return lambda: "prometheus is not installed" in log.read_text()
    raise AssertionError(f"a Procfile process this test does not know: {process}")


def forget_redis_keys(url: str, slug: str) -> None:
    keys = subprocess.run(
        ["redis-cli", "-u", url, "--scan", "--pattern", f"*{slug}*"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    for key in keys:
        subprocess.run(["redis-cli", "-u", url, "unlink", key], capture_output=True, check=False)


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def wait_until(condition, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout:.0f} s: {what}\n{log.read_text()[-6000:]}"
            )
        time.sleep(1)


@pytest.mark.parametrize("answers", PROJECTS, ids=lambda a: f"{a['framework']}-{a['broker']}")
def test_readme_getting_started_commands_work(bake, answers, tmp_path):
    answers = dict(answers)
    run_test_command = answers.pop("run_test_command")
    # A name of its own: the database and the vhost are named after it.
    name = f"Readme {answers['framework']} {uuid.uuid4().hex[:8]}"
    result = bake(**answers, project_name=name)
    assert result.exit_code == 0, result.exception
    project = Path(result.project_path)
    slug = project.name
    readme = (project / "README.md").read_text()
    setup, vhost, env_line, tests = getting_started(readme)
    print(f"\n{slug}:")

    # What the test creates, dropped whatever happens: the database .env names, the vhosts.
    env_example = (project / ".env.example").read_text()
    database_url = re.search(r"^DATABASE_URL=.*/(\w+)$", env_example, re.M)
    database = database_url.group(1) if database_url else None
    redis_url = re.search(r"^REDIS_URL=(redis://\S+)$", env_example, re.M)
    vhosts = [line.split()[2] for line in vhost if line.startswith("rabbitmqctl add_vhost ")]
    honcho = None
    children: list[int] = []
    log = tmp_path / "honcho.log"
    try:
        for line in setup[:-1]:
            run_line(line, project, timeout=600)
        for line in vhost:
            run_line(line, project, timeout=120)
        if env_line:
            set_env_line(project / ".env", env_line)
        for line in tests if run_test_command else []:
            run_line(line, project, timeout=300)

        started = time.monotonic()
        with log.open("wb") as output:
            honcho = subprocess.Popen(
                ["bash", "-e", "-c", setup[-1]],
                cwd=project,
                env=project_env(),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

        def running() -> bool:
            if honcho.poll() is not None:
                raise AssertionError(f"{START} stopped:\n{log.read_text()[-6000:]}")
            return True

        procfile = [
            line.split(":", 1)[0]
            for line in (project / "Procfile").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        flower_auth = env_value(project / ".env", "FLOWER_BASIC_AUTH")
        for process in procfile:
            check = answers_of(process, project, slug, flower_auth, log)
            wait_until(lambda check=check: running() and check(), 180, f"{process} answers", log)
        print(f"  {time.monotonic() - started:6.1f} s  {START}: every process answers")
        children = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", log.read_text())]
        assert len(children) == len(procfile), log.read_text()[-6000:]
        for vhost_name in vhosts:  # the .env line took effect: the workers declared theirs
            queues = subprocess.run(
                ["rabbitmqctl", "list_queues", "-q", "-p", vhost_name, "name"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.split()
            assert set(queues) - {"name"}, f"no queue on vhost {vhost_name}"

        # Ctrl+C in the terminal: SIGINT to the foreground process group.
        os.killpg(honcho.pid, signal.SIGINT)
        stopping = time.monotonic()
        try:
            honcho.wait(timeout=STOP_WITHIN)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"{START} still running {STOP_WITHIN} s after Ctrl+C:\n{log.read_text()[-6000:]}"
            ) from None
        left = STOP_WITHIN - (time.monotonic() - stopping)
        wait_until(
            lambda: not any(map(group_alive, [honcho.pid, *children])),
            max(left, 0),
            f"every process stopped within {STOP_WITHIN} s of Ctrl+C",
            log,
        )
        print(f"  {time.monotonic() - stopping:6.1f} s  Ctrl+C: everything stopped")
    finally:
        if honcho is not None:
            children = [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", log.read_text())]
        for pgid in [*([honcho.pid] if honcho else []), *children]:
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        if honcho is not None and honcho.poll() is None:
            honcho.wait(timeout=30)
        for db in [database, f"test_{database}"] if database else []:
            subprocess.run(
                ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", "--force", db],
                capture_output=True,
                check=False,
            )
        for vhost_name in vhosts:
            subprocess.run(
                ["rabbitmqctl", "delete_vhost", vhost_name], capture_output=True, check=False
            )
        if redis_url:  # what the project's own suite leaves in Redis, under keys naming it
            forget_redis_keys(redis_url.group(1), slug)

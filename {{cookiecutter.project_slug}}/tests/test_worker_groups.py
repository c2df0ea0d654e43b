{% set slug = cookiecutter.project_slug %}
"""Worker groups at run time: the launcher, the user's groups, and each group's own limits.

Every worker starts through ``python -m {{ slug }}.worker GROUP``, which reads
``topology.workers()``: the baseline groups as ``overrides.py`` changes them,
and the groups it adds. These tests run the launcher as a deployment does.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import types
import uuid
from pathlib import Path

import pytest
from celery.signals import before_task_publish

from {{ slug }} import topology, worker
from {{ slug }}.celery_app import app
from tests import chaos_tasks
from tests.processes import run_python

PROJECT_DIR = Path(__file__).resolve().parents[1]
HEARTBEAT = "{{ slug }}.maintenance.tasks.heartbeat"


def launcher(*arguments: str, env: dict[str, str] | None = None, cwd: Path = PROJECT_DIR):
    return subprocess.run(
        [sys.executable, "-m", "{{ slug }}.worker", *arguments],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_every_declared_queue_has_a_worker_group():
    assert topology.unconsumed_queues() == []


def test_the_launcher_runs_the_group_options_and_lets_later_options_win():
    group = topology.workers()[0]
    line = worker.command(group.name, ["--concurrency=1", "--loglevel=DEBUG"])
    app = "--app={{ slug }}.celery_app"
    assert line[1:5] == ["-m", "celery", app, "worker"]
    assert f"--queues={','.join(topology.prefix() + q for q in group.queues)}" in line
    assert f"--soft-time-limit={group.soft_time_limit}" in line
    assert f"--time-limit={group.time_limit}" in line
    assert f"--prefetch-multiplier={group.prefetch_multiplier}" in line
    assert [o for o in line if o.startswith("--concurrency")] == ["--concurrency=1"]
    assert [o for o in line if o.startswith("--loglevel")] == ["--loglevel=DEBUG"]


def test_the_launcher_refuses_an_unknown_group_and_lists_the_groups():
    result = launcher("no-such-group")
    assert result.returncode == 2
    names = ", ".join(group.name for group in topology.workers())
    assert f"unknown worker group 'no-such-group'; the groups are: {names}" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_launcher_lists_the_groups(capsys):
    assert worker.main(["--list"]) == 0
    listing = capsys.readouterr().out
    for group in topology.workers():
        assert f"{group.name}  " in listing and group.pool in listing


def test_a_published_task_carries_no_time_limit(celery_app):
    """The consuming group's limits apply: a message's own limits would override them."""
    seen = []

    def remember(headers=None, **_):
        seen.append(headers["timelimit"])

    before_task_publish.connect(remember, weak=False)
    try:
        celery_app.tasks[HEARTBEAT].delay()
        celery_app.send_task(HEARTBEAT, queue=topology.prefix() + topology.route_for(HEARTBEAT))
    finally:
        before_task_publish.disconnect(remember)
    assert seen == [(None, None), (None, None)] or seen == [[None, None], [None, None]]


# overrides.py as a user writes it; run in a fresh interpreter each, since the
# configuration is read once, at import.
TUNED = """
SETTINGS = {"worker_prefetch_multiplier": 7, "task_time_limit": 1500, "broker_pool_limit": 3}
WORKERS = {FIRST: {"concurrency": 5, "soft_time_limit": 10, "time_limit": 15}}
EXTRA_QUEUES = ("billing",)
EXTRA_WORKERS = {"billing": {"queues": ["billing"], "profile": "long", "concurrency": 3}}
"""
PRINT_GROUPS = """
import dataclasses, json
from {{ slug }} import topology
from {{ slug }}.celery_app import app
print(json.dumps({
    "groups": {g.name: dataclasses.asdict(g) for g in topology.workers()},
    "task_time_limit": app.conf.task_time_limit,
    "broker_pool_limit": app.conf.broker_pool_limit,
}))
"""


def with_overrides(tmp_path: Path, overrides: str, code: str) -> subprocess.CompletedProcess:
    """Run ``code`` with ``overrides`` as the overrides module, in a copy of the package."""
    source = tmp_path / "src"
    if not source.exists():
        shutil.copytree(PROJECT_DIR / "src", source, ignore=shutil.ignore_patterns("__pycache__"))
    first = repr(topology.WORKERS[0].name)
    overrides_file = source / "{{ slug }}" / "overrides.py"
    overrides_file.write_text(overrides.replace("FIRST", first))
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=PROJECT_DIR,
        env={**os.environ, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_overrides_tune_every_group_one_group_and_add_groups(tmp_path):
    result = with_overrides(tmp_path, TUNED, PRINT_GROUPS)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout)
    groups = seen["groups"]
    first = topology.WORKERS[0]
    # One group's own change beats SETTINGS, which beats the baseline.
    assert groups[first.name]["concurrency"] == 5
    assert groups[first.name]["soft_time_limit"] == 10
    assert groups[first.name]["time_limit"] == 15
    assert groups[first.name]["prefetch_multiplier"] == 7
    for baseline in topology.WORKERS[1:]:
        assert groups[baseline.name]["concurrency"] == baseline.concurrency
        assert groups[baseline.name]["prefetch_multiplier"] == 7
        assert groups[baseline.name]["time_limit"] == 1500
    billing = groups["billing"]
    assert billing["queues"] == ["billing"]
    assert billing["concurrency"] == 3
    assert billing["soft_time_limit"] == topology.PROFILES["long"]["soft_time_limit"]
    # Settings that stand for a group's option never reach the publisher.
    assert seen["task_time_limit"] is None
    assert seen["broker_pool_limit"] == 3


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ('WORKERS = {"nope": {"concurrency": 2}}', "overrides.WORKERS names nope, not a baseline"),
        ('WORKERS = {FIRST: {"concurency": 2}}', "unknown field(s) concurency"),
        ('WORKERS = {FIRST: {"concurrency": 0}}', "concurrency=0; give a positive whole number"),
        (
            'WORKERS = {FIRST: {"soft_time_limit": 99999}}',
            "the soft limit must be positive and below the hard one",
        ),
        (
            'EXTRA_WORKERS = {"billing": {"queues": ["billing"]}}',
            "consumes billing, which no queue declares: add it to EXTRA_QUEUES",
        ),
        (
            'EXTRA_QUEUES = ("billing",)\n'
            'EXTRA_WORKERS = {"billing": {"queues": ["billing"], "profile": "huge"}}',
            "asks for profile 'huge'",
        ),
    ],
)
def test_the_launcher_refuses_broken_overrides_with_a_reason(
    monkeypatch, capsys, overrides, message
):
    """topology.py reads overrides.py at each call: a module of the user's is swapped in."""
    users = types.ModuleType("{{ slug }}.overrides")
    exec(overrides.replace("FIRST", repr(topology.WORKERS[0].name)), users.__dict__)  # noqa: S102
    monkeypatch.setattr(topology, "overrides", users)

    def started(*_):
        raise AssertionError("the launcher started a worker despite the broken overrides")

    monkeypatch.setattr(worker.os, "execv", started)
    assert worker.main([topology.WORKERS[0].name]) == 2
    assert worker.main(["--list"]) == 2
    errors = capsys.readouterr().err
    assert errors.count(message) == 2, errors


@pytest.mark.chaos
def test_a_long_task_runs_under_the_limits_of_the_group_that_consumes_it(process_workers, journal):
    """A task longer than the shortest group's soft limit finishes on a long-task group.

    Sent with an explicit queue and by name, as another application would;
    each message carries no limits, so the consuming group's apply.
    """
    groups = topology.workers()
    shortest = min(group.soft_time_limit for group in groups)
    longest = max(groups, key=lambda group: group.soft_time_limit)
    if longest.soft_time_limit <= shortest + 5:
        pytest.skip("every worker group has the same limits in this topology")
    hold = shortest + 3
    worker_process = process_workers(longest)
    queue = topology.prefix() + longest.queues[0]
    keys = [f"long-{how}-{uuid.uuid4().hex[:6]}" for how in ("apply_async", "send_task")]
    chaos_tasks.apply_effect.apply_async((keys[0], hold), queue=queue)
    app.send_task("chaos.apply_effect", (keys[1], hold), queue=queue)
    journal.wait_completed(keys, timeout=hold + 90)
    assert all(journal.count("applied")[key] == 1 for key in keys)
    assert "SoftTimeLimitExceeded" not in worker_process.output()
    started = min(journal.times("started"))
    assert time.time() - started >= hold


# A user grows the project in files they own only: a package with a task, a
# queue with its own worker group, a route, {{ 'a periodic task, ' if cookiecutter.__has_beat == 'yes' }}a tuning change.
BILLING_TASKS = """
from __future__ import annotations

import os
from pathlib import Path

from {{ slug }}.celery_app import app


@app.task
def charge(order_id: int) -> str:
    Path(os.environ["BILLING_LOG"]).write_text(f"{order_id} {os.environ.get('HOSTNAME', '')}")
    return "charged"
"""
GROWN = """
EXTRA_QUEUES = ("billing",)
EXTRA_ROUTES = {"{{ slug }}.billing.tasks.charge": "billing"}
EXTRA_WORKERS = {"billing": {"queues": ["billing"], "profile": "short", "concurrency": 3}}
TASK_MODULES = ("{{ slug }}.billing.tasks",)
{% if cookiecutter.__has_beat == 'yes' %}
PERIODIC_TASKS = {
    "charge-late": {"task": "{{ slug }}.billing.tasks.charge", "every": 3600},
}
{% endif %}
WORKERS = {FIRST: {"prefetch_multiplier": 2}}
"""
SEND_CHARGE = """
from {{ slug }}.celery_app import app
{% if cookiecutter.__has_beat == 'yes' %}
from {{ slug }}.schedule import periodic_tasks

charge = periodic_tasks()["charge-late"]
assert charge["task"] == "{{ slug }}.billing.tasks.charge", charge
{% endif %}
app.loader.import_default_modules()
app.tasks["{{ slug }}.billing.tasks.charge"].delay(42)
"""


def start_group(group: str, hostname: str, env: dict[str, str], log: Path) -> subprocess.Popen:
    """The group's worker, started by the launcher as a deployment starts it."""
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "{{ slug }}.worker",
                group,
                f"--hostname={hostname}",
            ],
            cwd=PROJECT_DIR,
            env={**env, "HOSTNAME": hostname},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def send(code: str, env: dict[str, str]) -> None:
    """Run ``code`` (which sends a task) in a process of its own, with ``env``."""
    sent = run_python(code, env=env)
    assert sent.returncode == 0, sent.stderr


@pytest.mark.chaos
def test_a_project_grown_through_its_own_files_runs_the_new_group(tmp_path, worker_environment):
    with_overrides(tmp_path, GROWN, "pass")
    billing = tmp_path / "src" / "{{ slug }}" / "billing"
    billing.mkdir()
    (billing / "__init__.py").write_text("")
    (billing / "tasks.py").write_text(BILLING_TASKS)
    env = {
        **os.environ,
        **worker_environment,
        "PYTHONPATH": str(tmp_path / "src"),
        "BILLING_LOG": str(tmp_path / "billing.log"),
    }
    listing = launcher("--list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "billing" in listing.stdout
    log = tmp_path / "worker.log"
    hostname = f"billing-{uuid.uuid4().hex[:6]}@grown"
    process = start_group("billing", hostname, env, log)
    try:
        send(SEND_CHARGE, env)
        deadline = time.monotonic() + 90
        while not (tmp_path / "billing.log").exists() and time.monotonic() < deadline:
            assert process.poll() is None, log.read_text()
            time.sleep(0.2)
        assert (tmp_path / "billing.log").read_text() == f"42 {hostname}", log.read_text()
        banner = log.read_text()
        assert f"{topology.prefix()}billing" in banner
        assert "concurrency: 3 (prefork)" in banner
    finally:
        process.terminate()
        process.wait(timeout=90)


# A user's I/O group (threads pool, which cannot interrupt a task) with short
# limits, and a task that outlives them.
STUCK = """
EXTRA_QUEUES = ("stuck",)
EXTRA_ROUTES = {"{{ slug }}.stuck.tasks.hang": "stuck"}
EXTRA_WORKERS = {
    "stuck": {"queues": ["stuck"], "profile": "io", "soft_time_limit": 1, "time_limit": 2}
}
TASK_MODULES = ("{{ slug }}.stuck.tasks",)
"""
STUCK_TASKS = """
import time

from {{ slug }}.celery_app import app


@app.task
def hang() -> None:
    time.sleep(3600)
"""
SEND_HANG = """
from {{ slug }}.celery_app import app
app.loader.import_default_modules()
app.tasks["{{ slug }}.stuck.tasks.hang"].delay()
"""


@pytest.mark.chaos
def test_a_task_past_its_hard_limit_in_a_threads_group_stops_its_worker(
    tmp_path, worker_environment
):
    """The threads pool cannot stop a task at its hard limit: the health rule sees it run
    on, and the worker's watchdog stops the worker, so that its restart policy starts a
    fresh one and the message is delivered again (bounded: tasking/outcomes.py)."""
    from {{ slug }} import health, worker_steps

    with_overrides(tmp_path, STUCK, "pass")
    package = tmp_path / "src" / "{{ slug }}" / "stuck"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tasks.py").write_text(STUCK_TASKS)
    env = {**os.environ, **worker_environment, "PYTHONPATH": str(tmp_path / "src")}
    log = tmp_path / "worker.log"
    process = start_group("stuck", f"stuck-{uuid.uuid4().hex[:6]}@threads", env, log)
    try:
        send(SEND_HANG, env)
        # Hard limit, grace, a watchdog round, then the stop's own grace
        # (the time limit, the soft-shutdown window, 30 s) before it exits.
        deadline = 2 + health.PAST_HARD_LIMIT_GRACE + health.RECORD_EVERY + 2 + 30
        status = process.wait(timeout=deadline + app.conf.worker_soft_shutdown_timeout + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    output = log.read_text()
    assert "concurrency: 64 (thread)" in output, output[-3000:]
    assert "past its hard time limit (2 s): the pool did not stop it" in output, output[-3000:]
    assert "stopping this worker so that its restart policy starts a fresh one" in output
    # Nothing else ran: no need to wait out the stop's grace.
    assert "only tasks past their hard time limit are left: exiting" in output, output[-3000:]
    assert status in (0, worker_steps.EXIT_STUCK), output[-3000:]
{% if cookiecutter.broker == 'rabbitmq' %}


SEND_HEARTBEAT = """
from {{ slug }}.celery_app import app
app.loader.import_default_modules()
app.tasks["{{ slug }}.maintenance.tasks.heartbeat"].delay()
"""


def test_a_queue_that_exists_with_other_arguments_is_named_in_one_line(worker_environment):
    """Another project's queue of that name on the vhost: worker and publisher say what to do."""
    from kombu import Queue

    prefix = f"test-conflict-{uuid.uuid4().hex[:10]}-"
    queue = topology.route_for(HEARTBEAT)
    group = next(group for group in topology.workers() if queue in group.queues)
    # A classic queue without arguments, as another project may have declared it.
    conflicting = Queue(prefix + queue, durable=True)
    with app.connection_for_write() as connection:
        conflicting.bind(connection.default_channel).declare()
        vhost = connection.virtual_host
    env = {**worker_environment, "CELERY_QUEUE_PREFIX": prefix}
    expected = f"queue '{prefix}{queue}' already exists on vhost '{vhost}' with other arguments"
    try:
        started = launcher(group.name, env=env)
        sent = subprocess.run(
            [sys.executable, "-c", SEND_HEARTBEAT],
            cwd=PROJECT_DIR,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        with app.connection_for_write() as connection:
            topology.delete_queues(connection, prefix)  # the conflicting queue too
    for run in (started, sent):
        output = run.stdout + run.stderr
        assert run.returncode != 0, output
        told = [line for line in output.splitlines() if expected in line]
        assert len(told) == 1, output
        assert "use a vhost of your own (CELERY_BROKER_URL=" in told[0]
        assert "PRECONDITION_FAILED" not in output
    assert "Traceback" not in started.stdout + started.stderr
{% endif %}

{% set django = cookiecutter.framework == 'django' %}
"""Worker health by progress (health.py): the rule, and real workers judged by it.

The rule's cases are checked on recorded states; the chaos tests run real
``celery worker`` processes on a private broker, judged by the healthcheck
command the compose files run.
"""

from __future__ import annotations

import dataclasses
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from {{ cookiecutter.project_slug }} import health
from {{ cookiecutter.project_slug }}.celery_app import app
from tests import chaos_tasks
from tests.conftest import STARTED_WORKERS, default_group
from tests.processes import PROJECT_DIR, PrivateBroker, ProcessWorker, wait_for

NOW = 1_000_000.0


def recorded(**changes) -> health.WorkerState:
    """A worker of 4 slots, started 10 minutes ago, that fetched a minute and a half ago."""
    state = health.WorkerState(
        node="default@host",
        pid=1,
        concurrency=4,
        time_limit=300,
        stall_after=60,
        queues=["default"],
        started_at=NOW - 600,
        written_at=NOW - 2,
        last_fetch_at=NOW - 90,
    )
    return dataclasses.replace(state, **changes)


def never_asked() -> int:
    raise AssertionError("the broker was asked although the answer does not matter")


def test_idle_worker_on_empty_queues_is_healthy():
    assert health.verdict(recorded(), lambda: 0, now=NOW) is None


def test_worker_that_fetched_recently_is_healthy_without_asking_the_broker():
    assert health.verdict(recorded(last_fetch_at=NOW - 5), never_asked, now=NOW) is None


def test_worker_busy_on_every_slot_within_its_limits_is_healthy():
    state = recorded(active=4, oldest_task_started_at=NOW - 250)
    assert health.verdict(state, never_asked, now=NOW) is None


def test_worker_with_ready_messages_free_slots_and_no_fetch_is_unhealthy():
    problem = health.verdict(recorded(active=1), lambda: 7, now=NOW)
    assert "fetched nothing for 90 s (limit 60 s) while 7 messages are ready" in problem
    assert "3 of 4 pool slots are free" in problem


def test_task_past_its_hard_time_limit_is_unhealthy():
    state = recorded(active=4, oldest_task_started_at=NOW - 400)
    problem = health.verdict(state, never_asked, now=NOW)
    assert "past its hard time limit (300 s)" in problem


def test_blocked_event_loop_is_unhealthy():
    problem = health.verdict(recorded(written_at=NOW - 45), lambda: 0, now=NOW)
    assert "its event loop is blocked" in problem


def test_event_loop_blocked_on_a_broker_that_does_not_answer_is_left_to_go_on():
    assert health.verdict(recorded(written_at=NOW - 45), lambda: None, now=NOW) is None


def test_event_loop_is_judged_from_when_the_broker_answered_again():
    state = recorded(written_at=NOW - 45, broker_silent_at=NOW - 10)
    assert health.verdict(state, lambda: 0, now=NOW) is None
    silent_long_ago = dataclasses.replace(state, broker_silent_at=NOW - 35)
    assert "its event loop is blocked" in health.verdict(silent_long_ago, lambda: 0, now=NOW)


def test_task_run_is_judged_from_when_the_broker_answered_again():
    state = recorded(active=4, oldest_task_started_at=NOW - 400, broker_silent_at=NOW - 100)
    assert health.verdict(state, never_asked, now=NOW) is None


def test_broker_that_cannot_be_asked_is_not_the_workers_fault():
    assert health.verdict(recorded(), lambda: None, now=NOW) is None


def healthcheck(name: str, broker=None) -> subprocess.CompletedProcess:
    """The compose files' worker healthcheck, run as they run it (on ``broker``)."""
    environment = {**os.environ, "CELERY_BROKER_URL": broker.url} if broker else None
    return subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.project_slug }}.healthcheck", "worker", name],
        cwd=PROJECT_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_healthcheck_of_a_worker_that_never_started_names_its_state_file():
    result = healthcheck(f"absent-{uuid.uuid4().hex[:8]}")
    assert result.returncode == 1
    assert "has recorded no state in var/health/absent-" in result.stderr


# Real workers (chaos: slow)
# ------------------------------------------------------------------------------
STALL_AFTER = 10


@pytest.fixture(scope="module")
def health_broker(chaos_dir):
    """A broker of this module's own: the tests send it broadcasts no other worker should see."""
    missing = PrivateBroker.missing()
    if missing:
        pytest.skip(f"{missing}: the test needs a private broker")
    directory = chaos_dir / "health-broker"
    directory.mkdir()
    broker = PrivateBroker(directory)
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def start_worker(chaos_dir, journal, health_broker, worker_environment):
    """Starts workers of the default group on the private broker, named as compose names them.

    Each test stops its own, so that none consumes the next test's tasks.
    """
    started = []

    def start(**group_changes) -> tuple[ProcessWorker, str]:
        name = f"health-{uuid.uuid4().hex[:8]}"
        group = dataclasses.replace(default_group(), **group_changes)
        environment = {
            **worker_environment,
            "CELERY_BROKER_URL": health_broker.url,
            "CHAOS_JOURNAL": str(journal.path),
            "WORKER_STALL_TIMEOUT": str(STALL_AFTER),
        }
        hostname = f"{name}@{socket.gethostname()}"
        worker = ProcessWorker(group, chaos_dir, environment, hostname=hostname)
        started.append(worker)
        STARTED_WORKERS.append(worker)
        return worker.wait_ready(), name

    yield start
    for worker in started:
        worker.stop()
        STARTED_WORKERS.remove(worker)


def publish(broker, keys) -> None:
    queue = app.conf.task_default_queue
    with app.connection_for_write(broker.url) as connection:
        for key in keys:
            chaos_tasks.apply_effect.apply_async((key,), queue=queue, connection=connection)


def broadcast(broker, body) -> None:
    """Publish ``body`` on the remote-control exchange of ``broker``, serialized as tasks are.

    ``app.control`` would publish on the test broker, whatever connection it is given.
    """
    with app.connection_for_write(broker.url) as connection:
        mailbox = app.control.mailbox(connection)
        connection.Producer(serializer=app.conf.task_serializer).publish(
            body, exchange=mailbox.exchange, routing_key="", declare=[mailbox.exchange]
        )


def cancel_consumer(broker, node: str, queue: str) -> None:
    """``celery control cancel_consumer``: the worker stays up and stops fetching from ``queue``."""
    command = {"method": "cancel_consumer", "arguments": {"queue": queue}, "destination": [node]}
    broadcast(broker, command)


def wait_unhealthy(name: str, broker, timeout: float) -> None:
    def unhealthy() -> bool:
        return healthcheck(name, broker).returncode == 1

    wait_for(unhealthy, timeout, f"{name} unhealthy", interval=1)


def key_batch(count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"{run}-{n}" for n in range(count)]


@pytest.mark.chaos
{% if django %}
# Workers use the test database, which exists while a django_db test runs.
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_undecodable_broadcast_after_child_replaced_does_not_stall(
    start_worker, health_broker, journal, figures
):
    """The Celery/Kombu 5.7.0 stall trigger: children replaced, then a broadcast it cannot read."""
    worker, name = start_worker(max_tasks_per_child=1)
    first, second = key_batch(6), key_batch(6)
    publish(health_broker, first)
    journal.wait_completed(first, timeout=60)
    # A broadcast whose body is a string, as another application's may decode to.
    broadcast(health_broker, "not a command")
    wait_for(lambda: "dropped a control broadcast" in worker.output(), 30, "broadcast dropped")
    publish(health_broker, second)
    journal.wait_completed(second, timeout=60)
    result = healthcheck(name, health_broker)
    assert result.returncode == 0, result.stderr
    worker.stop()

    counts = figures.effects("stall trigger", 12, first + second, journal)
    assert counts["lost"] == 0 and counts["duplicates"] == 0


@pytest.mark.chaos
{% if django %}
# Workers use the test database, which exists while a django_db test runs.
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_worker_that_stops_fetching_is_unhealthy_stopped_and_its_tasks_run_once(
    start_worker, health_broker, journal, figures
):
    """Alive, not fetching: the healthcheck fails, its watchdog stops it, a new worker runs all."""
    worker, name = start_worker()
    result = healthcheck(name, health_broker)
    assert result.returncode == 0, f"idle on empty queues must be healthy: {result.stderr}"
    cancel_consumer(health_broker, worker.hostname, app.conf.task_default_queue)
    wait_for(lambda: "Canceling queue" in worker.output(), 30, "the consumer cancelled")
    batch = key_batch(8)
    publish(health_broker, batch)
    started = time.monotonic()
    wait_unhealthy(name, health_broker, timeout=STALL_AFTER + 60)
    detected = time.monotonic() - started
    wait_for(lambda: worker.process.poll() is not None, 180, "the watchdog stopped the worker")
    # The watchdog names the same reason as the healthcheck.
    log = worker.output()
    assert "stopping this worker so that its restart policy starts a fresh one" in log
    assert "fetched nothing" in log and "8 messages are ready" in log

    # The restart policy's part: a fresh worker of the same group.
    replacement, _ = start_worker()
    journal.wait_completed(batch, timeout=90)
    replacement.stop()

    counts = figures.effects(
        "worker stopped fetching", len(batch), batch, journal, seconds_to_unhealthy=round(detected)
    )
    assert counts["lost"] == 0 and counts["duplicates"] == 0

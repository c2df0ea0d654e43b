{% set django = cookiecutter.framework == 'django' %}
{% set rabbitmq = cookiecutter.broker == 'rabbitmq' %}
"""Chaos: workers killed and stopped, the broker restarted, messages repeated, bad input.

Real ``celery worker`` processes with the topology's options (prefork pool)
run the tasks of ``tests/chaos_tasks.py``, which journal every run and side
effect to a file. Each test prints its figures: tasks published, completed,
side effects applied, duplicates, lost.

Run them with ``uv run pytest -m chaos`` (a few minutes; the default run
leaves them out).
"""

from __future__ import annotations

{% if not rabbitmq %}
import contextlib
{% endif %}
import os
import signal
{% if cookiecutter.beat_scheduler == 'redbeat' %}
import subprocess
import sys
{% endif %}
import threading
import time
import uuid
{% if cookiecutter.beat_scheduler == 'redbeat' %}
from pathlib import Path
{% endif %}
{% if django %}
from urllib.parse import urlsplit, urlunsplit
{% endif %}

import pytest
{% if not django %}
import redis
{% endif %}
{% if cookiecutter.message_signing %}
from celery.security.certificate import Certificate
from celery.security.key import PrivateKey
from celery.security.serialization import SecureSerializer
{% endif %}
{% if rabbitmq %}
from kombu import Queue
{% endif %}
from kombu.exceptions import OperationalError
from kombu.serialization import dumps

{% if rabbitmq %}
from {{ cookiecutter.project_slug }} import topology
{% else %}
from {{ cookiecutter.project_slug }} import health, topology
{% endif %}
from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.notifications.tasks import send_notification
{% if django %}
from {{ cookiecutter.project_slug }}.orders.tasks import confirm_order
{% endif %}
from {{ cookiecutter.project_slug }}.reports.tasks import count_rows, generate_report
{% if rabbitmq %}
from {{ cookiecutter.project_slug }}.tasking import operations, publishing, retry
{% else %}
from {{ cookiecutter.project_slug }}.tasking import operations, retry
{% endif %}
from {{ cookiecutter.project_slug }}.tasking.base import MAX_PAYLOAD_BYTES, PayloadTooLarge
{% if cookiecutter.message_signing %}
from {{ cookiecutter.project_slug }}.tasking.signing import create_keys
{% endif %}
from {{ cookiecutter.project_slug }}.tasking.stores import store
{% if not django %}
from {{ cookiecutter.project_slug }}.tasking.stores.redis import RedisStore
{% endif %}
from tests import chaos_tasks
from tests.conftest import default_group
from tests.processes import (
{% if cookiecutter.beat_scheduler == 'redbeat' %}
    PROJECT_DIR,
{% endif %}
    PrivateBroker,
{% if not django %}
    PrivateRedis,
{% endif %}
{% if django %}
    ServiceLink,
{% endif %}
    wait_for,
)

pytestmark = [pytest.mark.chaos{% if django %}, pytest.mark.django_db(transaction=True){% endif %}]

{% if not rabbitmq %}
# Redis gives an unacknowledged message to another worker after the
# visibility timeout. Production derives it from the longest time limit
# (celeryconfig.py); here it is seconds, so redelivery is seen quickly.
VISIBILITY_TIMEOUT = 5
{% endif %}
BURST = 3000


def keys(count: int) -> list[str]:
    run = uuid.uuid4().hex[:8]
    return [f"{run}-{n}" for n in range(count)]


def default_queue() -> str:
    return topology.prefix() + topology.DEFAULT_QUEUE


@pytest.fixture(scope="module")
def chaos_worker(process_workers):
    """One worker of the default group on the test broker, shared by the tests that keep it.

    Tests that kill a worker or one of its pool processes start their own.
{% if not rabbitmq %}
    A worker that has replaced a pool process can stop fetching tasks when
    its remote-control consumer restarts (Kombu 5.7.0, see the README's
    known issues); on a shared broker, another application's broadcast can
    cause that.
{% endif %}
    """
    return process_workers()


@pytest.fixture(scope="module")
def private_broker(chaos_dir):
    """A broker of this module's own, which the tests may kill and restart."""
    missing = PrivateBroker.missing()
    if missing:
        pytest.skip(f"{missing}: the test needs a private broker to restart")
    directory = chaos_dir / "broker"
    directory.mkdir()
    broker = PrivateBroker(directory)
    broker.start()
    yield broker
    broker.stop()


def publish(keys, hold: float = 0.0, url: str | None = None, queues=None) -> list[str]:
    """Send one chaos task per key, to the test broker or the broker at ``url``; their ids.

    Tasks go to the default queue, or to each of ``queues`` in turn.
    """
    queues = queues or [default_queue()]
    with app.connection_for_write(url) as connection:
        return [
            chaos_tasks.apply_effect.apply_async(
                (key, hold), queue=queues[n % len(queues)], connection=connection
            ).id
            for n, key in enumerate(keys)
        ]


def wait_until_reserved(worker, task_ids) -> None:
{% if rabbitmq %}
    """Until the worker holds every message it may prefetch, as a busy worker does."""
{% else %}
    """Until the worker holds every message it may prefetch, as a busy worker does.

    A worker killed while it fetches can lose the messages in flight on
    Redis (Kombu pops a message before it records it as unacknowledged):
    these tests kill workers that hold their messages.
    """
{% endif %}
    group = worker.group
    expected = min(len(task_ids), group.concurrency * group.prefetch_multiplier)
    wait_for(lambda: worker.received(task_ids) >= expected, 30, "messages reserved")


def test_worker_child_killed_mid_task_redelivers_once(process_workers, journal, figures):
    """A pool process killed (as by the OOM killer): its message is put back and runs again."""
    worker = process_workers()
    batch = keys(2)
    publish(batch, hold=3)
    victim = batch[0]
    wait_for(lambda: journal.pids("started", victim), 30, "the task started")
    (pid,) = journal.pids("started", victim)
    os.kill(pid, signal.SIGKILL)
    journal.wait_completed(batch, timeout=60)
    worker.stop()

    counts = figures.effects("child killed mid-task", len(batch), batch, journal)
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["side effects applied"] == len(batch)
    assert journal.count("started")[victim] == 2, "the killed task ran again"


def test_task_stopped_mid_effect_applies_it_once(process_workers, journal, figures):
    """SIGTERM to a pool process in the middle of a side effect: the effect ends first.

    Celery stops a running task so (revoke with terminate, every running task
    when the broker connection is lost). Stopped in between, the effect would
    be applied but not recorded as done, and its redelivered message would
    apply it again.
    """
    worker = process_workers()
    (key,) = keys(1)
    chaos_tasks.apply_long_effect.apply_async((key, 2.0), queue=default_queue())
    wait_for(lambda: journal.pids("effect-begun", key), 30, "the side effect begun")
    (pid,) = journal.pids("effect-begun", key)
    os.kill(pid, signal.SIGTERM)  # as the worker's pool.terminate_job(pid) does
    journal.wait_completed([key], timeout=60)
    worker.stop()

    counts = figures.effects(
        "task stopped mid-effect",
        1,
        [key],
        journal,
        runs=journal.count("started")[key],
        effects_begun=journal.count("effect-begun")[key],
    )
    assert counts["effects begun"] == 1 and counts["duplicates"] == 0
    assert counts["side effects applied"] == 1
    assert counts["runs"] == 2, "the stopped task's message was delivered again"


def test_worker_killed_mid_task_redelivers_once(process_workers, private_broker, journal, figures):
    """The whole worker killed (a lost node): another worker runs its unfinished tasks, once."""
    env = {"CELERY_BROKER_URL": private_broker.url}
{% if not rabbitmq %}
    env["CELERY_VISIBILITY_TIMEOUT"] = str(VISIBILITY_TIMEOUT)
{% endif %}
    first = process_workers(**env)
    batch = keys(default_group().concurrency + 2)
    task_ids = publish(batch, hold=3, url=private_broker.url)
    wait_until_reserved(first, task_ids)
    wait_for(lambda: len(journal.count("started").keys() & set(batch)) >= 1, 30, "tasks started")
    first.kill()
    killed_at = time.monotonic()
    cut_short = set(journal.count("started")) & set(batch) - set(journal.count("completed"))
    assert cut_short, "the worker was killed before it had a task to cut short"
{% if not rabbitmq %}
    # Redis hands the unacknowledged messages out again once the visibility
    # timeout has passed; a worker restores them when it starts, and every
    # few minutes while it runs.
    time.sleep(max(0.0, killed_at + VISIBILITY_TIMEOUT + 1 - time.monotonic()))
{% else %}
    # RabbitMQ requeues the unacknowledged messages when the channel closes.
    assert killed_at
{% endif %}
    second = process_workers(**env)
    journal.wait_completed(batch, timeout=120)
    second.stop()

    counts = figures.effects(
        "worker killed mid-task", len(batch), batch, journal, cut_short_by_the_kill=len(cut_short)
    )
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["side effects applied"] == len(batch)
    started = journal.count("started")
    assert all(started[key] == 2 for key in cut_short), "every task cut short ran again"


def test_sigterm_during_long_tasks_finishes_them_and_restores_the_rest(
    process_workers, private_broker, journal, figures
):
    """SIGTERM: running tasks finish within the soft-shutdown window; reserved ones go back.

    On the private broker, where no other worker takes the messages.
    """
    env = {"CELERY_BROKER_URL": private_broker.url}
    first = process_workers(**env)
    group = default_group()
    batch = keys(group.concurrency + 4)
    wait_until_reserved(first, publish(batch, hold=3, url=private_broker.url))
    wait_for(
        lambda: len(journal.count("started").keys() & set(batch)) >= group.concurrency,
        30,
        "every pool process busy",
    )
    running = set(journal.count("started")) & set(batch)
    stopped_at = time.monotonic()
    first.signal(signal.SIGTERM)
    # A warm shutdown waits for running tasks, whatever worker_soft_shutdown_timeout is.
    first.process.wait(timeout=90)
    shutdown_seconds = time.monotonic() - stopped_at
    finished_by_first = set(journal.count("completed")) & set(batch)
    assert running <= finished_by_first, "a running task was cut short"
    assert first.process.returncode == 0, first.output()[-3000:]

    second = process_workers(**env)
    journal.wait_completed(batch, timeout=60)
    second.stop()
    counts = figures.effects(
        "SIGTERM during long tasks",
        len(batch),
        batch,
        journal,
        running_at_sigterm_finished=len(running),
        seconds_to_stop=round(shutdown_seconds),
    )
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["side effects applied"] == len(batch)


def test_ctrl_c_stops_a_worker_promptly_outside_production(process_workers, journal):
    """Ctrl+C in a terminal reaches a worker started by ``uv run`` twice (from the
    terminal, then forwarded by uv): a cold shutdown. Outside production it does not
    wait out worker_soft_shutdown_timeout, whatever the worker ran or holds."""
    worker = process_workers()
    batch = keys(4)
    publish(batch)
    journal.wait_completed(batch, timeout=60)
{% if rabbitmq %}
    # RabbitMQ keeps a countdown message in its delay exchanges until it is due.
    with app.connection_for_write() as connection:
        chaos_tasks.apply_effect.apply_async(
            (keys(1)[0],), queue=default_queue(), countdown=600, connection=connection
        )
{% else %}
    # The worker holds a countdown message until it is due.
    with app.connection_for_write() as connection:
        held = chaos_tasks.apply_effect.apply_async(
            (keys(1)[0],), queue=default_queue(), countdown=600, connection=connection
        ).id
    wait_for(lambda: worker.received([held]) == 1, 30, "the countdown message held")
{% endif %}

    worker.signal(signal.SIGINT)
    wait_for(lambda: "Hitting Ctrl+C again" in worker.output(), 30, "the first Ctrl+C handled")
    worker.signal(signal.SIGINT)
    wait_for(lambda: worker.process.poll() is not None, 30, "the worker stopped after Ctrl+C")
    assert "Soft Shutdown" not in worker.output()
{% if rabbitmq %}


def test_a_worker_declares_every_queue_whenever_it_connects(chaos_dir, journal, worker_environment):
    """Started before its broker, a worker waits, one line per attempt, then declares
    every queue (the dead-letter queue and delayed delivery included); after a broker
    restart it declares them again, so a queue lost meanwhile comes back."""
    from tests.processes import ProcessWorker

    missing = PrivateBroker.missing()
    if missing:
        pytest.skip(f"{missing}: the test needs a broker of its own, started late")
    directory = chaos_dir / "late-broker"
    directory.mkdir()
    broker = PrivateBroker(directory)
    environment = {
        **worker_environment,
        "CHAOS_JOURNAL": str(journal.path),
        "CELERY_BROKER_URL": broker.url,
    }
    worker = ProcessWorker(default_group(), chaos_dir, environment)
    dead_letters = next(
        queue for queue in app.conf.task_queues if queue.name.endswith(topology.DEAD_LETTER_QUEUE)
    )

    def missing_queues() -> list[str]:
        names = []
        with app.connection_for_write(broker.url) as connection:
            for queue in app.conf.task_queues:
                try:
                    queue.bind(connection.channel()).queue_declare(passive=True)
                except connection.channel_errors:
                    names.append(queue.name)
        return names

    def every_queue_back() -> bool:
        try:
            return not missing_queues()
        except (OSError, OperationalError):  # the broker is still restarting
            return False

    try:
        wait_for(lambda: "Cannot connect to" in worker.output(), 120, "the worker retrying")
        unreachable = worker.output()
        assert "Traceback" not in unreachable, unreachable[-3000:]
        broker.start()
        worker.wait_ready(timeout=180)
        assert missing_queues() == []
        assert "Failed to bind queue" not in worker.output(), worker.output()[-3000:]

        with app.connection_for_write(broker.url) as connection:
            dead_letters.bind(connection.default_channel).delete()
        assert missing_queues() == [dead_letters.name]
        broker.restart()
        wait_for(every_queue_back, 180, "the dead-letter queue declared again")
    finally:
        worker.stop()
        broker.stop()
{% endif %}


def test_broker_restart_loses_no_published_task(process_workers, private_broker, journal, figures):
    """The broker restarts while tasks are published and consumed: none lost, none doubled."""
    env = {"CELERY_BROKER_URL": private_broker.url}
{% if not rabbitmq %}
    # Messages a worker held when the connection dropped come back after it.
    env["CELERY_VISIBILITY_TIMEOUT"] = str(VISIBILITY_TIMEOUT)
{% endif %}
    workers = [process_workers(**env)]
    batch = keys(300)
    task_ids = {key: str(uuid.uuid4()) for key in batch}
    failed_attempts = []

    def publish_steadily() -> None:
        with app.connection_for_write(private_broker.url) as connection:
            for key in batch:
                task_id = task_ids[key]
                while True:
                    try:
                        chaos_tasks.apply_effect.apply_async(
                            (key, 0.05),
                            queue=default_queue(),
                            connection=connection,
                            task_id=task_id,
                        )
                        break
                    except (OperationalError, ConnectionError):
                        # Not confirmed: publish it again, the same task.
                        failed_attempts.append(key)
                        time.sleep(0.5)
                time.sleep(0.02)

    def all_completed() -> bool:
        """Also restarts a worker that died, as a deployment's restart policy would."""
        if workers[-1].process.poll() is not None:
{% if not rabbitmq %}
            time.sleep(VISIBILITY_TIMEOUT + 1)  # its unacknowledged messages are then due
{% endif %}
            workers.append(process_workers(**env))
        return set(batch) <= set(journal.count("completed"))

    publisher = threading.Thread(target=publish_steadily)
    publisher.start()
    wait_for(lambda: len(journal.count("completed").keys() & set(batch)) >= 30, 60, "consuming")
    private_broker.restart()
    publisher.join(timeout=300)
    assert not publisher.is_alive()
{% if rabbitmq %}
    wait_for(all_completed, 240, "every task completed")
    workers[-1].stop()

    died = len(workers) - 1
    counts = figures.effects(
        "broker restart",
        len(batch),
        batch,
        journal,
        publish_attempts_repeated=len(failed_attempts),
        workers_died_instead_of_reconnecting=died,
    )
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["side effects applied"] == len(batch)
    assert died == 0, workers[0].output()[-5000:]
{% else %}
    with contextlib.suppress(AssertionError):  # what is missing is counted below
        wait_for(all_completed, 240, "every task completed")
    workers[-1].stop()

    died = len(workers) - 1
    missing = [key for key in batch if not journal.count("completed")[key]]
    still_in_redis = private_broker.holds(task_ids[key] for key in missing)
    counts = figures.effects(
        "broker restart",
        len(batch),
        batch,
        journal,
        publish_attempts_repeated=len(failed_attempts),
        workers_died_instead_of_reconnecting=died,
        lost_in_flight=len(missing) - len(still_in_redis),
    )
    assert counts["duplicates"] == 0
    assert not still_in_redis, f"{len(still_in_redis)} tasks waited in Redis and never ran"
    if missing:
        # Kombu's Redis transport pops a message, then records it as
        # unacknowledged: a connection lost in between loses the message.
        pytest.xfail(f"{len(missing)} message(s) lost in flight as Redis restarted (Kombu)")
    assert counts["side effects applied"] == len(batch)
    if died:
        # Seen with Celery and Kombu 5.7.0: closing the lost connection, Kombu
        # tries to restore the unacknowledged messages through it and raises
        # AttributeError, which the worker treats as unrecoverable. Nothing is
        # lost (the messages wait in Redis), but only a restart policy brings
        # the worker back: give every worker one (compose, systemd).
        pytest.xfail("the worker died instead of reconnecting (a Kombu 5.7.0 bug)")


def test_a_stalled_broker_stalls_its_workers_no_longer_than_itself(
    process_workers, private_broker, journal, figures
):
    """Redis answers nothing for 40 s mid-burst: the worker waits, then goes on.

    Its event loop blocks on Redis meanwhile, past the health rule's staleness
    bound. Stopping it then would leave every message it holds unacknowledged
    until the visibility timeout, which production sets to an hour.
    """
    worker = process_workers(CELERY_BROKER_URL=private_broker.url)
    batch = keys(60)
    task_ids = publish(batch, hold=0.2, url=private_broker.url)
    wait_for(lambda: len(journal.count("completed").keys() & set(batch)) >= 5, 60, "consuming")
    private_broker.freeze()
    try:
        time.sleep(health.STATE_STALE_AFTER + 2 * health.RECORD_EVERY)
    finally:
        private_broker.thaw()
    journal.wait_completed(batch, timeout=120)
    time.sleep(1)  # let a late second run show up, if there is one
    # Stopped first: the private broker's next tests count on their own workers alone.
    log = worker.output()
    stopped = worker.process.poll()
    worker.stop()

    counts = figures.effects(
        "broker stalled 40 s",
        len(batch),
        batch,
        journal,
        held_after=len(private_broker.holds(task_ids)),
    )
    assert stopped is None, "the worker stopped during the stall"
    assert "stopping this worker" not in log
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["held after"] == 0
{% endif %}


def test_same_message_delivered_twice_applies_once(chaos_worker, journal, figures):
    batch = keys(20)
    for key in batch:
        task_id = str(uuid.uuid4())
        for _ in range(2):
            chaos_tasks.apply_effect.apply_async((key, 0), queue=default_queue(), task_id=task_id)
    journal.wait_completed(batch, timeout=60)
    time.sleep(1)  # let a late second run show up, if there is one

    counts = figures.effects("same message delivered twice", 2 * len(batch), batch, journal)
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["side effects applied"] == len(batch)


def dead_letters_of(task_ids, where=None) -> dict:
    """The dead letters of these tasks, in the project's store or the store ``where``."""
    return {
        letter.task_id: letter
        for letter in (where or store()).dead_letters(limit=10_000)
        if letter.task_id in task_ids
    }


{% if rabbitmq %}
def dead_letter_queue_depth() -> int:
    with app.connection_for_write() as connection:
        queue = topology.prefix() + topology.DEAD_LETTER_QUEUE
        _, messages, _ = connection.default_channel.queue_declare(queue, passive=True)
        return messages


{% endif %}
def test_failed_tasks_become_dead_letters_and_requeue_once(
    chaos_worker, journal, chaos_dir, figures
):
    """A permanent failure and exhausted retries are dead letters; fixed, they run once."""
    permanent, flaky = keys(2)
{% if rabbitmq %}
    depth_before = dead_letter_queue_depth()
{% endif %}
    sent = [
        chaos_tasks.fail_until_fixed.apply_async((permanent,), queue=default_queue()),
        chaos_tasks.flaky_until_fixed.apply_async((flaky,), queue=default_queue()),
    ]
    ids = {result.id for result in sent}
    wait_for(lambda: len(dead_letters_of(ids)) == 2, 60, "both tasks dead-lettered")
    letters = dead_letters_of(ids)
    assert letters[sent[0].id].retries == 0 and "PermanentError" in letters[sent[0].id].exception
    assert letters[sent[1].id].retries == 2 and "TransientError" in letters[sent[1].id].exception
    started = journal.count("started")
    assert (started[permanent], started[flaky]) == (1, 3)
{% if rabbitmq %}
    wait_for(lambda: dead_letter_queue_depth() == depth_before + 2, 30, "RabbitMQ dead-lettered")
{% endif %}

    (chaos_dir / "fixed").touch()  # the cause is fixed
    requeue = {"action": "requeue", "ids": [letter.id for letter in letters.values()], "all": False}
    operations.run(requeue, print)
    journal.wait_completed([permanent, flaky], timeout=60)
    time.sleep(1)

    counts = figures.effects("dead letters requeued", 2, [permanent, flaky], journal)
    assert counts["side effects applied"] == 2 and counts["duplicates"] == 0 and counts["lost"] == 0
    assert dead_letters_of(ids) == {}
    started = journal.count("started")
    assert (started[permanent], started[flaky]) == (2, 4)


def test_bad_input_fails_clearly_once_as_a_dead_letter(chaos_worker, figures):
    """Unknown ids, wrong types and oversized payloads: one clear failure each, no retries."""
    with pytest.raises(PayloadTooLarge, match="exceed MAX_PAYLOAD_BYTES"):
        send_notification.delay("ann@example.com", "x" * MAX_PAYLOAD_BYTES, "too-big")
    # Other publishers skip that check: the worker refuses the message itself.
    # (All go to the default queue, where this module's worker listens.)
    queue = default_queue()
    bad = {
        "unknown id": count_rows.apply_async(("no-such-report",), queue=queue),
{% if django %}
        "unknown order": confirm_order.apply_async((10**9,), queue=queue),
{% endif %}
        "wrong type": generate_report.apply_async(("bad", "many"), queue=queue),
        "missing argument": app.send_task(
            send_notification.name, args=["ann@example.com"], queue=queue
        ),
        "oversized payload": app.send_task(
            send_notification.name,
            args=["ann@example.com", "x" * MAX_PAYLOAD_BYTES, f"big-{uuid.uuid4()}"],
            queue=queue,
        ),
    }
    ids = {result.id: what for what, result in bad.items()}
    wait_for(lambda: len(dead_letters_of(ids)) == len(ids), 60, "every bad task dead-lettered")
    time.sleep(2)  # a retry would show up as a second run by now

    letters = dead_letters_of(ids)
    for task_id, what in ids.items():
        letter = letters[task_id]
        print(f"  {what}: {letter.exception[:100]}")
        assert letter.retries == 0, what
    assert "FileNotFoundError" in letters[bad["unknown id"].id].exception
    assert "TypeError" in letters[bad["wrong type"].id].exception
    assert "TypeError" in letters[bad["missing argument"].id].exception
    oversized = letters[bad["oversized payload"].id]
    assert "PayloadTooLarge" in oversized.exception and oversized.args == []
{% if django %}
    assert "does not exist" in letters[bad["unknown order"].id].exception
{% endif %}
    log = chaos_worker.output()
    assert [what for task_id, what in ids.items() if f"{task_id}] retry" in log] == []
    figures(
        "bad input",
        {
            "published": len(ids),
            "completed": 0,
            "dead letters": len(letters),
            "retries": sum(letter.retries for letter in letters.values()),
            "lost": len(ids) - len(letters),
        },
    )


{% if django %}
@pytest.fixture
def database_link():
    """The test database, reached through a link the test can cut."""
    from django.db import connection

    settings = connection.settings_dict
    link = ServiceLink(settings["HOST"] or "127.0.0.1", int(settings["PORT"] or 5432))
    link.up()
    yield link
    link.down()


def test_database_down_then_back_applies_every_task_once(
    process_workers, private_broker, database_link, worker_environment, journal, figures
):
    """The database goes away under the workers and comes back: every task applied once.

    Its errors are transient, so tasks retry; when the retries run out while it
    is still down, the dead letter cannot be recorded either, and the message
    goes back to the broker instead of being acknowledged. On the private
    broker, where no other worker takes the messages.
    """
    url = urlsplit(worker_environment["DATABASE_URL"])
    through_link = url._replace(
        netloc=f"{url.username}:{url.password}@127.0.0.1:{database_link.port}"
    )
    worker = process_workers(
        CELERY_BROKER_URL=private_broker.url, DATABASE_URL=urlunsplit(through_link)
    )
    batch = keys(10)
    database_link.down()
{% else %}
@pytest.fixture
def private_store(chaos_dir):
    """A Redis store of the test's own, which it stops and starts."""
    missing = PrivateRedis.missing()
    if missing:
        pytest.skip(f"{missing}: the test needs a store to stop")
    directory = chaos_dir / "store"
    directory.mkdir()
    private = PrivateRedis(directory)
    private.start()
    yield private
    private.stop()


def test_store_down_then_back_applies_every_task_once(
    process_workers, private_broker, private_store, journal, figures
):
    """The Redis store goes away under the workers and comes back: every task applied once.

    Its errors are transient, so tasks retry; when the retries run out while it
    is still down, the dead letter cannot be recorded either, and the message
    goes back to the broker instead of being acknowledged. On the private
    broker, where no other worker takes the messages.
    """
    worker = process_workers(CELERY_BROKER_URL=private_broker.url, REDIS_URL=private_store.url)
    batch = keys(10)
    private_store.stop()
{% endif %}
    with app.connection_for_write(private_broker.url) as connection:
        sent = {
            chaos_tasks.apply_effect_retried_once.apply_async(
                (key,), queue=default_queue(), connection=connection
            ).id: key
            for key in batch
        }
    wait_for(
        lambda: worker.output().count("goes back to the broker") >= len(batch),
        120,
        "every message given back while the store is down",
    )
{% if django %}
    database_link.up()
    where = store()
{% else %}
    private_store.start()
    where = RedisStore(redis.Redis.from_url(private_store.url), prefix=store().prefix)
{% endif %}

    def settled() -> bool:
        # A task whose last retry fails just before the store is back fails
        # for good then, and its dead letter is recorded.
        completed, letters = journal.count("completed"), dead_letters_of(sent, where)
        return all(completed[key] or task_id in letters for task_id, key in sent.items())

    wait_for(settled, 120, "every task applied or a dead letter")
    time.sleep(1)  # let a late second run show up, if there is one
    worker.stop()

    log = worker.output()
    started, applied = journal.count("started"), journal.count("applied")
    letters = dead_letters_of(sent, where)
    counts = figures(
        "store down then back",
        {
            "published": len(batch),
            "side effects applied": sum(applied[key] for key in batch),
            "duplicates": sum(max(0, applied[key] - 1) for key in batch),
            "dead letters": len(letters),
            "lost": sum(
                1 for task_id, key in sent.items() if not (applied[key] or task_id in letters)
            ),
            "runs": sum(started[key] for key in batch),
            "retries": log.count("] retry: Retry in"),
            "messages given back": log.count("goes back to the broker"),
        },
    )
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["side effects applied"] + counts["dead letters"] == len(batch)
    assert all(started[key] >= 2 for key in batch), "a failed run was acknowledged"
    assert "Retry in" in log, "the store's errors were not retried"
{% if not django %}


def test_a_full_store_records_an_applied_effect_and_defers_new_claims(tmp_path):
    """Redis at maxmemory refuses writes: the effect that ran is recorded all the same.

    Its failure would be retried, and the retry would apply the effect again.
    A new claim is refused with an error the task base class retries.
    """
    missing = PrivateRedis.missing()
    if missing:
        pytest.skip(f"{missing}: the test needs a store to fill")
    private_store = PrivateRedis(tmp_path)
    private_store.start()
    client = redis.Redis.from_url(private_store.url)
    full = RedisStore(client, prefix=f"full-{uuid.uuid4().hex[:8]}")
    (applied, other) = keys(2)
    try:
        with full.claim(applied) as first:
            assert first
            # Meanwhile Redis fills up: no write that needs memory is taken.
            client.config_set("maxmemory", max(client.info("memory")["used_memory"] - 65536, 1))
        with pytest.raises(redis.exceptions.OutOfMemoryError) as refused, full.claim(other):
            pass
        assert isinstance(refused.value, retry.TRANSIENT_ERRORS)
        client.config_set("maxmemory", 0)
        with full.claim(applied) as first:
            assert first is False, "a second run would apply it again"
    finally:
        private_store.stop()
{% endif %}


def test_task_that_kills_its_process_becomes_a_dead_letter(
    process_workers, private_broker, journal, figures
):
    """A poison pill (a segfault, the OOM killer) runs a few times, then is a dead letter.

    Not redelivered for ever: its runs are counted in the store, on either broker.
    On the private broker, where no other worker takes the messages.
    """
    worker = process_workers(CELERY_BROKER_URL=private_broker.url)
    poison, *healthy = keys(3)
    with app.connection_for_write(private_broker.url) as connection:
        sent = chaos_tasks.kill_own_process.apply_async(
            (poison,), queue=default_queue(), connection=connection
        )
    publish(healthy, url=private_broker.url)
    wait_for(lambda: dead_letters_of({sent.id}), 60, "the poison pill dead-lettered")
    journal.wait_completed(healthy, timeout=60)
    time.sleep(2)  # a further run would show up by now
    worker.stop()

    letter = dead_letters_of({sent.id})[sent.id]
    runs = journal.count("started")[poison]
    completed = journal.count("completed")
    figures(
        "task kills its own process",
        {
            "published": 1 + len(healthy),
            "completed": sum(1 for key in healthy if completed[key]),
            "runs of the poison pill": runs,
            "dead letters": 1,
            "lost": sum(1 for key in healthy if not completed[key]),
        },
    )
    assert runs == retry.MAX_RUNS_WITHOUT_OUTCOME
    assert "WorkerLostError" in letter.exception and letter.args == [poison]
    assert all(journal.count("applied")[key] == 1 for key in healthy)


def test_task_whose_worker_is_killed_every_time_becomes_a_dead_letter(
    process_workers, private_broker, journal, figures
):
    """A task that takes its whole worker down each time (the OOM killer, a liveness
    probe restarting a worker stuck in it) is not delivered for ever: no run reports
    its end, so the broker's redeliveries are counted, and the next one is a dead letter.
    """
    env = {"CELERY_BROKER_URL": private_broker.url}
{% if not rabbitmq %}
    env["CELERY_VISIBILITY_TIMEOUT"] = str(VISIBILITY_TIMEOUT)
{% endif %}
    (key,) = keys(1)
    (task_id,) = publish([key], hold=15, url=private_broker.url)
    for run in range(1, retry.MAX_RUNS_WITHOUT_OUTCOME + 1):
        worker = process_workers(**env)
        wait_for(lambda run=run: journal.count("started")[key] >= run, 60, f"run {run} started")
        worker.kill()
{% if not rabbitmq %}
        # Redis hands the message out again once its visibility timeout has passed.
        time.sleep(VISIBILITY_TIMEOUT + 1)
{% endif %}
    last = process_workers(**env)
    wait_for(lambda: dead_letters_of({task_id}), 60, "the task dead-lettered")
    time.sleep(2)  # a further run would show up by now
    last.stop()

    letter = dead_letters_of({task_id})[task_id]
    runs = journal.count("started")[key]
    figures(
        "worker killed in every run",
        {"published": 1, "runs": runs, "dead letters": 1, "lost": 0},
    )
    assert runs == retry.MAX_RUNS_WITHOUT_OUTCOME
    assert "RedeliveredTooOften" in letter.exception and letter.args == [key, 15]
    assert journal.count("completed")[key] == 0


def test_unknown_task_name_becomes_a_dead_letter(chaos_worker, figures):
    """A message for a task no worker has is kept, with its arguments, to requeue later."""
    (key,) = keys(1)
    sent = app.send_task("chaos.not_deployed_yet", args=[key], queue=default_queue())
    wait_for(lambda: dead_letters_of({sent.id}), 60, "the unknown task dead-lettered")

    letter = dead_letters_of({sent.id})[sent.id]
    figures("unknown task name", {"published": 1, "dead letters": 1, "lost": 0})
    assert "NotRegistered" in letter.exception and "chaos.not_deployed_yet" in letter.exception
    assert (letter.task_name, letter.args) == ("chaos.not_deployed_yet", [key])


def publish_foreign(body, headers: dict, correlation_id: str) -> None:
    """One message as another application would send it to the default queue.

    ``body`` is encoded with this project's serializer{% if cookiecutter.message_signing %} (signed with the test
    key: a valid signature does not make a valid task){% endif %}, so the
    worker decodes it and meets its shape.
    """
    content_type, encoding, data = dumps(body, serializer=app.conf.task_serializer)
    with app.connection_for_write() as connection:
        connection.Producer().publish(
            data,
            content_type=content_type,
            content_encoding=encoding,
            headers=headers,
            correlation_id=correlation_id,
            exchange="",
            routing_key=default_queue(),
            delivery_mode=2,
        )


def test_a_foreign_message_becomes_a_dead_letter_and_stops_no_queue(chaos_worker, journal, figures):
    """Task headers with a body of another shape, or no task header at all: decided alone."""

    def task_headers(task_id: str) -> dict:
        headers, *_ = app.amqp.as_task_v2(
            task_id, chaos_tasks.apply_effect.name, args=("foreign", 0), kwargs={}
        )
        return headers

    before = chaos_worker.output()
    # What each is, the id its dead letter gets, its body, its headers.
    foreign = [
        ("task headers, a string body", str(uuid.uuid4()), "not a task's shape", None),
        ("task headers, a short list", str(uuid.uuid4()), [1, 2], None),
        ("no task header", str(uuid.uuid4()), {"order": 7, "status": "paid"}, {}),
        (
            "task headers of other types",
            "12",  # its id header, not its correlation id
            {"order": 8},
            {"task": chaos_tasks.apply_effect.name, "id": 12, "retries": "many"},
        ),
    ]
    for _, letter_id, body, headers in foreign:
        publish_foreign(body, task_headers(letter_id) if headers is None else headers, letter_id)
    # Behind them on the same queue: ordinary tasks, each applied once.
    batch = keys(20)
    ordinary = set(publish(batch))
    journal.wait_completed(batch, timeout=60)
    names = {letter_id: what for what, letter_id, _, _ in foreign}
    wait_for(lambda: len(dead_letters_of(names)) == len(names), 60, "each dead-lettered")

    letters = dead_letters_of(names)
    for letter_id, what in names.items():
        print(f"  {what}: {letters[letter_id].exception[:120]}")
        reason = "not a task message" if what == "no task header" else "malformed task message"
        assert reason in letters[letter_id].exception, what
    assert chaos_worker.process.poll() is None, "the worker stopped"
    log = chaos_worker.output()[len(before) :]
    assert "Unrecoverable error" not in log
    counts = figures.effects(
        "foreign messages", len(batch) + len(foreign), batch, journal, dead_letters=len(letters)
    )
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    # Not one ordinary message paid for them with a delivery.
    assert dead_letters_of(ordinary) == {}
    assert "delivered again" not in log
{% if rabbitmq %}


def test_sending_fails_within_its_bound_while_rabbitmq_blocks_publishers(private_broker, figures):
    """A memory alarm: delay() ends in seconds with an error that names it, not with the alarm."""
    private_broker.memory_alarm(on=True)
    try:
        started = time.monotonic()
        with pytest.raises(publishing.PublishFailed, match="RabbitMQ blocks publishers"):
            publish(keys(1), url=private_broker.url)
        waited = time.monotonic() - started
    finally:
        private_broker.memory_alarm(on=False)
    figures("publisher blocked", {"longest caller block (s)": round(waited)})
    assert waited <= publishing.PUBLISH_BOUND
    # The alarm over, the same process sends again.
    assert publish(keys(1), url=private_broker.url)


def dead_lettered_by_rabbitmq(key: str) -> str:
    """A chaos task that RabbitMQ dead-letters on its own: rejected from a queue; its id.

    The queue dead-letters to the project's dead-letter queue as the work queues
    do, and no worker consumes it, so the rejection is this test's.
    """
    dead_letters = topology.prefix() + topology.DEAD_LETTER_QUEUE
    queue = Queue(
        f"{topology.prefix()}rejects-{uuid.uuid4().hex[:8]}",
        exclusive=True,
        queue_arguments={
            "x-dead-letter-exchange": dead_letters,
            "x-dead-letter-routing-key": dead_letters,
        },
    )
    task_id = str(uuid.uuid4())
    headers, properties, body, _ = app.amqp.as_task_v2(
        task_id, chaos_tasks.apply_effect.name, args=(key, 0), kwargs={}
    )
    content_type, encoding, data = dumps(body, serializer=app.conf.task_serializer)
    with app.connection_for_write() as connection:
        bound = queue.bind(connection.default_channel)
        bound.declare()
        connection.Producer().publish(
            data,
            content_type=content_type,
            content_encoding=encoding,
            headers=headers,
            exchange="",
            routing_key=queue.name,
            **properties,
        )
        deadline = time.monotonic() + 30
        while (message := bound.get(no_ack=False)) is None:
            assert time.monotonic() < deadline, "the message never reached its queue"
            time.sleep(0.1)
        message.reject()
    return task_id


def test_what_rabbitmq_dead_letters_joins_the_records_and_purge_clears_both(
    chaos_worker, journal, figures
):
    """The same list, requeue and purge for what RabbitMQ dead-letters without a worker."""
    first, second = keys(2)
    # Earlier tests' dead letters, and their copies in RabbitMQ's queue: out
    # of the way, through the command itself.
    operations.run({"action": "purge", "yes": True}, print)
    task_id = dead_lettered_by_rabbitmq(first)
    output: list[str] = []
    wait_for(lambda: dead_letter_queue_depth() >= 1, 30, "RabbitMQ dead-lettered it")
    operations.run({"action": "list", "limit": 50}, output.append)
    letter = dead_letters_of({task_id})[task_id]
    assert any("from RabbitMQ's dead-letter queue" in line for line in output), output
    assert letter.args == [first, 0] and "rejected" in letter.exception
    assert any(line.startswith(f"{letter.id:>16}") for line in output), "listed"

    operations.run({"action": "requeue", "ids": [letter.id], "all": False}, output.append)
    journal.wait_completed([first], timeout=60)

    dead_lettered_by_rabbitmq(second)
    wait_for(lambda: dead_letter_queue_depth() >= 1, 30, "RabbitMQ dead-lettered it")
    operations.run({"action": "purge", "yes": True}, output.append)
    figures(
        "dead-lettered by RabbitMQ",
        {
            "published": 2,
            "recorded": sum(
                int(line.split()[1]) for line in output if "RabbitMQ's dead-letter queue" in line
            ),
            "requeued and applied": journal.count("applied")[first],
            "left in the dead-letter queue after purge": dead_letter_queue_depth(),
            "records left after purge": len(store().dead_letters()),
        },
    )
    assert journal.count("applied")[first] == 1
    assert dead_letter_queue_depth() == 0 and store().dead_letters() == []
{% endif %}
{% if cookiecutter.message_signing %}


def test_untrusted_or_missing_signature_becomes_a_dead_letter(
    chaos_worker, chaos_dir, journal, figures
):
    """Signed by a key the workers do not trust, or not signed: refused, never run, recorded."""
    create_keys(chaos_dir / "intruder.key", chaos_dir / "intruder.crt", common_name="intruder")
    intruder = SecureSerializer(
        PrivateKey((chaos_dir / "intruder.key").read_text()),
        Certificate((chaos_dir / "intruder.crt").read_text()),
        digest=app.conf.security_digest,
        serializer="{{ cookiecutter.serializer }}",
    )
    untrusted, unsigned = keys(2)
    queue = app.amqp.queues[default_queue()]
    sent = {}
    with app.producer_or_acquire() as producer:
        for key in (untrusted, unsigned):
            task_id = str(uuid.uuid4())
            headers, properties, body, _ = app.amqp.as_task_v2(
                task_id, chaos_tasks.apply_effect.name, args=(key, 0), kwargs={}
            )
            if key == untrusted:
                content_type, encoding, data = "application/data", "utf-8", intruder.serialize(body)
            else:
                content_type, encoding, data = dumps(body, serializer="{{ cookiecutter.serializer }}")
            producer.publish(
                data,
                content_type=content_type,
                content_encoding=encoding,
                headers=headers,
                exchange=queue.exchange,
                routing_key=queue.routing_key,
                **properties,
            )
            sent[task_id] = key
    wait_for(lambda: len(dead_letters_of(sent)) == 2, 60, "both messages dead-lettered")
    time.sleep(1)  # a run would show up by now

    letters = dead_letters_of(sent)
    started = journal.count("started")
    figures(
        "untrusted or missing signature",
        {
            "published": len(sent),
            "ran": sum(started[key] for key in sent.values()),
            "dead letters": len(letters),
            "lost": len(sent) - len(letters),
        },
    )
    assert not any(started[key] for key in sent.values())
    by_key = {sent[task_id]: letter for task_id, letter in letters.items()}
    assert "Unknown certificate" in by_key[untrusted].exception
    assert "untrusted content" in by_key[unsigned].exception
    # Nothing from an untrusted message is kept to be run again.
    assert by_key[untrusted].args == [] and by_key[unsigned].args == []
{% endif %}


def test_burst_against_one_worker_per_queue(process_workers, private_broker, journal, figures):
    """Several thousand tasks over every queue, one worker per group: all done, once.

    On the private broker, where no other worker takes the messages.
    """
    env = {"CELERY_BROKER_URL": private_broker.url}
    workers = [process_workers(group, **env) for group in topology.workers()]
    queues = [topology.prefix() + queue for queue in topology.all_queue_names()]
    batch = keys(BURST)
    started_at = time.monotonic()
    publish(batch, url=private_broker.url, queues=queues)
    published_in = time.monotonic() - started_at
    journal.wait_completed(batch, timeout=600)
    done_in = time.monotonic() - started_at
    time.sleep(1)
    for worker in workers:
        worker.stop()

    counts = figures.effects(
        f"burst over {len(queues)} queue(s)",
        len(batch),
        batch,
        journal,
        seconds_to_publish=round(published_in),
        seconds_until_all_done=round(done_in),
    )
    assert counts["lost"] == 0 and counts["duplicates"] == 0
    assert counts["side effects applied"] == len(batch)
{% if cookiecutter.beat_scheduler == 'redbeat' %}


def start_beat(log: Path, env: dict[str, str]) -> subprocess.Popen:
    with log.open("wb") as output:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.chaos_beat",
                "beat",
                "--loglevel=INFO",
                "--pidfile=",  # two beats in one directory: no pidfile to fight over
            ],
            cwd=PROJECT_DIR,
            env={**os.environ, **env},
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def test_two_beats_fire_each_schedule_once(chaos_worker, journal, chaos_dir, figures):
    """RedBeat's lock in Redis: a second beat stands by instead of firing again."""
    period, window = 2.0, 16.0
    env = {"CHAOS_BEAT_PERIOD": str(period), "CHAOS_JOURNAL": str(journal.path)}
    beats = [start_beat(chaos_dir / f"beat-{n}.log", env) for n in range(2)]
    try:
        wait_for(lambda: journal.times("tick"), 60, "the first tick")
        time.sleep(window)
    finally:
        for beat in beats:
            beat.terminate()
            beat.wait(timeout=30)
    ticks = sorted(journal.times("tick"))
    gaps = [later - earlier for earlier, later in zip(ticks, ticks[1:], strict=False)]
    figures(
        "two beats, one schedule",
        {
            "beats": len(beats),
            "period (s)": int(period),
            "fired": len(ticks),
            "periods elapsed": int((ticks[-1] - ticks[0]) / period) + 1,
            "fired twice in one period": sum(1 for gap in gaps if gap < period / 2),
        },
    )
    assert len(ticks) >= window / period - 1
    assert min(gaps) > period / 2, f"fired twice within one period: {gaps}"
    assert len(ticks) <= (ticks[-1] - ticks[0]) / period + 2
{% endif %}

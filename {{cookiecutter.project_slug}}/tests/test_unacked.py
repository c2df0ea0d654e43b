"""The oldest unacknowledged message's age (unacked.py), against the real Redis broker.

A Kombu consumer takes a message and does not acknowledge it, like a worker
that hangs on a task: the gauge of its queue grows, and falls back to 0 once
the message is acknowledged. Each test publishes under a queue prefix of its
own, so no worker of the other tests takes its message; nothing is flushed.
"""

from __future__ import annotations

import time
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
from kombu import Connection, Exchange, Queue
from prometheus_client import CollectorRegistry

from {{ cookiecutter.project_slug }} import topology, unacked

QUEUE = topology.DEFAULT_QUEUE


@pytest.fixture
def own_prefix(monkeypatch) -> str:
    """A queue prefix no other test uses, read by the collector as this process's."""
    prefix = f"{topology.prefix()}unacked-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setattr(topology, "prefix", lambda: prefix)
    return prefix


def connection(app, **options) -> Connection:
    """A connection with the project's transport options, and ``options`` over them."""
    transport_options = {**app.conf.broker_transport_options, **options}
    return Connection(app.conf.broker_url, transport_options=transport_options)


class Held:
    """One message published to ``prefix + QUEUE``, then delivered and not acknowledged."""

    def __init__(self, conn: Connection, prefix: str, headers: dict | None = None) -> None:
        exchange = Exchange(prefix + "tasks", type="direct")
        self.queue = Queue(prefix + QUEUE, exchange, routing_key=prefix + QUEUE)
        self.conn = conn
        self.conn.Producer().publish(
            {"held": True},
            exchange=exchange,
            routing_key=prefix + QUEUE,
            declare=[self.queue],
            headers=headers or {},
        )
        self.messages = []
        self.consumer = conn.Consumer(
            self.queue, callbacks=[lambda _body, message: self.messages.append(message)]
        )
        self.consumer.consume()
        deadline = time.monotonic() + 10
        while not self.messages and time.monotonic() < deadline:
            with suppress(TimeoutError):
                conn.drain_events(timeout=1)
        assert self.messages, "the message was not delivered"

    def close(self) -> None:
        self.consumer.cancel()
        self.queue.bind(self.conn.default_channel).delete()
        self.conn.release()


def test_the_age_grows_while_a_consumer_holds_the_message_and_is_0_after_the_ack(
    celery_app, own_prefix
):
    registry = CollectorRegistry()
    registry.register(unacked.UnackedCollector(celery_app))

    def age() -> float:
        return registry.get_sample_value(unacked.METRIC, {"queue_name": QUEUE})

    assert age() == 0
    held = Held(connection(celery_app), own_prefix)
    try:
        first = age()
        time.sleep(1.5)
        second = age()
        assert 0 < first < second, (first, second)
        assert second - first >= 1
        # Every queue of the topology has a sample, 0 when nothing waits.
        for queue in topology.all_queue_names():
            if queue != QUEUE:
                assert registry.get_sample_value(unacked.METRIC, {"queue_name": queue}) == 0
        held.messages[0].ack()
        assert age() == 0
    finally:
        held.close()


def test_a_message_waiting_for_its_eta_is_not_late_until_it_is_due(celery_app, own_prefix):
    eta = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    held = Held(connection(celery_app), own_prefix, headers={"eta": eta})
    try:
        time.sleep(1)
        with connection(celery_app) as conn:
            ages = unacked.oldest_unacked(conn.default_channel, [QUEUE], own_prefix)
            assert ages == {QUEUE: 0}
            later = time.time() + 3600 + 30
            ages = unacked.oldest_unacked(conn.default_channel, [QUEUE], own_prefix, now=later)
            assert 29 < ages[QUEUE] < 60
        held.messages[0].ack()
    finally:
        held.close()


def test_the_keys_are_read_under_the_transports_global_key_prefix(celery_app, own_prefix):
    options = {"global_keyprefix": own_prefix}
    held = Held(connection(celery_app, **options), own_prefix)
    try:
        time.sleep(1)
        with connection(celery_app) as plain:  # the unprefixed keys do not hold it
            assert unacked.oldest_unacked(plain.default_channel, [QUEUE], own_prefix)[QUEUE] < 1
        with connection(celery_app, **options) as conn:
            assert unacked.oldest_unacked(conn.default_channel, [QUEUE], own_prefix)[QUEUE] >= 1
        held.messages[0].ack()
    finally:
        held.close()

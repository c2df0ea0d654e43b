"""Age of the oldest unacknowledged message of each queue, as a Prometheus metric (Redis).

A worker that stops fetching, or sits on a message it never finishes, may
still look alive; its message stays delivered but unacknowledged until the
visibility timeout (celeryconfig.VISIBILITY_TIMEOUT) gives it to another
worker. Kombu's Redis transport keeps every such message in two keys, global
to the Redis database: ``unacked_index`` (sorted set: delivery tag, scored by
the delivery time) and ``unacked`` (hash: delivery tag -> JSON
``[message, exchange, routing_key]``). The routing key names the queue.

A message with an ETA (a countdown or a retry's backoff) is held by the worker,
unacknowledged, until it is due: its age counts from its ETA, not its delivery.

Run by the ``celery-unacked`` service: ``python -m {{ cookiecutter.project_slug }}.unacked``,
metrics on port 9809 (``--port``). Every queue of the topology has a sample, 0
when none of its messages waits for an acknowledgement.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

from {{ cookiecutter.project_slug }} import topology

METRIC = "celery_queue_oldest_unacked_age_seconds"
PORT = 9809
# Delivery tags read per round trip; the index is read whole, oldest first.
BATCH = 500


def _due(message: dict, delivered: float) -> float:
    """When the worker may start ``message``: its delivery, or its ETA if later."""
    eta = (message.get("headers") or {}).get("eta")
    if not eta:
        return delivered
    try:
        return max(delivered, datetime.fromisoformat(eta).timestamp())
    except (TypeError, ValueError):
        return delivered


def oldest_unacked(
    channel, queues: Iterable[str], prefix: str, now: float | None = None
) -> dict[str, float]:
    """Seconds since the oldest unacknowledged message of each of ``queues`` was due.

    ``channel`` is a Kombu Redis channel: its client adds the transport's
    ``global_keyprefix``, and it names the two keys (transport options
    ``unacked_key`` and ``unacked_index_key``). Messages of other queues (other
    prefixes, other applications on the same database) are skipped.
    """
    now = time.time() if now is None else now
    ages = dict.fromkeys(queues, 0.0)
    by_routing_key = {prefix + queue: queue for queue in ages}
    with channel.conn_or_acquire() as client:
        start = 0
        while entries := client.zrange(
            channel.unacked_index_key, start, start + BATCH - 1, withscores=True
        ):
            start += len(entries)
            with client.pipeline(transaction=False) as pipe:
                for tag, _ in entries:
                    pipe.hget(channel.unacked_key, tag)
                payloads = pipe.execute()
            for (_, delivered), payload in zip(entries, payloads, strict=True):
                if payload is None:  # acknowledged in between
                    continue
                message, _exchange, routing_key = json.loads(payload)
                queue = by_routing_key.get(routing_key)
                if queue is not None:
                    ages[queue] = max(ages[queue], now - _due(message, delivered))
    return ages


class UnackedCollector(Collector):
    """Reads the broker at each scrape, so the value is never older than the scrape."""

    def __init__(self, app):
        self.app = app

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            METRIC,
            "Seconds since the oldest delivered but unacknowledged message of the queue was due "
            "(its delivery, or its ETA if later); 0 when none waits.",
            labels=["queue_name"],
        )
        with self.app.connection_for_read() as connection:
            ages = oldest_unacked(
                connection.default_channel, topology.all_queue_names(), topology.prefix()
            )
        for queue, age in ages.items():
            gauge.add_metric([queue], age)
        yield gauge


def main(argv: list[str] | None = None) -> None:
    from prometheus_client import start_http_server

    from {{ cookiecutter.project_slug }}.celery_app import app

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="0.0.0.0")  # noqa: S104 (inside its container)
    parser.add_argument("--port", type=int, default=PORT)
    options = parser.parse_args(argv)
    REGISTRY.register(UnackedCollector(app))
    start_http_server(options.port, addr=options.host)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()

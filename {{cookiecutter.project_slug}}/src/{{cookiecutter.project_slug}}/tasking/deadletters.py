"""Dead letters: tasks that failed for good, kept with everything needed to run them again.

A task that exhausts its retries or fails with a permanent error is recorded
by the task base class, so it is never silently lost; so are messages the
worker refuses or that keep ending without an outcome (``tasking.outcomes``).
{% if cookiecutter.broker == 'rabbitmq' %}
What RabbitMQ dead-letters on its own joins them when collected.
{% endif %}
Listing, requeueing and purging go through the store (``tasking.stores``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
{% if cookiecutter.broker == 'rabbitmq' %}

from {{ cookiecutter.project_slug }} import topology
{% endif %}


@dataclass(frozen=True)
class DeadLetter:
    """One task that failed for good."""

    task_name: str
    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    exception: str
    traceback: str
    retries: int
    failed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Assigned by the store when the letter is recorded.
    id: str = ""


def from_message(message, exception: str, queue: str | None = None) -> DeadLetter:
    """A dead letter for a broker message as it came, whoever sent it, whatever its shape.

    Another application's message may have no task headers, headers of other
    types or a body that is no task's: nothing here raises on it. Arguments
    that cannot be decoded or trusted are not kept. Without a task id, the
    message's correlation id names the letter.
    """
    headers = message.headers if isinstance(message.headers, dict) else {}
    properties = message.properties if isinstance(message.properties, dict) else {}
    try:
        args, kwargs, _ = message.decode()
        args, kwargs = list(args or ()), dict(kwargs or {})
    except Exception:
        args, kwargs = [], {}
    if queue is None:
        queue = (message.delivery_info or {}).get("routing_key") or ""
    return DeadLetter(
        task_name=str(headers.get("task") or ""),
        task_id=str(headers.get("id") or properties.get("correlation_id") or ""),
        args=args,
        kwargs=kwargs,
        queue=queue,
        exception=exception,
        traceback="",
        retries=_count(headers.get("retries")),
    )


def _count(value) -> int:
    """A header's count, or 0 when another application put something else there."""
    try:
        return max(int(value or 0), 0)
    except (TypeError, ValueError):
        return 0


def requeue(letter: DeadLetter, app) -> str:
    """Publish the task again with its original arguments; returns the new task id.

    The task is routed by the topology as usual, not forced to its old queue,
    so a route changed since the failure is honoured.
    """
    result = app.send_task(
        letter.task_name,
        args=letter.args,
        kwargs=letter.kwargs,
        headers={"requeued_from": letter.task_id},
    )
    return result.id
{% if cookiecutter.broker == 'rabbitmq' %}


def _death(headers: dict) -> tuple[str, str]:
    """The queue a message was dead-lettered from, and why, from RabbitMQ's x-death header."""
    deaths = headers.get("x-death") or [{}]
    queue, reason = deaths[0].get("queue") or "", deaths[0].get("reason") or "unknown"
    return queue, f"DeadLettered: RabbitMQ dead-lettered it from {queue or 'a queue'} ({reason})"


def collect_dead_letter_queue(app, store) -> int:
    """Move what RabbitMQ dead-lettered into the store's records; returns how many were new.

    RabbitMQ dead-letters a message past its queue's delivery limit, and one a
    worker rejects. A task the workers already recorded (same task id) is not
    recorded twice. A message leaves the queue only once recorded.
    https://www.rabbitmq.com/docs/dlx
    """
    name = topology.prefix() + topology.DEAD_LETTER_QUEUE
    recorded = {letter.task_id for letter in store.dead_letters(limit=1_000_000)}
    new = 0
    with app.connection_for_read() as connection:
        queue = app.amqp.queues[name].bind(connection.default_channel)
        queue.declare()  # before any worker has: then it is empty
        while (message := queue.get(no_ack=False, accept=app.conf.accept_content)) is not None:
            headers = message.headers if isinstance(message.headers, dict) else {}
            source, exception = _death(headers)
            letter = from_message(message, exception, queue=source)
            if not letter.task_id or letter.task_id not in recorded:
                store.record_dead_letter(letter)
                recorded.add(letter.task_id)
                new += 1
            message.ack()
    return new
{% endif %}

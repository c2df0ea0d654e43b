"""Sending a task never holds its caller for long.

Invariant: a caller of ``delay()``, ``apply_async()`` or ``send_task()`` (a
web request, a task that fans out{{ ', beat' if cookiecutter.__has_beat == 'yes' }}) waits at most ``PUBLISH_BOUND``
seconds, then gets ``PublishFailed``, which says what the broker did.

How: every publish of this project's app (``celery_app.App.send_task``, which
every way of sending a task goes through) waits at most ``PUBLISH_TIMEOUT``
seconds for each attempt's socket write and RabbitMQ's publisher confirm,
and ``PUBLISH_RETRY_POLICY`` bounds the attempts.

RabbitMQ stops reading from every publishing connection while a resource
alarm lasts (memory or disk: ``rabbitmq-diagnostics alarms``) and says so
with ``connection.blocked``. Unbounded, a publish waited for its confirm
as long as the alarm lasted; here the first attempt that meets a blocked
connection ends the send: retrying cannot help before the alarm clears.
"""

from __future__ import annotations

import logging
import time

from celery.app.amqp import AMQP
from kombu import Connection
from kombu.exceptions import OperationalError

logger = logging.getLogger(__name__)

# One attempt: the socket write and the publisher confirm.
PUBLISH_TIMEOUT = 5.0
# Celery's default policy, stated: after a broker error, three more attempts
# on a fresh connection, 0, 0.2 and 0.2 s apart.
PUBLISH_RETRY_POLICY: dict[str, object] = {
    "max_retries": 3,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.2,
}
# The longest a caller waits while the broker accepts connections.
PUBLISH_BOUND = (1 + PUBLISH_RETRY_POLICY["max_retries"]) * PUBLISH_TIMEOUT + 0.4


class PublishFailed(OperationalError):
    """The broker did not take the message within the bound; it may or may not have it."""


def bounded(options: dict) -> dict:
    """``options`` of a send, with the time bounds of one attempt unless the caller set its own."""
    options.setdefault("timeout", PUBLISH_TIMEOUT)
    options.setdefault("confirm_timeout", PUBLISH_TIMEOUT)
    return options


def explained(error: OperationalError) -> PublishFailed:
    """``error``, which ended a send, as a PublishFailed that says what happened."""
    if isinstance(error, PublishFailed):
        return error
    causes = (error.__cause__, error.__context__, *error.args)
    if any(isinstance(cause, TimeoutError) for cause in causes):
        return PublishFailed(
            f"the broker did not take the message within {PUBLISH_TIMEOUT:.0f} s, "
            f"{1 + PUBLISH_RETRY_POLICY['max_retries']} times: it is stalled or unreachable "
            f"({error!r}); the message may or may not have been sent"
        )
    return PublishFailed(f"the broker refused the message: {error!r}; it was not sent")


# When a connection of this process last heard ``connection.blocked``; None
# once one heard ``connection.unblocked``. A connection hears it while it
# publishes, so a notice older than an attempt is not this attempt's.
_blocked_at: float | None = None


class BlockedHeardConnection(Connection):
    """Kombu's connection, whose AMQP connection reports connection.blocked here."""

    def _establish_connection(self):
        connection = super()._establish_connection()
        connection.on_blocked = on_blocked
        connection.on_unblocked = on_unblocked
        return connection


class BlockedHeardAMQP(AMQP):
    """Celery's AMQP helpers, making every connection of the app a BlockedHeardConnection."""

    Connection = BlockedHeardConnection


def on_blocked(reason: str) -> None:
    """py-amqp calls this when RabbitMQ blocks a connection of this process."""
    global _blocked_at
    _blocked_at = time.monotonic()
    logger.warning("RabbitMQ blocks publishers (%s): a resource alarm is on", reason)


def on_unblocked() -> None:
    global _blocked_at
    _blocked_at = None
    logger.warning("RabbitMQ accepts publishers again")


def blocked_now() -> bool:
    return _blocked_at is not None and time.monotonic() - _blocked_at <= PUBLISH_TIMEOUT + 1


def stop_retrying_when_blocked(exc: BaseException, interval: float) -> None:
    """Kombu calls this before each new attempt: none while RabbitMQ blocks publishers."""
    if blocked_now():
        raise PublishFailed(
            f"RabbitMQ blocks publishers (connection.blocked: a memory or disk alarm, see "
            f"`rabbitmq-diagnostics alarms`): no confirm within {PUBLISH_TIMEOUT:.0f} s. "
            "The message may reach the queue when the alarm clears; send it again later "
            "(tasks are idempotent)"
        ) from exc


PUBLISH_RETRY_POLICY["errback"] = stop_retrying_when_blocked

"""Notification tasks: short, idempotent messages to people."""

from __future__ import annotations

import logging

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.tasking.idempotency import idempotent

logger = logging.getLogger(__name__)


@app.task
@idempotent(lambda recipient, message, notification_key: f"notification:{notification_key}")
def send_notification(recipient: str, message: str, notification_key: str) -> str:
    """Send ``message`` to ``recipient`` once per ``notification_key``.

    The key names the event being announced (``order-placed:42``), so a
    redelivered task, or the same event enqueued twice, sends nothing more.
    """
    deliver(recipient, message)
    return notification_key


def deliver(recipient: str, message: str) -> None:
    """Hand the message to the delivery service (email, SMS, push); here it is logged."""
    logger.info("notification to %s: %s", recipient, message)

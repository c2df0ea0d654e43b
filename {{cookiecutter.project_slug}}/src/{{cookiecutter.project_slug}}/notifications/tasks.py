"""Notification tasks: short, idempotent messages to people."""

from __future__ import annotations

import logging

from {{ cookiecutter.project_slug }}.celery_app import app

logger = logging.getLogger(__name__)


@app.task
def send_notification(recipient: str, message: str) -> None:
    """Send ``message`` to ``recipient``."""
    logger.info("notification to %s: %s", recipient, message)

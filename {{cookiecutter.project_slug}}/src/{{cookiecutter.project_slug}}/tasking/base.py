"""The base class of every task: retry policy applied by default.

Docs: https://docs.celeryq.dev/en/stable/userguide/tasks.html#custom-task-classes
"""

from __future__ import annotations

from celery import Task

from {{ cookiecutter.project_slug }}.tasking import retry


class BaseTask(Task):
    """Retries transient errors with exponential backoff and jitter, up to a cap."""

    autoretry_for = retry.TRANSIENT_ERRORS
    dont_autoretry_for = retry.PERMANENT_ERRORS
    retry_backoff = retry.RETRY_BACKOFF
    retry_backoff_max = retry.RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = retry.MAX_RETRIES

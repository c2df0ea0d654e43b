"""The base class of every task: retry policy, a payload size limit and dead letters.

Docs: https://docs.celeryq.dev/en/stable/userguide/tasks.html#custom-task-classes
"""

from __future__ import annotations

import logging
import threading
import traceback
{% if cookiecutter.broker == 'redis' %}
from datetime import UTC, datetime
{% endif %}

{% if cookiecutter.framework == 'django' %}
from celery.app.task import get_actual_ignore_result
from celery.contrib.django.task import DjangoTask as Task
{% else %}
from celery import Task
from celery.app.task import get_actual_ignore_result
{% endif %}
from celery.exceptions import Reject, Retry
from celery.signals import task_internal_error, task_prerun
from kombu.serialization import dumps

{% if cookiecutter.broker == 'rabbitmq' %}
from {{ cookiecutter.project_slug }} import topology
{% endif %}
from {{ cookiecutter.project_slug }}.tasking import retry
from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter
from {{ cookiecutter.project_slug }}.tasking.stores import store

logger = logging.getLogger(__name__)

# The largest arguments a task accepts, serialized. Pass ids and keep the data
# in storage: big messages slow the broker and are copied into logs and dead
# letters. Checked when a task is sent and again when a worker receives it
# (a message may come from another publisher).
MAX_PAYLOAD_BYTES = 1024 * 1024


# The task whose run raised outside its body, in this thread (see BaseTask.on_failure).
_raised_outside_body = threading.local()


@task_prerun.connect
def _forget_outside_body(**_) -> None:
    _raised_outside_body.task_id = None


@task_internal_error.connect
def _note_outside_body(task_id=None, **_) -> None:
    _raised_outside_body.task_id = task_id


class PayloadTooLarge(retry.PermanentError):
    """A task's arguments exceed MAX_PAYLOAD_BYTES; retrying cannot fix that."""


def check_payload(task_name: str, args, kwargs) -> None:
    """Raise PayloadTooLarge when the serialized arguments exceed MAX_PAYLOAD_BYTES."""
    _, _, body = dumps([list(args or ()), dict(kwargs or {})], serializer="{{ cookiecutter.serializer }}")
    if len(body) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(
            f"{task_name}: arguments of {len(body)} bytes exceed MAX_PAYLOAD_BYTES "
            f"({MAX_PAYLOAD_BYTES} bytes); pass an id and keep the data in storage"
        )
{% if cookiecutter.broker == 'redis' %}


def _delay_of(options: dict) -> float | None:
    """Seconds until a message with these options may run, if it is delayed."""
    if options.get("countdown") is not None:
        return float(options["countdown"])
    eta = options.get("eta")
    if eta is not None:
        return (eta - datetime.now(eta.tzinfo or UTC)).total_seconds()
    return None
{% endif %}


class BaseTask(Task):
{% if cookiecutter.framework == 'django' %}
    """Retries transient errors with capped, jittered backoff; records what fails for good.

    Based on Celery's Django task, which adds ``delay_on_commit``.
    """
{% else %}
    """Retries transient errors with capped, jittered backoff; records what fails for good."""
{% endif %}

    autoretry_for = retry.TRANSIENT_ERRORS
    dont_autoretry_for = retry.PERMANENT_ERRORS
    retry_backoff = retry.RETRY_BACKOFF
    retry_backoff_max = retry.RETRY_BACKOFF_MAX
    retry_jitter = True
    max_retries = retry.MAX_RETRIES
    # Acknowledges a message only once its outcome is durable (tasking/outcomes.py).
    Request = "{{ cookiecutter.project_slug }}.tasking.outcomes:DurableRequest"

    def apply_async(self, args=None, kwargs=None, **options):
{% if cookiecutter.broker == 'redis' %}
        """Refuses oversized arguments, and a countdown or ETA beyond MAX_COUNTDOWN.

        Redis would deliver a message delayed further again every visibility
        timeout while it waits, and the task would run more than once.
        """
        check_payload(self.name, args, kwargs)
        delay = _delay_of(options)
        if delay is not None and delay > retry.MAX_COUNTDOWN:
            raise ValueError(
                f"{self.name}: a delay of {delay:.0f} s exceeds MAX_COUNTDOWN "
{% if cookiecutter.beat_scheduler == 'none' %}
                f"({retry.MAX_COUNTDOWN} s); store the due time and poll for it instead, "
{% else %}
                f"({retry.MAX_COUNTDOWN} s); schedule it with beat instead, "
{% endif %}
                "or raise MAX_COUNTDOWN in tasking/retry.py"
            )
        return super().apply_async(args, kwargs, **options)
{% else %}
        """Refuses oversized arguments before they reach the broker.

        A queue that exists with other arguments is named in one line (topology.py).
        """
        check_payload(self.name, args, kwargs)
        with topology.explained_conflicts():
            return super().apply_async(args, kwargs, **options)
{% endif %}

    def retry(
        self, args=None, kwargs=None, exc=None, throw=True, eta=None, countdown=None, **options
    ):
        """Waits at least as long as a transient error asks (its ``retry_after``)."""
        wait = getattr(exc, "retry_after", None)
        if wait is not None and eta is None:
            countdown = max(countdown or 0, wait)
        try:
            return super().retry(args, kwargs, exc, throw, eta, countdown, **options)
        except Retry:
            if not self.request.is_eager:
                self._record_retry_state(exc)
            raise
        except Reject as rejected:
            if rejected.requeue:
                raise
            # Celery rejects the message when the retry cannot be published:
            # give it back to the broker instead, or the task is lost.
            raise Reject(rejected.reason, requeue=True) from exc

    def _record_retry_state(self, exc) -> None:
        """Records the RETRY state now, best effort: the retry message is already published.

        Recorded by Celery after this, a result backend that is down would
        fail the run, and its message would go back to the broker beside the
        published retry: the task would go on twice, then four times.
        """
        request = self.request
        if get_actual_ignore_result(self, request) and not self.store_errors_even_if_ignored:
            return
        request.ignore_result = True  # Celery does not record it again
        try:
            self.backend.mark_as_retry(
                request.id,
                exc,
                "".join(traceback.format_exception(exc)) if exc else None,
                request=request,
            )
        except Exception:
            logger.warning(
                "task %s[%s]: its RETRY state was not recorded; the retry is sent",
                self.name,
                request.id,
                exc_info=True,
            )

    def before_start(self, task_id, args, kwargs):
        """Refuses an oversized message from any publisher: it becomes a dead letter."""
        check_payload(self.name, args, kwargs)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Called once a task has failed for good: retries exhausted or a permanent error.

        Celery calls it too when storing a result failed after the task body
        (the result backend down): that message goes back to the broker
        (tasking/outcomes.py), so it is no dead letter.
        """
        if getattr(_raised_outside_body, "task_id", None) == task_id:
            _raised_outside_body.task_id = None
            logger.warning(
                "task %s[%s]: %r raised outside the task body: its message goes back",
                self.name,
                task_id,
                exc,
            )
            return
        delivery = self.request.delivery_info or {}
        if isinstance(exc, PayloadTooLarge):
            # Not kept: it cannot run again as it is, and would bloat the store.
            args, kwargs = (), {}
        letter = DeadLetter(
            task_name=self.name,
            task_id=task_id,
            args=list(args or ()),
            kwargs=dict(kwargs or {}),
            queue=delivery.get("routing_key") or "",
            exception=f"{type(exc).__name__}: {exc}",
            traceback=str(einfo) if einfo else "",
            retries=self.request.retries or 0,
        )
        try:
            recorded = store().record_dead_letter(letter)
        except Exception as unrecorded:
            # The store is down: the message goes back to the broker (tasking/outcomes.py).
            logger.exception("could not record dead letter %r: its message goes back", letter)
            raise Reject(unrecorded, requeue=True) from unrecorded
        logger.error(
            "task %s[%s] failed for good after %d retries: %s (dead letter %s)",
            self.name,
            task_id,
            letter.retries,
            letter.exception,
            recorded.id,
        )

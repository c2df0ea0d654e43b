"""A message is acknowledged only once its outcome is durable: done, retried or a dead letter.

Anything else gives it back to the broker. A message that keeps ending
without an outcome (its pool process killed by a segfault or the OOM killer,
its dead letter not recorded, its whole worker killed) becomes a dead letter
after ``retry.MAX_RUNS_WITHOUT_OUTCOME`` runs, on either broker. Messages the
{% if cookiecutter.message_signing %}
worker refuses before any task runs (unknown task name, untrusted or missing
signature, undecodable body) are recorded as dead letters too.
{% else %}
worker refuses before any task runs (unknown task name, undecodable body)
are recorded as dead letters too.
{% endif %}

Docs: https://docs.celeryq.dev/en/stable/userguide/tasks.html#requests-and-custom-requests
"""

from __future__ import annotations

import logging

from billiard.exceptions import Terminated, TimeLimitExceeded, WorkerLostError
from celery.exceptions import Ignore, InvalidTaskError, NotRegistered, Reject, Retry
from celery.worker.consumer import Consumer
from celery.worker.request import Request
from celery.worker.state import task_ready
from kombu.asynchronous import get_event_loop
from kombu.exceptions import OperationalError
from vine import promise

from {{ cookiecutter.project_slug }}.tasking import deadletters, retry
from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter
from {{ cookiecutter.project_slug }}.tasking.stores import store

logger = logging.getLogger(__name__)


class DurableRequest(Request):
    """The worker's side of one message: bounds the runs that end without an outcome."""

    _failure: BaseException | None = None

    def on_failure(self, exc_info, send_failed_event=True, return_ok=False):
        exc = getattr(exc_info.exception, "exc", exc_info.exception)  # ExceptionWithTraceback
        self._failure = exc
        if _outcome_unrecorded(exc, internal=getattr(exc_info, "internal", False), ok=return_ok):
            exc_info.exception = Reject(exc, requeue=True)
        return super().on_failure(exc_info, send_failed_event, return_ok)

    def reject(self, requeue=False):
        """Gives a failed run's message back, unless it ran too often: then a dead letter."""
        if not (requeue and self._failure is not None):
            super().reject(requeue=requeue)
            return
        try:
            ran_too_often = self._record_if_ran_too_often()
        except Exception:
            logger.exception(
                "could not count the runs of task %s[%s]: "
                "its message goes back to the broker in %d s",
                self.name,
                self.id,
                retry.REQUEUE_DELAY,
            )
            # Later, without blocking the worker, so it does not spin while the store is down.
            loop = get_event_loop()
            if loop is not None:
                loop.call_later(retry.REQUEUE_DELAY, super().reject, True)
                return
            ran_too_often = False
        if ran_too_often:
            self.acknowledge()
        else:
            super().reject(requeue=True)

    def _record_if_ran_too_often(self) -> bool:
        retries = self._request_dict.get("retries") or 0
        exc = self._failure
        runs = store().count_run_without_outcome(f"{self.id}:{retries}")
        if runs < retry.MAX_RUNS_WITHOUT_OUTCOME:
            logger.warning(
                "task %s[%s] ended without an outcome (run %d of at most %d): %r",
                self.name,
                self.id,
                runs,
                retry.MAX_RUNS_WITHOUT_OUTCOME,
                exc,
            )
            return False
        recorded = store().record_dead_letter(
            DeadLetter(
                task_name=self.name,
                task_id=self.id,
                args=list(self.args or ()),
                kwargs=dict(self.kwargs or {}),
                queue=(self.delivery_info or {}).get("routing_key") or "",
                exception=f"{type(exc).__name__}: {exc} ({runs} runs without an outcome)",
                traceback="",
                retries=retries,
            )
        )
        logger.error(
            "task %s[%s] ran %d times without an outcome: dead letter %s",
            self.name,
            self.id,
            runs,
            recorded.id,
        )
        return True


# Outcomes the worker already handles: a retry, a deliberate reject or ignore,
# a lost or terminated pool process, a hard time limit.
_HANDLED = (
    Reject,
    Ignore,
    Retry,
    Terminated,
    WorkerLostError,
    TimeLimitExceeded,
    SystemExit,
    KeyboardInterrupt,
    MemoryError,
)


def _outcome_unrecorded(exc: BaseException, internal: bool, ok: bool) -> bool:
    """Whether a failure was raised outside the task body, so its outcome was never recorded.

    For example a retry or a result the result backend could not store: the
    message must go back to the broker, not be acknowledged or dead-lettered
    by the broker.
    """
    return not isinstance(exc, _HANDLED) and (internal or not ok)


def refused_letter(message, exc: BaseException) -> DeadLetter:
    """A dead letter for a message the worker refused before any task could run."""
    return deadletters.from_message(message, f"{type(exc).__name__}: {exc}")


class DurableConsumer(Consumer):
    """Records what it refuses as a dead letter before the message leaves the broker.

    It also bounds redelivery when no run can report its end: a worker killed
    as a whole (the OOM killer, a liveness probe restarting a stalled worker, a
    lost node) leaves no failure to count, and the broker delivers the message
    again. A message the broker marks as redelivered is counted before it runs;
    once it has come back ``retry.MAX_RUNS_WITHOUT_OUTCOME`` times it is a dead
    letter instead. A message a stopping worker held without starting it comes
    back marked too and is counted as well: it then waits in the dead letters,
    to be requeued, never lost.
    """

    def __init__(self, on_task_request, *args, **kwargs):
        super().__init__(self._bounded(on_task_request), *args, **kwargs)

    def _bounded(self, run_request):
        def on_task_request(request):
            if (request.delivery_info or {}).get("redelivered") and self._redelivered_too_often(
                request
            ):
                return
            run_request(request)

        return on_task_request

    def _redelivered_too_often(self, request) -> bool:
        retries = request.request_dict.get("retries") or 0
        try:
            deliveries = store().count_run_without_outcome(f"{request.id}:{retries}:redelivered")
        except Exception:
            logger.exception(
                "could not count the deliveries of task %s[%s]: it runs", request.name, request.id
            )
            return False
        if deliveries < retry.MAX_RUNS_WITHOUT_OUTCOME:
            logger.warning(
                "task %s[%s] delivered again (%d of at most %d times): "
                "its last delivery ended without an outcome",
                request.name,
                request.id,
                deliveries,
                retry.MAX_RUNS_WITHOUT_OUTCOME,
            )
            return False
        letter = DeadLetter(
            task_name=request.name,
            task_id=request.id,
            args=list(request.args or ()),
            kwargs=dict(request.kwargs or {}),
            queue=(request.delivery_info or {}).get("routing_key") or "",
            exception=(
                f"RedeliveredTooOften: delivered again {deliveries} times, each delivery ended "
                "without an outcome (its worker killed or stopped)"
            ),
            traceback="",
            retries=retries,
        )
        try:
            recorded = store().record_dead_letter(letter)
        except Exception:
            logger.exception("could not record dead letter %r: it runs", letter)
            return False
        logger.error(
            "task %s[%s] delivered again %d times without an outcome: dead letter %s",
            request.name,
            request.id,
            deliveries,
            recorded.id,
        )
        request.acknowledge()
        task_ready(request)
        return True

    def _recorded(self, message, exc: BaseException) -> bool:
        letter = refused_letter(message, exc)
        try:
            recorded = store().record_dead_letter(letter)
        except Exception:
            logger.exception(
                "could not record refused task %s[%s] as a dead letter: "
                "its message goes back to the broker in %d s",
                letter.task_name,
                letter.task_id,
                retry.REQUEUE_DELAY,
            )
            # Later, without blocking the worker, so it does not spin while the store is down.
            self.timer.call_after(
                retry.REQUEUE_DELAY,
                message.reject_log_error,
                (logger, self.connection_errors, True),
            )
            return False
        logger.error(
            "refused task %s[%s]: dead letter %s", letter.task_name, letter.task_id, recorded.id
        )
        return True

    def create_task_handler(self, promise=promise):
        """Celery's handler of each task message, with a guard no exception of a message escapes.

        Invariant: no message, however malformed or foreign, stops the
        consumer or costs another message a delivery; it is decided on its
        own, as a dead letter that says why. Celery catches the errors it
        expects (undecodable, disallowed, unknown task); anything else a
        message raises on its way to the pool (a body of the wrong shape
        from another application: ``ValueError: too many values to
        unpack``) would end the worker as an "Unrecoverable error", and
        every restart would meet the same message again, while the broker
        counted the crash against every message the worker held. Broker
        errors are not the message's doing: they still reach Celery, which
        reconnects (they include OSError: a broken pipe to a pool process is
        not blamed on the message either).
        """
        handle = super().create_task_handler(promise)
        # Not the message's doing: a lost broker (Kombu's library error
        # included: a send of the worker's own that gave up) or no memory.
        not_the_message = (
            *self.connection_errors,
            *self.channel_errors,
            OperationalError,
            MemoryError,
        )

        def on_task_received(message):
            try:
                return handle(message)
            except not_the_message:
                raise
            except Exception as exc:
                malformed = InvalidTaskError(
                    f"malformed task message, refused before any task ran: {exc!r}"
                )
                return self.on_invalid_task(None, message, malformed)

        return on_task_received

    def on_unknown_message(self, body, message):
        """A message without Celery's task header: another application's, on our queue."""
        foreign = InvalidTaskError(
            "not a task message: no 'task' header (another application's message on this queue?)"
        )
        if self._recorded(message, foreign):
            super().on_unknown_message(body, message)

    def on_unknown_task(self, body, message, exc):
        name = (message.headers or {}).get("task")
        unknown = NotRegistered(f"no task named {name!r} in this worker: deploy it, then requeue")
        if self._recorded(message, unknown):
            super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body, message, exc):
        if self._recorded(message, exc):
            super().on_invalid_task(body, message, exc)

    def on_decode_error(self, message, exc):
        if self._is_broadcast(message):
            # Remote control, not a task: nothing to run again, so no dead letter.
            logger.warning("dropped a control broadcast this worker cannot decode: %s", exc)
            return
        if self._recorded(message, exc):
            super().on_decode_error(message, exc)

    def _is_broadcast(self, message) -> bool:
        exchange = (message.delivery_info or {}).get("exchange")
        return bool(exchange) and exchange == self.app.control.mailbox.exchange.name

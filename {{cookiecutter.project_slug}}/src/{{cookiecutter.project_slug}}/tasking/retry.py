"""Retry policy: transient errors retry with capped, jittered backoff; permanent ones never.

A retry is a new message; the original is acknowledged.
Docs: https://docs.celeryq.dev/en/stable/userguide/tasks.html#automatic-retry-for-known-exceptions
"""

from __future__ import annotations

import socket

{% if cookiecutter.broker == 'rabbitmq' %}
from amqp.exceptions import RecoverableConnectionError
{% endif %}
{% if cookiecutter.framework == 'django' %}
from django.db import InterfaceError as DatabaseInterfaceError
from django.db import OperationalError as DatabaseOperationalError
{% endif %}
from kombu.exceptions import OperationalError
{% if cookiecutter.__needs_redis == 'yes' %}
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import OutOfMemoryError as RedisOutOfMemoryError
from redis.exceptions import TimeoutError as RedisTimeoutError
{% endif %}

# First retry after about this many seconds; each next one doubles.
RETRY_BACKOFF = 2
# No retry waits longer than this (Celery's default cap). Broker redelivery
# settings in celeryconfig.py are derived from it.
RETRY_BACKOFF_MAX = 600
MAX_RETRIES = 6
# A message whose outcome could not be recorded (the store is down) goes back
# to the broker after this many seconds, so it does not spin while it waits.
REQUEUE_DELAY = 5
# Runs of one message that end without an outcome (its pool process killed,
# its dead letter not recorded) before it is recorded as a dead letter.
MAX_RUNS_WITHOUT_OUTCOME = 3
{% if cookiecutter.broker == 'redis' or cookiecutter.result_backend == 'redis' %}
# Longest delay before a task may run (countdown/ETA). Task code must not
# schedule further ahead: Redis redelivers what is not acknowledged within its
# visibility timeout, which celeryconfig.py derives from this bound.
MAX_COUNTDOWN = 3600
{% endif %}


class TransientError(Exception):
    """A failure that may pass: a dependency timed out, was overloaded or unreachable.

    ``retry_after``, when known, is how many seconds to wait at least before
    a retry can succeed; the task base class then waits that long.
    """

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentError(Exception):
    """A failure that a retry cannot fix: bad input, a missing row, a refused request."""


def classify_http_status(status: int, message: str = "") -> Exception:
    """The exception to raise for an HTTP error: 429 and 5xx are transient."""
    text = f"HTTP {status}: {message}" if message else f"HTTP {status}"
    if status == 429 or 500 <= status <= 599:
        return TransientError(text)
    return PermanentError(text)


# Retried automatically by the task base class. The project's own
# infrastructure is transient too: its clients' errors do not subclass the
# builtin ConnectionError and TimeoutError.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    TransientError,
    ConnectionError,
    TimeoutError,
    socket.timeout,
    # The broker (Kombu).
    OperationalError,
{% if cookiecutter.broker == 'rabbitmq' %}
    RecoverableConnectionError,
{% endif %}
{% if cookiecutter.__needs_redis == 'yes' %}
    RedisConnectionError,
    RedisTimeoutError,
    # A full Redis (maxmemory reached): it refuses writes until memory is freed.
    RedisOutOfMemoryError,
{% endif %}
{% if cookiecutter.framework == 'django' %}
    DatabaseOperationalError,
    DatabaseInterfaceError,
{% endif %}
)
# Never retried, even when they subclass a transient error.
PERMANENT_ERRORS: tuple[type[BaseException], ...] = (
    PermanentError,
    LookupError,
    ValueError,
    TypeError,
)

"""Tasks of the chaos tests, loaded by their workers with ``--include tests.chaos_tasks``.

Each run writes what it does to a journal (the file named by CHAOS_JOURNAL):
storage outside the worker, which survives the worker being killed and which
the test reads to count runs, side effects and completions. The side effect
is guarded by the project's own idempotency store, as a real task's would be.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.tasking import ratelimit
from {{ cookiecutter.project_slug }}.tasking.idempotency import once
from {{ cookiecutter.project_slug }}.tasking.retry import PermanentError, TransientError


def journal_path() -> Path:
    return Path(os.environ["CHAOS_JOURNAL"])


def write(event: str, key: str) -> None:
    """Append one line; O_APPEND writes of one short line never interleave."""
    line = f"{event} {key} {os.getpid()} {time.time():.3f}\n".encode()
    fd = os.open(journal_path(), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)


def apply_once(key: str, lasting: float = 0.0) -> None:
    """The side effect, ``lasting`` seconds long (a slow call to another service)."""
    with once(f"chaos:{key}") as first:
        if first:
            if lasting:
                write("effect-begun", key)
                time.sleep(lasting)
            write("applied", key)
    write("completed", key)


@app.task(name="chaos.apply_effect")
def apply_effect(key: str, hold: float = 0.0) -> None:
    """Work for ``hold`` seconds (long enough to be killed), then apply the side effect once."""
    write("started", key)
    time.sleep(hold)
    apply_once(key)


@app.task(name="chaos.apply_long_effect")
def apply_long_effect(key: str, lasting: float) -> None:
    write("started", key)
    apply_once(key, lasting)


# The base class's retry policy, with one quick retry: the store outage of a
# test outlasts it, so the task also fails for good while the store is down.
@app.task(
    name="chaos.apply_effect_retried_once", max_retries=1, retry_backoff=1, retry_backoff_max=1
)
def apply_effect_retried_once(key: str) -> None:
    write("started", key)
    apply_once(key)


@app.task(name="chaos.kill_own_process")
def kill_own_process(key: str) -> None:
    """A poison pill: its pool process dies as by a segfault or the OOM killer."""
    write("started", key)
    os.kill(os.getpid(), signal.SIGKILL)


def cause_fixed() -> bool:
    """The cause of the failures below is "fixed" once this file exists."""
    return (journal_path().parent / "fixed").exists()


@app.task(name="chaos.fail_until_fixed")
def fail_until_fixed(key: str) -> None:
    write("started", key)
    if not cause_fixed():
        raise PermanentError(f"{key}: the input is refused until the cause is fixed")
    apply_once(key)


# The base class's retry policy, with backoff shortened so retries fit in a test.
@app.task(name="chaos.flaky_until_fixed", max_retries=2, retry_backoff=1, retry_backoff_max=1)
def flaky_until_fixed(key: str) -> None:
    write("started", key)
    if not cause_fixed():
        raise TransientError(f"{key}: the dependency is down until the cause is fixed")
    apply_once(key)


@app.task(name="chaos.call_limited")
def call_limited(key: str, limit: str, per_second: float) -> None:
    """A call to a remote service under a rate limit shared by every worker."""
    ratelimit.acquire(limit, per_second, max_wait=120)
    write("called", key)
{% if cookiecutter.beat_scheduler == 'redbeat' %}


@app.task(name="chaos.tick")
def tick() -> None:
    """Sent by beat; every run is one firing of the schedule."""
    write("tick", "beat")
{% endif %}

"""Idempotency: a side effect applied at most once per key, however often its task runs.

Celery delivers at least once: with late acknowledgement a task can run again
after a crash or a redelivery. Guard each side effect with a key that names
it, and the second run does nothing.

    @app.task
    @idempotent(lambda order_id: f"order-confirmation:{order_id}")
    def send_order_confirmation(order_id): ...

or, around part of a task:

    with once(f"invoice-email:{invoice_id}") as first:
        if first:
            send_email(...)

In a prefork pool process, SIGTERM (the signal Celery stops a running task
with: ``revoke(..., terminate=True)``, and every running task when the broker
connection is lost) waits until the block has ended and the effect is recorded
as done; stopped in between, the effect would be applied but not recorded, and
the redelivered message would apply it again. SIGKILL (the hard time limit a
moment after its SIGTERM, the OOM killer) still stops the process at once.
"""

from __future__ import annotations

import functools
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

from celery.signals import worker_process_init

from {{ cookiecutter.project_slug }}.tasking.stores import store

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


# Set in each prefork pool process, where a task runs in the main thread and
# SIGTERM would end the process at once. The other pools run tasks in threads
# or greenlets, which cannot own a signal handler; their worker's SIGTERM is a
# warm shutdown, which lets running tasks finish.
_IN_PREFORK_PROCESS = False


@worker_process_init.connect
def _note_prefork_process(**_) -> None:
    global _IN_PREFORK_PROCESS
    _IN_PREFORK_PROCESS = True


@contextmanager
def _termination_deferred() -> Iterator[None]:
    """A SIGTERM received inside the block takes effect when the block ends."""
    if not _IN_PREFORK_PROCESS or threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        if received:
            logger.warning("SIGTERM received while a side effect ran: stopping now it is recorded")
            signal.raise_signal(signal.SIGTERM)


@contextmanager
def once(key: str) -> Iterator[bool]:
    """Claim ``key``: yields True the first time, False once the effect is done."""
    with _termination_deferred(), store().claim(key) as first:
        yield first


def idempotent(key: Callable[..., str]) -> Callable[[Callable[P, R]], Callable[P, R | None]]:
    """Run the decorated function at most once per ``key(*args, **kwargs)``.

    A repeated call returns None without running the function.
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R | None]:
        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R | None:
            claim_key = key(*args, **kwargs)
            with once(claim_key) as first:
                if first:
                    return func(*args, **kwargs)
            logger.info("%s skipped: %r already done", func.__qualname__, claim_key)
            return None

        return wrapper

    return decorate

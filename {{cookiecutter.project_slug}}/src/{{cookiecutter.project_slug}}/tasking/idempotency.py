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
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ParamSpec, TypeVar

from {{ cookiecutter.project_slug }}.tasking.stores import store

logger = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")


def once(key: str) -> AbstractContextManager[bool]:
    """Claim ``key``: yields True the first time, False once the effect is done."""
    return store().claim(key)


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

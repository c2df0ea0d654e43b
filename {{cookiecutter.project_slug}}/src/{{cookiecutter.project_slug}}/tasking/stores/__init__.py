"""Storage of idempotency claims and dead letters, behind one small interface.

{% if cookiecutter.framework == 'django' %}
This project keeps them in the database through the Django ORM
(``tasking.stores.orm``), so a claim commits in the same transaction as the
side effect it guards.
{% else %}
This project keeps them in Redis (``tasking.stores.redis``): claims with
``SET NX PX`` and a done marker, dead letters in a hash and a sorted set.
{% endif %}
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from functools import cache
from typing import Protocol

from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter

# Longer than any redelivery loop lasts (retries, visibility timeout).
RUN_COUNT_TTL_S = 24 * 60 * 60


class Store(Protocol):
    def claim(self, key: str) -> AbstractContextManager[bool]:
        """Claim ``key`` for one run of a side effect.

        Yields True when this run is the first and must apply the effect; the
        claim becomes permanent when the block exits cleanly and is released
        when it raises. Yields False when the effect was already applied.
        """

    def record_dead_letter(self, letter: DeadLetter) -> DeadLetter:
        """Store ``letter``; returns it with its id."""

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        """The newest dead letters first."""

    def dead_letter(self, letter_id: str) -> DeadLetter | None: ...

    def remove_dead_letter(self, letter_id: str) -> bool: ...

    def purge_dead_letters(self) -> int:
        """Delete every dead letter; returns how many there were."""

    def count_run_without_outcome(self, key: str) -> int:
        """Count one more run of message ``key`` that ended without an outcome; returns the count.

        Counts are forgotten after RUN_COUNT_TTL_S.
        """


@cache
def store() -> Store:
    """The store of this project."""
{% if cookiecutter.framework == 'django' %}
    from {{ cookiecutter.project_slug }}.tasking.stores.orm import OrmStore

    return OrmStore()
{% else %}
    from {{ cookiecutter.project_slug }}.tasking.stores.redis import RedisStore

    return RedisStore.from_environment()
{% endif %}

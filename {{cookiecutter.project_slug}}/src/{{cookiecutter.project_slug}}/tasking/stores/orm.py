"""The store in the Django database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from django.db import IntegrityError, close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from {{ cookiecutter.project_slug }}.tasking import models
from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter
from {{ cookiecutter.project_slug }}.tasking.stores import RUN_COUNT_TTL_S

_FIELDS = ("task_name", "task_id", "args", "kwargs", "queue", "exception", "traceback", "retries")


def _letter(row: models.DeadLetter) -> DeadLetter:
    return DeadLetter(
        **{name: getattr(row, name) for name in _FIELDS},
        failed_at=row.failed_at,
        id=str(row.pk),
    )


def _drop_broken_connection() -> None:
    """Reconnect after an outage: the worker's main process, which records
    dead letters too, has no request cycle to renew its connection."""
    if not connection.in_atomic_block:
        close_old_connections()


class OrmStore:
    @contextmanager
    def claim(self, key: str) -> Iterator[bool]:
        # The key is inserted in the same transaction as the side effect: both
        # commit, or neither does. A concurrent run waits on the unique index.
        with transaction.atomic():
            try:
                with transaction.atomic():
                    models.IdempotencyKey.objects.create(key=key)
            except IntegrityError:
                yield False
                return
            yield True

    def record_dead_letter(self, letter: DeadLetter) -> DeadLetter:
        _drop_broken_connection()
        row = models.DeadLetter.objects.create(
            **{name: getattr(letter, name) for name in _FIELDS},
            failed_at=letter.failed_at,
        )
        return _letter(row)

    def dead_letters(self, limit: int = 100) -> list[DeadLetter]:
        return [_letter(row) for row in models.DeadLetter.objects.all()[:limit]]

    def dead_letter(self, letter_id: str) -> DeadLetter | None:
        row = models.DeadLetter.objects.filter(pk=letter_id).first()
        return _letter(row) if row else None

    def remove_dead_letter(self, letter_id: str) -> bool:
        deleted, _ = models.DeadLetter.objects.filter(pk=letter_id).delete()
        return deleted > 0

    def purge_dead_letters(self) -> int:
        deleted, _ = models.DeadLetter.objects.all().delete()
        return deleted

    def count_run_without_outcome(self, key: str) -> int:
        _drop_broken_connection()
        now = timezone.now()
        models.RunCount.objects.filter(
            updated_at__lt=now - timedelta(seconds=RUN_COUNT_TTL_S)
        ).delete()
        row, created = models.RunCount.objects.get_or_create(key=key)
        if not created:
            models.RunCount.objects.filter(pk=row.pk).update(runs=F("runs") + 1, updated_at=now)
            row.refresh_from_db()
        return row.runs

"""Database records: idempotency claims, dead letters, run counts{{ ', rate-limit schedules' if cookiecutter.__needs_redis == 'no' }}."""

from __future__ import annotations

from django.db import models


class IdempotencyKey(models.Model):
    """A side effect that has been applied; its key is unique."""

    key = models.CharField(max_length=255, unique=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    def __str__(self) -> str:
        return self.key


class DeadLetter(models.Model):
    """A task that failed for good, with what is needed to run it again."""

    task_name = models.CharField(max_length=255, db_index=True)
    task_id = models.CharField(max_length=255)
    args = models.JSONField(default=list)
    kwargs = models.JSONField(default=dict)
    queue = models.CharField(max_length=255, blank=True)
    exception = models.TextField()
    traceback = models.TextField(blank=True)
    retries = models.PositiveIntegerField(default=0)
    failed_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-failed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.task_name}[{self.task_id}]"


class RunCount(models.Model):
    """How often one message ran without an outcome (its process killed, say)."""

    key = models.CharField(max_length=255, unique=True)
    runs = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True, db_index=True)

    def __str__(self) -> str:
        return f"{self.key}: {self.runs}"
{% if cookiecutter.__needs_redis == 'no' %}


class RateLimitSchedule(models.Model):
    """The next free slot of a rate limit shared by every worker (tasking/ratelimit.py)."""

    key = models.CharField(max_length=255, primary_key=True)
    next_slot = models.FloatField(help_text="seconds since the epoch, on the database's clock")

    def __str__(self) -> str:
        return self.key
{% endif %}

"""Dead letters: tasks that failed for good, kept with everything needed to run them again.

A task that exhausts its retries or fails with a permanent error is recorded
by the task base class, so it is never silently lost. Listing, requeueing
and purging go through the store (``tasking.stores``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class DeadLetter:
    """One task that failed for good."""

    task_name: str
    task_id: str
    args: list[Any]
    kwargs: dict[str, Any]
    queue: str
    exception: str
    traceback: str
    retries: int
    failed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    # Assigned by the store when the letter is recorded.
    id: str = ""


def requeue(letter: DeadLetter, app) -> str:
    """Publish the task again with its original arguments; returns the new task id.

    The task is routed by the topology as usual, not forced to its old queue,
    so a route changed since the failure is honoured.
    """
    result = app.send_task(
        letter.task_name,
        args=letter.args,
        kwargs=letter.kwargs,
        headers={"requeued_from": letter.task_id},
    )
    return result.id

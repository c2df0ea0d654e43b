{% set rabbitmq = cookiecutter.broker == 'rabbitmq' %}
{% set priority_lists = not rabbitmq and cookiecutter.queue_topology == 'priority' %}
"""Worker health measured by progress, not by a ping.

A worker that answers a ping may still have stopped fetching tasks, so the
worker's main process records what it does in a small state file
(``var/health/NODE.json``, written by ``worker_steps.Progress`` every few
seconds), and one rule, :func:`verdict`, reads it. A worker is unhealthy when

- its state file is stale: its event loop is blocked;
- a task has run past its hard time limit: the pool could not stop it;
- its queues hold ready messages, it has free pool slots, and it has fetched
  nothing for ``stall_after`` seconds (WORKER_STALL_TIMEOUT, about a minute).

Otherwise it is healthy: fetching and finishing tasks, idle on empty queues,
or busy on every slot within its limits. A blocked event loop while the broker
does not answer is the broker's stall, not the worker's: the worker is left to
go on when the broker does. ``python -m {{ cookiecutter.project_slug }}.healthcheck
worker GROUP`` and the worker's own watchdog apply the same rule. The broker
is asked for its ready messages only when the worker looks idle, so a check
is usually one small file read. This module imports neither Celery nor the app.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path

STATE_DIR = Path("var/health")
# The worker rewrites its state this often; three missed writes mean its
# event loop is blocked.
RECORD_EVERY = 5.0
STATE_STALE_AFTER = 30.0
# A task still running this long after its hard time limit was not stopped by the
# pool (threads, gevent): the hard limit is the deadline; this covers two records.
PAST_HARD_LIMIT_GRACE = 2 * RECORD_EVERY
BROKER_TIMEOUT = 5.0
{% if cookiecutter.__has_beat == 'yes' %}
# Beat touches this file each time it wakes up (tasking/beat.py), at least
# every beat_max_loop_interval seconds (celeryconfig.py keeps that at 30 or
# less). Three missed wake-ups mean beat is stuck.
BEAT_LIVENESS_FILE = Path("var/beat.alive")
BEAT_STALE_AFTER = 90.0
{% endif %}


class Unhealthy(Exception):
    """The process is not healthy; the message says how (healthcheck.py uses it too)."""


@dataclass
class WorkerState:
    """What a worker's main process last recorded about itself."""

    node: str
    pid: int
    concurrency: int
    time_limit: float  # seconds; the group's hard time limit
    stall_after: float  # seconds without a fetch, with ready messages and free slots
    queues: list[str]  # what to ask the broker about: {{ 'queue lists, one per priority' if priority_lists else 'queue names' }}
    started_at: float  # wall-clock seconds, as every time below
    written_at: float
    fetched: int = 0
    finished: int = 0
    active: int = 0
    last_fetch_at: float | None = None
    oldest_task_started_at: float | None = None
    # When the worker's watchdog last found the broker silent: a loop blocked on
    # the broker is judged from when the broker answers again.
    broker_silent_at: float | None = None

    @property
    def idle_since(self) -> float:
        return self.last_fetch_at or self.started_at


def state_file(node: str) -> Path:
    return STATE_DIR / f"{node}.json"


def write_state(state: WorkerState) -> None:
    """Replace the state file at once, so a reader never sees half of it."""
    path = state_file(state.node)
    path.parent.mkdir(parents=True, exist_ok=True)
    # The event loop and the watchdog thread both write it: a partial file each.
    partial = path.with_name(f"{path.name}.{threading.get_ident()}.tmp")
    partial.write_text(json.dumps(asdict(state)))
    os.replace(partial, path)


def read_state(node: str) -> WorkerState:
    path = state_file(node)
    try:
        return WorkerState(**json.loads(path.read_text()))
    except FileNotFoundError:
        raise Unhealthy(f"worker {node} has recorded no state in {path}: is it running?") from None
    except (ValueError, TypeError) as error:
        raise Unhealthy(f"{path} is not a worker state file: {error}") from None


def verdict(state: WorkerState, ready_messages, now: float | None = None) -> str | None:
    """Why the worker is unhealthy, or None when it makes progress.

    ``ready_messages()`` counts the messages ready in the worker's queues, or
    returns None when the broker cannot be asked (a broker outage is not the
    worker's fault); it is called only when the answer matters.
    """
    now = time.time() if now is None else now
    if now - max(state.written_at, state.broker_silent_at or 0) > STATE_STALE_AFTER:
        if ready_messages() is None:
            # The loop waits on a broker that does not answer (stalled, or cut
            # off): a fresh worker could not reach it either. It goes on once
            # the broker answers.
{% if not rabbitmq %}
            # Stopping it would also leave the messages it holds
            # unacknowledged until the visibility timeout.
{% endif %}
            return None
        return (
            f"worker {state.node} last recorded its state {now - state.written_at:.0f} s ago "
            f"(every {RECORD_EVERY:.0f} s expected): its event loop is blocked"
        )
    if state.oldest_task_started_at is not None:
        # Nor is a task's run judged while the broker was silent: the worker's
        # timers, which stop tasks at their limits, waited on the broker too.
        running = now - max(state.oldest_task_started_at, state.broker_silent_at or 0)
        if running > state.time_limit + PAST_HARD_LIMIT_GRACE:
            return (
                f"worker {state.node} has run a task for {running:.0f} s, past its hard time "
                f"limit ({state.time_limit:.0f} s): the pool did not stop it"
            )
    idle = now - state.idle_since
    if state.active >= state.concurrency or idle <= state.stall_after:
        return None
    ready = ready_messages()
    if ready:
        return (
            f"worker {state.node} has fetched nothing for {idle:.0f} s (limit "
            f"{state.stall_after:.0f} s) while {ready} messages are ready in its queues and "
            f"{state.concurrency - state.active} of {state.concurrency} pool slots are free"
        )
    return None
{% if rabbitmq %}


def ready_messages(queues: list[str]) -> int:
    """Messages ready in these queues (a passive declare: nothing is created)."""
    from kombu import Connection

    from {{ cookiecutter.project_slug }}.environment import environment

    url = environment().celery_broker_url
    with Connection(url, connect_timeout=BROKER_TIMEOUT) as connection:
        channel = connection.default_channel
        return sum(channel.queue_declare(name, passive=True).message_count for name in queues)
{% else %}


def ready_messages(queues: list[str]) -> int:
    """Messages ready in these Redis lists."""
    import redis

    from {{ cookiecutter.project_slug }}.environment import environment

    url = environment().celery_broker_url
    client = redis.Redis.from_url(
        url, socket_timeout=BROKER_TIMEOUT, socket_connect_timeout=BROKER_TIMEOUT
    )
    try:
        with client.pipeline(transaction=False) as pipe:
            for name in queues:
                pipe.llen(name)
            return sum(pipe.execute())
    finally:
        client.close()
{% endif %}


def ready_messages_or_none(queues: list[str]) -> int | None:
    try:
        return ready_messages(queues)
    except Exception:  # any broker or network error: cannot tell
        return None


def check(node: str) -> None:
    """Raise Unhealthy with the reason when the worker ``node`` makes no progress."""
    state = read_state(node)
    problem = verdict(state, lambda: ready_messages_or_none(state.queues))
    if problem:
        raise Unhealthy(problem)

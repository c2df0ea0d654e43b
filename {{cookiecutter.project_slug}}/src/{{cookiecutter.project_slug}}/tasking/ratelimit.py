{% set redis = cookiecutter.__needs_redis == 'yes' %}
"""Rate limits shared by every worker: a remote service sees one rate, however many run.

Celery's own ``rate_limit`` counts in each worker: two replicas of a group
send twice the rate, and an autoscaler multiplies it further. Here each call
reserves the next free slot of its key's schedule in {{ 'Redis' if redis else 'the database' }}, atomically and
on {{ 'Redis' if redis else "the database's" }} clock, then waits for that slot (the generic cell rate
algorithm: https://en.wikipedia.org/wiki/Generic_cell_rate_algorithm). Every
worker process, thread and host shares the schedule.
"""

from __future__ import annotations

import time
{% if redis %}
from functools import cache

import redis

from {{ cookiecutter.project_slug }}.environment import environment
{% else %}

from django.db import connection

{% endif %}
from {{ cookiecutter.project_slug }}.tasking.retry import TransientError

{% if redis %}
# KEYS[1]: the schedule; ARGV: seconds between calls, extra calls allowed at once (burst - 1).
# Returns how many seconds the caller waits for its slot.
_RESERVE = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local interval, tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]) * tonumber(ARGV[1])
local next_slot = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), now)
redis.call('SET', KEYS[1], tostring(next_slot + interval), 'PX',
    math.ceil((next_slot + interval - now) * 1000) + 1000)
return tostring(math.max(next_slot - tolerance - now, 0))
"""


@cache
def _client() -> redis.Redis:
    return redis.Redis.from_url(environment().redis_url)


def _reserve(key: str, interval: float, burst: int) -> float:
    name = f"{environment().celery_queue_prefix}{{ cookiecutter.project_slug }}:ratelimit:{key}"
    return float(_client().eval(_RESERVE, 1, name, repr(interval), burst - 1))
{% else %}
# One statement, under the row's lock: the schedule moves on by one interval
# from its next free slot (or from now, when that has passed).
_RESERVE = """
INSERT INTO tasking_ratelimitschedule (key, next_slot)
VALUES (%(key)s, extract(epoch FROM clock_timestamp()) + %(interval)s)
ON CONFLICT (key) DO UPDATE SET next_slot = GREATEST(
    tasking_ratelimitschedule.next_slot, extract(epoch FROM clock_timestamp())
) + %(interval)s
RETURNING next_slot - %(interval)s, extract(epoch FROM clock_timestamp())
"""


def _reserve(key: str, interval: float, burst: int) -> float:
    with connection.cursor() as cursor:
        cursor.execute(_RESERVE, {"key": key, "interval": interval})
        slot, now = cursor.fetchone()
    return max(float(slot) - (burst - 1) * interval - float(now), 0.0)
{% endif %}


class RateLimited(TransientError):
    """The shared schedule is full for longer than this call may wait: retry later."""


def acquire(key: str, per_second: float, burst: int = 1, max_wait: float = 10.0) -> float:
    """Wait until a call under ``key`` may go out at ``per_second`` from all workers together.

    Up to ``burst`` calls may go out at once after a quiet period. Returns the
    seconds waited. A slot further away than ``max_wait`` raises RateLimited
    (a transient error: the task is retried later) instead of holding a
    worker slot that long; its slot is left unused, so the rate stays a bound.
    """
    if per_second <= 0 or burst < 1:
        raise ValueError(f"rate limit {key!r}: per_second must be > 0 and burst >= 1")
    wait = _reserve(key, 1.0 / per_second, burst)
    if wait > max_wait:
        raise RateLimited(
            f"rate limit {key!r} ({per_second:g}/s) is busy for {wait:.1f} s", retry_after=wait
        )
    if wait > 0:
        time.sleep(wait)
    return wait

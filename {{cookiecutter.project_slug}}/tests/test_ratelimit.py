{% set django = cookiecutter.framework == 'django' %}
"""A rate limit shared by every worker holds across processes and worker replicas."""

from __future__ import annotations

import time
import uuid

import pytest

from {{ cookiecutter.project_slug }}.tasking import ratelimit
from tests import chaos_tasks
from tests.conftest import default_group

{% if django %}
pytestmark = pytest.mark.django_db(transaction=True)

{% endif %}

def limit_key() -> str:
    return f"test-{uuid.uuid4().hex[:8]}"


def test_calls_beyond_the_burst_wait_for_their_slot():
    key = limit_key()
    began = time.monotonic()
    waits = [ratelimit.acquire(key, per_second=20, burst=2) for _ in range(6)]
    # Two at once, then one every 50 ms: the sixth call goes out 200 ms after the first.
    assert waits[:2] == [0.0, 0.0]
    assert time.monotonic() - began >= 0.19


def test_a_slot_too_far_away_is_a_transient_error_not_a_long_sleep():
    key = limit_key()
    ratelimit.acquire(key, per_second=0.1)
    with pytest.raises(ratelimit.RateLimited, match="busy for"):
        ratelimit.acquire(key, per_second=0.1, max_wait=1)


def test_a_bad_rate_is_refused():
    with pytest.raises(ValueError, match="per_second must be > 0"):
        ratelimit.acquire(limit_key(), per_second=0)


@pytest.mark.chaos
def test_two_workers_together_stay_under_the_shared_rate(process_workers, journal, figures):
    """Two workers, each with a full pool, send at the shared rate, not twice it."""
    rate, calls = 10.0, 31
    workers = [process_workers(default_group()) for _ in range(2)]
    limit, batch = limit_key(), [f"limited-{uuid.uuid4().hex[:6]}-{n}" for n in range(calls)]
    # Every slot is reserved after this moment, and no call goes out before its
    # slot: the last of the schedule's slots is (calls - 1) / rate later at the
    # earliest, however the machine delays any one call.
    began = time.time()
    sent = [chaos_tasks.call_limited.delay(key, limit, rate) for key in batch]
    deadline = time.monotonic() + 120
    while len([k for k in journal.count("called") if k in batch]) < calls:
        assert time.monotonic() < deadline, "not every limited call was made within 120 s"
        time.sleep(0.2)
    times = sorted(t for event, key, _, t in journal.lines() if event == "called" and key in batch)
    span = times[-1] - began
    ids = [result.id for result in sent]
    shares = [worker.received(ids) for worker in workers]
    called = journal.count("called")
    figures(
        "shared rate limit, two workers",
        {
            "published": calls,
            "calls made": sum(called[key] for key in batch),
            "duplicates": sum(max(0, called[key] - 1) for key in batch),
            "seconds to the last call": round(span, 2),
            "at least": round((calls - 1) / rate, 2),
        },
    )
    assert span >= (calls - 1) / rate
    assert all(share > 0 for share in shares), f"one worker ran every call: {shares}"

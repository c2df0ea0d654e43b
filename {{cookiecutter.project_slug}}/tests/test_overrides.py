"""What you put in overrides.py reaches the broker and a real worker.

The configuration is read once, at import, so each case runs in a fresh
interpreter with its own overrides module in place of overrides.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.processes import PROJECT_DIR

pytestmark = pytest.mark.integration

HEARTBEAT = "{{ cookiecutter.project_slug }}.maintenance.tasks.heartbeat"
# Run as: python -c WITH_OVERRIDES ROUTES_AS_JSON SECONDS_TO_WAIT
WITH_OVERRIDES = """
import json
import os
import sys
import time
import types

routes, wait = json.loads(sys.argv[1]), float(sys.argv[2])
overrides = types.ModuleType("{{ cookiecutter.project_slug }}.overrides")
overrides.EXTRA_QUEUES = ("extra",)
overrides.EXTRA_ROUTES = routes
overrides.SETTINGS = {"broker_pool_limit": 3}
sys.modules[overrides.__name__] = overrides

from celery.signals import task_postrun

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.maintenance.tasks import heartbeat
from tests.processes import in_process_worker

assert app.conf.broker_pool_limit == 3, app.conf.broker_pool_limit
prefix = os.environ["CELERY_QUEUE_PREFIX"]
states = {}


def record(task_id=None, state=None, **_):
    states[task_id] = state


task_postrun.connect(record, weak=False)


def run_on_extra_queue():
    # This worker consumes the extra queue only: the task runs only if the route took effect.
    with in_process_worker(
        app,
        pool="threads",
        concurrency=1,
        queues=[prefix + "extra"],
        perform_ping_check=False,
        # Stopping takes longer than the default 10 s on a busy machine.
        shutdown_timeout=60,
    ):
        task_id = heartbeat.delay().id
        deadline = time.monotonic() + wait
        while states.get(task_id) != "SUCCESS":
            assert time.monotonic() < deadline, f"the task did not run on the extra queue: {states}"
            time.sleep(0.05)
    print("ran on", prefix + "extra")


{% if cookiecutter.broker == 'rabbitmq' %}
try:
    run_on_extra_queue()
finally:  # the extra queue leaves the broker; the run's other queues go at its end
    with app.connection_for_write() as connection:
        extra = next(queue for queue in app.conf.task_queues if queue.name == prefix + "extra")
        extra.bind(connection.default_channel).delete()
{% else %}
run_on_extra_queue()
{% endif %}
"""


def run_with_overrides(routes: dict[str, str], wait: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", WITH_OVERRIDES, json.dumps(routes), str(wait)],
        env=os.environ.copy(),
        cwd=PROJECT_DIR,  # where the script imports tests.processes from
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_extra_queue_route_and_setting_reach_a_real_worker():
    result = run_with_overrides({HEARTBEAT: "extra"}, wait=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "ran on" in result.stdout


def test_without_the_route_the_task_does_not_reach_the_extra_queue():
    """The check above fails when the override is missing."""
    result = run_with_overrides({}, wait=3)
    assert result.returncode != 0
    assert "the task did not run on the extra queue" in result.stderr, result.stderr

"""Test set-up: a private queue prefix, and a real worker consuming every queue.

Tests talk to the broker{% if cookiecutter.__needs_redis == 'yes' %}, Redis{% endif %}{% if cookiecutter.framework == 'django' %} and PostgreSQL{% endif %} named by the
environment (defaults: localhost). Queue names get a prefix unique to this
run, so parallel runs on one broker never consume each other's tasks.
"""

from __future__ import annotations

import os
{% if cookiecutter.message_signing %}
import tempfile
{% endif %}
import time
import uuid

os.environ.setdefault("APP_ENV", "test")
os.environ.setdefault("CELERY_QUEUE_PREFIX", f"test-{uuid.uuid4().hex[:10]}-")
{% if cookiecutter.message_signing %}


def _signing_keys_for_tests() -> None:
    """A throw-away key pair, unless the environment names real ones."""
    from pathlib import Path

    from {{ cookiecutter.project_slug }}.tasking.signing import create_keys

    if "CELERY_SIGNING_KEY" in os.environ:
        return
    keys = Path(tempfile.mkdtemp(prefix="signing-keys-"))
    os.environ["CELERY_SIGNING_KEY"] = str(keys / "test.key")
    os.environ["CELERY_SIGNING_CERT"] = str(keys / "test.crt")
    os.environ["CELERY_SIGNING_CERT_STORE"] = str(keys)
    create_keys(keys / "test.key", keys / "test.crt")


_signing_keys_for_tests()
{% endif %}

import pytest  # noqa: E402
from celery.contrib.testing.worker import start_worker  # noqa: E402
from celery.signals import task_postrun  # noqa: E402

from {{ cookiecutter.project_slug }} import topology  # noqa: E402
from {{ cookiecutter.project_slug }}.celery_app import app  # noqa: E402


@pytest.fixture(scope="session")
def celery_app():
    app.loader.import_default_modules()
    return app


@pytest.fixture(scope="session")
def worker(celery_app{% if cookiecutter.framework == 'django' %}, django_db_setup, django_db_blocker{% endif %}):
    """A real worker, in a thread of this process, consuming every queue of the topology."""
    prefix = os.environ["CELERY_QUEUE_PREFIX"]
    running_worker = start_worker(
        celery_app,
        pool="threads",
        concurrency=4,
        queues=[prefix + queue for queue in topology.all_queue_names()],
        perform_ping_check=False,
        shutdown_timeout=30,
    )
{% if cookiecutter.framework == 'django' %}
    with django_db_blocker.unblock(), running_worker as running:
{% else %}
    with running_worker as running:
{% endif %}
        yield running


def wait_until(condition, timeout: float = 30.0) -> None:
    """Wait until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {timeout} s: {condition}")
        time.sleep(0.05)


@pytest.fixture
def eventually():
    return wait_until


class Finished:
    """Task runs seen by this process's worker, by task id: the last state of each."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.runs: dict[str, int] = {}
        self.names: list[str] = []

    def on_postrun(self, task_id=None, task=None, state=None, **_):
        self.states[task_id] = state
        self.runs[task_id] = self.runs.get(task_id, 0) + 1
        self.names.append(task.name)

    def wait(self, task_ids, states=("SUCCESS",), timeout=60.0) -> dict[str, str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(self.states.get(task_id) in states for task_id in task_ids):
                return {task_id: self.states[task_id] for task_id in task_ids}
            time.sleep(0.05)
        seen = {task_id: self.states.get(task_id) for task_id in task_ids}
        raise AssertionError(f"tasks did not reach {states} within {timeout} s: {seen}")


@pytest.fixture
def finished(worker):
    seen = Finished()
    task_postrun.connect(seen.on_postrun, weak=False)
    yield seen
    task_postrun.disconnect(seen.on_postrun)

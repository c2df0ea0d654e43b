"""Test set-up: a private queue prefix, and a real worker consuming every queue.

Tests talk to the broker{% if cookiecutter.__needs_redis == 'yes' %}, Redis{% endif %}{% if cookiecutter.framework == 'django' %} and PostgreSQL{% endif %} named by the
environment (defaults: localhost). Queue and exchange names get a prefix
unique to this run, so parallel runs on one broker never consume each other's
tasks or broadcasts.
"""

from __future__ import annotations

import os
{% if cookiecutter.message_signing %}
import tempfile
{% endif %}
import time
import uuid

# Always a test run, whatever the shell exports: no .env is read (environment.py).
os.environ["APP_ENV"] = "test"
{% if cookiecutter.broker == 'rabbitmq' %}
# A prefix set by whoever runs the tests is theirs: its queues are left alone.
OWN_QUEUE_PREFIX = "CELERY_QUEUE_PREFIX" not in os.environ
{% endif %}
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
from celery.signals import task_postrun  # noqa: E402

from {{ cookiecutter.project_slug }} import topology  # noqa: E402
from {{ cookiecutter.project_slug }}.celery_app import app  # noqa: E402
from tests.processes import in_process_worker  # noqa: E402


@pytest.fixture(scope="session")
def celery_app():
    app.loader.import_default_modules()
    return app


@pytest.fixture(scope="session")
def worker(celery_app{% if cookiecutter.framework == 'django' %}, django_db_setup, django_db_blocker{% endif %}):
    """A real worker, in a thread of this process, consuming every queue of the topology."""
    prefix = os.environ["CELERY_QUEUE_PREFIX"]
    running_worker = in_process_worker(
        celery_app,
        pool="threads",
        concurrency=4,
        queues=[prefix + queue for queue in topology.all_queue_names()],
        perform_ping_check=False,
        shutdown_timeout=30,
    )
{% if cookiecutter.framework == 'django' %}
    import threading

    from django.db.backends.signals import connection_created

    opened_by_the_worker = []

    def remember(connection, **_) -> None:
        if threading.current_thread() is not threading.main_thread():
            opened_by_the_worker.append(connection)

    # The worker's threads (its consumer records refused messages as dead
    # letters, its pool runs tasks) open connections of their own. Left open,
    # they keep the test database from being dropped at the end of the run
    # ("being accessed by other users", after PostgreSQL waits 5 s for them).
    connection_created.connect(remember, weak=False)
    try:
        with django_db_blocker.unblock(), running_worker as running:
            yield running
    finally:
        connection_created.disconnect(remember)
        for connection in opened_by_the_worker:
            connection.inc_thread_sharing()  # closed from this thread, once the worker stopped
            connection.close()
{% else %}
    with running_worker as running:
        yield running
{% endif %}


{% if cookiecutter.broker == 'rabbitmq' %}
@pytest.fixture(scope="session", autouse=True)
def delete_test_queues():
    """This run's durable queues are deleted at its end, so runs leave nothing behind."""
    yield
    if OWN_QUEUE_PREFIX:
        with app.connection_for_write() as connection:
            topology.delete_queues(connection, os.environ["CELERY_QUEUE_PREFIX"])


{% endif %}
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
    """Task runs seen by this process's worker, by task id: the outcome of each.

    A run that retried ends after it has published its retry, and under load
    the retry can finish first: a RETRY never replaces an outcome already seen.
    """

    def __init__(self) -> None:
        self.states: dict[str, str] = {}
        self.runs: dict[str, int] = {}
        self.names: list[str] = []

    def on_postrun(self, task_id=None, task=None, state=None, **_):
        if state != "RETRY" or task_id not in self.states:
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


# Chaos tests (tests/test_chaos.py): workers in processes of their own
# ------------------------------------------------------------------------------
FIGURES: list[str] = []


def pytest_terminal_summary(terminalreporter):
    """The chaos tests' figures, after the results."""
    if FIGURES:
        terminalreporter.section("chaos figures")
        for line in FIGURES:
            terminalreporter.write_line(line)


class Figures:
    """A chaos test's counts: printed, listed after the results, and returned to assert on."""

    def __call__(self, name: str, counts: dict[str, int]) -> dict[str, int]:
        line = f"{name}: " + ", ".join(f"{value} {what}" for what, value in counts.items())
        FIGURES.append(line)
        print(line)
        return counts

    def effects(self, name: str, published: int, keys, journal, **more: int) -> dict[str, int]:
        """Counts of the chaos tasks with ``keys``, from their journal, and ``more``."""
        applied, completed = journal.count("applied"), journal.count("completed")
        counts = {
            "published": published,
            "completed": sum(1 for key in keys if completed[key]),
            "side effects applied": sum(applied[key] for key in keys),
            "duplicates": sum(max(0, applied[key] - 1) for key in keys),
            "lost": sum(1 for key in keys if not completed[key]),
        }
        return self(name, counts | {what.replace("_", " "): n for what, n in more.items()})


@pytest.fixture
def figures():
    return Figures()


{% if cookiecutter.framework == 'django' %}
@pytest.fixture(scope="session")
def worker_environment(django_db_setup) -> dict[str, str]:
    """What a worker process needs to use the test database."""
    from django.db import connection

    db = connection.settings_dict
    return {
        "DJANGO_SETTINGS_MODULE": "{{ cookiecutter.project_slug }}.config.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
    }
{% else %}
@pytest.fixture(scope="session")
def worker_environment() -> dict[str, str]:
    """What a worker process needs beyond this process's environment: nothing more."""
    return {}
{% endif %}


@pytest.fixture(scope="module")
def chaos_dir(tmp_path_factory):
    """The journal of the chaos tasks, worker logs, and private brokers' data."""
    return tmp_path_factory.mktemp("chaos")


@pytest.fixture(scope="module")
def journal(chaos_dir):
    from tests.processes import Journal

    return Journal(chaos_dir / "journal")


@pytest.fixture(scope="module")
def process_workers(chaos_dir, journal, worker_environment):
    """Starts ``celery worker`` processes for worker groups; stops them all afterwards."""
    from tests.processes import ProcessWorker

    started = STARTED_WORKERS

    def start(group: topology.Worker | None = None, **env: str) -> ProcessWorker:
        group = group or default_group()
        environment = {
            **worker_environment,
            "CHAOS_JOURNAL": str(journal.path),
            "REPORTS_DIR": str(chaos_dir / "reports"),
            **env,
        }
        process = ProcessWorker(group, chaos_dir, environment)
        started.append(process)
        return process.wait_ready()

    yield start
    for process in started:
        process.stop()
    started.clear()


# The process workers of the running module: a failing test's report shows
# whether each is still alive and the end of its log.
STARTED_WORKERS: list = []


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed:
        for process in STARTED_WORKERS:
            exit_code = process.process.poll()
            state = "running" if exit_code is None else f"exited with {exit_code}"
            tail = "\n".join(process.output().splitlines()[-40:])
            report.sections.append((f"worker {process.hostname} ({state})", tail))
    return report


def default_group() -> topology.Worker:
    """The worker group that consumes the default queue, where the chaos tasks go."""
    return next(w for w in topology.workers() if topology.DEFAULT_QUEUE in w.queues)

{% set sentry = cookiecutter.use_sentry %}
{% set otel = cookiecutter.use_opentelemetry %}
{% set django = cookiecutter.framework == 'django' %}
"""{% if sentry %}Sentry{% endif %}{% if sentry and otel %} and {% endif %}{% if otel %}OpenTelemetry{% endif %} set up in a real prefork worker, reporting to a local endpoint."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import threading
import uuid
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from {{ cookiecutter.project_slug }} import observability, topology
{% if cookiecutter.broker == 'rabbitmq' %}
from {{ cookiecutter.project_slug }}.celery_app import app
{% endif %}
from tests.conftest import wait_until

pytestmark = [pytest.mark.integration{% if django %}, pytest.mark.django_db(transaction=True){% endif %}]

{% if sentry %}
CLEANUP = "{{ cookiecutter.project_slug }}.maintenance.tasks.cleanup_reports"
# Stands in for personal data in a task's arguments: never sent to Sentry.
PERSONAL = "someone@example.com"
{% endif %}
{% if otel %}
HEARTBEAT = "{{ cookiecutter.project_slug }}.maintenance.tasks.heartbeat"
{% endif %}
SEND = (
    "import json, sys; from {{ cookiecutter.project_slug }}.celery_app import app; "
    "app.loader.import_default_modules(); "
    "app.send_task(sys.argv[1], args=json.loads(sys.argv[2]))"
)


class Collector:
    """A local HTTP endpoint that keeps every request body, standing in for {{ 'Sentry or OTLP' if sentry and otel else ('Sentry' if sentry else 'an OTLP collector') }}."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, bytes]] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                collector.requests.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def received(self, path: str, text: str) -> bool:
        return any(path in seen and text.encode() in body for seen, body in list(self.requests))


@pytest.fixture
def collector():
    running = Collector()
    yield running
    running.server.shutdown()


@pytest.fixture
def worker_env(tmp_path):
    """The environment of a worker of its own: a queue prefix no other worker consumes."""
    env = {**os.environ, "CELERY_QUEUE_PREFIX": f"obs-{uuid.uuid4().hex[:10]}-"}
    env["REPORTS_DIR"] = str(tmp_path / "reports")
{% if django %}
    from django.db import connection

    db = connection.settings_dict
    env["DJANGO_SETTINGS_MODULE"] = "{{ cookiecutter.project_slug }}.config.settings.test"
    env["DATABASE_URL"] = (
        f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    )
{% endif %}
{% if cookiecutter.broker == 'rabbitmq' %}
    yield env
    with app.connection_for_write() as connection:
        topology.delete_queues(connection, env["CELERY_QUEUE_PREFIX"])
{% else %}
    return env
{% endif %}


@contextmanager
def prefork_worker(env: dict[str, str], task_name: str, log_path):
    """The worker group that consumes ``task_name``'s queue, started as deployed (one process)."""
    queue = topology.route_for(task_name)
    group = next(group for group in topology.workers() if queue in group.queues)
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "{{ cookiecutter.project_slug }}.worker",
                group.name,
                "--concurrency=1",
                f"--hostname=observability-{uuid.uuid4().hex[:6]}@%h",
                "--without-gossip",
                "--without-mingle",
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: "ready." in log_path.read_text() or process.poll() is not None, 60)
        assert process.poll() is None, log_path.read_text()
        yield
    finally:
        process.terminate()
        process.wait(timeout=60)


def send(task_name: str, args: list, env: dict[str, str]) -> None:
    """Send a task from another process, through the worker's prefixed routes."""
    subprocess.run([sys.executable, "-c", SEND, task_name, json.dumps(args)], env=env, check=True)
{% if sentry %}


def test_sentry_stays_off_without_a_dsn():
    assert observability.init_sentry("", "test") is False


def test_a_failing_task_reaches_sentry_from_a_real_worker(collector, worker_env, tmp_path):
    worker_env["SENTRY_DSN"] = f"http://public@{collector.url}/1"
    worker_env["SENTRY_ENVIRONMENT"] = "observability-test"
    with prefork_worker(worker_env, CLEANUP, tmp_path / "worker.log"):
        # A dict times a number: a TypeError, not retried.
        send(CLEANUP, [{"email": PERSONAL}], worker_env)
        wait_until(lambda: collector.received("/api/1/envelope/", "TypeError"), 60)
    assert collector.received("/api/1/envelope/", "observability-test")
    assert collector.received("/api/1/envelope/", CLEANUP)
    # Neither as the task's argument nor as a local variable of the failing frame.
    assert not collector.received("/api/1/envelope/", PERSONAL)


def test_the_installed_sentry_sdk_takes_the_privacy_options():
    """sentry-sdk 2 and 3 name them differently; an unknown name stops every process."""
    import sentry_sdk

    client = sentry_sdk.Client(**observability.privacy_options(sentry_sdk.VERSION))
    if "data_collection" in client.options:
        assert client.options["data_collection"]["queues"] is False
        assert client.options["data_collection"]["stack_frame_variables"] is False
    else:
        assert client.options["send_default_pii"] is False
        assert client.options["include_local_variables"] is False
{% endif %}
{% if otel %}


def test_tracing_stays_off_without_an_endpoint(monkeypatch):
    for name in observability.OTLP_ENDPOINT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert observability.init_tracing.__wrapped__() is False


def test_a_task_run_by_a_prefork_child_is_traced(collector, worker_env, tmp_path):
    worker_env["OTEL_EXPORTER_OTLP_ENDPOINT"] = f"http://{collector.url}"
    worker_env["OTEL_BSP_SCHEDULE_DELAY"] = "100"  # milliseconds between span exports
    with prefork_worker(worker_env, HEARTBEAT, tmp_path / "worker.log"):
        send(HEARTBEAT, [], worker_env)
        wait_until(lambda: collector.received("/v1/traces", HEARTBEAT), 60)
{% endif %}

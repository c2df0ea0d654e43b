"""The example tasks, run by a real worker through the real broker."""

from __future__ import annotations

import json
import threading
{% if cookiecutter.result_backend != 'none' %}
import time
{% endif %}
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

{% if cookiecutter.broker == 'rabbitmq' %}
from {{ cookiecutter.project_slug }} import topology
{% endif %}
from {{ cookiecutter.project_slug }}.integrations import tasks as integrations
from {{ cookiecutter.project_slug }}.notifications import tasks as notifications
from {{ cookiecutter.project_slug }}.reports import tasks as reports
from {{ cookiecutter.project_slug }}.tasking.deadletters import requeue
{% if cookiecutter.framework == 'standalone' %}
from {{ cookiecutter.project_slug }}.tasking.stores import redis as redis_store
{% endif %}
from {{ cookiecutter.project_slug }}.tasking.stores import store

pytestmark = [pytest.mark.integration{% if cookiecutter.framework == 'django' %}, pytest.mark.django_db(transaction=True){% endif %}]


def dead_letters_of(task_id: str) -> list:
    return [letter for letter in store().dead_letters() if letter.task_id == task_id]


def test_same_notification_key_sends_once(finished, monkeypatch):
{% if cookiecutter.framework == 'standalone' %}
    # A duplicate that finds the claim held retries once the claim's lease may
    # have run out (30 s): a short lease, renewed as usual, keeps this quick.
    monkeypatch.setattr(redis_store, "CLAIM_LEASE_MS", 3_000)
{% endif %}
    sent = []
    monkeypatch.setattr(notifications, "deliver", lambda recipient, message: sent.append(recipient))
    key = f"order-placed:{uuid.uuid4()}"
    first = notifications.send_notification.delay("ann@example.com", "Thanks!", key)
    again = notifications.send_notification.delay("ann@example.com", "Thanks!", key)
    other = notifications.send_notification.delay("bob@example.com", "Hi", f"other:{uuid.uuid4()}")
    finished.wait([first.id, again.id, other.id])
    assert sorted(sent) == ["ann@example.com", "bob@example.com"]


def test_report_is_written_whole(finished, tmp_path, monkeypatch):
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path))
    result = reports.generate_report.delay("daily", rows=50)
    finished.wait([result.id])
    lines = (tmp_path / "daily.csv").read_text().splitlines()
    assert lines[0] == "row,value" and len(lines) == 51
    assert [p.name for p in tmp_path.iterdir()] == ["daily.csv"]  # no partial file left


def test_fan_out_adds_up_every_report(finished, tmp_path, monkeypatch):
    monkeypatch.setenv("REPORTS_DIR", str(tmp_path))
    made = [reports.generate_report.delay(f"r{n}", rows=n) for n in (3, 4, 5)]
    finished.wait([r.id for r in made])
{% if cookiecutter.result_backend in ['redis', 'django-db'] %}
    total = reports.build_digest(["r3", "r4", "r5"])
    assert total.get(timeout=60) == 12
{% else %}
    last = reports.build_digest(["r3", "r4", "r5"], "digest")
    finished.wait([last.id])
    assert (tmp_path / "digest.total").read_text() == "12\n"
{% endif %}


class Provider:
    """A fake third-party API on localhost: answers each request with the next status."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = statuses
        self.requests: list[dict] = []
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self):  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers["Content-Length"]))
                provider.requests.append(
                    {"key": self.headers["Idempotency-Key"], "body": json.loads(body)}
                )
                status = provider.statuses.pop(0) if provider.statuses else 200
                self.send_response(status)
                self.end_headers()
                self.wfile.write(b'{"ok": true}' if status == 200 else b"")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def provider(monkeypatch):
    def start(statuses):
        running = Provider(statuses)
        monkeypatch.setenv("PROVIDER_URL", running.url)
        return running

    yield start


@pytest.fixture
def quick_retries(monkeypatch):
    """Backoff capped at one second, so retries happen within the test."""
    monkeypatch.setattr(integrations.sync_customer, "retry_backoff", 1)
    monkeypatch.setattr(integrations.sync_customer, "retry_backoff_max", 1)


def test_flaky_provider_is_retried_with_the_same_idempotency_key(finished, provider, quick_retries):
    api = provider([503, 429])
    result = integrations.sync_customer.delay(7, 3)
    finished.wait([result.id], timeout=60)
    assert len(api.requests) == 3
    assert {request["key"] for request in api.requests} == {"customer-7-revision-3"}


def test_permanent_failure_becomes_a_dead_letter_and_can_be_requeued(finished, provider):
    api = provider([404])
    result = integrations.sync_customer.delay(8, 1)
    finished.wait([result.id], states=("FAILURE",))
    assert len(api.requests) == 1  # a permanent error is not retried
    letters = dead_letters_of(result.id)
    assert len(letters) == 1
    letter = letters[0]
    assert letter.task_name == integrations.sync_customer.name
    assert letter.args == [8, 1] and letter.retries == 0
    assert "PermanentError: HTTP 404" in letter.exception

    # The cause is fixed (the provider answers 200 again): requeue runs it once.
    new_id = requeue(letter, integrations.sync_customer.app)
    store().remove_dead_letter(letter.id)
    finished.wait([new_id])
    assert len(api.requests) == 2
    assert store().dead_letter(letter.id) is None


{% if cookiecutter.broker == 'rabbitmq' %}
def test_rabbitmq_dead_letters_the_rejected_message(finished, provider, celery_app, eventually):
    provider([404])
    result = integrations.sync_customer.delay(11, 1)
    finished.wait([result.id], states=("FAILURE",))
    queue = topology.prefix() + topology.DEAD_LETTER_QUEUE
    with celery_app.connection_for_write() as connection:
        channel = connection.default_channel

        def dead_lettered() -> bool:
            _, messages, _ = channel.queue_declare(queue, passive=True)
            return messages >= 1

        eventually(dead_lettered)


{% endif %}
{% if cookiecutter.result_backend != 'none' %}
def test_retry_goes_on_once_when_its_state_cannot_be_stored(
    finished, provider, quick_retries, monkeypatch
):
    """The result backend down as a task retries: the published retry carries it on.

    Had storing the RETRY state failed the run, its message would go back to
    the broker beside the retry, and the task would go on twice.
    """
    backend = type(integrations.sync_customer.backend)

    def down(*args, **kwargs):
        raise ConnectionError("the result backend is down")

    monkeypatch.setattr(backend, "mark_as_retry", down)
    api = provider([503])
    result = integrations.sync_customer.delay(12, 1)
    finished.wait([result.id], timeout=60)
    time.sleep(2)  # let a run of a message given back show up, if there is one
    assert finished.runs[result.id] == 2 and len(api.requests) == 2
    assert not dead_letters_of(result.id)


def test_result_not_stored_runs_again_and_is_no_dead_letter(
    finished, provider, monkeypatch, eventually
):
    """The result backend down as a task ends: it runs again, and is not a failure."""
    backend = type(integrations.sync_customer.backend)
    store_once_more = backend.mark_as_done
    failures = []

    def down_once(self, *args, **kwargs):
        if not failures:
            failures.append(ConnectionError("the result backend is down"))
            raise failures[0]
        return store_once_more(self, *args, **kwargs)

    monkeypatch.setattr(backend, "mark_as_done", down_once)
    api = provider([])
    result = integrations.sync_customer.delay(13, 1)
    eventually(lambda: finished.runs.get(result.id) == 2)
    time.sleep(1)  # let the dead letter of a failure show up, if there is one
    assert failures and len(api.requests) == 2  # the provider call is idempotent
    assert not dead_letters_of(result.id)


{% endif %}
def test_exhausted_retries_become_a_dead_letter(finished, provider, quick_retries, monkeypatch):
    monkeypatch.setattr(integrations.sync_customer, "max_retries", 2)
    api = provider([503, 503, 503, 503])
    result = integrations.sync_customer.delay(9, 1)
    finished.wait([result.id], states=("FAILURE",), timeout=60)
    assert len(api.requests) == 3
    letter = dead_letters_of(result.id)[0]
    assert letter.retries == 2
    assert "TransientError: HTTP 503" in letter.exception
{% if cookiecutter.message_signing %}


def test_worker_refuses_unsigned_messages(finished, monkeypatch):
    sent = []
    monkeypatch.setattr(notifications, "deliver", lambda recipient, message: sent.append(recipient))
    unsigned = notifications.send_notification.apply_async(
        ("mallory@example.com", "unsigned", f"unsigned:{uuid.uuid4()}"),
        serializer="{{ cookiecutter.serializer }}",
    )
    signed = notifications.send_notification.delay(
        "ann@example.com", "signed", f"signed:{uuid.uuid4()}"
    )
    finished.wait([signed.id])
    assert sent == ["ann@example.com"]
    assert unsigned.id not in finished.states
{% endif %}


def test_report_cut_short_by_the_soft_time_limit_leaves_no_file(tmp_path, monkeypatch):
    """Narrow unit test: only a prefork worker enforces the limit itself."""
    from celery.exceptions import SoftTimeLimitExceeded

    monkeypatch.setenv("REPORTS_DIR", str(tmp_path))

    def out_of_time(source, target):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(reports.os, "replace", out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        reports.generate_report.run("big", rows=10)
    assert list(tmp_path.iterdir()) == []

{% set django = cookiecutter.framework == 'django' %}
{% set signing = cookiecutter.message_signing %}
{% if cookiecutter.__flower == 'yes' %}
"""Security, checked: what workers accept, who may open Flower, what never gets committed."""
{% else %}
"""Security, checked: what workers accept, what never gets committed."""
{% endif %}

from __future__ import annotations

import os
{% if cookiecutter.__flower == 'yes' %}
import secrets
{% endif %}
import shutil
import subprocess
import sys
{% if cookiecutter.__flower == 'yes' %}
import time
import urllib.error
import urllib.request
{% endif %}
import uuid
{% if signing %}
from base64 import b64decode, b64encode
{% elif cookiecutter.__flower == 'yes' %}
from base64 import b64encode
{% endif %}
from pathlib import Path

import pytest
{% if signing %}
from kombu.serialization import dumps
{% endif %}

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.notifications import tasks as notifications

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Serializers that let whoever can write to the broker run code on the workers.
UNSAFE = {"pickle", "yaml", "application/x-python-serialize", "application/x-yaml"}


def test_no_pickle_or_yaml_is_accepted_or_produced_anywhere():
    conf = app.conf
    produced = {conf.task_serializer, conf.result_serializer, conf.event_serializer}
    accepted = set(conf.accept_content) | set(conf.result_accept_content or conf.accept_content)
    assert not (produced | accepted) & UNSAFE


@pytest.fixture
def deliveries(monkeypatch) -> list[str]:
    """Recipients the notification task really delivered to, in this process's worker."""
    sent: list[str] = []
    monkeypatch.setattr(notifications, "deliver", lambda recipient, message: sent.append(recipient))
    return sent


@pytest.mark.integration
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_worker_refuses_a_pickled_message(finished, deliveries):
    pickled = notifications.send_notification.apply_async(
        ("mallory@example.com", "pickled", f"pickled:{uuid.uuid4()}"), serializer="pickle"
    )
    accepted = notifications.send_notification.delay(
        "ann@example.com", "accepted", f"accepted:{uuid.uuid4()}"
    )
    finished.wait([accepted.id])
    assert deliveries == ["ann@example.com"]
    assert pickled.id not in finished.states
{% if signing %}


def publish_signed(recipient: str, tamper: bool) -> str:
    """Publish a correctly signed message, its recipient changed after signing if ``tamper``."""
    task_id = str(uuid.uuid4())
    args = (recipient, "signed", f"signed:{task_id}")
    headers, properties, body, _ = app.amqp.as_task_v2(
        task_id, notifications.send_notification.name, args=args, kwargs={}
    )
    content_type, encoding, data = dumps(body, serializer="auth")
    if tamper:
        fields = b64decode(data)
        assert recipient.encode() in fields
        data = b64encode(fields.replace(recipient.encode(), b"eve@example.com"))
    queue = app.amqp.router.route({}, notifications.send_notification.name)["queue"]
    with app.producer_or_acquire() as producer:
        producer.publish(
            data,
            content_type=content_type,
            content_encoding=encoding,
            headers=headers,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
            **properties,
        )
    return task_id


@pytest.mark.integration
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_worker_refuses_a_tampered_signed_message(finished, deliveries):
    """The same message, changed after signing, is refused; unchanged, it runs.

    Unsigned messages are refused too (test_tasks.py).
    """
    tampered = publish_signed("ann@example.com", tamper=True)
    intact = publish_signed("bob@example.com", tamper=False)
    finished.wait([intact])
    assert deliveries == ["bob@example.com"]
    assert tampered not in finished.states
{% endif %}
{% if cookiecutter.__flower == 'yes' %}


def http_status(url: str, credentials: str | None = None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 (a local URL of this test)
    if credentials:
        request.add_header("Authorization", "Basic " + b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.integration
def test_flower_refuses_requests_without_credentials(tmp_path):
    from tests.processes import free_port

    port = free_port()
    credentials = f"admin:{secrets.token_urlsafe(16)}"
    with (tmp_path / "flower.log").open("wb") as log:
        flower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "{{ cookiecutter.project_slug }}.celery_app",
                "flower",
                f"--port={port}",
                "--address=127.0.0.1",
            ],
            cwd=PROJECT_DIR,
            env={**os.environ, "FLOWER_BASIC_AUTH": credentials},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                # Unauthenticated by design, like /metrics: Flower is never public.
                if http_status(f"{base}/healthcheck") == 200:
                    break
            except OSError:
                pass
            assert flower.poll() is None, (tmp_path / "flower.log").read_text()
            assert time.monotonic() < deadline, "Flower did not answer within 60 s"
            time.sleep(0.3)
        assert http_status(f"{base}/") == 401
        assert http_status(f"{base}/api/workers") == 401
        assert http_status(f"{base}/", "admin:wrong-password") == 401
        assert http_status(f"{base}/", credentials) == 200
    finally:
        flower.terminate()
        flower.wait(timeout=30)
{% endif %}


def test_worker_will_not_start_in_production_without_its_settings(tmp_path):
    """The process itself stops, naming the variable (the checks: test_configuration.py)."""
    from {{ cookiecutter.project_slug }}.environment import Environment

    settings = {name.upper() for name in Environment.model_fields}
    env = {name: value for name, value in os.environ.items() if name not in settings}
    env["APP_ENV"] = "production"
{% if django %}
    env["DJANGO_SETTINGS_MODULE"] = "{{ cookiecutter.project_slug }}.config.settings.production"
    env["DJANGO_SECRET_KEY"] = "a-long-random-production-secret-" + "x" * 40
    env["DJANGO_ALLOWED_HOSTS"] = "example.com"
    env["DATABASE_URL"] = "postgres://app:secret@db.example.com:5432/app"
{% endif %}
    worker = subprocess.run(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "{{ cookiecutter.project_slug }}.celery_app",
            "worker",
        ],
        cwd=tmp_path,  # no .env file here
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert worker.returncode != 0
    assert "APP_ENV=production needs CELERY_BROKER_URL" in worker.stderr


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    executable = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    return subprocess.run(
        [executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_ruff_security_rules_pass():
    run = ruff("check", "--select", "S", "--no-cache", ".", cwd=PROJECT_DIR)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_security_rules_catch_unsafe_code(tmp_path):
    """The check above can fail: unpickling untrusted data is caught."""
    (tmp_path / "unsafe.py").write_text(
        "import pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n"
    )
    run = ruff("check", "--isolated", "--select", "S", "--no-cache", "unsafe.py", cwd=tmp_path)
    assert run.returncode == 1 and "S301" in run.stdout


def test_env_file_and_keys_are_git_ignored(tmp_path):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    shutil.copy(PROJECT_DIR / ".gitignore", tmp_path / ".gitignore")
    subprocess.run([git, "init", "--quiet"], cwd=tmp_path, check=True)

    def ignored(*paths: str) -> set[str]:
        run = subprocess.run(
            [git, "check-ignore", "--", *paths],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        return set(run.stdout.split())

    secret_files = [".env", "keys/private.key", "keys/certificate.crt"]
{% if signing %}
    from {{ cookiecutter.project_slug }}.environment import Environment

    fields = Environment.model_fields
    secret_files += [fields["celery_signing_key"].default, fields["celery_signing_cert"].default]
{% endif %}
    assert ignored(*secret_files) == set(secret_files)
    # What must be committed is not ignored.
    assert ignored(".env.example", "src/{{ cookiecutter.project_slug }}/celeryconfig.py") == set()

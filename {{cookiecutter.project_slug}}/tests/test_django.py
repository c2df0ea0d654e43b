"""The Django side: migrations, settings (production, yours), and work enqueued after commit."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import tomllib
import uuid
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from {{ cookiecutter.project_slug }}.notifications import tasks as notifications
from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.orders.tasks import confirm_order
from {{ cookiecutter.project_slug }}.tasking.stores import store

PROJECT_DIR = Path(__file__).resolve().parents[1]
SETTINGS_PACKAGE = "{{ cookiecutter.project_slug }}.config.settings"
PRODUCTION_SETTINGS = SETTINGS_PACKAGE + ".production"
PRODUCTION_SECRETS = {
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "postgres://app:secret@db.example.com:5432/app",
}


@pytest.mark.django_db
def test_migrations_match_the_models():
    call_command("makemigrations", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db
def test_a_process_started_by_a_test_uses_the_test_database():
    """A worker or the benchmark a test starts uses the test database, not the development one."""
    from django.db import connection

    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings;"
            "print(settings.DATABASES['default']['NAME'])",
        ],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.stdout.strip() == connection.settings_dict["NAME"], run.stderr


def python(*args: str, env: dict[str, str], settings: str = PRODUCTION_SETTINGS):
    """``python ARGS`` in the project, with ``settings`` and only ``env`` for Django's variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_"))}
    return subprocess.run(
        [sys.executable, *args],
        cwd=PROJECT_DIR,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return python("manage.py", *args, env=env)


@pytest.mark.parametrize("missing", sorted(PRODUCTION_SECRETS))
def test_production_refuses_to_start_without_a_secret(missing):
    env = {k: v for k, v in PRODUCTION_SECRETS.items() if k != missing}
    run = manage("check", env=env)
    assert run.returncode != 0
    assert f"production settings need {missing}:" in run.stderr.strip().splitlines()[-1]


def test_production_passes_the_deployment_checklist():
    run = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_SECRETS)
    assert run.returncode == 0, run.stdout + run.stderr


YOUR_SETTINGS = "src/{{ cookiecutter.project_slug }}/config/settings/overrides.py"
# Values no baseline settings module has, for settings that base, local,
# production and test set.
YOURS = {
    "TIME_ZONE": "Europe/Berlin",
    "SECRET_KEY": "yours-" + "y" * 50,
    "ALLOWED_HOSTS": ["yours.example.com"],
    "PASSWORD_HASHERS": ["django.contrib.auth.hashers.ScryptPasswordHasher"],
}
# Run as: python -c WITH_YOUR_SETTINGS SETTINGS_AS_JSON; prints the settings Django ends with.
WITH_YOUR_SETTINGS = """
import json
import sys
import types

yours = json.loads(sys.argv[1])
overrides = types.ModuleType("{{ cookiecutter.project_slug }}.config.settings.overrides")
vars(overrides).update(yours)
sys.modules[overrides.__name__] = overrides

from django.conf import settings

print(json.dumps({name: getattr(settings, name) for name in yours}))
"""


@pytest.mark.parametrize("module", ["local", "production", "test"])
def test_your_settings_win_in_every_environment(module):
    """config/settings/overrides.py is applied last by every settings module the project runs."""
    run = python(
        "-c",
        WITH_YOUR_SETTINGS,
        json.dumps(YOURS),
        env=PRODUCTION_SECRETS,
        settings=f"{SETTINGS_PACKAGE}.{module}",
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == YOURS


def test_your_settings_are_never_touched_by_baseline_updates():
    pyproject = tomllib.loads((PROJECT_DIR / "pyproject.toml").read_text())
    assert YOUR_SETTINGS in pyproject["tool"]["cruft"]["skip"]
    assert (PROJECT_DIR / YOUR_SETTINGS).is_file()


ORDER = {"customer_email": "ann@example.com", "total_cents": 1250}


@pytest.fixture
def api_client(django_user_model):
    """A client that checks CSRF as a browser's would, and a token made as the README says."""
    django_user_model.objects.create_user("api-client")
    out = io.StringIO()
    call_command("drf_create_token", "api-client", stdout=out)
    token = out.getvalue().split()[2]  # "Generated token KEY for user api-client"
    return Client(enforce_csrf_checks=True), token


@pytest.mark.django_db
@pytest.mark.parametrize("authorization", [None, "Token not-a-key", "Bearer x"])
def test_an_order_without_a_valid_token_is_refused(api_client, authorization):
    client, _ = api_client
    headers = {"Authorization": authorization} if authorization else {}
    response = client.post("/orders/", ORDER, content_type="application/json", headers=headers)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"
    error = response.json()["error"]
    assert "\n" not in error and "'Authorization: Token KEY'" in error, error
    assert "drf_create_token" in error
    assert not Order.objects.exists()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_placing_an_order_notifies_the_customer_once(api_client, finished, eventually, monkeypatch):
    """With a token and no CSRF cookie, as curl calls it: the order's tasks run on the worker."""
    client, token = api_client
    sent = []
    monkeypatch.setattr(notifications, "deliver", lambda recipient, message: sent.append(message))
    response = client.post(
        "/orders/",
        data=ORDER,
        content_type="application/json",
        headers={"Authorization": f"Token {token}"},
    )
    assert response.status_code == 201, response.content
    order_id = response.json()["id"]
    assert Order.objects.filter(pk=order_id, customer_email=ORDER["customer_email"]).exists()
    confirm_order.delay(order_id)  # the same order confirmed twice: one message
    eventually(lambda: len(sent) >= 1)
    expected = f"We received your order {order_id}."
    eventually(lambda: _settled(finished), timeout=10)
    assert sent == [expected]
    assert {confirm_order.name, notifications.send_notification.name} <= set(finished.names)


def _settled(finished) -> bool:
    """No task started in the last half second."""
    before = dict(finished.runs)
    time.sleep(0.5)
    return before == finished.runs


@pytest.mark.django_db(transaction=True)
def test_rolled_back_order_enqueues_nothing(monkeypatch):
    enqueued = []
    monkeypatch.setattr(confirm_order, "delay", lambda *a, **k: enqueued.append(a))
    with pytest.raises(RuntimeError), transaction.atomic():
        order = Order.objects.create(customer_email="bob@example.com", total_cents=1)
        confirm_order.delay_on_commit(order.pk)
        raise RuntimeError("payment failed")
    assert enqueued == []


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_missing_order_is_a_dead_letter_not_retried(finished):
    result = confirm_order.delay(10**9)
    finished.wait([result.id], states=("FAILURE",))
    letter = next(letter for letter in store().dead_letters() if letter.task_id == result.id)
    assert letter.retries == 0 and "does not exist" in letter.exception


@pytest.mark.django_db
def test_deadletters_command_lists_requeues_and_purges(capsys):
    from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter

    recorded = store().record_dead_letter(
        DeadLetter(
            task_name=confirm_order.name,
            task_id=str(uuid.uuid4()),
            args=[1],
            kwargs={},
            queue="",
            exception="PermanentError: test",
            traceback="",
            retries=0,
        )
    )
    call_command("deadletters", "list")
    assert recorded.id in capsys.readouterr().out
    with pytest.raises(Exception, match="--yes"):
        call_command("deadletters", "purge")
    call_command("deadletters", "purge", "--yes")
    assert "purged 1" in capsys.readouterr().out
    assert store().dead_letters() == []


@pytest.mark.django_db
def test_admin_requeues_selected_dead_letters(admin_client):
    from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter

    letter = store().record_dead_letter(
        DeadLetter(
            task_name="{{ cookiecutter.project_slug }}.maintenance.tasks.heartbeat",
            task_id=str(uuid.uuid4()),
            args=[],
            kwargs={},
            queue="",
            exception="TransientError: test",
            traceback="",
            retries=6,
        )
    )
    response = admin_client.post(
        "/admin/tasking/deadletter/",
        {"action": "requeue_selected", "_selected_action": [letter.id]},
        follow=True,
    )
    assert response.status_code == 200
    assert b"Requeued 1 task(s)." in response.content
    assert store().dead_letter(letter.id) is None
{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}


@pytest.mark.django_db
def test_migration_seeds_every_periodic_task_once():
    import importlib

    from django.apps import apps
    from django_celery_beat.models import PeriodicTask

    from {{ cookiecutter.project_slug }}.schedule import BASELINE_PERIODIC_TASKS as PERIODIC_TASKS

    seeding = "{{ cookiecutter.project_slug }}.tasking.migrations.0002_periodic_tasks"
    migration = importlib.import_module(seeding)
    migration.seed(apps, None)
    migration.seed(apps, None)  # running it again changes nothing
    seeded = dict(PeriodicTask.objects.values_list("name", "task"))
    assert {name: entry["task"] for name, entry in PERIODIC_TASKS.items()}.items() <= seeded.items()
    assert PeriodicTask.objects.filter(name__in=list(PERIODIC_TASKS)).count() == len(PERIODIC_TASKS)
{% endif %}

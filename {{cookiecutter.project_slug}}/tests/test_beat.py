"""Beat sends scheduled tasks, and the worker runs them."""

from __future__ import annotations

{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
import os
import subprocess
import sys
{% else %}
import threading
{% endif %}

import pytest
{% if cookiecutter.beat_scheduler != 'django-celery-beat' %}
from celery import beat
{% endif %}

from {{ cookiecutter.project_slug }}.schedule import periodic_tasks

HEARTBEAT = periodic_tasks()["heartbeat"]["task"]

pytestmark = [pytest.mark.integration{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}, pytest.mark.django_db(transaction=True){% endif %}]


def test_every_scheduled_task_exists(celery_app):
    for entry in periodic_tasks().values():
        assert entry["task"] in celery_app.tasks


{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
def test_beat_sends_the_heartbeat_to_the_worker(finished, eventually, tmp_path):
    """``celery beat`` with the database scheduler, as deployed, against the test database."""
    from django.db import connection
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    # Transactional tests empty the tables, the seeded schedules included.
    every_second, _ = IntervalSchedule.objects.get_or_create(every=1, period="seconds")
    PeriodicTask.objects.update_or_create(
        name="heartbeat", defaults={"task": HEARTBEAT, "interval": every_second}
    )
    db = connection.settings_dict
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "{{ cookiecutter.project_slug }}.config.settings.test",
        "DATABASE_URL": (
            f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
    }
    beat_process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "{{ cookiecutter.project_slug }}.celery_app",
            "beat",
            "--max-interval",
            "1",
            "--loglevel",
            "INFO",
        ],
        env=env,
        cwd=tmp_path,
    )
    try:
        eventually(lambda: HEARTBEAT in finished.names, timeout=60)
    finally:
        beat_process.terminate()
        beat_process.wait(timeout=30)
{% else %}
def test_beat_sends_the_heartbeat_to_the_worker(
    celery_app, finished, eventually, tmp_path, monkeypatch
):
    monkeypatch.setitem(
        celery_app.conf, "beat_schedule", {"heartbeat": {"task": HEARTBEAT, "schedule": 1.0}}
    )
    service = beat.Service(celery_app, max_interval=1, schedule_filename=str(tmp_path / "schedule"))
    thread = threading.Thread(target=service.start, daemon=True)
    thread.start()
    try:
        eventually(lambda: HEARTBEAT in finished.names, timeout=30)
    finally:
        service.stop()
        thread.join(timeout=10)
{% endif %}


def test_beat_wakes_up_often_enough_for_its_healthcheck(celery_app):
    from {{ cookiecutter.project_slug }}.healthcheck import BEAT_STALE_AFTER

    assert celery_app.conf.beat_scheduler == "{{ cookiecutter.project_slug }}.tasking.beat:Scheduler"
    assert 3 * (celery_app.conf.beat_max_loop_interval or 5) <= BEAT_STALE_AFTER


def test_beat_healthcheck_follows_the_liveness_file(tmp_path, monkeypatch, capsys):
    import os

    from {{ cookiecutter.project_slug }} import healthcheck

    monkeypatch.setattr(healthcheck, "BEAT_LIVENESS_FILE", tmp_path / "beat.alive")
    assert healthcheck.main(["beat"]) == 1
    assert "has not started" in capsys.readouterr().err
    healthcheck.BEAT_LIVENESS_FILE.touch()
    assert healthcheck.main(["beat"]) == 0
    stale = healthcheck.BEAT_STALE_AFTER + 1
    os.utime(healthcheck.BEAT_LIVENESS_FILE, (0, os.path.getmtime(tmp_path / "beat.alive") - stale))
    assert healthcheck.main(["beat"]) == 1
    assert "last woke up" in capsys.readouterr().err

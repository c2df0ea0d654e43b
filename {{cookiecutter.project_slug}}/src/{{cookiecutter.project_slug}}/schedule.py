"""Periodic tasks: what beat sends, and when. One place for every scheduler.

{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
The database scheduler is seeded from this table by a data migration
(``tasking/migrations/0002_periodic_tasks.py``); after that, edit schedules
in the admin.
{% else %}
celeryconfig.py turns this table into ``beat_schedule``.
{% endif %}
Exactly one beat runs per environment, or every entry fires twice.
"""

from __future__ import annotations
{% if cookiecutter.beat_scheduler != 'django-celery-beat' %}

from celery.schedules import crontab
{% endif %}

# name -> task, and either "every" (seconds) or "crontab" (crontab fields, UTC).
PERIODIC_TASKS: dict[str, dict] = {
    "heartbeat": {
        "task": "{{ cookiecutter.project_slug }}.maintenance.tasks.heartbeat",
        "every": 60,
    },
    "cleanup-reports": {
        "task": "{{ cookiecutter.project_slug }}.maintenance.tasks.cleanup_reports",
        "crontab": {"minute": "30", "hour": "3"},
    },
}
{% if cookiecutter.beat_scheduler != 'django-celery-beat' %}


def beat_schedule() -> dict[str, dict]:
    """PERIODIC_TASKS in Celery's ``beat_schedule`` form."""
    return {
        name: {"task": entry["task"], "schedule": _when(entry)}
        for name, entry in PERIODIC_TASKS.items()
    }


def _when(entry: dict) -> crontab | float:
    return crontab(**entry["crontab"]) if "crontab" in entry else float(entry["every"])
{% endif %}

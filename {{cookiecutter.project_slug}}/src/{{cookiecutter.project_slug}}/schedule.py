"""Periodic tasks: what beat sends, and when. One place for every scheduler.

{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
The database scheduler is seeded from this table by a data migration
(``tasking/migrations/0002_periodic_tasks.py``); after that, edit schedules
in the admin. Entries you add to ``overrides.PERIODIC_TASKS`` are added when
beat starts, once: the admin's edits are never overwritten.
{% else %}
celeryconfig.py turns this table into ``beat_schedule``.
{% endif %}
Exactly one beat runs per environment, or every entry fires twice.
"""

from __future__ import annotations
{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}

import json
{% else %}

from celery.schedules import crontab
{% endif %}

from {{ cookiecutter.project_slug }} import overrides

# name -> task, and either "every" (seconds) or "crontab" (crontab fields, UTC).
# Add yours to PERIODIC_TASKS in overrides.py: periodic_tasks() merges them.
BASELINE_PERIODIC_TASKS: dict[str, dict] = {
    "heartbeat": {
        "task": "{{ cookiecutter.project_slug }}.maintenance.tasks.heartbeat",
        "every": 60,
    },
    "cleanup-reports": {
        "task": "{{ cookiecutter.project_slug }}.maintenance.tasks.cleanup_reports",
        "crontab": {"minute": "30", "hour": "3"},
    },
}


def periodic_tasks() -> dict[str, dict]:
    """The baseline's entries, then yours (overrides.PERIODIC_TASKS; yours win by name)."""
    entries = {**BASELINE_PERIODIC_TASKS, **getattr(overrides, "PERIODIC_TASKS", {})}
    for name, entry in entries.items():
        if "task" not in entry or ("every" in entry) == ("crontab" in entry):
            raise ValueError(
                f"periodic task {name!r}: give a task and either every (seconds) or crontab "
                "(fields), e.g. 'task': 'myapp.tasks.sync', 'every': 300"
            )
    return entries
{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}


def store_periodic_tasks(periodic_task, interval, crontab, entries: dict, replace: bool) -> None:
    """Write ``entries`` into django-celery-beat's tables (models passed in, for migrations).

    With ``replace=False`` an entry that already exists is left as the admin
    has it: only new names are added.
    """
    for name, entry in entries.items():
        if not replace and periodic_task.objects.filter(name=name).exists():
            continue
        if "crontab" in entry:
            fields = {
                "minute": "*",
                "hour": "*",
                "day_of_week": "*",
                "day_of_month": "*",
                "month_of_year": "*",
                **entry["crontab"],
            }
            schedule, _ = crontab.objects.get_or_create(timezone="UTC", **fields)
            when = {"crontab": schedule}
        else:
            schedule, _ = interval.objects.get_or_create(every=entry["every"], period="seconds")
            when = {"interval": schedule}
        periodic_task.objects.update_or_create(
            name=name, defaults={"task": entry["task"], "args": json.dumps([]), **when}
        )
{% else %}


def beat_schedule() -> dict[str, dict]:
    """PERIODIC_TASKS in Celery's ``beat_schedule`` form."""
    return {
        name: {"task": entry["task"], "schedule": _when(entry)}
        for name, entry in periodic_tasks().items()
    }


def _when(entry: dict) -> crontab | float:
    return crontab(**entry["crontab"]) if "crontab" in entry else float(entry["every"])
{% endif %}

"""Seed django-celery-beat's schedules from schedule.PERIODIC_TASKS."""

import json

from django.db import migrations

from {{ cookiecutter.project_slug }}.schedule import PERIODIC_TASKS


def seed(apps, schema_editor):
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    interval = apps.get_model("django_celery_beat", "IntervalSchedule")
    crontab = apps.get_model("django_celery_beat", "CrontabSchedule")
    for name, entry in PERIODIC_TASKS.items():
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


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=list(PERIODIC_TASKS)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tasking", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]

"""Seed django-celery-beat's schedules from schedule.BASELINE_PERIODIC_TASKS."""

from django.db import migrations

from {{ cookiecutter.project_slug }}.schedule import BASELINE_PERIODIC_TASKS, store_periodic_tasks


def seed(apps, schema_editor):
    store_periodic_tasks(
        apps.get_model("django_celery_beat", "PeriodicTask"),
        apps.get_model("django_celery_beat", "IntervalSchedule"),
        apps.get_model("django_celery_beat", "CrontabSchedule"),
        BASELINE_PERIODIC_TASKS,
        replace=True,
    )


def unseed(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=list(BASELINE_PERIODIC_TASKS)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("tasking", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(seed, unseed)]

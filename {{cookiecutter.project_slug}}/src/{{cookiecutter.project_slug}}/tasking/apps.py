"""Django app of the task plumbing: idempotency keys and dead letters in the database."""

from __future__ import annotations

from django.apps import AppConfig


class TaskingConfig(AppConfig):
    name = "{{ cookiecutter.project_slug }}.tasking"
    label = "tasking"
    verbose_name = "Tasks"
    default_auto_field = "django.db.models.BigAutoField"

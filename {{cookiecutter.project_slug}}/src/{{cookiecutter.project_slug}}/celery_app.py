"""The Celery application.

Configuration comes from ``celeryconfig`` (production defaults) and task
modules are listed there. Start a worker with ``celery -A {{ cookiecutter.project_slug }}.celery_app worker``.
"""

from __future__ import annotations
{% if cookiecutter.framework == 'django' %}

import os
{% endif %}

from celery import Celery
{% if cookiecutter.framework == 'django' %}

# Celery's Django fix-up sets Django up in every worker process from this.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{ cookiecutter.project_slug }}.config.settings.local")
{% endif %}

app = Celery("{{ cookiecutter.project_slug }}", task_cls="{{ cookiecutter.project_slug }}.tasking.base:BaseTask")
app.config_from_object("{{ cookiecutter.project_slug }}.celeryconfig")
{% if cookiecutter.framework == 'django' %}
# Also find tasks.py modules of the Django apps in INSTALLED_APPS.
app.autodiscover_tasks()
{% endif %}

"""The Celery application.

Configuration comes from ``celeryconfig`` (production defaults) and task
modules are listed there. Start a worker with

    celery -A {{ cookiecutter.project_slug }}.celery_app worker
"""

from __future__ import annotations

{% if cookiecutter.framework == 'django' %}
import os
{% else %}
import logging
{% endif %}

from celery import Celery
{% if cookiecutter.broker == 'rabbitmq' %}
from celery.signals import setup_logging, worker_init
{% else %}
from celery.signals import setup_logging
{% endif %}
{% if cookiecutter.message_signing %}

from {{ cookiecutter.project_slug }}.tasking.signing import check_signing_files
{% endif %}
{% if cookiecutter.framework == 'django' %}

# Celery's Django fix-up sets Django up in every worker process from this.
SETTINGS = "{{ cookiecutter.project_slug }}.config.settings.local"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
{% endif %}

app = Celery(
    "{{ cookiecutter.project_slug }}",
    task_cls="{{ cookiecutter.project_slug }}.tasking.base:BaseTask",
)
app.config_from_object("{{ cookiecutter.project_slug }}.celeryconfig")
{% if cookiecutter.message_signing %}
# Every message is signed, and only signed messages are accepted.
# https://docs.celeryq.dev/en/stable/userguide/security.html#message-signing
check_signing_files()
app.setup_security(serializer="{{ cookiecutter.serializer }}")
{% endif %}
{% if cookiecutter.framework == 'django' %}
# Also find tasks.py modules of the Django apps in INSTALLED_APPS.
app.autodiscover_tasks()
{% endif %}


@setup_logging.connect
def configure_logging(**_) -> None:
    """Workers log the way the application does; Celery does not take logging over."""
{% if cookiecutter.framework == 'django' %}
    from logging.config import dictConfig

    from django.conf import settings

    dictConfig(settings.LOGGING)
{% else %}
    from {{ cookiecutter.project_slug }}.environment import environment

    logging.basicConfig(
        level=environment().log_level,
        format="%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s",
    )
{% endif %}
{% if cookiecutter.broker == 'rabbitmq' %}


@worker_init.connect
def declare_dead_letter_queue(**_) -> None:
    """Declare the dead-letter queue, which no worker consumes and so none would declare."""
    from {{ cookiecutter.project_slug }} import topology

    name = topology.prefix() + topology.DEAD_LETTER_QUEUE
    queue = next(q for q in app.conf.task_queues if q.name == name)
    with app.connection_for_write() as connection:
        queue.bind(connection.default_channel).declare()
{% endif %}

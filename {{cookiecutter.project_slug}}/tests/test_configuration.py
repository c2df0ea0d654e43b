"""The effective Celery configuration: what every process really runs with."""

from __future__ import annotations

from {{ cookiecutter.project_slug }} import topology
from {{ cookiecutter.project_slug }}.celery_app import app


def test_broker_is_{{ cookiecutter.broker }}():
    assert app.conf.broker_url.startswith("{{ 'redis://' if cookiecutter.broker == 'redis' else 'amqp://' }}")


def test_only_the_chosen_serializer_is_accepted():
{% if cookiecutter.message_signing %}
    assert app.conf.task_serializer == "auth"
    assert list(app.conf.accept_content) == ["auth"]
{% else %}
    assert app.conf.task_serializer == "{{ cookiecutter.serializer }}"
    assert list(app.conf.accept_content) == ["{{ cookiecutter.serializer }}"]
{% endif %}


def test_example_task_is_registered_and_routed():
    app.loader.import_default_modules()
    name = "{{ cookiecutter.project_slug }}.notifications.tasks.send_notification"
    assert name in app.tasks
    queue = topology.ROUTES_BY_FAMILY["notifications"]
    assert app.amqp.router.route({}, name)["queue"].name == queue


def test_every_queue_is_consumed_by_a_worker_group():
    consumed = {queue for worker in topology.WORKERS for queue in worker.queues}
    assert set(topology.QUEUES) == consumed

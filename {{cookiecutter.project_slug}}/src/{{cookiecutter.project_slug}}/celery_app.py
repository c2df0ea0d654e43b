"""The Celery application.

Configuration comes from ``celeryconfig`` (production defaults) and task
modules are listed there. Start a worker with

    celery -A {{ cookiecutter.project_slug }}.celery_app worker
"""

from __future__ import annotations

{% if cookiecutter.framework != 'django' or cookiecutter.broker == 'rabbitmq' %}
import logging
{% endif %}
{% if cookiecutter.__flower == 'yes' %}
import os
from pathlib import Path
{% endif %}
{% if cookiecutter.framework != 'django' or cookiecutter.__flower == 'yes' or cookiecutter.broker == 'rabbitmq' %}

{% endif %}
from celery import Celery
{% if cookiecutter.broker == 'rabbitmq' %}
from celery.exceptions import WorkerShutdown
from celery.platforms import EX_FAILURE
{% endif %}
{% set sentry = cookiecutter.use_sentry %}
{% set otel = cookiecutter.use_opentelemetry %}
{% set beat = cookiecutter.__has_beat == 'yes' %}
{% set signals = ['setup_logging'] %}
{% if sentry and beat %}{% set signals = signals + ['beat_init'] %}{% endif %}
{% if sentry %}{% set signals = signals + ['celeryd_init'] %}{% endif %}
{% if otel %}{% set signals = signals + ['worker_process_init'] %}{% endif %}
from celery.signals import {{ signals | sort | join(', ') }}
{% if cookiecutter.broker == 'rabbitmq' %}
from celery.worker.consumer.delayed_delivery import DelayedDelivery
from kombu.exceptions import OperationalError
{% endif %}

{% set modules = ['worker_steps'] %}
{% if sentry or otel %}{% set modules = modules + ['observability'] %}{% endif %}
{% if cookiecutter.broker == 'rabbitmq' %}{% set modules = modules + ['topology'] %}{% endif %}
from {{ cookiecutter.project_slug }} import {{ modules | sort | join(', ') }}
from {{ cookiecutter.project_slug }}.environment import start
{% if cookiecutter.broker == 'rabbitmq' %}
from {{ cookiecutter.project_slug }}.tasking import publishing
from {{ cookiecutter.project_slug }}.tasking.outcomes import DurableConsumer
{% endif %}
{% if cookiecutter.message_signing %}
from {{ cookiecutter.project_slug }}.tasking.signing import SigningKeysMissing, check_signing_files
{% endif %}

# Every celery command (worker{% if cookiecutter.__has_beat == 'yes' %}, beat{% endif %}{% if cookiecutter.__flower == 'yes' %}, Flower{% endif %}, shell) passes the production
# rule first{% if cookiecutter.framework == 'django' %}: it also picks the Django settings, which Celery's Django
# fix-up then sets up in every worker process{% endif %}.
start()
{% if cookiecutter.__flower == 'yes' %}
# Flower runs this file at start: it checks the credentials (environment.py).
os.environ["FLOWER_CONF"] = str(Path(__file__).with_name("flowerconfig.py"))
{% endif %}
{% if cookiecutter.broker == 'rabbitmq' %}


class App(Celery):
    """Celery, with a bound on how long sending a task may take (tasking/publishing.py).

    ``delay``, ``apply_async``, retries, canvas and ``send_task`` all send
    through ``send_task``. Its connections hear RabbitMQ's connection.blocked.
    """

    amqp_cls = "{{ cookiecutter.project_slug }}.tasking.publishing:BlockedHeardAMQP"

    def send_task(self, *args, **options):
        try:
            return super().send_task(*args, **publishing.bounded(options))
        except OperationalError as error:
            raise publishing.explained(error) from error


app = App(
{% else %}


app = Celery(
{% endif %}
    "{{ cookiecutter.project_slug }}",
    task_cls="{{ cookiecutter.project_slug }}.tasking.base:BaseTask",
)
app.config_from_object("{{ cookiecutter.project_slug }}.celeryconfig")
# Progress for the health check, a watchdog, and a guard for the remote control.
app.steps["worker"].add(worker_steps.Progress)
app.steps["consumer"].add(worker_steps.CommandsOnlyBroadcasts)
{% if cookiecutter.message_signing %}
# Every message is signed, and only signed messages are accepted.
# https://docs.celeryq.dev/en/stable/userguide/security.html#message-signing
try:
    check_signing_files()
except SigningKeysMissing as problem:
    # One line, like every other refusal at start (environment.start).
    raise SystemExit(f"{{ cookiecutter.project_slug }}: {problem}") from None
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


logger = logging.getLogger(__name__)


class DelayedDeliveryOfEveryQueue(DelayedDelivery):
    """Declares every queue of the topology, then sets up native delayed delivery.

    Runs each time the worker (re)connects, not once at start: a worker started
    before the broker, or a broker that comes back without its queues, gets them
    declared. Every queue, not only those this worker consumes: no worker
    consumes the dead-letter queue, and delayed delivery binds every queue,
    which fails for another group's queue that does not exist yet. One step, so
    that the declaration always comes first (bootsteps without a dependency
    between them start in no fixed order).
    """

    def start(self, c) -> None:
        with c.connection.channel() as channel:
            for queue in c.app.conf.task_queues:
                queue.bind(channel).declare()
        super().start(c)


class TopologyConsumer(DurableConsumer):
    """The consumer that records refused messages, with the step above in place of Celery's."""

    class Blueprint(DurableConsumer.Blueprint):
        default_steps = [
            *(
                step
                for step in DurableConsumer.Blueprint.default_steps
                if "DelayedDelivery" not in step
            ),
            DelayedDeliveryOfEveryQueue,
        ]

    def start(self) -> None:
        """Queues are declared here, on every (re)connection: a conflict stops it in one line."""
        try:
            with topology.explained_conflicts():
                super().start()
        except topology.QueueConflict as conflict:
            # In place of Celery's "Unrecoverable error" and its traceback.
            logger.critical("%s", conflict)
            raise WorkerShutdown(EX_FAILURE) from None


# In place of celeryconfig's DurableConsumer.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#worker-consumer
app.conf.worker_consumer = TopologyConsumer
{% endif %}
{% if sentry %}


{% if beat %}
@beat_init.connect
{% endif %}
@celeryd_init.connect
def init_error_reports(**_) -> None:
    """Sentry in the worker{% if beat %} and beat{% endif %} processes, before any task runs."""
    observability.init_sentry_from_environment()
{% endif %}
{% if otel %}


@worker_process_init.connect
def init_tracing(**_) -> None:
    """OpenTelemetry in each prefork child, after the fork (threads do not survive it)."""
    observability.init_tracing()
{% endif %}

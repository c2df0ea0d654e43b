{% set rabbitmq = cookiecutter.broker == 'rabbitmq' %}
{% set priorities = cookiecutter.queue_topology == 'priority' %}
{% set events = cookiecutter.__task_events == 'yes' %}
{% set redis_transport = cookiecutter.broker == 'redis' or cookiecutter.result_backend == 'redis' %}
"""Celery configuration: production defaults, read from the environment.

Template-owned baseline. Put your changes in ``overrides.py``: its SETTINGS
are applied last, and template updates never touch it.

Every setting is documented at
https://docs.celeryq.dev/en/stable/userguide/configuration.html
"""

from __future__ import annotations

{% if redis_transport %}
from celery.exceptions import ImproperlyConfigured

{% endif %}
{% if cookiecutter.beat_scheduler in ['static', 'redbeat'] %}
from {{ cookiecutter.project_slug }} import overrides, schedule, topology
{% else %}
from {{ cookiecutter.project_slug }} import overrides, topology
{% endif %}
from {{ cookiecutter.project_slug }}.environment import environment
{% if redis_transport and rabbitmq %}
from {{ cookiecutter.project_slug }}.tasking import publishing, retry
{% elif redis_transport %}
from {{ cookiecutter.project_slug }}.tasking import retry
{% else %}
from {{ cookiecutter.project_slug }}.tasking import publishing
{% endif %}

_env = environment()
_prefix = topology.prefix()
{% if redis_transport %}

# Redis redelivery
# ------------------------------------------------------------------------------
# Redis delivers a message again when it is not acknowledged within the
# visibility timeout, even while a worker still runs it. It must exceed the
# longest hard time limit, the longest countdown and the longest retry backoff.
# https://docs.celeryq.dev/en/stable/getting-started/backends-and-brokers/redis.html#visibility-timeout
_redelivery_bounds = {
    "the longest hard time limit": topology.max_time_limit(),
    "retry.MAX_COUNTDOWN": retry.MAX_COUNTDOWN,
    "retry.RETRY_BACKOFF_MAX": retry.RETRY_BACKOFF_MAX,
}
# CELERY_VISIBILITY_TIMEOUT may raise it. Only tests (APP_ENV=test) may lower it
# below the bounds: the chaos tests do, to see a crashed task redelivered
# within seconds, with tasks far shorter than the timeout.
VISIBILITY_TIMEOUT = _env.celery_visibility_timeout or max(_redelivery_bounds.values()) + 300
if _env.app_env != "test":
    for _what, _seconds in _redelivery_bounds.items():
        if _seconds >= VISIBILITY_TIMEOUT:
            raise ImproperlyConfigured(
                f"the visibility timeout ({VISIBILITY_TIMEOUT} s) must exceed {_what} "
                f"({_seconds} s), or Redis delivers the task again while it still runs: "
                "raise CELERY_VISIBILITY_TIMEOUT or leave it unset"
            )
{% endif %}

# TLS: {{ 'amqps:// and rediss://' if rabbitmq and cookiecutter.__needs_redis == 'yes' else ('amqps://' if rabbitmq else 'rediss://') }} URLs, always verified in production (tls.py)
# ------------------------------------------------------------------------------
# TLS options are taken off the URLs and given to each client in its own form.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#broker-use-ssl
_broker = _env.endpoint("celery_broker_url")
# Celery prefers the CELERY_BROKER_URL variable to broker_url, and these two
# settings to both: every connection gets the URL without its TLS parameters.
broker_read_url = broker_write_url = _broker.url
{% if rabbitmq %}
broker_use_ssl = _broker.amqp_options()
{% else %}
broker_use_ssl = _broker.redis_options()
{% endif %}
{% if cookiecutter.result_backend == 'redis' %}
_results = _env.endpoint("celery_result_backend")
redis_backend_use_ssl = _results.redis_options()
{% endif %}
{% if cookiecutter.beat_scheduler == 'redbeat' %}
_store = _env.endpoint("redis_url")
redbeat_redis_use_ssl = _store.redis_options()
{% endif %}

# Broker
# ------------------------------------------------------------------------------
broker_url = _broker.url
# Keep retrying when the broker is not up yet at start (compose, rolling restarts).
broker_connection_retry_on_startup = True
{% if rabbitmq %}
# Publisher confirms: apply_async returns only once RabbitMQ has the message.
broker_transport_options = {"confirm_publish": True}
{% else %}
broker_transport_options = {
    "visibility_timeout": VISIBILITY_TIMEOUT,
{% if priorities %}
    # Ten priority levels, served strictly highest first.
    "priority_steps": list(range(topology.MAX_PRIORITY + 1)),
    "queue_order_strategy": "priority",
{% endif %}
}
{% endif %}
# A worker whose pool runs its tasks in threads acknowledges, retries and
# records dead letters from every thread at once: its connection pools hold one
# connection per thread, or a thread waits for one (or fails, and its message
# is restored and run twice). The launcher names the group it starts.
_group = topology.current_worker()
if _group is not None and _group.pool != "prefork":
    broker_pool_limit = _group.concurrency + 10
{% if not rabbitmq %}
    broker_transport_options["max_connections"] = _group.concurrency + 10
{% endif %}
{% if cookiecutter.result_backend == 'redis' %}
    redis_max_connections = _group.concurrency + 10
{% endif %}

# Serialization: only what we produce is accepted (never pickle).
# ------------------------------------------------------------------------------
{% if cookiecutter.message_signing %}
# Messages are signed with the auth serializer; its payload is {{ cookiecutter.serializer }}.
# https://docs.celeryq.dev/en/stable/userguide/security.html#message-signing
task_serializer = "auth"
accept_content = ["auth"]
security_key = _env.celery_signing_key
security_certificate = _env.celery_signing_cert
security_cert_store = _env.celery_signing_cert_store + "/*.crt"
security_digest = "sha256"
security_key_password = None
{% else %}
task_serializer = "{{ cookiecutter.serializer }}"
accept_content = ["{{ cookiecutter.serializer }}"]
{% endif %}
event_serializer = "json"
{% if cookiecutter.result_backend != 'none' %}
result_serializer = "{{ cookiecutter.serializer }}"
result_accept_content = ["{{ cookiecutter.serializer }}"]
{% endif %}

# Reliability
# ------------------------------------------------------------------------------
{% if rabbitmq %}
# Sending a task holds its caller for at most publishing.PUBLISH_BOUND seconds.
task_publish_retry_policy = publishing.PUBLISH_RETRY_POLICY
{% endif %}
# Acknowledge after the task ran: a crash means redelivery, not loss. Tasks
# must therefore be idempotent.
task_acks_late = True
# A child killed by the OOM killer or SIGKILL puts its message back.
task_reject_on_worker_lost = True
{% if rabbitmq %}
# A task that failed for good, or hit its hard time limit, is rejected, not
# acknowledged, so RabbitMQ dead-letters its message to the dead-letter queue
# (the task base class records it too).
task_acks_on_failure = False
task_acks_on_timeout = False
{% endif %}
# Refused messages (unknown task, {% if cookiecutter.message_signing %}bad signature, {% endif %}undecodable) become dead letters.
worker_consumer = "{{ cookiecutter.project_slug }}.tasking.outcomes:DurableConsumer"
# After a lost broker connection, running late-ack tasks are cancelled: their
# messages are redelivered anyway, and would otherwise run twice.
worker_cancel_long_running_tasks_on_connection_loss = True
# On a cold shutdown (SIGQUIT; SIGTERM in compose.prod.yaml), production gives
# running tasks this long before their messages are restored, and waits it out
# even when idle; the compose files' stop_grace_period is derived from it.
# Development and tests stop on Ctrl+C at once.
_soft_shutdown = _env.app_env == "production"
worker_soft_shutdown_timeout = {{ topology(cookiecutter.queue_topology).soft_shutdown_timeout }}.0 if _soft_shutdown else 0.0
worker_enable_soft_shutdown_on_idle = _soft_shutdown
# A typo in a queue name fails loudly instead of creating a queue nobody consumes.
task_create_missing_queues = False
# No task_soft_time_limit / task_time_limit here: a publisher writes them into
# every message, and a message's limits override the consuming worker's. Each
# worker group gets its limits, pool, concurrency and prefetch on the command
# line from the launcher (worker.py, topology.workers()), so a task runs under
# the limits of the group that consumes its queue.
timezone = "UTC"
enable_utc = True

# Queues and routes (topology.py)
# ------------------------------------------------------------------------------
task_queues = topology.declare_queues(_prefix)
task_default_queue = _prefix + topology.DEFAULT_QUEUE
task_default_exchange = _prefix + "tasks"
{% if rabbitmq %}
# A topic exchange lets quorum queues use native delayed delivery for countdowns.
task_default_exchange_type = "topic"
{% else %}
task_default_exchange_type = "direct"
{% endif %}
task_default_routing_key = _prefix + topology.DEFAULT_QUEUE
{% if rabbitmq %}
task_default_delivery_mode = "persistent"
{% endif %}


def _route(name, args, kwargs, options, task=None, **kw):
    return {"queue": _prefix + topology.route_for(name)}


task_routes = (_route,)
{% if priorities %}
{% if rabbitmq %}
# Work queues declare their own maximum priority (topology.py); the global
# task_queue_max_priority would also apply it to the dead-letter queue.
{% endif %}
task_default_priority = topology.PRIORITY_BY_QUEUE[topology.DEFAULT_QUEUE]
{% endif %}

# Broadcasts: remote control and events
# ------------------------------------------------------------------------------
# A process with prefix P sends and receives broadcasts only to/from processes
# with prefix P, as it does tasks: remote control (celery inspect and control,
# monitoring, a starting worker's hello) on "<P>celery.pidbox", its replies on
# "reply.<P>celery.pidbox", events on "<P>celeryev". Otherwise a test run's
# workers would answer another run's broadcasts, and record those they cannot
# decode as dead letters. Unprefixed, these are Celery's defaults.
# https://docs.celeryq.dev/en/stable/userguide/configuration.html#control-exchange
control_exchange = _prefix + topology.CONTROL_EXCHANGE
event_exchange = _prefix + topology.EVENT_EXCHANGE
{% if rabbitmq %}
# Control and event queues are exclusive: RabbitMQ 4.3 refuses transient
# non-exclusive queues.
control_queue_exclusive = True
event_queue_exclusive = True
{% endif %}

# Results
# ------------------------------------------------------------------------------
{% if cookiecutter.result_backend == 'none' %}
# No result backend: nothing reads results, so none are stored.
task_ignore_result = True
{% else %}
{% if cookiecutter.result_backend == 'django-db' %}
result_backend = "django-db"
result_extended = True
{% else %}
{% if cookiecutter.result_backend == 'redis' %}
result_backend = _results.url
{% else %}
result_backend = _env.celery_result_backend
{% endif %}
{% endif %}
{% if cookiecutter.result_backend == 'redis' %}
result_backend_transport_options = {"visibility_timeout": VISIBILITY_TIMEOUT}
{% endif %}
# Results are kept a day, then removed{% if cookiecutter.result_backend == 'django-db' %} by beat's celery.backend_cleanup{% endif %}.
result_expires = 24 * 60 * 60
{% if cookiecutter.result_backend in ['redis', 'django-db'] %}
# Skip a redelivered task that already succeeded (a cheap extra guard).
worker_deduplicate_successful_tasks = True
{% endif %}
{% endif %}

# Events: {% if events %}consumed by the monitoring stack{% else %}off, nothing consumes them (they cost throughput){% endif %}.
# ------------------------------------------------------------------------------
worker_send_task_events = {{ 'True' if events else 'False' }}
task_send_sent_event = {{ 'True' if events else 'False' }}

# Logging: the application configures logging, Celery does not take it over.
# ------------------------------------------------------------------------------
worker_hijack_root_logger = False

{% if cookiecutter.beat_scheduler != 'none' %}
# Beat: exactly one per environment (schedule.py)
# ------------------------------------------------------------------------------
{% if cookiecutter.beat_scheduler == 'static' %}
# PersistentScheduler with a liveness file for the healthcheck (tasking/beat.py).
beat_scheduler = "{{ cookiecutter.project_slug }}.tasking.beat:Scheduler"
# Wake up at least this often (default 300 s), so the healthcheck sees a stuck beat quickly.
beat_max_loop_interval = 30
# On a volume, so a restarted beat knows what already ran.
beat_schedule_filename = _env.celery_beat_schedule_file
beat_schedule = schedule.beat_schedule()
{% elif cookiecutter.beat_scheduler == 'redbeat' %}
# Schedule and lock in Redis: a standby beat takes over when the lock expires.
# https://redbeat.readthedocs.io/en/latest/config.html
# RedBeatScheduler with a liveness file for the healthcheck (tasking/beat.py).
beat_scheduler = "{{ cookiecutter.project_slug }}.tasking.beat:Scheduler"
redbeat_redis_url = _store.url
redbeat_key_prefix = _prefix + "redbeat"
# The lock expires after redbeat_lock_timeout without renewal; the loop
# renews it every beat_max_loop_interval. Short values mean quick failover.
beat_max_loop_interval = 5
redbeat_lock_timeout = 30
beat_schedule = schedule.beat_schedule()
{% else %}
# Schedules live in the database, seeded by a data migration, edited in the admin.
# DatabaseScheduler with a liveness file for the healthcheck (tasking/beat.py).
beat_scheduler = "{{ cookiecutter.project_slug }}.tasking.beat:Scheduler"
{% endif %}

{% endif %}
# Task modules: the example families, then yours (overrides.TASK_MODULES).
# ------------------------------------------------------------------------------
imports = (
{% for family in topology(cookiecutter.queue_topology).families %}
    "{{ cookiecutter.project_slug }}.{{ family }}.tasks",
{% endfor %}
    *getattr(overrides, "TASK_MODULES", ()),
)

# Your overrides win. Those that stand for a worker group's option go to the
# worker groups instead (topology.workers()), never into messages.
globals().update(
    {
        k: v
        for k, v in getattr(overrides, "SETTINGS", {}).items()
        if k not in topology.GROUP_SETTINGS
    }
)

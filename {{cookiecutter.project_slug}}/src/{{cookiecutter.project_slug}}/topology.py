{% set topo = topology(cookiecutter.queue_topology) %}
{% set rabbitmq = cookiecutter.broker == 'rabbitmq' %}
{% set priorities = cookiecutter.queue_topology == 'priority' %}
"""Queue topology ({{ topo.name }}): queues, routes and per-queue worker settings.

{{ topo.summary }}

This module is the one source of truth for where tasks go and how each worker
consumes. The worker start script, the compose files, the alert rules and the
tests all read it. Template-owned baseline: add your own queues and routes in
``overrides.py`` instead of editing this file.

Docs: https://docs.celeryq.dev/en/stable/userguide/routing.html
"""

from __future__ import annotations

from dataclasses import dataclass

from kombu import Exchange, Queue

from {{ cookiecutter.project_slug }} import overrides


@dataclass(frozen=True)
class Worker:
    """How one worker group consumes: which queues, how many processes, which limits."""

    name: str
    queues: tuple[str, ...]
    purpose: str
    pool: str
    concurrency: int
    # Messages reserved per process. High for many short tasks (throughput),
    # 1 for long tasks (fair dispatch). Unacknowledged reserved messages are
    # redelivered if the worker dies, so late acks stay safe.
    prefetch_multiplier: int
    soft_time_limit: int  # seconds; raises SoftTimeLimitExceeded in the task
    time_limit: int  # seconds; the child is killed
    max_tasks_per_child: int  # recycle children to bound leaks
    max_memory_per_child: int  # KiB


QUEUES = (
{% for queue in topo.queues %}
    "{{ queue.name }}",  # {{ queue.purpose }}
{% endfor %}
)
DEFAULT_QUEUE = "{{ topo.default_queue }}"
# Where tasks that failed for good are kept for inspection and requeueing.
DEAD_LETTER_QUEUE = "{{ topo.dead_letter_queue }}"
{% if rabbitmq %}
DEAD_LETTER_TTL_MS = 14 * 24 * 60 * 60 * 1000
{% endif %}

# Task family (the package a task lives in) -> queue.
ROUTES_BY_FAMILY = {
{% for family, queue in topo.routes.items() %}
    "{{ family }}": "{{ queue }}",
{% endfor %}
}

WORKERS = (
{% for worker in topo.workers %}
    Worker(
        name="{{ worker.name }}",
        queues=({{ worker.queues | map('tojson') | join(', ') }}{{ ',' if worker.queues | length == 1 }}),
        purpose="{{ worker.purpose }}",
        pool="{{ worker.pool }}",
        concurrency={{ worker.concurrency }},
        prefetch_multiplier={{ worker.prefetch_multiplier }},
        soft_time_limit={{ worker.soft_time_limit }},
        time_limit={{ worker.time_limit }},
        max_tasks_per_child={{ worker.max_tasks_per_child }},
        max_memory_per_child={{ worker.max_memory_per_child }},
    ),
{% endfor %}
)
{% if priorities %}

# Message priorities, 0 (lowest) to 9 (highest).
MAX_PRIORITY = 9
PRIORITY_BY_QUEUE = {"high": 9, "default": 5, "low": 1}
{% endif %}


def prefix() -> str:
    """The prefix of every queue and exchange name in this process (empty in production)."""
    from {{ cookiecutter.project_slug }}.environment import environment

    return environment().celery_queue_prefix


def max_time_limit() -> int:
    """The longest hard time limit of any worker group, in seconds."""
    return max(w.time_limit for w in WORKERS)


# overrides.py is yours and baseline updates never touch it, so it may predate
# a name the baseline reads: each is read with a default.
def all_queue_names() -> tuple[str, ...]:
    """Baseline queues followed by the ones added in overrides.py."""
    extra = getattr(overrides, "EXTRA_QUEUES", ())
    return QUEUES + tuple(q for q in extra if q not in QUEUES)


def route_for(task_name: str) -> str:
    """The queue a task is routed to: explicit override, then its family."""
    extra = getattr(overrides, "EXTRA_ROUTES", {})
    if task_name in extra:
        return extra[task_name]
    parts = task_name.split(".")
    family = parts[1] if len(parts) > 2 and parts[0] == "{{ cookiecutter.project_slug }}" else ""
    return ROUTES_BY_FAMILY.get(family, DEFAULT_QUEUE)


{% if rabbitmq %}
def declare_queues(prefix: str = "") -> list[Queue]:
    """kombu declarations of the work queues and the dead-letter queue.

    Work queues are durable and dead-letter rejected messages to
    ``DEAD_LETTER_QUEUE``. RabbitMQ refuses to redeclare a queue with other
    arguments, so these arguments are fixed from the first deployment on.
    https://www.rabbitmq.com/docs/dlx
    """
    exchange = Exchange(prefix + "tasks", type="topic", durable=True)
    dead_letters = Exchange(prefix + DEAD_LETTER_QUEUE, type="topic", durable=True)
    arguments = {
        "x-dead-letter-exchange": dead_letters.name,
        "x-dead-letter-routing-key": prefix + DEAD_LETTER_QUEUE,
{% if priorities %}
        # Quorum queues on RabbitMQ 3.x have no priorities: classic durable queues.
        "x-max-priority": MAX_PRIORITY,
{% else %}
        # Quorum queues replicate, and bound redelivery loops of poison messages.
        "x-queue-type": "quorum",
        "x-delivery-limit": 10,
{% endif %}
    }
    queues = [
        Queue(
            prefix + name,
            exchange,
            routing_key=prefix + name,
            durable=True,
            queue_arguments=arguments,
        )
        for name in all_queue_names()
    ]
    queues.append(
        Queue(
            prefix + DEAD_LETTER_QUEUE,
            dead_letters,
            routing_key=prefix + DEAD_LETTER_QUEUE,
            durable=True,
            # Kept two weeks for inspection; the task base class has recorded each one.
            queue_arguments={"x-queue-type": "quorum", "x-message-ttl": DEAD_LETTER_TTL_MS},
        )
    )
    return queues


def delete_queues(connection, prefix: str) -> None:
    """Delete what ``declare_queues(prefix)`` declares: for test runs only.

    Test runs declare durable queues under a prefix of their own; without this
    they would pile up on the broker, run after run.
    """
    if not prefix:
        raise ValueError("refusing to delete unprefixed queues: those are production's")
    channel = connection.default_channel
    for queue in declare_queues(prefix):
        queue.bind(channel).delete()
        queue.exchange.bind(channel).delete()
{% else %}
def declare_queues(prefix: str = "") -> list[Queue]:
    """kombu declarations of the work queues.

    Redis has no dead-lettering: failed tasks are recorded by the task base
    class instead (see ``tasking``).
    """
    exchange = Exchange(prefix + "tasks", type="direct")
    return [Queue(prefix + name, exchange, routing_key=prefix + name) for name in all_queue_names()]
{% endif %}

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

{% if rabbitmq %}
import re
from collections.abc import Iterator
from contextlib import contextmanager
{% endif %}
from dataclasses import asdict, dataclass
from dataclasses import fields as dataclass_fields

{% if rabbitmq %}
from amqp.exceptions import PreconditionFailed
{% endif %}
from kombu import Exchange, Queue
{% if rabbitmq %}
from kombu.pidbox import Mailbox
{% endif %}

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


# What a new group gets for the fields it does not set (overrides.EXTRA_WORKERS),
# by the kind of task its queues hold.
PROFILES = {
{% for profile, fields in topo.profiles.items() %}
    "{{ profile }}": {
{% for field, value in fields.items() %}
        "{{ field }}": {{ value | tojson }},
{% endfor %}
    },
{% endfor %}
}
DEFAULT_PROFILE = "general"

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

# The baseline worker groups. Change them, or add your own, in overrides.py
# (WORKERS, EXTRA_WORKERS); every consumer reads the merged groups of workers().
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
MAX_PRIORITY = {{ topo.max_priority }}
PRIORITY_BY_QUEUE = {"high": 9, "default": 5, "low": 1}
{% endif %}


def prefix() -> str:
    """The prefix of every queue and exchange name in this process (empty in production)."""
    from {{ cookiecutter.project_slug }}.environment import environment

    return environment().celery_queue_prefix


# Celery's names for its broadcast exchanges, which get the prefix too (celeryconfig.py).
CONTROL_EXCHANGE = "celery"
EVENT_EXCHANGE = "celeryev"


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


class TopologyError(ValueError):
    """overrides.py asks for a worker group the topology cannot have; the message says why."""


# Celery settings that stand for a worker group's field. In overrides.SETTINGS
# they tune every group (overrides.WORKERS tunes one); they are never sent
# with a task, so each task runs under the limits of the group that consumes it.
GROUP_SETTINGS = {
    "worker_pool": "pool",
    "worker_concurrency": "concurrency",
    "worker_prefetch_multiplier": "prefetch_multiplier",
    "task_soft_time_limit": "soft_time_limit",
    "task_time_limit": "time_limit",
    "worker_max_tasks_per_child": "max_tasks_per_child",
    "worker_max_memory_per_child": "max_memory_per_child",
}
_TUNABLE = set(GROUP_SETTINGS.values())


def _fields_of(worker: Worker) -> dict:
    return {k: v for k, v in asdict(worker).items() if k != "name"}


def _checked(name: str, fields: dict, where: str) -> Worker:
    unknown = (
        set(fields) - {f.name for f in dataclass_fields(Worker) if f.name != "name"} - {"profile"}
    )
    if unknown:
        known = ", ".join(sorted(_TUNABLE | {"queues", "purpose", "profile"}))
        raise TopologyError(
            f"{where}: unknown field(s) {', '.join(sorted(unknown))} for worker group "
            f"{name!r}; use {known}"
        )
    fields = {k: v for k, v in fields.items() if k != "profile"}
    for field in _TUNABLE - {"pool"}:
        value = fields.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise TopologyError(
                f"{where}: worker group {name!r} has {field}={value!r}; "
                "give a positive whole number"
            )
    queues = fields.get("queues")
    if isinstance(queues, str) or not queues:
        raise TopologyError(
            f'{where}: worker group {name!r} needs a list of queues, e.g. ["{name}"]'
        )
    undeclared = [q for q in queues if q not in all_queue_names()]
    if undeclared:
        raise TopologyError(
            f"{where}: worker group {name!r} consumes {', '.join(undeclared)}, which no "
            "queue declares: add it to EXTRA_QUEUES in overrides.py"
        )
    worker = Worker(name=name, **{**fields, "queues": tuple(queues)})
    if not 0 < worker.soft_time_limit < worker.time_limit:
        raise TopologyError(
            f"{where}: worker group {name!r} has soft_time_limit {worker.soft_time_limit} s and "
            f"time_limit {worker.time_limit} s; the soft limit must be positive and below "
            "the hard one"
        )
    return worker


def workers() -> tuple[Worker, ...]:
    """Every worker group: the baseline's tuned by overrides.py, then the user's own.

    Order of precedence, lowest first: the baseline group, overrides.SETTINGS
    (every group), overrides.WORKERS (one group). overrides.EXTRA_WORKERS adds
    groups; the fields they leave out come from their profile (PROFILES).
    """
    everywhere = {
        GROUP_SETTINGS[k]: v
        for k, v in getattr(overrides, "SETTINGS", {}).items()
        if k in GROUP_SETTINGS
    }
    tuned = getattr(overrides, "WORKERS", {})
    names = [w.name for w in WORKERS]
    unknown = [name for name in tuned if name not in names]
    if unknown:
        raise TopologyError(
            f"overrides.WORKERS names {', '.join(unknown)}, not a baseline worker group "
            f"({', '.join(names)}); add new groups to EXTRA_WORKERS instead"
        )
    groups = [
        _checked(
            w.name, {**_fields_of(w), **everywhere, **tuned.get(w.name, {})}, "overrides.WORKERS"
        )
        for w in WORKERS
    ]
    for name, fields in getattr(overrides, "EXTRA_WORKERS", {}).items():
        if name in names:
            raise TopologyError(
                f"overrides.EXTRA_WORKERS: {name!r} is a baseline worker group; tune it in "
                "WORKERS instead"
            )
        profile = fields.get("profile", DEFAULT_PROFILE)
        if profile not in PROFILES:
            raise TopologyError(
                f"overrides.EXTRA_WORKERS: worker group {name!r} asks for profile {profile!r}; "
                f"choose one of {', '.join(PROFILES)}"
            )
        base = {"purpose": f"{profile} tasks (overrides.py)", **PROFILES[profile], **everywhere}
        groups.append(_checked(name, {**base, **fields}, "overrides.EXTRA_WORKERS"))
        names.append(name)
    return tuple(groups)


def current_worker() -> Worker | None:
    """The worker group this process runs, when the launcher started it."""
    from {{ cookiecutter.project_slug }}.environment import environment

    name = environment().celery_worker_group
    return worker(name) if name else None


def worker(name: str) -> Worker:
    """The worker group called ``name``; an unknown name is refused with the list of groups."""
    for group in workers():
        if group.name == name:
            return group
    choices = ", ".join(group.name for group in workers())
    raise TopologyError(f"unknown worker group {name!r}; the groups are: {choices}")


def worker_arguments(group: Worker, queue_prefix: str | None = None) -> list[str]:
    """The ``celery worker`` options that run ``group`` (queue names get this process's prefix).

    A field set to None (a benchmark trying Celery's defaults) leaves its option out.
    """
    queue_prefix = prefix() if queue_prefix is None else queue_prefix
    options = {
        "queues": ",".join(queue_prefix + queue for queue in group.queues),
        "hostname": f"{group.name}@%h",
        "pool": group.pool,
        "concurrency": group.concurrency,
        "prefetch-multiplier": group.prefetch_multiplier,
        "soft-time-limit": group.soft_time_limit,
        "time-limit": group.time_limit,
        "max-tasks-per-child": group.max_tasks_per_child,
        "max-memory-per-child": group.max_memory_per_child,
    }
    return [f"--{name}={value}" for name, value in options.items() if value is not None]


def max_time_limit() -> int:
    """The longest hard time limit of any worker group, in seconds."""
    return max(w.time_limit for w in workers())


def unconsumed_queues() -> list[str]:
    """Declared queues that no worker group consumes: their tasks would wait for ever."""
    consumed = {queue for group in workers() for queue in group.queues}
    return [queue for queue in all_queue_names() if queue not in consumed]


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


class QueueConflict(RuntimeError):
    """A queue of this project already exists on the broker, with other arguments."""


# RabbitMQ's reason: "inequivalent arg 'x-queue-type' for queue 'NAME' in vhost 'VHOST': ..."
_INEQUIVALENT = re.compile(r"inequivalent arg '([^']*)' for queue '([^']*)' in vhost '([^']*)'")


@contextmanager
def explained_conflicts() -> Iterator[None]:
    """Turns RabbitMQ's refusal to redeclare a queue into a one-line ``QueueConflict``.

    Another project (or an earlier version of this one) on the same vhost has
    a queue of that name with other arguments, and RabbitMQ never changes them.
    Workers (``celery_app.py``) and publishers (``tasking/base.py``) declare
    queues inside it.
    """
    try:
        yield
    except PreconditionFailed as error:
        found = _INEQUIVALENT.search(str(error))
        if found is None:
            raise
        argument, queue, vhost = found.groups()
        raise QueueConflict(
            f"queue {queue!r} already exists on vhost {vhost!r} with other arguments "
            f"({argument}): use a vhost of your own "
            "(CELERY_BROKER_URL=amqp://.../{{ cookiecutter.project_slug }}) "
            f"or delete the queue (rabbitmqctl delete_queue -p '{vhost}' '{queue}')"
        ) from None


def delete_queues(connection, prefix: str) -> None:
    """Delete what ``declare_queues(prefix)`` declares, and the prefix's broadcast exchanges.

    For test runs only. They declare durable queues and exchanges under a
    prefix of their own; without this those would pile up on the broker, run
    after run.
    """
    if not prefix:
        raise ValueError("refusing to delete unprefixed queues: those are production's")
    channel = connection.default_channel
    for queue in declare_queues(prefix):
        queue.bind(channel).delete()
        queue.exchange.bind(channel).delete()
    # Remote control, its replies, events (celeryconfig.py).
    control = Mailbox(prefix + CONTROL_EXCHANGE)
    for exchange in (control.exchange, control.reply_exchange, Exchange(prefix + EVENT_EXCHANGE)):
        exchange.bind(channel).delete()
{% else %}
def declare_queues(prefix: str = "") -> list[Queue]:
    """kombu declarations of the work queues.

    Redis has no dead-lettering: failed tasks are recorded by the task base
    class instead (see ``tasking``).
    """
    exchange = Exchange(prefix + "tasks", type="direct")
    return [Queue(prefix + name, exchange, routing_key=prefix + name) for name in all_queue_names()]
{% endif %}

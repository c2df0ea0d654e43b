"""Jinja helpers for the template.

The queue topologies live here as data, once. Every file that needs them
(``topology.py`` in the generated package, the compose worker services, the
alert rules, the docs) renders from :func:`topology`, so a queue renamed here is
renamed everywhere at bake time.

Cookiecutter loads this module through ``_extensions`` in cookiecutter.json; it
puts the template directory on ``sys.path`` while it bakes (cruft does too).
Python imports it once per process, but ``cruft update`` renders two commits of
the template in one process: :class:`TopologyExtension` therefore installs the
helpers of this file as it is on disk now, not as it was first imported.
"""

from __future__ import annotations

import copy
import hashlib
import sys
from pathlib import Path
from types import ModuleType

from jinja2 import Environment
from jinja2.ext import Extension

# Task families of the generated project. Each example package
# (``<slug>.<family>.tasks``) is routed by the topology's ``routes``.
FAMILIES = ("notifications", "reports", "integrations", "maintenance")

# Per-worker-group profiles. Time limits are in seconds; memory in KiB, as
# Celery's ``--max-memory-per-child`` takes it. Hard limits stay below
# RabbitMQ's default consumer_timeout (1800 s) so a long task is never cut off
# by the broker while it still runs.
_SHORT = {
    "pool": "prefork",
    "concurrency": 4,
    "prefetch_multiplier": 16,
    "soft_time_limit": 20,
    "time_limit": 30,
    "max_tasks_per_child": 1000,
    "max_memory_per_child": 262144,
}
_LONG = {
    "pool": "prefork",
    "concurrency": 2,
    "prefetch_multiplier": 1,
    "soft_time_limit": 1200,
    "time_limit": 1260,
    "max_tasks_per_child": 50,
    "max_memory_per_child": 524288,
}
_GENERAL = {
    "pool": "prefork",
    "concurrency": 4,
    "prefetch_multiplier": 4,
    "soft_time_limit": 240,
    "time_limit": 300,
    "max_tasks_per_child": 500,
    "max_memory_per_child": 393216,
}

# Tasks that mostly wait on the network (third-party APIs): threads, not
# processes. Measured with 0.1 s waits (BENCHMARKS.md): 64 threads drain 15.8x
# what 4 prefork processes do, in a quarter of their memory. The threads pool
# enforces no time limit and recycles nothing: every I/O call carries timeouts
# from the soft limit, and the progress-based health check makes the worker
# unhealthy (restarted, messages redelivered) when a task outlives the hard limit.
_IO = {
    "pool": "threads",
    "concurrency": 64,
    "prefetch_multiplier": 2,
    "soft_time_limit": 50,
    "time_limit": 60,
    "max_tasks_per_child": 1000,
    "max_memory_per_child": 524288,
}

# The profiles a user's own worker group can start from (overrides.EXTRA_WORKERS),
# by the kind of task its queues hold.
PROFILES = {"short": _SHORT, "general": _GENERAL, "long": _LONG, "io": _IO}

TOPOLOGIES = {
    "fast-slow": {
        "summary": "A latency-sensitive queue for short tasks and a heavy queue for long ones.",
        "queues": [
            {"name": "fast", "purpose": "short, latency-sensitive tasks", "kind": "short"},
            {"name": "slow", "purpose": "long, heavy tasks", "kind": "long"},
        ],
        "default_queue": "fast",
        "routes": {
            "notifications": "fast",
            "integrations": "fast",
            "reports": "slow",
            "maintenance": "slow",
        },
        "workers": [
            {
                "name": "fast",
                "queues": ["fast"],
                "purpose": "many short tasks: high prefetch keeps the pool busy",
                **_SHORT,
            },
            {
                "name": "slow",
                "queues": ["slow"],
                "purpose": "long tasks: prefetch 1 for fair dispatch, children recycled often",
                **_LONG,
            },
        ],
    },
    "single": {
        "summary": "One default queue and one worker.",
        "queues": [{"name": "default", "purpose": "every task", "kind": "general"}],
        "default_queue": "default",
        "routes": {family: "default" for family in FAMILIES},
        "workers": [
            {
                "name": "default",
                "queues": ["default"],
                "purpose": "every task",
                **_GENERAL,
            },
        ],
    },
    "priority": {
        "summary": "high, default and low queues with broker priorities.",
        # Message priorities run from 0 (lowest) to this.
        "max_priority": 9,
        "queues": [
            {"name": "high", "purpose": "urgent, user-facing tasks", "kind": "short"},
            {"name": "default", "purpose": "ordinary tasks", "kind": "general"},
            {"name": "low", "purpose": "bulk and housekeeping tasks", "kind": "long"},
        ],
        "default_queue": "default",
        "routes": {
            "notifications": "high",
            "integrations": "default",
            "reports": "low",
            "maintenance": "low",
        },
        "workers": [
            {
                "name": "high",
                "queues": ["high"],
                "purpose": "reserved capacity so urgent tasks never wait behind bulk work",
                **_SHORT,
                "concurrency": 2,
                "prefetch_multiplier": 4,
            },
            {
                "name": "default",
                "queues": ["high", "default", "low"],
                "purpose": "every queue in priority order; prefetch 1 so priorities are honoured",
                **_GENERAL,
                "prefetch_multiplier": 1,
                "soft_time_limit": 1200,
                "time_limit": 1260,
            },
        ],
    },
    "per-domain": {
        "summary": "One queue per task family, each with its own worker.",
        "queues": [
            {
                "name": "notifications",
                "purpose": "short, idempotent messages to people",
                "kind": "short",
            },
            {"name": "reports", "purpose": "long report generation", "kind": "long"},
            {"name": "integrations", "purpose": "calls to third-party APIs", "kind": "short"},
            {
                "name": "default",
                "purpose": "housekeeping and anything not routed",
                "kind": "general",
            },
        ],
        "default_queue": "default",
        "routes": {
            "notifications": "notifications",
            "integrations": "integrations",
            "reports": "reports",
            "maintenance": "default",
        },
        "workers": [
            {
                "name": "notifications",
                "queues": ["notifications"],
                "purpose": "many short tasks: high prefetch",
                **_SHORT,
            },
            {
                "name": "reports",
                "queues": ["reports"],
                "purpose": "long tasks: prefetch 1, children recycled often",
                **_LONG,
            },
            {
                "name": "integrations",
                "queues": ["integrations"],
                "purpose": "I/O-bound API calls: threads, a rate limit shared by every worker",
                **_IO,
            },
            {
                "name": "default",
                "queues": ["default"],
                "purpose": "housekeeping",
                **_GENERAL,
                "concurrency": 2,
            },
        ],
    },
}

DEAD_LETTER_QUEUE = "dead_letter"

# Seconds a stopping worker gives running tasks before their messages are
# restored (Celery's worker_soft_shutdown_timeout). Each worker service's
# stop_grace_period leaves room for it, the group's soft time limit and a margin,
# so the container is never killed while Celery still shuts down in order.
SOFT_SHUTDOWN_TIMEOUT = 60
STOP_MARGIN = 30

# Messages waiting in a queue before its backlog alert fires, by the kind of
# task the queue holds: short tasks drain fast, so a backlog of them is cheap.
BACKLOG_THRESHOLDS = {"short": 1000, "general": 500, "long": 100}
# Runtime histogram buckets of the exporter (seconds), before the per-queue
# ones added by ``runtime_buckets``.
BASE_RUNTIME_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
# The runtime alert fires when the 95th percentile passes this share of the
# queue's soft time limit.
NEAR_SOFT_LIMIT = 0.8
# Seconds added to the longest legitimate wait of a delivered message before
# the unacknowledged-message alert (Redis) fires: a scrape and an evaluation.
UNACKED_MARGIN = 60

# Kubernetes autoscaling of every worker group (KEDA), unless a group sets its
# own "autoscaling". Overlays may patch the ScaledObjects further.
AUTOSCALING = {
    "min_replicas": 1,
    "max_replicas": 10,
    # Waiting messages that wake a group scaled to zero (only with min_replicas 0).
    "activation_threshold": 0,
}
# Kombu's Redis transport keeps each priority level of a queue in its own list:
# the queue's name for level 0, then name + separator + level for the others
# (kombu.transport.redis.Channel.sep and _q_for_pri).
KOMBU_REDIS_PRIORITY_SEPARATOR = "\x06\x16"
# CPU a worker group requests per pool process, in millicores.
CPU_PER_PROCESS_MILLICORES = 250


def _number(value: float) -> int | float:
    """``16.0`` as ``16``, so rendered thresholds read as written."""
    return int(value) if float(value).is_integer() else value


def runtime_buckets(queues: list[dict]) -> list[int | float]:
    """Histogram buckets that bracket every queue's soft limit and its alert threshold.

    ``histogram_quantile`` cannot place a percentile above the largest
    finite bucket, so the runtime alert needs buckets at these values.
    """
    edges = set(BASE_RUNTIME_BUCKETS)
    for queue in queues:
        edges.update((queue["runtime_alert_seconds"], queue["soft_time_limit"]))
    return [_number(edge) for edge in sorted(edges)]


def _monitoring(data: dict) -> None:
    """Per-queue alert thresholds, derived from the worker groups that consume each queue."""
    for queue in data["queues"]:
        consumers = [w for w in data["workers"] if queue["name"] in w["queues"]]
        # A task may run on any consumer: the strictest soft limit is the one to watch.
        queue["soft_time_limit"] = min(w["soft_time_limit"] for w in consumers)
        queue["runtime_alert_seconds"] = _number(NEAR_SOFT_LIMIT * queue["soft_time_limit"])
        queue["backlog_threshold"] = BACKLOG_THRESHOLDS[queue["kind"]]
        # A worker reserves concurrency x prefetch_multiplier messages and, with
        # late acks, acknowledges each after it ran: the last one it reserved may
        # wait behind prefetch_multiplier - 1 tasks per process, then run, each up
        # to the hard limit. Past that (and the margin), nobody is finishing it.
        queue["unacked_alert_seconds"] = UNACKED_MARGIN + max(
            w["prefetch_multiplier"] * w["time_limit"] for w in consumers
        )
    data["runtime_buckets"] = runtime_buckets(data["queues"])
    # Queues the exporter watches: every work queue and the dead-letter queue,
    # which no worker consumes and which it would otherwise never see.
    data["watched_queues"] = [q["name"] for q in data["queues"]] + [DEAD_LETTER_QUEUE]


def redis_lists(queue: str, max_priority: int) -> list[dict]:
    """The Redis lists that hold ``queue``'s messages, one per priority level.

    Each is ``{"key": list name, "trigger": a name for it in a KEDA formula}``.
    """
    lists = [{"key": queue, "trigger": f"{queue}_p0" if max_priority else queue}]
    for level in range(1, max_priority + 1):
        key = f"{queue}{KOMBU_REDIS_PRIORITY_SEPARATOR}{level}"
        lists.append({"key": key, "trigger": f"{queue}_p{level}"})
    return lists


def _kubernetes(data: dict) -> None:
    """What each worker group's KEDA ScaledObject watches, and the replica target."""
    for worker in data["workers"]:
        max_priority = data["max_priority"]
        worker["redis_lists"] = [
            item for queue in worker["queues"] for item in redis_lists(queue, max_priority)
        ]
        # Prefetched messages leave the Redis list (and are unacknowledged, so not
        # "ready", in RabbitMQ): the depth KEDA reads is what no replica has
        # reserved yet. One replica reserves concurrency x prefetch messages, so
        # that many still waiting per replica is a full second round of work.
        worker["scale_target"] = worker["concurrency"] * worker["prefetch_multiplier"]


def topology(name: str) -> dict:
    """The topology called ``name``, with derived fields filled in."""
    try:
        data = copy.deepcopy(TOPOLOGIES[name])
    except KeyError:
        choices = ", ".join(sorted(TOPOLOGIES))
        raise ValueError(f"unknown queue_topology {name!r}; choose one of: {choices}") from None
    data["name"] = name
    # 0 for topologies without broker priorities.
    data.setdefault("max_priority", 0)
    data["dead_letter_queue"] = DEAD_LETTER_QUEUE
    data["families"] = list(FAMILIES)
    data["max_time_limit"] = max(w["time_limit"] for w in data["workers"])
    data["soft_shutdown_timeout"] = SOFT_SHUTDOWN_TIMEOUT
    data["profiles"] = copy.deepcopy(PROFILES)
    for worker in data["workers"]:
        worker["service"] = "worker" if len(data["workers"]) == 1 else f"worker-{worker['name']}"
        grace = SOFT_SHUTDOWN_TIMEOUT + worker["soft_time_limit"] + STOP_MARGIN
        worker["stop_grace_seconds"] = grace
        worker["stop_grace_period"] = f"{grace}s"
        if worker["pool"] == "prefork":
            # Every child may grow to its memory bound before it is recycled, plus the parent.
            processes = worker["concurrency"]
        else:
            # One process runs every task: the bound is the whole worker's.
            processes = 1
        worker["memory_mib"] = processes * worker["max_memory_per_child"] // 1024 + 256
        worker["memory_limit"] = f"{worker['memory_mib']}m"
        worker["cpu_millicores"] = processes * CPU_PER_PROCESS_MILLICORES
        worker["autoscaling"] = {**AUTOSCALING, **worker.get("autoscaling", {})}
    _kubernetes(data)
    _monitoring(data)
    return data


def install(environment: Environment) -> None:
    """Give ``environment`` this module's helpers."""
    environment.globals["topology"] = topology


# This file's bytes when Python imported it.
_IMPORTED_SOURCE = Path(__file__).read_bytes()
# Newer versions of this file, loaded by TopologyExtension, by content hash.
_NEWER: dict[str, ModuleType] = {}


def _as_on_disk() -> ModuleType:
    """This module as its file reads now.

    ``cruft update`` checks out the project's template commit, renders it,
    checks out the newer commit in the same directory and renders again, in one
    process. The first import stays in ``sys.modules``, so without this the
    newer rendering would use the older topologies
    (https://github.com/cruft/cruft/issues/253).
    """
    source = Path(__file__).read_bytes()
    if source == _IMPORTED_SOURCE:
        return sys.modules[__name__]
    digest = hashlib.sha256(source).hexdigest()
    if digest not in _NEWER:
        # Compiled from the bytes just read, never from __pycache__: Python trusts
        # a cached file of the same size and whole-second mtime, which a checkout
        # of a one-digit change in the same second has.
        module = ModuleType(f"{__name__}_{digest[:12]}")
        module.__file__ = __file__
        sys.modules[module.__name__] = module
        exec(compile(source, __file__, "exec"), module.__dict__)  # noqa: S102
        _NEWER[digest] = module
    return _NEWER[digest]


class TopologyExtension(Extension):
    """Exposes ``topology(name)`` to every template."""

    def __init__(self, environment):
        super().__init__(environment)
        _as_on_disk().install(environment)

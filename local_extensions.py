"""Jinja helpers for the template.

The queue topologies live here as data, once. Every file that needs them
(``topology.py`` in the generated package, the compose worker services, the
alert rules, the docs) renders from :func:`topology`, so a queue renamed here is
renamed everywhere at bake time.

Cookiecutter loads this module through ``_extensions`` in cookiecutter.json; it
puts the template directory on ``sys.path`` while it bakes (cruft does too).
"""

from __future__ import annotations

import copy
from types import CodeType

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

TOPOLOGIES = {
    "fast-slow": {
        "summary": "A latency-sensitive queue for short tasks and a heavy queue for long ones.",
        "queues": [
            {"name": "fast", "purpose": "short, latency-sensitive tasks"},
            {"name": "slow", "purpose": "long, heavy tasks"},
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
        "queues": [{"name": "default", "purpose": "every task"}],
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
        "queues": [
            {"name": "high", "purpose": "urgent, user-facing tasks"},
            {"name": "default", "purpose": "ordinary tasks"},
            {"name": "low", "purpose": "bulk and housekeeping tasks"},
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
            {"name": "notifications", "purpose": "short, idempotent messages to people"},
            {"name": "reports", "purpose": "long report generation"},
            {"name": "integrations", "purpose": "calls to third-party APIs"},
            {"name": "default", "purpose": "housekeeping and anything not routed"},
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
                "purpose": "I/O-bound API calls, rate-limited and retried",
                **_SHORT,
                "prefetch_multiplier": 4,
                "soft_time_limit": 50,
                "time_limit": 60,
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


def worker_options(worker: dict) -> list[str]:
    """The ``celery worker`` options of a worker group, as compose and the docs show them."""
    return [
        f"--queues={','.join(worker['queues'])}",
        f"--hostname={worker['name']}@%h",
        f"--pool={worker['pool']}",
        f"--concurrency={worker['concurrency']}",
        f"--prefetch-multiplier={worker['prefetch_multiplier']}",
        f"--soft-time-limit={worker['soft_time_limit']}",
        f"--time-limit={worker['time_limit']}",
        f"--max-tasks-per-child={worker['max_tasks_per_child']}",
        f"--max-memory-per-child={worker['max_memory_per_child']}",
    ]


def topology(name: str) -> dict:
    """The topology called ``name``, with derived fields filled in."""
    try:
        data = copy.deepcopy(TOPOLOGIES[name])
    except KeyError:
        choices = ", ".join(sorted(TOPOLOGIES))
        raise ValueError(f"unknown queue_topology {name!r}; choose one of: {choices}") from None
    data["name"] = name
    data["dead_letter_queue"] = DEAD_LETTER_QUEUE
    data["families"] = list(FAMILIES)
    data["max_time_limit"] = max(w["time_limit"] for w in data["workers"])
    for worker in data["workers"]:
        worker["service"] = "worker" if len(data["workers"]) == 1 else f"worker-{worker['name']}"
        worker["options"] = worker_options(worker)
    return data


# Compiled templates by (environment settings, source, name, file name).
_COMPILED: dict[tuple, CodeType] = {}


def _settings_of(environment: Environment) -> tuple:
    """What, besides the source, decides how Jinja compiles a template."""
    return (
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        environment.optimized,
        environment.autoescape,
        tuple(sorted(environment.extensions)),
    )


def _remember_compiled_templates(environment: Environment) -> None:
    """Compile each template source once per process.

    Cookiecutter makes a new Jinja environment for every bake and compiles
    every file and path again; the template's test matrix bakes thousands of
    projects in one process. Code objects are cached under the source and
    every compile setting, so a changed template is never served stale, and
    nothing is written to disk.
    """
    compile_source = environment.compile

    def compile(source, name=None, filename=None, raw=False, defer_init=False):
        if raw or not isinstance(source, str):
            return compile_source(source, name, filename, raw, defer_init)
        key = (_settings_of(environment), source, name, filename, defer_init)
        code = _COMPILED.get(key)
        if code is None:
            code = _COMPILED[key] = compile_source(source, name, filename, raw, defer_init)
        return code

    environment.compile = compile


class TopologyExtension(Extension):
    """Exposes ``topology(name)`` to every template; compiles each source once."""

    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["topology"] = topology
        _remember_compiled_templates(environment)

{% set slug = cookiecutter.project_slug %}
"""Start one worker group: ``python -m {{ slug }}.worker GROUP [OPTIONS...]``.

{% if cookiecutter.framework == 'standalone' %}
Also installed as the ``{{ slug | replace('_', '-') }}-worker`` command.
{% endif %}
The group's queues, pool, concurrency, prefetch, time limits and recycling
come from ``topology.workers()``: the baseline groups with what overrides.py
changes, and the groups it adds. Compose, Kubernetes, the README, the
benchmark and the tests all start workers through this one command, so a
group is tuned in one place.

It replaces itself with ``celery worker`` (exec), so the worker keeps this
process's PID and receives the orchestrator's signals directly. Options after
GROUP are passed on and win over the group's (``--loglevel=DEBUG``, or
``--hostname=...`` for a second worker of the group on one host).
"""

from __future__ import annotations

import os
import sys

from {{ slug }} import topology
from {{ slug }}.environment import ConfigurationError

USAGE = (
    "usage: python -m {{ slug }}.worker GROUP [celery worker options...]\n"
    "       python -m {{ slug }}.worker --list"
)
FIELDS = (
    ("group", "name"),
    ("queues", "queues"),
    ("pool", "pool"),
    ("concurrency", "concurrency"),
    ("prefetch", "prefetch_multiplier"),
    ("soft limit", "soft_time_limit"),
    ("hard limit", "time_limit"),
    ("max tasks", "max_tasks_per_child"),
    ("max KiB", "max_memory_per_child"),
)


def command(group: str, extra: list[str]) -> list[str]:
    """The ``celery worker`` command line of ``group``, with ``extra`` options last."""
    arguments = ["--loglevel=INFO", *topology.worker_arguments(topology.worker(group))]
    given = {option.split("=", 1)[0] for option in extra if option.startswith("--")}
    kept = [option for option in arguments if option.split("=", 1)[0] not in given]
    return [
        sys.executable,
        "-m",
        "celery",
        "--app={{ slug }}.celery_app",
        "worker",
        *kept,
        *extra,
    ]


def table() -> list[str]:
    """The worker groups and their settings, one line each, as a worker would get them."""
    rows = [[title for title, _ in FIELDS]]
    for group in topology.workers():
        values = (getattr(group, attribute) for _, attribute in FIELDS)
        rows.append([",".join(v) if isinstance(v, tuple) else str(v) for v in values])
    widths = [max(len(row[i]) for row in rows) for i in range(len(FIELDS))]
    return [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows
    ]


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--list"]:
        try:
            print("\n".join(table()))
        except (topology.TopologyError, ConfigurationError) as problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        return 0
    if not argv or argv[0].startswith("-"):
        groups = ", ".join(group.name for group in topology.workers())
        print(f"{USAGE}\nworker groups: {groups}", file=sys.stderr)
        return 2
    try:
        line = command(argv[0], argv[1:])
    except (topology.TopologyError, ConfigurationError) as problem:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    # The configuration sizes its connection pools for the group (celeryconfig.py).
    os.environ["CELERY_WORKER_GROUP"] = argv[0]
    os.execv(line[0], line)  # noqa: S606 - our own interpreter, arguments from the topology
    return 0  # not reached: exec replaced this process


if __name__ == "__main__":
    sys.exit(main())

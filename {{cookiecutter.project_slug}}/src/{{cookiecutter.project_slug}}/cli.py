"""The ``{{ cookiecutter.project_slug | replace('_', '-') }}`` command.

Dead letters{% if cookiecutter.message_signing %}, signing keys{% endif %}, the effective configuration and a benchmark:

{{ cookiecutter.project_slug | replace('_', '-') }} config
{{ cookiecutter.project_slug | replace('_', '-') }} deadletters list | show ID | purge --yes
{{ cookiecutter.project_slug | replace('_', '-') }} deadletters requeue ID... | requeue --all
{{ cookiecutter.project_slug | replace('_', '-') }} benchmark [--queues NAME,...] [--tasks N] [--repeat N]
{% if cookiecutter.message_signing %}
{{ cookiecutter.project_slug | replace('_', '-') }} create-signing-keys
{% endif %}
"""

from __future__ import annotations

import argparse
import sys
{% if cookiecutter.message_signing %}
from pathlib import Path
{% endif %}

{% if cookiecutter.message_signing %}
from {{ cookiecutter.project_slug }}.environment import ConfigurationError, environment, start
{% else %}
from {{ cookiecutter.project_slug }}.environment import ConfigurationError, start
{% endif %}


def print_config(write) -> None:
    """Queues, routes and per-queue worker settings, as this process sees them."""
    from {{ cookiecutter.project_slug }} import topology
    from {{ cookiecutter.project_slug }}.celery_app import app

    conf = app.conf
    write(f"broker: {conf.broker_url.split('@')[-1]}")
    write(f"default queue: {conf.task_default_queue}")
    visibility = (conf.broker_transport_options or {}).get("visibility_timeout")
    if visibility:
        write(f"visibility timeout: {visibility} s")
    write("")
    header = ("worker", "queues", "pool", "conc.", "prefetch", "soft/hard (s)", "max tasks")
    rows = [
        (
            w.name,
            ",".join(w.queues),
            w.pool,
            str(w.concurrency),
            str(w.prefetch_multiplier),
            f"{w.soft_time_limit}/{w.time_limit}",
            str(w.max_tasks_per_child),
        )
        for w in topology.workers()
    ]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    for row in (header, *rows):
        write("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    write("")
    write("routes (task family -> queue):")
    for family, queue in topology.ROUTES_BY_FAMILY.items():
        write(f"  {family} -> {queue}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="{{ cookiecutter.project_slug | replace('_', '-') }}",
        description=__doc__.splitlines()[0],
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("config", help="print the effective queues, routes and worker settings")
    from {{ cookiecutter.project_slug }}.tasking import operations

    operations.add_arguments(commands.add_parser("deadletters", help="tasks that failed for good"))
    # The benchmark is a tool beside the service: imported only when it runs.
    commands.add_parser(
        "benchmark",
        help="throughput, latency and memory of every queue (--help for its options)",
        add_help=False,
    )
{% if cookiecutter.message_signing %}
    commands.add_parser("create-signing-keys", help="a development key pair for message signing")
{% endif %}
    parsed, rest = parser.parse_known_args(argv)
    if rest and parsed.command != "benchmark":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    options = vars(parsed)
    start()
    try:
        if options["command"] == "config":
            print_config(print)
        elif options["command"] == "deadletters":
            operations.run(options, print)
        elif options["command"] == "benchmark":
            from {{ cookiecutter.project_slug }}.tools import benchmark

            return benchmark.main(rest, prog="{{ cookiecutter.project_slug | replace('_', '-') }} benchmark")
{% if cookiecutter.message_signing %}
        elif options["command"] == "create-signing-keys":
            from {{ cookiecutter.project_slug }}.tasking.signing import create_keys

            env = environment()
            create_keys(Path(env.celery_signing_key), Path(env.celery_signing_cert))
            print(f"wrote {env.celery_signing_key} and {env.celery_signing_cert}")
{% endif %}
    except (
        ConfigurationError,
        operations.OperationError,
{% if cookiecutter.message_signing %}
        FileExistsError,
{% endif %}
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

{% set django = cookiecutter.framework == 'django' %}
{% set beat = cookiecutter.beat_scheduler != 'none' %}
{% set flower = cookiecutter.__flower == 'yes' %}
"""Container healthchecks: ``python -m {{ cookiecutter.project_slug }}.healthcheck PROCESS [NAME]``.

The compose files run these. Each exits 0 when the process answers, and 1
with a one-line reason when it does not:

- ``worker NAME``: the worker group's node on this host makes progress
  (``health.py``: fetching, idle on empty queues, or busy within its limits).
{% if beat %}
- ``beat``: beat woke up recently (its scheduler touches a liveness file).
{% endif %}
{% if django %}
- ``web``: ``/healthz`` answers, which also proves the database is reachable.
{% endif %}
{% if flower %}
- ``flower``: Flower's own ``/healthcheck`` answers.
{% endif %}
"""

from __future__ import annotations

import argparse
{% if django or flower %}
import http.client
{% endif %}
{% if flower %}
import os
{% endif %}
import socket
import sys
{% if beat %}
import time
{% endif %}

from {{ cookiecutter.project_slug }} import health
{% if beat %}
from {{ cookiecutter.project_slug }}.health import BEAT_LIVENESS_FILE, BEAT_STALE_AFTER, Unhealthy
{% else %}
from {{ cookiecutter.project_slug }}.health import Unhealthy
{% endif %}
{% if django or flower %}

TIMEOUT = 5.0
{% endif %}


def check_worker(name: str) -> None:
    # Workers are started with --hostname=NAME@%h, and %h is this host's name.
    health.check(f"{name}@{socket.gethostname()}")
{% if beat %}


def check_beat() -> None:
    try:
        age = time.time() - BEAT_LIVENESS_FILE.stat().st_mtime
    except FileNotFoundError:
        raise Unhealthy(f"beat has not started: {BEAT_LIVENESS_FILE} does not exist") from None
    if age > BEAT_STALE_AFTER:
        raise Unhealthy(f"beat last woke up {age:.0f} s ago (limit {BEAT_STALE_AFTER:.0f} s)")
{% endif %}
{% if django or flower %}


def check_http(port: int, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    try:
        connection.request("GET", path)
        status = connection.getresponse().status
    except OSError as error:
        raise Unhealthy(f"http://127.0.0.1:{port}{path}: {error}") from None
    finally:
        connection.close()
    if status != 200:
        raise Unhealthy(f"http://127.0.0.1:{port}{path} answered {status}")
{% endif %}
{% if flower %}


def check_flower() -> None:
    # Flower reads its options from FLOWER_* variables, as the compose files set them.
    prefix = os.environ.get("FLOWER_URL_PREFIX", "").strip("/")
    path = f"/{prefix}/healthcheck" if prefix else "/healthcheck"
    check_http(int(os.environ.get("FLOWER_PORT", "5555")), path)
{% endif %}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m {{ cookiecutter.project_slug }}.healthcheck")
    processes = parser.add_subparsers(dest="process", required=True)
    worker = processes.add_parser("worker", help="the worker group NAME makes progress")
    worker.add_argument("name", help="worker group, as in topology.WORKERS")
{% if beat %}
    processes.add_parser("beat", help="beat woke up recently")
{% endif %}
{% if django %}
    processes.add_parser("web", help="the web server answers /healthz")
{% endif %}
{% if flower %}
    processes.add_parser("flower", help="Flower answers /healthcheck")
{% endif %}
    args = parser.parse_args(argv)
    try:
        if args.process == "worker":
            check_worker(args.name)
{% if beat %}
        elif args.process == "beat":
            check_beat()
{% endif %}
{% if django %}
        elif args.process == "web":
            check_http(8000, "/healthz")
{% endif %}
{% if flower %}
        elif args.process == "flower":
            check_flower()
{% endif %}
    except Unhealthy as problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

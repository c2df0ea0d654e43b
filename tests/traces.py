"""What must not appear in a project baked with given answers.

Checked by content, not by a file list: an unselected option leaves no
service, setting, dependency or sentence behind.
"""

from __future__ import annotations

import re
from functools import cache

import local_extensions


def needs_redis(answers: dict) -> bool:
    return (
        answers["broker"] == "redis"
        or answers["result_backend"] == "redis"
        or answers["beat_scheduler"] == "redbeat"
        or answers["framework"] == "standalone"
    )


# The record of the answers names every option, chosen or not.
ANSWERS_RECORD = "template-answers.json"


def forbidden(answers: dict) -> list[tuple[str, str, str]]:
    """(pattern, reason, files) triples: no file whose path matches ``files``
    may contain ``pattern``."""
    rules: list[tuple[str, str, str]] = []

    def refuse(pattern: str, reason: str, files: str = ".*") -> None:
        rules.append((pattern, reason, files))

    if answers["broker"] == "redis":
        # Celery's ``app.amqp`` API is named for the protocol on every broker.
        refuse(r"(?i)rabbitmq|amqps?://|\bamqp\b(?!\.)", "broker=redis")
    if not needs_redis(answers):
        refuse(r"(?i)redis", "nothing in these answers uses Redis")
    if answers["framework"] == "standalone":
        refuse(r"(?i)django|manage\.py|postgres", "framework=standalone")
    monitoring = answers["monitoring"]
    if "flower" not in monitoring:
        refuse(r"(?i)flower|5555", f"monitoring={monitoring}")
    if "prometheus" not in monitoring:
        refuse(r"(?i)prometheus|grafana|celery[-_]exporter|9808", f"monitoring={monitoring}")
    if "prometheus" not in monitoring or answers["broker"] != "redis":
        refuse(
            r"celery[-_]unacked|oldest_unacked|\b9809\b|CeleryMessageUnacknowledged",
            f"monitoring={monitoring}, broker={answers['broker']}",
        )
    if monitoring == "none":
        refuse(r"worker_send_task_events = True|task_send_sent_event = True", "monitoring=none")
    beat = answers["beat_scheduler"]
    if beat == "none":
        refuse(r"(?i)\bbeat\b|beat_|celerybeat|redbeat", "beat_scheduler=none")
    if beat != "redbeat":
        refuse(r"(?i)redbeat", f"beat_scheduler={beat}")
    if beat != "django-celery-beat":
        refuse(r"(?i)django[-_]celery[-_]beat|DatabaseScheduler", f"beat_scheduler={beat}")
    if beat != "static":
        refuse(r"(?i)celerybeat-schedule|PersistentScheduler", f"beat_scheduler={beat}")
    if beat not in ("static", "redbeat"):
        refuse(r"beat_schedule\b", f"beat_scheduler={beat}")
    backend = answers["result_backend"]
    if backend == "none":
        refuse(r"result_backend\b|result_expires|CELERY_RESULT_BACKEND", "result_backend=none")
    if backend != "django-db":
        refuse(r"(?i)django[-_]celery[-_]results|django-db", f"result_backend={backend}")
    if backend != "rpc":
        refuse(r"rpc://", f"result_backend={backend}")
    if answers["serializer"] != "msgpack":
        refuse(r"(?i)msgpack", f"serializer={answers['serializer']}")
    if not answers["message_signing"]:
        refuse(r"(?i)signing|security_key|cryptography|\"auth\"", "message_signing=no")
    if not answers["use_sentry"]:
        refuse(r"(?i)sentry", "use_sentry=no")
    if not answers["use_opentelemetry"]:
        refuse(r"(?i)opentelemetry|\botel", "use_opentelemetry=no")
    if answers["ci"] != "github":
        refuse(r"(?i)github", f"ci={answers['ci']}")
    if answers["queue_topology"] != "priority":
        refuse(
            r"(?i)x-max-priority|priority_steps|queue_order_strategy|MAX_PRIORITY",
            f"queue_topology={answers['queue_topology']}",
        )
    own = {q["name"] for q in local_extensions.topology(answers["queue_topology"])["queues"]}
    for name in local_extensions.TOPOLOGIES:
        for queue in local_extensions.topology(name)["queues"]:
            name = queue["name"]
            if name in own:
                continue
            # Family names double as per-domain queue names: only their workers count.
            reason = f"queue_topology={answers['queue_topology']} has no queue {name}"
            refuse(rf"\bworker-{name}\b", reason)
            if name not in local_extensions.FAMILIES:
                refuse(rf"\"{name}\"", reason, files=r".*topology\.py")
    for version in ("3.11", "3.12", "3.13"):
        if version != answers["python_version"]:
            refuse(
                rf"python:{re.escape(version)}|python-version: \"{re.escape(version)}\"",
                f"python_version={answers['python_version']}",
            )
    return rules


@cache
def _first_match(pattern: str, path: str, content: bytes) -> str:
    regex = re.compile(pattern)
    match = regex.search(path) or regex.search(content.decode("utf-8", "replace"))
    return match.group(0) if match else ""


def trace_errors(answers: dict, tree: dict[str, bytes]) -> list[str]:
    errors = []
    for pattern, reason, files in forbidden(answers):
        for path, content in tree.items():
            if path == ANSWERS_RECORD or (files != ".*" and not re.fullmatch(files, path)):
                continue
            if found := _first_match(pattern, path, content):
                errors.append(f"{path}: {found!r} is left although {reason}")
    return errors

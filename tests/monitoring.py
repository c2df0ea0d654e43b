"""Checks of the Prometheus and Grafana files of a baked project, with promtool.

Used by test_monitoring.py; each check returns a list of problems (empty when
the files are sound), so that a test can show it failing on a broken input.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import yaml

PROMTOOL = shutil.which("promtool") or "promtool"

# Metric names celery-exporter exposes (prometheus-exporter-celery 0.11), as
# Prometheus stores them. The live test compares this list with the exporter's
# own /metrics, so it cannot go stale unnoticed.
EXPORTER_METRICS = frozenset(
    {
        "celery_task_sent_total",
        "celery_task_received_total",
        "celery_task_started_total",
        "celery_task_succeeded_total",
        "celery_task_failed_total",
        "celery_task_rejected_total",
        "celery_task_revoked_total",
        "celery_task_retried_total",
        "celery_task_runtime_bucket",
        "celery_task_runtime_count",
        "celery_task_runtime_sum",
        "celery_worker_up",
        "celery_worker_tasks_active",
        "celery_queue_length",
        "celery_active_consumer_count",
        "celery_active_worker_count",
        "celery_active_process_count",
    }
)
# Exposed by the exporter on RabbitMQ only.
RABBITMQ_ONLY_METRICS = frozenset({"celery_active_consumer_count"})
# Exposed by the project's own unacked.py (Redis projects): the age of the
# oldest unacknowledged message of each queue. Its generated test reads it from
# a real Redis.
UNACKED_METRICS = frozenset({"celery_queue_oldest_unacked_age_seconds"})
# Flower 2.2's own metrics (flower/events.py), checked against a live Flower too.
FLOWER_METRICS = frozenset(
    {
        "flower_events_total",
        "flower_task_runtime_seconds_bucket",
        "flower_task_runtime_seconds_count",
        "flower_task_runtime_seconds_sum",
        "flower_task_prefetch_time_seconds",
        "flower_worker_prefetched_tasks",
        "flower_worker_online",
        "flower_worker_number_of_currently_executing_tasks",
    }
)
# Written by Prometheus itself for every target.
PROMETHEUS_METRICS = frozenset({"up"})

PROMQL_WORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)


def promtool(*args: str, cwd: Path) -> str:
    """'' when promtool accepts, else what it said."""
    run = subprocess.run(
        [PROMTOOL, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    return "" if run.returncode == 0 else f"promtool {' '.join(args)}:\n{run.stdout}{run.stderr}"


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, labels or keywords)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # string literals
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\boffset\s+-?\w+", " ", text)  # offsets
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text
    )  # label lists
    text = re.sub(r"(?<![\w:])\d+(\.\d+)?([eE][+-]?\d+)?", " ", text)  # numbers
    return {
        match.group(0)
        for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text)
        if match.group(0) not in PROMQL_WORDS and not text[match.end() :].lstrip().startswith("(")
    }


def dashboard_expressions(project: Path) -> dict[str, str]:
    """Every PromQL expression of the project's dashboards, by where it is."""
    found = {}
    for path in sorted((project / "deploy/grafana/dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            for target in panel.get("targets", []):
                found[f"{path.name}: {panel['title']} [{target['refId']}]"] = target["expr"]
    return found


def alert_expressions(project: Path) -> dict[str, str]:
    rules = yaml.safe_load((project / "deploy/prometheus/alerts.yml").read_text())
    return {
        f"alerts.yml: {rule['alert']} #{index}": rule["expr"]
        for group in rules["groups"]
        for index, rule in enumerate(group["rules"])
    }


def unknown_metrics(expressions: dict[str, str], known: frozenset[str]) -> list[str]:
    problems = []
    for where, expr in expressions.items():
        names = metric_names(expr)
        if not names and not re.fullmatch(r"vector\([\d.]+\)", expr):
            problems.append(f"{where}: selects no metric: {expr}")
        for name in sorted(names - known):
            problems.append(f"{where}: {name} is not a metric the exporters expose")
    return problems


def expressions_as_rules(expressions: dict[str, str], folder: Path) -> Path:
    """The expressions as recording rules, so that promtool parses every one."""
    rules = [
        {"record": f"dashboard:expression_{i}", "expr": e}
        for i, e in enumerate(expressions.values())
    ]
    path = folder / "dashboard-expressions.rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}))
    return path


def prometheus_problems(project: Path, known: frozenset[str], scratch: Path) -> list[str]:
    """promtool's verdicts on the config, the rules and their unit tests, and the dashboards."""
    config = project / "deploy/prometheus"
    problems = [
        promtool("check", "config", "prometheus.yml", cwd=config),
        promtool("check", "rules", "alerts.yml", cwd=config),
        promtool("test", "rules", "alerts.test.yml", cwd=config),
    ]
    dashboards = dashboard_expressions(project)
    if not dashboards:
        problems.append("no dashboard expression found")
    rules = expressions_as_rules(dashboards, scratch)
    problems.append(promtool("check", "rules", str(rules), cwd=scratch))
    problems += unknown_metrics({**dashboards, **alert_expressions(project)}, known)
    return [problem for problem in problems if problem]


def untested_alerts(project: Path) -> list[str]:
    """Alerts of alerts.yml that no unit test expects to fire."""
    alerts = {
        rule["alert"]
        for group in yaml.safe_load((project / "deploy/prometheus/alerts.yml").read_text())[
            "groups"
        ]
        for rule in group["rules"]
    }
    tests = yaml.safe_load((project / "deploy/prometheus/alerts.test.yml").read_text())["tests"]
    firing = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    silent = {
        case["alertname"]
        for test in tests
        for case in test.get("alert_rule_test", [])
        if not case.get("exp_alerts")
    }
    return [f"{name}: no test where it fires" for name in sorted(alerts - firing)] + [
        f"{name}: no test where it stays silent" for name in sorted(alerts - silent)
    ]


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus text exposition: samples by metric name, each as (labels, value)."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = re.match(r"([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)", line)
        if match:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', match.group(3) or ""))
            samples.setdefault(match.group(1), []).append((labels, float(match.group(4))))
    return samples


# How the exporter runs natively. The image tag in templates/compose.jinja is
# the same release. Its PyPI release has no console script (its CLI is the
# ``src.cli`` module) and pins redis<6, which Kombu 5.6 and later refuse for
# their Redis transport; the image is built from the release's lock file,
# which holds Celery and Kombu 5.5.
EXPORTER_VERSION = "0.11.2"
EXPORTER_CELERY = "celery>=5.5,<5.6"


def exporter_command(uv: str) -> list[str]:
    """The exporter's command line, run by uv in an environment of its own."""
    return [
        uv,
        "tool",
        "run",
        "--from",
        f"prometheus-exporter-celery=={EXPORTER_VERSION}",
        "--with",
        EXPORTER_CELERY,
        "python",
        "-c",
        "from src.cli import cli; cli()",
    ]

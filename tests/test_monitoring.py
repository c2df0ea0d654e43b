"""Prometheus, alert rules and Grafana dashboards hold up, for every rendering of them.

Static: over every distinct rendering (queue topology x broker x beat x Flower),
promtool checks the config and the rules and runs the rules' unit tests, every
alert is unit-tested both firing and silent, and every dashboard expression
parses and selects only metrics the exporter (and Flower) expose. Each check is
also shown failing on a broken input.

Live (slow): celery-exporter runs natively against the real broker while a real
worker of a baked project runs the example tasks; its /metrics (and Flower's)
show those tasks and queues, and hold exactly the metric names listed here.
"""

from __future__ import annotations

import itertools
import json
import socket
import subprocess
import time
import urllib.request
import uuid

import pytest

import local_extensions
from tests import monitoring
from tests.test_generated_suites import UV, bake_installed, project_env

RENDERINGS = [
    {
        "framework": "standalone",
        "queue_topology": topology,
        "broker": broker,
        "beat_scheduler": beat,
        "monitoring": watch,
    }
    for topology, broker, beat, watch in itertools.product(
        local_extensions.TOPOLOGIES,
        ("redis", "rabbitmq"),
        ("static", "none"),
        ("prometheus", "flower+prometheus"),
    )
]


def known_metrics(answers: dict) -> frozenset[str]:
    known = monitoring.EXPORTER_METRICS | monitoring.PROMETHEUS_METRICS
    if answers["broker"] == "redis":
        known |= monitoring.UNACKED_METRICS
    return known | monitoring.FLOWER_METRICS if "flower" in answers["monitoring"] else known


def rendering_id(answers: dict) -> str:
    return "-".join(
        answers[k] for k in ("queue_topology", "broker", "beat_scheduler", "monitoring")
    )


@pytest.mark.parametrize("answers", RENDERINGS, ids=[rendering_id(a) for a in RENDERINGS])
def test_prometheus_and_grafana_files_pass_promtool(bake_quickly, answers, tmp_path):
    project = bake_quickly(**answers)
    assert monitoring.prometheus_problems(project, known_metrics(answers), tmp_path) == []
    assert monitoring.untested_alerts(project) == []
    alerts = (project / "deploy/prometheus/alerts.yml").read_text()
    redis = answers["broker"] == "redis"
    for queue in local_extensions.topology(answers["queue_topology"])["queues"]:
        assert f'queue_name="{queue["name"]}"' in alerts
        unacked = (
            f'celery_queue_oldest_unacked_age_seconds{{queue_name="{queue["name"]}"}}'
            f" > {queue['unacked_alert_seconds']}"
        )
        assert (unacked in alerts) == redis
    assert ("celery-unacked:9809" in config_of(project)) == redis
    assert (project / f"src/{project.name}/unacked.py").exists() == redis
    assert ("CeleryBeatStalled" in alerts) == (answers["beat_scheduler"] != "none")
    assert ("flower:5555" in config_of(project)) == ("flower" in answers["monitoring"])


def config_of(project) -> str:
    return (project / "deploy/prometheus/prometheus.yml").read_text()


@pytest.mark.parametrize("watch", ["flower", "none"])
def test_no_prometheus_or_grafana_files_without_prometheus(bake_quickly, watch):
    project = bake_quickly(framework="standalone", monitoring=watch)
    assert not (project / "deploy/prometheus").exists()
    assert not (project / "deploy/grafana").exists()


# The checks themselves: each one fails on a broken input.


@pytest.fixture
def project(bake_quickly):
    return bake_quickly(
        framework="standalone", broker="rabbitmq", beat_scheduler="static", monitoring="prometheus"
    )


KNOWN = monitoring.EXPORTER_METRICS | monitoring.PROMETHEUS_METRICS


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def test_the_clean_project_passes(project, tmp_path):
    assert monitoring.prometheus_problems(project, KNOWN, tmp_path) == []
    assert monitoring.untested_alerts(project) == []


@pytest.mark.parametrize(
    ("file", "old", "new", "complaint"),
    [
        ("prometheus/prometheus.yml", "scrape_interval: 15s", "scrape_interval: soon", "config"),
        ("prometheus/prometheus.yml", "- alerts.yml", "- missing.yml", "config"),
        ("prometheus/alerts.yml", "> 0.05", "> > 0.05", "rules"),
        ("prometheus/alerts.yml", "for: 2m", "for: 20m", "test rules"),
        ("prometheus/alerts.test.yml", "severity: critical}", "severity: page}", "test rules"),
        (
            "grafana/dashboards/celery-tasks.json",
            '"sum by (name) (rate(celery_task_retried_total[5m]))"',
            '"sum by (name) (rate(celery_task_retried_total[5m])"',
            "dashboard-expressions",
        ),
        (
            "grafana/dashboards/celery-overview.json",
            "(celery_queue_length)",
            "(celery_queue_size)",
            "celery_queue_size is not a metric",
        ),
        (
            "prometheus/alerts.yml",
            "celery_active_worker_count{",
            "celery_worker_count{",
            "celery_worker_count is not a metric",
        ),
        (
            "grafana/dashboards/celery-overview.json",
            '"sum(celery_worker_up)"',
            '"sum(flower_worker_online)"',
            "flower_worker_online is not a metric",
        ),
    ],
)
def test_a_broken_file_is_found(project, tmp_path, file, old, new, complaint):
    edit(project / "deploy" / file, old, new)
    problems = "\n".join(monitoring.prometheus_problems(project, KNOWN, tmp_path))
    assert complaint in problems


@pytest.mark.parametrize(
    ("old", "new"),
    [
        # The threshold is the fast group's prefetch_multiplier x hard time limit + margin.
        (
            'unacked_age_seconds{queue_name="fast"} > 540',
            'unacked_age_seconds{queue_name="fast"} > 480',
        ),
        (
            'unacked_age_seconds{queue_name="slow"} > 1320',
            'unacked_age_seconds{queue_name="slow"} > 1380',
        ),
    ],
)
def test_a_wrong_unacked_threshold_is_found(bake_quickly, tmp_path, old, new):
    answers = {**RENDERINGS[0], "broker": "redis"}
    project = bake_quickly(**answers)
    known = known_metrics(answers)
    assert monitoring.prometheus_problems(project, known, tmp_path) == []
    edit(project / "deploy/prometheus/alerts.yml", old, new)
    problems = "\n".join(monitoring.prometheus_problems(project, known, tmp_path))
    assert "CeleryMessageUnacknowledged" in problems


def test_the_unacked_metric_is_known_only_as_unacked_py_serves_it(bake_quickly, tmp_path):
    """Its panels and alerts are checked like the exporter's: without it they select nothing."""
    answers = {**RENDERINGS[0], "broker": "redis"}
    project = bake_quickly(**answers)
    without = known_metrics(answers) - monitoring.UNACKED_METRICS
    problems = monitoring.prometheus_problems(project, without, tmp_path)
    unknown = "celery_queue_oldest_unacked_age_seconds is not a metric"
    assert any(p.startswith("celery-queues.json") and unknown in p for p in problems), problems
    assert any(p.startswith("alerts.yml: CeleryMessageUnacknowledged") for p in problems)


def test_an_alert_without_unit_tests_is_found(project):
    edit(
        project / "deploy/prometheus/alerts.yml",
        "  - name: celery-broker\n    rules:\n",
        "  - name: celery-broker\n    rules:\n      - alert: Untested\n        expr: up == 0\n",
    )
    assert monitoring.untested_alerts(project) == [
        "Untested: no test where it fires",
        "Untested: no test where it stays silent",
    ]


def test_metric_names_are_told_from_functions_labels_and_keywords():
    expr = (
        "histogram_quantile(0.95, sum by (le, name) "
        '(rate(celery_task_runtime_bucket{queue_name="a"}[5m] offset 1h))) > 1e-3 '
        "and on (name) celery_worker_up or absent(up)"
    )
    assert monitoring.metric_names(expr) == {"celery_task_runtime_bucket", "celery_worker_up", "up"}


# Live: the exporter and Flower against the real broker and a real worker.


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def scrape(port: int) -> str:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            return response.read().decode()
    except OSError:
        return ""


def metric_names_in(text: str, prefix: str) -> set[str]:
    return {
        name
        for name in monitoring.parse_metrics(text)
        if name.startswith(prefix) and not name.endswith("_created")
    }


def total(samples: dict, metric: str, **labels: str) -> float:
    return sum(
        value
        for found, value in samples.get(metric, [])
        if all(found.get(key) == wanted for key, wanted in labels.items())
    )


def wait_for(condition, timeout: float, what: str, log=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    tail = log.read_text()[-3000:] if log is not None else ""
    raise AssertionError(f"not within {timeout} s: {what}\n{tail}")


@pytest.mark.slow
@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
def test_exporter_and_flower_see_the_tasks_of_a_real_worker(bake, broker, tmp_path):
    project = bake_installed(
        bake,
        framework="standalone",
        broker=broker,
        queue_topology="fast-slow",
        beat_scheduler="none",
        monitoring="flower+prometheus",
        project_name=f"Live Metrics {broker}",
    )
    slug = project.name

    topology = local_extensions.topology("fast-slow")
    prefix = f"live-{uuid.uuid4().hex[:10]}-"
    broker_url = (
        "redis://127.0.0.1:6379/0" if broker == "redis" else "amqp://guest:guest@127.0.0.1:5672//"
    )
    env = {**project_env(), "CELERY_QUEUE_PREFIX": prefix, "CELERY_BROKER_URL": broker_url}
    env["FLOWER_BASIC_AUTH"] = "monitor:live-test"
    exporter_port, flower_port = free_port(), free_port()
    processes = []

    def start(command: list[str], cwd, log_name: str, **more_env: str) -> subprocess.Popen:
        log = open(tmp_path / log_name, "w")  # noqa: SIM115 (closed with the process)
        process = subprocess.Popen(
            command, cwd=cwd, env={**env, **more_env}, stdout=log, stderr=subprocess.STDOUT
        )
        processes.append((process, log))
        return process

    def log_of(name: str) -> str:
        return (tmp_path / name).read_text()

    # The queue prefix isolates broadcasts too: the project's control and event
    # exchanges carry it. The exporter builds a Celery app of its own, which
    # reads the configuration module CELERY_CONFIG_MODULE names; in production
    # there is no prefix and it needs none.
    (tmp_path / "prefixed_exchanges.py").write_text(
        f"control_exchange = {prefix + 'celery'!r}\nevent_exchange = {prefix + 'celeryev'!r}\n"
    )
    try:
        start(
            [
                *monitoring.exporter_command(UV),
                f"--broker-url={broker_url}",
                "--host=127.0.0.1",
                f"--port={exporter_port}",
                f"--queues={','.join(prefix + name for name in topology['watched_queues'])}",
                f"--buckets={','.join(map(str, topology['runtime_buckets']))}",
            ],
            tmp_path,
            "exporter.log",
            CELERY_CONFIG_MODULE="prefixed_exchanges",
        )
        wait_for(
            lambda: scrape(exporter_port),
            120,
            "the exporter answers /metrics",
            tmp_path / "exporter.log",
        )
        start(
            [UV, "run", "--no-sync", "celery", "-A", f"{slug}.celery_app", "flower"]
            + ["--address=127.0.0.1", f"--port={flower_port}"],
            project,
            "flower.log",
        )
        wait_for(lambda: scrape(flower_port), 60, "Flower answers", tmp_path / "flower.log")
        worker = start(
            [UV, "run", "--no-sync", "celery", "-A", f"{slug}.celery_app", "worker"]
            + ["--pool=prefork", "--concurrency=2", f"--hostname=live-{prefix}@%h"]
            + [f"--queues={','.join(prefix + q['name'] for q in topology['queues'])}"],
            project,
            "worker.log",
        )
        wait_for(lambda: "ready." in log_of("worker.log") or worker.poll() is not None, 60, "ready")
        assert worker.poll() is None, log_of("worker.log")

        heartbeat = f"{slug}.maintenance.tasks.heartbeat"
        notify = f"{slug}.notifications.tasks.send_notification"
        cleanup = f"{slug}.maintenance.tasks.cleanup_reports"
        sends = [(heartbeat, []), (heartbeat, [])]
        sends += [(notify, ["ops@example.com", "hello", f"{prefix}{n}"]) for n in range(3)]
        sends += [(cleanup, [None])]  # fails for good: None * 86400
        script = (
            "import json, sys\n"
            f"from {slug}.celery_app import app\n"
            "for name, args in json.loads(sys.argv[1]):\n"
            "    app.send_task(name, args=args)\n"
        )
        # Sent with the private prefix, so only this test's worker consumes them.
        subprocess.run(
            [UV, "run", "--no-sync", "python", "-c", script, json.dumps(sends)],
            cwd=project,
            env=env,
            timeout=120,
            check=True,
        )

        fast, slow = prefix + topology["routes"]["notifications"], prefix + "slow"

        def exporter_saw_everything():
            samples = monitoring.parse_metrics(scrape(exporter_port))
            seen = (
                total(samples, "celery_task_succeeded_total", name=heartbeat, queue_name=slow) >= 2
                and total(samples, "celery_task_succeeded_total", name=notify, queue_name=fast) >= 3
                and total(samples, "celery_task_failed_total", name=cleanup, queue_name=slow) >= 1
                and total(samples, "celery_task_runtime_count", queue_name=fast) >= 3
                and all(
                    total(samples, "celery_active_worker_count", queue_name=prefix + q["name"]) >= 1
                    for q in topology["queues"]
                )
            )
            return samples if seen else None

        samples = wait_for(
            exporter_saw_everything, 90, "the exporter counts the tasks", tmp_path / "worker.log"
        )
        assert total(samples, "celery_task_sent_total", name=notify, queue_name=fast) >= 3
        for queue in topology["watched_queues"]:
            assert any(
                labels.get("queue_name") == prefix + queue
                for labels, _ in samples["celery_queue_length"]
            ), f"no queue length for {queue}"

        expected = monitoring.EXPORTER_METRICS
        if broker != "rabbitmq":
            expected -= monitoring.RABBITMQ_ONLY_METRICS
        assert metric_names_in(scrape(exporter_port), "celery_") == expected

        def flower_saw_everything():
            names = metric_names_in(scrape(flower_port), "flower_")
            return names if names >= monitoring.FLOWER_METRICS else None

        wait_for(flower_saw_everything, 60, "Flower's metrics", tmp_path / "flower.log")
        assert metric_names_in(scrape(flower_port), "flower_") == monitoring.FLOWER_METRICS
    finally:
        for process, log in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()
        if broker == "rabbitmq":  # durable test queues would pile up on the shared broker
            delete = (
                f"from {slug} import topology\n"
                f"from {slug}.celery_app import app\n"
                "with app.connection_for_write() as connection:\n"
                "    topology.delete_queues(connection, topology.prefix())\n"
            )
            subprocess.run(
                [UV, "run", "--no-sync", "python", "-c", delete],
                cwd=project,
                env=env,
                timeout=120,
                check=False,
            )

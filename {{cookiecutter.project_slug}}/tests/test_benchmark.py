{% set slug = cookiecutter.project_slug %}
"""The benchmark command runs end to end against the real broker.

Tiny counts: the figures of a test run mean nothing and are not judged; the
test proves the command still starts every worker group, drains its queue and
reports every figure.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
{% if cookiecutter.framework == 'django' %}
from django.core.management import CommandError, call_command
{% endif %}

from {{ slug }} import topology
from {{ slug }}.tools import benchmark


def run_benchmark(tmp_path, *options: str) -> tuple[dict, str]:
    report = tmp_path / "benchmark.json"
    command = [
        sys.executable,
        "-m",
        "{{ slug }}.tools.benchmark",
        "--tasks",
        "30",
    ]
    command += ["--latency-samples", "3", "--repeat", "1", "--json", str(report), *options]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert run.returncode == 0, run.stdout + run.stderr
    figures = json.loads(report.read_text())
    for queue in figures["queues"]:
        (only,) = queue["runs"]
        assert only["publish_per_second"] > 0
        assert only["drain_per_second"] > 0
        assert only["worker_cpu_ms_per_task"] >= 0
        assert 0 < only["latency_p50_ms"] <= only["latency_p99_ms"]
        assert only["rss_mib"] > 0
        assert only["duplicate_runs"] == 0
        assert queue["queue"] in run.stdout
    assert figures["machine"]["broker"].startswith("{{ 'Redis' if cookiecutter.broker == 'redis' else 'RabbitMQ' }}")
    return figures, run.stdout


@pytest.mark.integration
def test_benchmark_reports_every_figure_of_a_queue_with_waiting_tasks(tmp_path):
    figures, _ = run_benchmark(tmp_path, "--queues", topology.DEFAULT_QUEUE, "--io-wait", "0.01")
    assert [queue["queue"] for queue in figures["queues"]] == [topology.DEFAULT_QUEUE]
    assert figures["io_wait"] == 0.01


# Slow (a worker per group): with the chaos tests, which the template runs for
# every topology.
@pytest.mark.chaos
def test_benchmark_starts_every_worker_group(tmp_path):
    figures, _ = run_benchmark(tmp_path)
    assert [queue["queue"] for queue in figures["queues"]] == list(topology.all_queue_names())


def test_worker_options_come_from_the_topology_unless_a_setting_replaces_them():
    group = topology.workers()[0]
    options = benchmark.worker_arguments(group, "bench-", "h@%h", {})
    assert f"--prefetch-multiplier={group.prefetch_multiplier}" in options
    assert f"--concurrency={group.concurrency}" in options
    assert f"--queues={','.join('bench-' + q for q in group.queues)}" in options
    replaced = benchmark.worker_arguments(
        group, "bench-", "h@%h", {"worker_prefetch_multiplier": 99}
    )
    assert [o for o in replaced if o.startswith("--prefetch-multiplier")] == [
        "--prefetch-multiplier=99"
    ]


{% if cookiecutter.framework == 'django' %}
def test_an_unknown_queue_or_setting_is_refused():
    with pytest.raises(CommandError, match="unknown queue.*choose among"):
        call_command("benchmark", "--queues", "no-such-queue")
    with pytest.raises(CommandError, match="unknown Celery setting.*no_such_setting"):
        call_command("benchmark", "--set", "no_such_setting=1")
{% else %}
def test_an_unknown_queue_or_setting_is_refused(capsys):
    from {{ slug }} import cli

    assert cli.main(["benchmark", "--queues", "no-such-queue"]) == 2
    assert "choose among" in capsys.readouterr().err
    assert cli.main(["benchmark", "--set", "no_such_setting=1"]) == 2
    assert "unknown Celery setting(s): no_such_setting" in capsys.readouterr().err
{% endif %}

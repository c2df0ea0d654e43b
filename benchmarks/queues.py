"""The latency-sensitive queue, generated configuration against the alternatives.

Baked projects (standalone, fast-slow topology) are installed in their own
virtual environments, and each configuration runs through the generated
project's own benchmark command (``python -m <slug>.tools.benchmark``) on the
``fast`` queue: a real ``celery worker`` with the fast worker group's options,
against the real broker. A configuration other than the generated one is the
generated project with Celery settings replaced for that run (``--set``).
Configurations are interleaved round by round, so a slow minute on a shared
machine does not fall on one configuration only.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cookiecutter.main import cookiecutter

from tests.options import TEMPLATE_DIR

UV = shutil.which("uv") or "uv"
QUEUE = "fast"
BROKERS = ("redis", "rabbitmq")
# Celery's own defaults for the settings the generated configuration changes.
CELERY_DEFAULTS = {
    "task_acks_late": False,
    "task_reject_on_worker_lost": None,
    "worker_prefetch_multiplier": 4,
    "worker_concurrency": os.cpu_count(),
    "worker_max_tasks_per_child": None,
    "worker_max_memory_per_child": None,
    "task_soft_time_limit": None,
    "task_time_limit": None,
    "broker_transport_options": {},
}


@dataclass(frozen=True)
class Configuration:
    key: str
    title: str
    what: str
    project: str  # which baked project: "plain" (monitoring=none) or "events"
    settings: dict = field(default_factory=dict)
    rabbitmq_settings: dict = field(default_factory=dict)

    def settings_for(self, broker: str) -> dict:
        return {**self.settings, **(self.rabbitmq_settings if broker == "rabbitmq" else {})}


CONFIGURATIONS = (
    Configuration(
        "generated",
        "generated",
        "the fast queue's worker group exactly as generated, with monitoring=none (late ack, "
        "no events)",
        "plain",
    ),
    Configuration(
        "unsafe",
        "unsafe best case",
        "early ack, prefetch 64, no events, no publisher confirms: a crash loses the "
        "prefetched and running tasks",
        "plain",
        {
            "task_acks_late": False,
            "task_reject_on_worker_lost": None,
            "worker_prefetch_multiplier": 64,
        },
        {"broker_transport_options": {}},
    ),
    Configuration(
        "naive",
        "naive prefetch=1 + acks_late",
        "the generated configuration with the blanket advice applied: prefetch 1",
        "plain",
        {"worker_prefetch_multiplier": 1},
    ),
    Configuration(
        "cookiecutter_django",
        "cookiecutter-django",
        "Celery's defaults (early ack, prefetch 4, one process per CPU, no recycling) plus "
        "task events and the sent event, time limits soft 60 s, hard 300 s",
        "plain",
        {
            **CELERY_DEFAULTS,
            "task_soft_time_limit": 60,
            "task_time_limit": 300,
            "worker_send_task_events": True,
            "task_send_sent_event": True,
        },
    ),
    Configuration(
        "events",
        "generated, monitoring on",
        "the fast queue as generated with monitoring=flower+prometheus: task events and the "
        "sent event on",
        "events",
    ),
    Configuration(
        "prefetch64",
        "generated, prefetch 64",
        "the generated configuration with prefetch 64 instead of the generated value",
        "plain",
        {"worker_prefetch_multiplier": 64},
    ),
)
PROJECTS = {"plain": {"monitoring": "none"}, "events": {"monitoring": "flower+prometheus"}}
BASE_ANSWERS = {"framework": "standalone", "queue_topology": "fast-slow", "beat_scheduler": "none"}


def project_env() -> dict[str, str]:
    """This environment, minus what would leak the template's own virtual environment."""
    drop = {"VIRTUAL_ENV", "PYTHONPATH", "UV_PROJECT_ENVIRONMENT", "CELERY_QUEUE_PREFIX"}
    return {
        **{k: v for k, v in os.environ.items() if k not in drop},
        "UV_PYTHON_DOWNLOADS": "never",
    }


class Projects:
    """Baked and installed projects, by (broker, project kind), in a temporary directory."""

    def __init__(self, python: str, log) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="celery-stack-benchmarks-"))
        self.python = python
        self.log = log
        self.paths: dict[tuple[str, str], Path] = {}

    def get(self, broker: str, kind: str) -> Path:
        if (broker, kind) not in self.paths:
            answers = {**BASE_ANSWERS, **PROJECTS[kind], "broker": broker}
            answers["project_name"] = f"Benchmark {broker} {kind}"
            path = Path(
                cookiecutter(
                    str(TEMPLATE_DIR),
                    no_input=True,
                    extra_context=answers,
                    output_dir=str(self.root / f"{broker}-{kind}"),
                )
            )
            self.log(f"baked {path.name} ({answers}); installing")
            subprocess.run(
                [UV, "sync", "--quiet", "--python", self.python],
                cwd=path,
                env=project_env(),
                check=True,
            )
            self.paths[broker, kind] = path
        return self.paths[broker, kind]

    def celeryconfig(self, broker: str, monitoring: str) -> str:
        """The generated celeryconfig.py for a monitoring choice (baked, not installed)."""
        answers = {**BASE_ANSWERS, "broker": broker, "monitoring": monitoring}
        answers["project_name"] = "Benchmark config"
        out = self.root / f"config-{broker}-{monitoring.replace('+', '-')}"
        path = Path(
            cookiecutter(
                str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(out)
            )
        )
        return (path / "src" / path.name / "celeryconfig.py").read_text()

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run_once(project: Path, settings: dict, tasks: int, samples: int) -> dict:
    """One run of the generated benchmark on the fast queue: its JSON report."""
    report = project / "benchmark.json"
    command = [str(project / ".venv" / "bin" / "python"), "-m", f"{project.name}.tools.benchmark"]
    command += ["--queues", QUEUE, "--tasks", str(tasks), "--latency-samples", str(samples)]
    command += ["--repeat", "1", "--json", str(report)]
    for name, value in settings.items():
        command += ["--set", f"{name}={json.dumps(value)}"]
    done = subprocess.run(
        command, cwd=project, env=project_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(report.read_text())


@dataclass
class Measured:
    """Every run of one configuration on one broker."""

    runs: list[dict] = field(default_factory=list)
    worker_arguments: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    def median(self, name: str) -> float | None:
        values = [run[name] for run in self.runs if run.get(name) is not None]
        return statistics.median(values) if values else None

    def values(self, name: str) -> list[float]:
        return [run[name] for run in self.runs]


def measure(
    projects: Projects, rounds: int, tasks: int, samples: int, loads: list[float], log
) -> tuple[dict[tuple[str, str], Measured], dict[str, dict]]:
    """Every configuration on every broker, ``rounds`` times, interleaved.

    ``loads`` receives the 1-minute load average after each run: other work on
    the machine shows there.
    """
    results: dict[tuple[str, str], Measured] = {}
    machines: dict[str, dict] = {}
    for round_number in range(1, rounds + 1):
        for broker in BROKERS:
            for configuration in CONFIGURATIONS:
                settings = configuration.settings_for(broker)
                report = run_once(
                    projects.get(broker, configuration.project), settings, tasks, samples
                )
                (queue,) = report["queues"]
                (run,) = queue["runs"]
                measured = results.setdefault((broker, configuration.key), Measured())
                measured.runs.append(run)
                measured.worker_arguments = queue["worker_arguments"]
                measured.settings = settings
                machines[broker] = report["machine"]
                loads.append(os.getloadavg()[0])
                log(
                    f"round {round_number}/{rounds} {broker:8} {configuration.title:30} "
                    f"drain {run['drain_per_second']:7,.0f}/s  "
                    f"CPU {run['worker_cpu_ms_per_task'] or 0:5.2f} ms/task  publish "
                    f"{run['publish_per_second']:7,.0f}/s  p50 {run['latency_p50_ms']:6.2f} ms  "
                    f"p99 {run['latency_p99_ms']:6.2f} ms  RSS {run['rss_mib'] or 0:4.0f} MiB  "
                    f"load {loads[-1]:.2f}"
                )
    return results, machines

"""The I/O-bound group: tasks that wait on a remote service, threads against processes.

A baked per-domain project per broker runs its own benchmark command on the
``integrations`` queue with ``--io-wait``: every drained task sleeps, as a task
waiting on an API does. The generated ``integrations`` group (the ``io``
profile) is compared with the prefork group it replaced, with prefork at the
same concurrency, and with prefork in about the same memory. Configurations
are interleaved round by round, like the latency-sensitive queue's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from cookiecutter.main import cookiecutter

import local_extensions
from benchmarks.queues import BROKERS, UV, Measured, project_env
from tests.options import TEMPLATE_DIR

QUEUE = "integrations"
ANSWERS = {"framework": "standalone", "queue_topology": "per-domain", "beat_scheduler": "none"}
ANSWERS |= {"monitoring": "none"}


@dataclass(frozen=True)
class IoConfiguration:
    key: str
    title: str
    what: str
    settings: dict = field(default_factory=dict)


# The io profile's concurrency, read from the template's topology data.
IO_THREADS = local_extensions.PROFILES["io"]["concurrency"]
CONFIGURATIONS = (
    IoConfiguration("generated", "generated (io profile)", "the integrations group as generated"),
    IoConfiguration(
        "prefork4",
        "prefork, 4 processes",
        "the group as the previous template generated it: the short profile's prefork pool, "
        "4 processes, prefetch 4",
        {"worker_pool": "prefork", "worker_concurrency": 4, "worker_prefetch_multiplier": 4},
    ),
    IoConfiguration(
        "prefork_equal_concurrency",
        f"prefork, {IO_THREADS} processes",
        f"prefork at the io profile's concurrency ({IO_THREADS})",
        {"worker_pool": "prefork", "worker_concurrency": IO_THREADS},
    ),
    IoConfiguration(
        "prefork_equal_memory",
        "prefork, 1 process",
        "prefork in the least memory it can run in, one pool process beside the parent: "
        "the nearest it comes to the io group's memory",
        {"worker_pool": "prefork", "worker_concurrency": 1},
    ),
)


class IoProjects:
    """One baked, installed per-domain project per broker."""

    def __init__(self, python: str, log) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="celery-stack-io-benchmarks-"))
        self.python, self.log = python, log
        self.paths: dict[str, Path] = {}

    def get(self, broker: str) -> Path:
        if broker not in self.paths:
            answers = {**ANSWERS, "broker": broker, "project_name": f"Io benchmark {broker}"}
            path = Path(
                cookiecutter(
                    str(TEMPLATE_DIR),
                    no_input=True,
                    extra_context=answers,
                    output_dir=str(self.root / broker),
                )
            )
            self.log(f"baked {path.name} ({answers}); installing")
            subprocess.run(
                [UV, "sync", "--quiet", "--python", self.python],
                cwd=path,
                env=project_env(),
                check=True,
            )
            self.paths[broker] = path
        return self.paths[broker]

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def run_once(project: Path, settings: dict, tasks: int, wait: float) -> dict:
    report = project / "benchmark.json"
    command = [str(project / ".venv" / "bin" / "python"), "-m", f"{project.name}.tools.benchmark"]
    command += ["--queues", QUEUE, "--tasks", str(tasks), "--io-wait", str(wait)]
    command += ["--latency-samples", "10", "--repeat", "1", "--json", str(report)]
    for name, value in settings.items():
        command += ["--set", f"{name}={json.dumps(value)}"]
    done = subprocess.run(
        command, cwd=project, env=project_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(report.read_text())


def measure(
    projects: IoProjects, rounds: int, tasks: int, wait: float, loads: list[float], log
) -> dict[tuple[str, str], Measured]:
    """Every configuration on every broker, ``rounds`` times, interleaved."""
    results: dict[tuple[str, str], Measured] = {}
    for round_number in range(1, rounds + 1):
        for broker in BROKERS:
            for configuration in CONFIGURATIONS:
                report = run_once(projects.get(broker), configuration.settings, tasks, wait)
                (queue,) = report["queues"]
                (run,) = queue["runs"]
                measured = results.setdefault((broker, configuration.key), Measured())
                measured.runs.append(run)
                measured.worker_arguments = queue["worker_arguments"]
                measured.settings = configuration.settings
                loads.append(os.getloadavg()[0])
                log(
                    f"round {round_number}/{rounds} {broker:8} {configuration.title:24} "
                    f"drain {run['drain_per_second']:6,.0f}/s  RSS {run['rss_mib'] or 0:5.0f} MiB"
                    f"  PSS {run['pss_mib'] or 0:5.0f} MiB  duplicates {run['duplicate_runs']}"
                    f"  load {loads[-1]:.2f}"
                )
    return results

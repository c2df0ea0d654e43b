"""Run every benchmark and write BENCHMARKS.md.

    uv run --locked --group test python -m benchmarks [--test-suite] [--quick]

Needs what the template's tests need: uv, Redis and RabbitMQ on localhost.
Every figure is printed as it is measured; BENCHMARKS.md is written at the
end from the figures of this run alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import cookiecutter

from benchmarks import baking, io, queues, report
from tests.options import TEMPLATE_DIR


def log(line: str) -> None:
    print(line, flush=True)


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> str:
    return " / ".join(f"{value:.2f}" for value in os.getloadavg())


def uv_version() -> str:
    uv = shutil.which("uv") or "uv"
    done = subprocess.run([uv, "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip() or "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--rounds", type=int, default=3, help="runs of each configuration")
    parser.add_argument("--tasks", type=int, default=1500, help="tasks per drain")
    parser.add_argument("--latency-samples", type=int, default=100, help="tasks sent one by one")
    parser.add_argument("--bakes", type=int, default=24, help="option combinations to bake")
    parser.add_argument("--io-tasks", type=int, default=600, help="tasks per I/O-bound drain")
    parser.add_argument(
        "--io-wait", type=float, default=0.1, help="seconds each I/O-bound task waits"
    )
    parser.add_argument(
        "--test-suite",
        action="store_true",
        help="also run the template's whole test suite (about half an hour) and record its time",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny counts, to check that everything runs (figures mean nothing)",
    )
    parser.add_argument("--python", default="3.11", help="Python of the baked projects")
    parser.add_argument(
        "--output", type=Path, help="default: BENCHMARKS.md, or a temporary file with --quick"
    )
    options = parser.parse_args(argv)
    if options.quick:
        options.rounds, options.tasks, options.latency_samples, options.bakes = 1, 100, 5, 3
        options.io_tasks = 40
    if options.output is None:
        quick = Path(tempfile.gettempdir()) / "BENCHMARKS-quick.md"
        options.output = quick if options.quick else TEMPLATE_DIR / "BENCHMARKS.md"

    began = time.perf_counter()
    machine = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "cookiecutter": cookiecutter.__version__,
        "uv": uv_version(),
        "load_start": load_average(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
    log(f"{machine['cpu']}, {machine['cores']} cores, load average {machine['load_start']}")

    suite = baking.test_suite_time(log) if options.test_suite else None
    bakes = baking.bake_times(options.bakes, log)
    projects = queues.Projects(options.python, log)
    loads: list[float] = []
    try:
        configs = {
            broker: {
                monitoring: projects.celeryconfig(broker, monitoring)
                for monitoring in ("none", "flower", "prometheus", "flower+prometheus")
            }
            for broker in queues.BROKERS
        }
        measured, brokers = queues.measure(
            projects, options.rounds, options.tasks, options.latency_samples, loads, log
        )
    finally:
        projects.remove()
    io_projects = io.IoProjects(options.python, log)
    # Not judged as noise: right after its 64 prefork processes stop, the I/O
    # comparison's own load is high (4.6 and 5.5 on 2 cores seen with nothing
    # else running), which would read as other work on the machine.
    io_loads: list[float] = []
    try:
        io_measured = io.measure(
            io_projects, options.rounds, options.io_tasks, options.io_wait, io_loads, log
        )
    finally:
        io_projects.remove()
    machine["load_end"] = load_average()
    machine["load_during"] = loads
    machine["minutes"] = (time.perf_counter() - began) / 60

    text = report.render(
        machine=machine,
        brokers=brokers,
        options=vars(options),
        argv=sys.argv[1:] if argv is None else argv,
        measured=measured,
        configs=configs,
        bakes=bakes,
        suite=suite,
        io_measured=io_measured,
    )
    options.output.write_text(text)
    log(f"\nwrote {options.output} after {machine['minutes']:.1f} minutes")
    return 0


if __name__ == "__main__":
    sys.exit(main())

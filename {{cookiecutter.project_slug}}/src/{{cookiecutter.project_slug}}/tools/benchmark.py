{% set slug = cookiecutter.project_slug %}
{% set django = cookiecutter.framework == 'django' %}
"""Throughput, latency and memory of every queue, with its own worker settings.

    python -m {{ slug }}.tools.benchmark \\
        [--queues NAME,...] [--tasks N] [--repeat N] [--io-wait SECONDS]
{% if django %}
    python manage.py benchmark ...   (the same options)
{% else %}
    {{ slug | replace('_', '-') }} benchmark ...   (the same options)
{% endif %}

For each queue, against the configured broker:

- publish throughput: tasks per second that ``apply_async`` enqueues, one at a time;
- drain throughput: the queue is filled with ``--tasks`` tasks, then the queue's
  worker group starts (a real ``celery worker`` process, with the group's pool,
  concurrency, prefetch, time limits and recycling from ``topology.py``, and
  this project's Celery configuration); tasks per second from the first task's
  start to the last task's end;
- enqueue-to-start latency, median and 99th percentile, on an idle queue: one
  task at a time, from before ``apply_async`` to the start of the task;
- the worker's CPU time per task during the drain (less disturbed than the
  throughput by other work on the machine), and its resident memory: its main
  process and pool children together.

Each figure is measured ``--repeat`` times (a fresh worker each time) and the
median is reported beside every run's figure. The task does nothing but take
its timestamps, so the figures are the ceiling of what Celery, the broker and
these settings allow; your tasks' own work comes on top.

Queue and exchange names get a private prefix, so a benchmark never consumes
another process's tasks and can run next to other workers on the same broker
(it competes with them for the CPU, though: measure on a quiet machine).
``--set NAME=VALUE`` tries a Celery setting for one run, in the publisher and
in the worker, before you make it permanent in ``overrides.py``; a setting that
a worker option stands for (``worker_prefetch_multiplier``, ``worker_concurrency``,
``task_time_limit``, ...) replaces that option.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import celery
import kombu
from celery.app.defaults import DEFAULTS
from kombu.exceptions import OperationalError

from {{ slug }} import topology
from {{ slug }}.celery_app import app

# The worker's application is this module: it registers the benchmark's task.
MODULE = "{{ slug }}.tools.benchmark"
# Passed by the benchmark to the worker it starts.
RECORD_VARIABLE = "BENCHMARK_RECORD_FILE"
SETTINGS_VARIABLE = "BENCHMARK_SETTINGS"


class BenchmarkError(Exception):
    """The benchmark cannot run as asked; the message says why."""


def apply_settings(settings: dict[str, object]) -> None:
    """Celery settings for this run only, on top of the project's configuration."""
    unknown = sorted(name for name in settings if name not in DEFAULTS)
    if unknown:
        raise BenchmarkError(
            f"unknown Celery setting(s): {', '.join(unknown)}; use the lowercase names of "
            "https://docs.celeryq.dev/en/stable/userguide/configuration.html"
        )
    app.conf.update(settings)


# In the worker the benchmark starts, the settings of the run come from the environment.
apply_settings(json.loads(os.environ.get(SETTINGS_VARIABLE) or "{}"))

_record_file: list[int] = []


@app.task(name="{{ slug }}.tools.benchmark.record")
def record(phase: str, number: int, wait: float = 0.0) -> None:
    """Append when this task started and ended to the benchmark's record file.

    ``wait`` seconds pass in between, as a task waiting on a remote service
    spends them (the process sleeps; other threads or greenlets may run).
    """
    started = time.time()
    if wait:
        time.sleep(wait)
    if not _record_file:
        path = os.environ.get(RECORD_VARIABLE)
        if not path:
            raise RuntimeError(
                f"{RECORD_VARIABLE} is not set: this task only runs in a worker started "
                f"by python -m {MODULE}"
            )
        _record_file.append(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
    # One write of one short line: appends from several processes do not interleave.
    line = f"{phase} {number} {started:.6f} {time.time():.6f}\n"
    os.write(_record_file[0], line.encode())


class Records:
    """Reads the record file as the worker appends to it: (start, end) by phase and number."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.phases: dict[str, dict[int, tuple[float, float]]] = {}
        # Runs of a task that had run already: a redelivery or a duplicate.
        self.duplicates: dict[str, int] = {}

    def refresh(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            file.seek(self.offset)
            data = self.partial + file.read()
            self.offset = file.tell()
        *lines, self.partial = data.split(b"\n")
        for line in lines:
            phase, number, started, ended = line.decode().split()
            runs = self.phases.setdefault(phase, {})
            if int(number) in runs:
                self.duplicates[phase] = self.duplicates.get(phase, 0) + 1
            runs[int(number)] = (float(started), float(ended))

    def of(self, phase: str) -> dict[int, tuple[float, float]]:
        self.refresh()
        return self.phases.get(phase, {})


@dataclass
class Run:
    """The figures of one repetition on one queue."""

    publish_per_second: float
    drain_per_second: float
    worker_cpu_ms_per_task: float | None
    latency_p50_ms: float
    latency_p99_ms: float
    rss_mib: float | None
    pss_mib: float | None
    # Tasks of the drain that ran more than once.
    duplicate_runs: int = 0


@dataclass
class QueueResult:
    queue: str
    worker: str
    worker_arguments: list[str]
    runs: list[Run] = field(default_factory=list)

    def median(self, name: str) -> float | None:
        values = [getattr(run, name) for run in self.runs if getattr(run, name) is not None]
        return statistics.median(values) if values else None


def worker_arguments(
    worker: topology.Worker, queue_prefix: str, hostname: str, settings: dict[str, object]
) -> list[str]:
    """The group's ``celery worker`` options (topology.worker_arguments), tuned by ``settings``.

    A setting that stands for a group's option (topology.GROUP_SETTINGS)
    replaces it, as it would in overrides.SETTINGS.
    """
    tuned = replace(
        worker,
        **{
            topology.GROUP_SETTINGS[k]: v
            for k, v in settings.items()
            if k in topology.GROUP_SETTINGS
        },
    )
    arguments = topology.worker_arguments(tuned, queue_prefix)
    return [
        "--loglevel=INFO",
        *(a for a in arguments if not a.startswith("--hostname=")),
        f"--hostname={hostname}",
    ]


def _processes() -> dict[int, int]:
    """Parent pid by pid, for every process (Linux /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return parents


def _kib(path: Path, key: str) -> int:
    for line in path.read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _family(pid: int) -> set[int]:
    """A process and its descendants."""
    parents = _processes()
    family, added = {pid}, True
    while added:
        children = {child for child, parent in parents.items() if parent in family}
        added = bool(children - family)
        family |= children
    return family


def cpu_seconds(pid: int) -> float | None:
    """CPU time, user and system, of a process and its descendants (reaped ones included).

    Less disturbed than wall time by other work on the machine: what a task costs.
    """
    if not Path("/proc/self/stat").exists():
        return None
    ticks = 0
    for member in _family(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def memory_mib(pid: int) -> tuple[float | None, float | None]:
    """Resident (RSS) and proportional (PSS) memory of a process and its descendants.

    RSS counts pages shared by the pool's forked children once per process;
    PSS divides them among the processes sharing them.
    """
    if not Path("/proc/self/status").exists():
        return None, None
    rss = pss = 0
    for member in _family(pid):
        try:
            rss += _kib(Path(f"/proc/{member}/status"), "VmRSS")
            pss += _kib(Path(f"/proc/{member}/smaps_rollup"), "Pss")
        except OSError:
            continue
    return rss / 1024, (pss / 1024 if pss else None)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


class Worker:
    """A ``celery worker`` process of one worker group, on the private queues."""

    def __init__(self, arguments: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        command = [sys.executable, "-m", "celery", "-A", MODULE, "worker"]
        with log.open("ab") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                [*command, *arguments], env=env, stdout=output, stderr=subprocess.STDOUT
            )

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            raise BenchmarkError(
                f"the worker exited with {self.process.returncode}:\n{self.log_tail()}"
            )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def _wait_for(
    records: Records, phase: str, count: int, worker: Worker, timeout: float, poll: float
) -> None:
    """Wait until ``count`` tasks of ``phase`` ran; ``poll`` is short only where it matters,
    as polling takes CPU from the worker."""
    deadline = time.monotonic() + timeout
    while len(records.of(phase)) < count:
        worker.check_alive()
        if time.monotonic() > deadline:
            raise BenchmarkError(
                f"{len(records.of(phase))} of {count} tasks ran within {timeout:.0f} s "
                f"(phase {phase}); the end of the worker's log:\n{worker.log_tail()}"
            )
        time.sleep(poll)


def _declare(queues: list[kombu.Queue]) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            queue.bind(channel).declare()
            queue.bind(channel).purge()


def _delete(queues: list[kombu.Queue]) -> None:
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for queue in queues:
            queue.bind(channel).delete()
            queue.exchange.bind(channel).delete()


def broker_version() -> str:
    with app.connection_for_write() as connection:
        try:
            connection.ensure_connection(max_retries=2)
        except OperationalError as error:
            raise BenchmarkError(
                f"cannot reach the broker at {connection.as_uri()}: {error}; "
                "start it, or set CELERY_BROKER_URL"
            ) from None
{% if cookiecutter.broker == 'redis' %}
        return "Redis " + connection.default_channel.client.info("server")["redis_version"]
{% else %}
        version = connection.connection.server_properties.get("version", "?")
        return f"RabbitMQ {version.decode() if isinstance(version, bytes) else version}"
{% endif %}


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        models = [
            line.split(":", 1)[1].strip()
            for line in cpuinfo.read_text().splitlines()
            if line.startswith("model name")
        ]
        cpu = models[0] if models else cpu
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "broker": broker_version(),
    }


def measure_queue(
    name: str, options: dict, settings: dict[str, object], workdir: Path, write
) -> QueueResult:
    """Every repetition of the three measurements on one queue."""
    group = next((w for w in topology.workers() if name in w.queues), None)
    if group is None:
        raise BenchmarkError(f"no worker group consumes queue {name!r}: see topology.workers()")
    prefix = f"benchmark-{uuid.uuid4().hex[:8]}-"
    declared = {queue.name: queue for queue in topology.declare_queues(prefix)}
    target = declared[prefix + name]
    hostname = f"benchmark-{group.name}-{prefix[10:18]}@%h"
    arguments = worker_arguments(group, prefix, hostname, settings)
    result = QueueResult(name, group.name, arguments)
    record_file = workdir / f"{prefix}records"
    env = {
        **os.environ,
        "CELERY_QUEUE_PREFIX": prefix,
        # Connection pools sized for the group, as the launcher has them (celeryconfig.py).
        "CELERY_WORKER_GROUP": group.name,
        RECORD_VARIABLE: str(record_file),
        SETTINGS_VARIABLE: json.dumps(settings),
    }
    records = Records(record_file)
    tasks, samples = options["tasks"], options["latency_samples"]
    write(f"queue {name}: worker group {group.name}: celery worker {' '.join(arguments)}")
    _declare(list(declared.values()))
    try:
        for repetition in range(options["repeat"]):
            drain, idle = f"drain{repetition}", f"latency{repetition}"
            # Connect and declare before the clock starts; this task is not counted.
            record.apply_async(("warm-up", repetition), queue=target)
            began = time.perf_counter()
            for number in range(tasks):
                record.apply_async((drain, number, options.get("io_wait") or 0.0), queue=target)
            published = tasks / (time.perf_counter() - began)

            worker = Worker(arguments, env, workdir / f"{prefix}worker.log")
            try:
                _wait_for(records, drain, 1, worker, 120.0, poll=0.005)
                cpu_before = cpu_seconds(worker.process.pid)
                _wait_for(records, drain, tasks, worker, max(120.0, tasks / 20), poll=0.05)
                cpu_after = cpu_seconds(worker.process.pid)
                times = records.of(drain).values()
                drained = tasks / (max(end for _, end in times) - min(start for start, _ in times))

                latencies = []
                for number in range(samples):
                    time.sleep(0.01)  # the worker is idle, waiting on the broker
                    sent = time.time()
                    record.apply_async((idle, number), queue=target)
                    _wait_for(records, idle, number + 1, worker, 60.0, poll=0.002)
                    latencies.append((records.of(idle)[number][0] - sent) * 1000)
                rss, pss = memory_mib(worker.process.pid)
            finally:
                worker.stop()
            run = Run(
                publish_per_second=published,
                drain_per_second=drained,
                worker_cpu_ms_per_task=(
                    None if cpu_before is None else (cpu_after - cpu_before) * 1000 / tasks
                ),
                latency_p50_ms=percentile(latencies, 0.5),
                latency_p99_ms=percentile(latencies, 0.99),
                rss_mib=rss,
                pss_mib=pss,
                duplicate_runs=records.duplicates.get(drain, 0),
            )
            result.runs.append(run)
            write(
                f"  run {repetition + 1}: publish {run.publish_per_second:,.0f}/s, "
                f"drain {run.drain_per_second:,.0f}/s, "
                f"worker CPU {_ms(run.worker_cpu_ms_per_task)} per task, "
                f"latency p50 {run.latency_p50_ms:.2f} ms "
                f"p99 {run.latency_p99_ms:.2f} ms, memory {_mib(run.rss_mib)} RSS"
                f" / {_mib(run.pss_mib)} PSS, {run.duplicate_runs} duplicate run(s)"
            )
    finally:
        _delete(list(declared.values()))
    return result


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f} ms"


def _mib(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0f} MiB"


def summary(results: list[QueueResult], write) -> None:
    header = (
        "queue",
        "worker",
        "publish/s",
        "drain/s",
        "CPU ms/task",
        "p50 ms",
        "p99 ms",
        "RSS MiB",
        "PSS MiB",
        "duplicates",
    )
    rows = [header]
    for result in results:
        figures = [result.median(name) for name in ("publish_per_second", "drain_per_second")]
        cpu = result.median("worker_cpu_ms_per_task")
        latency = [result.median(name) for name in ("latency_p50_ms", "latency_p99_ms")]
        memory = [result.median(name) for name in ("rss_mib", "pss_mib")]
        rows.append(
            (
                result.queue,
                result.worker,
                *(f"{value:,.0f}" for value in figures),
                "n/a" if cpu is None else f"{cpu:.2f}",
                *(f"{value:.2f}" for value in latency),
                *("n/a" if value is None else f"{value:.0f}" for value in memory),
                str(sum(run.duplicate_runs for run in result.runs)),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        write("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))


def parse_setting(text: str) -> tuple[str, object]:
    name, separator, value = text.partition("=")
    if not separator or not name:
        raise argparse.ArgumentTypeError(f"{text!r}: expected NAME=VALUE")
    try:
        return name, json.loads(value)
    except json.JSONDecodeError:
        return name, value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text}: must be at least 1")
    return value


def non_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text}: must be 0 or more")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--queues",
        help="comma-separated queues to measure (default: all of "
        f"{', '.join(topology.all_queue_names())})",
    )
    parser.add_argument("--tasks", type=positive, default=2000, help="tasks per drain")
    parser.add_argument(
        "--io-wait",
        type=non_negative,
        default=0.0,
        metavar="SECONDS",
        help="each drained task waits this long, as on a remote service (default 0: no-op tasks)",
    )
    parser.add_argument(
        "--latency-samples", type=positive, default=200, help="tasks sent one by one"
    )
    parser.add_argument("--repeat", type=positive, default=3, help="repetitions per queue")
    parser.add_argument(
        "--set",
        dest="celery_settings",
        type=parse_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a Celery setting for this run (VALUE is JSON, or else a string)",
    )
    parser.add_argument("--json", type=Path, help="also write every figure to this file")


def run(options: dict, write: Callable[[str], object]) -> list[QueueResult]:
    """Measure the queues that ``options`` name and report every figure through ``write``."""
    queues = (
        options["queues"].split(",") if options.get("queues") else list(topology.all_queue_names())
    )
    unknown = [name for name in queues if name not in topology.all_queue_names()]
    if unknown:
        raise BenchmarkError(
            f"unknown queue(s) {', '.join(unknown)}: "
            f"choose among {', '.join(topology.all_queue_names())}"
        )
{% if django %}
    # Loads the task modules and sets Django up, as a worker does: the result
    # backend needs Django's apps.
{% else %}
    # Loads the task modules, as a worker does.
{% endif %}
    app.loader.import_default_modules()
    settings = dict(options.get("celery_settings") or [])
    apply_settings(settings)
    about = machine()
    write(
        f"{about['cpu']}, {about['cores']} cores; Python {about['python']}, "
        f"Celery {about['celery']}, Kombu {about['kombu']}, {about['broker']}"
    )
    if settings:
        write(f"settings for this run: {json.dumps(settings)}")
    with tempfile.TemporaryDirectory(prefix="benchmark-") as workdir:
        results = [measure_queue(name, options, settings, Path(workdir), write) for name in queues]
    write("")
    write(f"medians of {options['repeat']} run(s):")
    summary(results, write)
    if options.get("json"):
        report = {
            "machine": about,
            "settings": settings,
            "tasks": options["tasks"],
            "io_wait": options.get("io_wait") or 0.0,
            "latency_samples": options["latency_samples"],
            "repeat": options["repeat"],
            "queues": [asdict(result) for result in results],
        }
        options["json"].write_text(json.dumps(report, indent=2) + "\n")
    return results


def main(argv: list[str] | None = None, prog: str = f"python -m {MODULE}") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    add_arguments(parser)
    try:
        run(vars(parser.parse_args(argv)), print)
    except BenchmarkError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

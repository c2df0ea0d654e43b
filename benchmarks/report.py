"""BENCHMARKS.md, written from the figures of one run."""

from __future__ import annotations

import difflib
import json
import statistics

from benchmarks import io
from benchmarks.baking import BakeTimes, SuiteRun
from benchmarks.queues import BROKERS, CONFIGURATIONS, QUEUE, Measured

TARGET_RATIO = 0.8
CPU = "worker_cpu_ms_per_task"
TARGET_BAKE_SECONDS = 0.5
# The io group against the prefork group it replaced: drain rate, at no more memory.
TARGET_IO_RATIO = 10
BROKER_NAMES = {"redis": "Redis", "rabbitmq": "RabbitMQ"}


def _f(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ratio(numerator: float | None, denominator: float | None) -> str:
    if not numerator or not denominator:
        return "n/a"
    return f"{numerator / denominator:.2f}"


def _runs(values: list[float], digits: int = 0) -> str:
    return ", ".join(_f(value, digits) for value in values)


def _noise_warning(machine: dict) -> list[str]:
    """A warning when other work loaded the machine: the benchmark alone keeps the
    1-minute load average near the number of cores."""
    highest, cores = max(machine["load_during"]), machine["cores"] or 1
    if highest <= 1.5 * cores:
        return []
    return [
        f"**Other work ran on this machine during the run** (load average up to "
        f"{highest:.1f} on {cores} cores): the figures below are noisy, and so are their "
        "ratios. Run the command again on a quiet machine before drawing conclusions.",
        "",
    ]


def _io_target(broker: str, measured: dict[tuple[str, str], Measured]) -> str:
    generated, before = measured[broker, "generated"], measured[broker, "prefork4"]
    ratio = _ratio(generated.median("drain_per_second"), before.median("drain_per_second"))
    memory = (generated.median("rss_mib") or 0) <= (before.median("rss_mib") or 0)
    duplicates = sum(
        sum(run["duplicate_runs"] for run in m.runs)
        for (b, _), m in measured.items()
        if b == broker
    )
    met = ratio != "n/a" and float(ratio) >= TARGET_IO_RATIO and memory and duplicates == 0
    return (
        f"| {BROKER_NAMES[broker]}: the I/O-bound group drains at least {TARGET_IO_RATIO} × the "
        f"prefork group it replaced, in no more resident memory, with no duplicate run "
        f"| {ratio} ×, RSS {_f(generated.median('rss_mib'))} against "
        f"{_f(before.median('rss_mib'))} MiB, {duplicates} duplicate runs | "
        f"{'yes' if met else 'no'} |"
    )


def _io_section(measured: dict[tuple[str, str], Measured], options: dict) -> list[str]:
    lines = [
        f"## The I/O-bound group (`{io.QUEUE}` queue, per-domain topology)",
        "",
        f"Each configuration runs the generated project's benchmark command with "
        f"`--queues {io.QUEUE} --io-wait {options['io_wait']}`: {options['io_tasks']:,} tasks, "
        f"each waiting {options['io_wait']} s as on a remote API, are published, then one worker "
        "drains them. Duplicates are tasks that ran more than once (late acknowledgement, "
        "every configuration).",
        "",
    ]
    for broker in BROKERS:
        generated = measured[broker, "generated"]
        lines += [
            f"### {BROKER_NAMES[broker]}",
            "",
            "| Configuration | drain tasks/s | this ÷ prefork 4 | RSS MiB | PSS MiB | duplicates |",
            "|---|--:|--:|--:|--:|--:|",
        ]
        before = measured[broker, "prefork4"]
        for configuration in io.CONFIGURATIONS:
            m = measured[broker, configuration.key]
            lines.append(
                f"| {configuration.title} | {_f(m.median('drain_per_second'))} "
                f"| {_ratio(m.median('drain_per_second'), before.median('drain_per_second'))} "
                f"| {_f(m.median('rss_mib'))} | {_f(m.median('pss_mib'))} "
                f"| {sum(run['duplicate_runs'] for run in m.runs)} |"
            )
        lines += [
            "",
            "Worker of the generated group: "
            f"`celery worker {' '.join(generated.worker_arguments)}`",
            "",
        ]
    lines += ["### The configurations", ""]
    for configuration in io.CONFIGURATIONS:
        settings = ", ".join(f"`{k}={json.dumps(v)}`" for k, v in configuration.settings.items())
        lines.append(
            f"- **{configuration.title}**: {configuration.what}. "
            f"Settings replaced: {settings or 'none'}."
        )
    lines.append("")
    return lines


def _side_by_side(broker: str, measured: dict[tuple[str, str], Measured]) -> list[str]:
    generated = measured[broker, "generated"]
    lines = [
        "| Configuration | drain tasks/s | generated ÷ this | worker CPU ms/task "
        "| this ÷ generated | publish tasks/s | latency p50 ms | latency p99 ms "
        "| RSS MiB | PSS MiB |",
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|",
    ]
    for configuration in CONFIGURATIONS:
        m = measured[broker, configuration.key]
        lines.append(
            f"| {configuration.title} | {_f(m.median('drain_per_second'))} "
            f"| {_ratio(generated.median('drain_per_second'), m.median('drain_per_second'))} "
            f"| {_f(m.median('worker_cpu_ms_per_task'), 2)} "
            f"| {_ratio(m.median(CPU), generated.median(CPU))} "
            f"| {_f(m.median('publish_per_second'))} | {_f(m.median('latency_p50_ms'), 2)} "
            f"| {_f(m.median('latency_p99_ms'), 2)} | {_f(m.median('rss_mib'))} "
            f"| {_f(m.median('pss_mib'))} |"
        )
    return lines


def _monitoring_section(configs: dict[str, dict[str, str]], measured) -> list[str]:
    lines = []
    for broker in BROKERS:
        plain = measured[broker, "generated"]
        events = measured[broker, "events"]
        lines.append(
            f"- {BROKER_NAMES[broker]}: with events the fast queue drains "
            f"{_f(events.median('drain_per_second'))} tasks/s against "
            f"{_f(plain.median('drain_per_second'))} without, a ratio of "
            f"{_ratio(events.median('drain_per_second'), plain.median('drain_per_second'))}; "
            f"publishing (which then also sends the sent event) "
            f"{_ratio(events.median('publish_per_second'), plain.median('publish_per_second'))}; "
            f"latency p50 {_f(events.median('latency_p50_ms'), 2)} ms against "
            f"{_f(plain.median('latency_p50_ms'), 2)} ms."
        )
    lines.append("")
    for broker in BROKERS:
        texts = configs[broker]
        same = texts["flower"] == texts["prometheus"] == texts["flower+prometheus"]
        diff = [
            line
            for line in difflib.unified_diff(
                texts["none"].splitlines(),
                texts["flower+prometheus"].splitlines(),
                lineterm="",
                n=0,
            )
            if line[:1] in "+-" and not line.startswith(("+++", "---"))
        ]
        verdict = (
            "generate the same `celeryconfig.py`"
            if same
            else "do **not** generate the same `celeryconfig.py`"
        )
        lines.append(
            f"With {BROKER_NAMES[broker]}, monitoring=flower, prometheus and flower+prometheus "
            f"{verdict}; it differs from monitoring=none in these lines only, so each "
            "monitoring choice costs what the events cost above (plus the monitoring "
            "processes themselves, which are not measured here):"
        )
        lines += ["", "```diff", *diff, "```", ""]
    return lines


def render(
    *,
    machine: dict,
    brokers: dict[str, dict],
    options: dict,
    argv: list[str],
    measured: dict[tuple[str, str], Measured],
    configs: dict[str, dict[str, str]],
    bakes: BakeTimes,
    suite: SuiteRun | None,
    io_measured: dict[tuple[str, str], Measured],
) -> str:
    first = brokers[BROKERS[0]]
    command = "uv run --locked --group test python -m benchmarks" + "".join(f" {a}" for a in argv)
    rounds = options["rounds"]
    lines = [
        "# Benchmarks",
        "",
        f"Written by `{command}` from its run of {machine['date']}. Nothing in this file is "
        "typed by hand: run the command again to refresh it (see *Reproduce* at the end).",
    ]
    if options["quick"]:
        lines += ["", "**A --quick run: tiny counts, the figures mean nothing.**"]
    lines += [
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {machine['cpu']}, {machine['cores']} cores |",
        f"| OS | {machine['os']} |",
        f"| Python | {machine['python']} (template), {first['python']} (baked projects) |",
        f"| Celery, Kombu | {first['celery']}, {first['kombu']} |",
        f"| Brokers | {', '.join(brokers[b]['broker'] for b in BROKERS)} (on this machine) |",
        f"| cookiecutter, uv | {machine['cookiecutter']}, {machine['uv']} |",
        f"| Load average (1, 5, 15 min) | {machine['load_start']} at the start, "
        f"{machine['load_end']} at the end |",
        f"| Load average after each queue run (1 min) | median "
        f"{statistics.median(machine['load_during']):.2f}, highest "
        f"{max(machine['load_during']):.2f} |",
        f"| Duration of the run | {machine['minutes']:.1f} minutes |",
        "",
        *_noise_warning(machine),
        f"The machine has {machine['cores']} cores: the worker's processes, the broker and the "
        "benchmark itself share them, so absolute figures are modest and somewhat noisy. "
        "Compare configurations by their ratios, measured in the same run on the same "
        f"broker. Every figure is the median of {rounds} run(s); the configurations are "
        "interleaved round by round, and every run's figure is listed at the end.",
        "",
        "## Targets",
        "",
        "| Target | Measured | Met |",
        "|---|---|---|",
    ]
    for broker in BROKERS:
        generated, unsafe = measured[broker, "generated"], measured[broker, "unsafe"]
        ratio = _ratio(generated.median("drain_per_second"), unsafe.median("drain_per_second"))
        by_cpu = _ratio(unsafe.median(CPU), generated.median(CPU))
        met = "yes" if ratio != "n/a" and float(ratio) >= TARGET_RATIO else "no"
        lines.append(
            f"| {BROKER_NAMES[broker]}: the generated latency-sensitive queue drains at least "
            f"{TARGET_RATIO} × the unsafe best case, keeping late acknowledgement "
            f"| {ratio} (by worker CPU per task: {by_cpu}) | {met} |"
        )
    lines += [_io_target(broker, io_measured) for broker in BROKERS]
    first = statistics.median(bakes.first_seconds)
    warm = statistics.median(bakes.api_seconds)
    lines += [
        f"| A project bakes in under {TARGET_BAKE_SECONDS} s: cookiecutter's `cookiecutter()`, "
        f"median of {len(bakes.first_seconds)} combinations, as the first bake of a new "
        f"process (in a warm process: {warm:.3f} s) | {first:.3f} s "
        f"| {'yes' if first < TARGET_BAKE_SECONDS else 'no'} |",
        "",
        f"## The latency-sensitive queue, side by side (`{QUEUE}` queue, fast-slow topology)",
        "",
        "Each configuration runs the generated project's own benchmark command "
        f"(`python -m <slug>.tools.benchmark --queues {QUEUE}`): {options['tasks']:,} no-op tasks "
        "are published (publish tasks/s), then a real prefork `celery worker` is started and "
        "drains them (first task start to last task end: drain tasks/s); then "
        f"{options['latency_samples']} tasks are sent one at a time to the idle worker "
        "(enqueue-to-start latency, timestamps taken in the task); the memory is that of the "
        "worker's main process and children, idle after the run; the worker's CPU time per task "
        "(main process and children, user and system, during the drain) is less disturbed by "
        "other work on the machine than the throughput is. Queues are the project's own "
        "(on RabbitMQ, quorum queues with a dead-letter exchange) under a private prefix.",
        "",
    ]
    for broker in BROKERS:
        lines += [f"### {BROKER_NAMES[broker]}", "", *_side_by_side(broker, measured), ""]
    lines += ["### The configurations", ""]
    for configuration in CONFIGURATIONS:
        m = measured[BROKERS[0], configuration.key]
        settings = ", ".join(
            f"`{name}={json.dumps(value)}`" for name, value in configuration.settings.items()
        )
        extra = ", ".join(
            f"`{name}={json.dumps(value)}`"
            for name, value in configuration.rabbitmq_settings.items()
        )
        lines += [
            f"- **{configuration.title}**: {configuration.what}.",
            f"  Settings replaced: {settings or 'none'}"
            + (f"; on RabbitMQ also {extra}" if extra else "")
            + ".",
            f"  Worker: `celery worker {' '.join(m.worker_arguments)}`",
        ]
    lines += [
        "",
        "## What task events and each monitoring choice cost",
        "",
        *_monitoring_section(configs, measured),
        "## Bake time",
        "",
        f"{len(bakes.combinations)} option combinations drawn from the whole matrix (a "
        "seeded sample, the same on every run), "
        "each baked three times: by the `cookiecutter` command in a new process, as a user "
        "runs it (starting Python and importing cookiecutter included); by cookiecutter's "
        "`cookiecutter()` as the first bake of a new process (rendering and both hooks, "
        "templates compiled); and by `cookiecutter()` in a process that baked before, as the "
        "template's test matrix bakes (compiled templates reused).",
        "",
        "| | median s | min s | max s |",
        "|---|--:|--:|--:|",
    ]
    for title, values in (
        ("`cookiecutter --no-input ...` command, whole", bakes.command_seconds),
        ("`cookiecutter()`, first bake of a new process", bakes.first_seconds),
        ("`cookiecutter()` in a warm process", bakes.api_seconds),
    ):
        summary = BakeTimes.summary(values)
        lines.append(
            f"| {title} | {summary['median']:.3f} | {summary['min']:.3f} | {summary['max']:.3f} |"
        )
    lines += ["", *_io_section(io_measured, options)]
    lines += ["## The template's test suite", ""]
    if suite is None:
        lines.append(
            "Not measured in this run: `python -m benchmarks --test-suite` runs it first and "
            "records its wall time."
        )
    else:
        lines.append(
            f"`{suite.command}`: {suite.seconds / 60:.1f} minutes ({suite.seconds:.0f} s) of "
            f"wall time on this machine, exit status {suite.returncode}: {suite.summary}."
        )
        if suite.slowest:
            lines += ["", f"The slowest {len(suite.slowest)} (pytest's `--durations`):", ""]
            lines += ["| seconds | phase | test |", "|--:|---|---|"]
            for line in suite.slowest:
                seconds, phase, test = (line.split(maxsplit=2) + ["", ""])[:3]
                lines.append(f"| {seconds.rstrip('s')} | {phase} | `{test}` |")
    lines += [
        "",
        "## Every run",
        "",
        "| Broker | Configuration | drain tasks/s | worker CPU ms/task | publish tasks/s "
        "| p50 ms | p99 ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for broker in BROKERS:
        for configuration in CONFIGURATIONS:
            m = measured[broker, configuration.key]
            cells = [
                _runs(m.values("drain_per_second")),
                _runs(m.values(CPU), 2),
                _runs(m.values("publish_per_second")),
                _runs(m.values("latency_p50_ms"), 2),
                _runs(m.values("latency_p99_ms"), 2),
            ]
            lines.append(
                f"| {BROKER_NAMES[broker]} | {configuration.title} | {' | '.join(cells)} |"
            )
    took_suite = f"the test suite {suite.seconds / 60:.0f} of them; " if suite else ""
    lines += [
        "",
        "Bake times in s, in combination order (command / first bake / warm): "
        + "; ".join(
            f"{name} {c:.3f} / {f:.3f} / {a:.3f}"
            for name, c, f, a in zip(
                bakes.combinations,
                bakes.command_seconds,
                bakes.first_seconds,
                bakes.api_seconds,
                strict=True,
            )
        )
        + ".",
        "",
        "## Reproduce",
        "",
        "On a quiet machine with [uv](https://docs.astral.sh/uv/), Redis on "
        "127.0.0.1:6379 and RabbitMQ on 127.0.0.1:5672 (guest/guest), from the template's root:",
        "",
        "```bash",
        "uv run --locked --group test python -m benchmarks --test-suite",
        "```",
        "",
        f"It took {machine['minutes']:.0f} minutes in the run above ({took_suite}leave out "
        "`--test-suite` to skip the suite), prints every figure as it is measured, and rewrites "
        "this file. `--rounds`, `--tasks` and `--latency-samples` change the counts; `--quick` "
        "checks that everything runs, in a minute or two. A generated project measures its own "
        "queues with `python -m <slug>.tools.benchmark` (see its README).",
        "",
    ]
    return "\n".join(lines)

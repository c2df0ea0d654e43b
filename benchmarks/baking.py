"""Bake time per option combination, and the wall time of the template's own test suite."""

from __future__ import annotations

import json
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from cookiecutter.main import cookiecutter

from tests.options import TEMPLATE_DIR, combo_id, full_matrix

UV = shutil.which("uv") or "uv"


def sample(size: int) -> list[dict]:
    """``size`` combinations drawn from the whole option matrix, the same on every run."""
    combinations = full_matrix()
    chosen = random.Random(0).sample(range(len(combinations)), size)  # noqa: S311 - a sample
    return [combinations[index] for index in sorted(chosen)]


@dataclass
class BakeTimes:
    combinations: list[str]
    command_seconds: list[float]  # a new `cookiecutter` process per bake, as a user runs it
    api_seconds: list[float]  # cookiecutter() in one process, as the test matrix bakes
    first_seconds: list[float]  # cookiecutter() as the first bake of a new process

    @staticmethod
    def summary(values: list[float]) -> dict[str, float]:
        return {
            "median": statistics.median(values),
            "min": min(values),
            "max": max(values),
        }


def _argument(name: str, value) -> str:
    if isinstance(value, bool):
        return f"{name}={'yes' if value else 'no'}"
    return f"{name}={value}"


# Times cookiecutter() alone, in a process that has just imported cookiecutter.
FIRST_BAKE = """
import json, sys, time
from cookiecutter.main import cookiecutter
template, output, answers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
began = time.perf_counter()
cookiecutter(template, no_input=True, extra_context=answers, output_dir=output)
print(time.perf_counter() - began)
"""


def _first_bake_seconds(answers: dict, out: Path) -> float:
    command = [sys.executable, "-c", FIRST_BAKE, str(TEMPLATE_DIR), str(out), json.dumps(answers)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return float(done.stdout.strip().splitlines()[-1])


def bake_times(size: int, log) -> BakeTimes:
    combinations = sample(size)
    command_seconds, api_seconds, first = [], [], []
    with tempfile.TemporaryDirectory(prefix="celery-stack-bake-time-") as root:
        # Untimed: the warm figures are of a process that has baked before.
        cookiecutter(str(TEMPLATE_DIR), no_input=True, output_dir=str(Path(root) / "warm-up"))
        for index, answers in enumerate(combinations):
            out = Path(root) / f"command-{index}"
            command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(out)]
            command += [str(TEMPLATE_DIR), *(_argument(k, v) for k, v in answers.items())]
            began = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True)
            command_seconds.append(time.perf_counter() - began)

            out = Path(root) / f"first-{index}"
            first.append(_first_bake_seconds(answers, out))

            out = Path(root) / f"api-{index}"
            began = time.perf_counter()
            cookiecutter(
                str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(out)
            )
            api_seconds.append(time.perf_counter() - began)
            log(
                f"bake {index + 1}/{len(combinations)} {combo_id(answers)}: command "
                f"{command_seconds[-1]:.3f} s, first in a process {first[-1]:.3f} s, "
                f"in a warm process {api_seconds[-1]:.3f} s"
            )
    return BakeTimes([combo_id(a) for a in combinations], command_seconds, api_seconds, first)


@dataclass
class SuiteRun:
    command: str
    seconds: float
    returncode: int
    summary: str
    # pytest's --durations lines: "SECONDS call TEST", slowest first.
    slowest: list[str] = field(default_factory=list)


SLOWEST = 15


def slowest_of(output: str) -> list[str]:
    """The lines of pytest's "slowest durations" section."""
    lines, section = output.splitlines(), []
    start = next(
        (n for n, line in enumerate(lines) if "slowest" in line and "durations" in line), None
    )
    if start is None:
        return []
    for line in lines[start + 1 :]:
        if not line.strip() or line.startswith("="):
            break
        section.append(line.strip())
    return section[:SLOWEST]


def test_suite_time(log) -> SuiteRun:
    """The template's whole suite, as CONTRIBUTING.md runs it, with its slowest tests."""
    command = [UV, "run", "--locked", "--group", "test", "pytest", "-n", "auto", "-q"]
    command += [f"--durations={SLOWEST}"]
    log("running the template's test suite: uv " + " ".join(command[1:]))
    began = time.perf_counter()
    done = subprocess.run(command, cwd=TEMPLATE_DIR, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - began
    output = Path(tempfile.gettempdir()) / "template-suite.log"
    output.write_text(done.stdout + done.stderr)
    log(f"the suite's output: {output}")
    lines = [line for line in done.stdout.strip().splitlines() if line.strip()]
    summary = lines[-1].strip("= ") if lines else done.stderr.strip()[-200:]
    log(f"test suite: {seconds:.0f} s, exit {done.returncode}: {summary}")
    return SuiteRun(
        "uv run --locked --group test pytest -n auto",
        seconds,
        done.returncode,
        summary,
        slowest_of(done.stdout),
    )

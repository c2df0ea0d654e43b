"""Baked projects install in their own environment and pass their own test suites.

A pairwise covering set of option values: every value of every option, and
every pair of values of two options, is baked at least once, installed with
uv into the project's own virtual environment, and its whole suite is run
against the real Redis, RabbitMQ and PostgreSQL on localhost, with real
workers.
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.options import combo_id, pairwise_covering_set

RUN_OPTIONS = [
    "framework",
    "broker",
    "result_backend",
    "queue_topology",
    "beat_scheduler",
    "serializer",
    "monitoring",
    "message_signing",
    "use_sentry",
    "use_opentelemetry",
]
SUITES = pairwise_covering_set(RUN_OPTIONS)
UV = shutil.which("uv") or "uv"


def project_env() -> dict[str, str]:
    """The caller's environment, minus what would leak the template's own virtualenv."""
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    return env


def run(command: list[str], cwd, timeout: int) -> subprocess.CompletedProcess:
    return subprocess.run(
        command,
        cwd=cwd,
        env=project_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def install(project):
    """The baked project's dependencies, in its own virtual environment; returns the project."""
    sync = run([UV, "sync", "--all-groups", "--python", "3.11"], project, timeout=600)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    return project


def bake_installed(bake, **answers):
    """Bake ``answers`` and install the project; returns its path."""
    result = bake(**answers)
    assert result.exit_code == 0, result.exception
    return install(result.project_path)


@pytest.mark.slow
@pytest.mark.parametrize("answers", SUITES, ids=[combo_id(a) for a in SUITES])
def test_generated_project_passes_its_own_suite(bake, answers):
    index = SUITES.index(answers)
    # A name of its own, so that parallel Django suites get their own test databases.
    project = bake_installed(bake, **{**answers, "project_name": f"Suite {index}"})
    suite = run([UV, "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"], project, 900)
    summary = suite.stdout.strip().splitlines()[-1:] if suite.stdout else []
    print(f"\n{combo_id(answers)}: {' '.join(summary)}")
    assert suite.returncode == 0, suite.stdout[-6000:] + suite.stderr[-3000:]
    # pytest-django's warning when a connection the tests left open kept the
    # test database (PostgreSQL waits 5 s for it first): the next run starts
    # on a database that was not dropped.
    assert "Error when trying to teardown test databases" not in suite.stdout, suite.stdout[-6000:]

"""Baked projects install in their own environment and pass their own test suites.

A pairwise covering set of option values: every value of every option, and
every pair of values of two options, is baked at least once, installed with
uv into the project's own virtual environment, and its whole suite is run
against the real Redis, RabbitMQ and PostgreSQL on localhost, with real
workers.

Every generated project in the suite resolves its dependencies as the
template's ``uv.lock`` did: ``project_env`` hands the lock's exclude-newer
date to uv, and ``install`` checks that each direct dependency came out at
the version the lock holds for it (the lock's ``generated`` group).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tomllib

import pytest

from tests.options import TEMPLATE_DIR, combo_id, pairwise_covering_set

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


TEMPLATE_LOCK = tomllib.loads((TEMPLATE_DIR / "uv.lock").read_text())
TEMPLATE_NAME = tomllib.loads((TEMPLATE_DIR / "pyproject.toml").read_text())["project"]["name"]


def locked_versions(lock: dict) -> dict[str, str]:
    """Package name to version, of a uv.lock read with tomllib."""
    return {package["name"]: package["version"] for package in lock["package"]}


def project_env() -> dict[str, str]:
    """The caller's environment, minus what would leak the template's own virtualenv.

    uv sees nothing uploaded after the template's lock was written: a bake in
    the suite installs what the lock tested, not a release of this morning.
    """
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    env["UV_EXCLUDE_NEWER"] = TEMPLATE_LOCK["options"]["exclude-newer"]
    env.pop("UV_PROJECT_ENVIRONMENT", None)
    env.pop("UV_RESOLUTION", None)
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


def install(project, resolution: str = "highest"):
    """The baked project's dependencies, in its own virtual environment; returns the project.

    ``resolution="lowest-direct"``: the lowest version each of the project's
    own ranges allows, so that its lower bounds are tested too.
    """
    sync = run(
        [UV, "sync", "--all-groups", "--python", "3.11", "--resolution", resolution],
        project,
        timeout=600,
    )
    assert sync.returncode == 0, sync.stdout + sync.stderr
    if resolution == "highest":
        assert_resolved_as_the_template_lock(project)
    return project


def assert_resolved_as_the_template_lock(project) -> None:
    """Each direct dependency of ``project`` is at the version of the template's lock."""
    template = locked_versions(TEMPLATE_LOCK)
    resolved = locked_versions(tomllib.loads((project / "uv.lock").read_text()))
    root = next(package for package in TEMPLATE_LOCK["package"] if package["name"] == TEMPLATE_NAME)
    generated = {entry["name"] for entry in root["dev-dependencies"]["generated"]}
    differ = {
        name: (resolved[name], template[name])
        for name in generated
        if name in resolved and resolved[name] != template[name]
    }
    assert not differ, f"resolved, locked by the template: {differ}"


def bake_installed(bake, resolution: str = "highest", **answers):
    """Bake ``answers`` and install the project (``install``); returns its path."""
    result = bake(**answers)
    assert result.exit_code == 0, result.exception
    return install(result.project_path, resolution)


def assert_suite_passes(project, answers: dict) -> None:
    """The baked ``project``'s own suite passes, and leaves no test database behind."""
    suite = run([UV, "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"], project, 900)
    summary = suite.stdout.strip().splitlines()[-1:] if suite.stdout else []
    print(f"\n{combo_id(answers)}: {' '.join(summary)}")
    assert suite.returncode == 0, suite.stdout[-6000:] + suite.stderr[-3000:]
    # pytest-django's warning when a connection the tests left open kept the
    # test database (PostgreSQL waits 5 s for it first): the next run starts
    # on a database that was not dropped.
    assert "Error when trying to teardown test databases" not in suite.stdout, suite.stdout[-6000:]


@pytest.mark.slow
@pytest.mark.parametrize("answers", SUITES, ids=[combo_id(a) for a in SUITES])
def test_generated_project_passes_its_own_suite(bake, answers):
    index = SUITES.index(answers)
    # A name of its own, so that parallel Django suites get their own test databases.
    project = bake_installed(bake, **{**answers, "project_name": f"Suite {index}"})
    assert_suite_passes(project, answers)


# Every optional integration at once, hence nearly every dependency a project
# can ask for (all but celery-redbeat, which needs a beat scheduler of its
# own): their lowest allowed versions, in the suite. ``--lowest-versions``
# runs the whole cover of SUITES that way instead.
EVERY_INTEGRATION = {
    "framework": "django",
    "broker": "redis",
    "result_backend": "django-db",
    "beat_scheduler": "django-celery-beat",
    "serializer": "msgpack",
    "monitoring": "flower+prometheus",
    "message_signing": True,
    "use_sentry": True,
    "use_opentelemetry": True,
}


def pytest_generate_tests(metafunc):
    if metafunc.definition.name == "test_generated_project_passes_its_suite_at_its_lowest_versions":
        cover = SUITES if metafunc.config.getoption("--lowest-versions") else [EVERY_INTEGRATION]
        metafunc.parametrize("answers", cover, ids=[combo_id(a) for a in cover])


@pytest.mark.slow
def test_generated_project_passes_its_suite_at_its_lowest_versions(bake, answers):
    """The lower bounds of its ranges are real: ``uv sync --resolution lowest-direct``."""
    index = SUITES.index(answers) if answers in SUITES else len(SUITES)
    project = bake_installed(
        bake, resolution="lowest-direct", **{**answers, "project_name": f"Lowest {index}"}
    )
    assert_suite_passes(project, answers)

"""The matrix checks themselves: each one fails on a broken input.

A check that cannot fail proves nothing, so each is shown a project with
one defect and must name it.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests import checks
from tests.options import matrix
from tests.traces import trace_errors

DEFAULTS = matrix()[0]


@pytest.fixture
def project(bake):
    result = bake(**DEFAULTS)
    assert result.exit_code == 0
    return result.project_path


def test_clean_project_passes_every_check(project):
    tree = checks.read_tree(project)
    compose = [p for p in tree if checks.is_compose_file(p)]
    workflows = [p for p in tree if checks.is_workflow(p)]
    assert compose and workflows
    assert checks.unrendered_markup(tree) == []
    assert checks.parse_errors(tree) == []
    assert checks.ruff_errors(project, tree) == []
    assert checks.schema_errors("vendor.compose-spec", tree, compose) == []
    assert checks.docker_compose_errors(project, compose, checks.PRODUCTION_ENV) == []
    assert checks.hadolint_errors(tree) == []
    assert checks.schema_errors("vendor.github-workflows", tree, workflows) == []
    assert trace_errors(DEFAULTS, tree) == []


def test_unrendered_markup_is_found():
    tree = {"a.py": b"x = '{{ cookiecutter.project_slug }}'\n", "b.md": b"{% if x %}\n"}
    assert len(checks.unrendered_markup(tree)) == 2


@pytest.mark.parametrize(
    ("path", "content"),
    [
        ("broken.yaml", b"key: [unclosed\n"),
        ("broken.toml", b"key = \n"),
        ("broken.json", b"{'single': 'quotes'}"),
        ("broken.ini", b"no section header\n"),
        ("broken.py", b"def f(:\n"),
    ],
)
def test_parse_errors_are_found(path, content):
    assert checks.parse_errors({path: content}) != []


def test_ruff_finds_lint_and_formatting(project):
    target = project / "src" / "acme_tasks" / "overrides.py"
    target.write_text(target.read_text() + "\nimport os\nx=1\n")
    tree = checks.read_tree(project)
    errors = "\n".join(checks.ruff_errors(project, tree))
    assert "F401" in errors  # unused import
    assert "ruff format" in errors


def test_compose_schema_and_docker_compose_refuse_a_broken_file(project):
    compose = project / "compose.yaml"
    compose.write_text(
        compose.read_text().replace("condition: service_healthy", "condition: soon", 1)
    )
    tree = checks.read_tree(project)
    assert checks.schema_errors("vendor.compose-spec", tree, ["compose.yaml"]) != []
    assert checks.docker_compose_errors(project, ["compose.yaml"], {}) != []


def test_production_compose_refuses_to_start_without_a_secret(project):
    """A required variable left unset stops compose, and the message names it."""
    env = {k: v for k, v in checks.PRODUCTION_ENV.items() if k != "REDIS_PASSWORD"}
    errors = checks.docker_compose_errors(project, ["compose.prod.yaml"], env)
    assert errors and "set REDIS_PASSWORD" in errors[0]
    assert checks.docker_compose_errors(project, ["compose.prod.yaml"], checks.PRODUCTION_ENV) == []


def test_hadolint_refuses_a_careless_dockerfile(project):
    dockerfile = project / "Dockerfile"
    careless = "RUN apt-get update && apt-get install -y curl\n"
    dockerfile.write_text(dockerfile.read_text() + careless)
    errors = checks.hadolint_errors(checks.read_tree(project))
    assert errors and "DL3008" in errors[0]  # unpinned apt packages


def test_workflow_schema_refuses_a_broken_workflow(project):
    workflow = ".github/workflows/ci.yml"
    path = project / workflow
    path.write_text(path.read_text().replace("runs-on:", "runs_on:", 1))
    tree = checks.read_tree(project)
    assert checks.schema_errors("vendor.github-workflows", tree, [workflow]) != []


@pytest.mark.parametrize(
    ("answers", "content", "expected"),
    [
        ({"broker": "redis"}, b"BROKER = 'amqp://guest@rabbitmq//'", "broker=redis"),
        ({"monitoring": "none"}, b"flower:\n", "monitoring=none"),
        ({"beat_scheduler": "none"}, b"celery beat --loglevel", "beat_scheduler=none"),
        ({"framework": "standalone"}, b"import django", "framework=standalone"),
        ({"queue_topology": "single"}, b"worker-slow:", "has no queue slow"),
        ({"python_version": "3.12"}, b"FROM python:3.13-slim", "python_version=3.12"),
    ],
)
def test_traces_of_unchosen_options_are_found(answers, content, expected):
    errors = trace_errors({**DEFAULTS, **answers}, {"file.txt": content})
    assert any(expected in error for error in errors), errors


def test_in_process_schema_check_agrees_with_check_jsonschema_cli(project):
    """The matrix validates in-process for speed; the CLI must say the same."""
    for schema, path in (
        ("vendor.compose-spec", "compose.yaml"),
        ("vendor.github-workflows", ".github/workflows/ci.yml"),
    ):
        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "check_jsonschema",
                "--builtin-schema",
                schema,
                str(project / path),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        assert cli.returncode == 0, cli.stdout + cli.stderr
    compose = project / "compose.yaml"
    compose.write_text(
        compose.read_text().replace("condition: service_healthy", "condition: soon", 1)
    )
    cli = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(compose),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode != 0
    assert (
        checks.schema_errors("vendor.compose-spec", checks.read_tree(project), ["compose.yaml"])
        != []
    )


def test_compose_server_agrees_with_docker_compose_cli(project):
    compose = project / "compose.yaml"
    cli = subprocess.run(
        ["docker-compose", "-f", str(compose), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode == 0, cli.stderr
    compose.write_text(compose.read_text().replace("init: true", "init: sometimes", 1))
    cli = subprocess.run(
        ["docker-compose", "-f", str(compose), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert cli.returncode != 0
    assert checks.docker_compose_errors(project, ["compose.yaml"], {}) != []


def test_readme_compose_override_example_passes_docker_compose(project):
    tree = checks.read_tree(project)
    assert "extends:" in checks.readme_override_example(tree)
    assert checks.readme_override_errors(project, tree, {}) == []


def test_a_readme_example_that_waits_for_nothing_is_found(project):
    readme = project / "README.md"
    example = checks.readme_override_example(checks.read_tree(project))
    waitless = example[: example.index("    depends_on:")]
    readme.write_text(readme.read_text().replace(example, waitless, 1))
    errors = checks.readme_override_errors(project, checks.read_tree(project), {})
    assert len(errors) == 1 and "waits for nothing" in errors[0], errors


def test_a_broken_readme_compose_override_example_is_found(project):
    readme = project / "README.md"
    example = checks.readme_override_example(checks.read_tree(project))
    broken = re.sub(r"service: \S+", "service: no-such-service", example, count=1)
    readme.write_text(readme.read_text().replace(example, broken, 1))
    errors = checks.readme_override_errors(project, checks.read_tree(project), {})
    assert len(errors) == 1 and "no-such-service" in errors[0], errors
    readme.write_text(readme.read_text().replace(broken, "", 1))
    assert checks.readme_override_errors(project, checks.read_tree(project), {}) == [
        "README.md: no compose.override.yaml example"
    ]


def test_template_code_is_linted_and_formatted():
    from tests.options import TEMPLATE_DIR

    paths = ["tests", "local_extensions.py"]
    for command in (["check"], ["format", "--check"]):
        run = subprocess.run(
            [*checks.RUFF, *command, *paths],
            cwd=TEMPLATE_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        assert run.returncode == 0, run.stdout + run.stderr


LONGEST_SLUG = "a_package_name_of_thirty_chars"


@pytest.mark.parametrize(
    "answers",
    [
        {
            "framework": "django",
            "broker": "rabbitmq",
            "message_signing": True,
            "beat_scheduler": "django-celery-beat",
            "result_backend": "django-db",
        },
        {
            "framework": "standalone",
            "broker": "rabbitmq",
            "message_signing": True,
            "result_backend": "rpc",
            "beat_scheduler": "redbeat",
        },
        {"framework": "django", "broker": "redis", "queue_topology": "priority"},
        {
            "framework": "standalone",
            "broker": "redis",
            "queue_topology": "per-domain",
            "result_backend": "redis",
        },
    ],
    ids=["django-rabbitmq", "standalone-rabbitmq", "django-redis", "standalone-redis"],
)
def test_longest_allowed_package_name_still_passes_ruff(bake, answers):
    assert len(LONGEST_SLUG) == 30
    result = bake(**{**answers, "project_slug": LONGEST_SLUG})
    assert result.exit_code == 0, result.exception
    tree = checks.read_tree(result.project_path)
    assert checks.ruff_errors(result.project_path, tree) == []


@pytest.mark.parametrize("framework", ["django", "standalone"])
def test_a_package_name_that_sorts_after_tests_passes_ruff(bake, framework):
    """The imports of the package come before those of tests/, whatever its name."""
    result = bake(framework=framework, project_slug="warehouse")
    assert result.exit_code == 0, result.exception
    tree = checks.read_tree(result.project_path)
    assert checks.ruff_errors(result.project_path, tree) == []

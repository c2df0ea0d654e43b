"""Bad answers stop generation with one clear message, and leave nothing on disk."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.options import TEMPLATE_DIR, check_known_keys


def run_cookiecutter(tmp_path, *answers: str) -> subprocess.CompletedProcess:
    """The cookiecutter command, as a user runs it, writing into an empty folder."""
    output = tmp_path / "out"
    output.mkdir()
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            str(output),
            str(TEMPLATE_DIR),
            *answers,
        ],
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "TMPDIR": str(tmp_path)},
    )


REFUSED_BY_HOOK = [
    (
        ["project_slug=Acme-Tasks"],
        "project_slug='Acme-Tasks': it is not a lowercase Python identifier",
    ),
    (["project_slug=9lives"], "project_slug='9lives': it is not a lowercase Python identifier"),
    (["project_slug=class"], "project_slug='class': it is not a lowercase Python identifier"),
    (
        ["project_slug=celery"],
        "project_slug='celery': a package named 'celery' would shadow the module",
    ),
    (
        ["project_slug=django"],
        "project_slug='django': a package named 'django' would shadow the module of that name the "
        "project imports. Choose a name of your own, for example project_slug=django_app.",
    ),
    (
        ["project_slug=tests"],
        "project_slug='tests': a package named 'tests' would shadow the module of that name the "
        "project imports. Choose a name of your own, for example project_slug=tests_app.",
    ),
    (
        ["project_slug=config"],
        "project_slug='config': a package named 'config' would shadow the module of that name the "
        "project imports. Choose a name of your own, for example project_slug=config_app.",
    ),
    (
        ["project_slug=" + "a" * 31],
        f"project_slug='{'a' * 31}': it is 31 characters long, and every import of the project "
        f"starts with it. Choose a name of at most 30 characters, for example "
        f"project_slug={'a' * 30}.",
    ),
    (["project_name="], "project_name='': it is empty"),
    (["project_name=!!!"], "project_name='!!!': it has no letter or digit"),
    (["author_email=nobody"], "author_email='nobody': it is not an email address"),
    (["author_email=a@b"], "author_email='a@b': it is not an email address"),
    (["version=one"], "version='one': it is not a release version"),
    (
        ["framework=standalone", "result_backend=django-db"],
        "result_backend=django-db: it stores results through the Django ORM and "
        "framework=standalone has no Django. Choose result_backend=redis or none",
    ),
    (
        ["broker=redis", "result_backend=rpc"],
        "result_backend=rpc: the RPC backend sends results back over AMQP and broker=redis "
        "does not speak it. Choose result_backend=redis or none, or broker=rabbitmq.",
    ),
    (
        ["framework=standalone", "beat_scheduler=django-celery-beat"],
        "beat_scheduler=django-celery-beat: it keeps schedules in Django's database and "
        "framework=standalone has no Django. Choose beat_scheduler=static or redbeat",
    ),
    (
        ["result_backend=django-db", "beat_scheduler=none"],
        "result_backend=django-db: expired results are deleted by beat's celery.backend_cleanup",
    ),
]


@pytest.mark.parametrize(("answers", "message"), REFUSED_BY_HOOK, ids=lambda v: str(v))
def test_hook_refuses_with_message_and_leaves_nothing(tmp_path, answers, message):
    run = run_cookiecutter(tmp_path, *answers)
    assert run.returncode != 0
    assert f"ERROR: {message}" in run.stderr
    # The answers are kept: the refusal says how to generate again with them.
    assert "cookiecutter --replay" in run.stderr and ".cookiecutter_replay/" in run.stderr
    assert list((tmp_path / "out").iterdir()) == []


REFUSED_BY_COOKIECUTTER = [
    (
        ["serializer=pickle"],
        "pickle provided for choice variable serializer, but the choices are ['json', 'msgpack']",
    ),
    (
        ["broker=kafka"],
        "kafka provided for choice variable broker, but the choices are ['redis', 'rabbitmq']",
    ),
    (
        ["message_signing=maybe"],
        "maybe provided for variable message_signing could not be converted to a boolean",
    ),
]


@pytest.mark.parametrize(("answers", "message"), REFUSED_BY_COOKIECUTTER, ids=lambda v: str(v))
def test_cookiecutter_refuses_values_outside_the_choices(tmp_path, answers, message):
    """Cookiecutter refuses these before any hook runs; nothing is written."""
    run = run_cookiecutter(tmp_path, *answers)
    assert run.returncode != 0
    assert message in run.stderr
    assert list((tmp_path / "out").iterdir()) == []


def test_misspelled_option_names_are_refused_by_the_test_helpers():
    with pytest.raises(KeyError, match="brokr"):
        check_known_keys({"brokr": "rabbitmq"})
    check_known_keys({"broker": "rabbitmq"})


def test_bake_fixture_refuses_misspelled_options(bake):
    with pytest.raises(KeyError, match="brokr"):
        bake(brokr="rabbitmq")


def test_valid_answers_bake(tmp_path):
    run = run_cookiecutter(tmp_path, "framework=standalone", "broker=rabbitmq")
    assert run.returncode == 0, run.stderr
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["acme_tasks"]
    project = tmp_path / "out" / "acme_tasks"
    # Where the project is, and the first commands of its README.
    assert f"Generated {project}\n" in run.stdout
    assert f"  cd {project}\n  uv sync --all-groups\n  cp .env.example .env\n" in run.stdout
    assert "uv run honcho start" in run.stdout

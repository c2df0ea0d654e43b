"""The ``{{ cookiecutter.project_slug | replace('_', '-') }}`` command."""

from __future__ import annotations

import uuid

import pytest

from {{ cookiecutter.project_slug }} import cli, topology
from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter
from {{ cookiecutter.project_slug }}.tasking.stores import store


def test_config_prints_every_worker_group(capsys):
    assert cli.main(["config"]) == 0
    out = capsys.readouterr().out
    for worker in topology.workers():
        assert worker.name in out
{% if cookiecutter.broker == 'redis' %}
    assert "visibility timeout" in out
{% endif %}


def test_deadletters_list_show_requeue_purge(capsys):
    letter = store().record_dead_letter(
        DeadLetter(
            task_name="{{ cookiecutter.project_slug }}.maintenance.tasks.heartbeat",
            task_id=str(uuid.uuid4()),
            args=[],
            kwargs={},
            queue="",
            exception="TransientError: test",
            traceback="Traceback ...",
            retries=6,
        )
    )
    assert cli.main(["deadletters", "list"]) == 0
    assert letter.id in capsys.readouterr().out
    assert cli.main(["deadletters", "show", letter.id]) == 0
    assert '"retries": 6' in capsys.readouterr().out
    assert cli.main(["deadletters", "show", "no-such-id"]) == 2
    assert "no dead letter with id 'no-such-id'" in capsys.readouterr().err
    assert cli.main(["deadletters", "requeue", letter.id]) == 0
    assert "requeued" in capsys.readouterr().out
    assert store().dead_letter(letter.id) is None
    assert cli.main(["deadletters", "purge"]) == 2
    assert "--yes" in capsys.readouterr().err


def test_unknown_command_is_refused(capsys):
    with pytest.raises(SystemExit) as stopped:
        cli.main(["frobnicate"])
    assert stopped.value.code == 2

"""A person answering the prompts in a terminal gets readable questions and a project."""

from __future__ import annotations

import sys

import pexpect

from tests.options import TEMPLATE_DIR


def test_prompts_show_labels_and_accept_answers(tmp_path):
    child = pexpect.spawn(
        sys.executable,
        ["-m", "cookiecutter", "-o", str(tmp_path), str(TEMPLATE_DIR)],
        env={
            "PATH": "/usr/bin:/bin",
            "HOME": str(tmp_path),
            "TERM": "dumb",
            "COLUMNS": "200",
            "TMPDIR": str(tmp_path),
        },
        encoding="utf-8",
        timeout=30,
        dimensions=(50, 200),
    )
    transcript = []

    def answer(prompt: str, reply: str) -> None:
        child.expect("(?s)" + prompt.replace(" ", r"\s+"))  # long prompts wrap
        transcript.append(child.before + child.after)
        child.sendline(reply)

    answer(r"Project name \(human-readable\)", "Billing Jobs")
    answer(r"Python package name \(lowercase identifier\)", "")
    answer("One-line description", "")
    answer("Author or team name", "")
    answer("Author or team email", "")
    answer("Initial version", "")
    answer(r"What should the project be built on\?.*Standalone Celery service.*Choose from", "2")
    answer(r"Message broker.*RabbitMQ \(durable quorum queues.*Choose from", "2")
    answer(r"Where task results are stored.*Choose from", "1")
    answer(r"Queue topology.*per-domain: one queue per task family.*Choose from", "4")
    answer(r"Periodic task scheduler.*RedBeat.*Choose from", "3")
    answer(
        r"pickle is not offered: anyone who can write to the broker could run code.*Choose from",
        "2",
    )
    answer(r"Sign messages with Celery's auth serializer\?", "n")
    answer(r"Monitoring.*Flower only.*Choose from", "2")
    answer(r"Report errors to Sentry\?", "")
    answer(r"Trace tasks with OpenTelemetry\?", "")
    answer(r"Python version of the container image.*Choose from", "")
    answer(r"Continuous integration.*GitHub Actions.*Choose from", "2")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0, child.before

    project = tmp_path / "billing_jobs"
    answers = (project / "template-answers.json").read_text()
    for expected in (
        '"framework": "standalone"',
        '"broker": "rabbitmq"',
        '"queue_topology": "per-domain"',
        '"beat_scheduler": "redbeat"',
        '"serializer": "msgpack"',
        '"monitoring": "flower"',
        '"ci": "none"',
    ):
        assert expected in answers
    assert not (project / ".github").exists()

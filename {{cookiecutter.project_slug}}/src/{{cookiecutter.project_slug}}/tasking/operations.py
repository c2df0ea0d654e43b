"""Dead-letter operations shared by the command line{% if cookiecutter.framework == 'django' %} (``manage.py deadletters``){% endif %}.

list, show, requeue and purge, on whichever store the project uses.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import asdict

{% if cookiecutter.broker == 'rabbitmq' %}
from {{ cookiecutter.project_slug }}.tasking.deadletters import (
    DeadLetter,
    collect_dead_letter_queue,
    requeue,
)
{% else %}
from {{ cookiecutter.project_slug }}.tasking.deadletters import DeadLetter, requeue
{% endif %}
from {{ cookiecutter.project_slug }}.tasking.stores import store


class OperationError(Exception):
    """An operation that cannot be done as asked; the message says why."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="the newest dead letters")
    listing.add_argument("--limit", type=int, default=50)
    show = actions.add_parser("show", help="one dead letter in full")
    show.add_argument("id")
    again = actions.add_parser("requeue", help="publish dead letters again, then forget them")
    again.add_argument("ids", nargs="*")
    again.add_argument("--all", action="store_true", help="every dead letter")
{% if cookiecutter.broker == 'rabbitmq' %}
    purge = actions.add_parser(
        "purge", help="delete every dead letter, with RabbitMQ's dead-letter queue"
    )
{% else %}
    purge = actions.add_parser("purge", help="delete every dead letter")
{% endif %}
    purge.add_argument("--yes", action="store_true", help="confirm the deletion")


def _line(letter: DeadLetter) -> str:
    when = letter.failed_at.strftime("%Y-%m-%d %H:%M:%S")
    return f"{letter.id:>16}  {when}  {letter.task_name}  {letter.exception}"


def requeue_and_forget(letter: DeadLetter) -> str:
    """Publish a dead letter's task again and remove the letter; returns the new task id."""
    from {{ cookiecutter.project_slug }}.celery_app import app

    task_id = requeue(letter, app)
    store().remove_dead_letter(letter.id)
    return task_id


{% if cookiecutter.broker == 'rabbitmq' %}
def collect_from_broker() -> int:
    """Record what RabbitMQ dead-letters on its own, so every action sees it; returns how many."""
    from {{ cookiecutter.project_slug }}.celery_app import app

    return collect_dead_letter_queue(app, store())


{% endif %}
def run(options: dict, write: Callable[[str], object]) -> None:
    action = options["action"]
{% if cookiecutter.broker == 'rabbitmq' %}
    collected = collect_from_broker()
    if collected:
        write(f"recorded {collected} message(s) from RabbitMQ's dead-letter queue")
{% endif %}
    if action == "list":
        letters = store().dead_letters(limit=options["limit"])
        for letter in letters:
            write(_line(letter))
        write(f"{len(letters)} dead letter(s)")
    elif action == "show":
        letter = store().dead_letter(options["id"])
        if letter is None:
            raise OperationError(f"no dead letter with id {options['id']!r}: see the list action")
        fields = asdict(letter) | {"failed_at": letter.failed_at.isoformat()}
        traceback = fields.pop("traceback")
        write(json.dumps(fields, indent=2, default=str))
        write(traceback)
    elif action == "requeue":
        if options["all"] == bool(options["ids"]):
            raise OperationError("requeue needs dead letter ids or --all, not both or neither")
        letters = (
            store().dead_letters(limit=10_000)
            if options["all"]
            else [store().dead_letter(letter_id) for letter_id in options["ids"]]
        )
        missing = [i for i, letter in zip(options["ids"], letters, strict=False) if letter is None]
        if missing:
            raise OperationError(
                f"no dead letter with id(s) {', '.join(missing)}: nothing requeued"
            )
        for letter in letters:
            task_id = requeue_and_forget(letter)
            write(f"requeued {letter.task_name} as {task_id}")
    elif action == "purge":
        if not options["yes"]:
            raise OperationError("purge deletes every dead letter: repeat with --yes to confirm")
        write(f"purged {store().purge_dead_letters()} dead letter(s)")

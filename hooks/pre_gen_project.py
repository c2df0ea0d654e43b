"""Validate the answers before anything is generated.

Cookiecutter renders this file with the answers, runs it, and deletes the
half-made project directory if it exits non-zero. Each refusal prints one
message naming the option, the value given, why it is refused and what to
choose instead.

Standard library only, and only light modules: cookiecutter starts a fresh
interpreter for this script on every bake.
"""


import keyword
import os
import sys

# The answers, rendered as a Python literal.
ANSWERS = {{ {
        "project_name": cookiecutter.project_name,
        "project_slug": cookiecutter.project_slug,
        "author_email": cookiecutter.author_email,
        "version": cookiecutter.version,
        "framework": cookiecutter.framework,
        "broker": cookiecutter.broker,
        "result_backend": cookiecutter.result_backend,
        "beat_scheduler": cookiecutter.beat_scheduler,
        "message_signing": cookiecutter.message_signing,
        "use_sentry": cookiecutter.use_sentry,
        "use_opentelemetry": cookiecutter.use_opentelemetry,
    } }}

# Top-level modules the generated project imports, or that tools resolve by
# name: a package called like one of them would shadow it.
SHADOWED_MODULES = {
    "amqp", "asyncio", "billiard", "builtins", "celery", "collections", "config",
    "django", "email", "environ", "flower", "functools", "http", "json", "kombu",
    "logging", "msgpack", "os", "pydantic", "pytest", "queue", "random", "redbeat",
    "redis", "re", "select", "sentry_sdk", "settings", "signal", "site", "socket",
    "ssl", "string", "sys", "test", "tests", "threading", "time", "types", "typing",
    "uuid", "vine",
}

{% if cookiecutter._repo_dir is defined %}
# Cookiecutter saves the answers before this hook runs: a refusal loses none.
TEMPLATE = {{ cookiecutter._template | jsonify }}
REPLAY_FILE = "~/.cookiecutter_replay/{}.json".format(
    os.path.basename(os.path.abspath({{ cookiecutter._repo_dir | jsonify }}))
)
REPLAY_HINT = (
    f"Your answers are saved: correct this one in {REPLAY_FILE}, "
    f"then run: cookiecutter --replay {TEMPLATE}"
)
{% else %}
# cruft keeps no answers to replay.
REPLAY_HINT = ""
{% endif %}

SLUG_CHARACTERS = set("abcdefghijklmnopqrstuvwxyz0123456789_")
# The generated code keeps within 100 columns for package names up to this long.
MAX_SLUG_LENGTH = 30


class Refused(Exception):
    """An answer the template cannot generate a working project from."""

    def __init__(self, option: str, value: object, why: str, instead: str) -> None:
        super().__init__(f"{option}={value!s}: {why}. {instead}")


def check_slug(slug: str) -> None:
    if (
        not slug
        or not set(slug) <= SLUG_CHARACTERS
        or not slug[0].isalpha()
        or keyword.iskeyword(slug)
    ):
        raise Refused(
            "project_slug", repr(slug),
            "it is not a lowercase Python identifier",
            "Use lowercase letters, digits and underscores, starting with a letter, "
            "for example project_slug=acme_tasks.",
        )
    if len(slug) > MAX_SLUG_LENGTH:
        raise Refused(
            "project_slug", repr(slug),
            f"it is {len(slug)} characters long, and every import of the project starts with it",
            f"Choose a name of at most {MAX_SLUG_LENGTH} characters, for example "
            f"project_slug={slug[:MAX_SLUG_LENGTH].rstrip('_')}.",
        )
    if slug in SHADOWED_MODULES:
        raise Refused(
            "project_slug", repr(slug),
            f"a package named {slug!r} would shadow the module of that name the project imports",
            f"Choose a name of your own, for example project_slug={slug}_app.",
        )


def check_project_name(name: str) -> None:
    if not name.strip():
        raise Refused(
            "project_name", repr(name), "it is empty",
            "Give the project a name, for example project_name='Acme Tasks'.",
        )
    if not any(c.isalnum() for c in name):
        raise Refused(
            "project_name", repr(name), "it has no letter or digit to derive a package name from",
            "Give the project a name with words in it, for example project_name='Acme Tasks'.",
        )


def is_email(text: str) -> bool:
    local, at, domain = text.partition("@")
    labels = domain.split(".")
    return (
        bool(local and at)
        and not any(c.isspace() for c in text)
        and "@" not in domain
        and len(labels) >= 2
        and all(labels)
    )


def check_email(email: str) -> None:
    if not is_email(email):
        raise Refused(
            "author_email", repr(email), "it is not an email address",
            "Give an address like author_email=team@example.com.",
        )


def check_version(version: str) -> None:
    if not all(part.isdigit() and part.isascii() for part in version.split(".")):
        raise Refused(
            "version", repr(version), "it is not a release version of numbers and dots",
            "Use numbers separated by dots, for example version=0.1.0.",
        )


def check_combinations(answers: dict) -> None:
    framework = answers["framework"]
    broker = answers["broker"]
    if answers["result_backend"] == "django-db" and framework != "django":
        raise Refused(
            "result_backend", "django-db",
            f"it stores results through the Django ORM and framework={framework} has no Django",
            "Choose result_backend=redis or none (or rpc with broker=rabbitmq), "
            "or framework=django.",
        )
    if answers["result_backend"] == "rpc" and broker != "rabbitmq":
        raise Refused(
            "result_backend", "rpc",
            f"the RPC backend sends results back over AMQP and broker={broker} does not speak it",
            "Choose result_backend=redis or none, or broker=rabbitmq.",
        )
    if answers["result_backend"] == "django-db" and answers["beat_scheduler"] == "none":
        raise Refused(
            "result_backend", "django-db",
            "expired results are deleted by beat's celery.backend_cleanup task "
            "and beat_scheduler=none runs no beat, so the table would grow forever",
            "Choose a beat scheduler (static, django-celery-beat or redbeat), "
            "or result_backend=redis or none.",
        )
    if answers["beat_scheduler"] == "django-celery-beat" and framework != "django":
        raise Refused(
            "beat_scheduler", "django-celery-beat",
            f"it keeps schedules in Django's database and framework={framework} has no Django",
            "Choose beat_scheduler=static or redbeat, or framework=django.",
        )


def main() -> int:
    checks = (
        lambda: check_project_name(ANSWERS["project_name"]),
        lambda: check_slug(ANSWERS["project_slug"]),
        lambda: check_email(ANSWERS["author_email"]),
        lambda: check_version(ANSWERS["version"]),
        lambda: check_combinations(ANSWERS),
    )
    for check in checks:
        try:
            check()
        except Refused as refused:
            print(f"ERROR: {refused}", file=sys.stderr)
            if REPLAY_HINT:
                print(REPLAY_HINT, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

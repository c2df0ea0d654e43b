"""Remove what the chosen options do not need.

Standard library only, and only light modules: cookiecutter starts a fresh
interpreter for this script on every bake.

A pure function of the answers: it only deletes files the answers do not
need, then prints where the project is and what to run next. No network, no
git, no secrets, no timestamps, so the same answers always give the same
bytes, and running it twice changes nothing.
"""


import os

FRAMEWORK = "{{ cookiecutter.framework }}"
CI = "{{ cookiecutter.ci }}"
BEAT = "{{ cookiecutter.beat_scheduler }}"
MESSAGE_SIGNING = {{ cookiecutter.message_signing }}
PROMETHEUS = "{{ cookiecutter.__prometheus }}"
FLOWER = "{{ cookiecutter.__flower }}"
SENTRY = {{ cookiecutter.use_sentry }}
OPENTELEMETRY = {{ cookiecutter.use_opentelemetry }}
NEEDS_REDIS = "{{ cookiecutter.__needs_redis }}"
BROKER = "{{ cookiecutter.broker }}"
PACKAGE = os.path.join("src", "{{ cookiecutter.project_slug }}")
# Cookiecutter's runs print the next steps; cruft renders its updates in scratch
# directories (no _repo_dir), where a path and commands would mislead.
ANNOUNCE = {{ 'True' if cookiecutter._repo_dir is defined else 'False' }}
# The tasking package as a Django app: models, admin, migrations, commands.
DJANGO_TASKING_FILES = (
    "apps.py",
    "models.py",
    "admin.py",
    "migrations",
    "management",
    os.path.join("stores", "orm.py"),
)


def remove(*paths: str) -> None:
    """Delete files and whole directories; a path already gone is fine."""
    for path in paths:
        if os.path.isdir(path):
            for folder, _, files in os.walk(path, topdown=False):
                for name in files:
                    os.remove(os.path.join(folder, name))
                os.rmdir(folder)
        elif os.path.exists(path):
            os.remove(path)


TASKING = os.path.join(PACKAGE, "tasking")
KUBERNETES = os.path.join("deploy", "kubernetes", "base")


def remove_django_files() -> None:
    remove(
        "manage.py",
        os.path.join(PACKAGE, "config"),
        os.path.join(PACKAGE, "orders"),
        os.path.join("tests", "test_django.py"),
        os.path.join(KUBERNETES, "web.yaml"),
        os.path.join(KUBERNETES, "migrate.yaml"),
        *(os.path.join(TASKING, name) for name in DJANGO_TASKING_FILES),
    )


def remove_standalone_files() -> None:
    remove(
        os.path.join(TASKING, "stores", "redis.py"),
        os.path.join(PACKAGE, "cli.py"),
        os.path.join("tests", "test_cli.py"),
    )


def remove_signing_files() -> None:
    remove(
        os.path.join(TASKING, "signing.py"),
        os.path.join(TASKING, "management", "commands", "create_signing_keys.py"),
    )


def remove_beat_files() -> None:
    remove(
        os.path.join(PACKAGE, "schedule.py"),
        os.path.join(TASKING, "beat.py"),
        os.path.join("tests", "test_beat.py"),
        os.path.join(KUBERNETES, "beat.yaml"),
    )


def remove_redbeat_test_files() -> None:
    remove(os.path.join("tests", "chaos_beat.py"))


def remove_schedule_migration() -> None:
    remove(os.path.join(TASKING, "migrations", "0002_periodic_tasks.py"))


def remove_rate_limit_migration() -> None:
    """Shared rate limits live in Redis when the project has it."""
    remove(os.path.join(TASKING, "migrations", "0004_rate_limit_schedule.py"))


def remove_prometheus_files() -> None:
    remove(
        os.path.join("deploy", "prometheus"),
        os.path.join("deploy", "grafana"),
        os.path.join(KUBERNETES, "exporter.yaml"),
        os.path.join(PACKAGE, "tools", "monitoring.py"),
    )
    if os.path.isdir("deploy") and not os.listdir("deploy"):
        os.rmdir("deploy")


def remove_unacked_files() -> None:
    """The unacknowledged-message metric reads Kombu's Redis keys (README, Monitoring)."""
    remove(os.path.join(PACKAGE, "unacked.py"), os.path.join("tests", "test_unacked.py"))


def remove_flower_files() -> None:
    remove(os.path.join(PACKAGE, "flowerconfig.py"), os.path.join(KUBERNETES, "flower.yaml"))


def remove_observability_files() -> None:
    remove(os.path.join(PACKAGE, "observability.py"), os.path.join("tests", "test_observability.py"))


def remove_publishing_bounds() -> None:
    """The bounds of a publish: RabbitMQ's blocked connections and confirms."""
    remove(os.path.join(TASKING, "publishing.py"))


def remove_github_ci() -> None:
    remove(".github")


def next_steps(project_dir: str) -> str:
    """Where the project is, and the first commands of its README."""
    then = "create the database, migrate, and " if FRAMEWORK == "django" else ""
    return "\n".join(
        (
            f"Generated {project_dir}",
            "Next:",
            f"  cd {project_dir}",
            "  uv sync --all-groups",
            "  cp .env.example .env",
            f"Then README.md, 'Run it natively': {then}start everything with `uv run honcho start`.",
        )
    )


def main() -> None:
    if FRAMEWORK == "django":
        remove_standalone_files()
    else:
        remove_django_files()
    if not MESSAGE_SIGNING:
        remove_signing_files()
    if BEAT == "none":
        remove_beat_files()
    if BEAT != "django-celery-beat":
        remove_schedule_migration()
    if BEAT != "redbeat":
        remove_redbeat_test_files()
    if NEEDS_REDIS == "yes":
        remove_rate_limit_migration()
    if FLOWER != "yes":
        remove_flower_files()
    if PROMETHEUS != "yes":
        remove_prometheus_files()
    if PROMETHEUS != "yes" or BROKER != "redis":
        remove_unacked_files()
    if not (SENTRY or OPENTELEMETRY):
        remove_observability_files()
    if BROKER != "rabbitmq":
        remove_publishing_bounds()
    if CI != "github":
        remove_github_ci()
    if ANNOUNCE:
        print(next_steps(os.getcwd()))


if __name__ == "__main__":
    main()

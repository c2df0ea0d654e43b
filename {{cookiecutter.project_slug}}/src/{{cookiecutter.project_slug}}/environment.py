"""Typed view of the process environment, validated once at start.

Every process (worker{% if cookiecutter.beat_scheduler != "none" %}, beat{% endif %}{% if cookiecutter.framework == "django" %}, web{% endif %}, tests) reads its connection settings
here. Development defaults point at services on localhost; with
``APP_ENV=production`` nothing is defaulted and a missing variable stops the
process with a message that names it.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

# Variables production must be given explicitly: credentials and addresses.
REQUIRED_IN_PRODUCTION = [
    "celery_broker_url",
{% if cookiecutter.result_backend in ['redis', 'rpc'] %}
    "celery_result_backend",
{% endif %}
{% if cookiecutter.__needs_redis == 'yes' %}
    "redis_url",
{% endif %}
]


PROJECT_DIR = Path(__file__).resolve().parents[2]


def dotenv_path() -> Path | None:
    """The ``.env`` file this process reads, if any: development processes only.

    Tests (``APP_ENV=test``, set by the test set-up) and production never read
    it, so a developer's ``.env`` cannot leak into either. The path does not
    depend on the working directory: every process reads the same file.
    """
    if os.environ.get("APP_ENV", "development") != "development":
        return None
    return PROJECT_DIR / ".env"


class ConfigurationError(RuntimeError):
    """The environment cannot run this process; the message says what to set."""


class Environment(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    app_env: Literal["development", "test", "production"] = "development"
{% if cookiecutter.broker == 'redis' %}
    celery_broker_url: str = "redis://127.0.0.1:6379/0"
{% else %}
    celery_broker_url: str = "amqp://guest:guest@127.0.0.1:5672//"
{% endif %}
{% if cookiecutter.result_backend == 'redis' %}
    celery_result_backend: str = "redis://127.0.0.1:6379/1"
{% elif cookiecutter.result_backend == 'rpc' %}
    celery_result_backend: str = "rpc://"
{% endif %}
{% if cookiecutter.__needs_redis == 'yes' %}
    redis_url: str = "redis://127.0.0.1:6379/2"
{% endif %}
{% if cookiecutter.beat_scheduler == 'static' %}
    celery_beat_schedule_file: str = "var/celerybeat-schedule"
{% endif %}
{% if cookiecutter.framework != 'django' %}
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
{% endif %}
{% if cookiecutter.broker == 'redis' or cookiecutter.result_backend == 'redis' %}
    # Seconds before Redis redelivers an unacknowledged task; unset, it is
    # derived from the longest time limit, countdown and backoff (celeryconfig.py).
    celery_visibility_timeout: int | None = None
{% endif %}
    # Prefix for queue names, so that several test runs can share one broker.
    celery_queue_prefix: str = ""
    # The worker group of this process: set by the launcher (python -m {{ cookiecutter.project_slug }}.worker).
    celery_worker_group: str = ""
{% if cookiecutter.use_sentry %}
    # Error reports go to Sentry only when a DSN is set (observability.py).
    sentry_dsn: str = ""
    sentry_environment: str = ""
    sentry_release: str = ""
{% endif %}
{% if cookiecutter.message_signing %}
    celery_signing_key: str = "keys/celery-signing.key"
    celery_signing_cert: str = "keys/celery-signing.crt"
    celery_signing_cert_store: str = "keys"
{% endif %}

    def missing_in_production(self) -> list[str]:
        if self.app_env != "production":
            return []
        return [name for name in REQUIRED_IN_PRODUCTION if name not in self.model_fields_set]


@cache
def environment() -> Environment:
    """The validated environment of this process."""
    try:
        env = Environment(_env_file=dotenv_path())
    except ValidationError as error:
        problems = "; ".join(
            f"{'_'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise ConfigurationError(f"invalid environment: {problems}") from None
    missing = env.missing_in_production()
    if missing:
        names = ", ".join(name.upper() for name in missing)
        raise ConfigurationError(
            f"APP_ENV=production needs {names}: set them in the environment "
            "(no development default is used in production)"
        )
    return env

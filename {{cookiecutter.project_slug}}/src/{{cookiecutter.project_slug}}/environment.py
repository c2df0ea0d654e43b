"""Typed view of the process environment, validated once at start.

Every process (worker{% if cookiecutter.beat_scheduler != "none" %}, beat{% endif %}{% if cookiecutter.__flower == "yes" %}, Flower{% endif %}{% if cookiecutter.framework == "django" %}, web, manage.py{% endif %}, the command-line tool, tests) reads its
connection settings here, and every entry point applies the one production rule
(``start``) before anything else. Development defaults point at services on
localhost; with ``APP_ENV=production`` nothing is defaulted, and a missing or
unsafe setting stops the process with one line that names it.
"""
{% if cookiecutter.framework == 'django' %}

# The Django settings (config/settings/*.py) read their variables here too, not
# with django-environ: one .env rule (development only, the same file for every
# process), one validation at start, one error style (a line naming the
# variable), and the same code as the standalone variant. DATABASE_URL is parsed
# into Django's form by dj-database-url in the settings.
{% endif %}

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
{% if cookiecutter.framework == 'django' %}
from typing import Annotated, Literal
{% else %}
from typing import Literal
{% endif %}

{% if cookiecutter.framework == 'django' %}
from dotenv import load_dotenv
from pydantic import ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
{% else %}
from dotenv import load_dotenv
from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict
{% endif %}

from {{ cookiecutter.project_slug }} import tls

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
# Connections that may use TLS (tls.py).
URL_SETTINGS = [
    "celery_broker_url",
{% if cookiecutter.result_backend in ['redis', 'rpc'] %}
    "celery_result_backend",
{% endif %}
{% if cookiecutter.__needs_redis == 'yes' %}
    "redis_url",
{% endif %}
]
{% if cookiecutter.framework == 'django' %}
SETTINGS_PACKAGE = "{{ cookiecutter.project_slug }}.config.settings"
DEVELOPMENT_SETTINGS = {SETTINGS_PACKAGE + ".local", SETTINGS_PACKAGE + ".test"}
{% endif %}


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
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
{% if cookiecutter.broker == 'redis' or cookiecutter.result_backend == 'redis' %}
    # Seconds before Redis redelivers an unacknowledged task; unset, it is
    # derived from the longest time limit, countdown and backoff (celeryconfig.py).
    celery_visibility_timeout: int | None = None
{% endif %}
    # Seconds a worker with ready messages and free pool slots may fetch
    # nothing before it counts as stuck and stops itself (health.py).
    worker_stall_timeout: float = 60.0
    # Prefix for queue and exchange names, remote control and events included
    # (celeryconfig.py), so that several test runs can share one broker.
    celery_queue_prefix: str = ""
    # The worker group of this process: set by the launcher (worker.py).
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
    # The certificate authority (and client certificate) of TLS connections;
    # unset, the system's trust store (tls.py).
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
{% if cookiecutter.__flower == 'yes' %}
    # user:password[,user:password...]: Flower reads it here (flowerconfig.py).
    flower_basic_auth: str = ""
{% endif %}
{% if cookiecutter.framework == 'django' %}
    # Django (config/settings). Unset, each settings module has its default;
    # the production settings refuse to start without the secrets.
    database_url: str = "postgres://postgres@127.0.0.1:5432/{{ cookiecutter.project_slug }}"
    conn_max_age: int = 60
    django_debug: bool | None = None
    django_secret_key: str = ""
    # Comma-separated, e.g. DJANGO_ALLOWED_HOSTS=example.com,www.example.com
    django_allowed_hosts: Annotated[list[str], NoDecode] = []
    django_static_root: Path | None = None
    django_secure_ssl_redirect: bool = True
    django_secure_hsts_seconds: int = 60 * 60 * 24 * 365

    @field_validator("django_allowed_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value
{% endif %}

    def unset(self, *names: str) -> list[str]:
        """The variables among ``names`` (field names) that are unset or empty, upper-case."""
        return [
            name.upper()
            for name in names
            if name not in self.model_fields_set or not getattr(self, name)
        ]

    def missing_in_production(self) -> list[str]:
        if self.app_env != "production":
            return []
        return self.unset(*REQUIRED_IN_PRODUCTION)

    def endpoint(self, name: str) -> tls.Endpoint:
        """The URL setting ``name``, split into the URL a client gets and its TLS settings."""
        url = getattr(self, name)
        return tls.endpoint(url, self.tls_ca_file, self.tls_cert_file, self.tls_key_file)

    def unsafe_connections(self) -> list[str]:
        """What is wrong with the TLS settings; unverified TLS only outside production."""
        problems = []
        for name in URL_SETTINGS:
            try:
                found = self.endpoint(name)
            except tls.TLSError as error:
                problems.append(f"{name.upper()}: {error}")
                continue
            if self.app_env == "production" and not found.verified:
                problems.append(
                    f"{name.upper()} has ssl_cert_reqs={found.cert_reqs}: APP_ENV=production "
                    "refuses unverified TLS; remove it and set TLS_CA_FILE to the server's CA"
                )
            for path in (found.ca_file, found.cert_file, found.key_file):
                if path and not Path(path).is_file():
                    problems.append(f"{name.upper()}: TLS file {path} does not exist")
        return problems
{% if cookiecutter.__flower == 'yes' %}

    def flower_credentials(self, given: list[str]) -> list[str]:
        """Flower's basic-auth credentials (``given``, else FLOWER_BASIC_AUTH), checked.

        Flower would accept ``admin:`` (an empty password) and lock everyone out
        on ``admin``; production refuses to run Flower without credentials.
        """
        credentials = [item for item in given if item] or [
            item.strip() for item in self.flower_basic_auth.split(",") if item.strip()
        ]
        if not credentials and self.app_env == "production":
            raise ConfigurationError(
                "APP_ENV=production needs FLOWER_BASIC_AUTH=user:password for Flower"
            )
        for credential in credentials:
            user, colon, password = credential.partition(":")
            if not (user and colon and password):
                raise ConfigurationError(
                    f"FLOWER_BASIC_AUTH entry {user or '(empty)'!r} is not user:password "
                    "with a non-empty user and password"
                )
        return credentials
{% endif %}


@cache
def environment() -> Environment:
    """The validated environment of this process, read once."""
    return read_environment()


def read_environment() -> Environment:
{% if cookiecutter.framework == 'django' %}
    """The environment as it is now, validated; a ConfigurationError names what is wrong.

    The Django settings read it afresh: the test set-up loads them before it
    sets its queue prefix, which ``environment()`` must still see.
    """
{% else %}
    """The environment as it is now, validated; a ConfigurationError names what is wrong."""
{% endif %}
    env_file = dotenv_path()
    if env_file is not None and env_file.is_file():
        # Every variable of .env reaches os.environ too (the process's own
        # variables win), so a development process sees a user's own variables
        # (PROVIDER_URL, REPORTS_DIR, anything they add) as honcho's processes do.
        load_dotenv(env_file, override=False)
    try:
        env = Environment(_env_file=env_file)
    except ValidationError as error:
        problems = "; ".join(
            f"{'_'.join(str(part) for part in e['loc']).upper()}: {e['msg']}"
            for e in error.errors()
        )
        raise ConfigurationError(f"invalid environment: {problems}") from None
    missing = env.missing_in_production()
    if missing:
        raise ConfigurationError(
            f"APP_ENV=production needs {', '.join(missing)}: set them in the environment "
            "(no development default is used in production)"
        )
    unsafe = env.unsafe_connections()
    if unsafe:
        raise ConfigurationError("; ".join(unsafe))
    return env
{% if cookiecutter.framework == 'django' %}


def configure_django(env: Environment) -> None:
    """DJANGO_SETTINGS_MODULE for this process, then the settings loaded (and checked).

    With APP_ENV=production the default is the production settings, and the
    development ones are refused.
    """
    production = env.app_env == "production"
    default = SETTINGS_PACKAGE + (".production" if production else ".local")
    module = os.environ.setdefault("DJANGO_SETTINGS_MODULE", default)
    if production and module in DEVELOPMENT_SETTINGS:
        raise ConfigurationError(
            f"APP_ENV=production refuses DJANGO_SETTINGS_MODULE={module}: "
            f"unset it, or set it to {default}"
        )
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        settings.SECRET_KEY  # noqa: B018 (loads the settings: missing secrets stop here)
    except ImproperlyConfigured as error:
        raise ConfigurationError(str(error)) from None
{% endif %}


def production_rule() -> Environment:
    """The one rule for every process: production settings, or a ConfigurationError."""
    env = environment()
{% if cookiecutter.framework == 'django' %}
    configure_django(env)
{% endif %}
    return env


def start() -> Environment:
    """``production_rule``, or exit with one line naming what to set (every entry point)."""
    try:
        return production_rule()
    except ConfigurationError as error:
        raise SystemExit(f"{{ cookiecutter.project_slug }}: {error}") from None

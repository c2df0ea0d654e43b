"""Settings shared by every environment, read from the environment.

Every variable comes from the validated environment of environment.py, which
reads the same .env as every other process (none in tests and production).
Docs: https://docs.djangoproject.com/en/5.2/ref/settings/
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url

from {{ cookiecutter.project_slug }}.environment import read_environment
{% if cookiecutter.use_sentry %}
from {{ cookiecutter.project_slug }}.observability import init_sentry_from_environment
{% endif %}

PACKAGE_DIR = Path(__file__).resolve().parents[2]
PROJECT_DIR = PACKAGE_DIR.parents[1]

env = read_environment()

# General
# ------------------------------------------------------------------------------
DEBUG = bool(env.django_debug)
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Databases
# ------------------------------------------------------------------------------
# https://docs.djangoproject.com/en/5.2/ref/settings/#databases
DATABASES = {"default": dj_database_url.parse(env.database_url, conn_max_age=env.conn_max_age)}
DATABASES["default"]["ATOMIC_REQUESTS"] = True

# URLs and applications
# ------------------------------------------------------------------------------
ROOT_URLCONF = "{{ cookiecutter.project_slug }}.config.urls"
WSGI_APPLICATION = "{{ cookiecutter.project_slug }}.config.wsgi.application"
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    # API tokens: their table, admin page and drf_create_token command (orders/views.py).
    "rest_framework",
    "rest_framework.authtoken",
    "{{ cookiecutter.project_slug }}.tasking",
    "{{ cookiecutter.project_slug }}.orders",
{% if cookiecutter.result_backend == 'django-db' %}
    "django_celery_results",
{% endif %}
{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
    "django_celery_beat",
{% endif %}
]

MIDDLEWARE = [
    # First: /healthz answers before host validation and the HTTPS redirect.
    "{{ cookiecutter.project_slug }}.config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Serves the collected static files (the admin's) from the web process.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# Static files
# ------------------------------------------------------------------------------
STATIC_URL = "static/"
# The image collects static files at build time into DJANGO_STATIC_ROOT.
STATIC_ROOT = env.django_static_root or PROJECT_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# Logging: Django owns it; Celery is told not to take it over (celeryconfig.py).
# ------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(processName)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env.log_level},
}
{% if cookiecutter.use_sentry %}

# Error reports: Sentry, only when SENTRY_DSN is set (observability.py)
# ------------------------------------------------------------------------------
init_sentry_from_environment(env)
{% endif %}

"""Production settings: every secret comes from the environment, none has a default.

Checked by ``manage.py check --deploy``.
https://docs.djangoproject.com/en/5.2/howto/deployment/checklist/
"""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

# Secrets and hosts: no defaults; the process stops, naming every missing one.
# ------------------------------------------------------------------------------
_missing = env.unset("django_secret_key", "django_allowed_hosts", "database_url")
if _missing:
    raise ImproperlyConfigured(
        f"production settings need {', '.join(_missing)}: set them in the environment"
    )
SECRET_KEY = env.django_secret_key
ALLOWED_HOSTS = env.django_allowed_hosts

# Security
# ------------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.django_secure_ssl_redirect
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.django_secure_hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True

# Yours, applied last: overrides.py wins over every setting above.
from .overrides import *  # noqa: E402, F403

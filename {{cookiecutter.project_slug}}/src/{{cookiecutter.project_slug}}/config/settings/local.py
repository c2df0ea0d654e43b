"""Development settings: debug on, a fixed development key."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env

DEBUG = True if env.django_debug is None else env.django_debug
# Development only; production reads DJANGO_SECRET_KEY and has no default.
SECRET_KEY = env.django_secret_key or "development-only-not-a-secret"
ALLOWED_HOSTS = env.django_allowed_hosts or ["localhost", "127.0.0.1", "[::1]"]

# Yours, applied last: overrides.py wins over every setting above.
from .overrides import *  # noqa: E402, F403

"""Development settings: debug on, a fixed development key."""

from __future__ import annotations

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# Development only; production reads DJANGO_SECRET_KEY and has no default.
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="development-only-not-a-secret")  # noqa: S105
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

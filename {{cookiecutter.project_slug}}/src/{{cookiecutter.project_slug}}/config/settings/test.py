"""Test settings: fast password hashing, the test database."""

from __future__ import annotations

import os

# Set before the other settings load: a developer's .env stays out of the
# tests (environment.dotenv_path), whatever the shell exports.
os.environ["APP_ENV"] = "test"

from .local import *  # noqa: E402, F403
from .local import DATABASES  # noqa: E402

# The database pytest creates, under the name it has in these settings: every
# process a test starts with them (a worker, the benchmark) uses it, never the
# development database. A name that is already a test database's (a
# worker given the test run's DATABASE_URL) stays as it is.
_TEST_DATABASE = "test_" + DATABASES["default"]["NAME"].removeprefix("test_")
DATABASES["default"]["NAME"] = _TEST_DATABASE
DATABASES["default"]["TEST"] = {"NAME": _TEST_DATABASE}

DEBUG = False
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# Yours, applied last: overrides.py wins over every setting above.
from .overrides import *  # noqa: E402, F403

"""Flower's configuration file, run by Flower at start (celery_app.py points FLOWER_CONF here).

Flower has read its FLOWER_* variables and command line by now. Credentials
come from them or, in development, from ``.env`` like every other setting;
Flower stops with one line when they are missing in production or malformed.
https://flower.readthedocs.io/en/latest/config.html
"""

from __future__ import annotations

from tornado.options import options

from {{ cookiecutter.project_slug }}.environment import ConfigurationError, environment

try:
    basic_auth = environment().flower_credentials(list(options.basic_auth or []))
except ConfigurationError as error:
    raise SystemExit(f"{{ cookiecutter.project_slug }}: {error}") from None

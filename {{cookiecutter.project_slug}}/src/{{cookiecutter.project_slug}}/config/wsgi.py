"""WSGI entry point for the web server."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from {{ cookiecutter.project_slug }}.environment import SETTINGS_PACKAGE, production_rule

# A web server is production unless told otherwise, even without APP_ENV.
os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_PACKAGE + ".production")
# An exception, not an exit: gunicorn then stops with "Worker failed to boot"
# and this message, instead of starting the worker again and again.
production_rule()

application = get_wsgi_application()

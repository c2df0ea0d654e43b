"""WSGI entry point for the web server."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

SETTINGS = "{{ cookiecutter.project_slug }}.config.settings.production"
os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)

application = get_wsgi_application()

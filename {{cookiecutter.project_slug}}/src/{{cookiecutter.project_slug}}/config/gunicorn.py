"""gunicorn's settings for the web process (its ``--config=python:`` module).

The production rule runs in gunicorn's master before it starts any worker, so
a missing or unsafe setting stops the web server with one line naming it, as
it stops every other process (environment.py); a worker would only fail to
boot with a traceback. The WSGI module applies the same rule for other servers.
"""

from __future__ import annotations

import os

from {{ cookiecutter.project_slug }}.environment import SETTINGS_PACKAGE, start


def on_starting(server) -> None:
    # A web server is production unless told otherwise, as in wsgi.py.
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS_PACKAGE + ".production")
    start()

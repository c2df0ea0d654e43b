"""Your Django settings, applied last.

User-owned: template updates never touch this file. Every settings module the
project runs (local, production, test) imports it at its end, so a setting you
put here wins over the baseline's in every environment. Read variables from
the validated environment (environment.py) rather than from os.environ, e.g.

    from {{ cookiecutter.project_slug }}.environment import environment

    from .base import INSTALLED_APPS

    INSTALLED_APPS = [*INSTALLED_APPS, "{{ cookiecutter.project_slug }}.billing"]
    TIME_ZONE = "Europe/Berlin"
    if environment().app_env == "production":
        SESSION_COOKIE_AGE = 60 * 60 * 8

Only upper-case names are settings; start helpers' names with an underscore.
"""

from __future__ import annotations

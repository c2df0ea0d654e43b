#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

from __future__ import annotations

import sys


def main() -> None:
    from {{ cookiecutter.project_slug }}.environment import start

    # Local settings in development, production settings with APP_ENV=production.
    start()
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()

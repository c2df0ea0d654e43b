"""Create a development key pair for message signing (into the git-ignored keys/ folder)."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from {{ cookiecutter.project_slug }}.environment import environment
from {{ cookiecutter.project_slug }}.tasking.signing import KeysExist, create_keys


class Command(BaseCommand):
    help = "Create a development key and certificate for Celery's message signing."
    # The checks import the Celery app, which needs the keys this creates.
    requires_system_checks = []

    def handle(self, *args, **options):
        env = environment()
        key, cert = Path(env.celery_signing_key), Path(env.celery_signing_cert)
        try:
            create_keys(key, cert)
        except KeysExist as error:
            raise CommandError(str(error)) from None
        self.stdout.write(f"wrote {key} and {cert}")

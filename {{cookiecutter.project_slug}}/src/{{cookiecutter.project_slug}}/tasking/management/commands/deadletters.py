"""List, show, requeue and purge dead letters.

python manage.py deadletters list
python manage.py deadletters show ID
python manage.py deadletters requeue ID [ID ...] | --all
python manage.py deadletters purge --yes
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from {{ cookiecutter.project_slug }}.tasking import operations


class Command(BaseCommand):
    help = "List, show, requeue and purge dead letters (tasks that failed for good)."

    def add_arguments(self, parser):
        operations.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            operations.run(options, self.stdout.write)
        except operations.OperationError as error:
            raise CommandError(str(error)) from None

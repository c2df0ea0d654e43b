"""Throughput, latency and memory of every queue, with its own worker settings.

python manage.py benchmark [--queues NAME,...] [--tasks N] [--latency-samples N] [--repeat N]

See ``{{ cookiecutter.project_slug }}.tools.benchmark`` for what is measured and how.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from {{ cookiecutter.project_slug }}.tools import benchmark


class Command(BaseCommand):
    help = "Throughput, latency and memory of every queue, with its own worker settings."

    def add_arguments(self, parser):
        benchmark.add_arguments(parser)

    def handle(self, *args, **options):
        try:
            benchmark.run(options, self.stdout.write)
        except benchmark.BenchmarkError as error:
            raise CommandError(str(error)) from None

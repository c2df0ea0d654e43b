{% set base = {
    'static': ('celery.beat', 'PersistentScheduler'),
    'redbeat': ('redbeat', 'RedBeatScheduler'),
    'django-celery-beat': ('django_celery_beat.schedulers', 'DatabaseScheduler'),
}.get(cookiecutter.beat_scheduler, ('celery.beat', 'PersistentScheduler')) %}
"""Beat's scheduler: {{ base[1] }}, plus a liveness file for the healthcheck.

Beat has no ping. Each time it wakes up, this scheduler touches a file; the
container healthcheck (``healthcheck.py beat``) fails when the file goes stale,
so a stuck beat shows up as unhealthy instead of silently sending nothing.
"""

from __future__ import annotations
{% if cookiecutter.beat_scheduler == 'static' %}

from pathlib import Path
{% endif %}

from {{ base[0] }} import {{ base[1] }}

from {{ cookiecutter.project_slug }}.health import BEAT_LIVENESS_FILE
{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
from {{ cookiecutter.project_slug }}.schedule import periodic_tasks, store_periodic_tasks
{% endif %}


class Scheduler({{ base[1] }}):
{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
    def setup_schedule(self):
        """Add the periodic tasks of overrides.py that the database does not have yet."""
        from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

        store_periodic_tasks(
            PeriodicTask, IntervalSchedule, CrontabSchedule, periodic_tasks(), replace=False
        )
        super().setup_schedule()

{% elif cookiecutter.beat_scheduler == 'static' %}
    def setup_schedule(self):
        # The schedule file's folder (var/, git-ignored) is not there on a fresh checkout.
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        super().setup_schedule()

{% endif %}
    def tick(self, *args, **kwargs):
        BEAT_LIVENESS_FILE.parent.mkdir(parents=True, exist_ok=True)
        BEAT_LIVENESS_FILE.touch()
        return super().tick(*args, **kwargs)

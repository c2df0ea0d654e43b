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

from {{ base[0] }} import {{ base[1] }}

from {{ cookiecutter.project_slug }}.healthcheck import BEAT_LIVENESS_FILE


class Scheduler({{ base[1] }}):
    def tick(self, *args, **kwargs):
        BEAT_LIVENESS_FILE.parent.mkdir(parents=True, exist_ok=True)
        BEAT_LIVENESS_FILE.touch()
        return super().tick(*args, **kwargs)

"""The application of the chaos test's beat processes: the project's, with one quick schedule.

Started as ``celery -A tests.chaos_beat beat``; the period comes from CHAOS_BEAT_PERIOD.
"""

from __future__ import annotations

import os

from {{ cookiecutter.project_slug }}.celery_app import app

app.conf.beat_schedule = {
    "chaos-tick": {"task": "chaos.tick", "schedule": float(os.environ["CHAOS_BEAT_PERIOD"])},
}

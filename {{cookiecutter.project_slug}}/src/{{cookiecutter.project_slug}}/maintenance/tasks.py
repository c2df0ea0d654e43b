"""Housekeeping tasks{% if cookiecutter.beat_scheduler != 'none' %}, run on a schedule by beat{% endif %}."""

from __future__ import annotations

import logging
import time

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.files import reports_dir

logger = logging.getLogger(__name__)

REPORT_RETENTION_DAYS = 7


@app.task
def heartbeat() -> float:
    """A no-op that proves the scheduling path works end to end{% if cookiecutter.monitoring != 'none' %};
    monitoring alerts when it stops succeeding{% endif %}."""
    return time.time()


@app.task
def cleanup_reports(max_age_days: int = REPORT_RETENTION_DAYS) -> int:
    """Delete report files older than ``max_age_days``; returns how many."""
    cutoff = time.time() - max_age_days * 24 * 60 * 60
    removed = 0
    for path in reports_dir().glob("*.csv"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            removed += 1
    logger.info("removed %d report(s) older than %d days", removed, max_age_days)
    return removed

"""Report tasks: long-running work that cleans up when its time is up."""

from __future__ import annotations

import logging
import os
import tempfile

{% if cookiecutter.result_backend in ['redis', 'django-db'] %}
from celery import chord
{% else %}
from celery import chain
{% endif %}
from celery.exceptions import SoftTimeLimitExceeded

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.files import reports_dir

logger = logging.getLogger(__name__)


@app.task
def generate_report(report_id: str, rows: int = 1000) -> str:
    """Write report ``report_id`` to a file; returns its path.

    The report is written to a temporary file and renamed into place, so a
    rerun after a crash replaces it whole and nobody reads half a report.
    When the soft time limit strikes, the partial file is removed before the
    task fails.
    """
    target = reports_dir() / f"{report_id}.csv"
    handle, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{report_id}.")
    try:
        with os.fdopen(handle, "w") as out:
            out.write("row,value\n")
            for row in range(rows):
                out.write(f"{row},{row * row}\n")
        os.replace(partial, target)
    except SoftTimeLimitExceeded:
        logger.warning("report %s ran out of time; partial output removed", report_id)
        raise
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    return str(target)


@app.task
def count_rows(report_id: str) -> int:
    """Rows in a generated report."""
    with open(reports_dir() / f"{report_id}.csv") as report:
        return sum(1 for _ in report) - 1
{% if cookiecutter.result_backend in ['redis', 'django-db'] %}


@app.task
def summarize(counts: list[int]) -> int:
    """The chord's callback: total rows of every report."""
    return sum(counts)


def build_digest(report_ids: list[str]):
    """Fan out one count per report and add them up when all are done.

    A chord: the callback runs once every header task has stored its result
    in the result backend.
    """
    return chord(count_rows.s(report_id) for report_id in report_ids)(summarize.s())
{% else %}


@app.task
def add_rows(total: int, report_id: str) -> int:
    """One link of the digest chain: adds a report's rows to the running total."""
    return total + count_rows(report_id)


@app.task
def record_digest(total: int, digest_id: str) -> int:
    """The last link: writes the total where readers find it."""
    (reports_dir() / f"{digest_id}.total").write_text(f"{total}\n")
    return total


def build_digest(report_ids: list[str], digest_id: str):
    """Add up the rows of several reports without a chord.

{% if cookiecutter.result_backend == 'rpc' %}
    Chords need a result backend that can join results, which the RPC
    backend cannot, so the fan-out is a chain: each link adds one report to
{% else %}
    Chords need a result backend; this project has none, so the fan-out is
    a chain: each link adds one report to
{% endif %}
    the running total that the worker passes to the next link, and the last
    link records the sum.
    """
    links = [add_rows.s(0, report_ids[0])] + [add_rows.s(r) for r in report_ids[1:]]
    return chain(*links, record_digest.s(digest_id)).apply_async()
{% endif %}

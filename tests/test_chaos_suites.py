"""Baked projects pass their own chaos tests, for both frameworks and both brokers.

Each project runs ``pytest -m chaos``: real prefork workers killed with
SIGKILL and stopped with SIGTERM, a private broker restarted, duplicates,
dead letters, bad input and a burst of several thousand tasks. The figures
each chaos test prints (published, completed, side effects applied,
duplicates, lost) are listed after the template's own results.
"""

from __future__ import annotations

import shutil

import pytest

from tests.options import combo_id
from tests.test_generated_suites import UV, bake_installed, run

# Both frameworks times both brokers; the other options vary so that RedBeat
# (two beats, one schedule), every topology and several result backends are
# exercised under chaos too.
CHAOS_SUITES = [
    {
        "framework": "standalone",
        "broker": "redis",
        "queue_topology": "fast-slow",
        "beat_scheduler": "redbeat",
        "result_backend": "none",
    },
    {
        "framework": "standalone",
        "broker": "rabbitmq",
        "queue_topology": "per-domain",
        "beat_scheduler": "redbeat",
        "result_backend": "rpc",
        "message_signing": True,
    },
    {
        "framework": "django",
        "broker": "redis",
        "queue_topology": "priority",
        "beat_scheduler": "static",
        "result_backend": "redis",
    },
    {
        "framework": "django",
        "broker": "rabbitmq",
        "queue_topology": "single",
        "beat_scheduler": "django-celery-beat",
        "result_backend": "django-db",
    },
]


def figures_of(output: str) -> list[str]:
    """The lines of the suite's "chaos figures" section."""
    lines = output.splitlines()
    start = next((n for n, line in enumerate(lines) if "chaos figures" in line), None)
    if start is None:
        return []
    section = []
    for line in lines[start + 1 :]:
        if line.startswith("="):
            break
        section.append(line)
    return section


# Two lanes of two suites, each lane on one xdist worker (tests/conftest.py):
# never more than two chaos suites at once, beside the other tests. Suites 0
# and 2 took 380 s and 515 s, 1 and 3 took 458 s and 386 s (2-core machine).
LANES = [
    pytest.param(
        answers, id=combo_id(answers), marks=pytest.mark.xdist_group(f"chaos-lane-{index % 2}")
    )
    for index, answers in enumerate(CHAOS_SUITES)
]


@pytest.mark.slow
@pytest.mark.parametrize("answers", LANES)
def test_generated_project_passes_its_chaos_tests(bake, answers, record_property, tmp_path):
    index = CHAOS_SUITES.index(answers)
    # A name of its own, so that parallel Django suites get their own test databases.
    project = bake_installed(bake, **{**answers, "project_name": f"Chaos {index}"})
    # The suite's temporary files (worker logs, journals) are kept in this
    # test's temporary folder when it fails (the baked project is removed).
    command = [UV, "run", "--no-sync", "pytest", "-m", "chaos", "-q", "-p", "no:cacheprovider"]
    suite = run([*command, f"--basetemp={project / '.chaos-tmp'}"], project, timeout=1200)
    if suite.returncode != 0:
        shutil.copytree(project / ".chaos-tmp", tmp_path / "chaos-tmp", dirs_exist_ok=True)
    summary = suite.stdout.strip().splitlines()[-1:] if suite.stdout else []
    figures = figures_of(suite.stdout)
    # Listed after the results (tests/conftest.py), also under pytest-xdist.
    record_property("chaos_figures", [f"{combo_id(answers)}: {' '.join(summary)}", *figures])
    # Long: a failing chaos test reports the end of every worker's log.
    assert suite.returncode == 0, suite.stdout[-40000:] + suite.stderr[-3000:]
    assert figures, "the chaos tests printed no figures"

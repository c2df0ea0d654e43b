"""Fixtures shared by the template's tests."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest

from tests.options import TEMPLATE_DIR, check_known_keys


@pytest.fixture(scope="session")
def hook_scripts_dir(tmp_path_factory) -> Path:
    """A temporary directory of its own for the rendered hook scripts.

    Cookiecutter renders each hook into a temporary file that it never
    deletes, and the hook's interpreter scans that directory when it
    imports. Thousands of bakes would fill the shared temporary directory
    and slow every later hook down, so bakes use this one and empty it.
    """
    path = tmp_path_factory.mktemp("hook-scripts")
    saved, tempfile.tempdir = tempfile.tempdir, str(path)
    yield path
    tempfile.tempdir = saved


@pytest.fixture
def bake(cookies, hook_scripts_dir):
    """Bake the template with ``answers``; unknown option names are refused, not ignored."""
    baked = []

    def _bake(**answers):
        check_known_keys(answers)
        try:
            result = cookies.bake(extra_context=answers, template=str(TEMPLATE_DIR))
        finally:
            for leftover in hook_scripts_dir.iterdir():
                leftover.unlink()
        if result.project_path is not None:
            baked.append(result.project_path)
        return result

    yield _bake
    for path in baked:
        shutil.rmtree(path, ignore_errors=True)


_baked = {"combinations": 0, "passed": 0}


def pytest_runtest_logreport(report):
    """Count the combinations the matrix baked (reports reach the controller under xdist)."""
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "combinations_baked":
                _baked["combinations"] += value
                _baked["passed"] += value if report.passed else 0


def pytest_terminal_summary(terminalreporter):
    if _baked["combinations"]:
        terminalreporter.write_line(
            f"matrix: {_baked['combinations']} combinations baked, "
            f"{_baked['passed']} in groups that passed every check"
        )

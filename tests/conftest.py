"""Fixtures shared by the template's tests."""

from __future__ import annotations

import fcntl
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from tests import options
from tests.options import TEMPLATE_DIR, check_known_keys


def pytest_addoption(parser):
    parser.addoption(
        "--fast",
        action="store_true",
        help="the quick tier: no slow tests, and the matrix bakes a pairwise cover of every "
        "option instead of a cover of every three values",
    )
    parser.addoption(
        "--lowest-versions",
        action="store_true",
        help="generated projects installed at the lowest versions their ranges allow: the "
        "whole pairwise cover instead of one project with every integration (about 30 min)",
    )
    parser.addoption(
        "--full-matrix",
        action="store_true",
        help="the matrix bakes every valid combination (7,872; about an hour of CPU) instead "
        "of a cover of every three values of three options",
    )


# The modules of the slowest tests, longest first (--durations on a 2-core
# machine): their tests are handed out first, so that no long test starts last
# and keeps the run going while the other workers sit idle.
LONGEST_FIRST = [
    "test_chaos_suites.py",
    "test_readme_commands.py",
    "test_generated_suites.py",
    "test_compose_services.py",
    "test_admin_browser.py",
    "test_regeneration.py",
    "test_monitoring.py",
]


def pytest_xdist_auto_num_workers(config):
    """``-n auto``: one xdist worker per core, plus one for the chaos lanes' waits.

    The chaos suites spend about half their time waiting (for workers to
    start, stop, be killed, redeliver): two of them side by side keep one core
    busy. Without a worker beyond the cores, the other core sat idle while
    they ran. The quick tier has no chaos suites: one worker per core.
    """
    from xdist.plugin import pytest_xdist_auto_num_workers as one_per_core

    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # what it says, through xdist's own hook
    return one_per_core(config) + (0 if config.getoption("--fast") else 1)


def pytest_configure(config):
    if config.getoption("--full-matrix"):
        options.MATRIX_MODE = "full"
    elif config.getoption("--fast"):
        options.MATRIX_MODE = "pairwise"
    # Tests marked ``xdist_group`` (the chaos lanes) run one after another on
    # one worker; every other test is handed out on its own, longest first,
    # each worker holding at most three. (xdist's plain ``load`` hands a
    # worker a quarter of its share at the start: the first 45 of 365 tests,
    # every chaos suite among them, went to one worker, a 61-minute run.)
    if getattr(config.option, "dist", "no") == "load":
        config.option.dist = "loadgroup"


def pytest_collection_modifyitems(config, items):
    if config.getoption("--fast"):
        slow = [item for item in items if item.get_closest_marker("slow")]
        if slow:
            config.hook.pytest_deselected(items=slow)
            items[:] = [item for item in items if not item.get_closest_marker("slow")]

    def rank(item) -> int:
        module = item.path.name
        if item.get_closest_marker("slow") and module in LONGEST_FIRST:
            return LONGEST_FIRST.index(module)
        return len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a module is kept
    items[:] = turns_apart(items)


def turns_apart(items: list) -> list:
    """The tests that take turns on the machine's ports, each followed by two other tests.

    Handed out one after another, two of them kept both xdist workers waiting
    on each other for minutes (PORTS_LOCK); with other tests between them, one
    worker runs those meanwhile. Their place in the order is the first one's.
    """
    taking_turns = [item for item in items if "machine_ports_to_ourselves" in item.fixturenames]
    if not taking_turns:
        return items
    waiting = set(map(id, taking_turns))
    start = next(n for n, item in enumerate(items) if id(item) in waiting)
    before = items[:start]
    rest = [item for item in items[start:] if id(item) not in waiting]
    interleaved = []
    for turn in taking_turns:
        interleaved.append(turn)
        interleaved += rest[:2]
        del rest[:2]
    return before + interleaved + rest


@contextmanager
def emptied_afterwards(folder: Path):
    """Delete what a bake left in ``folder`` (cookiecutter's rendered hook scripts)."""
    try:
        yield
    finally:
        for leftover in folder.iterdir():
            leftover.unlink()


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


@pytest.fixture(scope="session")
def scratch_dir(tmp_path_factory) -> Path:
    """Where the matrix bakes: in memory (/dev/shm) when the machine has it."""
    shm = Path("/dev/shm")
    if shm.is_dir() and os.access(shm, os.W_OK):
        path = Path(tempfile.mkdtemp(prefix="celery-stack-matrix-", dir=shm))
        yield path
        shutil.rmtree(path, ignore_errors=True)
    else:
        yield tmp_path_factory.mktemp("matrix")


@pytest.fixture(scope="session")
def compile_once():
    """Jinja compiles each template source once in this process (tests/jinja_cache.py)."""
    from tests import jinja_cache

    jinja_cache.install()


@pytest.fixture
def bake_quickly(scratch_dir, hook_scripts_dir, compile_once):
    """Bake with cookiecutter's own API into a scratch folder, for the matrix.

    pytest-cookies renders every context twice and numbers its output
    folders by listing them; over thousands of bakes that doubles the cost.
    This calls the same ``cookiecutter()`` a user runs, with the same guard
    against misspelled option names.
    """

    def _bake(**answers) -> Path:
        check_known_keys(answers)
        output = Path(tempfile.mkdtemp(dir=scratch_dir))
        with emptied_afterwards(hook_scripts_dir):
            return Path(
                cookiecutter(
                    str(TEMPLATE_DIR), no_input=True, extra_context=answers, output_dir=str(output)
                )
            )

    return _bake


@pytest.fixture
def bake(cookies, hook_scripts_dir):
    """Bake the template with ``answers``; unknown option names are refused, not ignored."""
    baked = []

    def _bake(**answers):
        check_known_keys(answers)
        with emptied_afterwards(hook_scripts_dir):
            result = cookies.bake(extra_context=answers, template=str(TEMPLATE_DIR))
        if result.project_path is not None:
            baked.append(result.project_path)
        return result

    yield _bake
    for path in baked:
        shutil.rmtree(path, ignore_errors=True)


_baked = {"combinations": 0, "passed": 0}
_chaos_figures: list[str] = []


def pytest_runtest_logreport(report):
    """Matrix counts and chaos figures (reports reach the controller under xdist)."""
    if report.when == "call":
        for name, value in report.user_properties:
            if name == "combinations_baked":
                _baked["combinations"] += value
                _baked["passed"] += value if report.passed else 0
            elif name == "chaos_figures":
                _chaos_figures.extend(value)


def pytest_terminal_summary(terminalreporter):
    if _chaos_figures:
        terminalreporter.section("chaos figures of the generated projects")
        for line in _chaos_figures:
            terminalreporter.write_line(line)
    if _baked["combinations"]:
        terminalreporter.write_line(
            f"matrix: {_baked['combinations']} combinations baked, "
            f"{_baked['passed']} in groups that passed every check"
        )


# Services listen on the ports compose gives them (8000, 5555, 9090...), which
# are the machine's: the tests that start them take turns, across xdist
# workers and test runs (tests/test_compose_services.py, test_readme_commands.py).
PORTS_LOCK = Path(tempfile.gettempdir()) / "celery-stack-compose-ports.lock"


@pytest.fixture
def machine_ports_to_ourselves():
    with PORTS_LOCK.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)

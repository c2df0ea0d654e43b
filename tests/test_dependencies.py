"""A new major release of a dependency reaches no generated project untested.

Every range a generated ``pyproject.toml`` asks for (dependencies, dependency
groups, build requirements) stops at or below the next major release of the
version the template's ``uv.lock`` tests (for 0.x: at or below 1.0), and the
template's lock holds every one of those ranges (its ``generated`` group), so
what the suite installs in generated projects is what the lock records
(``tests/test_generated_suites.py``: ``project_env``, ``install``).
"""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from tests.options import TEMPLATE_DIR, pairwise_covering_set
from tests.test_generated_suites import RUN_OPTIONS, TEMPLATE_LOCK, locked_versions

# Every value of every option, and every pair of two options' values: each
# requirement of the generated pyproject.toml depends on one option or two.
COVER = pairwise_covering_set(RUN_OPTIONS)
_rendered: list[dict] = []


def rendered_pyprojects(bake_quickly) -> list[dict]:
    """The generated pyproject.toml of each combination of the cover, read once per process."""
    if not _rendered:
        for answers in COVER:
            project = bake_quickly(**answers)
            _rendered.append(tomllib.loads((project / "pyproject.toml").read_text()))
    return _rendered


def requirements_of(pyproject: dict, build: bool = True) -> list[str]:
    """Its dependencies and dependency groups, and with ``build`` its build requirements."""
    groups = pyproject.get("dependency-groups", {}).values()
    return [
        *pyproject["project"]["dependencies"],
        *(entry for group in groups for entry in group if isinstance(entry, str)),
        *(pyproject["build-system"]["requires"] if build else []),
    ]


def upper_bound(requirement: Requirement) -> Version | None:
    """The lowest version ``requirement`` excludes from above, if any."""
    bounds = [Version(s.version) for s in requirement.specifier if s.operator in {"<", "=="}]
    bounds += [  # ~=X.Y allows X.*; ~=X.Y.Z allows X.Y.*
        Version(".".join([*s.version.split(".")[:-2], str(int(s.version.split(".")[-2]) + 1)]))
        for s in requirement.specifier
        if s.operator == "~="
    ]
    return min(bounds, default=None)


def next_major(version: Version) -> Version:
    return Version(f"{version.major + 1}")


def check_bounds(requirements: set[str], locked: dict[str, str]) -> list[str]:
    """What is wrong with ``requirements`` against the versions ``locked``; empty if nothing."""
    problems = []
    for text in sorted(requirements):
        requirement = Requirement(text)
        bound = upper_bound(requirement)
        if bound is None:
            problems.append(f"{text}: no upper bound; a new major release would reach new bakes")
            continue
        version = locked.get(requirement.name)
        if version is None:
            continue  # a build requirement: bounded, and not installed by the suite
        if not requirement.specifier.contains(version, prereleases=True):
            problems.append(f"{text}: the template's lock tests {version}, outside the range")
        elif bound > next_major(Version(version)):
            problems.append(
                f"{text}: allows {next_major(Version(version))} and later, which the "
                f"template's lock ({version}) has not tested"
            )
    return problems


def test_every_dependency_of_a_generated_project_stops_below_its_next_major(bake_quickly):
    requirements = {
        text
        for pyproject in rendered_pyprojects(bake_quickly)
        for text in requirements_of(pyproject)
    }
    assert not check_bounds(requirements, locked_versions(TEMPLATE_LOCK))


def test_the_bound_check_refuses_an_open_range_and_one_beyond_the_lock():
    locked = {"celery": "5.7.0", "sentry-sdk": "3.0.1", "ruff": "0.17.6"}
    assert (
        check_bounds({"celery>=5.7,<5.8", "sentry-sdk>=2.20,<4", "ruff>=0.17,<0.18"}, locked) == []
    )
    problems = check_bounds({"celery>=5.7", "sentry-sdk>=2.20,<5", "ruff>=0.18,<0.19"}, locked)
    assert [problem.split(":")[0] for problem in problems] == [
        "celery>=5.7",
        "ruff>=0.18,<0.19",
        "sentry-sdk>=2.20,<5",
    ]


def same_range(a: Requirement, b: Requirement) -> bool:
    return a.name == b.name and a.specifier == b.specifier


def test_the_template_locks_every_range_a_generated_project_asks_for(bake_quickly):
    generated = {
        Requirement(text)
        for pyproject in rendered_pyprojects(bake_quickly)
        for text in requirements_of(pyproject, build=False)
    }
    template = tomllib.loads((TEMPLATE_DIR / "pyproject.toml").read_text())
    locked = [Requirement(text) for text in template["dependency-groups"]["generated"]]
    # celery of a project without Redis is the same range as celery[redis]: extras may be fewer.
    unlocked = [
        str(g)
        for g in generated
        if not any(same_range(g, t) and g.extras <= t.extras for t in locked)
    ]
    assert not unlocked, "asked for by a generated project, not in the template's generated group"
    never_asked = [
        str(t)
        for t in locked
        if not any(same_range(g, t) and g.extras == t.extras for g in generated)
    ]
    assert not never_asked, "in the template's generated group, asked for by no generated project"


def test_the_readme_tells_a_user_to_commit_uv_lock(bake_quickly):
    readme = (bake_quickly() / "README.md").read_text()
    assert "uv sync --all-groups   # writes uv.lock, the versions you run: commit it" in readme

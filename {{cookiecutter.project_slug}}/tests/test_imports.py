"""Imports point one way: the example task families do not import each other.

A family (a package of tasks, such as reports/) builds on the shared core
(celery_app, tasking, topology, environment, ...) and calls another family's
task by name, so each family can be changed or removed on its own.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = "{{ cookiecutter.project_slug }}"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / "src" / PACKAGE
FAMILIES = [
    name
    for name in ("orders", "reports", "notifications", "integrations", "maintenance")
    if (PACKAGE_DIR / name).is_dir()
]


def imported_modules(path: Path) -> set[str]:
    """The full names a file imports, relative imports resolved (``from a import b``: a and a.b)."""
    package = path.relative_to(PACKAGE_DIR.parent).parent.parts  # a module's, or __init__'s
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = ".".join(package[: len(package) - node.level + 1]) if node.level else ""
            module = ".".join(filter(None, (base, node.module)))
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


def test_every_example_family_is_found():
    assert {"reports", "notifications", "integrations", "maintenance"} <= set(FAMILIES)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_task_family_imports_no_other_family(family):
    others = tuple(f"{PACKAGE}.{name}" for name in FAMILIES if name != family)
    found = sorted(
        f"{path.relative_to(PACKAGE_DIR).as_posix()} imports {name}"
        for path in sorted((PACKAGE_DIR / family).rglob("*.py"))
        for name in imported_modules(path)
        if name in others or name.startswith(tuple(other + "." for other in others))
    )
    assert not found, f"call another family's tasks by name instead: {found}"

"""RELIABILITY.md names the tests that check each promise: they exist."""

from __future__ import annotations

import re
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def named_tests(document: str) -> set[str]:
    return set(re.findall(r"`(test_\w+)`", document))


def defined_tests() -> set[str]:
    return {
        name
        for path in (PROJECT_DIR / "tests").glob("test_*.py")
        for name in re.findall(r"^def (test_\w+)\(", path.read_text(), re.M)
    }


def test_every_test_the_reliability_document_names_exists():
    named = named_tests((PROJECT_DIR / "RELIABILITY.md").read_text())
    assert named, "RELIABILITY.md names no test"
    assert named - defined_tests() == set()


def test_a_test_that_does_not_exist_is_caught():
    assert named_tests("- Checked by: `test_nothing_like_this_exists`.") - defined_tests() == {
        "test_nothing_like_this_exists"
    }

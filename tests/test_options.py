"""The combinations the slow tests bake: valid, and covering every pair they promise."""

from __future__ import annotations

import itertools

import pytest

from tests.options import CHOICES, OPTIONS, combo_id, is_valid, value_pairs
from tests.test_generated_suites import RUN_OPTIONS, SUITES
from tests.test_kubernetes import COMBINATIONS, MANIFEST_OPTIONS, SHAPES

COVERS = {
    "generated suites": (SUITES, RUN_OPTIONS, {}),
    "kubernetes overlays": (COMBINATIONS, MANIFEST_OPTIONS, {}),
    "kubernetes shapes": (SHAPES, ["broker", "queue_topology"], {"framework": "standalone"}),
}


def reachable_pairs(names: list[str], fixed: dict) -> set:
    """Every pair of values of ``names`` that some valid combination holds."""
    defaults = {k: (v[0] if isinstance(v, list) else v) for k, v in OPTIONS.items()}
    values = [CHOICES.get(name, [False, True]) for name in names]
    pairs: set = set()
    for combo in itertools.product(*values):
        answers = {**defaults, **fixed, **dict(zip(names, combo, strict=True))}
        if is_valid(answers):
            pairs |= value_pairs(answers, names)
    return pairs


@pytest.mark.parametrize("cover", COVERS, ids=list(COVERS))
def test_every_reachable_pair_of_values_is_baked_once_at_least(cover):
    rows, names, fixed = COVERS[cover]
    assert all(is_valid(row) for row in rows)
    assert all(row[key] == value for row in rows for key, value in fixed.items())
    covered = set().union(*(value_pairs(row, names) for row in rows))
    missing = reachable_pairs(names, fixed) - covered
    assert not missing, f"{cover}: pairs never baked: {sorted(missing)[:5]}"
    assert len({combo_id(row) for row in rows}) == len(rows), "two rows are the same"


def test_tests_that_take_turns_on_the_ports_are_handed_out_apart():
    """tests/conftest.py puts two other tests after each one that holds PORTS_LOCK."""
    from types import SimpleNamespace

    from tests.conftest import turns_apart

    def item(name, *fixtures):
        return SimpleNamespace(name=name, fixturenames=["bake", *fixtures])

    items = [item("chaos")] + [item(f"port{n}", "machine_ports_to_ourselves") for n in range(3)]
    items += [item(f"suite{n}") for n in range(5)]
    order = [test.name for test in turns_apart(items)]
    assert order == [
        "chaos", "port0", "suite0", "suite1", "port1", "suite2", "suite3", "port2", "suite4"
    ]  # fmt: skip

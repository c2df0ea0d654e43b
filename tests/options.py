"""The template's option model, read from cookiecutter.json, and the combinations to bake."""

from __future__ import annotations

import collections
import itertools
import json
import math
import random
from pathlib import Path

TEMPLATE_DIR = Path(__file__).resolve().parents[1]
COOKIECUTTER_JSON = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text())

# Public options: what a user answers.
OPTIONS = {key: value for key, value in COOKIECUTTER_JSON.items() if not key.startswith("_")}
CHOICES = {key: value for key, value in OPTIONS.items() if isinstance(value, list)}
BOOLEANS = [key for key, value in OPTIONS.items() if isinstance(value, bool)]

# Combinations the pre-generation hook refuses, as (option, value, needed option, needed values).
# Written independently of the hook, so a test compares two statements of the rules.
INCOMPATIBLE = (
    ("result_backend", "django-db", "framework", {"django"}),
    ("result_backend", "rpc", "broker", {"rabbitmq"}),
    ("beat_scheduler", "django-celery-beat", "framework", {"django"}),
    ("result_backend", "django-db", "beat_scheduler", {"static", "django-celery-beat", "redbeat"}),
)


def is_valid(answers: dict) -> bool:
    return all(
        answers.get(option) != value or answers.get(needed) in allowed
        for option, value, needed, allowed in INCOMPATIBLE
    )


def pairwise_boolean_rows(names: list[str]) -> list[dict]:
    """Rows of yes/no answers in which every pair of options takes all four value pairs."""
    rows: list[dict] = []
    uncovered = {
        (a, b, va, vb)
        for a, b in itertools.combinations(names, 2)
        for va in (False, True)
        for vb in (False, True)
    }
    candidates = [
        dict(zip(names, values, strict=True))
        for values in itertools.product((False, True), repeat=len(names))
    ]
    while uncovered:
        best = max(
            candidates,
            key=lambda row: sum((a, b, row[a], row[b]) in uncovered for a, b, _, _ in uncovered),
        )
        rows.append(best)
        uncovered -= {(a, b, best[a], best[b]) for a, b in itertools.combinations(names, 2)}
    return rows


BOOLEAN_ROWS = pairwise_boolean_rows(BOOLEANS)


def choice_combinations() -> list[dict]:
    """Every valid combination of the choice options: the full cross product, filtered."""
    names = list(CHOICES)
    combos = (
        dict(zip(names, values, strict=True)) for values in itertools.product(*CHOICES.values())
    )
    return [combo for combo in combos if is_valid(combo)]


# Set from the command line (tests/conftest.py): how many combinations the
# matrix bakes. "pairwise" (`--fast`): a pairwise cover of every option;
# "threewise" (the default): a cover of every three values of any three
# options, yes/no options included; "full" (`--full-matrix`): every valid
# combination.
MATRIX_MODE = "threewise"


def full_matrix() -> list[dict]:
    """Every valid choice combination, each with a row of boolean answers.

    Rows rotate through a pairwise covering set, so every pair of boolean
    values meets every choice value many times over.
    """
    return [
        {**combo, **BOOLEAN_ROWS[index % len(BOOLEAN_ROWS)]}
        for index, combo in enumerate(choice_combinations())
    ]


def threewise_cover(rows: list[dict], names: list[str]) -> list[dict]:
    """The fewest ``rows`` a greedy pick finds in which every three values of ``names`` meet.

    Every triple of values that some valid row holds is held by a chosen row.
    Deterministic: ties go to the earlier row, so every xdist worker collects
    the same set.
    """
    triples = list(itertools.combinations(names, 3))
    ids: dict[tuple, int] = {}
    covers = []  # each row's triples of values, as the bits of one integer
    for row in rows:
        bits = 0
        for a, b, c in triples:
            bits |= 1 << ids.setdefault((a, row[a], b, row[b], c, row[c]), len(ids))
        covers.append(bits)
    uncovered = (1 << len(ids)) - 1
    chosen: list[dict] = []
    while uncovered:
        best = max(range(len(rows)), key=lambda i: (covers[i] & uncovered).bit_count())
        chosen.append(rows[best])
        uncovered &= ~covers[best]
    return chosen


def matrix() -> list[dict]:
    """The combinations the matrix bakes, as MATRIX_MODE says."""
    if MATRIX_MODE == "pairwise":
        names = [*CHOICES, *BOOLEANS]
        return [{name: row[name] for name in names} for row in pairwise_covering_set(names)]
    if MATRIX_MODE == "full":
        return full_matrix()
    return threewise_cover(full_matrix(), [*CHOICES, *BOOLEANS])


def combo_id(answers: dict) -> str:
    parts = [str(answers[name]) for name in CHOICES if name in answers]
    parts += [name for name in BOOLEANS if answers.get(name)]
    return "-".join(parts)


def check_known_keys(extra_context: dict) -> None:
    """pytest-cookies ignores unknown keys silently: refuse them here instead."""
    unknown = sorted(set(extra_context) - set(OPTIONS))
    if unknown:
        raise KeyError(f"not options of cookiecutter.json: {', '.join(unknown)}")


def pairwise_covering_set(names: list[str], fixed: dict | None = None) -> list[dict]:
    """Valid combinations in which every pair of values of ``names`` meets at least once.

    Options not in ``names`` keep their defaults (or the value in ``fixed``).
    Each combination baked costs minutes in the slow tests, so the set is kept
    small: a seeded local search looks for the smallest cover from the lower
    bound (the largest product of two options' value counts) up to the size a
    greedy pick gives. Seeded, so every run and every xdist worker collects the
    same set.
    """
    defaults = {
        key: (value[0] if isinstance(value, list) else value) for key, value in OPTIONS.items()
    }
    base = {**defaults, **(fixed or {})}
    values = {name: CHOICES.get(name, [False, True]) for name in names}
    candidates = [
        {**base, **dict(zip(names, combo, strict=True))}
        for combo in itertools.product(*values.values())
    ]
    candidates = [c for c in candidates if is_valid(c)]
    reachable = set().union(*(value_pairs(c, names) for c in candidates))

    greedy = _greedy_cover(candidates, names, reachable)
    floor = max(
        (len(values[a]) * len(values[b]) for a, b in itertools.combinations(names, 2)), default=1
    )
    rng = random.Random(0)
    for size in range(floor, len(greedy)):
        found = _search_cover(size, candidates, names, values, reachable, rng)
        if found is not None:
            return found
    return greedy


def value_pairs(answers: dict, names: list[str]) -> set:
    """The pairs of option values that ``answers`` covers, among ``names``."""
    return {(a, answers[a], b, answers[b]) for a, b in itertools.combinations(names, 2)}


def _greedy_cover(candidates: list[dict], names: list[str], reachable: set) -> list[dict]:
    """Each pick covers the most pairs not yet covered."""
    covers = [value_pairs(c, names) for c in candidates]
    uncovered = set(reachable)
    chosen: list[dict] = []
    while uncovered:
        best = max(range(len(candidates)), key=lambda i: len(covers[i] & uncovered))
        chosen.append(candidates[best])
        uncovered -= covers[best]
    return chosen


def _search_cover(size, candidates, names, values, reachable, rng, steps=40_000):
    """``size`` valid rows covering ``reachable``, by simulated annealing; None if not found.

    One step changes one option of one row; a change that uncovers more pairs
    is kept now and then, less often as the search cools.
    """
    rows = [dict(rng.choice(candidates)) for _ in range(size)]
    counts = collections.Counter(p for row in rows for p in value_pairs(row, names))
    uncovered = sum(1 for p in reachable if counts[p] == 0)
    temperature = 1.0
    for _ in range(steps):
        if uncovered == 0:
            return rows
        index = rng.randrange(size)
        name = rng.choice(names)
        changed = {**rows[index], name: rng.choice(values[name])}
        if changed == rows[index] or not is_valid(changed):
            continue
        before, after = value_pairs(rows[index], names), value_pairs(changed, names)
        delta = 0
        for p in before - after:
            counts[p] -= 1
            delta += counts[p] == 0
        for p in after - before:
            delta -= counts[p] == 0
            counts[p] += 1
        if delta <= 0 or rng.random() < math.exp(-delta / temperature):
            rows[index] = changed
            uncovered += delta
        else:
            for p in after - before:
                counts[p] -= 1
            for p in before - after:
                counts[p] += 1
        temperature = max(0.05, temperature * 0.9999)
    return rows if uncovered == 0 else None

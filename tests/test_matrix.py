"""Every valid combination of the choice options bakes into a clean project.

The combinations (tests/options.py, ``matrix``): by default a cover in which
every three values of any three options meet at least once (89 projects);
with ``--full-matrix`` the full cross product of the choice options (7,872),
each with a row of a pairwise covering set of the yes/no options; with
``--fast`` a pairwise cover. Checks per project: exit code, no
template markup left, every .py compiles and passes ruff, every YAML, TOML,
JSON and INI file parses, compose files pass the compose-spec schema and
docker-compose, the Dockerfile passes hadolint, the GitHub workflow passes
its schema, the answers are
recorded, and no trace is left of an option that was not chosen.

Combinations are grouped by their leading options into one test each, so
that pytest's per-test cost does not swamp a bake; a failing test lists
every failing combination of its group.
"""

from __future__ import annotations

import itertools
import json
import shutil

import pytest

from tests import checks, options
from tests.options import CHOICES, OPTIONS, combo_id, matrix
from tests.traces import trace_errors

MATRIX = matrix()
GROUP_BY = ("framework", "broker", "result_backend", "queue_topology", "beat_scheduler")
GROUPS: dict[tuple, list[dict]] = {}
for answers in MATRIX:
    GROUPS.setdefault(tuple(answers[name] for name in GROUP_BY), []).append(answers)


def test_matrix_is_the_cover_it_claims():
    print(f"\nmatrix: {len(MATRIX)} combinations baked in {len(GROUPS)} groups")
    assert sum(map(len, GROUPS.values())) == len(MATRIX)
    everything = options.full_matrix()
    if options.MATRIX_MODE == "full":
        assert MATRIX == everything
        everything_at_all = 1
        for values in CHOICES.values():
            everything_at_all *= len(values)
        assert 0 < len(MATRIX) < everything_at_all  # the refused combinations are left out
    elif options.MATRIX_MODE == "threewise":
        names = [*CHOICES, *options.BOOLEANS]

        def triples(row: dict) -> set:
            return {
                tuple(itertools.chain.from_iterable((name, row[name]) for name in three))
                for three in itertools.combinations(names, 3)
            }

        held = set().union(*map(triples, everything))
        missing = held - set().union(*map(triples, MATRIX))
        assert not missing, f"triples of values never baked: {sorted(missing, key=str)[:5]}"
        assert all(row in everything for row in MATRIX)
    else:
        pytest.skip("--fast: the matrix is a pairwise cover (tests/test_options.py checks it)")


def problems_of(answers: dict, root) -> list[str]:
    tree = checks.read_tree(root)
    problems = checks.unrendered_markup(tree)
    problems += checks.parse_errors(tree)
    problems += checks.ruff_errors(root, tree)
    compose_files = [path for path in tree if checks.is_compose_file(path)]
    if not compose_files:
        problems.append("no compose file")
    problems += checks.schema_errors("vendor.compose-spec", tree, compose_files)
    problems += checks.docker_compose_errors(root, compose_files, checks.PRODUCTION_ENV)
    problems += checks.readme_override_errors(root, tree, {})
    if "Dockerfile" not in tree:
        problems.append("no Dockerfile")
    problems += checks.hadolint_errors(tree)
    workflows = [path for path in tree if checks.is_workflow(path)]
    problems += checks.schema_errors("vendor.github-workflows", tree, workflows)
    dependabot = [path for path in tree if path == ".github/dependabot.yml"]
    if workflows and not dependabot:
        problems.append("a CI workflow without .github/dependabot.yml")
    problems += checks.schema_errors("vendor.dependabot", tree, dependabot)
    problems += trace_errors(answers, tree)
    recorded = json.loads(tree.get("template-answers.json", b"{}"))
    if set(recorded) != set(OPTIONS) or any(recorded[key] != answers[key] for key in answers):
        problems.append(f"template-answers.json records {recorded}, not the answers given")
    return problems


@pytest.mark.parametrize("group", GROUPS, ids="-".join)
def test_every_combination_bakes_clean(bake_quickly, group, record_property):
    record_property("combinations_baked", len(GROUPS[group]))
    failures = []
    for answers in GROUPS[group]:
        try:
            root = bake_quickly(**answers)
        except Exception as error:  # the failure is the finding
            failures.append(f"[{combo_id(answers)}]\n  bake failed: {error!r}")
            continue
        problems = problems_of(answers, root)
        shutil.rmtree(root.parent, ignore_errors=True)
        if problems:
            failures.append(f"[{combo_id(answers)}]\n  " + "\n  ".join(problems))
    assert not failures, f"{len(failures)} of {len(GROUPS[group])} combinations:\n" + "\n".join(
        failures
    )

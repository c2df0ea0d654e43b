"""Generation is a pure function of the answers: same answers, same bytes."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import jinja2
import pytest

from tests import checks
from tests.options import TEMPLATE_DIR

CASES = [
    {},
    {
        "framework": "standalone",
        "broker": "rabbitmq",
        "result_backend": "rpc",
        "queue_topology": "priority",
        "beat_scheduler": "redbeat",
        "message_signing": True,
    },
    {
        "framework": "django",
        "broker": "rabbitmq",
        "result_backend": "django-db",
        "queue_topology": "per-domain",
        "beat_scheduler": "django-celery-beat",
        "monitoring": "none",
        "ci": "none",
        "use_sentry": True,
        "use_opentelemetry": True,
    },
]


def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        path: (content, stat.S_IMODE(os.stat(root / path).st_mode))
        for path, content in checks.read_tree(root).items()
    }


@pytest.mark.parametrize("answers", CASES, ids=["defaults", "standalone-rabbitmq", "django-all"])
def test_same_answers_give_identical_trees(bake, answers):
    first = bake(**answers)
    second = bake(**answers)
    assert first.exit_code == 0 and second.exit_code == 0
    assert first.project_path != second.project_path
    assert snapshot(first.project_path) == snapshot(second.project_path)


def test_post_generation_hook_is_idempotent(bake, tmp_path):
    """Running the post-generation hook again on a baked project changes nothing."""
    result = bake(framework="standalone", ci="none")
    before = snapshot(result.project_path)
    rendered = tmp_path / "post_gen_project.py"
    source = (TEMPLATE_DIR / "hooks" / "post_gen_project.py").read_text()
    rendered.write_text(jinja2.Template(source).render(cookiecutter=result.context))
    assert "{{" not in rendered.read_text()
    subprocess.run([sys.executable, str(rendered)], cwd=result.project_path, check=True)
    assert snapshot(result.project_path) == before


def test_generation_writes_no_machine_paths_or_timestamps(bake, tmp_path):
    result = bake()
    for path, content in checks.read_tree(result.project_path).items():
        text = content.decode()
        assert str(tmp_path) not in text, path
        assert str(TEMPLATE_DIR) not in text, path

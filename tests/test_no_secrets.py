"""No secret is baked: not in a compose file, not anywhere in the generated tree.

Secrets come from the environment (compose interpolates them); what a
generated project may contain are the well-known development placeholders
that its README and .env.example name as such.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

# Development placeholders, published in every README; any other password is a secret.
PLACEHOLDER_PASSWORDS = {"guest", "postgres", "admin", "change-me", "secret"}
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|BASIC_AUTH|API_KEY|CREDENTIALS", re.IGNORECASE)
PRIVATE_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+]*://([^:/@\s'\"]+):([^@/\s'\"]*)@")

# Both frameworks and brokers, with and without Flower, signing and Prometheus.
ANSWER_SETS = [
    {"framework": "django", "broker": "rabbitmq", "monitoring": "flower+prometheus"},
    {"framework": "django", "broker": "redis", "monitoring": "flower", "message_signing": True},
    {"framework": "standalone", "broker": "redis", "monitoring": "prometheus"},
    {
        "framework": "standalone",
        "broker": "rabbitmq",
        "monitoring": "flower",
        "message_signing": True,
        "beat_scheduler": "redbeat",
    },
]


def is_placeholder(value: str) -> bool:
    """An interpolated value, or a development placeholder (``admin:change-me`` too)."""
    value = value.strip()
    if not value or value.startswith("$"):
        return True
    return value.split(":")[-1] in PLACEHOLDER_PASSWORDS


def secrets_in(project: Path) -> list[str]:
    """Where ``project`` contains something that looks like a real secret."""
    found = []
    for path in sorted(project.rglob("*")):
        relative = path.relative_to(project)
        if relative.parts[0] in {".env", "keys"}:
            found.append(f"{relative}: a secret file is baked")
            continue
        if not path.is_file():
            continue
        text = path.read_text(errors="replace")
        if PRIVATE_KEY.search(text):
            found.append(f"{relative}: a private key")
        for user, password in URL_CREDENTIALS.findall(text):
            if not is_placeholder(password):
                found.append(f"{relative}: a password in a URL ({user}:...)")
        if path.name.startswith("compose") and path.suffix in {".yaml", ".yml"}:
            found += [f"{relative}: {problem}" for problem in compose_secrets(text)]
    return found


def compose_secrets(text: str) -> list[str]:
    """Secret-looking environment variables of compose services that are given literally."""
    document = yaml.safe_load(text) or {}
    problems = []
    for name, service in (document.get("services") or {}).items():
        environment = (service or {}).get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.partition("=")[::2] for item in environment)
        for variable, value in environment.items():
            if SECRET_NAME.search(variable) and not is_placeholder(str(value or "")):
                problems.append(f"service {name} sets {variable} literally")
    return problems


@pytest.mark.parametrize("answers", ANSWER_SETS, ids=lambda a: "-".join(map(str, a.values())))
def test_no_secret_is_baked(bake_quickly, answers):
    project = bake_quickly(**answers)
    assert secrets_in(project) == []


def test_the_scan_finds_secrets(tmp_path):
    """The check above can fail: each kind of secret is found."""
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "signing.key").write_text("key\n")
    (tmp_path / "deploy.pem").write_text("-----BEGIN RSA PRIVATE KEY-----\nMIIB\n")
    (tmp_path / "settings.py").write_text('BROKER = "amqp://app:hunter2@rabbit:5672//"\n')
    (tmp_path / "compose.yaml").write_text(
        "services:\n  flower:\n    environment:\n      FLOWER_BASIC_AUTH: admin:s3cr3t-Pa55\n"
        "  db:\n    environment:\n      - POSTGRES_PASSWORD=Xy7-not-a-placeholder\n"
    )
    (tmp_path / "ok.yaml").write_text('url: "amqp://guest:guest@127.0.0.1:5672//"\n')
    assert secrets_in(tmp_path) == [
        "compose.yaml: service flower sets FLOWER_BASIC_AUTH literally",
        "compose.yaml: service db sets POSTGRES_PASSWORD literally",
        "deploy.pem: a private key",
        "keys: a secret file is baked",
        "keys/signing.key: a secret file is baked",
        "settings.py: a password in a URL (app:...)",
    ]

{% import "compose.jinja" as shared %}
"""The monitoring half of the native development stack (the ``Procfile``'s last lines).

``python -m {{ cookiecutter.project_slug }}.tools.monitoring prometheus`` runs Debian's (or any)
``prometheus`` binary on the project's own configuration (``deploy/prometheus``),
its scrape targets moved from compose's service names to 127.0.0.1;
``... exporter`` runs the Celery exporter release of the compose image through
``uv tool run`` (its PyPI release has no command of its own).

Optional parts: when the binary is missing or the process fails, one line says
so and this process waits for Ctrl+C, so that honcho, which stops the whole
stack when any process exits, keeps the rest of it running.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from {{ cookiecutter.project_slug }}.environment import PROJECT_DIR, environment

# The release of the compose image (compose.yaml), and the Celery it was built
# with (the image's lock file): its PyPI release does not run with Celery 5.6+.
EXPORTER = "prometheus-exporter-celery=={{ shared.EXPORTER_IMAGE.split(":")[1] }}"
EXPORTER_CELERY = "celery>=5.5,<5.6"
# Compose's service names in deploy/prometheus/prometheus.yml, and the
# variables that give each one's port here (the defaults are compose's).
TARGETS = {
    "celery-exporter": ("EXPORTER_PORT", 9808),
{% if cookiecutter.broker == 'redis' %}
    "celery-unacked": ("UNACKED_PORT", 9809),
{% endif %}
{% if cookiecutter.__flower == 'yes' %}
    "flower": ("FLOWER_PORT", 5555),
{% endif %}
}
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def port(variable: str, default: int) -> int:
    return int(os.environ.get(variable) or default)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def local_config(state_dir: Path) -> Path:
    """deploy/prometheus with every compose target moved to 127.0.0.1, in ``state_dir``."""
    source = PROJECT_DIR / "deploy" / "prometheus"
    state_dir.mkdir(parents=True, exist_ok=True)
    for rules in source.glob("alerts*.yml"):
        shutil.copy(rules, state_dir / rules.name)  # rule_files are relative to the config
    text = (source / "prometheus.yml").read_text()
    for service, (variable, default) in TARGETS.items():
        text = re.sub(
            rf'"{re.escape(service)}:\d+"', f'"127.0.0.1:{port(variable, default)}"', text
        )
    config = state_dir / "prometheus.yml"
    config.write_text(text)
    return config


def prometheus_command() -> list[str] | None:
    binary = shutil.which("prometheus")
    if binary is None:
        say(
            "prometheus is not installed: the rest of the stack runs without it "
            "(Debian: apt install prometheus; or run it with compose)"
        )
        return None
    state_dir = PROJECT_DIR / "var" / "prometheus"
    return [
        binary,
        f"--config.file={local_config(state_dir)}",
        f"--storage.tsdb.path={state_dir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port('PROMETHEUS_PORT', 9090)}",
    ]


def exporter_command(options: list[str]) -> list[str] | None:
    uv = shutil.which("uv")
    if uv is None:
        say("uv is not on the PATH: the Celery exporter is left out of the stack")
        return None
    return [
        uv,
        "tool",
        "run",
        "--quiet",
        "--from",
        EXPORTER,
        "--with",
        EXPORTER_CELERY,
        "python",
        "-c",
        "from src.cli import cli; cli()",
        f"--broker-url={environment().celery_broker_url}",
        f"--port={port('EXPORTER_PORT', 9808)}",
        *options,
    ]


def wait_for_ctrl_c() -> int:
    """Idle until honcho (or Ctrl+C) stops this process."""
    for number in STOP_SIGNALS:
        signal.signal(number, lambda *_: sys.exit(0))
    while True:
        signal.pause()


def supervise(name: str, command: list[str] | None) -> int:
    """Run ``command`` until it is stopped; a missing or failed part only says so."""
    if command is None:
        return wait_for_ctrl_c()
    stopping = []

    def forward(number, _frame) -> None:
        stopping.append(number)
        child.send_signal(number)

    child = subprocess.Popen(command)  # noqa: S603 (the project's own command line)
    for number in STOP_SIGNALS:
        signal.signal(number, forward)
    status = child.wait()
    if stopping:
        return 0
    say(f"{name} exited with status {status}: the rest of the stack keeps running without it")
    return wait_for_ctrl_c()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["prometheus", "exporter"])
    parser.add_argument("options", nargs=argparse.REMAINDER, help="the exporter's own options")
    given = parser.parse_args(argv)
    if given.part == "prometheus":
        return supervise("prometheus", prometheus_command())
    return supervise("the Celery exporter", exporter_command(given.options))


if __name__ == "__main__":
    sys.exit(main())

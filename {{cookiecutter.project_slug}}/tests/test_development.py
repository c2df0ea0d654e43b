{% set http = cookiecutter.framework == 'django' or cookiecutter.__flower == 'yes' or cookiecutter.__prometheus == 'yes' %}
{% set prometheus = cookiecutter.__prometheus == 'yes' %}
"""The development stack of the README: ``uv run honcho start`` runs the Procfile.

Slow (every process of the stack starts): ``pytest -m chaos`` runs it.
"""

from __future__ import annotations

{% if http %}
import http.client
{% endif %}
import os
import re
{% if prometheus %}
import shutil
{% endif %}
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from {{ cookiecutter.project_slug }} import topology
from {{ cookiecutter.project_slug }}.celery_app import app
{% if http %}
from tests.processes import PROJECT_DIR, free_port, wait_for
{% else %}
from tests.processes import PROJECT_DIR, wait_for
{% endif %}

{% if cookiecutter.framework == 'django' %}
# django_db: the test database exists for every process of the stack.
pytestmark = [pytest.mark.chaos, pytest.mark.django_db]
{% else %}
pytestmark = pytest.mark.chaos
{% endif %}
{% if http %}


def answers_http(port: int, path: str) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()
{% endif %}


def answering_workers() -> set[str]:
    nodes = {f"{group.name}@{socket.gethostname()}" for group in topology.workers()}
    replies = app.control.ping(destination=sorted(nodes), timeout=2)
    return {node for reply in replies for node in reply} & nodes


def test_honcho_starts_every_process_and_ctrl_c_stops_them_all(tmp_path, worker_environment):
{% if cookiecutter.framework == 'django' %}
    web_port = free_port()
{% endif %}
{% if cookiecutter.__flower == 'yes' %}
    flower_port = free_port()
{% endif %}
{% if prometheus %}
    exporter_port, prometheus_port = free_port(), free_port()
{% if cookiecutter.broker == 'redis' %}
    unacked_port = free_port()
{% endif %}
{% endif %}
    no_env_file = tmp_path / "empty.env"  # honcho would read the developer's .env
    no_env_file.touch()
    log = tmp_path / "honcho.log"
    environment = {
        **os.environ,
        **worker_environment,
        # What `uv run` does: the project's interpreter first on the PATH.
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
{% if cookiecutter.framework == 'django' %}
        "WEB_PORT": str(web_port),
{% endif %}
{% if cookiecutter.__flower == 'yes' %}
        "FLOWER_PORT": str(flower_port),
{% endif %}
{% if prometheus %}
        "EXPORTER_PORT": str(exporter_port),
        "PROMETHEUS_PORT": str(prometheus_port),
{% if cookiecutter.broker == 'redis' %}
        "UNACKED_PORT": str(unacked_port),
{% endif %}
{% endif %}
    }
    with log.open("wb") as output:
        honcho = subprocess.Popen(
            [sys.executable, "-m", "honcho", "--env", str(no_env_file), "start"],
            cwd=PROJECT_DIR,
            env=environment,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def running() -> bool:
        if honcho.poll() is not None:
            raise AssertionError(f"honcho stopped:\n{log.read_text()[-4000:]}")
        return True

    expected = {f"{group.name}@{socket.gethostname()}" for group in topology.workers()}
    try:
        wait_for(lambda: running() and answering_workers() == expected, 120, "every worker answers")
{% if cookiecutter.framework == 'django' %}
        wait_for(lambda: running() and answers_http(web_port, "/healthz"), 60, "web answers")
{% endif %}
{% if cookiecutter.__flower == 'yes' %}
        wait_for(
            lambda: running() and answers_http(flower_port, "/healthcheck"), 60, "Flower answers"
        )
{% endif %}
{% if cookiecutter.__has_beat == 'yes' %}
        wait_for(lambda: running() and "beat: Starting..." in log.read_text(), 60, "beat started")
{% endif %}
{% if prometheus %}
        # The exporter's first start downloads its release (uv tool run).
        wait_for(
            lambda: running() and answers_http(exporter_port, "/metrics"), 180, "exporter answers"
        )
{% if cookiecutter.broker == 'redis' %}
        wait_for(lambda: running() and answers_http(unacked_port, "/metrics"), 60, "unacked")
{% endif %}
        if shutil.which("prometheus"):
            wait_for(lambda: running() and answers_http(prometheus_port, "/-/ready"), 60, "ready")
            # It scrapes the exporter of this stack, not compose's service name.
            targets = (PROJECT_DIR / "var" / "prometheus" / "prometheus.yml").read_text()
            assert f'"127.0.0.1:{exporter_port}"' in targets, targets
        else:
            wait_for(
                lambda: running() and "prometheus is not installed" in log.read_text(),
                30,
                "a line saying Prometheus is left out",
            )
{% endif %}
        pids = started_pids(log)

        # Ctrl+C in the terminal: honcho stops every process of the stack.
        honcho.send_signal(signal.SIGINT)
        wait_for(lambda: honcho.poll() is not None, 60, "honcho stopped")
        procfile = [line for line in (PROJECT_DIR / "Procfile").read_text().splitlines() if line]
        assert len(pids) == len(procfile), log.read_text()[-4000:]
        # Each runs in a process group of its own: none is left, pool processes included.
        wait_for(lambda: not any(map(group_alive, pids)), 30, "every process of the stack stopped")
    finally:
        # Whatever failed, nothing of the stack outlives the test.
        for pgid in [honcho.pid, *started_pids(log)]:
            if group_alive(pgid):
                os.killpg(pgid, signal.SIGKILL)
        if honcho.poll() is None:
            honcho.wait(timeout=30)


def started_pids(log: Path) -> list[int]:
    """The processes honcho started, each the leader of its own process group."""
    return [int(pid) for pid in re.findall(r"started \(pid=(\d+)\)", log.read_text())]


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True

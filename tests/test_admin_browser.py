"""The admin's dead-letter list and requeue action, in a real headless browser.

A baked Django project runs natively the way its README says: a database of
its own, migrated, an admin user, the web server and one worker (with a queue
prefix of its own, so it never touches another run's queues). A dead letter is
made as the README's "Try it" section makes one (``confirm_order`` of an order
that does not exist); then Debian's chromium, driven by selenium through its
chromedriver, logs in to the admin, finds the letter in the dead-letter list,
ticks it and runs the *Requeue selected dead letters* action. The order now
exists, so the requeued task runs and succeeds: the letter is gone and the
order's notification is recorded.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from contextlib import suppress
from pathlib import Path

import pytest

import local_extensions
from tests.test_generated_suites import bake_installed, project_env

pytestmark = pytest.mark.slow

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
POSTGRES = ["-h", "127.0.0.1", "-U", "postgres"]
MISSING_ORDER = 999999  # the README's
PASSWORD = "browser-test-password"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(condition, timeout: float, what: str, log: Path | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := condition():
            return value
        time.sleep(0.5)
    tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
    raise AssertionError(f"not within {timeout} s: {what}\n{tail}")


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


@pytest.fixture
def browser():
    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    if missing:
        pytest.skip(
            f"{' and '.join(missing)} missing: install Debian's chromium and chromium-driver "
            "(.ci/run does) to drive the admin in a headless browser"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


@pytest.fixture
def database():
    """A PostgreSQL database of this test's own, dropped afterwards."""
    for tool in ("createdb", "dropdb"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} missing: the PostgreSQL client tools create the test's database")
    name = f"browser_{uuid.uuid4().hex[:12]}"
    subprocess.run(["createdb", *POSTGRES, name], check=True, timeout=60)
    yield f"postgres://postgres@127.0.0.1:5432/{name}"
    subprocess.run(["dropdb", *POSTGRES, "--force", "--if-exists", name], timeout=60, check=False)


def test_admin_lists_and_requeues_a_dead_letter(bake, browser, database, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    # Redis as broker: no broker-side dead-lettering, so the letter the admin
    # lists is the one the task base class recorded. One worker group ("single").
    project = bake_installed(
        bake,
        framework="django",
        broker="redis",
        result_backend="none",
        queue_topology="single",
        beat_scheduler="none",
        monitoring="none",
        project_name="Browser Admin",
    )
    slug = project.name

    topology = local_extensions.topology("single")
    # The group consuming the queue of confirm_order and of the notification it sends.
    (group,) = [w["name"] for w in topology["workers"] if topology["default_queue"] in w["queues"]]
    assert topology["routes"]["notifications"] == topology["default_queue"]

    prefix = f"browser-{uuid.uuid4().hex[:10]}-"
    env = {
        **project_env(),
        "APP_ENV": "development",
        "DATABASE_URL": database,
        "CELERY_QUEUE_PREFIX": prefix,
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    python = str(project / ".venv" / "bin" / "python")

    def manage(*arguments: str) -> str:
        done = subprocess.run(
            [python, "manage.py", *arguments],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, f"manage.py {arguments[0]}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def query(code: str) -> str:
        """What ``code`` prints as ``=> ...`` in ``manage.py shell`` (which prints a banner too)."""
        printed = manage("shell", "-c", code).splitlines()
        return "".join(line[3:] for line in printed if line.startswith("=> ")).strip()

    manage("migrate", "--noinput")
    manage("createsuperuser", "--noinput", "--username", "admin", "--email", "admin@example.com")

    processes: list[subprocess.Popen] = []

    def start(name: str, *arguments: str) -> Path:
        log = tmp_path / f"{name}.log"
        with log.open("w") as output:
            processes.append(
                subprocess.Popen(
                    [python, *arguments],
                    cwd=project,
                    env=env,
                    stdout=output,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        return log

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    try:
        web_log = start("web", "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload")
        worker_log = start(
            "worker",
            "-m",
            f"{slug}.worker",
            group,
            "--concurrency=1",
            f"--hostname={prefix}{group}@%h",
        )
        wait_for(lambda: answers(f"{base}/admin/login/"), 60, "the admin answers", web_log)
        wait_for(
            lambda: "ready." in worker_log.read_text() or processes[1].poll() is not None,
            90,
            "the worker is ready",
            worker_log,
        )
        assert processes[1].poll() is None, worker_log.read_text()[-4000:]

        # The README's dead letter: confirming an order that does not exist.
        manage(
            "shell",
            "-c",
            f"from {slug}.orders.tasks import confirm_order; confirm_order.delay({MISSING_ORDER})",
        )
        letter_id = wait_for(
            lambda: query(
                f"from {slug}.tasking.models import DeadLetter\n"
                "pks = DeadLetter.objects.values_list('pk', flat=True)\n"
                "print('=> ' + ','.join(map(str, pks)))"
            ),
            60,
            "confirm_order is recorded as a dead letter",
            worker_log,
        )
        assert letter_id.isdigit(), f"not one dead letter: {letter_id!r}"
        assert f"order {MISSING_ORDER} does not exist" in manage("deadletters", "list")

        # Log in.
        browser.get(f"{base}/admin/")
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys(PASSWORD)
        browser.find_element(By.CSS_SELECTOR, "form#login-form [type=submit]").click()
        wait_for(lambda: browser.find_elements(By.ID, "user-tools"), 30, "logged in to the admin")

        # The dead-letter list shows the letter.
        browser.get(f"{base}/admin/tasking/deadletter/")
        rows = browser.find_elements(By.CSS_SELECTOR, "#result_list tbody tr")
        assert len(rows) == 1, browser.page_source[-4000:]
        assert f"{slug}.orders.tasks.confirm_order" in rows[0].text
        assert f"order {MISSING_ORDER} does not exist" in rows[0].text

        # Fix the cause first, as the README does: the order now exists.
        manage(
            "shell",
            "-c",
            f"from {slug}.orders.models import Order; Order.objects.create(pk={MISSING_ORDER}, "
            "customer_email='bob@example.com', total_cents=1)",
        )

        # Tick it, choose the requeue action, run it.
        browser.find_element(
            By.CSS_SELECTOR, f"input[name=_selected_action][value='{letter_id}']"
        ).click()
        actions = Select(browser.find_element(By.NAME, "action"))
        assert "Requeue selected dead letters" in [o.text for o in actions.options]
        actions.select_by_value("requeue_selected")
        browser.find_element(By.CSS_SELECTOR, "#changelist-form [name=index]").click()
        messages = wait_for(
            lambda: [
                m.text for m in browser.find_elements(By.CSS_SELECTOR, "ul.messagelist li.success")
            ],
            30,
            "the admin reports the requeue",
        )
        assert "Requeued 1 task(s)." in messages, messages

        # The requeued task ran and succeeded: no dead letter, the notification sent.
        def requeued_and_done() -> bool:
            found = query(
                f"from {slug}.tasking.models import DeadLetter, IdempotencyKey\n"
                "print('=>', DeadLetter.objects.count(), IdempotencyKey.objects.filter("
                f"key__endswith='order-confirmation:{MISSING_ORDER}').count())"
            ).split()
            return found == ["0", "1"]

        wait_for(requeued_and_done, 60, "the requeued task succeeds", worker_log)
        assert "0 dead letter(s)" in manage("deadletters", "list")
        worker_output = worker_log.read_text()
        assert f"notification to bob@example.com: We received your order {MISSING_ORDER}." in (
            worker_output
        ), worker_output[-4000:]
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                with suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    with suppress(ProcessLookupError):
                        os.killpg(process.pid, signal.SIGKILL)
                    process.wait()
        # What the worker left in Redis under this run's prefix (kombu's bindings).
        forget = (
            "import sys, redis\n"
            "client = redis.Redis.from_url('redis://127.0.0.1:6379/0')\n"
            "for key in list(client.scan_iter(match='*' + sys.argv[1] + '*')):\n"
            "    client.delete(key)\n"
        )
        subprocess.run(
            [python, "-c", forget, prefix], cwd=project, env=env, timeout=60, check=False
        )

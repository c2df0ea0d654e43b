{% set django = cookiecutter.framework == 'django' %}
{% set signing = cookiecutter.message_signing %}
{% if cookiecutter.__flower == 'yes' %}
"""Security, checked: what workers accept, who may open Flower, what never gets committed."""
{% else %}
"""Security, checked: what workers accept, what never gets committed."""
{% endif %}

from __future__ import annotations

import json
import os
{% if cookiecutter.__flower == 'yes' %}
import secrets
{% endif %}
import shutil
import ssl
import subprocess
import sys
{% if cookiecutter.__flower == 'yes' %}
import time
import urllib.error
import urllib.request
{% endif %}
import uuid
{% if signing %}
from base64 import b64decode, b64encode
{% elif cookiecutter.__flower == 'yes' %}
from base64 import b64encode
{% endif %}
from pathlib import Path

import pytest
{% if signing %}
from kombu.serialization import dumps
{% endif %}

{% if cookiecutter.broker == 'rabbitmq' %}
from {{ cookiecutter.project_slug }} import topology
{% endif %}
from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.notifications import tasks as notifications
from tests.processes import run_python

PROJECT_DIR = Path(__file__).resolve().parents[1]
# Serializers that let whoever can write to the broker run code on the workers.
UNSAFE = {"pickle", "yaml", "application/x-python-serialize", "application/x-yaml"}


def test_no_pickle_or_yaml_is_accepted_or_produced_anywhere():
    conf = app.conf
    produced = {conf.task_serializer, conf.result_serializer, conf.event_serializer}
    accepted = set(conf.accept_content) | set(conf.result_accept_content or conf.accept_content)
    assert not (produced | accepted) & UNSAFE


@pytest.fixture
def deliveries(monkeypatch) -> list[str]:
    """Recipients the notification task really delivered to, in this process's worker."""
    sent: list[str] = []
    monkeypatch.setattr(notifications, "deliver", lambda recipient, message: sent.append(recipient))
    return sent


@pytest.mark.integration
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_worker_refuses_a_pickled_message(finished, deliveries):
    pickled = notifications.send_notification.apply_async(
        ("mallory@example.com", "pickled", f"pickled:{uuid.uuid4()}"), serializer="pickle"
    )
    accepted = notifications.send_notification.delay(
        "ann@example.com", "accepted", f"accepted:{uuid.uuid4()}"
    )
    finished.wait([accepted.id])
    assert deliveries == ["ann@example.com"]
    assert pickled.id not in finished.states


# What another test run, or a developer's stack, on the same broker sends with
# a prefix of its own: a broadcast no worker can decode, then a ping.
# A broadcast no worker may decode (pickle), sent by the script's ``app`` to ``node``.
UNDECODABLE_BROADCAST = """
with app.connection_for_write() as connection:
    mailbox = app.control.mailbox(connection)
    connection.Producer(serializer="pickle").publish(
        {"method": "ping", "arguments": {}, "destination": [node]},
        exchange=mailbox.exchange,
        routing_key="",
        declare=[mailbox.exchange],
    )
"""
BROADCASTS_OF_ANOTHER_PREFIX = (
    """
import json, sys
from {{ cookiecutter.project_slug }}.celery_app import app

node = sys.argv[1]
"""
    + UNDECODABLE_BROADCAST
    + """
print(json.dumps(app.control.ping(destination=[node], timeout=2)))
"""
)


@pytest.mark.integration
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_broadcasts_of_another_queue_prefix_never_reach_this_runs_worker(
    worker, worker_environment
):
    """Another prefix's ping gets no answer; its broadcast is no dead letter here either.

    Broadcasts get the queue prefix (celeryconfig.py). Without it, the worker
    would answer, and record what it cannot decode as a dead letter, broadcasts
    too: another run's would be one in this run's store.
    """
    from {{ cookiecutter.project_slug }}.tasking.stores import store

    before = {letter.id for letter in store().dead_letters()}
    other_prefix = f"other-{uuid.uuid4().hex[:10]}-"
    env = {**os.environ, **worker_environment, "CELERY_QUEUE_PREFIX": other_prefix}
    sent = run_python(BROADCASTS_OF_ANOTHER_PREFIX, worker.hostname, env=env)
{% if cookiecutter.broker == 'rabbitmq' %}
    with app.connection_for_write() as connection:
        topology.delete_queues(connection, other_prefix)  # its broadcast exchanges
{% endif %}
    assert sent.returncode == 0, sent.stderr
    # This run's ping is answered, after anything the worker received before it.
    answers = app.control.ping(destination=[worker.hostname], timeout=10)
    assert answers == [{worker.hostname: {"ok": "pong"}}]
    assert [letter for letter in store().dead_letters() if letter.id not in before] == []
    assert json.loads(sent.stdout.splitlines()[-1]) == [], "answered another prefix's ping"


# How a monitoring tool asks: a Celery app of its own on the same broker, which
# speaks plain JSON{{ ' and signs nothing' if signing }}.
PLAIN_MONITOR = (
    """
import json, sys
from celery import Celery
node, broker_url, control_exchange = sys.argv[1:]
app = Celery(broker=broker_url)
app.conf.control_exchange = control_exchange
"""
    + UNDECODABLE_BROADCAST
    + """
inspect = app.control.inspect(destination=[node], timeout=5)
seen = {
    "stats": sorted(inspect.stats() or {}),
    "active_queues": sorted(inspect.active_queues() or {}),
}
{% if signing %}
app.control.broadcast("shutdown", destination=[node])  # not a reading: refused
{% endif %}
print(json.dumps(seen))
"""
)


@pytest.mark.integration
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_a_monitor_speaking_plain_json_sees_the_worker{{ '_and_may_only_read' if signing }}(worker):
    """The exporter's stats and active_queues are answered; no broadcast is a dead letter."""
    from {{ cookiecutter.project_slug }}.tasking.stores import store

    before = {letter.id for letter in store().dead_letters()}
    asked = run_python(
        PLAIN_MONITOR, worker.hostname, app.conf.broker_url, app.conf.control_exchange
    )
    assert asked.returncode == 0, asked.stderr
    seen = json.loads(asked.stdout.splitlines()[-1])
    assert seen == {"stats": [worker.hostname], "active_queues": [worker.hostname]}
    # Still running, and still answering this project's own requests.
    assert app.control.ping(destination=[worker.hostname], timeout=10) == [
        {worker.hostname: {"ok": "pong"}}
    ]
    assert [letter for letter in store().dead_letters() if letter.id not in before] == []
{% if signing %}


def publish_signed(recipient: str, tamper: bool) -> str:
    """Publish a correctly signed message, its recipient changed after signing if ``tamper``."""
    task_id = str(uuid.uuid4())
    args = (recipient, "signed", f"signed:{task_id}")
    headers, properties, body, _ = app.amqp.as_task_v2(
        task_id, notifications.send_notification.name, args=args, kwargs={}
    )
    content_type, encoding, data = dumps(body, serializer="auth")
    if tamper:
        fields = b64decode(data)
        assert recipient.encode() in fields
        data = b64encode(fields.replace(recipient.encode(), b"eve@example.com"))
    queue = app.amqp.router.route({}, notifications.send_notification.name)["queue"]
    with app.producer_or_acquire() as producer:
        producer.publish(
            data,
            content_type=content_type,
            content_encoding=encoding,
            headers=headers,
            exchange=queue.exchange,
            routing_key=queue.routing_key,
            declare=[queue],
            **properties,
        )
    return task_id


@pytest.mark.integration
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_worker_refuses_a_tampered_signed_message(finished, deliveries):
    """The same message, changed after signing, is refused; unchanged, it runs.

    Unsigned messages are refused too (test_tasks.py).
    """
    tampered = publish_signed("ann@example.com", tamper=True)
    intact = publish_signed("bob@example.com", tamper=False)
    finished.wait([intact])
    assert deliveries == ["bob@example.com"]
    assert tampered not in finished.states
{% endif %}
{% if cookiecutter.__flower == 'yes' %}


def http_status(url: str, credentials: str | None = None) -> int:
    request = urllib.request.Request(url)  # noqa: S310 (a local URL of this test)
    if credentials:
        request.add_header("Authorization", "Basic " + b64encode(credentials.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def start_flower(tmp_path: Path, env: dict[str, str], port: int) -> subprocess.Popen:
    """Flower as production starts it, once it answers; its output in ``tmp_path/flower.log``."""
    with (tmp_path / "flower.log").open("wb") as log:
        flower = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "{{ cookiecutter.project_slug }}.celery_app",
                "flower",
                f"--port={port}",
                "--address=127.0.0.1",
            ],
            cwd=tmp_path,
            # Its threads' stacks in the log if it has to be aborted (stop_or_show_why).
            env={**env, "PYTHONFAULTHANDLER": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 60
    while True:
        try:
            # Unauthenticated by design, like /metrics: Flower is never public.
            if http_status(f"http://127.0.0.1:{port}/healthcheck") == 200:
                return flower
        except OSError:
            pass
        if flower.poll() is not None or time.monotonic() > deadline:
            flower.kill()
            flower.wait(timeout=30)
            raise AssertionError(
                "Flower did not answer within 60 s:\n" + (tmp_path / "flower.log").read_text()
            )
        time.sleep(0.3)


@pytest.mark.integration
@pytest.mark.parametrize("source", ["environment", ".env"])
def test_flower_refuses_requests_without_credentials(tmp_path, source):
    """Credentials from the environment, or in development from .env like every setting."""
    from tests.processes import free_port, stop_or_show_why

    port = free_port()
    credentials = f"admin:{secrets.token_urlsafe(16)}"
    env = {name: value for name, value in os.environ.items() if name != "FLOWER_BASIC_AUTH"}
    if source == ".env":
        # A development checkout of its own (the project's .env is the developer's):
        # every process reads the .env beside its src/ folder.
        shutil.copytree(
            PROJECT_DIR / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__")
        )
        (tmp_path / ".env").write_text(f"FLOWER_BASIC_AUTH={credentials}\n")
        env |= {"PYTHONPATH": str(tmp_path / "src"), "APP_ENV": "development"}
    else:
        env["FLOWER_BASIC_AUTH"] = credentials
    flower = start_flower(tmp_path, env, port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert http_status(f"{base}/") == 401
        assert http_status(f"{base}/api/workers") == 401
        assert http_status(f"{base}/", "admin:wrong-password") == 401
        assert http_status(f"{base}/", credentials) == 200
    finally:
        stop_or_show_why(flower, tmp_path / "flower.log")


@pytest.mark.integration
def test_flower_stops_on_sigterm_while_the_broker_is_down(tmp_path):
    """Its broadcasts retry a lost broker for ever; SIGTERM stops it anyway (flowerconfig.py).

    Without that bound Flower ran on until the broker came back.
    """
    from tests.processes import ServiceLink, free_port, wait_for

    with app.connection_for_write() as broker:
        link = ServiceLink(broker.hostname, broker.port or broker.transport.default_port)
        relayed = broker.clone(hostname="127.0.0.1", port=link.port).as_uri(include_password=True)
    link.up()
    env = {**os.environ, "CELERY_BROKER_URL": relayed, "FLOWER_BASIC_AUTH": "admin:secret"}
    port = free_port()
    flower = start_flower(tmp_path, env, port)
    try:
        wait_for(
            lambda: "Connected to" in (tmp_path / "flower.log").read_text(), 30, "Flower connected"
        )
        # Flower asks the workers for events every 5 s, on a connection it keeps:
        # once through the link, then again once the link is cut.
        time.sleep(6)
        link.down()
        time.sleep(6)
        flower.terminate()
        try:
            flower.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise AssertionError("Flower still ran 30 s after SIGTERM") from None
        # It stopped because of the bound, not because nothing waited on the broker.
        assert "(the broker does not answer): exiting now" in (tmp_path / "flower.log").read_text()
    finally:
        link.down()
        if flower.poll() is None:
            flower.kill()
            flower.wait(timeout=30)
{% endif %}


def production_environment(**settings: str) -> dict[str, str]:
    """This process's environment without the project's settings, with APP_ENV=production."""
    from {{ cookiecutter.project_slug }}.environment import Environment

    names = {name.upper() for name in Environment.model_fields}
{% if django %}
    names.add("DJANGO_SETTINGS_MODULE")
{% endif %}
    env = {name: value for name, value in os.environ.items() if name not in names}
    return {**env, "APP_ENV": "production", **settings}


# The services production is given in these tests: enough to get past the
# checks before the one under test. Nothing listens at these addresses.
{% if cookiecutter.broker == 'redis' %}
SERVICES = {"CELERY_BROKER_URL": "redis://127.0.0.1:9/0"}
{% else %}
SERVICES = {"CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:9//"}
{% endif %}
{% if cookiecutter.result_backend == 'redis' %}
SERVICES["CELERY_RESULT_BACKEND"] = "redis://127.0.0.1:9/1"
{% elif cookiecutter.result_backend == 'rpc' %}
SERVICES["CELERY_RESULT_BACKEND"] = "rpc://"
{% endif %}
{% if cookiecutter.__needs_redis == 'yes' %}
SERVICES["REDIS_URL"] = "redis://127.0.0.1:9/2"
{% endif %}
{% if signing %}
# The test's signing keys (conftest.py), to get past the signing check.
SERVICES |= {
    name: os.environ[name]
    for name in ("CELERY_SIGNING_KEY", "CELERY_SIGNING_CERT", "CELERY_SIGNING_CERT_STORE")
}
{% endif %}
{% if django %}
DJANGO = {
    "DJANGO_SECRET_KEY": "a-long-random-production-secret-" + "x" * 40,
    "DJANGO_ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "postgres://app:secret@127.0.0.1:9/app",
}
LOCAL_SETTINGS = "{{ cookiecutter.project_slug }}.config.settings.local"
{% endif %}
CELERY = [sys.executable, "-m", "celery", "-A", "{{ cookiecutter.project_slug }}.celery_app"]
{% set tls_url = 'rediss://127.0.0.1:9/0' if cookiecutter.broker == 'redis' else 'amqps://guest:guest@127.0.0.1:9//' %}
UNSAFE_STARTS = {
    "worker without a broker": (
        [*CELERY, "worker"],
        {},
        "APP_ENV=production needs CELERY_BROKER_URL",
    ),
{% if django %}
    "worker without DJANGO_SETTINGS_MODULE gets production settings": (
        [*CELERY, "worker"],
        SERVICES,
        "production settings need DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL",
    ),
    "{{ 'beat' if cookiecutter.__has_beat == 'yes' else 'worker' }} on the local settings": (
        [*CELERY, "{{ 'beat' if cookiecutter.__has_beat == 'yes' else 'worker' }}"],
        {**SERVICES, **DJANGO, "DJANGO_SETTINGS_MODULE": LOCAL_SETTINGS},
        "APP_ENV=production refuses DJANGO_SETTINGS_MODULE=" + LOCAL_SETTINGS,
    ),
    "manage.py without secrets": (
        [sys.executable, str(PROJECT_DIR / "manage.py"), "check"],
        SERVICES,
        "production settings need DJANGO_SECRET_KEY, DJANGO_ALLOWED_HOSTS, DATABASE_URL",
    ),
{% else %}
{% if cookiecutter.__has_beat == 'yes' %}
    "beat without a broker": (
        [*CELERY, "beat"],
        {},
        "APP_ENV=production needs CELERY_BROKER_URL",
    ),
{% endif %}
    "command-line tool without a broker": (
        [sys.executable, "-m", "{{ cookiecutter.project_slug }}.cli", "config"],
        {},
        "APP_ENV=production needs CELERY_BROKER_URL",
    ),
{% endif %}
    "unverified TLS to the broker": (
        [*CELERY, "worker"],
        {
            **SERVICES,
{% if django %}
            **DJANGO,
{% endif %}
            "CELERY_BROKER_URL": "{{ tls_url }}?ssl_cert_reqs=none",
        },
        "CELERY_BROKER_URL has ssl_cert_reqs=none: APP_ENV=production refuses unverified TLS",
    ),
    "a TLS parameter that would turn the host-name check off": (
        [*CELERY, "worker"],
        {
            **SERVICES,
{% if django %}
            **DJANGO,
{% endif %}
            "CELERY_BROKER_URL": "{{ tls_url }}?ssl_check_hostname=false",
        },
        "CELERY_BROKER_URL: ssl_check_hostname is not a TLS parameter this project reads",
    ),
    "a CA file that is not there": (
        [*CELERY, "worker"],
        {
            **SERVICES,
{% if django %}
            **DJANGO,
{% endif %}
            "CELERY_BROKER_URL": "{{ tls_url }}",
            "TLS_CA_FILE": "/nonexistent/ca.pem",
        },
        "CELERY_BROKER_URL: TLS file /nonexistent/ca.pem does not exist",
    ),
{% if cookiecutter.__flower == 'yes' %}
    "Flower without credentials": (
        [*CELERY, "flower"],
        {{ '{**SERVICES, **DJANGO}' if django else 'SERVICES' }},
        "APP_ENV=production needs FLOWER_BASIC_AUTH=user:password for Flower",
    ),
    "Flower with an empty password": (
        [*CELERY, "flower"],
        {**SERVICES, {% if django %}**DJANGO, {% endif %}"FLOWER_BASIC_AUTH": "admin:"},
        "FLOWER_BASIC_AUTH entry 'admin' is not user:password",
    ),
    "Flower with a value that is not user:password": (
        [*CELERY, "flower"],
        {**SERVICES, {% if django %}**DJANGO, {% endif %}"FLOWER_BASIC_AUTH": "admin"},
        "FLOWER_BASIC_AUTH entry 'admin' is not user:password",
    ),
{% endif %}
}


@pytest.mark.parametrize("case", UNSAFE_STARTS)
def test_unsafe_production_start_exits_with_one_line_naming_the_problem(case, tmp_path):
    command, settings, reason = UNSAFE_STARTS[case]
    run = subprocess.run(
        command,
        cwd=tmp_path,  # no .env file here
        env=production_environment(**settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0, run.stdout + run.stderr
    assert "Traceback" not in run.stderr, run.stderr
    last_line = run.stderr.strip().splitlines()[-1]
    assert last_line.startswith("{{ cookiecutter.project_slug }}: " + reason), run.stderr
{% if django %}


def test_web_server_stops_on_missing_production_settings(tmp_path):
    """gunicorn, started as production starts it, stops with one line before any worker."""
    from tests.processes import free_port

    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config=python:{{ cookiecutter.project_slug }}.config.gunicorn",
            "{{ cookiecutter.project_slug }}.config.wsgi",
            f"--bind=127.0.0.1:{free_port()}",
            "--workers=1",
        ],
        cwd=tmp_path,
        env=production_environment(**SERVICES),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode != 0
    assert "Traceback" not in run.stderr, run.stderr
    expected = "{{ cookiecutter.project_slug }}: production settings need DJANGO_SECRET_KEY"
    assert run.stderr.strip().splitlines()[-1].startswith(expected), run.stderr
{% endif %}


def test_tls_options_leave_the_url_and_are_verified_by_default():
{% if cookiecutter.broker == 'rabbitmq' %}
    """TLS parameters are taken off the URL (py-amqp dies on them); others stay."""
{% else %}
    """TLS parameters are taken off the URL and given as options; others stay."""
{% endif %}
    from {{ cookiecutter.project_slug }} import tls

    url = "{{ tls_url }}"
    found = tls.endpoint(url + "?ssl_ca_certs=/etc/ca.pem&heartbeat=30", ca_file="/etc/ca-2.pem")
    assert found.url == url + "?heartbeat=30"
    assert found.verified and found.ca_file == "/etc/ca.pem"
{% if cookiecutter.broker == 'redis' %}
    assert found.redis_options()["ssl_cert_reqs"] == ssl.CERT_REQUIRED
{% else %}
    assert found.amqp_options()["cert_reqs"] == ssl.CERT_REQUIRED
{% endif %}
    assert not tls.endpoint(url + "?ssl_cert_reqs=CERT_NONE").verified
    # Kombu would give a URL's other ssl_* parameters to the client in place of these.
    with pytest.raises(tls.TLSError, match="ssl_check_hostname is not a TLS parameter"):
        tls.endpoint(url + "?ssl_check_hostname=false", ca_file="/etc/ca.pem")
    assert tls.endpoint("{{ 'redis://127.0.0.1:9/0' if cookiecutter.broker == 'redis' else 'amqp://127.0.0.1:9//' }}").tls is False


@pytest.fixture(scope="module")
def tls_broker(chaos_dir):
    """A broker of this module's own that speaks TLS only, with certificates made here."""
    from tests.processes import Certificates, PrivateBroker

    missing = PrivateBroker.missing() or Certificates.missing()
    if missing:
        pytest.skip(f"{missing}: the TLS tests start a broker of their own")
    directory = chaos_dir / "tls-broker"
    directory.mkdir()
    broker = PrivateBroker(directory, Certificates(chaos_dir / "certificates"))
    broker.start()
    yield broker
    broker.stop()


def over_tls(broker, ca_file: Path) -> dict[str, str]:
    """A worker's settings for the TLS broker{% if cookiecutter.broker == 'redis' %} (and the TLS Redis for everything else){% endif %}."""
    settings = {"CELERY_BROKER_URL": broker.url, "TLS_CA_FILE": str(ca_file)}
{% if cookiecutter.broker == 'redis' and cookiecutter.result_backend == 'redis' %}
    settings["CELERY_RESULT_BACKEND"] = broker.url.removesuffix("/0") + "/1"
{% endif %}
{% if cookiecutter.broker == 'redis' and cookiecutter.__needs_redis == 'yes' %}
    settings["REDIS_URL"] = broker.url.removesuffix("/0") + "/2"
{% endif %}
    return settings


@pytest.mark.chaos
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_verified_tls_broker_carries_tasks_end_to_end(tls_broker, process_workers, journal):
    from {{ cookiecutter.project_slug }} import tls, topology
    from tests import chaos_tasks

    ca_file = tls_broker.certificates.ca
    settings = over_tls(tls_broker, ca_file)
    # The CA in the URL too, as a provider's connection string may give it.
    settings["CELERY_BROKER_URL"] += f"?ssl_ca_certs={ca_file}"
    worker = process_workers(**settings)
    assert "Connected to {{ 'rediss' if cookiecutter.broker == 'redis' else 'amqps' }}://" in worker.output()

    # Published over TLS too, with the options the project derives from the URL.
    broker = tls.endpoint(tls_broker.url, ca_file=str(ca_file))
    keys = [f"tls-{uuid.uuid4().hex[:8]}-{n}" for n in range(20)]
    queue = topology.prefix() + topology.DEFAULT_QUEUE
    with app.connection_for_write(broker.url, ssl=broker.{{ 'redis' if cookiecutter.broker == 'redis' else 'amqp' }}_options()) as connection:
        for key in keys:
            chaos_tasks.apply_effect.apply_async((key, 0.0), queue=queue, connection=connection)
    journal.wait_completed(keys, timeout=90)


@pytest.mark.chaos
{% if django %}
@pytest.mark.django_db(transaction=True)
{% endif %}
def test_tls_broker_with_a_certificate_from_another_ca_is_refused(
    tls_broker, chaos_dir, worker_environment
):
    from tests.conftest import default_group
    from tests.processes import ProcessWorker, wait_for

    settings = over_tls(tls_broker, tls_broker.certificates.other_ca)
    worker = ProcessWorker(default_group(), chaos_dir, {**worker_environment, **settings})
    try:
        wait_for(
            lambda: "certificate verify failed" in worker.output(),
            60,
            "the worker reports the broker's certificate as unverified",
        )
        assert " ready." not in worker.output()
    finally:
        worker.stop()


def ruff(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    executable = shutil.which("ruff", path=str(Path(sys.executable).parent)) or "ruff"
    return subprocess.run(
        [executable, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_ruff_security_rules_pass():
    run = ruff("check", "--select", "S", "--no-cache", ".", cwd=PROJECT_DIR)
    assert run.returncode == 0, run.stdout + run.stderr


def test_ruff_security_rules_catch_unsafe_code(tmp_path):
    """The check above can fail: unpickling untrusted data is caught."""
    (tmp_path / "unsafe.py").write_text(
        "import pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n"
    )
    run = ruff("check", "--isolated", "--select", "S", "--no-cache", "unsafe.py", cwd=tmp_path)
    assert run.returncode == 1 and "S301" in run.stdout


def test_env_file_and_keys_are_git_ignored(tmp_path):
    git = shutil.which("git")
    if git is None:
        pytest.skip("git is not installed")
    shutil.copy(PROJECT_DIR / ".gitignore", tmp_path / ".gitignore")
    subprocess.run([git, "init", "--quiet"], cwd=tmp_path, check=True)

    def ignored(*paths: str) -> set[str]:
        run = subprocess.run(
            [git, "check-ignore", "--", *paths],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        return set(run.stdout.split())

    secret_files = [".env", "keys/private.key", "keys/certificate.crt"]
{% if signing %}
    from {{ cookiecutter.project_slug }}.environment import Environment

    fields = Environment.model_fields
    secret_files += [fields["celery_signing_key"].default, fields["celery_signing_cert"].default]
{% endif %}
    assert ignored(*secret_files) == set(secret_files)
    # What must be committed is not ignored.
    assert ignored(".env.example", "src/{{ cookiecutter.project_slug }}/celeryconfig.py") == set()

"""The effective Celery configuration: what every process really runs with."""

from __future__ import annotations

import pytest

from {{ cookiecutter.project_slug }} import topology
from {{ cookiecutter.project_slug }}.celery_app import app


def test_broker_is_{{ cookiecutter.broker }}():
    assert app.conf.broker_url.startswith("{{ 'redis://' if cookiecutter.broker == 'redis' else 'amqp://' }}")


def test_only_the_chosen_serializer_is_accepted():
{% if cookiecutter.message_signing %}
    assert app.conf.task_serializer == "auth"
    assert list(app.conf.accept_content) == ["auth"]
{% else %}
    assert app.conf.task_serializer == "{{ cookiecutter.serializer }}"
    assert list(app.conf.accept_content) == ["{{ cookiecutter.serializer }}"]
{% endif %}


def test_reliability_defaults():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_cancel_long_running_tasks_on_connection_loss is True
    assert conf.broker_connection_retry_on_startup is True
    assert conf.task_create_missing_queues is False
    assert conf.worker_hijack_root_logger is False
    assert conf.timezone == "UTC" and conf.enable_utc is True
    # Limits come from the worker group that consumes a task (the launcher's
    # command line), never from the publisher's configuration: see test_worker_groups.py.
    assert conf.task_soft_time_limit is None and conf.task_time_limit is None
    assert conf.worker_send_task_events is {{ 'True' if cookiecutter.__task_events == 'yes' else 'False' }}
    assert conf.task_send_sent_event is {{ 'True' if cookiecutter.__task_events == 'yes' else 'False' }}


def test_a_developers_env_file_never_reaches_the_tests():
    import os

    from {{ cookiecutter.project_slug }}.environment import dotenv_path

    assert os.environ["APP_ENV"] == "test"
    assert dotenv_path() is None


def test_a_development_process_reads_every_variable_of_its_env_file(tmp_path):
    """Settings and a user's own variables alike; what the process is given wins."""
    import os
    import shutil
    import subprocess
    import sys

    from {{ cookiecutter.project_slug }}.environment import PROJECT_DIR

    # A development checkout of its own (the project's .env is the developer's).
    shutil.copytree(
        PROJECT_DIR / "src", tmp_path / "src", ignore=shutil.ignore_patterns("__pycache__")
    )
    (tmp_path / ".env").write_text(
        "LOG_LEVEL=WARNING\nMY_OWN_VARIABLE=from-dotenv\n"
        f"REPORTS_DIR={tmp_path / 'reports'}\nPROVIDER_URL=http://127.0.0.1:1\n"
    )
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"REPORTS_DIR", "PROVIDER_URL", "LOG_LEVEL"{{ ', "DJANGO_SETTINGS_MODULE"' if cookiecutter.framework == 'django' }}}
    }
    env |= {"PYTHONPATH": str(tmp_path / "src"), "APP_ENV": "development"}
    env["PROVIDER_URL"] = "http://127.0.0.1:2"  # given to the process: wins over .env
    code = (
        "import os\n"
        "from {{ cookiecutter.project_slug }}.environment import start\n"
        "from {{ cookiecutter.project_slug }}.files import reports_dir\n"
        "from {{ cookiecutter.project_slug }}.integrations.tasks import provider_url\n"
        "env = start()\n"
        "print(env.log_level, os.environ['MY_OWN_VARIABLE'], reports_dir(), provider_url())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [
        "WARNING",
        "from-dotenv",
        str(tmp_path / "reports"),
        "http://127.0.0.1:2",
    ]


def test_only_production_waits_out_the_soft_shutdown_window():
    """Ctrl+C stops a development worker at once; production gives running tasks time."""
    import os
    import subprocess
    import sys

    from {{ cookiecutter.project_slug }}.environment import REQUIRED_IN_PRODUCTION, environment

    assert app.conf.worker_soft_shutdown_timeout == 0
    assert app.conf.worker_enable_soft_shutdown_on_idle is False
    given = {name.upper(): str(getattr(environment(), name)) for name in REQUIRED_IN_PRODUCTION}
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            "from {{ cookiecutter.project_slug }} import celeryconfig as c;"
            "print(c.worker_soft_shutdown_timeout, c.worker_enable_soft_shutdown_on_idle)",
        ],
        env={**os.environ, **given, "APP_ENV": "production"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.stdout.split() == ["{{ topology(cookiecutter.queue_topology).soft_shutdown_timeout }}.0", "True"], run.stderr


def test_every_worker_group_has_sane_limits():
    for worker in topology.workers():
        assert 0 < worker.soft_time_limit < worker.time_limit, worker.name
        assert worker.prefetch_multiplier >= 1 and worker.concurrency >= 1, worker.name
{% if cookiecutter.broker == 'rabbitmq' %}
        # RabbitMQ closes a channel that holds an unacknowledged message for
        # longer than consumer_timeout (30 minutes by default).
        assert worker.time_limit < 30 * 60, worker.name
{% endif %}
{% if cookiecutter.broker == 'redis' or cookiecutter.result_backend == 'redis' %}


def test_visibility_timeout_exceeds_every_delay():
    from {{ cookiecutter.project_slug }} import celeryconfig
    from {{ cookiecutter.project_slug }}.tasking import retry

    timeout = celeryconfig.VISIBILITY_TIMEOUT
    assert timeout > topology.max_time_limit()
    assert timeout > retry.MAX_COUNTDOWN
    assert timeout > retry.RETRY_BACKOFF_MAX
{% if cookiecutter.broker == 'redis' %}
    assert app.conf.broker_transport_options["visibility_timeout"] == timeout
{% endif %}
{% if cookiecutter.result_backend == 'redis' %}
    assert app.conf.result_backend_transport_options["visibility_timeout"] == timeout
{% endif %}


def test_a_visibility_timeout_below_its_bounds_is_refused_outside_tests():
    """Only tests may shorten it (the chaos tests do, to see redelivery quickly)."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "APP_ENV": "development", "CELERY_VISIBILITY_TIMEOUT": "60"}
    run = subprocess.run(
        [sys.executable, "-c", "import {{ cookiecutter.project_slug }}.celeryconfig"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode != 0
    assert "the visibility timeout (60 s) must exceed" in run.stderr
{% endif %}
{% if cookiecutter.broker == 'rabbitmq' %}


def test_rabbitmq_queues_are_durable_and_dead_letter():
    assert app.conf.broker_transport_options["confirm_publish"] is True
    # Failed and timed-out tasks are rejected, so RabbitMQ dead-letters them.
    assert app.conf.task_acks_on_failure is False
    assert app.conf.task_acks_on_timeout is False
    assert app.conf.task_default_exchange_type == "topic"
    queues = {queue.name.removeprefix(topology.prefix()): queue for queue in app.conf.task_queues}
    assert set(queues) == set(topology.all_queue_names()) | {topology.DEAD_LETTER_QUEUE}
    for name in topology.all_queue_names():
        arguments = queues[name].queue_arguments
        assert queues[name].durable
        assert arguments["x-dead-letter-exchange"].endswith(topology.DEAD_LETTER_QUEUE)
{% if cookiecutter.queue_topology == 'priority' %}
        assert arguments["x-max-priority"] == topology.MAX_PRIORITY
{% else %}
        assert arguments["x-queue-type"] == "quorum"
        assert arguments["x-delivery-limit"] > 0
{% endif %}


@pytest.mark.integration
def test_a_test_runs_queues_are_deleted_and_production_queues_never():
    import uuid

    from amqp.exceptions import NotFound
    from kombu import Exchange
    from kombu.pidbox import Mailbox

    prefix = f"deleted-{uuid.uuid4().hex[:10]}-"
    # What a run's remote control and events declare (celeryconfig.py).
    control = Mailbox(prefix + topology.CONTROL_EXCHANGE)
    events = Exchange(prefix + topology.EVENT_EXCHANGE, type="topic")
    broadcasts = [control.exchange, control.reply_exchange, events]
    with app.connection_for_write() as connection:
        for queue in topology.declare_queues(prefix):
            queue.bind(connection.default_channel).declare()
        for exchange in broadcasts:
            exchange.bind(connection.default_channel).declare()
        topology.delete_queues(connection, prefix)
        for queue in topology.declare_queues(prefix):
            with pytest.raises(NotFound):
                queue.bind(connection.channel()).queue_declare(passive=True)
        for exchange in broadcasts:
            with pytest.raises(NotFound):
                exchange.bind(connection.channel()).declare(passive=True)
        with pytest.raises(ValueError, match="unprefixed"):
            topology.delete_queues(connection, "")
{% endif %}


@pytest.mark.parametrize(
    ("task_name", "family"),
    [
        ("{{ cookiecutter.project_slug }}.notifications.tasks.send_notification", "notifications"),
        ("{{ cookiecutter.project_slug }}.reports.tasks.generate_report", "reports"),
        ("{{ cookiecutter.project_slug }}.integrations.tasks.sync_customer", "integrations"),
        ("{{ cookiecutter.project_slug }}.maintenance.tasks.cleanup_reports", "maintenance"),
    ],
)
def test_every_example_task_routes_to_its_queue(task_name, family):
    app.loader.import_default_modules()
    assert task_name in app.tasks
    expected = topology.prefix() + topology.ROUTES_BY_FAMILY[family]
    assert app.amqp.router.route({}, task_name)["queue"].name == expected


def test_retry_policy_separates_transient_from_permanent():
    from {{ cookiecutter.project_slug }}.tasking import retry

    assert isinstance(retry.classify_http_status(503), retry.TransientError)
    assert isinstance(retry.classify_http_status(429), retry.TransientError)
    assert isinstance(retry.classify_http_status(404), retry.PermanentError)
    assert isinstance(retry.classify_http_status(422), retry.PermanentError)
    task = app.tasks["{{ cookiecutter.project_slug }}.integrations.tasks.sync_customer"]
    assert retry.TransientError in task.autoretry_for
    assert retry.PermanentError in task.dont_autoretry_for
    assert task.retry_jitter is True and task.retry_backoff_max == retry.RETRY_BACKOFF_MAX
{% if cookiecutter.broker == 'redis' %}


def test_a_delay_beyond_the_visibility_window_is_refused():
    from {{ cookiecutter.project_slug }}.tasking.retry import MAX_COUNTDOWN

    task = app.tasks["{{ cookiecutter.project_slug }}.maintenance.tasks.heartbeat"]
    with pytest.raises(ValueError, match="exceeds MAX_COUNTDOWN"):
        task.apply_async(countdown=MAX_COUNTDOWN + 1)
{% endif %}


def test_production_environment_names_every_missing_variable(monkeypatch):
    from {{ cookiecutter.project_slug }}.environment import (
        ConfigurationError,
        Environment,
        environment,
    )

    for name in list(Environment.model_fields):
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.chdir("/")  # no .env file either
    environment.cache_clear()
    try:
        with pytest.raises(ConfigurationError, match="APP_ENV=production needs CELERY_BROKER_URL"):
            environment()
        monkeypatch.setenv("APP_ENV", "staging")
        environment.cache_clear()
        with pytest.raises(ConfigurationError, match="APP_ENV: Input should be"):
            environment()
    finally:
        environment.cache_clear()

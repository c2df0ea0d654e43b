{% set redis = cookiecutter.broker == 'redis' %}
{% set priority_lists = redis and cookiecutter.queue_topology == 'priority' %}
"""Bootsteps every worker of this project runs (registered in ``celery_app.py``).

- ``Progress`` records the worker's progress for the health check
  (``health.py``) and stops a worker that the same rule finds stuck, so that
  its restart policy (compose, systemd, Kubernetes) starts a fresh one. Tasks
  are acknowledged late: a stopped worker's messages are delivered again.
- ``CommandsOnlyBroadcasts`` keeps a malformed control broadcast from
  restarting the worker's remote-control consumer.

Docs: https://docs.celeryq.dev/en/stable/userguide/extending.html
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time

from celery import bootsteps, signals
from celery.worker import state as worker_state
from celery.worker.consumer.control import Control
from kombu.serialization import registry
{% if priority_lists %}
from kombu.transport.redis import Channel
{% endif %}

from {{ cookiecutter.project_slug }} import health
from {{ cookiecutter.project_slug }}.environment import environment

logger = logging.getLogger(__name__)

# Exit status of a worker that the watchdog stopped and that then did not
# shut down in time.
EXIT_STUCK = 70


class Progress(bootsteps.StartStopStep):
    """Writes ``var/health/NODE.json`` from the event loop; a watchdog thread judges it.

    The watchdog is a thread because a worker may be stuck in its event loop
{% if redis %}
    (see the README, "Known issues"): then only a thread can still act.
{% else %}
    (a blocked loop runs no timer): then only a thread can still act.
{% endif %}
    """

    requires = ("celery.worker.components:Timer",)

    def include_if(self, worker) -> bool:
        # Not in a test's in-process worker: the watchdog would stop the tests.
        from celery.contrib.testing.worker import TestWorkController

        return not isinstance(worker, TestWorkController)

    def __init__(self, worker, **kwargs) -> None:
        super().__init__(worker, **kwargs)
        self.worker = worker
        self.timer_entry = None
        self.state: health.WorkerState | None = None
        self.stopped = threading.Event()

    def start(self, worker) -> None:
        now = time.time()
        self.state = health.WorkerState(
            node=worker.hostname,
            pid=os.getpid(),
            concurrency=worker.concurrency,
            # The limits this worker was started with: its group's (topology.py).
            time_limit=worker.time_limit or worker.app.conf.task_time_limit,
            stall_after=environment().worker_stall_timeout,
            queues=self.broker_queues(worker),
            started_at=now,
            written_at=now,
        )
        signals.task_received.connect(self.on_received, weak=False)
        self.record()
        self.timer_entry = worker.timer.call_repeatedly(health.RECORD_EVERY, self.record)
        threading.Thread(target=self.watch, name="health-watchdog", daemon=True).start()

    def stop(self, worker) -> None:
        self.stopped.set()
        signals.task_received.disconnect(self.on_received)
        if self.timer_entry is not None:
            self.timer_entry.cancel()
        if self.state is not None:
            health.state_file(self.state.node).unlink(missing_ok=True)

    @staticmethod
    def broker_queues(worker) -> list[str]:
        names = list(worker.app.amqp.queues.consume_from)
{% if priority_lists %}
        # Kombu keeps a Redis queue as one list per priority step (celeryconfig.py).
        steps = worker.app.conf.broker_transport_options["priority_steps"]
        return [f"{name}{Channel.sep}{step}" if step else name for name in names for step in steps]
{% else %}
        return names
{% endif %}

    def on_received(self, request=None, **_) -> None:
        self.state.fetched += 1
        self.state.last_fetch_at = time.time()

    def record(self) -> None:
        """In the event loop: what the worker does now, and proof that the loop runs."""
        state = self.state
        now = time.time()
        running = [r.time_start for r in list(worker_state.active_requests) if r.time_start]
        state.active = len(running)
        state.finished = worker_state.all_total_count[0]
        state.oldest_task_started_at = min(running, default=None)
        if self.window_full():
            # Every prefetched message is held (ETA or rate-limited tasks): not
            # fetching is by design. Counts as a fetch for the rule.
            state.last_fetch_at = now
        state.written_at = now
        try:
            health.write_state(state)
        except OSError as error:
            # Never raised into the event loop: Kombu would take it for a lost
            # broker connection and cancel every running task. A state file that
            # cannot be written goes stale, and the health check says so.
            logger.error("could not write the health state of %s: %s", state.node, error)

    def window_full(self) -> bool:
        qos = getattr(self.worker.consumer, "qos", None)
        window = qos.value if qos is not None else 0
        return bool(window) and len(worker_state.reserved_requests) >= window

    def watch(self) -> None:
        """In a thread: apply the health rule to this worker, and stop it when it fails."""
        state = self.state
        while not self.stopped.wait(health.RECORD_EVERY):
            problem = health.verdict(state, self.ask_broker)
            if problem:
                blocked = time.time() - state.written_at > health.STATE_STALE_AFTER
                self.stop_worker(problem, blocked)
                return

    def ask_broker(self) -> int | None:
        """The ready messages of this worker's queues; None, recorded, when the broker is silent."""
        ready = health.ready_messages_or_none(self.state.queues)
        if ready is None:
            self.state.broker_silent_at = time.time()
            try:
                health.write_state(self.state)
            except OSError as error:
                logger.error("could not write the health state of %s: %s", self.state.node, error)
        return ready

    def stop_worker(self, problem: str, blocked: bool) -> None:
        """A graceful stop first (as an orchestrator's), then an exit if that does not end it.

        A blocked event loop cannot run the graceful stop: it gets a short grace.
        """
        if blocked:
            grace = health.STATE_STALE_AFTER
        else:
            grace = self.state.time_limit + self.worker.app.conf.worker_soft_shutdown_timeout + 30
        logger.critical(
            "%s: stopping this worker so that its restart policy starts a fresh one; "
            "its unacknowledged messages are delivered again (exit in at most %.0f s)",
            problem,
            grace,
        )
        os.kill(os.getpid(), signal.SIGTERM)
        # Not self.stopped: the shutdown sets it before the pool has stopped, and
        # a pool that cannot stop its task (threads) would keep the worker alive
        # for ever. This thread is a daemon: a worker that exits ends it.
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            time.sleep(0.5)
            if self.only_overdue_tasks_left():
                # Nothing else can finish: waiting out the grace would only
                # delay the restart (and the redelivery of those messages).
                logger.critical("only tasks past their hard time limit are left: exiting")
                os._exit(EXIT_STUCK)
        logger.critical("worker did not stop within %.0f s: exiting", grace)
        os._exit(EXIT_STUCK)

    def only_overdue_tasks_left(self) -> bool:
        """Tasks still run, and every one of them is past its group's hard time limit."""
        now = time.time()
        started = [r.time_start for r in list(worker_state.active_requests)]
        limit = self.state.time_limit
        return bool(started) and all(t and now - t > limit for t in started)


# What a monitor may ask without this project's serializer{{ ' or signature' if cookiecutter.message_signing }}:
# a monitoring tool may build a Celery app of its own and ask for stats and
# active_queues in plain JSON; these commands only read.
READ_ONLY_COMMANDS = frozenset(
    {
        "ping",
        "stats",
        "active_queues",
        "active",
        "reserved",
        "scheduled",
        "registered",
        "revoked",
        "query_task",
        "clock",
    }
)


class CommandsOnlyBroadcasts(bootsteps.StartStopStep):
    """Drop control broadcasts that are not commands, instead of resetting the consumer.

    Celery restarts the remote-control consumer when handling a broadcast raises
    (a body that is not a dict, such as another application's message on the
    same broker).
{% if redis %}
    With Celery/Kombu 5.7.0 on Redis, a worker that has replaced a pool
    process then stops fetching tasks (see the README, "Known issues").
{% else %}
    Restarting it does nothing for a bad message.
{% endif %}
    A bad broadcast is logged and dropped instead.

    Monitoring works whatever the serializer{{ ' and signing' if cookiecutter.message_signing }}: the remote control also
    accepts plain JSON, answers a JSON request in JSON,{% if cookiecutter.message_signing %} and carries out
    unsigned JSON requests only for the READ_ONLY_COMMANDS (a signed one, any
    command){% else %} and carries out any
    command, as it would in this project's own serializer{% endif %}.
    """

    requires = (Control,)

    def __init__(self, consumer, **kwargs) -> None:
        super().__init__(consumer, **kwargs)
        node = consumer.blueprint.steps[Control.name].box.node
        mailbox = node.mailbox
        if "json" not in mailbox.accept:
            mailbox.accept = [*mailbox.accept, "json"]
        handle = node.handle_message
        # The serializer of the request being handled, for its reply.
        replying = {"serializer": mailbox.serializer}

        def handle_commands_only(body, message=None):
            if not isinstance(body, dict):
                logger.warning(
                    "dropped a control broadcast that is not a command (a %s, not a dict)",
                    type(body).__name__,
                )
                return None
            kind = registry.type_to_name.get(getattr(message, "content_type", None))
{% if cookiecutter.message_signing %}
            if kind != "auth" and body.get("method") not in READ_ONLY_COMMANDS:
                logger.warning(
                    "refused the unsigned control command %r: only %s may come unsigned",
                    body.get("method"),
                    ", ".join(sorted(READ_ONLY_COMMANDS)),
                )
                return None
{% endif %}
            replying["serializer"] = "json" if kind == "json" else mailbox.serializer
            try:
                return handle(body, message)
            except KeyError:
                raise  # an unknown command: Celery logs it and carries on
            except Exception:
                logger.exception("dropped a control broadcast that could not be handled")
                return None

        def reply_in_kind(data, exchange, routing_key, ticket, **_):
            mailbox._publish_reply(
                data,
                exchange,
                routing_key,
                ticket,
                channel=node.channel,
                serializer=replying["serializer"],
            )

        node.handle_message = handle_commands_only
        node.reply = reply_in_kind

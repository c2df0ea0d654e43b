"""Flower's configuration file, run by Flower at start (celery_app.py points FLOWER_CONF here).

Flower has read its FLOWER_* variables and command line by now. Credentials
come from them or, in development, from ``.env`` like every other setting;
Flower stops with one line when they are missing in production or malformed.
https://flower.readthedocs.io/en/latest/config.html

Flower runs this file's code in a namespace of its own and reads every name
that is one of its options (``port``, ``logging``...): imports stay inside
functions, and helpers start with an underscore.
"""

from __future__ import annotations

from tornado.options import options

from {{ cookiecutter.project_slug }}.environment import ConfigurationError, environment

try:
    basic_auth = environment().flower_credentials(list(options.basic_auth or []))
except ConfigurationError as error:
    raise SystemExit(f"{{ cookiecutter.project_slug }}: {error}") from None


def _stop_within(seconds: float) -> None:
    """SIGTERM and SIGINT stop Flower within ``seconds``, even while the broker does not answer.

    Flower stops by exiting, and Python then waits for Flower's executor
    threads. While the broker is down one of them retries a control broadcast
    (asking workers for events, or inspecting them) for ever: Kombu's
    ``publish(retry=True)`` has no limit. Flower would not stop until the
    broker came back, or compose or Kubernetes killed it after its grace
    period. The same exit, bounded: past ``seconds`` the process ends at once
    (Flower keeps no state of its own here; FLOWER_PERSISTENT's save is skipped
    only when the broker holds the exit up).
    """
    import logging
    import os
    import signal
    import sys
    import threading

    import flower.command

    def stop(signum, _frame) -> None:
        def exit_now() -> None:
            sys.stderr.write(
                f"{{ cookiecutter.project_slug }}: Flower still stopping {seconds:.0f} s after "
                f"signal {signum} (the broker does not answer): exiting now\n"
            )
            os._exit(0)

        logging.getLogger("flower.command").info("%s detected, shutting down", signum)
        timer = threading.Timer(seconds, exit_now)
        timer.daemon = True
        timer.start()
        sys.exit(0)

    flower.command.sigterm_handler = stop  # Flower installs it after reading this file
    signal.signal(signal.SIGINT, stop)


_stop_within(5)

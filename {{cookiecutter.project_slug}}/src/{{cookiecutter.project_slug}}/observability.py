{% set sentry = cookiecutter.use_sentry %}
{% set otel = cookiecutter.use_opentelemetry %}
"""{% if sentry %}Error reports (Sentry){% if otel %} and traces (OpenTelemetry){% endif %}{% else %}Traces (OpenTelemetry){% endif %}, set up once per process.

Nothing is sent unless the environment names a destination.
{% if sentry %}
Sentry: ``SENTRY_DSN``; ``SENTRY_ENVIRONMENT`` and ``SENTRY_RELEASE`` name the
environment and the release (defaults: ``APP_ENV`` and the package version).
celery_app.py sets it up in worker{% if cookiecutter.__has_beat == 'yes' %} and beat{% endif %} processes{% if cookiecutter.framework == 'django' %}, the Django settings
in the web process{% endif %}.
{% endif %}
{% if otel %}
Traces: ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``),
read by the OTLP exporter with the other standard ``OTEL_*`` variables.
celery_app.py sets tracing up in each prefork worker child.
{% endif %}
"""

from __future__ import annotations

{% if otel %}
import os
from functools import cache

{% endif %}
from {{ cookiecutter.project_slug }} import __version__
{% if sentry %}
from {{ cookiecutter.project_slug }}.environment import Environment, environment
{% endif %}
{% if otel %}

# The standard variables that name where spans go.
OTLP_ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
{% endif %}
{% if sentry %}


def init_sentry(dsn: str, environment_name: str, release: str = "") -> bool:
    """Report this process's errors to Sentry, Celery tasks included; True if enabled.

    https://docs.sentry.io/platforms/python/integrations/celery/
    """
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration

    if sentry_sdk.is_initialized():
        return True
    sentry_sdk.init(
        dsn=dsn,
        environment=environment_name,
        release=release or f"{{ cookiecutter.project_slug }}@{__version__}",
{% if cookiecutter.__has_beat == 'yes' %}
        # Beat check-ins: Sentry's crons report a periodic task that is missed or fails.
        integrations=[CeleryIntegration(monitor_beat_tasks=True)],
{% else %}
        integrations=[CeleryIntegration()],
{% endif %}
        **privacy_options(sentry_sdk.VERSION),
    )
    return True


def privacy_options(sdk_version: str) -> dict[str, object]:
    """The ``sentry_sdk.init`` options that keep personal data out of reports.

    Task arguments, the local variables of the failing frames (which hold
    them), request bodies and user details may hold personal data: none is
    sent. sentry-sdk 2 says so with ``send_default_pii`` and
    ``include_local_variables``; 3 refuses those names ("Unknown option") and
    takes ``data_collection`` instead. sentry-sdk 2.20, the lowest this
    project allows, sends task arguments whatever ``send_default_pii`` says:
    ``without_task_arguments`` drops them in every version.
    """
    if int(sdk_version.split(".")[0]) >= 3:
        return {
            "before_send": without_task_arguments,
            "data_collection": {
                "user_info": False,
                "queues": False,
                "http_bodies": [],
                "stack_frame_variables": False,
            },
        }
    return {
        "before_send": without_task_arguments,
        "send_default_pii": False,
        "include_local_variables": False,
        "max_request_body_size": "never",
    }


def without_task_arguments(event: dict, hint: dict) -> dict:
    """``event`` without the task arguments Sentry's Celery integration adds to it."""
    job = event.get("extra", {}).get("celery-job")
    if isinstance(job, dict):
        job.pop("args", None)
        job.pop("kwargs", None)
    return event


def init_sentry_from_environment(env: Environment | None = None) -> bool:
    """``init_sentry`` with ``env``, else this process's validated environment (environment.py)."""
    env = env or environment()
    return init_sentry(env.sentry_dsn, env.sentry_environment or env.app_env, env.sentry_release)
{% endif %}
{% if otel %}


@cache
def init_tracing(exporter=None) -> bool:
    """Trace Celery tasks of this process with OpenTelemetry; True if enabled.

    Under the prefork pool this must run in each child (``worker_process_init``):
    the exporter's background thread does not survive a fork. ``exporter``
    replaces the OTLP exporter (tests pass an in-memory one).
    https://opentelemetry-python-contrib.readthedocs.io/en/latest/instrumentation/celery/celery.html
    """
    if exporter is None and not any(os.environ.get(name) for name in OTLP_ENDPOINT_VARIABLES):
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporter = OTLPSpanExporter()
    # OTEL_SERVICE_NAME, when set, wins over this default.
    service = {"service.name": "{{ cookiecutter.project_slug }}", "service.version": __version__}
    provider = TracerProvider(resource=Resource.create(service))
    provider.add_span_processor(BatchSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    CeleryInstrumentor().instrument()
    return True
{% endif %}

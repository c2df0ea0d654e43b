"""Integration tasks: calls to a third-party API that fails now and then."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.tasking.retry import TransientError, classify_http_status

logger = logging.getLogger(__name__)

# Requests to the provider from each worker process, at most.
RATE_LIMIT = "10/s"
REQUEST_TIMEOUT = 10


def provider_url() -> str:
    return os.environ.get("PROVIDER_URL", "http://127.0.0.1:8900")


@app.task(rate_limit=RATE_LIMIT)
def sync_customer(customer_id: int, revision: int) -> dict:
    """Push a customer's revision to the provider.

    The provider receives an Idempotency-Key naming this revision, so a retry
    after a timeout (when our request may have arrived) is not applied twice.
    Timeouts, connection errors, 429 and 5xx are retried by the task base
    class with backoff; other statuses fail at once and become dead letters.
    """
    request = urllib.request.Request(  # noqa: S310 (the URL comes from our configuration)
        f"{provider_url()}/customers/{customer_id}",
        data=json.dumps({"customer_id": customer_id, "revision": revision}).encode(),
        headers={
            "Content-Type": "application/json",
            "Idempotency-Key": f"customer-{customer_id}-revision-{revision}",
        },
        method="PUT",
    )
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise classify_http_status(error.code, error.reason) from error
    except urllib.error.URLError as error:
        raise TransientError(f"provider unreachable: {error.reason}") from error

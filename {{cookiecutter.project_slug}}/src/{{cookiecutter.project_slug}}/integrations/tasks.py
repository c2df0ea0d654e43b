"""Integration tasks: calls to a third-party API that fails now and then."""

from __future__ import annotations

import json
import logging
import os
import urllib.error
import urllib.request

from {{ cookiecutter.project_slug }} import topology
from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.tasking import ratelimit
from {{ cookiecutter.project_slug }}.tasking.retry import TransientError, classify_http_status

logger = logging.getLogger(__name__)

# Requests per second to the provider from every worker together: a limit
# shared through {{ 'Redis' if cookiecutter.__needs_redis == 'yes' else 'the database' }} (tasking/ratelimit.py), so replicas do not multiply it.
PROVIDER_RATE = 10.0
PROVIDER_BURST = 5


def soft_limit_of(task_name: str) -> int:
    """The soft time limit a task runs under: the strictest of the groups consuming its queue."""
    queue = topology.route_for(task_name)
    return min(g.soft_time_limit for g in topology.workers() if queue in g.queues)


def provider_url() -> str:
    return os.environ.get("PROVIDER_URL", "http://127.0.0.1:8900")


@app.task
def sync_customer(customer_id: int, revision: int) -> dict:
    """Push a customer's revision to the provider.

    The provider receives an Idempotency-Key naming this revision, so a retry
    after a timeout (when our request may have arrived) is not applied twice.
    Timeouts, connection errors, 429 and 5xx are retried by the task base
    class with backoff; other statuses fail at once and become dead letters.

    The wait for a rate-limit slot and the request each get at most 40 % of
    the soft time limit: a pool that cannot interrupt a task (threads) still
    sees it end in time.
    """
    budget = 0.4 * soft_limit_of(sync_customer.name)
    ratelimit.acquire("provider", PROVIDER_RATE, burst=PROVIDER_BURST, max_wait=budget)
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
        # The timeout bounds the connection and every read of the response.
        with urllib.request.urlopen(request, timeout=budget) as response:  # noqa: S310
            return json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        raise classify_http_status(error.code, error.reason) from error
    except urllib.error.URLError as error:
        raise TransientError(f"provider unreachable: {error.reason}") from error

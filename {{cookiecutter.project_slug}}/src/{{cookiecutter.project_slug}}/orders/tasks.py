"""Order tasks: they receive primary keys, never model instances."""

from __future__ import annotations

from {{ cookiecutter.project_slug }}.celery_app import app
from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.tasking.retry import PermanentError


@app.task
def confirm_order(order_id: int) -> None:
    """Tell the customer their order arrived.

    The row is read fresh: the task may run long after it was enqueued. A
    missing row is a permanent error (no retry), recorded as a dead letter.
    """
    try:
        order = Order.objects.get(pk=order_id)
    except Order.DoesNotExist:
        raise PermanentError(f"order {order_id} does not exist") from None
    # Another family's task, by name: task families never import each other.
    app.signature(
        "{{ cookiecutter.project_slug }}.notifications.tasks.send_notification",
        args=(
            order.customer_email,
            f"We received your order {order.pk}.",
            f"order-confirmation:{order.pk}",
        ),
    ).delay()

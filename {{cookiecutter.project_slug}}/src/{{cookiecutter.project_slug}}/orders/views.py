"""Placing an order: the task is enqueued only once the order row is committed."""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_POST

from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.orders.tasks import confirm_order


@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    try:
        data = json.loads(request.body)
        email, total = data["customer_email"], int(data["total_cents"])
        validate_email(email)
    except (ValueError, KeyError, TypeError, ValidationError) as error:
        return JsonResponse({"error": f"invalid order: {error}"}, status=400)
    if total < 0:
        return JsonResponse({"error": "invalid order: total_cents is negative"}, status=400)
    with transaction.atomic():
        order = Order.objects.create(customer_email=email, total_cents=total)
        # Sent after COMMIT: a worker never looks for a row that is not there
        # yet, and nothing is sent if the transaction rolls back.
        confirm_order.delay_on_commit(order.pk)
    return JsonResponse({"id": order.pk}, status=201)

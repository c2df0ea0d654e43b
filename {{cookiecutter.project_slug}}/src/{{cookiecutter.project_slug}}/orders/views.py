"""Placing an order: an API for programs, called with a token; the task is enqueued on commit.

Authentication is Django REST framework's ``TokenAuthentication``: the
``Authorization: Token KEY`` header, keys kept in its ``authtoken`` app (a
table, an admin page, the ``drf_create_token`` command). It is a small,
well-kept and widely reviewed piece for exactly this; a home-made token check
would need its own model, migration, admin and command, and its own security
review, to do the same. Token calls need no CSRF cookie (no browser session
is involved); the admin keeps Django's session login and CSRF protection.
"""

from __future__ import annotations

import json

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.http import JsonResponse
from rest_framework.authentication import TokenAuthentication
from rest_framework.exceptions import AuthenticationFailed, NotAuthenticated
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from {{ cookiecutter.project_slug }}.orders.models import Order
from {{ cookiecutter.project_slug }}.orders.tasks import confirm_order

# What a refused call is told to send.
WHAT_TO_SEND = (
    "send the header 'Authorization: Token KEY' (a key: python manage.py drf_create_token USERNAME)"
)


class PlaceOrder(APIView):
    authentication_classes = [TokenAuthentication]
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer]

    def handle_exception(self, exc):
        # 401, in one line that says what to send, like this view's other errors.
        if isinstance(exc, NotAuthenticated | AuthenticationFailed):
            reason = str(exc.detail).rstrip(".")
            response = JsonResponse({"error": f"{reason}: {WHAT_TO_SEND}"}, status=401)
            response["WWW-Authenticate"] = TokenAuthentication.keyword
            return response
        return super().handle_exception(exc)

    def post(self, request) -> JsonResponse:
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


place_order = PlaceOrder.as_view()

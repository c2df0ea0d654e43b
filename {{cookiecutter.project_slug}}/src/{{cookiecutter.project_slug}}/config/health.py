"""``/healthz``: for the container healthcheck and load balancers."""

from __future__ import annotations

from django.db import DatabaseError, connection
from django.http import HttpResponse


class HealthCheckMiddleware:
    """Answers ``/healthz`` before host validation and the HTTPS redirect.

    The healthcheck calls it over plain HTTP on 127.0.0.1, which is neither an
    allowed host nor HTTPS. A 200 proves the process serves requests and
    reaches the database.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path != "/healthz":
            return self.get_response(request)
        try:
            connection.ensure_connection()
        except DatabaseError:
            return HttpResponse("database unreachable", status=503, content_type="text/plain")
        return HttpResponse("ok", content_type="text/plain")

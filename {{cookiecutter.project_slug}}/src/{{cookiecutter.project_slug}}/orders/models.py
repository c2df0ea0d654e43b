"""An order placed by a customer."""

from __future__ import annotations

from django.db import models


class Order(models.Model):
    customer_email = models.EmailField()
    total_cents = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"Order {self.pk} for {self.customer_email}"

from __future__ import annotations

from django.contrib import admin

from {{ cookiecutter.project_slug }}.orders.models import Order


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ("id", "customer_email", "total_cents", "created_at")
    search_fields = ("customer_email",)

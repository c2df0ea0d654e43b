"""Admin for dead letters: inspect, requeue, delete."""

from __future__ import annotations

from django.contrib import admin, messages

from {{ cookiecutter.project_slug }}.tasking import models
{% if cookiecutter.broker == 'rabbitmq' %}
from {{ cookiecutter.project_slug }}.tasking.operations import (
    collect_from_broker,
    requeue_and_forget,
)
{% else %}
from {{ cookiecutter.project_slug }}.tasking.operations import requeue_and_forget
{% endif %}
from {{ cookiecutter.project_slug }}.tasking.stores import store


@admin.register(models.DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ("task_name", "task_id", "queue", "exception", "retries", "failed_at")
    list_filter = ("task_name", "queue")
    search_fields = ("task_name", "task_id", "exception")
    readonly_fields = [field.name for field in models.DeadLetter._meta.fields]
    actions = ["requeue_selected"]

    @admin.action(description="Requeue selected dead letters")
    def requeue_selected(self, request, queryset):
        count = 0
        for row in queryset:
            letter = store().dead_letter(str(row.pk))
            if letter is not None:
                requeue_and_forget(letter)
                count += 1
        self.message_user(request, f"Requeued {count} task(s).", messages.SUCCESS)

    def has_add_permission(self, request):
        return False
{% if cookiecutter.broker == 'rabbitmq' %}

    def changelist_view(self, request, extra_context=None):
        """Lists what RabbitMQ dead-lettered on its own too."""
        collected = collect_from_broker()
        if collected:
            self.message_user(
                request, f"Recorded {collected} message(s) from RabbitMQ's dead-letter queue."
            )
        return super().changelist_view(request, extra_context)
{% endif %}


@admin.register(models.IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "created_at")
    search_fields = ("key",)
    readonly_fields = ("key", "created_at")

"""Counts of runs that ended without an outcome, which bound redelivery."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
{% if cookiecutter.beat_scheduler == 'django-celery-beat' %}
        ("tasking", "0002_periodic_tasks"),
{% else %}
        ("tasking", "0001_initial"),
{% endif %}
    ]

    operations = [
        migrations.CreateModel(
            name="RunCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.CharField(max_length=255, unique=True)),
                ("runs", models.PositiveIntegerField(default=1)),
                ("updated_at", models.DateTimeField(auto_now=True, db_index=True)),
            ],
        ),
    ]

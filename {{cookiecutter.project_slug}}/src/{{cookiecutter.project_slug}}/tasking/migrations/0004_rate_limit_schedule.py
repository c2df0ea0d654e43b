"""The schedules of rate limits shared by every worker (tasking/ratelimit.py)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("tasking", "0003_runcount")]

    operations = [
        migrations.CreateModel(
            name="RateLimitSchedule",
            fields=[
                ("key", models.CharField(max_length=255, primary_key=True, serialize=False)),
                (
                    "next_slot",
                    models.FloatField(help_text="seconds since the epoch, on the database's clock"),
                ),
            ],
        ),
    ]

{% set slug = cookiecutter.project_slug %}
"""Your additions to the baseline configuration.

User-owned: template updates never touch this file. The baseline modules
(celeryconfig.py, topology.py, schedule.py) read it, each name with a default,
so what you put here wins, and an older copy of this file keeps working.
`python -m {{ slug }}.worker --list` shows the worker groups that result.
"""

from __future__ import annotations

# Extra queues to declare, beside the topology's. A worker group must consume
# each of them (WORKERS or EXTRA_WORKERS below); the tests fail otherwise.
# e.g. ("billing",)
EXTRA_QUEUES: tuple[str, ...] = ()

# Explicit routes by full task name, e.g. {"billing.tasks.charge": "billing"}.
EXTRA_ROUTES: dict[str, str] = {}

# Changes to a baseline worker group, by group name, e.g.
# {"{{ topology(cookiecutter.queue_topology).workers[0].name }}": {"concurrency": 8, "prefetch_multiplier": 4}}.
# Fields: queues, pool, concurrency, prefetch_multiplier, soft_time_limit,
# time_limit (seconds), max_tasks_per_child, max_memory_per_child (KiB).
WORKERS: dict[str, dict] = {}

# Your own worker groups, e.g. {"billing": {"queues": ["billing"], "concurrency": 2}}.
# Fields they leave out come from their "profile": "short", "general" (the
# default), "long" or "io" (topology.PROFILES). Start one with
# `python -m {{ slug }}.worker billing`;
# give it a service in compose.override.yaml.
EXTRA_WORKERS: dict[str, dict] = {}

# Task modules to import in every worker, beside the baseline's, e.g.
# ("{{ slug }}.billing.tasks",).
{% if cookiecutter.framework == "django" %}
# Tasks of Django apps in INSTALLED_APPS are found without this.
{% endif %}
TASK_MODULES: tuple[str, ...] = ()

{% if cookiecutter.__has_beat == 'yes' %}
# Periodic tasks, beside schedule.py's: name -> task, and either
# "every" (seconds) or "crontab" (crontab fields, UTC), e.g.
# {"sync-invoices": {"task": "{{ slug }}.billing.tasks.sync", "every": 300}}.
PERIODIC_TASKS: dict[str, dict] = {}
{% endif %}

# Celery settings that replace the baseline's, by their lowercase names,
# e.g. {"broker_pool_limit": 20}. Those that stand for a worker option
# (worker_concurrency, worker_prefetch_multiplier, task_time_limit, ...: see
# topology.GROUP_SETTINGS) tune every worker group; WORKERS tunes one.
SETTINGS: dict[str, object] = {}

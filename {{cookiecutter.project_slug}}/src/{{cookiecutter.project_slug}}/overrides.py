"""Your additions to the baseline configuration.

User-owned: template updates never touch this file. The baseline modules
(celeryconfig.py, topology.py) read it, so what you put here wins.
"""

from __future__ import annotations

# Extra queues to declare, beside the topology's. A worker group must consume
# each of them (see topology.WORKERS and the compose files).
EXTRA_QUEUES: tuple[str, ...] = ()

# Explicit routes by full task name, e.g. {"myapp.tasks.rebuild": "slow"}.
EXTRA_ROUTES: dict[str, str] = {}

# Celery settings that replace the baseline's, by their lowercase names,
# e.g. {"broker_pool_limit": 20}.
SETTINGS: dict[str, object] = {}

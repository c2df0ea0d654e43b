"""Where the project keeps files on disk, for every task family that reads or writes them."""

from __future__ import annotations

import os
from pathlib import Path


def reports_dir() -> Path:
    """The folder of generated reports: ``REPORTS_DIR``, read when called (tests change it)."""
    path = Path(os.environ.get("REPORTS_DIR", "var/reports"))
    path.mkdir(parents=True, exist_ok=True)
    return path

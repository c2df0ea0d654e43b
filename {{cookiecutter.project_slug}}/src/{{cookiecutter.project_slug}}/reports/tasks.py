"""Reports tasks."""

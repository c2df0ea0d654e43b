"""maintenance tasks."""

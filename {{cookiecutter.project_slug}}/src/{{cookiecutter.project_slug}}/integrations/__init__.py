"""integrations tasks."""

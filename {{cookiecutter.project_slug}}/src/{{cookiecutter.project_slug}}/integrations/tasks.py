"""Integrations tasks."""

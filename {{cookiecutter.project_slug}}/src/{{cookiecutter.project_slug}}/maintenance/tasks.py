"""Maintenance tasks."""

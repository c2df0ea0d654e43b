"""The {{ cookiecutter.project_slug }} package: Celery tasks and their configuration."""

__version__ = "{{ cookiecutter.version }}"

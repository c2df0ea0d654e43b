"""Compile each template source once per test process, for the bake matrix.

Cookiecutter makes a new Jinja environment for every bake and compiles every
file and path again; the matrix bakes thousands of projects in one process.
Code objects are cached under the source and every setting that decides how
Jinja compiles it, so a changed template is never served stale, and nothing
is written to disk. Only the template's tests use this: a user's bake
compiles as cookiecutter does.
"""

from __future__ import annotations

from types import CodeType

from jinja2 import Environment

_COMPILED: dict[tuple, CodeType] = {}


def _settings_of(environment: Environment) -> tuple:
    """What, besides the source, decides how Jinja compiles a template."""
    return (
        type(environment),
        environment.block_start_string,
        environment.block_end_string,
        environment.variable_start_string,
        environment.variable_end_string,
        environment.comment_start_string,
        environment.comment_end_string,
        environment.line_statement_prefix,
        environment.line_comment_prefix,
        environment.trim_blocks,
        environment.lstrip_blocks,
        environment.newline_sequence,
        environment.keep_trailing_newline,
        environment.optimized,
        environment.autoescape,
        tuple(sorted(environment.extensions)),
    )


_compile_source = Environment.compile


def _compile(self, source, name=None, filename=None, raw=False, defer_init=False):
    if raw or not isinstance(source, str):
        return _compile_source(self, source, name, filename, raw, defer_init)
    key = (_settings_of(self), source, name, filename, defer_init)
    code = _COMPILED.get(key)
    if code is None:
        code = _COMPILED[key] = _compile_source(self, source, name, filename, raw, defer_init)
    return code


def install() -> None:
    """Cache compiled sources in every Jinja environment of this process."""
    Environment.compile = _compile

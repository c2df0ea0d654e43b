"""Validate compose files with Debian's docker-compose, many files in one process.

``docker-compose config -q`` pays about a third of a second of start-up per
file. The template's matrix validates hundreds of distinct compose files, so
this script runs under the interpreter docker-compose is installed for and
calls the same code ``config -q`` runs (load, interpolate, validate), once per
request. Requests and answers are JSON lines on stdin and stdout:

    {"files": ["/path/compose.yaml", "/path/compose.override.yaml"], "env": {"VAR": "value"}}
    {"ok": true, "error": ""}

The files are read together, later ones over earlier ones, as by
``docker-compose -f compose.yaml -f compose.override.yaml config -q``.
"""

import json
import sys

from compose.cli.command import get_config_from_options
from compose.config.environment import Environment
from compose.config.errors import ConfigurationError


def check(paths, env):
    import os

    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        directory = os.path.dirname(paths[0])
        Environment.from_env_file(directory)
        get_config_from_options(directory, {"--file": list(paths)})
        return {"ok": True, "error": ""}
    except (ConfigurationError, Exception) as error:  # every refusal is a finding
        return {"ok": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main():
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.write(json.dumps(check(request["files"], request.get("env", {}))) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()

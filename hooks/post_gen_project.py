"""Remove what the chosen options do not need.

Standard library only, and only light modules: cookiecutter starts a fresh
interpreter for this script on every bake.

A pure function of the answers: it only deletes files the answers do not
need. No network, no git, no secrets, no timestamps, so the same answers
always give the same bytes, and running it twice changes nothing.
"""


import os

FRAMEWORK = "{{ cookiecutter.framework }}"
CI = "{{ cookiecutter.ci }}"
PACKAGE = os.path.join("src", "{{ cookiecutter.project_slug }}")


def remove(*paths: str) -> None:
    """Delete files and whole directories; a path already gone is fine."""
    for path in paths:
        if os.path.isdir(path):
            for folder, _, files in os.walk(path, topdown=False):
                for name in files:
                    os.remove(os.path.join(folder, name))
                os.rmdir(folder)
        elif os.path.exists(path):
            os.remove(path)


def remove_django_files() -> None:
    remove("manage.py", os.path.join(PACKAGE, "config"))


def remove_github_ci() -> None:
    remove(".github")


def main() -> None:
    if FRAMEWORK != "django":
        remove_django_files()
    if CI != "github":
        remove_github_ci()


if __name__ == "__main__":
    main()

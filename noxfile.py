"""Sessions run by a bare ``nox``: lint, type check, tests, docs."""

from __future__ import annotations

import nox

nox.options.sessions = ["lint", "typecheck", "tests", "docs"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

PYTHON = "3.11"


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Ruff lint and format check over the whole tree."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """mypy --strict on src/."""
    session.install("mypy>=1.11", "-e", ".[test]")
    session.run("mypy", "--strict", "src")


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The full test suite, with branch coverage of the package. The PostgreSQL adapter's
    tests need a server (``tests/postgres.py``; ``.ci/run`` starts the local one)."""
    session.install("-e", ".[test]")
    session.run(
        "pytest",
        "--cov=evcharge_core",
        "--cov-report=term-missing:skip-covered",
        *session.posargs,
    )


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the Sphinx docs with warnings as errors."""
    session.install("-e", ".[postgres]", "sphinx>=7.3", "furo>=2024.5.6", "myst-parser>=3.0")
    session.run("sphinx-build", "-W", "--keep-going", "-b", "html", "docs", "docs/_build/html")

"""A PostgreSQL server for the tests: test databases created and dropped on it.

The server is ``EVCHARGE_TEST_POSTGRES`` (a URL of a database to connect to for creating and
dropping test databases), else the local one CI runs (``postgresql://postgres@127.0.0.1:5432/
postgres``, trust authentication). Tests that need it skip, naming the server and the error,
only when it cannot be reached; with ``EVCHARGE_REQUIRE_POSTGRES=1`` (``.ci/run`` sets it)
they fail instead, so that CI never passes without having run them.
"""

from __future__ import annotations

import functools
import os
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

ADMIN_URL = os.environ.get(
    "EVCHARGE_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@functools.cache
def unreachable() -> str | None:
    """Why the server cannot be used, or ``None`` if it can."""
    try:
        with psycopg.connect(ADMIN_URL, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return str(exc).strip()
    return None


def require_server() -> None:
    """Skip (or, under ``EVCHARGE_REQUIRE_POSTGRES``, fail) when there is no server."""
    problem = unreachable()
    if problem is None:
        return
    message = (
        f"no PostgreSQL server reachable at {ADMIN_URL} ({problem}); start one"
        " (.ci/run does) or point EVCHARGE_TEST_POSTGRES at one"
    )
    if os.environ.get("EVCHARGE_REQUIRE_POSTGRES"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def url_of(database: str) -> str:
    """The URL of another database on the same server."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, parts.fragment))


def create_database(prefix: str = "evcharge_test") -> str:
    """A new, empty database with a unique name (the prefix, this process's id, a random
    part); its URL."""
    require_server()
    _drop_leftovers()
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return url_of(name)


@functools.cache
def _drop_leftovers() -> None:
    """Drop test databases of test processes that no longer run (a run killed before it
    could drop its own), once per process: the server outlives test runs."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT datname FROM pg_database"
                " WHERE datname ~ '^evcharge_[a-z]+_[0-9]+_[0-9a-f]{8}$'"
            )
        ]
        for name in names:
            pid = int(name.rsplit("_", 2)[1])
            if pid != os.getpid() and not _running(pid):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def drop_database(url: str) -> None:
    """Drop a database :func:`create_database` made, ending its sessions."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def terminate_sessions(url: str) -> int:
    """End every other session on the database of ``url`` (as a server restart would, for
    the connections to it); how many were ended."""
    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchone()
    assert row is not None
    return int(row[0])

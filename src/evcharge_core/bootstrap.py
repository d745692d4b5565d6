"""Wiring: choose and open the storage adapter for a database URL, build the service.

The one place that knows every adapter. Database selection (CONTRACT.md), for the CLI and
the server alike: ``--db URL``, else ``EVCHARGE_DB``, else ``evcharge.db`` in the working
directory. A bare path or ``sqlite:///PATH`` is SQLite; ``memory://`` is the in-memory
repository; ``postgresql://...`` or ``postgres://...`` (a libpq URL) is PostgreSQL, which needs
the ``postgres`` extra (``pip install 'evcharge-core[postgres]'``). The schema is created or
migrated on first use.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final
from urllib.parse import parse_qsl, urlencode, urlsplit

from .errors import StorageError
from .ports import Repository

__all__ = [
    "DEFAULT_DB",
    "ENV_DB",
    "POSTGRES_SCHEMES",
    "display_db_url",
    "open_repository",
    "resolve_db_url",
]

ENV_DB: Final = "EVCHARGE_DB"
DEFAULT_DB: Final = "evcharge.db"
POSTGRES_SCHEMES: Final = ("postgresql://", "postgres://")


def resolve_db_url(cli_value: str | None, environ: Mapping[str, str]) -> str:
    """The database URL from the command line, else the environment, else the default."""
    if cli_value:
        return cli_value
    return environ.get(ENV_DB) or DEFAULT_DB


def display_db_url(url: str) -> str:
    """A database URL as it may be shown (in errors, logs): its password, in the user part
    or a ``password=`` parameter, replaced by ``***``; paths and URLs without one as given."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<a database URL that cannot be parsed>"
    netloc, query = parts.netloc, parts.query
    userinfo, at, hosts = netloc.rpartition("@")
    if ":" in userinfo:
        netloc = userinfo.split(":", 1)[0] + ":***" + at + hosts
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        query = urlencode(
            [(key, "***" if key == "password" else value) for key, value in pairs], safe="*"
        )
    if (netloc, query) == (parts.netloc, parts.query):
        return url
    shown = f"{parts.scheme}://{netloc}{parts.path}"
    return shown + (f"?{query}" if query else "") + (f"#{parts.fragment}" if parts.fragment else "")


async def open_repository(url: str) -> Repository:
    """Open (creating or migrating) the repository ``url`` names."""
    if url == "memory://":
        from .adapters.memory import InMemoryRepository

        return InMemoryRepository()
    if url.startswith(POSTGRES_SCHEMES):
        return await _open_postgres(url)
    if url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://")
        if not path.startswith("/"):
            raise StorageError(f"{url!r}: write sqlite:///relative/or/absolute path (three /)")
        path = path[1:] if path.startswith("//") else path.removeprefix("/")
        # sqlite:///data/x.db is relative data/x.db; sqlite:////srv/x.db is absolute.
        url = path
    elif "://" in url:
        scheme = url.split("://", 1)[0]
        raise StorageError(
            f"unsupported database URL scheme {scheme!r} (use a path, sqlite:///PATH, memory://"
            " or postgresql://...)"
        )
    from .adapters.sqlite import SQLiteRepository

    return await SQLiteRepository.open(Path(url))


async def _open_postgres(url: str) -> Repository:
    try:
        from .adapters.postgres import PostgresRepository
    except ImportError as exc:  # psycopg is an optional dependency
        raise StorageError(
            f"PostgreSQL needs the postgres extra: pip install 'evcharge-core[postgres]' ({exc})"
        ) from exc
    return await PostgresRepository.open(url)

"""The cluster's own tables in the PostgreSQL database, with their own migrations.

They are kept apart from the repository's schema (``schema_migrations``,
:data:`evcharge_core.adapters.postgres.MIGRATIONS`) so that the two evolve independently:
:data:`MIGRATIONS` here is recorded in ``evcharge_cluster_migrations`` (``version``,
``description``, ``applied_at``), step ``n`` taking the cluster schema from version ``n`` to
``n + 1`` in one transaction. Openings hold the advisory lock :data:`MIGRATION_LOCK` while
they read the version and migrate, so processes starting together migrate once.
"""

from __future__ import annotations

from typing import Any, Final

import attrs
import psycopg
from psycopg import AsyncConnection

from ..errors import StorageError

__all__ = ["MIGRATIONS", "MIGRATION_LOCK", "Migration", "migrate"]

MIGRATION_LOCK: Final = 0x65766331  # "evc1": not the repository's lock
"""The ``pg_advisory_lock`` key held while the cluster schema is migrated."""


@attrs.frozen
class Migration:
    description: str
    statements: tuple[str, ...]


MIGRATIONS: Final = (
    Migration(
        "station leases and large bus payloads",
        (
            """CREATE TABLE evcharge_station_leases (
                station_id text COLLATE "C" PRIMARY KEY,
                node_id text NOT NULL,
                protocol text NOT NULL,
                acquired_at timestamptz NOT NULL,
                expires_at timestamptz NOT NULL
            )""",
            "CREATE INDEX evcharge_station_leases_node ON evcharge_station_leases (node_id)",
            "CREATE INDEX evcharge_station_leases_expiry ON evcharge_station_leases (expires_at)",
            """CREATE TABLE evcharge_cluster_payloads (
                id bigserial PRIMARY KEY,
                body text NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now()
            )""",
        ),
    ),
    Migration(
        "cluster-wide roles held by one node at a time (the load balancer)",
        (
            """CREATE TABLE evcharge_cluster_roles (
                role text COLLATE "C" PRIMARY KEY,
                node_id text NOT NULL,
                expires_at timestamptz NOT NULL
            )""",
        ),
    ),
)
"""The cluster schema's steps, oldest first."""


async def migrate(conn: AsyncConnection[Any], shown: str) -> int:
    """Bring the cluster tables up to date on ``conn`` (autocommit); return the version.

    Raises :class:`~evcharge_core.errors.StorageError` for a schema newer than this code."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS evcharge_cluster_migrations (
                version integer PRIMARY KEY,
                description text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )"""
        )
        cursor = await conn.execute(
            "SELECT coalesce(max(version), 0) FROM evcharge_cluster_migrations"
        )
        row = await cursor.fetchone()
        version = int(row[0]) if row is not None else 0
        if version > len(MIGRATIONS):
            raise StorageError(
                f"{shown}: the cluster schema is at version {version}, newer than this "
                f"evcharge_core knows ({len(MIGRATIONS)}); upgrade evcharge_core"
            )
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            async with conn.transaction():
                for statement in step.statements:
                    await conn.execute(statement.encode())
                await conn.execute(
                    "INSERT INTO evcharge_cluster_migrations (version, description)"
                    " VALUES (%s, %s)",
                    (number, step.description),
                )
        return len(MIGRATIONS)
    except psycopg.Error as exc:
        raise StorageError(f"{shown}: cannot migrate the cluster tables: {exc}") from exc
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

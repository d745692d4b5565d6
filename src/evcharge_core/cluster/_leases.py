"""Station leases: which gateway process holds each connected station.

A lease is a row of ``evcharge_station_leases``: the station, the node (gateway process)
holding its websocket, the protocol it speaks and when the lease expires. The holder renews
all of its leases in one statement every ``renew_interval`` (a third of the time to live, by
default 10 s of 30 s); a lease not renewed in time has expired, and any process may then
delete it and record its station disconnected. A station connecting to a process takes its
lease over at once, expired or not (it is the station that knows where it is connected).

:class:`LeaseStore` holds the SQL; :class:`LeasedConnectionService` is the
:class:`~evcharge_core.connections.ConnectionService` of a process in a cluster: it takes a
station's lease before storing it connected, and on disconnection stores it disconnected
only if the lease was still its own (the station may already be connected elsewhere).
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import attrs
import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..adapters.postgres import connection_options
from ..bootstrap import display_db_url
from ..clock import utc_now
from ..connections import ConnectionService
from ..domain.events import StationDisconnected
from ..domain.model import Connection, Station
from ..domain.values import Protocol
from ..errors import NotFound, StorageError
from ..ports import EventSink, Repository, StationQuery
from ._schema import migrate

__all__ = ["DEFAULT_LEASE_TTL", "Lease", "LeaseStore", "LeasedConnectionService"]

DEFAULT_LEASE_TTL: Final = 30.0
"""Seconds a lease lives without renewal: a killed process's stations are recorded
disconnected at most this long (plus one renewal interval) after it died, unless they
reconnected elsewhere first."""

_CHUNK: Final = 2000
_PAGE: Final = 500

logger = logging.getLogger(__name__)


@attrs.frozen
class Lease:
    """A live lease: the node holding the station and the protocol it speaks there."""

    station_id: str
    node_id: str
    protocol: str


class LeaseStore:
    """The lease table, for the node ``node_id``; leases live ``ttl`` seconds.

    Open it with :meth:`open` (which also migrates the cluster tables); it keeps a small
    connection pool of its own, which the PostgreSQL bus shares."""

    def __init__(
        self, pool: AsyncConnectionPool[AsyncConnection[Any]], shown: str, node_id: str, ttl: float
    ) -> None:
        self.pool = pool
        self.shown = shown
        self.node_id = node_id
        self.ttl = ttl

    @classmethod
    async def open(
        cls, url: str, node_id: str, *, ttl: float = DEFAULT_LEASE_TTL, max_connections: int = 4
    ) -> LeaseStore:
        shown = display_db_url(url)
        if ttl <= 0:
            raise ValueError(f"the lease time to live must be positive, got {ttl}")
        try:
            conn = await AsyncConnection.connect(
                url, autocommit=True, connect_timeout=10, **connection_options(url)
            )
        except psycopg.Error as exc:
            raise StorageError(f"{shown}: cannot connect: {exc}") from exc
        try:
            await migrate(conn, shown)
        finally:
            await conn.close()
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=1,
            max_size=max_connections,
            kwargs={"autocommit": True, **connection_options(url)},
            timeout=10,
            open=False,
            name="evcharge-cluster",
        )
        try:
            await pool.open(wait=True, timeout=10)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise StorageError(f"{shown}: cannot open the cluster's pool: {exc}") from exc
        return cls(pool, shown, node_id, ttl)

    async def close(self) -> None:
        await self.pool.close()

    async def _rows(self, doing: str, query: bytes, params: Any = None) -> list[tuple[Any, ...]]:
        """Run one statement; a pooled connection found broken (the server restarted, the
        session was ended) is dropped and the statement sent again on another, until one
        that is not broken answers: after a restart every pooled connection may be broken
        (the pool drops each one returned broken), so every statement here may run up to
        the pool's size plus one times."""
        attempts = self.pool.max_size + 1
        for attempt in range(1, attempts + 1):
            conn: AsyncConnection[Any] | None = None
            try:
                async with self.pool.connection() as conn:
                    cursor = await conn.execute(query, params)
                    if cursor.description is None:
                        return []
                    return await cursor.fetchall()
            except (PoolTimeout, psycopg.Error) as exc:
                if attempt < attempts and conn is not None and conn.broken:
                    continue
                raise StorageError(f"{self.shown}: cannot {doing}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def notify(self, channel: str, payload: str) -> None:
        """``NOTIFY`` ``channel`` with ``payload`` (at most 8000 bytes)."""
        await self._rows("send a notification", b"SELECT pg_notify(%s, %s)", (channel, payload))

    async def acquire(self, station_id: str, protocol: str) -> str | None:
        """Take (or renew) the station's lease; return the node that held a live lease on it
        before, if another one did."""
        rows = await self._rows(
            "take a station lease",
            b"""WITH previous AS (
                    SELECT node_id FROM evcharge_station_leases
                    WHERE station_id = %(s)s AND expires_at > now()),
                taken AS (
                    INSERT INTO evcharge_station_leases
                        (station_id, node_id, protocol, acquired_at, expires_at)
                    VALUES (%(s)s, %(n)s, %(p)s, now(), now() + make_interval(secs => %(ttl)s))
                    ON CONFLICT (station_id) DO UPDATE SET node_id = excluded.node_id,
                        protocol = excluded.protocol, acquired_at = excluded.acquired_at,
                        expires_at = excluded.expires_at
                    RETURNING station_id)
                SELECT (SELECT node_id FROM previous), (SELECT count(*) FROM taken)""",
            {"s": station_id, "n": self.node_id, "p": protocol, "ttl": self.ttl},
        )
        previous = rows[0][0] if rows else None
        return None if previous in (None, self.node_id) else str(previous)

    async def release(self, station_id: str) -> bool:
        """Drop the station's lease if this node holds it; whether it did."""
        rows = await self._rows(
            "release a station lease",
            b"DELETE FROM evcharge_station_leases WHERE station_id = %s AND node_id = %s"
            b" RETURNING 1",
            (station_id, self.node_id),
        )
        return bool(rows)

    async def renew(self, station_ids: Iterable[str]) -> set[str]:
        """Renew this node's leases of ``station_ids`` (one statement per 2000); return the
        ones it no longer holds (taken over, or expired and swept)."""
        wanted = list(station_ids)
        kept: set[str] = set()
        for start in range(0, len(wanted), _CHUNK):
            chunk = wanted[start : start + _CHUNK]
            rows = await self._rows(
                "renew station leases",
                b"UPDATE evcharge_station_leases"
                b" SET expires_at = now() + make_interval(secs => %s)"
                b" WHERE node_id = %s AND station_id = ANY(%s) RETURNING station_id",
                (self.ttl, self.node_id, chunk),
            )
            kept.update(str(row[0]) for row in rows)
        return set(wanted) - kept

    async def claim_role(self, role: str) -> bool:
        """Take or renew the cluster-wide ``role`` for this node, for ``ttl`` seconds:
        ``True`` if this node holds it now, ``False`` while another node's claim lives."""
        rows = await self._rows(
            "claim a cluster role",
            b"INSERT INTO evcharge_cluster_roles AS r (role, node_id, expires_at)"
            b" VALUES (%(r)s, %(n)s, now() + make_interval(secs => %(ttl)s))"
            b" ON CONFLICT (role) DO UPDATE"
            b" SET node_id = EXCLUDED.node_id, expires_at = EXCLUDED.expires_at"
            b" WHERE r.node_id = EXCLUDED.node_id OR r.expires_at <= now()"
            b" RETURNING node_id",
            {"r": role, "n": self.node_id, "ttl": self.ttl},
        )
        return bool(rows)

    async def release_role(self, role: str) -> None:
        """Give ``role`` up at once (another node may claim it at its next round)."""
        await self._rows(
            "release a cluster role",
            b"DELETE FROM evcharge_cluster_roles WHERE role = %s AND node_id = %s",
            (role, self.node_id),
        )

    async def holder(self, station_id: str) -> Lease | None:
        """The station's live lease, if it has one."""
        rows = await self._rows(
            "read a station lease",
            b"SELECT node_id, protocol FROM evcharge_station_leases"
            b" WHERE station_id = %s AND expires_at > now()",
            (station_id,),
        )
        if not rows:
            return None
        return Lease(station_id, str(rows[0][0]), str(rows[0][1]))

    async def expire(self) -> list[str]:
        """Delete every expired lease (any node's); return their stations."""
        rows = await self._rows(
            "delete expired leases",
            b"DELETE FROM evcharge_station_leases WHERE expires_at <= now() RETURNING station_id",
        )
        return [str(row[0]) for row in rows]

    async def forget_own(self) -> int:
        """Delete the leases this node id holds (left by an earlier life of the process)."""
        rows = await self._rows(
            "delete this node's old leases",
            b"DELETE FROM evcharge_station_leases WHERE node_id = %s RETURNING 1",
            (self.node_id,),
        )
        return len(rows)

    async def live_station_ids(self) -> set[str]:
        """The stations with a live lease, whoever holds it."""
        rows = await self._rows(
            "read live leases",
            b"SELECT station_id FROM evcharge_station_leases WHERE expires_at > now()",
        )
        return {str(row[0]) for row in rows}

    async def put_payload(self, body: str) -> int:
        """Store a message too large for a notification; its id."""
        rows = await self._rows(
            "store a bus payload",
            b"INSERT INTO evcharge_cluster_payloads (body) VALUES (%s) RETURNING id",
            (body,),
        )
        return int(rows[0][0])

    async def get_payload(self, payload_id: int) -> str | None:
        rows = await self._rows(
            "read a bus payload",
            b"SELECT body FROM evcharge_cluster_payloads WHERE id = %s",
            (payload_id,),
        )
        return str(rows[0][0]) if rows else None

    async def sweep_payloads(self, older_than_s: float = 300.0) -> None:
        await self._rows(
            "delete old bus payloads",
            b"DELETE FROM evcharge_cluster_payloads"
            b" WHERE created_at < now() - make_interval(secs => %s)",
            (older_than_s,),
        )


def _closed(connection: Connection) -> Connection:
    return attrs.evolve(connection, connected=False, connected_since=None)


class LeasedConnectionService(ConnectionService):
    """A :class:`~evcharge_core.connections.ConnectionService` that holds station leases.

    ``on_taken(previous_node, station_id)`` is awaited when a connecting station's live
    lease belonged to another node, so that node can close its stale socket."""

    def __init__(
        self,
        repository: Repository,
        leases: LeaseStore,
        *,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        on_taken: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        super().__init__(repository, clock=clock, events=events)
        self.leases = leases
        self.on_taken = on_taken
        self._held: dict[str, int] = {}
        self._counter = itertools.count(1)
        self._recent: dict[str, int] = {}
        self._unswept: set[str] = set()

    def held(self) -> dict[str, int]:
        """The stations whose lease this process took, with a number that changes each time
        the lease is taken again (a renewal compares it before acting)."""
        return dict(self._held)

    def holds(self, station_id: str) -> bool:
        """Whether this process took the station's lease (and has not let it go)."""
        return station_id in self._held

    def forget(self, station_id: str) -> None:
        """Stop renewing the station's lease (it was taken over)."""
        self._held.pop(station_id, None)

    def still_held(self, station_id: str, generation: int) -> bool:
        return self._held.get(station_id) == generation

    async def connected(
        self, station_id: str, subprotocol: Protocol, *, record_protocol: bool
    ) -> Station:
        previous = await self.leases.acquire(station_id, subprotocol.value)
        generation = self._held[station_id] = next(self._counter)
        self._recent[station_id] = generation
        if previous is not None:
            logger.info("station %s: lease taken over from node %s", station_id, previous)
            if self.on_taken is not None:
                try:
                    await self.on_taken(previous, station_id)
                except Exception:  # the old node learns on its next renewal anyway
                    logger.warning("could not tell node %s about %s", previous, station_id)
        try:
            return await super().connected(station_id, subprotocol, record_protocol=record_protocol)
        except NotFound:
            self._held.pop(station_id, None)
            await self.leases.release(station_id)
            raise

    async def disconnected(self, station_id: str) -> Station | None:
        self._held.pop(station_id, None)
        if await self.leases.release(station_id):
            return await super().disconnected(station_id)
        # Connected to another process meanwhile: its state there is not ours to change.
        self._latest_seen.pop(station_id, None)
        self._last_written.pop(station_id, None)
        logger.info("station %s: closed here, its lease is held elsewhere", station_id)
        return None

    async def confirm_recent(self) -> int:
        """Store as connected again the stations leased here since the last call that are
        stored disconnected, if this process still holds them; how many.

        Two processes write a station's connection state in two steps each (the lease, then
        the station), so a process closing a station's old connection, or sweeping its
        expired lease, can store it disconnected just after the station connected to
        another process and was stored connected there. Each renewal calls this to undo
        such a write within one renewal interval."""
        recent, self._recent = self._recent, {}
        wanted = [s for s, g in recent.items() if self._held.get(s) == g]
        fixed = 0
        now = self.clock()
        for start in range(0, len(wanted), _PAGE):
            chunk = wanted[start : start + _PAGE]
            try:
                async with self.repository.transaction() as tx:
                    found = await tx.stations.get_many(chunk)
                    changed = [
                        attrs.evolve(
                            s,
                            connection=attrs.evolve(
                                s.connection, connected=True, connected_since=now, last_seen=now
                            ),
                        )
                        for s in found.values()
                        if not s.connection.connected
                    ]
                    if changed:
                        await tx.stations.save_many(changed)
            except BaseException:  # check the rest again at the next round
                for station_id in wanted[start:]:
                    self._recent.setdefault(station_id, recent[station_id])
                raise
            fixed += len(changed)
        if fixed:
            logger.info("stored %d stations connected again after a racing write", fixed)
        return fixed

    async def reset_connections(self) -> int:
        """At start-up: forget this node's old leases and the expired ones, then store as
        disconnected the stations stored connected that no live lease holds."""
        await self.leases.forget_own()
        expired = await self.leases.expire()
        live = await self.leases.live_station_ids()
        stale: list[str] = []
        page = 1
        while True:
            query = StationQuery(page=page, page_size=_PAGE, connected=True)
            async with self.repository.transaction() as tx:
                result = await tx.stations.list(query)
            stale.extend(s.id for s in result.items if s.id not in live)
            if page * _PAGE >= result.total or not result.items:
                break
            page += 1
        count = await self.store_disconnected(stale)
        if count or expired:
            logger.info("marked %d stations disconnected (%d expired leases)", count, len(expired))
        return count

    async def sweep(self) -> int:
        """Delete expired leases (a dead process's) and store their stations disconnected,
        unless they took a lease again meanwhile; how many were stored."""
        expired = await self.leases.expire()
        # The leases are deleted now: stations not stored yet (a failed round) are kept
        # here for the next one, as no lease is left to find them by.
        self._unswept.update(expired)
        if not self._unswept:
            return 0
        pending = sorted(self._unswept)
        live = await self.leases.live_station_ids()
        count = await self.store_disconnected([s for s in pending if s not in live])
        self._unswept.difference_update(pending)
        logger.info(
            "%d station leases expired (a process stopped renewing them); %d stations stored "
            "disconnected",
            len(pending),
            count,
        )
        return count

    async def store_disconnected(self, station_ids: Sequence[str]) -> int:
        """Store these stations disconnected (those stored connected), publishing
        :class:`~evcharge_core.domain.events.StationDisconnected` for each."""
        count = 0
        for start in range(0, len(station_ids), _PAGE):
            chunk = station_ids[start : start + _PAGE]
            async with self.repository.transaction() as tx:
                found = await tx.stations.get_many(chunk)
                changed = [
                    attrs.evolve(s, connection=_closed(s.connection))
                    for s in found.values()
                    if s.connection.connected
                ]
                if changed:
                    await tx.stations.save_many(changed)
            count += len(changed)
            if changed and self.events is not None:
                now = self.clock()
                self.events.publish([StationDisconnected(s.id, now) for s in changed])
        return count

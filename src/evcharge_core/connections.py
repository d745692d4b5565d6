"""Station connections: the use cases a transport calls around a station's websocket.

:class:`ConnectionService` is what a transport (the reference
:class:`~evcharge_core.adapters.websocket.WebsocketGateway`, or an embedder's own) calls at
each step of a station's connection; it owns the clock and the repository, and leaves every
decision to the pure :func:`~evcharge_core.domain.handshake.decide_handshake`:

1. :meth:`~ConnectionService.check_handshake` — during the HTTP upgrade, before any
   websocket opens: load the station, decide.
2. :meth:`~ConnectionService.connected` — once the websocket is open: store
   ``connected=True``, ``connected_since`` and ``last_seen`` (now) and the negotiated
   subprotocol; for a station whose protocol was unset, store the negotiated protocol too.
3. :meth:`~ConnectionService.seen` — for every frame the station sends. Writing the whole
   station for each frame would make a busy station's MeterValues cost a database write
   each, so the write is **throttled**: at most once per ``seen_interval`` (default 60 s)
   per station. The newest instant is kept in memory in between, so the stored
   ``last_seen`` is at most ``seen_interval`` old while connected, and exact after
   :meth:`~ConnectionService.disconnected`.
4. :meth:`~ConnectionService.disconnected` — when the websocket closed: ``connected=False``,
   ``connected_since`` cleared (it describes a connection that no longer exists),
   ``last_seen`` the newest instant seen and the subprotocol kept as last negotiated.

:meth:`~ConnectionService.reset_connections` runs when a server starts: a process that
crashed left its stations stored as connected, and nothing else would ever clear them.
(Several gateway processes sharing one database use
:class:`~evcharge_core.cluster.LeasedConnectionService` instead, which resets only the stations
no live lease holds; see SPEC §9.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

import attrs

from .clock import utc_now
from .domain.events import StationConnected, StationDisconnected
from .domain.handshake import Accept, Refuse, decide_handshake
from .domain.model import Connection, Station
from .domain.values import Protocol
from .errors import NotFound
from .ports import EventSink, Repository, StationQuery

__all__ = ["DEFAULT_SEEN_INTERVAL", "ConnectionService"]

DEFAULT_SEEN_INTERVAL: Final = timedelta(seconds=60)
_RESET_PAGE_SIZE: Final = 500

logger = logging.getLogger(__name__)


class ConnectionService:
    """Handshake checks and connection state of stations, stored through ``repository``.

    ``clock`` returns aware UTC datetimes; ``seen_interval`` is the throttle of
    :meth:`seen`. One instance serves every connection of one gateway process: the
    throttle's memory lives here. ``events``, if given, receives
    :class:`~evcharge_core.domain.events.StationConnected` and
    :class:`~evcharge_core.domain.events.StationDisconnected` once each is stored.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        clock: Callable[[], datetime] = utc_now,
        seen_interval: timedelta = DEFAULT_SEEN_INTERVAL,
        events: EventSink | None = None,
    ) -> None:
        self.repository = repository
        self.events = events
        self.clock = clock
        self.seen_interval = seen_interval
        self._latest_seen: dict[str, datetime] = {}
        self._last_written: dict[str, datetime] = {}

    async def check_handshake(
        self,
        station_id: str,
        offered_subprotocols: Sequence[str],
        basic_auth: tuple[str, str] | None,
        *,
        tls: bool,
        client_cert_cn: str | None = None,
    ) -> Accept | Refuse:
        """Load the station and decide its handshake (see :mod:`.domain.handshake`)."""
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
        return decide_handshake(
            station, offered_subprotocols, basic_auth, tls=tls, client_cert_cn=client_cert_cn
        )

    async def connected(
        self, station_id: str, subprotocol: Protocol, *, record_protocol: bool
    ) -> Station:
        """Store the station as connected with ``subprotocol``; return the stored station.

        With ``record_protocol`` the station's ``protocol`` is set to ``subprotocol`` too,
        unless an operator set one in the meantime. Raises
        :class:`~evcharge_core.errors.NotFound` if the station was deleted since the
        handshake.
        """
        now = self.clock()
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            if station is None:
                raise NotFound("station", station_id)
            connection = Connection(
                connected=True, connected_since=now, last_seen=now, subprotocol=subprotocol
            )
            if record_protocol and station.protocol is None:
                station = attrs.evolve(station, connection=connection, protocol=subprotocol)
            else:
                station = attrs.evolve(station, connection=connection)
            await tx.stations.save(station)
        self._latest_seen[station_id] = now
        self._last_written[station_id] = now
        if self.events is not None:
            self.events.publish([StationConnected(station_id, now, subprotocol.value)])
        return station

    async def seen(self, station_id: str) -> bool:
        """Note that the station sent something now; ``True`` if that was written.

        Throttled: written only if the last write for this station is ``seen_interval`` old
        or more (or there was none in this process).
        """
        now = self.clock()
        self._latest_seen[station_id] = now
        written = self._last_written.get(station_id)
        if written is not None and now - written < self.seen_interval:
            return False
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            if station is None:
                return False
            connection = attrs.evolve(station.connection, last_seen=now)
            await tx.stations.save(attrs.evolve(station, connection=connection))
        self._last_written[station_id] = now
        return True

    async def disconnected(self, station_id: str) -> Station | None:
        """Store the station as disconnected; ``None`` if it no longer exists."""
        latest = self._latest_seen.pop(station_id, None)
        self._last_written.pop(station_id, None)
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            if station is None:
                return None
            station = attrs.evolve(station, connection=_closed(station.connection, latest))
            await tx.stations.save(station)
        if self.events is not None:
            self.events.publish([StationDisconnected(station_id, self.clock())])
        return station

    async def reset_connections(self) -> int:
        """Store every station as disconnected; return how many were stored as connected.

        For a server's start-up, before it accepts connections. Works in pages of 500
        stations, one transaction each, always re-reading the first page of those still
        connected (the ones just reset drop out of the filter).
        """
        query = StationQuery(page=1, page_size=_RESET_PAGE_SIZE, connected=True)
        count = 0
        remaining: int | None = None
        while True:
            async with self.repository.transaction() as tx:
                page = await tx.stations.list(query)
                if remaining is not None and page.total >= remaining:
                    # No progress: an adapter whose filter disagrees with its saves. Stop
                    # rather than loop for ever.
                    logger.warning("reset of stale connections made no progress; stopping")
                    break
                remaining = page.total
                stale = [
                    attrs.evolve(s, connection=_closed(s.connection, None)) for s in page.items
                ]
                if stale:
                    await tx.stations.save_many(stale)
            count += len(stale)
            if len(stale) >= page.total:
                break
        if count:
            logger.info("marked %d stations disconnected that were stored as connected", count)
        return count


def _closed(connection: Connection, latest_seen: datetime | None) -> Connection:
    last_seen = connection.last_seen
    if latest_seen is not None and (last_seen is None or latest_seen > last_seen):
        last_seen = latest_seen
    return attrs.evolve(connection, connected=False, connected_since=None, last_seen=last_seen)

"""One gateway process in a cluster: :class:`ClusterNode` and what it wires.

A node is built before the services (see :func:`evcharge_core.serve.build_core`'s
``cluster``) and gives them:

* :attr:`ClusterNode.events`, a :class:`ClusterEventBus`: a
  :class:`~evcharge_core.bus.LocalEventBus` whose events also go to every other node, and
  whose subscribers also get every other node's events;
* :meth:`ClusterNode.connection_service`, a
  :class:`~evcharge_core.cluster.LeasedConnectionService` (station leases);
* :meth:`ClusterNode.sessions`, the :class:`RoutedSessions` the
  :class:`~evcharge_core.commands.CommandService` finds stations through: the local gateway
  first, else the node holding the station's lease, reached through the transport.

While started, the node renews its leases every ``renew_interval`` seconds, closes the
websockets of stations whose lease another node took (it is also told at once, by a message
from that node), and deletes expired leases, storing their stations disconnected.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final, cast

from ..bootstrap import POSTGRES_SCHEMES
from ..bus import LocalEventBus
from ..commands import (
    DEFAULT_TIMEOUT,
    ConfigurationResult,
    ReportResult,
    StationCommands,
    SupportsCommands,
)
from ..domain.events import Event
from ..errors import CommandTimeout, Conflict, StationNotConnected, StorageError
from ..ports import Repository
from ._leases import DEFAULT_LEASE_TTL, Lease, LeasedConnectionService, LeaseStore
from ._transport import NatsTransport, PostgresTransport, Transport, Unreachable
from ._wire import (
    COMMAND_METHODS,
    decode_error,
    decode_event,
    decode_result,
    decode_value,
    dumps,
    encode_error,
    encode_event,
    encode_result,
    encode_value,
)

if TYPE_CHECKING:
    from ..adapters.websocket import WebsocketGateway

__all__ = [
    "ROUTING_MARGIN",
    "ClusterEventBus",
    "ClusterNode",
    "RemoteCommands",
    "RoutedSessions",
    "default_node_id",
    "open_cluster",
]

logger = logging.getLogger(__name__)

ROUTING_MARGIN: Final = 5.0
"""Seconds a routed command waits beyond its own timeout for the holding node's answer."""
TAKEN_REASON: Final = "connected to another server"
SETTING_UP_WAIT: Final = 5.0
"""Seconds a routed command waits for the session of a station whose lease was just taken."""
_BATCH_BYTES: Final = 6000


def default_node_id() -> str:
    """``HOSTNAME-PID``: unique among the processes of a cluster."""
    return f"{socket.gethostname()}-{os.getpid()}"


class ClusterEventBus(LocalEventBus):
    """A :class:`~evcharge_core.bus.LocalEventBus` shared by every node: what is published
    here is delivered here and sent to the other nodes; their events are delivered here."""

    def __init__(self, node: ClusterNode) -> None:
        super().__init__()
        self._node = node

    def publish(self, events: Sequence[Event]) -> None:
        super().publish(events)
        if events:
            self._node.forward(events)

    def deliver(self, events: Sequence[Event]) -> None:
        """Hand another node's events to this node's subscribers."""
        super().publish(events)


class RemoteSession:
    """A station's session on another node, as the command service sees it."""

    def __init__(self, commands: RemoteCommands) -> None:
        self.commands: StationCommands = commands


class RemoteCommands:
    """:class:`~evcharge_core.commands.StationCommands` run by the node holding the
    station's websocket. Errors come back as the same exceptions."""

    def __init__(self, node: ClusterNode, lease: Lease) -> None:
        from ..ocpp16.commands import Ocpp16Commands
        from ..ocpp201.commands import Ocpp201Commands

        self.node = node
        self.lease = lease
        helpers: Any = (
            Ocpp201Commands(cast(Any, None))
            if lease.protocol == "ocpp2.0.1"
            else Ocpp16Commands(cast(Any, None))
        )
        self._helpers = helpers  # the password rules need no connection
        self.password_key: str = helpers.password_key

    def is_password_key(self, key: str) -> bool:
        return bool(self._helpers.is_password_key(key))

    def password_for(self, value: str) -> str:
        return str(self._helpers.password_for(value))

    def password_value(self, password: str) -> str:
        return str(self._helpers.password_value(password))

    async def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        timeout = kwargs.get("timeout")
        wait = DEFAULT_TIMEOUT if timeout is None else float(timeout)
        station_id = self.lease.station_id
        body = dumps(
            {
                "op": "command",
                "station": station_id,
                "method": method,
                "args": encode_value(list(args)),
                "kwargs": encode_value(kwargs),
            }
        )
        try:
            reply = await self.node.transport.request(
                self.lease.node_id, body, wait + ROUTING_MARGIN
            )
        except Unreachable:
            raise StationNotConnected(station_id) from None
        except TimeoutError:
            raise CommandTimeout(station_id, method, wait) from None
        message = json.loads(reply)
        if "error" in message:
            raise decode_error(message, station_id, method)
        return decode_result(message)

    async def get_configuration(
        self, keys: Sequence[str] = (), *, timeout: float | None = None
    ) -> ConfigurationResult:
        result: ConfigurationResult = await self._call(
            "get_configuration", list(keys), timeout=timeout
        )
        return result

    async def change_configuration(
        self, key: str, value: str, *, timeout: float | None = None
    ) -> str:
        return str(await self._call("change_configuration", key, value, timeout=timeout))

    async def get_base_report(
        self, report_base: str = "FullInventory", *, timeout: float | None = None
    ) -> ReportResult:
        result: ReportResult = await self._call("get_base_report", report_base, timeout=timeout)
        return result

    async def trigger_message(
        self,
        message: str,
        connector_id: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return str(
            await self._call(
                "trigger_message", message, connector_id, evse_id=evse_id, timeout=timeout
            )
        )

    async def reset(
        self,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return str(await self._call("reset", type, evse_id=evse_id, timeout=timeout))

    async def remote_start(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: Mapping[str, Any] | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return str(
            await self._call(
                "remote_start",
                id_tag,
                connector_id,
                charging_profile,
                evse_id=evse_id,
                timeout=timeout,
            )
        )

    async def remote_stop(self, transaction_id: str, *, timeout: float | None = None) -> str:
        return str(await self._call("remote_stop", transaction_id, timeout=timeout))

    async def unlock(
        self, connector_id: int, *, evse_id: int | None = None, timeout: float | None = None
    ) -> str:
        return str(await self._call("unlock", connector_id, evse_id=evse_id, timeout=timeout))

    async def change_availability(
        self,
        connector_id: int,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return str(
            await self._call(
                "change_availability", connector_id, type, evse_id=evse_id, timeout=timeout
            )
        )

    async def reserve_now(
        self,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        reservation_id: int,
        parent_id_tag: str | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return str(
            await self._call(
                "reserve_now",
                connector_id,
                id_tag,
                expiry_date,
                reservation_id,
                parent_id_tag,
                evse_id=evse_id,
                timeout=timeout,
            )
        )

    async def cancel_reservation(self, reservation_id: int, *, timeout: float | None = None) -> str:
        return str(await self._call("cancel_reservation", reservation_id, timeout=timeout))

    async def set_charging_profile(
        self,
        connector_id: int,
        profile: Mapping[str, Any],
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return str(
            await self._call(
                "set_charging_profile", connector_id, profile, evse_id=evse_id, timeout=timeout
            )
        )

    async def clear_charging_profile(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        return str(
            await self._call(
                "clear_charging_profile",
                profile_id,
                connector_id,
                purpose,
                stack_level,
                evse_id=evse_id,
                timeout=timeout,
            )
        )

    async def call(
        self, action: str, payload: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self._call("call", action, payload, timeout=timeout)
        return result


class RoutedSessions:
    """Live sessions across the cluster, for :class:`~evcharge_core.commands.CommandService`
    (and the admin API's disconnect): this node's gateway first, else the lease holder."""

    def __init__(self, node: ClusterNode, gateway: WebsocketGateway) -> None:
        self.node = node
        self.gateway = gateway

    def session(self, station_id: str) -> object | None:
        """The station's session on this node (``None`` if it is connected elsewhere)."""
        return self.gateway.session(station_id)

    def connected_station_ids(self) -> frozenset[str]:
        """The stations connected to this node."""
        return self.gateway.connected_station_ids()

    async def _remote_lease(self, station_id: str) -> Lease | None:
        lease = await self.node.leases.holder(station_id)
        if lease is None or lease.node_id == self.node.node_id:
            return None
        return lease

    async def find_session(self, station_id: str) -> object | None:
        """The station's session here, or a proxy to it on the node holding its lease;
        ``None`` if no live lease holds it."""
        local = self.gateway.session(station_id)
        if local is not None:
            return local
        lease = await self._remote_lease(station_id)
        return None if lease is None else RemoteSession(RemoteCommands(self.node, lease))

    async def disconnect(self, station_id: str) -> bool:
        """Close the station's websocket wherever it is; ``False`` if it has none."""
        if await self.gateway.disconnect(station_id):
            return True
        lease = await self._remote_lease(station_id)
        if lease is None:
            return False
        body = dumps({"op": "disconnect", "station": station_id})
        try:
            reply = await self.node.transport.request(lease.node_id, body, ROUTING_MARGIN * 2)
        except (Unreachable, TimeoutError):
            return False
        return bool(json.loads(reply).get("ok"))


class ClusterNode:
    """This process's part in a cluster (see the module docstring): ``node_id`` (unique
    per process), its ``leases`` and the ``transport`` to the other nodes."""

    def __init__(
        self,
        node_id: str,
        leases: LeaseStore,
        transport: Transport,
        *,
        renew_interval: float | None = None,
    ) -> None:
        self.node_id = node_id
        self.leases = leases
        self.transport = transport
        self.renew_interval = leases.ttl / 3 if renew_interval is None else renew_interval
        self.events = ClusterEventBus(self)
        self.connections: LeasedConnectionService | None = None
        self.gateway: WebsocketGateway | None = None
        self._started = False
        self._renewer: asyncio.Task[None] | None = None
        self._outbox: list[dict[str, Any]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._roles: dict[str, list[Callable[[bool], None]]] = {}
        self.roles_held: set[str] = set()
        """The cluster-wide roles this node holds now (see :meth:`hold_role`)."""

    # --- wiring --------------------------------------------------------------------------

    def connection_service(self, repository: Repository) -> LeasedConnectionService:
        """The connection service of this node's gateway."""
        self.connections = LeasedConnectionService(
            repository, self.leases, events=self.events, on_taken=self._tell_taken
        )
        return self.connections

    def sessions(self, gateway: WebsocketGateway) -> RoutedSessions:
        """Where this node's commands find stations."""
        self.gateway = gateway
        return RoutedSessions(self, gateway)

    def hold_role(self, role: str, callback: Callable[[bool], None]) -> None:
        """Compete for the cluster-wide ``role``, held by one live node at a time: the node
        claims it at :meth:`start` and at each renewal round; ``callback(True)`` when this
        node takes it, ``callback(False)`` when it loses it (a renewal that failed: the
        database is unreachable, so another node may take it once the claim expires). A
        dead node's role passes to another within the lease time to live plus a round."""
        self._roles.setdefault(role, []).append(callback)
        if self._started:  # claim now rather than at the next round
            self._spawn(self.claim_roles())

    async def claim_roles(self) -> None:
        """One round of claims of the roles of :meth:`hold_role`."""
        # A role may be asked for while this round awaits the database: go over a copy.
        for role, callbacks in list(self._roles.items()):
            try:
                held = await self.leases.claim_role(role)
            except StorageError as error:
                logger.warning("claiming the cluster role %s failed: %s", role, error)
                held = False
            if held == (role in self.roles_held):
                continue
            if held:
                logger.info("node %s now holds the cluster role %s", self.node_id, role)
                self.roles_held.add(role)
            else:
                logger.info("node %s no longer holds the cluster role %s", self.node_id, role)
                self.roles_held.discard(role)
            for callback in callbacks:
                try:
                    callback(held)
                except Exception:
                    logger.exception("a callback of the cluster role %s failed", role)

    # --- life cycle ----------------------------------------------------------------------

    async def start(self) -> None:
        """Receive messages, claim roles and renew leases until :meth:`aclose`."""
        await self.transport.start(self.node_id, self)
        self._started = True
        await self.claim_roles()
        self._renewer = asyncio.get_running_loop().create_task(self._renew_loop())

    async def aclose(self) -> None:
        """Stop renewing, send the events not sent yet, close the transport and the pool.
        (Close the gateway first: its disconnections release the leases.)"""
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        if self._flusher is not None:
            await asyncio.gather(self._flusher, return_exceptions=True)
        self._started = False
        for role in sorted(self.roles_held):
            self.roles_held.discard(role)
            for callback in list(self._roles.get(role, ())):  # stop acting on it first
                try:
                    callback(False)  # noqa: FBT003 - the callback's one argument
                except Exception:
                    logger.exception("a callback of the cluster role %s failed", role)
            try:
                await self.leases.release_role(role)
            except StorageError as error:
                logger.warning("releasing the cluster role %s failed: %s", role, error)
        await self.transport.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.leases.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- leases --------------------------------------------------------------------------

    async def _renew_loop(self) -> None:
        rounds = 0
        while True:
            await asyncio.sleep(self.renew_interval)
            try:
                await self.renew()
                rounds += 1
                if rounds % 30 == 0:
                    await self.leases.sweep_payloads()
            except StorageError as error:
                logger.warning("renewing station leases failed: %s", error)
            except Exception:  # a bug in one round must not end the renewals (and roles)
                logger.exception("a round of station lease renewals failed")
            try:
                await self.claim_roles()
            except Exception:
                logger.exception("a round of cluster role claims failed")

    async def renew(self) -> None:
        """One renewal round: renew this node's leases, close the stations it lost, delete
        expired leases (storing their stations disconnected), and store connected again
        the stations leased since the last round that a racing write stored disconnected
        (see :meth:`LeasedConnectionService.confirm_recent`)."""
        connections = self.connections
        if connections is None:
            return
        held = connections.held()
        lost = await self.leases.renew(held)
        for station_id in lost:
            if connections.still_held(station_id, held[station_id]):
                logger.info("station %s: lease lost; closing its connection here", station_id)
                # Closing waits for the station's closing handshake (seconds for one that
                # went away): in the background, so the round renews the other leases and
                # the roles in time.
                connections.forget(station_id)
                self._spawn(self._close_stale(station_id))
        await connections.sweep()
        await connections.confirm_recent()

    async def _close_stale(self, station_id: str) -> None:
        if self.connections is not None:
            self.connections.forget(station_id)
        if self.gateway is not None:
            await self.gateway.disconnect(station_id, reason=TAKEN_REASON)

    async def _tell_taken(self, previous_node: str, station_id: str) -> None:
        body = dumps({"op": "taken", "station": station_id, "by": self.node_id})
        await self.transport.send(previous_node, body)

    async def _on_taken(self, station_id: str) -> None:
        if self.connections is None or not self.connections.holds(station_id):
            return
        lease = await self.leases.holder(station_id)
        if lease is None or lease.node_id != self.node_id:
            logger.info(
                "station %s connected to node %s; closing it here",
                station_id,
                lease.node_id if lease else "?",
            )
            await self._close_stale(station_id)

    # --- events --------------------------------------------------------------------------

    def forward(self, events: Sequence[Event]) -> None:
        """Send events published here to the other nodes (batched, in the background)."""
        if not self._started:
            return
        self._outbox.extend(encode_event(e) for e in events)
        if self._flusher is None or self._flusher.done():
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return
            self._flusher = loop.create_task(self._flush())

    async def _flush(self) -> None:
        while self._outbox:
            batch, self._outbox = self._outbox, []
            for body in self._bodies(batch):
                try:
                    await self.transport.broadcast(body)
                except Exception:
                    logger.exception("cluster: sending %d events failed", len(batch))

    def _bodies(self, batch: list[dict[str, Any]]) -> list[str]:
        bodies: list[str] = []
        chunk: list[str] = []
        size = 0
        for event in batch:
            text = dumps(event)
            if chunk and size + len(text) > _BATCH_BYTES:
                bodies.append(self._body(chunk))
                chunk, size = [], 0
            chunk.append(text)
            size += len(text) + 1
        if chunk:
            bodies.append(self._body(chunk))
        return bodies

    def _body(self, events: list[str]) -> str:
        return '{"from":' + json.dumps(self.node_id) + ',"events":[' + ",".join(events) + "]}"

    # --- the inbox (see Transport) -------------------------------------------------------

    async def on_request(self, body: str) -> str:
        """Run a command (or a disconnection) for another node; the answer to send back."""
        message = json.loads(body)
        station_id = str(message.get("station", ""))
        op = message.get("op")
        if op == "disconnect":
            done = self.gateway is not None and await self.gateway.disconnect(station_id)
            return dumps({"ok": done})
        method = str(message.get("method", ""))
        try:
            if op != "command" or method not in COMMAND_METHODS:
                raise Conflict(f"unknown cluster request {op!r} {method!r}")
            session = await self._local_session(station_id)
            if session is None:
                raise StationNotConnected(station_id)
            if not isinstance(session, SupportsCommands):
                raise Conflict(
                    f"station {station_id} is connected, but commands are not implemented "
                    "yet for its protocol"
                )
            args = decode_value(message.get("args", []))
            kwargs = decode_value(message.get("kwargs", {}))
            result = await getattr(session.commands, method)(*args, **kwargs)
        except Exception as error:
            return dumps(encode_error(error, station_id, method))
        return dumps(encode_result(result))

    async def _local_session(self, station_id: str) -> object | None:
        """The station's session here; a station whose lease was just taken here but whose
        session is still being opened is waited for, up to :data:`SETTING_UP_WAIT`."""
        if self.gateway is None:
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTING_UP_WAIT
        while True:
            session = self.gateway.session(station_id)
            held = self.connections is not None and self.connections.holds(station_id)
            if session is not None or not held or loop.time() >= deadline:
                return session
            await asyncio.sleep(0.02)

    def on_message(self, body: str) -> None:
        message = json.loads(body)
        if message.get("op") == "taken":
            self._spawn(self._on_taken(str(message["station"])))

    def on_broadcast(self, body: str) -> None:
        message = json.loads(body)
        if message.get("from") == self.node_id:
            return
        events = [decode_event(e) for e in message.get("events", [])]
        self.events.deliver([e for e in events if e is not None])


def _transport(db_url: str, bus: str, leases: LeaseStore) -> Transport:
    if bus == "postgres":
        return PostgresTransport(db_url, leases)
    if bus.startswith(("nats://", "tls://")):
        return NatsTransport(bus)
    raise ValueError(f"unknown bus {bus!r}: use postgres or nats://HOST:PORT")


async def open_cluster(
    db_url: str,
    bus: str,
    *,
    node_id: str | None = None,
    lease_ttl: float = DEFAULT_LEASE_TTL,
) -> ClusterNode:
    """A node of the cluster on the PostgreSQL database ``db_url``, its messages carried by
    ``bus`` (``postgres``: LISTEN/NOTIFY on that database; ``nats://HOST:PORT``: NATS). Not
    started yet (:meth:`ClusterNode.start`). Raises
    :class:`~evcharge_core.errors.StorageError` when a part cannot be reached."""
    if not db_url.startswith(POSTGRES_SCHEMES):
        raise StorageError("several gateway processes need a PostgreSQL database (--db)")
    node = node_id or default_node_id()
    leases = await LeaseStore.open(db_url, node, ttl=lease_ttl)
    try:
        return ClusterNode(node, leases, _transport(db_url, bus, leases))
    except ValueError:
        await leases.close()
        raise

"""Message engines between gateway processes: the :class:`Transport` port and its adapters.

A transport carries three kinds of messages between nodes (gateway processes), all JSON
text it does not look into:

* requests to one node, answered by it (:meth:`Transport.request`): operator commands;
* one-way messages to one node (:meth:`Transport.send`): "your station connected to me";
* broadcasts to every node (:meth:`Transport.broadcast`): domain events, in batches.

Adapters, on existing engines only:

* :class:`MemoryTransport` (of a :class:`MemoryHub`): nodes in one Python process, for tests
  and for embedding several gateways in one service;
* :class:`PostgresTransport`: PostgreSQL's ``LISTEN``/``NOTIFY``, on the database the nodes
  share (no other service to run). A notification carries at most 8000 bytes; larger
  messages are stored in ``evcharge_cluster_payloads`` and the notification names their row
  (rows are deleted after five minutes). PostgreSQL cannot say whether anyone listens, so a
  request to a dead node ends by timeout. The listening connection is checked every
  ``LISTEN_CHECK`` seconds (30) and replaced when it does not answer (one dropped silently
  on the way hears nothing more); messages sent to a node while it listens again are lost;
* :class:`NatsTransport`: NATS core request/reply and subjects (``nats-py``, the ``nats``
  extra). A request to a node that no longer listens fails at once (*no responders*).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Final, Protocol

import psycopg
from psycopg import AsyncConnection, sql

from ..adapters.postgres import connection_options
from ..bootstrap import display_db_url
from ..errors import StorageError
from ._wire import dumps

if TYPE_CHECKING:
    from nats.aio.client import Client as NatsClient
    from nats.aio.msg import Msg

    from ._leases import LeaseStore

__all__ = [
    "Inbox",
    "MemoryHub",
    "MemoryTransport",
    "NatsTransport",
    "PostgresTransport",
    "Transport",
    "Unreachable",
    "node_key",
]

logger = logging.getLogger(__name__)

EVENTS_CHANNEL: Final = "evcharge_events"
EVENTS_SUBJECT: Final = "evcharge.events"
NOTIFY_LIMIT: Final = 7000
"""Bytes above which a PostgreSQL notification's message goes through the payload table
(PostgreSQL's own limit is 8000)."""
LISTEN_CHECK: Final = 30.0
"""Seconds between two checks of the PostgreSQL bus's listening connection."""
LISTEN_CHECK_TIMEOUT: Final = 10.0
"""Seconds the listening connection has to answer a check before another replaces it."""


class Unreachable(Exception):
    """Nobody listens for the node a request was sent to (it is gone)."""


class Inbox(Protocol):
    """What a transport delivers to its node."""

    async def on_request(self, body: str) -> str:
        """Answer a request."""
        ...

    def on_message(self, body: str) -> None:
        """A one-way message for this node."""
        ...

    def on_broadcast(self, body: str) -> None:
        """A broadcast (this node's own included, on some engines)."""
        ...


class Transport(Protocol):
    """Carries messages between nodes (see the module docstring)."""

    name: str

    async def start(self, node_id: str, inbox: Inbox) -> None:
        """Begin receiving this node's messages and the broadcasts."""
        ...

    async def request(self, node_id: str, body: str, timeout: float) -> str:
        """Send a request to ``node_id``; its answer. Raises :class:`TimeoutError` without
        an answer in ``timeout`` seconds, :class:`Unreachable` if the node is known gone,
        :class:`~evcharge_core.errors.StorageError` if the engine cannot be reached."""
        ...

    async def send(self, node_id: str, body: str) -> None: ...

    async def broadcast(self, body: str) -> None: ...

    async def close(self) -> None: ...


def node_key(node_id: str) -> str:
    """A node id as a channel or subject name may hold it."""
    return hashlib.sha256(node_id.encode()).hexdigest()[:24]


class _Spawner:
    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def cancel_all(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)


# --- in one process --------------------------------------------------------------------------


class MemoryHub:
    """Connects the :class:`MemoryTransport` s it makes, in one event loop."""

    def __init__(self) -> None:
        self.inboxes: dict[str, Inbox] = {}

    def transport(self) -> MemoryTransport:
        return MemoryTransport(self)


class MemoryTransport(_Spawner):
    name = "memory"

    def __init__(self, hub: MemoryHub) -> None:
        super().__init__()
        self.hub = hub
        self.node_id: str | None = None

    async def start(self, node_id: str, inbox: Inbox) -> None:
        self.node_id = node_id
        self.hub.inboxes[node_id] = inbox

    async def request(self, node_id: str, body: str, timeout: float) -> str:
        inbox = self.hub.inboxes.get(node_id)
        if inbox is None:
            raise Unreachable(node_id)
        return await asyncio.wait_for(inbox.on_request(body), timeout)

    async def send(self, node_id: str, body: str) -> None:
        inbox = self.hub.inboxes.get(node_id)
        if inbox is not None:
            inbox.on_message(body)

    async def broadcast(self, body: str) -> None:
        for inbox in list(self.hub.inboxes.values()):
            inbox.on_broadcast(body)

    async def close(self) -> None:
        if self.node_id is not None:
            self.hub.inboxes.pop(self.node_id, None)
        await self.cancel_all()


# --- PostgreSQL LISTEN/NOTIFY ----------------------------------------------------------------


class PostgresTransport(_Spawner):
    """``LISTEN``/``NOTIFY`` on the shared database (see the module docstring). Sends go
    through the lease store's pool; one more connection per node listens."""

    name = "postgres"

    def __init__(self, url: str, leases: LeaseStore) -> None:
        super().__init__()
        self.url = url
        self.shown = display_db_url(url)
        self.leases = leases
        self.node_id = ""
        self._inbox: Inbox | None = None
        self._pending: dict[str, asyncio.Future[str]] = {}
        self._listener: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()
        self._stopping = asyncio.Event()
        self.check_interval = LISTEN_CHECK
        self.check_timeout = LISTEN_CHECK_TIMEOUT

    def _channel(self, node_id: str) -> str:
        return f"evcharge_node_{node_key(node_id)}"

    async def start(self, node_id: str, inbox: Inbox) -> None:
        self.node_id = node_id
        self._inbox = inbox
        self._listener = asyncio.get_running_loop().create_task(self._listen())
        ready = asyncio.ensure_future(self._ready.wait())
        await asyncio.wait({ready, self._listener}, timeout=15, return_when="FIRST_COMPLETED")
        if not self._ready.is_set():
            ready.cancel()
            await self.close()  # or the listener would go on trying, unowned
            raise StorageError(f"{self.shown}: cannot LISTEN for the cluster's messages")

    async def _listen(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                conn = await AsyncConnection.connect(
                    self.url, autocommit=True, connect_timeout=10, **connection_options(self.url)
                )
                try:
                    for channel in (self._channel(self.node_id), EVENTS_CHANNEL):
                        await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
                    self._ready.set()
                    delay = 0.5
                    while True:
                        async for note in conn.notifies(timeout=self.check_interval):
                            self._dispatch(note.payload)
                        # A connection dropped without a word (a firewall or NAT forgetting
                        # an idle one) would never deliver again, and only sending on it
                        # shows it: ask, and listen on another one without an answer.
                        await asyncio.wait_for(conn.execute(b"SELECT 1"), self.check_timeout)
                finally:
                    with contextlib.suppress(Exception):
                        await conn.close()
            except (psycopg.Error, TimeoutError) as exc:
                if self._stopping.is_set():
                    return
                problem = (
                    "its connection did not answer a check"
                    if isinstance(exc, TimeoutError)
                    else str(exc)
                )
                logger.warning("cluster listener: %s; again in %.1f s", problem, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            logger.warning("cluster listener: a notification that is not JSON, ignored")
            return
        # Anything may be sent on these channels (a newer version, a hand-typed NOTIFY):
        # an error here would end the listener, and the node would hear nothing more.
        if not isinstance(message, dict):
            logger.warning("cluster listener: a notification that is not an object, ignored")
            return
        if "ref" in message:
            try:
                ref = int(message["ref"])
            except (TypeError, ValueError):
                logger.warning("cluster listener: a notification with a bad ref, ignored")
                return
            self.spawn(self._dispatch_stored(ref))
            return
        self._handle_safely(message)

    def _handle_safely(self, message: Any) -> None:
        try:
            self._handle(message)
        except Exception:  # a message this node cannot read must not stop the listener
            logger.exception("cluster listener: a message could not be handled")

    async def _dispatch_stored(self, ref: int) -> None:
        try:
            payload = await self.leases.get_payload(ref)
        except StorageError:
            logger.exception("cluster listener: cannot read stored message %d", ref)
            return
        if payload is None:
            return
        try:
            message = json.loads(payload)
        except ValueError:
            logger.warning("cluster listener: stored message %d is not JSON, ignored", ref)
            return
        self._handle_safely(message)

    def _handle(self, message: dict[str, Any]) -> None:
        inbox = self._inbox
        if inbox is None:
            return
        kind = message.get("k")
        if kind == "rep":
            future = self._pending.pop(message["id"], None)
            if future is not None and not future.done():
                future.set_result(message["b"])
        elif kind == "req":
            self.spawn(self._answer(inbox, message))
        elif kind == "msg":
            inbox.on_message(message["b"])
        elif kind == "evt":
            inbox.on_broadcast(message["b"])

    async def _answer(self, inbox: Inbox, message: dict[str, Any]) -> None:
        reply = await inbox.on_request(message["b"])
        try:
            await self._notify(
                self._channel(message["from"]), {"k": "rep", "id": message["id"], "b": reply}
            )
        except StorageError:
            logger.exception("cluster: cannot send an answer to node %s", message["from"])

    async def _notify(self, channel: str, message: dict[str, Any]) -> None:
        payload = dumps(message)
        if len(payload.encode()) > NOTIFY_LIMIT:
            payload = dumps({"ref": await self.leases.put_payload(payload)})
        await self.leases.notify(channel, payload)

    async def request(self, node_id: str, body: str, timeout: float) -> str:
        request_id = uuid.uuid4().hex
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self._notify(
                self._channel(node_id),
                {"k": "req", "id": request_id, "from": self.node_id, "b": body},
            )
            return await asyncio.wait_for(future, timeout)
        finally:
            self._pending.pop(request_id, None)

    async def send(self, node_id: str, body: str) -> None:
        await self._notify(self._channel(node_id), {"k": "msg", "b": body})

    async def broadcast(self, body: str) -> None:
        await self._notify(EVENTS_CHANNEL, {"k": "evt", "b": body})

    async def close(self) -> None:
        self._stopping.set()
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._listener
        await self.cancel_all()


# --- NATS --------------------------------------------------------------------------------------


class NatsTransport(_Spawner):
    """NATS core messaging: requests on ``evcharge.node.KEY`` (with NATS' own reply
    inboxes), broadcasts on ``evcharge.events``. Reconnects on its own while the NATS server
    is away (messages sent meanwhile are buffered by the client, up to its limit)."""

    name = "nats"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._nc: NatsClient | None = None
        self._inbox: Inbox | None = None

    @staticmethod
    def _subject(node_id: str) -> str:
        return f"evcharge.node.{node_key(node_id)}"

    async def start(self, node_id: str, inbox: Inbox) -> None:
        try:
            import nats
        except ImportError as exc:
            raise StorageError(
                f"the NATS bus needs the nats extra: pip install 'evcharge-core[nats]' ({exc})"
            ) from exc
        self._inbox = inbox
        try:
            nc = await nats.connect(
                self.url,
                name=f"evcharge {node_id}",
                connect_timeout=5,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.5,
                allow_reconnect=True,
            )
        except Exception as exc:  # nats-py raises several unrelated errors here
            raise StorageError(f"cannot connect to NATS at {self.url}: {exc}") from exc
        self._nc = nc
        await nc.subscribe(self._subject(node_id), cb=self._on_node)
        await nc.subscribe(EVENTS_SUBJECT, cb=self._on_broadcast)
        await nc.flush()

    async def _on_node(self, msg: Msg) -> None:
        inbox = self._inbox
        if inbox is None:
            return
        body = msg.data.decode()
        if msg.reply:
            self.spawn(self._answer(inbox, msg, body))
        else:
            inbox.on_message(body)

    async def _answer(self, inbox: Inbox, msg: Msg, body: str) -> None:
        reply = await inbox.on_request(body)
        try:
            await msg.respond(reply.encode())
        except Exception:
            logger.exception("cluster: cannot send an answer over NATS")

    async def _on_broadcast(self, msg: Msg) -> None:
        if self._inbox is not None:
            self._inbox.on_broadcast(msg.data.decode())

    def _client(self) -> NatsClient:
        if self._nc is None:
            raise RuntimeError("the NATS transport is not started")
        return self._nc

    async def request(self, node_id: str, body: str, timeout: float) -> str:
        from nats.errors import NoRespondersError
        from nats.errors import TimeoutError as NatsTimeout

        try:
            msg = await self._client().request(self._subject(node_id), body.encode(), timeout)
        except NoRespondersError as exc:
            raise Unreachable(node_id) from exc
        except NatsTimeout as exc:
            raise TimeoutError(f"no answer from node {node_id}") from exc
        except Exception as exc:  # disconnected, reconnecting, closed...
            raise StorageError(f"NATS at {self.url}: {exc!r}") from exc
        return msg.data.decode()

    async def _publish(self, subject: str, body: str) -> None:
        try:
            await self._client().publish(subject, body.encode())
        except Exception as exc:  # disconnected, reconnecting, closed...
            raise StorageError(f"NATS at {self.url}: {exc!r}") from exc

    async def send(self, node_id: str, body: str) -> None:
        await self._publish(self._subject(node_id), body)

    async def broadcast(self, body: str) -> None:
        await self._publish(EVENTS_SUBJECT, body)

    async def close(self) -> None:
        if self._nc is not None:
            with contextlib.suppress(Exception):
                await self._nc.drain()
        await self.cancel_all()

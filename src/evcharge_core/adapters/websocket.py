"""The reference OCPP transport: stations' websockets, on websockets' asyncio server.

:class:`WebsocketGateway` carries frames; it decides nothing. The handshake is decided by
:func:`~evcharge_core.domain.handshake.decide_handshake` (through
:meth:`~evcharge_core.connections.ConnectionService.check_handshake`), and what to answer
a frame by a per-connection :class:`StationSession`, so the OCPP 1.6 and 2.0.1 handlers plug
in as a ``session_factory`` without touching this module.

**Handshake.** The station ID is the last path segment after ``path_prefix`` (default
``/ocpp/``), percent-decoded and checked with
:func:`~evcharge_core.domain.values.parse_station_id`; the query string is ignored. A wrong
prefix or an invalid ID: ``404``. A malformed ``Sec-WebSocket-Protocol`` header: ``400``. A
malformed ``Authorization`` header counts as no credentials. A refusal is sent as a short
``text/plain`` HTTP response (with its extra headers, such as ``WWW-Authenticate``) and no
websocket opens; a storage failure during the check answers ``503``. On TLS connections the
client certificate's subject CN (when the TLS layer verified one) is passed on for security
profile 3.

**One connection per station.** A second connection with the same station ID replaces the
first: the first is closed with code 1000 and reason ``"replaced by a new connection"``
(without waiting for its closing handshake, so a half-open old connection cannot delay the
new one), and only the current connection's end marks the station disconnected.

**Frames.** Every inbound frame is reported to
:meth:`ConnectionService.seen <evcharge_core.connections.ConnectionService.seen>`, which
throttles the ``last_seen`` writes (at most one per station per 60 s by default). Text frames
go to the session, one at a time in arrival order; a returned string is sent back. Binary
frames are not OCPP-J: if one still carries a readable CALL, it is answered with a
FormationViolation (1.6) / FormatViolation (2.0.1) CallError saying to use text frames, else
it is logged and dropped; the connection stays open. A session that raises is logged and a
CALL it failed on is answered with ``InternalError``; nothing a station sends closes its
connection or affects another station (frames above ``max_message_size`` excepted: the
websocket layer closes those connections with 1009, as RFC 6455 provides).

**Default session.** :class:`NotImplementedSession` (used for protocols whose handlers do
not exist yet; OCPP 1.6 has :class:`evcharge_core.ocpp16.Ocpp16Session`) answers per OCPP-J
(see :func:`~evcharge_core.ocppj.parse_frame`, re-exported here): a CALL gets a
``NotImplemented`` CallError; a frame that is not JSON or not a valid OCPP-J array gets
FormationViolation (1.6) / FormatViolation (2.0.1); an unknown message type ID gets
``ProtocolError`` (1.6) / ``MessageTypeNotSupported`` (2.0.1, which defines that code for
exactly this case). These errors are sent only when the message ID can be read and the frame
is (or claims to be) a CALL or of an unknown type: a CallError answers a request, so a broken
CALLRESULT or CALLERROR is logged, never answered.

**Live sessions.** :meth:`WebsocketGateway.session` returns the session of a station's
current connection, so that operator commands can reach it.

**Keepalive and limits.** Defaults: the server pings every 60 s and gives up after 60 s more
(a station's own heartbeat is typically 300 s, too slow to notice half-open TCP); messages
up to 64 KiB (OCPP stations split large reports); 5 s for a closing handshake.

**Shutdown.** :meth:`WebsocketGateway.close` stops accepting connections, closes every
station's websocket with code 1001 ("going away") and returns once each connection's end has
been stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import ssl as ssl_module
import weakref
from collections.abc import AsyncIterator, Coroutine, Sequence
from typing import Any, Final
from urllib.parse import unquote

import attrs
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.frames import CloseCode
from websockets.headers import parse_authorization_basic, parse_subprotocol
from websockets.http11 import Request, Response
from websockets.typing import Subprotocol

from .. import __version__
from ..connections import ConnectionService
from ..domain.handshake import Accept, Refuse
from ..domain.values import parse_station_id
from ..errors import NotFound, StorageError
from ..ocppj import (
    BadFrame,
    Frame,
    MessageType,
    call_error,
    format_violation_code,
    parse_frame,
)
from ..ports import SessionContext, SessionFactory, StationSession

__all__ = [
    "REPLACED_REASON",
    "BadFrame",
    "Frame",
    "MessageType",
    "NotImplementedSession",
    "SessionContext",
    "SessionFactory",
    "StationSession",
    "WebsocketGateway",
    "call_error",
    "format_violation_code",
    "parse_frame",
]

REPLACED_REASON: Final = "replaced by a new connection"
"""Close reason sent to a station's connection when a newer one replaces it."""

logger = logging.getLogger(__name__)


# --- sessions: what answers a station's frames -----------------------------------------------


class NotImplementedSession:
    """The placeholder session: OCPP-J framing checked, every CALL answered NotImplemented."""

    def __init__(self, context: SessionContext) -> None:
        self.context = context

    async def on_open(self) -> None:
        """Nothing to do."""

    async def on_message(self, text: str) -> str | None:
        """Answer a CALL with NotImplemented, a malformed frame per :func:`parse_frame`."""
        frame = parse_frame(text, self.context.protocol)
        if isinstance(frame, BadFrame):
            logger.info("station %s sent a bad frame: %s", self.context.station_id, frame.problem)
            return frame.reply
        if frame.message_type is MessageType.CALL:
            return call_error(
                frame.message_id, "NotImplemented", f"{frame.action} is not implemented yet"
            )
        logger.debug(
            "station %s sent a %s for %s, which no CALL of ours awaits",
            self.context.station_id,
            frame.message_type.name,
            frame.message_id,
        )
        return None

    async def on_close(self) -> None:
        """Nothing to do."""


# --- the gateway -----------------------------------------------------------------------------


@attrs.frozen
class _Admitted:
    station_id: str
    decision: Accept


def _normalise_prefix(prefix: str) -> str:
    inner = prefix.strip("/")
    return f"/{inner}/" if inner else "/"


def _client_cert_cn(ssl_object: ssl_module.SSLObject | None) -> str | None:
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()  # empty unless the TLS layer verified a certificate
    if not cert:
        return None
    subject = cert.get("subject", ())
    if not isinstance(subject, tuple):
        return None
    for rdn in subject:
        for attribute in rdn:
            if len(attribute) == 2 and attribute[0] == "commonName":
                return str(attribute[1])
    return None


def _basic_auth(request: Request) -> tuple[str, str] | None:
    values = request.headers.get_all("Authorization")
    if len(values) != 1:
        return None
    try:
        return parse_authorization_basic(values[0])
    except InvalidHeader:
        return None


class WebsocketGateway:
    """Accepts stations' websockets and feeds their frames to sessions.

    ``connections`` stores and checks connection state; ``session_factory`` builds the
    session of each connection (default: :class:`NotImplementedSession`). The other
    arguments tune the websocket layer (see the module docstring for the defaults' reasons).
    Start with :meth:`start` and stop with :meth:`close`, or use :meth:`serve`::

        async with gateway.serve("0.0.0.0", 9000):
            await stop_event.wait()
    """

    def __init__(
        self,
        connections: ConnectionService,
        *,
        session_factory: SessionFactory = NotImplementedSession,
        path_prefix: str = "/ocpp/",
        max_message_size: int = 65536,
        ping_interval: float | None = 60.0,
        ping_timeout: float | None = 60.0,
        close_timeout: float = 5.0,
        open_timeout: float = 10.0,
    ) -> None:
        self.connections = connections
        self.session_factory = session_factory
        self.path_prefix = _normalise_prefix(path_prefix)
        self.max_message_size = max_message_size
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.close_timeout = close_timeout
        self.open_timeout = open_timeout
        self._server: Server | None = None
        self._admitted: weakref.WeakKeyDictionary[ServerConnection, _Admitted] = (
            weakref.WeakKeyDictionary()
        )
        self._live: dict[str, ServerConnection] = {}
        self._sessions: dict[str, StationSession] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    # --- life cycle ----------------------------------------------------------------------

    async def start(
        self, host: str | None, port: int, *, ssl: ssl_module.SSLContext | None = None
    ) -> None:
        """Listen on ``host``:``port`` (port 0: any free port, see :attr:`port`)."""
        if self._server is not None:
            raise RuntimeError("the gateway is already started")
        self._server = await serve(
            self._handle,
            host,
            port,
            ssl=ssl,
            process_request=self._process_request,
            select_subprotocol=self._select_subprotocol,
            server_header=f"evcharge_core/{__version__}",
            open_timeout=self.open_timeout,
            ping_interval=self.ping_interval,
            ping_timeout=self.ping_timeout,
            close_timeout=self.close_timeout,
            max_size=self.max_message_size,
        )

    @property
    def port(self) -> int:
        """The port the gateway listens on (the first socket's, if several)."""
        if self._server is None:
            raise RuntimeError("the gateway is not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def close(
        self, *, code: int = CloseCode.GOING_AWAY, reason: str = "server shutting down"
    ) -> None:
        """Stop listening, close every station's connection with ``code`` and wait until
        each one's end is stored. Idempotent."""
        server = self._server
        if server is None:
            return
        server.close(close_connections=True, code=code, reason=reason)
        await server.wait_closed()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    @contextlib.asynccontextmanager
    async def serve(
        self, host: str | None, port: int, *, ssl: ssl_module.SSLContext | None = None
    ) -> AsyncIterator[WebsocketGateway]:
        """:meth:`start` on entry, :meth:`close` on exit."""
        await self.start(host, port, ssl=ssl)
        try:
            yield self
        finally:
            await self.close()

    # --- operator's view -----------------------------------------------------------------

    def connected_station_ids(self) -> frozenset[str]:
        """The IDs of the stations with an open connection to this gateway."""
        return frozenset(self._live)

    def session(self, station_id: str) -> StationSession | None:
        """The session of the station's current connection, or ``None`` if it has none."""
        return self._sessions.get(station_id)

    async def disconnect(
        self,
        station_id: str,
        *,
        code: int = CloseCode.NORMAL_CLOSURE,
        reason: str = "disconnected by the operator",
    ) -> bool:
        """Close the station's connection; ``False`` if it has none here."""
        connection = self._live.get(station_id)
        if connection is None:
            return False
        await connection.close(code, reason)
        return True

    def station_id_from_path(self, path: str) -> str | None:
        """The station ID a request path names, or ``None`` (wrong prefix, invalid ID)."""
        path = path.split("?", 1)[0]
        if not path.startswith(self.path_prefix):
            return None
        segment = path[len(self.path_prefix) :].rsplit("/", 1)[-1]
        try:
            return parse_station_id(unquote(segment, errors="strict"))
        except ValueError:  # UnicodeDecodeError included
            return None

    # --- handshake -----------------------------------------------------------------------

    async def _process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        station_id = self.station_id_from_path(request.path)
        if station_id is None:
            return self._refuse(connection, request, Refuse(404, "not found"))
        try:
            offered: list[str] = []
            for value in request.headers.get_all("Sec-WebSocket-Protocol"):
                offered.extend(parse_subprotocol(value))
        except InvalidHeader:
            return self._refuse(
                connection, request, Refuse(400, "malformed Sec-WebSocket-Protocol header")
            )
        ssl_object = connection.transport.get_extra_info("ssl_object")
        try:
            decision = await self.connections.check_handshake(
                station_id,
                offered,
                _basic_auth(request),
                tls=ssl_object is not None,
                client_cert_cn=_client_cert_cn(ssl_object),
            )
        except StorageError:
            logger.exception("handshake check of station %s failed", station_id)
            return self._refuse(connection, request, Refuse(503, "service unavailable"))
        if isinstance(decision, Refuse):
            return self._refuse(connection, request, decision)
        self._admitted[connection] = _Admitted(station_id, decision)
        return None

    def _refuse(self, connection: ServerConnection, request: Request, refusal: Refuse) -> Response:
        logger.info(
            "refused %s from %s: %d %s",
            request.path,
            connection.remote_address,
            refusal.status,
            refusal.reason,
        )
        response = connection.respond(refusal.status, refusal.reason + "\n")
        for name, value in refusal.headers:
            response.headers[name] = value
        return response

    def _select_subprotocol(
        self, connection: ServerConnection, subprotocols: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        admitted = self._admitted.get(connection)
        if admitted is None or admitted.decision.subprotocol not in subprotocols:
            return None
        return Subprotocol(admitted.decision.subprotocol)

    # --- connections ---------------------------------------------------------------------

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _close_quietly(self, connection: ServerConnection, code: int, reason: str) -> None:
        try:
            await connection.close(code, reason)
        except Exception:  # a transport already gone; nothing left to close
            logger.debug("closing a connection failed", exc_info=True)

    async def _handle(self, connection: ServerConnection) -> None:
        admitted = self._admitted.pop(connection, None)
        if admitted is None:  # process_request admits every connection that opens
            await connection.close(CloseCode.INTERNAL_ERROR, "handshake state lost")
            return
        station_id = admitted.station_id
        previous = self._live.get(station_id)
        self._live[station_id] = connection
        if previous is not None:
            logger.info("station %s reconnected; closing its previous connection", station_id)
            self._spawn(self._close_quietly(previous, CloseCode.NORMAL_CLOSURE, REPLACED_REASON))
        logger.info(
            "station %s connected from %s with %s",
            station_id,
            connection.remote_address,
            admitted.decision.subprotocol,
        )
        try:
            await self._run(connection, admitted)
        finally:
            if self._live.get(station_id) is connection:
                del self._live[station_id]
                try:
                    await self.connections.disconnected(station_id)
                except Exception:
                    logger.exception("storing the disconnection of station %s failed", station_id)
            logger.info(
                "station %s disconnected (code %s %s)",
                station_id,
                connection.close_code,
                connection.close_reason or "",
            )

    async def _run(self, connection: ServerConnection, admitted: _Admitted) -> None:
        decision = admitted.decision
        try:
            station = await self.connections.connected(
                admitted.station_id, decision.protocol, record_protocol=decision.record_protocol
            )
        except NotFound:
            await connection.close(CloseCode.POLICY_VIOLATION, "unknown station")
            return
        except StorageError:
            logger.exception("storing the connection of station %s failed", admitted.station_id)
            await connection.close(CloseCode.INTERNAL_ERROR, "storage unavailable")
            return

        async def send(text: str) -> None:
            await connection.send(text)

        async def close(code: int, reason: str) -> None:
            await connection.close(code, reason)

        context = SessionContext(station, decision.protocol, decision.subprotocol, send, close)
        session = self.session_factory(context)
        if self._live.get(station.id) is connection:
            self._sessions[station.id] = session
        try:
            await session.on_open()
            async for message in connection:
                await self._note_seen(station.id)
                reply = await self._answer(session, context, message)
                if reply is not None:
                    await connection.send(reply)
        except ConnectionClosed:
            pass
        except Exception:
            logger.exception("session of station %s failed", station.id)
            await connection.close(CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            if self._sessions.get(station.id) is session:
                del self._sessions[station.id]
            try:
                await session.on_close()
            except Exception:
                logger.exception("closing the session of station %s failed", station.id)

    async def _note_seen(self, station_id: str) -> None:
        try:
            await self.connections.seen(station_id)
        except Exception:  # a storage hiccup must not cost the station its connection
            logger.warning("storing last_seen of station %s failed", station_id, exc_info=True)

    async def _answer(
        self, session: StationSession, context: SessionContext, message: str | bytes
    ) -> str | None:
        if isinstance(message, bytes):
            return self._answer_binary(context, message)
        try:
            return await session.on_message(message)
        except ConnectionClosed:
            raise
        except Exception:
            logger.exception("station %s: handling a message failed", context.station_id)
            frame = parse_frame(message, context.protocol)
            if isinstance(frame, Frame) and frame.message_type is MessageType.CALL:
                return call_error(
                    frame.message_id, "InternalError", "the message could not be processed"
                )
            return None

    def _answer_binary(self, context: SessionContext, message: bytes) -> str | None:
        try:
            text = message.decode("utf-8")
        except UnicodeDecodeError:
            text = ""
        frame = parse_frame(text, context.protocol)
        message_id: str | None = None
        if isinstance(frame, Frame) and frame.message_type is MessageType.CALL:
            message_id = frame.message_id
        elif isinstance(frame, BadFrame) and frame.reply is not None:
            message_id = json.loads(frame.reply)[1]
        logger.info("station %s sent a binary frame (OCPP-J is text only)", context.station_id)
        if message_id is None:
            return None
        return call_error(
            message_id,
            format_violation_code(context.protocol),
            "OCPP-J messages must be sent as text frames",
        )

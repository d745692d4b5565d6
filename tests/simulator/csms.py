"""A minimal OCPP 1.6 CSMS for the simulator's tests, on the ``ocpp`` package's own
``ChargePoint`` and a ``websockets`` server: independent of evcharge_core's server code.

Every frame either side sends is recorded (:attr:`TestCsms.frames`) so that tests can check
the station's messages against the ``ocpp`` package's JSON schemas
(:func:`schema_problems`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, Protocol, Self

import ocpp
from jsonschema import Draft4Validator
from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import parse_authorization_basic
from websockets.http11 import Request, Response

SCHEMAS = Path(ocpp.__file__).parent / "v16" / "schemas"
PREFIX = "/ocpp/"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@cache
def validator(name: str) -> Draft4Validator:
    """The ocpp package's schema ``name`` (``Heartbeat``, ``HeartbeatResponse``...)."""
    schema = json.loads((SCHEMAS / f"{name}.json").read_text(), parse_float=Decimal)
    return Draft4Validator(schema, format_checker=Draft4Validator.FORMAT_CHECKER)


class Recorder:
    """The websocket as ``ocpp.ChargePoint`` sees it, recording each frame."""

    def __init__(self, ws: ServerConnection, station_id: str, csms: TestCsms) -> None:
        self.ws = ws
        self.station_id = station_id
        self.csms = csms

    async def recv(self) -> str:
        text = await self.ws.recv()
        assert isinstance(text, str)
        self.csms.frames.append(("station", self.station_id, text))
        return text

    async def send(self, text: str) -> None:
        self.csms.frames.append(("csms", self.station_id, text))
        await self.ws.send(text)


class CsmsChargePoint(ChargePoint):
    """The CSMS's side of one station's connection."""

    def __init__(self, station_id: str, connection: Recorder, csms: TestCsms) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.csms = csms
        self.ws = connection.ws

    @on(Action.boot_notification)
    def on_boot_notification(self, **kwargs: Any) -> call_result.BootNotification:
        status = self.csms.next_boot_status()
        return call_result.BootNotification(
            current_time=now(), interval=self.csms.interval, status=status
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(self, **kwargs: Any) -> call_result.StatusNotification:
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_tag: str) -> call_result.Authorize:
        return call_result.Authorize(id_tag_info={"status": self.csms.tag_status(id_tag)})

    @on(Action.start_transaction)
    def on_start_transaction(self, id_tag: str, **kwargs: Any) -> call_result.StartTransaction:
        return call_result.StartTransaction(
            transaction_id=next(self.csms.transaction_ids),
            id_tag_info={"status": self.csms.tag_status(id_tag)},
        )

    @on(Action.stop_transaction)
    def on_stop_transaction(self, **kwargs: Any) -> call_result.StopTransaction:
        return call_result.StopTransaction(id_tag_info={"status": "Accepted"})

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.diagnostics_status_notification)
    def on_diagnostics(self, **kwargs: Any) -> call_result.DiagnosticsStatusNotification:
        return call_result.DiagnosticsStatusNotification()

    @on(Action.firmware_status_notification)
    def on_firmware(self, **kwargs: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()


class SchemaValidator(Protocol):
    def iter_errors(self, instance: Any) -> Iterable[Any]: ...


class TestCsms:
    """A CSMS on 127.0.0.1 (a free port) at ``ws://127.0.0.1:PORT/ocpp/{station_id}``.

    ``boot_statuses`` answer the first BootNotifications, in order (then ``Accepted``);
    ``passwords`` (station ID -> password) turns on HTTP Basic auth for those stations;
    ``tag_statuses`` (id tag -> status) answers Authorize/StartTransaction (default
    ``Accepted``).
    """

    __test__ = False  # not a pytest class
    #: The websocket subprotocol served.
    subprotocol = "ocpp1.6"

    def __init__(
        self,
        *,
        boot_statuses: Iterable[str] = (),
        interval: int = 300,
        passwords: dict[str, str] | None = None,
        tag_statuses: dict[str, str] | None = None,
    ) -> None:
        self.boot_statuses = list(boot_statuses)
        self.interval = interval
        self.passwords = passwords or {}
        self.tag_statuses = tag_statuses or {}
        self.frames: list[tuple[str, str, str]] = []
        self.charge_points: dict[str, Any] = {}
        self.transaction_ids = itertools.count(1001)
        self.handshakes: list[tuple[str, int]] = []
        self._server: Server | None = None
        self.url = ""

    def next_boot_status(self) -> str:
        return self.boot_statuses.pop(0) if self.boot_statuses else "Accepted"

    def tag_status(self, id_tag: str) -> str:
        return self.tag_statuses.get(id_tag, "Accepted")

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path
        station_id = path[len(PREFIX) :] if path.startswith(PREFIX) else ""
        if not station_id or "/" in station_id:
            self.handshakes.append((station_id, 404))
            return connection.respond(404, "unknown station\n")
        password = self.passwords.get(station_id)
        if password is not None:
            try:
                user, given = parse_authorization_basic(request.headers.get("Authorization", ""))
            except InvalidHeader:
                user, given = "", ""
            if (user, given) != (station_id, password):
                self.handshakes.append((station_id, 401))
                return connection.respond(401, "unauthorized\n")
        self.handshakes.append((station_id, 101))
        return None

    async def _handler(self, ws: ServerConnection) -> None:
        assert ws.request is not None
        station_id = ws.request.path[len(PREFIX) :]
        charge_point = self.charge_point(station_id, Recorder(ws, station_id, self))
        self.charge_points[station_id] = charge_point
        with contextlib.suppress(ConnectionClosed):
            await charge_point.start()

    def charge_point(self, station_id: str, recorder: Recorder) -> Any:
        """The CSMS's side of a new connection."""
        return CsmsChargePoint(station_id, recorder, self)

    async def __aenter__(self) -> Self:
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            subprotocols=[self.subprotocol],  # type: ignore[list-item]
            process_request=self._check,
        )
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}{PREFIX}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    # --- what the stations sent -------------------------------------------------------------

    def calls(self, station_id: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """Every CALL a station sent: (station ID, action, payload)."""
        found = []
        for source, sid, text in self.frames:
            message = json.loads(text)
            if source == "station" and message[0] == 2 and station_id in (None, sid):
                found.append((sid, message[2], message[3]))
        return found

    def actions(self, station_id: str | None = None) -> list[str]:
        return [action for _, action, _ in self.calls(station_id)]

    def payloads(self, action: str, station_id: str | None = None) -> list[dict[str, Any]]:
        return [payload for _, name, payload in self.calls(station_id) if name == action]

    async def wait_for(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            while not condition():
                await asyncio.sleep(0.01)


def schema_problems(
    frames: Iterable[tuple[str, str, str]],
    schema: Callable[[str], SchemaValidator] = validator,
) -> list[str]:
    """Every way the stations' frames break the OCPP schemas (empty: none); ``schema`` gives
    the validator of a message (default: OCPP 1.6's).

    CALLs are checked against the request schema of their action, CALLRESULTs against the
    response schema of the CSMS CALL they answer. CALLERRORs are listed for the caller to
    judge (``"CALLERROR <code> for <action>"``).
    """
    problems: list[str] = []
    asked: dict[str, str] = {}
    for source, station_id, text in frames:
        message = json.loads(text, parse_float=Decimal)
        if source == "csms":
            if message[0] == 2:
                asked[message[1]] = message[2]
            continue
        if message[0] == 2:
            name, payload = message[2], message[3]
        elif message[0] == 3:
            name, payload = asked[message[1]] + "Response", message[2]
        else:
            problems.append(f"CALLERROR {message[2]} for {asked.get(message[1])}")
            continue
        problems.extend(
            f"{station_id} {name}: {error.message} in {json.dumps(payload, default=str)}"
            for error in schema(name).iter_errors(payload)
        )
    return problems

"""The baseline CSMS of ``bench/ocpp_load.py``: the ``ocpp`` package on a ``websockets`` server.

A minimal in-memory OCPP 1.6J or (``--protocol ocpp2.0.1``) OCPP 2.0.1 central system,
written the way that package's documentation suggests: one ``ocpp.v16.ChargePoint`` (or
``ocpp.v201.ChargePoint``) subclass per connection, ``@on`` handlers for BootNotification
(always Accepted), Heartbeat, StatusNotification and MeterValues, and the package's default
JSON schema validation of every request and response left on. Any other action gets the
package's own NotImplemented CallError. What it keeps, in memory only: each station's boot
fields, its last status per connector (2.0.1: per EVSE and connector) and how many meter
values it sent.

Any station ID on ``/ocpp/{station_id}`` connects, without authentication; the websocket
subprotocol must be the ``--protocol`` (default ``ocpp1.6``). Once listening it prints, as
the reference server does::

    OCPP websocket endpoint: ws://HOST:PORT/ocpp/{station_id}

and runs until SIGINT or SIGTERM (or ``--max-seconds``, a safety net for a forgotten
process), then closes every connection and exits 0.

    python bench/baseline_server.py [--host 127.0.0.1] [--port 0] [--max-seconds 3600]
                                    [--protocol ocpp1.6|ocpp2.0.1]
"""

# mypy: disable-error-code="untyped-decorator"
# (the ocpp package ships no type information)

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
from datetime import UTC, datetime
from typing import Any

from ocpp import v16, v201
from ocpp.routing import on
from ocpp.v16.enums import Action, RegistrationStatus
from ocpp.v201.enums import Action as Action201
from ocpp.v201.enums import RegistrationStatusEnumType
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.typing import Subprotocol

PATH_PREFIX = "/ocpp/"
HEARTBEAT_INTERVAL = 300
PROTOCOLS = ("ocpp1.6", "ocpp2.0.1")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StationRecord:
    """What the baseline remembers of one station."""

    __slots__ = ("boot", "meter_values", "statuses")

    def __init__(self) -> None:
        self.boot: dict[str, Any] = {}
        self.statuses: dict[Any, str] = {}
        self.meter_values = 0


class BaselineChargePoint(v16.ChargePoint):  # type: ignore[misc]  # the package is untyped
    """One OCPP 1.6 station's connection, answered from memory."""

    def __init__(self, station_id: str, connection: ServerConnection, record: StationRecord):
        super().__init__(station_id, connection)
        self.record = record

    @on(Action.boot_notification)
    def on_boot_notification(self, **fields: Any) -> v16.call_result.BootNotification:
        self.record.boot = fields
        return v16.call_result.BootNotification(
            current_time=_now(), interval=HEARTBEAT_INTERVAL, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> v16.call_result.Heartbeat:
        return v16.call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, status: str, **_: Any
    ) -> v16.call_result.StatusNotification:
        self.record.statuses[connector_id] = status
        return v16.call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, meter_value: list[Any], **_: Any) -> v16.call_result.MeterValues:
        self.record.meter_values += len(meter_value)
        return v16.call_result.MeterValues()


class BaselineChargePoint201(v201.ChargePoint):  # type: ignore[misc]  # the package is untyped
    """One OCPP 2.0.1 station's connection, answered from memory."""

    def __init__(self, station_id: str, connection: ServerConnection, record: StationRecord):
        super().__init__(station_id, connection)
        self.record = record

    @on(Action201.boot_notification)
    def on_boot_notification(self, **fields: Any) -> v201.call_result.BootNotification:
        self.record.boot = fields
        return v201.call_result.BootNotification(
            current_time=_now(),
            interval=HEARTBEAT_INTERVAL,
            status=RegistrationStatusEnumType.accepted,
        )

    @on(Action201.heartbeat)
    def on_heartbeat(self) -> v201.call_result.Heartbeat:
        return v201.call_result.Heartbeat(current_time=_now())

    @on(Action201.status_notification)
    def on_status_notification(
        self, evse_id: int, connector_id: int, connector_status: str, **_: Any
    ) -> v201.call_result.StatusNotification:
        self.record.statuses[evse_id, connector_id] = connector_status
        return v201.call_result.StatusNotification()

    @on(Action201.meter_values)
    def on_meter_values(self, meter_value: list[Any], **_: Any) -> v201.call_result.MeterValues:
        self.record.meter_values += len(meter_value)
        return v201.call_result.MeterValues()


async def main(args: argparse.Namespace) -> int:
    stations: dict[str, StationRecord] = {}
    protocol = args.protocol
    charge_point = BaselineChargePoint if protocol == "ocpp1.6" else BaselineChargePoint201
    package = "ocpp.v16" if protocol == "ocpp1.6" else "ocpp.v201"

    async def handle(connection: ServerConnection) -> None:
        path = connection.request.path if connection.request else ""
        station_id = path.split("?", 1)[0].removeprefix(PATH_PREFIX)
        if not path.startswith(PATH_PREFIX) or not station_id or "/" in station_id:
            await connection.close(CloseCode.POLICY_VIOLATION, "expected /ocpp/{station_id}")
            return
        if connection.subprotocol != protocol:
            await connection.close(CloseCode.PROTOCOL_ERROR, f"subprotocol {protocol} required")
            return
        record = stations.setdefault(station_id, StationRecord())
        with contextlib.suppress(ConnectionClosed):
            await charge_point(station_id, connection, record).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(handle, args.host, args.port, subprotocols=[Subprotocol(protocol)]) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"OCPP websocket endpoint: ws://{args.host}:{port}{PATH_PREFIX}{{station_id}}")
        print(f"(baseline: {package}.ChargePoint, in memory, pid {os.getpid()})", flush=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.max_seconds)
        server.close(close_connections=True, code=CloseCode.GOING_AWAY)
        await server.wait_closed()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0: any free port (default)")
    parser.add_argument(
        "--max-seconds",
        type=float,
        default=3600.0,
        help="exit by itself after this long (default: 3600)",
    )
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="ocpp1.6",
        help="the OCPP version served, as its websocket subprotocol (default: ocpp1.6)",
    )
    return parser


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(build_parser().parse_args())))

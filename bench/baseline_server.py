"""The baseline CSMS of ``bench/ocpp_load.py``: the ``ocpp`` package on a ``websockets`` server.

A minimal in-memory OCPP 1.6J central system, written the way that package's documentation
suggests: one ``ocpp.v16.ChargePoint`` subclass per connection, ``@on`` handlers for
BootNotification (always Accepted), Heartbeat, StatusNotification and MeterValues, and the
package's default JSON schema validation of every request and response left on. Any other
action gets the package's own NotImplemented CallError. What it keeps, in memory only: each
station's boot fields, its last status per connector and how many meter values it sent.

Any station ID on ``/ocpp/{station_id}`` connects, without authentication; the websocket
subprotocol must be ``ocpp1.6``. Once listening it prints, as the reference server does::

    OCPP websocket endpoint: ws://HOST:PORT/ocpp/{station_id}

and runs until SIGINT or SIGTERM (or ``--max-seconds``, a safety net for a forgotten
process), then closes every connection and exits 0.

    python bench/baseline_server.py [--host 127.0.0.1] [--port 0] [--max-seconds 3600]
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

from ocpp.routing import on
from ocpp.v16 import ChargePoint, call_result
from ocpp.v16.enums import Action, RegistrationStatus
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.typing import Subprotocol

PATH_PREFIX = "/ocpp/"
HEARTBEAT_INTERVAL = 300


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class StationRecord:
    """What the baseline remembers of one station."""

    __slots__ = ("boot", "meter_values", "statuses")

    def __init__(self) -> None:
        self.boot: dict[str, Any] = {}
        self.statuses: dict[int, str] = {}
        self.meter_values = 0


class BaselineChargePoint(ChargePoint):  # type: ignore[misc]  # the package is untyped
    """One station's connection, answered from memory."""

    def __init__(self, station_id: str, connection: ServerConnection, record: StationRecord):
        super().__init__(station_id, connection)
        self.record = record

    @on(Action.boot_notification)
    def on_boot_notification(self, **fields: Any) -> call_result.BootNotification:
        self.record.boot = fields
        return call_result.BootNotification(
            current_time=_now(), interval=HEARTBEAT_INTERVAL, status=RegistrationStatus.accepted
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=_now())

    @on(Action.status_notification)
    def on_status_notification(
        self, connector_id: int, status: str, **_: Any
    ) -> call_result.StatusNotification:
        self.record.statuses[connector_id] = status
        return call_result.StatusNotification()

    @on(Action.meter_values)
    def on_meter_values(self, meter_value: list[Any], **_: Any) -> call_result.MeterValues:
        self.record.meter_values += len(meter_value)
        return call_result.MeterValues()


async def main(args: argparse.Namespace) -> int:
    stations: dict[str, StationRecord] = {}

    async def handle(connection: ServerConnection) -> None:
        path = connection.request.path if connection.request else ""
        station_id = path.split("?", 1)[0].removeprefix(PATH_PREFIX)
        if not path.startswith(PATH_PREFIX) or not station_id or "/" in station_id:
            await connection.close(CloseCode.POLICY_VIOLATION, "expected /ocpp/{station_id}")
            return
        if connection.subprotocol != "ocpp1.6":
            await connection.close(CloseCode.PROTOCOL_ERROR, "subprotocol ocpp1.6 required")
            return
        record = stations.setdefault(station_id, StationRecord())
        with contextlib.suppress(ConnectionClosed):
            await BaselineChargePoint(station_id, connection, record).start()

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with serve(handle, args.host, args.port, subprotocols=[Subprotocol("ocpp1.6")]) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"OCPP websocket endpoint: ws://{args.host}:{port}{PATH_PREFIX}{{station_id}}")
        print(f"(baseline: ocpp.v16.ChargePoint, in memory, pid {os.getpid()})", flush=True)
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
    return parser


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING)
    raise SystemExit(asyncio.run(main(build_parser().parse_args())))

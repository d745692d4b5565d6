"""A small OCPP 2.0.1 charging station, built on the ``ocpp`` package's ``ocpp.v201``
``ChargePoint``, to try the server with (the tutorial's 2.0.1 steps use it). Run it with::

    python examples/station201.py ws://127.0.0.1:9100/ocpp/ HPC-A9-07 --evses 3

It connects with the ``ocpp2.0.1`` subprotocol (HTTP Basic auth with ``--password``), boots
(again every 10 s while the answer is Pending), reports each EVSE's connector Available and
sends heartbeats. It keeps a small device model that GetVariables, SetVariables and
GetBaseReport read and write, and answers the other operator commands; a
RequestStartTransaction it accepts starts a transaction on the EVSE (TransactionEvent
Started, then Updated with meter values every few seconds) that RequestStopTransaction ends.
It stops after ``--duration`` seconds (default: run until interrupted).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _name(item: dict[str, Any]) -> tuple[str, str]:
    component = item["component"]["name"]
    variable = item["variable"]["name"]
    instance = item["variable"].get("instance")
    return component, f"{variable}[{instance}]" if instance else variable


class Station(ChargePoint):
    """The station: its device model, its EVSEs' transactions."""

    def __init__(self, station_id: str, connection: Any, evses: int) -> None:
        super().__init__(station_id, connection)
        self.evses = evses
        self.variables: dict[tuple[str, str], tuple[str, str]] = {
            ("OCPPCommCtrlr", "HeartbeatInterval"): ("300", "ReadWrite"),
            ("SampledDataCtrlr", "TxUpdatedInterval"): ("5", "ReadWrite"),
            ("SecurityCtrlr", "BasicAuthPassword"): ("", "WriteOnly"),
            ("DeviceDataCtrlr", "ItemsPerMessage[GetVariables]"): ("8", "ReadOnly"),
            ("DeviceDataCtrlr", "ItemsPerMessage[SetVariables]"): ("8", "ReadOnly"),
            ("DeviceDataCtrlr", "BytesPerMessage[GetVariables]"): ("8192", "ReadOnly"),
            ("DeviceDataCtrlr", "BytesPerMessage[SetVariables]"): ("8192", "ReadOnly"),
        }
        self.meters = dict.fromkeys(range(1, evses + 1), 0)
        self.transactions: dict[int, tuple[str, asyncio.Task[None]]] = {}
        self.accepted = False

    # --- what the station sends ---------------------------------------------------------

    async def boot(self) -> None:
        """Boot until Accepted (again every 10 s while Pending), then report each EVSE."""
        while not await self.boot_once():
            await asyncio.sleep(10)

    async def boot_once(self) -> bool:
        """One BootNotification (the first Accepted one is followed by status reports)."""
        answer = await self.call(
            call.BootNotification(
                charging_station={"model": "station201", "vendor_name": "evcharge"},
                reason="PowerUp",
            )
        )
        print(f"boot: {answer.status}", flush=True)
        if answer.status != "Accepted" or self.accepted:
            return answer.status == "Accepted"
        self.accepted = True
        for evse in range(1, self.evses + 1):
            await self.status(evse, "Available")
        return True

    async def status(self, evse: int, status: str) -> None:
        await self.call(
            call.StatusNotification(
                timestamp=now(), connector_status=status, evse_id=evse, connector_id=1
            )
        )

    async def heartbeats(self) -> None:
        while True:
            await asyncio.sleep(int(self.variables[("OCPPCommCtrlr", "HeartbeatInterval")][0]))
            await self.call(call.Heartbeat())

    async def charge(self, evse: int, transaction_id: str, id_token: dict[str, Any]) -> None:
        seq_no = 0

        async def event(kind: str, state: str, context: str, **extra: Any) -> None:
            nonlocal seq_no
            sampled = {"value": self.meters[evse], "context": context}
            info = {"transaction_id": transaction_id, "charging_state": state}
            if kind == "Ended":
                info["stopped_reason"] = "Remote"
            await self.call(
                call.TransactionEvent(
                    event_type=kind,
                    timestamp=now(),
                    trigger_reason=extra.pop("trigger_reason", "ChargingStateChanged"),
                    seq_no=seq_no,
                    transaction_info=info,
                    evse={"id": evse, "connector_id": 1},
                    meter_value=[{"timestamp": now(), "sampled_value": [sampled]}],
                    **extra,
                )
            )
            seq_no += 1

        await self.status(evse, "Occupied")
        await event(
            "Started", "Charging", "Transaction.Begin",
            trigger_reason="RemoteStart", id_token=id_token,
        )  # fmt: skip
        try:
            while True:
                await asyncio.sleep(
                    int(self.variables[("SampledDataCtrlr", "TxUpdatedInterval")][0])
                )
                self.meters[evse] += 250
                await event("Updated", "Charging", "Sample.Periodic",
                            trigger_reason="MeterValuePeriodic")  # fmt: skip
        except asyncio.CancelledError:
            await event("Ended", "EVConnected", "Transaction.End", trigger_reason="RemoteStop")
            await self.status(evse, "Available")
            raise

    # --- configuration --------------------------------------------------------------------

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        for item in get_variable_data:
            known = self.variables.get(_name(item))
            result = {"component": item["component"], "variable": item["variable"]}
            if known is None:
                result["attribute_status"] = "UnknownVariable"
            elif known[1] == "WriteOnly":
                result["attribute_status"] = "Rejected"
            else:
                result.update(attribute_status="Accepted", attribute_value=known[0])
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **_: Any) -> Any:
        results = []
        for item in set_variable_data:
            key = _name(item)
            known = self.variables.get(key)
            if known is None:
                status = "UnknownVariable"
            elif known[1] == "ReadOnly":
                status = "Rejected"
            else:
                status = "Accepted"
                self.variables[key] = (item["attribute_value"], known[1])
                print(f"set {key[0]}.{key[1]}", flush=True)
            results.append(
                {"attribute_status": status, "component": item["component"],
                 "variable": item["variable"]}
            )  # fmt: skip
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.get_base_report)
    def on_get_base_report(self, **_: Any) -> Any:
        return call_result.GetBaseReport(status="Accepted")

    @after(Action.get_base_report)
    async def send_report(self, request_id: int, **_: Any) -> None:
        data = []
        for (component, variable), (value, mutability) in sorted(self.variables.items()):
            name, _, instance = variable.partition("[")
            variable_type = {"name": name}
            if instance:
                variable_type["instance"] = instance.rstrip("]")
            attribute = {"mutability": mutability}
            if mutability != "WriteOnly":
                attribute["value"] = value
            data.append(
                {
                    "component": {"name": component},
                    "variable": variable_type,
                    "variable_attribute": [attribute],
                    "variable_characteristics": {"data_type": "string",
                                                 "supports_monitoring": False},
                }
            )  # fmt: skip
        await self.call(
            call.NotifyReport(request_id=request_id, generated_at=now(), seq_no=0, report_data=data)
        )

    # --- the other commands ---------------------------------------------------------------

    @on(Action.trigger_message)
    def on_trigger(self, requested_message: str, **_: Any) -> Any:
        known = ("BootNotification", "Heartbeat", "StatusNotification")
        return call_result.TriggerMessage(
            status="Accepted" if requested_message in known else "NotImplemented"
        )

    @after(Action.trigger_message)
    async def triggered(self, requested_message: str, **_: Any) -> None:
        if requested_message == "BootNotification":
            await self.boot_once()
        elif requested_message == "Heartbeat":
            await self.call(call.Heartbeat())
        elif requested_message == "StatusNotification":
            for evse in range(1, self.evses + 1):
                await self.status(evse, "Occupied" if evse in self.transactions else "Available")

    @on(Action.request_start_transaction)
    def on_start(self, id_token: dict[str, Any], evse_id: int | None = None, **_: Any) -> Any:
        evse = evse_id or next((e for e in self.meters if e not in self.transactions), None)
        if evse is None or evse in self.transactions or evse not in self.meters:
            return call_result.RequestStartTransaction(status="Rejected")
        transaction_id = str(uuid.uuid4())
        task = asyncio.get_running_loop().create_task(self.charge(evse, transaction_id, id_token))
        self.transactions[evse] = (transaction_id, task)
        print(f"transaction {transaction_id} on EVSE {evse}", flush=True)
        return call_result.RequestStartTransaction(status="Accepted")

    @on(Action.request_stop_transaction)
    def on_stop(self, transaction_id: str, **_: Any) -> Any:
        for evse, (running, task) in list(self.transactions.items()):
            if running == transaction_id:
                task.cancel()
                del self.transactions[evse]
                return call_result.RequestStopTransaction(status="Accepted")
        return call_result.RequestStopTransaction(status="Rejected")

    @on(Action.reset)
    def on_reset(self, **_: Any) -> Any:
        return call_result.Reset(status="Scheduled" if self.transactions else "Accepted")

    @on(Action.unlock_connector)
    def on_unlock(self, **_: Any) -> Any:
        return call_result.UnlockConnector(status="Unlocked")

    @on(Action.change_availability)
    def on_change_availability(self, **_: Any) -> Any:
        return call_result.ChangeAvailability(status="Accepted")

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **_: Any) -> Any:
        return call_result.ClearChargingProfile(status="Unknown")


async def main(
    url: str, station_id: str, evses: int, password: str | None, duration: float
) -> None:
    headers = {}
    if password is not None:
        token = base64.b64encode(f"{station_id}:{password}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    async with connect(
        url.rstrip("/") + "/" + station_id, subprotocols=["ocpp2.0.1"], additional_headers=headers
    ) as ws:
        station = Station(station_id, ws, evses)
        serving = asyncio.create_task(station.start())
        await station.boot()
        beating = asyncio.create_task(station.heartbeats())
        await asyncio.wait({serving}, timeout=duration if duration > 0 else None)
        if serving.done() and serving.exception() is not None:
            print(f"connection closed: {serving.exception()}", flush=True)
        for _, task in station.transactions.values():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await task
        beating.cancel()
        serving.cancel()
    print("done", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="the CSMS's websocket base URL, e.g. ws://127.0.0.1:9100/ocpp/")
    parser.add_argument("station_id")
    parser.add_argument("--evses", type=int, default=1, help="EVSEs, one connector each")
    parser.add_argument("--password", help="HTTP Basic auth password (security profile 1)")
    parser.add_argument("--duration", type=float, default=0, help="seconds to run (0: forever)")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(main(args.url, args.station_id, args.evses, args.password, args.duration))

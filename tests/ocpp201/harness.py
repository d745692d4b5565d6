"""A running server (the wiring of ``python -m evcharge_core.serve``, on an in-memory
repository and a free loopback port) and an OCPP 2.0.1 charging station built on the ``ocpp``
package's own ``ocpp.v201.ChargePoint``, so that what we test against is independent of our
code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import attrs
from ocpp.exceptions import OccurrenceConstraintViolationError, OCPPError
from ocpp.routing import after, on
from ocpp.v201 import ChargePoint, call, call_result
from ocpp.v201.enums import Action
from websockets.asyncio.client import ClientConnection, connect

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.domain.device_model import VariableKey, format_key, parse_key
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol
from evcharge_core.ocpp201 import Ocpp201Session
from evcharge_core.serve import Core, build_core

from ..ocpp16.harness import (
    SECURITY_CODE,
    full_boot_configuration,
    now_text,
    run,
    until,
)

__all__ = [
    "SECURITY_CODE",
    "Env",
    "StationClient",
    "full_boot_configuration",
    "make_station",
    "now_text",
    "run",
    "running",
    "until",
]


def make_station(station_id: str = "ST1", **changes: Any) -> Station:
    return Station(
        id=station_id, name=station_id, code=station_id, protocol=Protocol.OCPP201, **changes
    )


def _component(data: dict[str, Any]) -> tuple[str, str | None, int | None, int | None]:
    evse = data.get("evse") or {}
    return data["name"], data.get("instance"), evse.get("id"), evse.get("connector_id")


def _key_of(item: dict[str, Any]) -> str:
    name, instance, evse_id, connector_id = _component(item["component"])
    variable = item["variable"]
    return format_key(
        VariableKey(
            component=name,
            variable=variable["name"],
            component_instance=instance,
            evse_id=evse_id,
            connector_id=connector_id,
            variable_instance=variable.get("instance"),
            attribute_type=item.get("attribute_type") or "Actual",
        )
    )


def _report_item(key_text: str, value: str, mutability: str) -> dict[str, Any]:
    key = parse_key(key_text)
    component: dict[str, Any] = {"name": key.component}
    if key.component_instance is not None:
        component["instance"] = key.component_instance
    if key.evse_id is not None:
        component["evse"] = {"id": key.evse_id}
        if key.connector_id is not None:
            component["evse"]["connector_id"] = key.connector_id
    variable: dict[str, Any] = {"name": key.variable}
    if key.variable_instance is not None:
        variable["instance"] = key.variable_instance
    return {
        "component": component,
        "variable": variable,
        "variable_attribute": [
            {"type": key.attribute_type, "value": value, "mutability": mutability}
        ],
        "variable_characteristics": {"data_type": "string", "supports_monitoring": False},
    }


class StationClient(ChargePoint):
    """An OCPP 2.0.1 charging station that answers the CSMS's calls from what the test set
    up.

    ``requests`` records every CSMS call received, as ``(action, snake_case kwargs)``;
    ``statuses`` overrides the status answered per action; ``errors`` makes an action
    answer a CallError. ``variables`` is its device model (key text to value and
    mutability); GetVariables and SetVariables read and write it, and a GetBaseReport it
    accepts is followed by NotifyReport messages (two at a time). A TriggerMessage it
    accepts is followed by the requested message.
    """

    def __init__(self, station_id: str, connection: ClientConnection) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.statuses: dict[str, str] = {}
        self.errors: dict[str, OCPPError] = {}
        self.variables: dict[str, tuple[str, str]] = {
            "OCPPCommCtrlr.HeartbeatInterval": ("300", "ReadWrite"),
            "SecurityCtrlr.BasicAuthPassword": ("", "WriteOnly"),
            "DeviceDataCtrlr.ItemsPerMessage[GetVariables]": ("2", "ReadOnly"),
            "DeviceDataCtrlr.ItemsPerMessage[SetVariables]": ("2", "ReadOnly"),
            "DeviceDataCtrlr.BytesPerMessage[GetVariables]": ("4000", "ReadOnly"),
            "DeviceDataCtrlr.BytesPerMessage[SetVariables]": ("4000", "ReadOnly"),
            "EVSE[evse=1].AvailabilityState": ("Available", "ReadOnly"),
            "Connector[evse=1,connector=1].ConnectorType": ("cType2", "ReadOnly"),
        }
        self.boot_answers: list[Any] = []
        self.triggered: list[str] = []
        self.reports_sent: list[int] = []
        self.report_parts = 2

    def _record(self, action: str, kwargs: dict[str, Any]) -> None:
        self.requests.append((action, kwargs))
        if action in self.errors:
            raise self.errors[action]

    def _check_items(self, action: str, items: list[Any]) -> None:
        """Refuse a request with more items than the station's ItemsPerMessage."""
        limit = self.variables.get(f"DeviceDataCtrlr.ItemsPerMessage[{action}]")
        if limit is not None and len(items) > int(limit[0]):
            raise OccurrenceConstraintViolationError(f"at most {limit[0]} items")

    def actions(self) -> list[str]:
        return [action for action, _ in self.requests]

    def payloads(self, action: str) -> list[dict[str, Any]]:
        return [kwargs for name, kwargs in self.requests if name == action]

    async def boot(self, vendor: str = "Vendor", model: str = "Model", **station: Any) -> Any:
        answer = await self.call(
            call.BootNotification(
                charging_station={"model": model, "vendor_name": vendor, **station},
                reason="PowerUp",
            ),
            suppress=False,
        )
        self.boot_answers.append(answer)
        return answer

    async def status(self, evse_id: int, connector_id: int, status: str, **extra: Any) -> Any:
        return await self.call(
            call.StatusNotification(
                timestamp=extra.pop("timestamp", now_text()),
                connector_status=status,
                evse_id=evse_id,
                connector_id=connector_id,
            ),
            suppress=False,
        )

    # --- configuration --------------------------------------------------------------------

    @on(Action.get_variables)
    def on_get_variables(self, get_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        self._record("GetVariables", {"get_variable_data": get_variable_data, **kwargs})
        self._check_items("GetVariables", get_variable_data)
        results = []
        for item in get_variable_data:
            key = _key_of(item)
            known = self.variables.get(key)
            result: dict[str, Any] = {
                "component": item["component"],
                "variable": item["variable"],
            }
            if item.get("attribute_type"):
                result["attribute_type"] = item["attribute_type"]
            if known is None:
                result["attribute_status"] = "UnknownVariable"
            elif known[1] == "WriteOnly":
                result["attribute_status"] = "Rejected"
            else:
                result["attribute_status"] = "Accepted"
                result["attribute_value"] = known[0]
            results.append(result)
        return call_result.GetVariables(get_variable_result=results)

    @on(Action.set_variables)
    def on_set_variables(self, set_variable_data: list[dict[str, Any]], **kwargs: Any) -> Any:
        self._record("SetVariables", {"set_variable_data": set_variable_data, **kwargs})
        self._check_items("SetVariables", set_variable_data)
        results = []
        for item in set_variable_data:
            key = _key_of(item)
            known = self.variables.get(key)
            status = self.statuses.get("SetVariables", "Accepted")
            if known is None:
                status = "UnknownVariable"
            elif known[1] == "ReadOnly":
                status = "Rejected"
            if status == "Accepted":
                self.variables[key] = (item["attribute_value"], known[1] if known else "ReadWrite")
            results.append(
                {
                    "attribute_status": status,
                    "component": item["component"],
                    "variable": item["variable"],
                }
            )
        return call_result.SetVariables(set_variable_result=results)

    @on(Action.get_base_report)
    def on_get_base_report(self, request_id: int, report_base: str, **kwargs: Any) -> Any:
        self._record("GetBaseReport", {"request_id": request_id, "report_base": report_base})
        return call_result.GetBaseReport(status=self.statuses.get("GetBaseReport", "Accepted"))

    @after(Action.get_base_report)
    async def after_get_base_report(self, request_id: int, **_: Any) -> None:
        if self.statuses.get("GetBaseReport", "Accepted") != "Accepted":
            return
        items = [_report_item(k, value, m) for k, (value, m) in sorted(self.variables.items())]
        size = -(-len(items) // self.report_parts)
        parts = [items[i : i + size] for i in range(0, len(items), size)]
        for seq_no, part in enumerate(parts):
            await self.call(
                call.NotifyReport(
                    request_id=request_id,
                    generated_at=now_text(),
                    seq_no=seq_no,
                    report_data=part,
                    tbc=seq_no < len(parts) - 1,
                ),
                suppress=False,
            )
        self.reports_sent.append(request_id)

    # --- triggers -------------------------------------------------------------------------

    @on(Action.trigger_message)
    def on_trigger_message(self, **kwargs: Any) -> Any:
        self._record("TriggerMessage", kwargs)
        return call_result.TriggerMessage(status=self.statuses.get("TriggerMessage", "Accepted"))

    @after(Action.trigger_message)
    async def after_trigger_message(self, requested_message: str, **_: Any) -> None:
        if self.statuses.get("TriggerMessage", "Accepted") != "Accepted":
            return
        self.triggered.append(requested_message)
        if requested_message == "BootNotification":
            await self.boot()
        elif requested_message == "StatusNotification":
            await self.status(1, 1, "Available")
        elif requested_message == "Heartbeat":
            await self.call(call.Heartbeat())

    # --- the other commands ---------------------------------------------------------------

    def _status_answer(self, action: str, default: str, **kwargs: Any) -> str:
        self._record(action, kwargs)
        return self.statuses.get(action, default)

    @on(Action.reset)
    def on_reset(self, **kwargs: Any) -> Any:
        return call_result.Reset(status=self._status_answer("Reset", "Accepted", **kwargs))

    @on(Action.request_start_transaction)
    def on_request_start(self, **kwargs: Any) -> Any:
        status = self._status_answer("RequestStartTransaction", "Accepted", **kwargs)
        return call_result.RequestStartTransaction(status=status)

    @on(Action.request_stop_transaction)
    def on_request_stop(self, **kwargs: Any) -> Any:
        status = self._status_answer("RequestStopTransaction", "Accepted", **kwargs)
        return call_result.RequestStopTransaction(status=status)

    @on(Action.unlock_connector)
    def on_unlock(self, **kwargs: Any) -> Any:
        status = self._status_answer("UnlockConnector", "Unlocked", **kwargs)
        return call_result.UnlockConnector(status=status)

    @on(Action.change_availability)
    def on_change_availability(self, **kwargs: Any) -> Any:
        status = self._status_answer("ChangeAvailability", "Accepted", **kwargs)
        return call_result.ChangeAvailability(status=status)

    @on(Action.reserve_now)
    def on_reserve_now(self, **kwargs: Any) -> Any:
        return call_result.ReserveNow(
            status=self._status_answer("ReserveNow", "Accepted", **kwargs)
        )

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, **kwargs: Any) -> Any:
        status = self._status_answer("CancelReservation", "Accepted", **kwargs)
        return call_result.CancelReservation(status=status)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, **kwargs: Any) -> Any:
        status = self._status_answer("SetChargingProfile", "Accepted", **kwargs)
        return call_result.SetChargingProfile(status=status)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **kwargs: Any) -> Any:
        status = self._status_answer("ClearChargingProfile", "Accepted", **kwargs)
        return call_result.ClearChargingProfile(status=status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kwargs: Any) -> Any:
        self._record("GetLocalListVersion", kwargs)
        return call_result.GetLocalListVersion(version_number=7)


@attrs.define
class Env:
    core: Core
    repository: InMemoryRepository

    @property
    def port(self) -> int:
        return self.core.gateway.port

    def url(self, station_id: str = "ST1") -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{station_id}"

    async def session(self, station_id: str = "ST1") -> Ocpp201Session:
        """The station's live session, once the gateway registered it."""
        for _ in range(500):
            session = self.core.gateway.session(station_id)
            if isinstance(session, Ocpp201Session):
                return session
            await asyncio.sleep(0.005)
        raise AssertionError(f"no session for {station_id}")

    async def load(self, station_id: str = "ST1") -> Station:
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
        assert station is not None
        return station

    @contextlib.asynccontextmanager
    async def station(
        self,
        station_id: str = "ST1",
        client: type[StationClient] = StationClient,
        **connect_options: Any,
    ) -> AsyncIterator[StationClient]:
        """A connected ``ocpp`` v201 charging station, serving the CSMS's calls in the
        background."""
        async with connect(
            self.url(station_id), subprotocols=["ocpp2.0.1"], open_timeout=5, **connect_options
        ) as ws:
            station = client(station_id, ws)
            task = asyncio.create_task(station.start())
            try:
                await self.session(station_id)
                yield station
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


@contextlib.asynccontextmanager
async def running(*stations: Station, heartbeat_interval_s: int = 300) -> AsyncIterator[Env]:
    repository = InMemoryRepository()
    async with repository.transaction() as tx:
        await tx.stations.save_many(stations)
    core = build_core(repository, heartbeat_interval_s=heartbeat_interval_s)
    async with core.gateway.serve("127.0.0.1", 0):
        try:
            yield Env(core, repository)
        finally:
            await core.commands.aclose()
            await core.profiles.aclose()
            await core.balancer.aclose()

"""A running server (the wiring of ``python -m evcharge_core.serve``, on an in-memory
repository and a free loopback port) and a charging station built on the ``ocpp`` package's
own ``ChargePoint`` client, so that what we test against is independent of our code."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import attrs
from ocpp.exceptions import OCPPError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint, call, call_result
from ocpp.v16.enums import Action
from websockets.asyncio.client import ClientConnection, connect

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.domain.model import BootConfiguration, Station
from evcharge_core.ocpp16 import Ocpp16Session
from evcharge_core.serve import Core, build_core

SECURITY_CODE = "K7P2-9QXM"


def now_text() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def make_station(station_id: str = "ST1", **changes: Any) -> Station:
    return Station(id=station_id, name=station_id, code=station_id, **changes)


def full_boot_configuration() -> BootConfiguration:
    return BootConfiguration(
        trigger_boot_notification=True,
        trigger_status_notification=True,
        trigger_heartbeat=True,
        clear_charging_profiles=True,
    )


def run(test: Callable[[], Awaitable[None]], timeout: float = 20) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=timeout))


class StationClient(ChargePoint):
    """A charge point that answers the CSMS's calls from what the test set up.

    ``requests`` records every CSMS call received, as ``(action, snake_case kwargs)``;
    ``statuses`` overrides the status answered per action; ``errors`` makes an action
    answer a CallError. A TriggerMessage it accepts is followed by the requested message.
    """

    def __init__(self, station_id: str, connection: ClientConnection) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.statuses: dict[str, str] = {}
        self.errors: dict[str, OCPPError] = {}
        self.configuration: dict[str, tuple[str, bool]] = {
            "HeartbeatInterval": ("300", False),
            "NumberOfConnectors": ("2", True),
        }
        self.boot_answers: list[Any] = []
        self.triggered: list[str] = []

    def _record(self, action: str, kwargs: dict[str, Any]) -> None:
        self.requests.append((action, kwargs))
        if action in self.errors:
            raise self.errors[action]

    def actions(self) -> list[str]:
        return [action for action, _ in self.requests]

    async def boot(self, vendor: str = "Vendor", model: str = "Model") -> Any:
        answer = await self.call(
            call.BootNotification(charge_point_model=model, charge_point_vendor=vendor),
            suppress=False,
        )
        self.boot_answers.append(answer)
        return answer

    @on(Action.get_configuration)
    def on_get_configuration(self, **kwargs: Any) -> call_result.GetConfiguration:
        self._record("GetConfiguration", kwargs)
        keys = kwargs.get("key") or list(self.configuration)
        known = [k for k in keys if k in self.configuration]
        return call_result.GetConfiguration(
            configuration_key=[
                {"key": k, "value": self.configuration[k][0], "readonly": self.configuration[k][1]}
                for k in known
            ],
            unknown_key=[k for k in keys if k not in self.configuration],
        )

    @on(Action.change_configuration)
    def on_change_configuration(self, key: str, value: str) -> call_result.ChangeConfiguration:
        self._record("ChangeConfiguration", {"key": key, "value": value})
        status = self.statuses.get("ChangeConfiguration", "Accepted")
        if status == "Accepted":
            self.configuration[key] = (value, False)
        return call_result.ChangeConfiguration(status=status)

    @on(Action.trigger_message)
    def on_trigger_message(self, **kwargs: Any) -> call_result.TriggerMessage:
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
            await self.call(
                call.StatusNotification(
                    connector_id=1, error_code="NoError", status="Available", timestamp=now_text()
                )
            )
        elif requested_message == "Heartbeat":
            await self.call(call.Heartbeat())

    def _status_answer(self, action: str, default: str, **kwargs: Any) -> str:
        self._record(action, kwargs)
        return self.statuses.get(action, default)

    @on(Action.remote_start_transaction)
    def on_remote_start(self, **kwargs: Any) -> call_result.RemoteStartTransaction:
        status = self._status_answer("RemoteStartTransaction", "Accepted", **kwargs)
        return call_result.RemoteStartTransaction(status=status)

    @on(Action.remote_stop_transaction)
    def on_remote_stop(self, **kwargs: Any) -> call_result.RemoteStopTransaction:
        status = self._status_answer("RemoteStopTransaction", "Accepted", **kwargs)
        return call_result.RemoteStopTransaction(status=status)

    @on(Action.reset)
    def on_reset(self, **kwargs: Any) -> call_result.Reset:
        return call_result.Reset(status=self._status_answer("Reset", "Accepted", **kwargs))

    @on(Action.unlock_connector)
    def on_unlock(self, **kwargs: Any) -> call_result.UnlockConnector:
        status = self._status_answer("UnlockConnector", "Unlocked", **kwargs)
        return call_result.UnlockConnector(status=status)

    @on(Action.change_availability)
    def on_change_availability(self, **kwargs: Any) -> call_result.ChangeAvailability:
        status = self._status_answer("ChangeAvailability", "Accepted", **kwargs)
        return call_result.ChangeAvailability(status=status)

    @on(Action.reserve_now)
    def on_reserve_now(self, **kwargs: Any) -> call_result.ReserveNow:
        return call_result.ReserveNow(
            status=self._status_answer("ReserveNow", "Accepted", **kwargs)
        )

    @on(Action.cancel_reservation)
    def on_cancel_reservation(self, **kwargs: Any) -> call_result.CancelReservation:
        status = self._status_answer("CancelReservation", "Accepted", **kwargs)
        return call_result.CancelReservation(status=status)

    @on(Action.clear_charging_profile)
    def on_clear_charging_profile(self, **kwargs: Any) -> call_result.ClearChargingProfile:
        status = self._status_answer("ClearChargingProfile", "Accepted", **kwargs)
        return call_result.ClearChargingProfile(status=status)

    @on(Action.set_charging_profile)
    def on_set_charging_profile(self, **kwargs: Any) -> call_result.SetChargingProfile:
        status = self._status_answer("SetChargingProfile", "Accepted", **kwargs)
        return call_result.SetChargingProfile(status=status)

    @on(Action.get_local_list_version)
    def on_get_local_list_version(self, **kwargs: Any) -> call_result.GetLocalListVersion:
        self._record("GetLocalListVersion", kwargs)
        return call_result.GetLocalListVersion(list_version=7)

    @on(Action.extended_trigger_message)
    def on_extended_trigger(self, **kwargs: Any) -> call_result.ExtendedTriggerMessage:
        status = self._status_answer("ExtendedTriggerMessage", "Accepted", **kwargs)
        return call_result.ExtendedTriggerMessage(status=status)


@attrs.define
class Env:
    core: Core
    repository: InMemoryRepository

    @property
    def port(self) -> int:
        return self.core.gateway.port

    def url(self, station_id: str = "ST1") -> str:
        return f"ws://127.0.0.1:{self.port}/ocpp/{station_id}"

    async def session(self, station_id: str = "ST1") -> Ocpp16Session:
        """The station's live session, once the gateway registered it."""
        for _ in range(500):
            session = self.core.gateway.session(station_id)
            if isinstance(session, Ocpp16Session):
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
        self, station_id: str = "ST1", client: type[StationClient] = StationClient
    ) -> AsyncIterator[StationClient]:
        """A connected ``ocpp`` charge point, serving the CSMS's calls in the background."""
        async with connect(self.url(station_id), subprotocols=["ocpp1.6"], open_timeout=5) as ws:
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


async def until(condition: Callable[[], bool], what: str = "condition") -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"timed out waiting for {what}")

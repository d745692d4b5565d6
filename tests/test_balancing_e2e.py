"""Load balancing end to end: the reference server's wiring (:func:`~evcharge_core.serve.
build_core` on an in-memory repository, a real loopback gateway) and the project's own
simulated stations over real sockets, starting and stopping transactions. What is checked
is what each station received: the SetChargingProfile requests it recorded.

The scenario is the how-to's worked example (docs/load-balancing.md): area "Depot" in
Berlin limited to 32 A per phase; charger A three-phase 32 A with the day/night profile
(10 kW by day: 14 A; 20 kW at night: 28 A), B three-phase 16 A, C single-phase 32 A.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.domain.events import AllocationChanged, ChargingProfileSent, Event
from evcharge_core.domain.model import Area, Charger, Connector, Station
from evcharge_core.domain.profiles import parse_profile
from evcharge_core.domain.transactions import IdToken
from evcharge_core.domain.values import (
    ConnectorFormat,
    ConnectorStandard,
    CurrentType,
    PowerType,
    Protocol,
)
from evcharge_core.serve import Core, build_core
from evcharge_core.simulator import SimulatedStation, SimulatedStation201, SimulationConfig
from evcharge_core.simulator._ocppj import Call

from .conftest import FakeClock

DAY_NIGHT: dict[str, Any] = {
    "name": "Day/night",
    "unit": "W",
    "recurrence": "daily",
    "periods": [{"start": "07:00", "limit": 10000}, {"start": "22:00", "limit": 20000}],
}


def _fast(url: str, protocol: str = "ocpp1.6") -> SimulationConfig:
    return SimulationConfig(
        url=url,
        protocol=protocol,
        connectors=1,
        transactions=False,  # the test starts and stops them
        charge_time=(3600.0, 3600.0),
        meter_interval=0,  # no meter values: allocations by the rules alone, no demand caps
        think_time=(0.05, 0.1),
        unplug_time=(0.05, 0.05),
        reconnect_delay=(0.05, 0.1),
        shutdown_grace=2.0,
        call_timeout=5.0,
        seed=1,
    )


class Recording(SimulatedStation):
    """A simulated 1.6 station that also keeps every SetChargingProfile it was sent."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[dict[str, Any]] = []

    def _decide(self, call: Call) -> Any:
        if call.action == "SetChargingProfile":
            self.received.append(call.payload)
        return super()._decide(call)

    def tx_limits(self) -> list[float]:
        return [
            p["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"]
            for p in self.received
            if p["csChargingProfiles"]["chargingProfilePurpose"] == "TxProfile"
        ]


class Recording201(SimulatedStation201):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.received: list[dict[str, Any]] = []

    def _decide(self, call: Call) -> Any:
        if call.action == "SetChargingProfile":
            self.received.append(call.payload)
        return super()._decide(call)


def _charger(station_id: str, power_type: PowerType, amperage: int, **fields: Any) -> Charger:
    connector = Connector(
        id=f"{station_id}-k1",
        ocpp_id=1,
        code="K1",
        name="K1",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=power_type,
        voltage=230,
        amperage=amperage,
    )
    return Charger(
        id=f"{station_id}-ch",
        evse_id=1,
        code=f"{station_id}-CH",
        name=station_id,
        current_type=CurrentType.AC,
        connectors=(connector,),
        **fields,
    )


def _station(station_id: str, charger: Charger, protocol: Protocol = Protocol.OCPP16) -> Station:
    return Station(
        id=station_id,
        name=station_id,
        code=station_id,
        area_id="depot",
        protocol=protocol,
        chargers=(charger,),
    )


async def until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def server(
    stations: list[Station], clock: FakeClock, *, output_limit_a: int = 32
) -> AsyncIterator[tuple[Core, list[Event]]]:
    repository = InMemoryRepository()
    async with repository.transaction() as tx:
        await tx.areas.save(
            Area(
                id="depot",
                name="Depot",
                latitude=52.5,
                longitude=13.4,
                output_limit_a=output_limit_a,
                time_zone="Europe/Berlin",
            )
        )
        await tx.charging_profiles.save(parse_profile(DAY_NIGHT, profile_id="day-night"))
        await tx.stations.save_many(stations)
        await tx.id_tokens.save(IdToken("SIMTAG"))
    core = build_core(repository)
    core.balancer.clock = clock
    core.profiles.clock = clock
    events: list[Event] = []
    core.bus.subscribe(events.append)
    async with core.gateway.serve("127.0.0.1", 0):
        try:
            yield core, events
        finally:
            await core.commands.aclose()
            await core.profiles.aclose()
            await core.balancer.aclose()


@contextlib.asynccontextmanager
async def simulated(*stations: SimulatedStation | SimulatedStation201) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(s.run()) for s in stations]
    try:
        yield
    finally:
        for station in stations:
            station.stop()
        await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 15)


def _transaction_id(station: Recording) -> int:
    transaction_id = station.model.connector(1).transaction_id
    assert transaction_id is not None
    return transaction_id


def test_three_cars_share_32_amperes() -> None:
    """The worked example: each station receives the TxProfile limits of the how-to's table,
    only when its allocation changes, decreases before increases."""

    async def test() -> None:
        clock = FakeClock()
        clock.now = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # 18:00 in Berlin
        with_profile = {"charging_profile_id": "day-night"}
        stations = [
            _station("STA", _charger("STA", PowerType.AC_3_PHASE, 32, **with_profile)),
            _station("STB", _charger("STB", PowerType.AC_3_PHASE, 16)),
            _station("STC", _charger("STC", PowerType.AC_1_PHASE, 32)),
        ]
        async with server(stations, clock) as (core, events):
            url = f"ws://127.0.0.1:{core.gateway.port}/ocpp/"
            a, b, c = (Recording(s.id, _fast(url)) for s in stations)
            async with simulated(a, b, c):
                await until(
                    lambda: all(core.commands.is_connected(s.id) for s in stations), "connections"
                )
                # A's charger is alone on its station: its profile is the station maximum
                await until(lambda: bool(a.received), "A's charger profile")
                station_max = a.received[0]
                assert station_max["connectorId"] == 0
                profile = station_max["csChargingProfiles"]
                assert profile["chargingProfileId"] == 1
                assert profile["chargingProfilePurpose"] == "ChargePointMaxProfile"
                assert profile["chargingProfileKind"] == "Recurring"
                assert profile["chargingSchedule"]["chargingSchedulePeriod"] == [
                    {"startPeriod": 0, "limit": 20000},
                    {"startPeriod": 25200, "limit": 10000},
                    {"startPeriod": 79200, "limit": 20000},
                ]
                sent = ChargingProfileSent("STA", "STA-ch", "day-night")
                await until(lambda: sent in events, "the event of the profile sent")

                # 18:00 A's car arrives: its profile (14 A by day) is the cap
                assert await core.commands.remote_start("STA", "SIMTAG", 1) == "Accepted"
                await until(lambda: a.tx_limits() == [14], "A at 14 A")
                tx = next(p for p in a.received if "transactionId" in p["csChargingProfiles"])
                assert tx["connectorId"] == 1
                assert tx["csChargingProfiles"]["chargingProfileId"] == 2001
                assert tx["csChargingProfiles"]["stackLevel"] == 1
                assert tx["csChargingProfiles"]["transactionId"] == _transaction_id(a)
                # 18:05 B's car arrives: both fit under their own caps
                clock.advance(300)
                await core.commands.remote_start("STB", "SIMTAG", 1)
                await until(lambda: b.tx_limits() == [16], "B at 16 A")
                # 18:10 C's car arrives on L1: 32 A over three, the extra ampere to the first
                clock.advance(300)
                await core.commands.remote_start("STC", "SIMTAG", 1)
                await until(lambda: c.tx_limits() == [10], "C at 10 A")
                await until(lambda: a.tx_limits() == [14, 11], "A down to 11 A")
                await until(lambda: b.tx_limits() == [16, 11], "B down to 11 A")
                view = core.balancer.allocations("depot")
                assert view is not None
                assert view.allocation.phase_current_a == (32, 22, 22)
                assert view.next_change == datetime(2026, 6, 1, 20, 0, tzinfo=UTC)  # 22:00

                # B's car leaves: A back to its cap, C takes the rest of L1
                clock.advance(3000)
                assert await core.commands.remote_stop("STB", _transaction_id(b)) == "Accepted"
                await until(lambda: a.tx_limits() == [14, 11, 14], "A back to 14 A")
                await until(lambda: c.tx_limits() == [10, 18], "C up to 18 A")

                # 22:00: A's profile allows 28 A; L1 shares 16 + 16; C's decrease goes first
                clock.now = datetime(2026, 6, 1, 20, 0, tzinfo=UTC)
                events.clear()
                await core.balancer.recompute("depot")
                assert a.tx_limits() == [14, 11, 14, 16]
                assert c.tx_limits() == [10, 18, 16]
                changed = [e for e in events if isinstance(e, AllocationChanged)]
                assert [(e.connector_id, e.previous, e.limit) for e in changed] == [
                    ("STC-k1", 18, 16),
                    ("STA-k1", 14, 16),
                ]
                # nothing changes, nothing is sent again
                await core.balancer.recompute("depot")
                assert (len(a.received), len(b.received), len(c.received)) == (5, 2, 3)
            assert b.tx_limits() == [16, 11]

    asyncio.run(asyncio.wait_for(test(), 60))


def test_pausing_and_resuming_in_arrival_order() -> None:
    """Lowering the area's limit below three minimums pauses the latest arrival (limit 0);
    when an earlier car leaves, it resumes."""

    async def test() -> None:
        clock = FakeClock()
        clock.now = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
        stations = [
            _station(sid, _charger(sid, PowerType.AC_1_PHASE, 32)) for sid in ("S1", "S2", "S3")
        ]
        async with server(stations, clock, output_limit_a=16) as (core, _):
            url = f"ws://127.0.0.1:{core.gateway.port}/ocpp/"
            sims = [Recording(s.id, _fast(url)) for s in stations]
            async with simulated(*sims):
                await until(
                    lambda: all(core.commands.is_connected(s.id) for s in stations), "connections"
                )
                for sim in sims:
                    await core.commands.remote_start(sim.station_id, "SIMTAG", 1)
                    await until(lambda sim=sim: bool(sim.tx_limits()), "a first limit")
                await until(lambda: sims[2].tx_limits()[-1:] == [0], "the third paused")
                await until(lambda: [s.tx_limits()[-1] for s in sims] == [8, 8, 0], "8 + 8 + 0")
                await core.commands.remote_stop("S1", _transaction_id(sims[0]))
                await until(lambda: sims[2].tx_limits()[-1:] == [8], "the third resumed")
                assert sims[1].tx_limits()[-1] == 8

    asyncio.run(asyncio.wait_for(test(), 60))


def test_an_ocpp201_station_gets_its_profile_and_allocation_per_evse() -> None:
    async def test() -> None:
        clock = FakeClock()
        clock.now = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)
        charger = _charger("ST201", PowerType.AC_3_PHASE, 32, charging_profile_id="day-night")
        stations = [_station("ST201", charger, Protocol.OCPP201)]
        async with server(stations, clock, output_limit_a=20) as (core, _):
            url = f"ws://127.0.0.1:{core.gateway.port}/ocpp/"
            sim = Recording201("ST201", _fast(url, "ocpp2.0.1"))
            async with simulated(sim):
                await until(lambda: core.commands.is_connected("ST201"), "connection")
                await until(lambda: bool(sim.received), "the charger profile")
                first = sim.received[0]
                assert first["evseId"] == 0
                assert first["chargingProfile"]["chargingProfilePurpose"] == (
                    "ChargingStationMaxProfile"
                )
                assert first["chargingProfile"]["id"] == 1
                assert await core.commands.remote_start("ST201", "SIMTAG", evse_id=1) == "Accepted"

                def tx_profiles() -> list[dict[str, Any]]:
                    return [
                        p
                        for p in sim.received
                        if p["chargingProfile"]["chargingProfilePurpose"] == "TxProfile"
                    ]

                await until(lambda: bool(tx_profiles()), "a TxProfile")
                tx = tx_profiles()[0]
                assert tx["evseId"] == 1
                assert tx["chargingProfile"]["id"] == 2001
                schedule = tx["chargingProfile"]["chargingSchedule"][0]
                assert schedule["chargingSchedulePeriod"] == [
                    {"startPeriod": 0, "limit": 14, "numberPhases": 3}
                ]
                view = core.balancer.allocations("depot")
                assert view is not None
                target = view.targets["ST201-k1"]
                assert tx["chargingProfile"]["transactionId"] == target.transaction_id

    asyncio.run(asyncio.wait_for(test(), 60))

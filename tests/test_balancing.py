"""The balancer and the profile sender (evcharge_core.balancing) against the in-memory
repository and a fake CommandService that records what would be sent and answers as told:
rejections and timeouts, pinning and retries, coalescing, TxDefaultProfiles, clearing."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import attrs
import pytest

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.balancing import (
    Balancer,
    ProfileSender,
    allocations_to_json,
    compute_allocations,
    observed_draw,
)
from evcharge_core.bus import LocalEventBus
from evcharge_core.commands import ConfigurationEntry, ConfigurationResult
from evcharge_core.domain.allocation import AllocationState, Phase
from evcharge_core.domain.events import (
    AllocationChanged,
    AllocationRejected,
    AreaChanged,
    BootConfigured,
    ChargingProfileAssigned,
    ChargingProfileChanged,
    ChargingProfileRejected,
    ChargingProfileSent,
    Event,
    MeterValuesReceived,
    StationChanged,
    StationConnected,
    StationDeleted,
    TransactionEnded,
    TransactionStarted,
)
from evcharge_core.domain.model import Area, BootConfiguration, Charger, Connector, Station
from evcharge_core.domain.profiles import RateUnit, parse_profile
from evcharge_core.domain.transactions import MeterSample, Transaction, TransactionState
from evcharge_core.domain.values import (
    ConnectorFormat,
    ConnectorStandard,
    PhaseWiring,
    PowerType,
    Protocol,
)
from evcharge_core.errors import CommandTimeout

T = TypeVar("T")
T0 = datetime(2026, 6, 1, 16, 0, tzinfo=UTC)  # 18:00 in Berlin


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class FakeCommands:
    """Records SetChargingProfile and ClearChargingProfile; answers ``answers[station]``
    (default Accepted), or raises ``CommandTimeout`` for the stations in ``silent``."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, int, dict[str, Any], int | None]] = []
        self.cleared: list[tuple[str, int | None]] = []
        self.answers: dict[str, str] = {}
        self.silent: set[str] = set()
        self.offline: set[str] = set()
        self.max_periods: dict[str, str] = {}

    async def get_configuration(self, station_id: str, keys: list[str]) -> ConfigurationResult:
        known = tuple(
            ConfigurationEntry(k, self.max_periods[k], readonly=True)
            for k in keys
            if k in self.max_periods
        )
        return ConfigurationResult(known, tuple(k for k in keys if k not in self.max_periods))

    def is_connected(self, station_id: str) -> bool:
        return station_id not in self.offline

    async def set_charging_profile(
        self,
        station_id: str,
        connector_id: int,
        profile: Mapping[str, Any],
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        await asyncio.sleep(0)
        if station_id in self.silent:
            raise CommandTimeout(station_id, "SetChargingProfile", 30)
        self.sent.append((station_id, connector_id, dict(profile), evse_id))
        return self.answers.get(station_id, "Accepted")

    async def clear_charging_profile(self, station_id: str, **criteria: Any) -> str:
        self.cleared.append((station_id, criteria.get("profile_id")))
        return "Accepted"

    def tx_limits(self, station_id: str) -> list[int]:
        out = []
        for sid, _, profile, _ in self.sent:
            if sid == station_id and profile["chargingProfilePurpose"] == "TxProfile":
                out.append(profile["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"])
        return out


def _connector(station_id: str, ocpp_id: int, power_type: PowerType, amperage: int) -> Connector:
    return Connector(
        id=f"{station_id}-k{ocpp_id}",
        ocpp_id=ocpp_id,
        code=f"K{ocpp_id}",
        name=f"K{ocpp_id}",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=power_type,
        voltage=230,
        amperage=amperage,
    )


def _station(
    station_id: str,
    *connectors: Connector,
    chargers: int = 1,
    protocol: Protocol = Protocol.OCPP16,
    profile: str | None = None,
    **fields: Any,
) -> Station:
    built = tuple(
        Charger(
            id=f"{station_id}-ch{n}",
            evse_id=n,
            code=f"{station_id}-CH{n}",
            name=f"{station_id} {n}",
            charging_profile_id=profile,
            connectors=connectors if n == 1 else (),
        )
        for n in range(1, chargers + 1)
    )
    return Station(
        id=station_id,
        name=station_id,
        code=station_id,
        area_id="depot",
        protocol=protocol,
        chargers=built,
        **fields,
    )


def _session(station_id: str, transaction_id: str, minute: int, connector: int = 1) -> Transaction:
    return Transaction(
        station_id=station_id,
        transaction_id=transaction_id,
        connector_id=connector,
        id_tag="TAG",
        started_at=T0 + timedelta(minutes=minute),
        meter_start=0,
    )


async def _repository(*stations: Station, limit_a: int | None = 32) -> InMemoryRepository:
    repository = InMemoryRepository()
    async with repository.transaction() as tx:
        await tx.areas.save(
            Area(
                id="depot",
                name="Depot",
                latitude=0,
                longitude=0,
                output_limit_a=limit_a,
                time_zone="Europe/Berlin",
            )
        )
        await tx.charging_profiles.save(
            parse_profile(
                {
                    "name": "Day/night",
                    "unit": "W",
                    "recurrence": "daily",
                    "periods": [
                        {"start": "07:00", "limit": 10000},
                        {"start": "22:00", "limit": 20000},
                    ],
                },
                profile_id="day-night",
            )
        )
        await tx.stations.save_many(stations)
    return repository


async def _start(repository: InMemoryRepository, *sessions: Transaction) -> None:
    async with repository.transaction() as tx:
        for session in sessions:
            await tx.transactions.save(session)


def _balancer(
    repository: InMemoryRepository, commands: FakeCommands, *, active: bool = True
) -> tuple[Balancer, list[Event]]:
    events: list[Event] = []
    bus = LocalEventBus()
    bus.subscribe(events.append)
    balancer = Balancer(
        repository,
        commands,  # type: ignore[arg-type]
        events=bus,
        clock=lambda: T0,
        active=active,
    )
    return balancer, events


# --- the balancer ----------------------------------------------------------------------------


def test_only_changes_are_sent_decreases_first() -> None:
    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        a = _station("A", _connector("A", 1, ac3, 32), profile="day-night")
        b = _station("B", _connector("B", 1, ac3, 16))
        repository = await _repository(a, b)
        commands = FakeCommands()
        balancer, events = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        view = await balancer.recompute("depot")
        assert view is not None
        assert commands.tx_limits("A") == [14]  # the profile's 10 kW by day
        await balancer.recompute("depot")
        assert len(commands.sent) == 1  # stable: nothing re-sent
        await _start(repository, _session("B", "2", 5))
        await balancer.recompute("depot")
        assert commands.tx_limits("B") == [16]
        assert len(commands.sent) == 2
        async with repository.transaction() as tx:  # the operator lowers the limit
            area = await tx.areas.get("depot")
            assert area is not None
            await tx.areas.save(attrs.evolve(area, output_limit_a=20))
        events.clear()
        await balancer.recompute("depot")
        assert commands.tx_limits("A") == [14, 10]
        assert commands.tx_limits("B") == [16, 10]
        assert [type(e) for e in events] == [AllocationChanged, AllocationChanged]
        json_view = allocations_to_json(balancer.allocations("depot"))
        assert json_view["phase_current_a"] == [20, 20, 20]
        assert [a["in_force"] for a in json_view["allocations"]] == [10, 10]
        await balancer.aclose()

    run(test())


def test_a_rejection_pins_the_connector_until_its_station_reconnects() -> None:
    async def test() -> None:
        ac1 = PowerType.AC_1_PHASE
        a = _station("A", _connector("A", 1, ac1, 32))
        b = _station("B", _connector("B", 1, ac1, 32))
        repository = await _repository(a, b)
        commands = FakeCommands()
        balancer, events = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        await balancer.recompute("depot")
        assert commands.tx_limits("A") == [32]
        commands.answers["A"] = "Rejected"
        await _start(repository, _session("B", "2", 5))
        events.clear()
        await balancer.recompute("depot")
        # A did not take 16: it is pinned at 32, and B, first sent 16 with it (it had no
        # limit: a decrease), is paused at once, in the computation that follows
        rejected = [e for e in events if isinstance(e, AllocationRejected)]
        assert [(e.connector_id, e.limit) for e in rejected] == [("A-k1", 16)]
        assert "Rejected" in rejected[0].error
        view = balancer.allocations("depot")
        assert view is not None
        assert view.pinned == frozenset({"A-k1"})
        assert view.allocation.by_connector()["A-k1"].state is AllocationState.PINNED
        assert commands.tx_limits("B") == [16, 0]
        # A's station comes back and takes the change
        del commands.answers["A"]
        balancer.on_event(StationConnected("A", T0, "ocpp1.6"))
        await asyncio.sleep(0.05)
        await balancer.recompute("depot")
        assert commands.tx_limits("A")[-1] == 16
        assert commands.tx_limits("B")[-1] == 16
        assert balancer.allocations("depot").pinned == frozenset()  # type: ignore[union-attr]
        await balancer.aclose()

    run(test())


def test_a_silent_station_is_pinned_and_retried_after_a_while() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 16))
        repository = await _repository(a)
        commands = FakeCommands()
        commands.silent.add("A")
        balancer, events = _balancer(repository, commands)
        balancer.retry_after_s = 0.05
        await _start(repository, _session("A", "1", 0))
        await balancer.recompute("depot")
        assert [type(e) for e in events] == [AllocationRejected]
        assert "did not answer" in events[0].error or "30" in events[0].error  # type: ignore[union-attr]
        commands.silent.clear()
        for _ in range(100):
            if commands.tx_limits("A"):
                break
            await asyncio.sleep(0.01)
        assert commands.tx_limits("A") == [16]
        await balancer.aclose()

    run(test())


def test_events_are_coalesced_per_area() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 16))
        repository = await _repository(a)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        for _ in range(50):
            balancer.request("depot")
        await balancer.recompute("depot")
        assert balancer.runs("depot") <= 2  # one run, plus one for all that came meanwhile
        assert commands.tx_limits("A") == [16]
        # events reach the area through the station
        balancer.on_event(TransactionStarted("A", "1", 1, "TAG", T0))
        await asyncio.sleep(0.05)
        assert balancer.runs("depot") <= 3
        await balancer.aclose()

    run(test())


def test_an_area_without_limit_is_not_balanced() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 16))
        repository = await _repository(a, limit_a=None)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        assert await balancer.recompute("depot") is None
        assert commands.sent == []
        area = Area(id="depot", name="Depot", latitude=0, longitude=0)
        assert await compute_allocations(repository, area, T0) is None
        assert allocations_to_json(None, area)["balanced"] is False
        await balancer.aclose()

    run(test())


def test_ocpp201_tx_profiles_go_to_the_evse() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 32), protocol=Protocol.OCPP201)
        repository = await _repository(a)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        session = Transaction(
            station_id="A",
            transaction_id="tx-uuid-1",
            connector_id=1,
            id_tag="TAG",
            started_at=T0,
            meter_start=0,
            evse_id=1,
        )
        await _start(repository, session)
        await balancer.recompute("depot")
        [(station_id, connector_id, profile, evse_id)] = commands.sent
        assert (station_id, connector_id, evse_id) == ("A", 1, 1)
        assert profile["id"] == 2001
        assert profile["transactionId"] == "tx-uuid-1"
        assert profile["chargingSchedule"][0]["chargingSchedulePeriod"][0]["limit"] == 32
        await balancer.aclose()

    run(test())


def test_meter_values_redistribute_unused_share() -> None:
    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        a = _station("A", _connector("A", 1, ac3, 32))
        b = _station("B", _connector("B", 1, ac3, 32))
        repository = await _repository(a, b)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0), _session("B", "2", 5))
        await balancer.recompute("depot")
        assert (commands.tx_limits("A"), commands.tx_limits("B")) == ([16], [16])
        samples = [
            MeterSample(T0, 3.2, "Current.Import", "A", phase) for phase in ("L1-N", "L2-N", "L3-N")
        ]
        async with repository.transaction() as tx:
            await tx.meter_values.add("B", 1, "2", samples)
        await balancer.recompute("depot")
        # B draws 3.2 A: capped at its minimum 6; A takes the rest
        assert commands.tx_limits("B") == [16, 6]
        assert commands.tx_limits("A") == [16, 26]
        await balancer.aclose()

    run(test())


def test_observed_draw_reads_the_latest_values() -> None:
    t1 = T0 + timedelta(seconds=60)
    ac3 = PowerType.AC_3_PHASE
    old = [MeterSample(T0, 30.0, "Current.Import", "A", "L1")]
    assert observed_draw([], ac3) == (None, ac3, Phase.L1)
    single = [
        *old,
        MeterSample(t1, 15.5, "Current.Import", "A", "L2"),
        MeterSample(t1, 0.2, "Current.Import", "A", "L1"),
        MeterSample(t1, 0.0, "Current.Import", "A", "L3"),
        MeterSample(t1, 9999, "Energy.Active.Import.Register", "Wh"),
    ]
    assert observed_draw(single, ac3) == (15.5, PowerType.AC_1_PHASE, Phase.L2)
    three = [MeterSample(t1, v, "Current.Import", "A", p) for v, p in ((10, "L1"), (11, "L2"))]
    assert observed_draw(three, ac3) == (11, ac3, Phase.L1)
    dc = [MeterSample(t1, 50.5, "Power.Active.Import", "kW")]
    assert observed_draw(dc, PowerType.DC) == (50500, PowerType.DC, Phase.L1)


# --- the profile sender ----------------------------------------------------------------------


def _sender(
    repository: InMemoryRepository, commands: FakeCommands
) -> tuple[ProfileSender, list[Event]]:
    events: list[Event] = []
    bus = LocalEventBus()
    bus.subscribe(events.append)
    sender = ProfileSender(repository, commands, events=bus, clock=lambda: T0)  # type: ignore[arg-type]
    return sender, events


def test_a_lone_charger_gets_a_station_maximum_and_two_get_tx_defaults() -> None:
    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        lone = _station("A", _connector("A", 1, ac3, 32), profile="day-night")
        shared = _station(
            "B", _connector("B", 1, ac3, 32), _connector("B", 2, ac3, 32), chargers=2,
            profile="day-night",
        )  # fmt: skip
        repository = await _repository(lone, shared)
        commands = FakeCommands()
        sender, events = _sender(repository, commands)
        status = await sender.send_charger("A", "A-ch1")
        assert status is not None
        assert status.accepted
        assert status.resend_at == datetime(2026, 10, 25, 1, 0, tzinfo=UTC)
        [(_, connector, profile, _)] = commands.sent
        assert (connector, profile["chargingProfileId"], profile["stackLevel"]) == (0, 1, 0)
        assert profile["chargingProfilePurpose"] == "ChargePointMaxProfile"
        commands.sent.clear()
        await sender.send_charger("B", "B-ch1")
        assert [(c, p["chargingProfileId"]) for _, c, p, _ in commands.sent] == [
            (1, 1001),
            (2, 1002),
        ]
        assert {p["chargingProfilePurpose"] for _, _, p, _ in commands.sent} == {"TxDefaultProfile"}
        assert events == [
            ChargingProfileSent("A", "A-ch1", "day-night"),
            ChargingProfileSent("B", "B-ch1", "day-night"),
        ]
        await sender.aclose()

    run(test())


def test_profiles_follow_assignment_change_connection_and_boot_clearing() -> None:
    async def test() -> None:
        a = _station(
            "A", _connector("A", 1, PowerType.AC_3_PHASE, 32), profile="day-night",
            boot_configuration=BootConfiguration(clear_charging_profiles=True),
        )  # fmt: skip
        repository = await _repository(a)
        commands = FakeCommands()
        sender, events = _sender(repository, commands)

        async def settle() -> None:
            for _ in range(5):
                await asyncio.sleep(0.01)

        sender.on_event(StationConnected("A", T0, "ocpp1.6"))
        await settle()
        assert commands.sent == []  # its boot configuration is about to clear them
        sender.on_event(BootConfigured("A", cleared_profiles=True))
        await settle()
        assert len(commands.sent) == 1
        sender.on_event(ChargingProfileChanged("day-night"))
        await settle()
        assert len(commands.sent) == 2
        # unassigned: the former profile is cleared by its fixed id
        async with repository.transaction() as tx:
            station = await tx.stations.get("A")
            assert station is not None
            charger = station.chargers[0]
            unassigned = attrs.evolve(charger, charging_profile_id=None)
            await tx.stations.save(attrs.evolve(station, chargers=[unassigned]))
        sender.on_event(ChargingProfileAssigned("A", "A-ch1", None, previous="day-night"))
        await settle()
        assert commands.cleared == [("A", 1)]
        assert events[-1] == ChargingProfileSent("A", "A-ch1", None)
        await sender.aclose()

    run(test())


@pytest.mark.parametrize("failure", ["Rejected", "timeout"])
def test_a_profile_the_station_does_not_take_is_reported(failure: str) -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 32), profile="day-night")
        repository = await _repository(a)
        commands = FakeCommands()
        if failure == "timeout":
            commands.silent.add("A")
        else:
            commands.answers["A"] = failure
        sender, events = _sender(repository, commands)
        status = await sender.send_charger("A", "A-ch1")
        assert status is not None
        assert not status.accepted
        assert sender.status("A-ch1") == status
        [event] = events
        assert isinstance(event, ChargingProfileRejected)
        assert event.error == status.error
        commands.offline.add("A")
        assert await sender.send_charger("A", "A-ch1") is None  # sent when it connects
        await sender.aclose()

    run(test())


def test_rate_units_of_allocations() -> None:
    """DC connectors are balanced in W: whole amperes per phase, multiples of 690 W."""

    async def test() -> None:
        dc = _connector("D", 1, PowerType.DC, 125)
        d = _station("D", dc)
        repository = await _repository(d, limit_a=20)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("D", "1", 0))
        view = await balancer.recompute("depot")
        assert view is not None
        [allocation] = view.allocation
        assert allocation.unit is RateUnit.WATTS
        assert allocation.limit == 20 * 690
        await balancer.aclose()

    run(test())


def test_allocations_in_the_admin_api_and_metrics() -> None:
    import warnings

    from evcharge_core.admin import create_app
    from evcharge_core.service import StationService

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    async def prepare() -> tuple[InMemoryRepository, Balancer]:
        a = _station("A", _connector("A", 1, PowerType.AC_1_PHASE, 32))
        b = _station("B", _connector("B", 1, PowerType.AC_1_PHASE, 32))
        repository = await _repository(a, b, limit_a=10)
        await _start(repository, _session("A", "1", 0), _session("B", "2", 5))
        balancer, _ = _balancer(repository, FakeCommands())
        await balancer.recompute("depot")
        return repository, balancer

    repository, balancer = run(prepare())
    app = create_app(StationService(repository), token="t", balancer=balancer)
    with TestClient(app, headers={"Authorization": "Bearer t"}) as client:
        view = client.get("/api/areas/depot/allocations").json()
        assert view["live"] is True
        assert [(a["limit"], a["state"], a["in_force"]) for a in view["allocations"]] == [
            (10, "charging", 10),
            (0, "paused", 0),
        ]
        metrics = client.get("/metrics").text
    assert 'evcharge_area_phase_current_amperes{area="depot",phase="L1"} 10.0' in metrics
    assert 'evcharge_area_paused_connectors{area="depot"} 1.0' in metrics
    assert 'evcharge_area_limit_amperes{area="depot"} 10.0' in metrics


def test_single_phase_connectors_load_the_phase_they_are_wired_to() -> None:
    async def test() -> None:
        ac1 = PowerType.AC_1_PHASE
        on_l1 = _station("A", _connector("A", 1, ac1, 32))
        on_l2 = _station("B", attrs.evolve(_connector("B", 1, ac1, 32), phase=PhaseWiring.L2))
        also_l1 = _station("C", _connector("C", 1, ac1, 32))
        repository = await _repository(on_l1, on_l2, also_l1, limit_a=32)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(
            repository, _session("A", "1", 0), _session("B", "2", 1), _session("C", "3", 2)
        )
        view = await balancer.recompute("depot")
        assert view is not None
        # A and C share L1; B has L2 to itself
        assert [commands.tx_limits(s) for s in "ABC"] == [[16], [32], [16]]
        assert view.allocation.phase_current_a == (32, 32, 0)
        await balancer.aclose()

    run(test())


def test_the_areas_phase_voltage_converts_dc_power_to_phase_current() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.DC, 125))
        repository = InMemoryRepository()
        async with repository.transaction() as tx:
            await tx.areas.save(
                Area(
                    id="depot", name="Depot", latitude=0, longitude=0,
                    output_limit_a=20, phase_voltage=240,
                )
            )  # fmt: skip
            await tx.stations.save(a)
        await _start(repository, _session("A", "1", 0))
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await balancer.recompute("depot")
        assert commands.tx_limits("A") == [20 * 3 * 240]  # 20 A per phase at 240 V, in W
        await balancer.aclose()

    run(test())


def test_removing_the_areas_limit_lifts_the_limits_in_force() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 32))
        repository = await _repository(a, limit_a=20)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        await balancer.recompute("depot")
        assert commands.tx_limits("A") == [20]
        async with repository.transaction() as tx:
            area = await tx.areas.get("depot")
            assert area is not None
            await tx.areas.save(attrs.evolve(area, output_limit_a=None))
        assert await balancer.recompute("depot") is None
        assert commands.cleared == [("A", 2001)]
        await balancer.aclose()

    run(test())


@pytest.mark.parametrize(
    ("protocol", "key"),
    [
        (Protocol.OCPP16, "ChargingScheduleMaxPeriods"),
        (Protocol.OCPP201, "SmartChargingCtrlr.PeriodsPerSchedule"),
    ],
)
def test_a_profile_with_more_periods_than_the_station_takes_is_not_sent(
    protocol: Protocol, key: str
) -> None:
    async def test() -> None:
        a = _station(
            "A", _connector("A", 1, PowerType.AC_3_PHASE, 32), profile="day-night",
            protocol=protocol,
        )  # fmt: skip
        repository = await _repository(a)
        commands = FakeCommands()
        commands.max_periods[key] = "2"  # day/night goes out as 3 periods (the wrap at 0)
        sender, events = _sender(repository, commands)
        status = await sender.send_charger("A", "A-ch1")
        assert status is not None
        assert status.error == (f"the profile needs 3 periods, the station takes at most 2 ({key})")
        assert commands.sent == []
        assert isinstance(events[0], ChargingProfileRejected)
        commands.max_periods[key] = "3"
        status = await sender.send_charger("A", "A-ch1")
        assert status is not None
        assert status.accepted
        await sender.aclose()

    run(test())


def test_a_station_moved_to_another_area_leaves_the_first_one() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 32))
        repository = await _repository(a, limit_a=20)
        async with repository.transaction() as tx:
            await tx.areas.save(
                Area(id="other", name="Other", latitude=0, longitude=0, output_limit_a=10)
            )
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        balancer.on_event(TransactionStarted("A", "1", 1, "TAG", T0))
        for _ in range(100):
            if commands.tx_limits("A"):
                break
            await asyncio.sleep(0.01)
        assert commands.tx_limits("A") == [20]
        async with repository.transaction() as tx:
            await tx.stations.save(attrs.evolve(a, area_id="other"))
        balancer.on_event(StationChanged("A"))
        for _ in range(100):
            if commands.tx_limits("A") == [20, 10]:
                break
            await asyncio.sleep(0.01)
        assert commands.tx_limits("A") == [20, 10]
        await balancer.recompute("depot")
        view = balancer.allocations("depot")
        assert view is not None
        assert len(view.allocation) == 0
        await balancer.aclose()

    run(test())


def test_an_inactive_balancer_sends_nothing_until_activated_then_sends_everyone() -> None:
    """A cluster's followers: events are ignored; taking the role sends every limit (as
    after a restart); losing it forgets what was computed."""

    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        a = _station("A", _connector("A", 1, ac3, 32))
        repository = await _repository(a)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands, active=False)
        await _start(repository, _session("A", "1", 0))
        balancer.on_event(TransactionStarted("A", "1", 1, "TAG", T0))
        assert await balancer.recompute("depot") is None
        await asyncio.sleep(0)
        assert commands.sent == []
        balancer.set_active(True)
        for _ in range(50):
            if commands.sent:
                break
            await asyncio.sleep(0.01)
        assert commands.tx_limits("A") == [32]
        assert balancer.allocations("depot") is not None
        balancer.set_active(False)
        assert balancer.allocations("depot") is None
        balancer.on_event(TransactionStarted("A", "1", 1, "TAG", T0))
        await asyncio.sleep(0.05)
        assert len(commands.sent) == 1
        await balancer.aclose()

    run(test())


def test_a_pinned_connector_is_retried_even_while_events_keep_coming() -> None:
    """The retry timer runs from the rejection: computations that follow (a meter value
    every few seconds) must not push it back, or a busy area never retries."""

    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 16))
        repository = await _repository(a)
        commands = FakeCommands()
        commands.silent.add("A")
        balancer, _ = _balancer(repository, commands)
        balancer.retry_after_s = 0.1
        await _start(repository, _session("A", "1", 0))
        await balancer.recompute("depot")
        assert balancer.allocations("depot").pinned == frozenset({"A-k1"})  # type: ignore[union-attr]
        commands.silent.clear()
        for _ in range(200):  # an event every 10 ms, ten times the retry's pace
            if commands.tx_limits("A"):
                break
            await balancer.recompute("depot")
            await asyncio.sleep(0.01)
        assert commands.tx_limits("A") == [16]
        await balancer.aclose()

    run(test())


async def _settle() -> None:
    for _ in range(10):
        await asyncio.sleep(0.01)


def test_a_second_charger_turns_the_station_maximum_into_tx_defaults() -> None:
    """A lone charger's profile is the station maximum (id 1, connector 0): once the
    station gets a second charger, that cap would hold both; it is cleared and the profile
    sent again as the first charger's TxDefaultProfile. Back to one charger, the reverse."""

    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        a = _station("A", _connector("A", 1, ac3, 32), profile="day-night")
        repository = await _repository(a)
        commands = FakeCommands()
        sender, _ = _sender(repository, commands)
        await sender.send_station("A")
        assert [(c, p["chargingProfileId"]) for _, c, p, _ in commands.sent] == [(0, 1)]
        commands.sent.clear()
        second = Charger(
            id="A-ch2", evse_id=2, code="A-CH2", name="A 2",
            connectors=(_connector("A", 2, ac3, 32),),
        )  # fmt: skip
        async with repository.transaction() as tx:
            await tx.stations.save(attrs.evolve(a, chargers=(*a.chargers, second)))
        sender.on_event(StationChanged("A"))
        await _settle()
        assert commands.cleared == [("A", 1)]
        assert [(c, p["chargingProfileId"]) for _, c, p, _ in commands.sent] == [(1, 1001)]
        assert {p["chargingProfilePurpose"] for _, _, p, _ in commands.sent} == {"TxDefaultProfile"}
        commands.sent.clear()
        commands.cleared.clear()
        sender.on_event(StationChanged("A"))  # nothing changed: nothing sent
        await _settle()
        assert (commands.sent, commands.cleared) == ([], [])
        async with repository.transaction() as tx:
            await tx.stations.save(a)  # the second charger is deleted
        sender.on_event(StationChanged("A"))
        await _settle()
        assert commands.cleared == [("A", 1001)]
        assert [(c, p["chargingProfileId"]) for _, c, p, _ in commands.sent] == [(0, 1)]
        await sender.aclose()

    run(test())


def test_a_station_moved_to_an_area_in_another_time_zone_is_sent_its_profile_again() -> None:
    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 32), profile="day-night")
        repository = await _repository(a)
        async with repository.transaction() as tx:
            await tx.areas.save(
                Area(id="ny", name="NY", latitude=0, longitude=0, time_zone="America/New_York")
            )
        commands = FakeCommands()
        sender, _ = _sender(repository, commands)
        await sender.send_station("A")
        [(_, _, berlin, _)] = commands.sent
        assert berlin["chargingSchedule"]["startSchedule"].startswith("2026-05-31T22:00")
        commands.sent.clear()
        async with repository.transaction() as tx:
            await tx.stations.save(attrs.evolve(a, area_id="ny"))
        sender.on_event(StationChanged("A"))
        await _settle()
        [(_, _, new_york, _)] = commands.sent
        assert new_york["chargingSchedule"]["startSchedule"].startswith("2026-06-01T04:00")
        await sender.aclose()

    run(test())


def test_a_deleted_charger_has_its_profile_cleared_and_forgotten() -> None:
    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        shared = _station("B", _connector("B", 1, ac3, 32), chargers=2, profile="day-night")
        second = attrs.evolve(shared.chargers[1], connectors=(_connector("B", 2, ac3, 32),))
        shared = attrs.evolve(shared, chargers=(shared.chargers[0], second))
        repository = await _repository(shared)
        commands = FakeCommands()
        sender, _ = _sender(repository, commands)
        await sender.send_station("B")
        assert sorted(p["chargingProfileId"] for _, _, p, _ in commands.sent) == [1001, 1002]
        assert sender.status("B-ch2") is not None
        commands.sent.clear()
        async with repository.transaction() as tx:
            await tx.stations.save(attrs.evolve(shared, chargers=(shared.chargers[0],)))
        sender.on_event(StationChanged("B"))
        await _settle()
        # B-ch1 is alone now: its TxDefaultProfile becomes the station maximum
        assert sorted(commands.cleared) == [("B", 1001), ("B", 1002)]
        assert [(c, p["chargingProfileId"]) for _, c, p, _ in commands.sent] == [(0, 1)]
        assert sender.status("B-ch2") is None
        await sender.aclose()

    run(test())


def test_an_area_change_resends_profiles_only_when_its_time_zone_changed() -> None:
    """An area's output limit may be tuned often (demand response): its stations'
    schedules do not depend on it, so nothing is sent again; a new time zone is."""

    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 32), profile="day-night")
        repository = await _repository(a)
        commands = FakeCommands()
        sender, _ = _sender(repository, commands)
        await sender.send_station("A")
        assert len(commands.sent) == 1
        async with repository.transaction() as tx:
            area = await tx.areas.get("depot")
            assert area is not None
            await tx.areas.save(attrs.evolve(area, output_limit_a=20))
        sender.on_event(AreaChanged("depot"))
        await _settle()
        assert len(commands.sent) == 1
        async with repository.transaction() as tx:
            await tx.areas.save(attrs.evolve(area, time_zone="America/New_York"))
        sender.on_event(AreaChanged("depot"))
        await _settle()
        assert len(commands.sent) == 2
        assert commands.sent[-1][2]["chargingSchedule"]["startSchedule"].startswith(
            "2026-06-01T04:00"
        )
        await sender.aclose()

    run(test())


def test_a_computation_reads_the_meter_values_only_of_sessions_that_got_new_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A session's meter values grow all along (hours of samples): reading every session's
    at every computation, that is at every meter value of the area, made a computation cost
    the area's whole history. The latest values are kept per session and read again only
    after a MeterValuesReceived for it (or an explicit recompute)."""
    from evcharge_core.adapters import memory

    reads: list[tuple[str, str | None]] = []
    original = memory._MemoryMeterValueStore.list

    async def counting(self: Any, station_id: str, transaction_id: str | None) -> Any:
        reads.append((station_id, transaction_id))
        return await original(self, station_id, transaction_id)

    monkeypatch.setattr(memory._MemoryMeterValueStore, "list", counting)

    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        stations = [_station(s, _connector(s, 1, ac3, 32)) for s in "ABC"]
        repository = await _repository(*stations)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, *(_session(s, str(n), n) for n, s in enumerate("ABC", 1)))

        async def computed() -> None:
            for _ in range(100):
                task = balancer.request("depot")
                if task is not None:
                    await task
                    return
            raise AssertionError("no computation")

        await balancer.recompute("depot")
        assert sorted(reads) == [("A", "1"), ("B", "2"), ("C", "3")]
        reads.clear()
        balancer.on_event(TransactionStarted("A", "1", 1, "TAG", T0))  # no new values
        await _settle()
        await computed()
        assert reads == []
        samples = [MeterSample(T0, 3.2, "Current.Import", "A", p) for p in ("L1", "L2", "L3")]
        async with repository.transaction() as tx:
            await tx.meter_values.add("B", 1, "2", samples)
        balancer.on_event(MeterValuesReceived("B", 1, "2", 3))
        await _settle()
        assert set(reads) == {("B", "2")}
        assert commands.tx_limits("B")[-1] == 6  # the values were read: B draws 3.2 A
        reads.clear()
        balancer.on_event(TransactionEnded("C", "3", T0, None))
        async with repository.transaction() as tx:
            await tx.transactions.save(
                attrs.evolve(_session("C", "3", 3), state=TransactionState.ENDED, stopped_at=T0)
            )
        await _settle()
        await computed()
        assert reads == []
        await balancer.aclose()

    run(test())


def test_a_profile_the_station_did_not_take_is_sent_again_later() -> None:
    """A send that times out (or is refused) is tried again after retry_after_s, doubling
    up to an hour: otherwise a station that missed, say, the resend at a change of UTC
    offset would run its schedule an hour off until it reconnects."""

    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 32), profile="day-night")
        repository = await _repository(a)
        commands = FakeCommands()
        commands.silent.add("A")
        sender, _ = _sender(repository, commands)
        sender.retry_after_s = 0.05
        status = await sender.send_charger("A", "A-ch1")
        assert status is not None
        assert not status.accepted
        commands.silent.clear()
        for _ in range(200):
            if commands.sent:
                break
            await asyncio.sleep(0.01)
        assert len(commands.sent) == 1
        assert sender.status("A-ch1").accepted  # type: ignore[union-attr]
        await sender.aclose()

    run(test())


def test_a_connector_that_never_took_a_limit_is_counted_at_its_full_rating() -> None:
    """A new arrival's station that does not take its first limit has no limit in force:
    it may draw its whole rating, so that is what the others fit around (SPEC: its last
    known allocation, here none, is assumed in force), not the share it was refused."""

    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        a = _station("A", _connector("A", 1, ac3, 32))
        b = _station("B", _connector("B", 1, ac3, 20))
        repository = await _repository(a, b)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        await balancer.recompute("depot")
        assert commands.tx_limits("A") == [32]
        commands.silent.add("B")
        await _start(repository, _session("B", "2", 5))
        await balancer.recompute("depot")
        view = balancer.allocations("depot")
        assert view is not None
        assert view.pinned == frozenset({"B-k1"})
        # B may draw its 20 A: A gets the 12 A left, not the 16 A of an even split
        assert commands.tx_limits("A")[-1] == 12
        assert view.allocation.phase_current_a == (32, 32, 32)
        await balancer.aclose()

    run(test())


def test_a_deleted_station_frees_its_share_at_once() -> None:
    async def test() -> None:
        ac3 = PowerType.AC_3_PHASE
        a = _station("A", _connector("A", 1, ac3, 32))
        b = _station("B", _connector("B", 1, ac3, 32))
        repository = await _repository(a, b)
        commands = FakeCommands()
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0), _session("B", "2", 5))
        balancer.on_event(TransactionStarted("B", "2", 1, "TAG", T0))
        for _ in range(100):
            if commands.tx_limits("B"):
                break
            await asyncio.sleep(0.01)
        assert (commands.tx_limits("A"), commands.tx_limits("B")) == ([16], [16])
        async with repository.transaction() as tx:
            await tx.stations.delete("B")
        balancer.on_event(StationDeleted("B"))
        for _ in range(100):
            if len(commands.tx_limits("A")) > 1:
                break
            await asyncio.sleep(0.01)
        assert commands.tx_limits("A") == [16, 32]
        assert "B" not in balancer._station_areas
        await balancer.aclose()

    run(test())


def test_aclose_waits_for_the_work_cancelled_when_the_balancer_stood_down() -> None:
    """Losing the cluster role cancels the running computations; closing the balancer (at
    shutdown, before the repository closes) must wait for them to end too."""

    async def test() -> None:
        a = _station("A", _connector("A", 1, PowerType.AC_3_PHASE, 16))
        repository = await _repository(a)
        commands = FakeCommands()
        gate = asyncio.Event()
        sending = asyncio.Event()
        original = commands.set_charging_profile

        async def slow(*args: Any, **kwargs: Any) -> str:
            sending.set()
            await gate.wait()
            return await original(*args, **kwargs)

        commands.set_charging_profile = slow  # type: ignore[method-assign]
        balancer, _ = _balancer(repository, commands)
        await _start(repository, _session("A", "1", 0))
        task = balancer.request("depot")
        assert task is not None
        await sending.wait()
        balancer.set_active(False)
        await balancer.aclose()
        assert task.done()

    run(test())

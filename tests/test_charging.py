"""ChargingService: what stations tell the CSMS, stored before it is confirmed."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from evcharge_core.charging import ChargingService, connector_of_evse, registration_status_of
from evcharge_core.domain.device_model import DeviceVariable, VariableKey
from evcharge_core.domain.events import (
    ConnectorStatusChanged,
    Event,
    MeterValuesReceived,
    SerialNumberMismatch,
    StationBooted,
    TransactionEnded,
    TransactionStarted,
    TransactionUpdated,
)
from evcharge_core.domain.model import ReportedInfo
from evcharge_core.domain.status import StatusReport
from evcharge_core.domain.transactions import (
    AuthorizationStatus,
    IdToken,
    MeterSample,
    TransactionEventReport,
    TransactionEventType,
    TransactionState,
)
from evcharge_core.domain.values import ConnectorStatus, RegistrationStatus
from evcharge_core.errors import NotFound
from evcharge_core.ports import Repository, TransactionQuery
from evcharge_core.service import StationService

from .conftest import FakeClock

T = TypeVar("T")
CSV = (
    "Station ID;Security code;Manufacturer;Article number;Wi-Fi supported;GSM supported;"
    "Connector type;Format;Power type;Voltage;Amperage;Serial number\n"
    "IMP1;CODE-1;Alfen;;yes;no;Type 2;Socket;Three-phase AC;230;16;SN-1\n"
)
T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def stations(repository: Repository, clock: FakeClock) -> StationService:
    service = StationService(repository, clock=clock)
    run(service.create_station({"id": "ST1", "protocol": "ocpp1.6"}))
    run(service.import_csv(CSV))
    return service


@pytest.fixture
def charging(
    repository: Repository, clock: FakeClock, recorder: Recorder, stations: StationService
) -> ChargingService:
    return ChargingService(
        repository, events=recorder, clock=clock, heartbeat_interval_s=120, pending_interval_s=30
    )


def test_boot_accepted_for_active_pending_for_inactive(
    charging: ChargingService, stations: StationService, recorder: Recorder, clock: FakeClock
) -> None:
    result = run(charging.boot("ST1", ReportedInfo(vendor="ABB", model="Terra")))
    assert (result.status, result.interval_s, result.current_time) == (
        RegistrationStatus.ACCEPTED,
        120,
        clock.now,
    )
    assert run(stations.get_station("ST1")).reported.vendor == "ABB"
    pending = run(charging.boot("IMP1", ReportedInfo(serial_number="SN-1")))
    assert (pending.status, pending.interval_s) == (RegistrationStatus.PENDING, 30)
    assert run(charging.registration("IMP1")) is RegistrationStatus.PENDING
    run(stations.activate("IMP1", "CODE-1"))
    assert run(charging.registration("IMP1")) is RegistrationStatus.ACCEPTED
    assert [type(e) for e in recorder.events] == [StationBooted, StationBooted]


def test_operator_pending_and_rejected_and_unknown(
    charging: ChargingService, stations: StationService
) -> None:
    run(stations.update_station("ST1", {"registration_status": "Pending"}))
    assert run(charging.boot("ST1", ReportedInfo())).status is RegistrationStatus.PENDING
    run(stations.update_station("ST1", {"registration_status": "Rejected"}))
    assert run(charging.boot("ST1", ReportedInfo())).status is RegistrationStatus.REJECTED
    assert registration_status_of(None) is RegistrationStatus.REJECTED
    assert run(charging.boot("GONE", ReportedInfo())).status is RegistrationStatus.REJECTED


def test_reported_serial_that_differs_is_a_warning_event(
    charging: ChargingService, recorder: Recorder
) -> None:
    run(charging.boot("IMP1", ReportedInfo(serial_number="SN-2")))
    assert SerialNumberMismatch("IMP1", "SN-1", "SN-2") in recorder.events


def test_status_report_creates_and_updates_connectors(
    charging: ChargingService, stations: StationService
) -> None:
    run(charging.status_report("ST1", StatusReport(2, ConnectorStatus.CHARGING, T0)))
    station = run(stations.get_station("ST1"))
    [(_, connector)] = list(station.iter_connectors())
    assert (connector.ocpp_id, connector.status and connector.status.status) == (
        2,
        ConnectorStatus.CHARGING,
    )
    with pytest.raises(NotFound):
        run(charging.status_report("GONE", StatusReport(1, ConnectorStatus.AVAILABLE, T0)))


def test_authorize_uses_the_registry(charging: ChargingService, clock: FakeClock) -> None:
    run(charging.save_id_token(IdToken("GOOD")))
    run(charging.save_id_token(IdToken("OLD", expiry_date=clock.now - timedelta(days=1))))
    assert run(charging.authorize("ST1", "GOOD")).status is AuthorizationStatus.ACCEPTED
    assert run(charging.authorize("ST1", "OLD")).status is AuthorizationStatus.EXPIRED
    assert run(charging.authorize("ST1", "NOPE")).status is AuthorizationStatus.INVALID
    assert [t.id_token for t in run(charging.list_id_tokens())] == ["GOOD", "OLD"]
    run(charging.delete_id_token("OLD"))
    with pytest.raises(NotFound):
        run(charging.delete_id_token("OLD"))


def test_transaction_lifecycle_and_retransmission(
    charging: ChargingService, recorder: Recorder
) -> None:
    run(charging.save_id_token(IdToken("TAG")))
    start = {"connector_id": 1, "id_tag": "TAG", "meter_start": 1000, "timestamp": T0}
    first, auth = run(charging.start_transaction("ST1", **start))
    assert auth.status is AuthorizationStatus.ACCEPTED
    # Stored before the caller can confirm it.
    assert run(charging.get_transaction("ST1", str(first))).state is TransactionState.ACTIVE
    again, _ = run(charging.start_transaction("ST1", **start))
    assert again == first
    second, _ = run(charging.start_transaction("ST1", **{**start, "meter_start": 1001}))
    assert second > first
    samples = [MeterSample(T0 + timedelta(minutes=5), 1800.0)]
    run(charging.meter_values("ST1", connector_id=1, transaction_id=str(first), samples=samples))
    assert run(charging.get_transaction("ST1", str(first))).energy_wh == 800
    assert run(charging.meter_samples("ST1", str(first))) == samples
    stop_auth = run(
        charging.stop_transaction(
            "ST1", transaction_id=str(first), meter_stop=2500, timestamp=T0 + timedelta(hours=1),
            reason="Local", id_tag="TAG",
        )
    )  # fmt: skip
    assert stop_auth is not None
    ended = run(charging.get_transaction("ST1", str(first)))
    assert (ended.state, ended.energy_wh) == (TransactionState.ENDED, 1500)
    kinds = [
        type(e) for e in recorder.events if isinstance(e, TransactionStarted | TransactionEnded)
    ]
    assert kinds == [TransactionStarted, TransactionStarted, TransactionEnded]


def test_unknown_stop_is_recorded_not_dropped(charging: ChargingService) -> None:
    result = run(
        charging.stop_transaction("ST1", transaction_id="424242", meter_stop=5, timestamp=T0)
    )
    assert result is None
    orphan = run(charging.get_transaction("ST1", "424242"))
    assert orphan.orphan
    page = run(charging.list_transactions(TransactionQuery(station_id="ST1")))
    assert [t.transaction_id for t in page.items] == ["424242"]


def test_notifications_are_kept_newest_first(charging: ChargingService, clock: FakeClock) -> None:
    run(charging.notification("ST1", "FirmwareStatusNotification", {"status": "Downloading"}))
    clock.advance(1)
    run(charging.notification("ST1", "FirmwareStatusNotification", {"status": "Installed"}))
    notes = run(charging.notifications("ST1"))
    assert [n.payload for n in notes] == ['{"status": "Installed"}', '{"status": "Downloading"}']


# --- OCPP 2.0.1 --------------------------------------------------------------------------------


def _event(kind: TransactionEventType, seq_no: int, minutes: int, **extra: Any) -> Any:
    return TransactionEventReport(
        transaction_id="tx",
        seq_no=seq_no,
        event_type=kind,
        timestamp=T0 + timedelta(minutes=minutes),
        trigger_reason="ChargingStateChanged",
        **extra,
    )


@pytest.fixture
def station_201(stations: StationService) -> str:
    run(stations.create_station({"id": "ST2", "protocol": "ocpp2.0.1"}))
    return "ST2"


def test_transaction_events_are_kept_once_per_seq_no_and_applied(
    charging: ChargingService, stations: StationService, recorder: Recorder, station_201: str
) -> None:
    run(charging.save_id_token(IdToken("TAG")))
    started = _event(
        TransactionEventType.STARTED,
        0,
        0,
        evse_id=2,
        id_token="TAG",
        samples=[MeterSample(T0, 100.0, context="Transaction.Begin")],
        connector_status=ConnectorStatus.CHARGING,
    )
    authorization = run(charging.transaction_event(station_201, started, {"seqNo": 0}))
    assert authorization is not None
    assert authorization.status is AuthorizationStatus.ACCEPTED
    assert [type(e) for e in recorder.events] == [
        TransactionStarted,
        MeterValuesReceived,
        ConnectorStatusChanged,
    ]
    [(charger, connector)] = list(run(stations.get_station(station_201)).iter_connectors())
    assert (charger.evse_id, connector.ocpp_id) == (2, 1)
    recorder.events.clear()
    again = run(charging.transaction_event(station_201, started, {"seqNo": 0}))
    assert again == authorization
    assert recorder.events == []
    assert len(run(charging.meter_samples(station_201, "tx"))) == 1
    updated = _event(TransactionEventType.UPDATED, 1, 5, samples=[MeterSample(T0, 600.0)])
    assert run(charging.transaction_event(station_201, updated, {"seqNo": 1})) is None
    assert TransactionUpdated(station_201, "tx", 500) in recorder.events
    history = run(charging.transaction_events(station_201, "tx"))
    assert [(e.seq_no, e.event_type, e.payload) for e in history] == [
        (0, "Started", '{"seqNo": 0}'),
        (1, "Updated", '{"seqNo": 1}'),
    ]
    ended = _event(TransactionEventType.ENDED, 2, 9)
    run(charging.transaction_event(station_201, ended, {}))
    assert run(charging.get_transaction(station_201, "tx")).state is TransactionState.ENDED
    assert any(isinstance(e, TransactionEnded) for e in recorder.events)


def test_transaction_event_of_an_unknown_station_is_not_found(charging: ChargingService) -> None:
    with pytest.raises(NotFound):
        run(charging.transaction_event("GONE", _event(TransactionEventType.STARTED, 0, 0), {}))


def test_device_model_is_stored_and_deleted_with_its_station(
    charging: ChargingService, stations: StationService, station_201: str
) -> None:
    variable = DeviceVariable(VariableKey("OCPPCommCtrlr", "HeartbeatInterval"), T0, "300")
    run(charging.device_report(station_201, [variable]))
    assert run(charging.device_model(station_201)) == [variable]
    with pytest.raises(NotFound):
        run(charging.device_report("GONE", [variable]))
    run(stations.delete_station(station_201))
    with pytest.raises(NotFound):
        run(charging.device_model(station_201))
    run(stations.create_station({"id": station_201, "protocol": "ocpp2.0.1"}))
    assert run(charging.device_model(station_201)) == []


def test_connector_of_evse(stations: StationService, charging: ChargingService) -> None:
    run(stations.create_station({"id": "ST3", "protocol": "ocpp2.0.1"}))
    for evse, connector in ((1, 1), (2, 1), (2, 2)):
        report = StatusReport(connector, ConnectorStatus.AVAILABLE, T0, evse_id=evse)
        run(charging.status_report("ST3", report))
    station = run(stations.get_station("ST3"))
    assert connector_of_evse(station, 1, None) == 1
    assert connector_of_evse(station, 2, None) is None
    assert connector_of_evse(station, 2, 2) == 2
    assert connector_of_evse(station, 9, None) == 1

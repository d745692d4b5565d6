"""The OCPP 2.0.1 handlers and payload readers: every answer valid against its schema, the
status mapping (SPEC §4), meter values, transaction events and device model reports."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core._protocol import Refused
from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.charging import BootResult, ChargingService
from evcharge_core.domain.device_model import VariableKey
from evcharge_core.domain.model import Station
from evcharge_core.domain.status import (
    OCCUPIED_STATUSES,
    REPORTABLE_STATUSES,
    StatusReport,
    apply_status_report,
    connector_operational_status,
    operational_status_of,
)
from evcharge_core.domain.transactions import (
    Authorization,
    AuthorizationStatus,
    IdToken,
    TransactionEventType,
)
from evcharge_core.domain.values import (
    ConnectorStatus,
    OperationalStatus,
    Protocol,
    RegistrationStatus,
)
from evcharge_core.ocpp201 import (
    CHARGING_STATES,
    CONNECTOR_STATUSES,
    HANDLERS,
    STATION_ACTIONS,
    Kind,
    schema,
    status_of_charging_state,
)
from evcharge_core.ocpp201._messages import (
    boot_response,
    device_variables,
    id_token_info,
    meter_samples,
    ocpp_time,
    parse_time,
    status_report,
    transaction_event,
)

from .examples import VALID

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
S = ConnectorStatus


def assert_response_valid(action: str, payload: dict[str, Any]) -> None:
    jsonschema.Draft6Validator(
        schema(action, Kind.RESPONSE), format_checker=jsonschema.FormatChecker()
    ).validate(payload)


def test_every_station_action_has_a_handler() -> None:
    assert set(HANDLERS) == STATION_ACTIONS


@pytest.mark.parametrize("action", sorted(STATION_ACTIONS))
def test_each_handler_answers_a_schema_valid_payload(action: str) -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        station = Station(id="ST1", name="ST1", code="ST1", protocol=Protocol.OCPP201)
        async with repository.transaction() as tx:
            await tx.stations.save(station)
        charging = ChargingService(repository, clock=lambda: T0)
        await charging.save_id_token(
            IdToken("A", expiry_date=T0 + timedelta(days=1), group_id="FLEET")
        )
        handled = await HANDLERS[action](charging, "ST1", VALID[action])
        assert_response_valid(action, handled.payload)
        if action == "BootNotification":
            assert handled.registration is RegistrationStatus.ACCEPTED
        else:
            assert handled.registration is None

    asyncio.run(test())


@given(
    status=st.sampled_from(list(AuthorizationStatus)),
    expiry=st.none() | st.datetimes(timezones=st.just(UTC)),
    group=st.none() | st.text(min_size=1, max_size=36),
)
def test_id_token_info_is_always_valid(
    status: AuthorizationStatus, expiry: datetime | None, group: str | None
) -> None:
    info = id_token_info(Authorization(status, expiry, group))
    assert_response_valid("Authorize", {"idTokenInfo": info})
    assert_response_valid("TransactionEvent", {"idTokenInfo": info})


def test_boot_response_and_times() -> None:
    payload = boot_response(BootResult(RegistrationStatus.PENDING, 60, T0))
    assert payload == {
        "status": "Pending",
        "currentTime": "2026-11-25T09:00:00.000Z",
        "interval": 60,
    }
    assert_response_valid("BootNotification", payload)
    assert parse_time(ocpp_time(T0), "t") == T0
    with pytest.raises(Refused) as refused:
        parse_time("2026-02-30T00:00:00Z", "timestamp")
    assert refused.value.violation.field == "timestamp"


# --- the status mapping (SPEC §4) ------------------------------------------------------------


def test_connector_statuses_map_onto_the_common_ones() -> None:
    assert dict(CONNECTOR_STATUSES) == {
        "Available": S.AVAILABLE,
        "Occupied": S.PREPARING,
        "Reserved": S.RESERVED,
        "Unavailable": S.UNAVAILABLE,
        "Faulted": S.FAULTED,
    }
    enum = schema("StatusNotification", Kind.REQUEST)["definitions"]["ConnectorStatusEnumType"]
    assert set(CONNECTOR_STATUSES) == set(enum["enum"])
    charging = schema("TransactionEvent", Kind.REQUEST)["definitions"]["ChargingStateEnumType"]
    assert set(CHARGING_STATES) == set(charging["enum"])


@given(st.sampled_from(sorted(CONNECTOR_STATUSES)))
def test_every_connector_status_is_reportable_with_the_operational_status_of_spec(
    reported: str,
) -> None:
    status = CONNECTOR_STATUSES[reported]
    assert status in REPORTABLE_STATUSES
    inoperative = reported in ("Unavailable", "Faulted")
    expected = OperationalStatus.INOPERATIVE if inoperative else OperationalStatus.OPERATIVE
    assert operational_status_of(status) is expected


@given(st.none() | st.sampled_from(sorted(CHARGING_STATES)), st.sampled_from(TransactionEventType))
def test_charging_states_imply_an_occupied_status_or_nothing(
    state: str | None, event_type: TransactionEventType
) -> None:
    status = status_of_charging_state(state, event_type)
    if state in (None, "Idle"):
        assert status is None
    elif event_type is TransactionEventType.ENDED:
        assert status is S.FINISHING
    else:
        assert status in OCCUPIED_STATUSES
        assert operational_status_of(status) is OperationalStatus.OPERATIVE


_REPORTS = st.tuples(
    st.sampled_from(sorted(CONNECTOR_STATUSES)) | st.sampled_from(["Charging", "SuspendedEV"]),
    st.integers(0, 5),
)


@given(st.lists(_REPORTS, min_size=1, max_size=8))
def test_operational_status_follows_the_last_report_as_for_1_6(
    reports: list[tuple[str, int]],
) -> None:
    """Whatever 2.0.1 reports arrive (statuses, and charging states from transactions), the
    connector's operational status is what the latest one says, by SPEC §4's rule."""
    station = Station(id="ST1", name="ST1", code="ST1", protocol=Protocol.OCPP201)
    ids = iter(f"id-{i}" for i in range(100))
    for minute, (reported, offset) in enumerate(reports):
        at = T0 + timedelta(minutes=minute * 10 + offset)
        if reported in CONNECTOR_STATUSES:
            report = status_report(
                {
                    "timestamp": at.isoformat(),
                    "connectorStatus": reported,
                    "evseId": 1,
                    "connectorId": 1,
                }
            )
        else:
            report = StatusReport(1, S(reported), at, evse_id=1)
        station, _ = apply_status_report(station, report, new_id=lambda: next(ids))
    [(charger, connector)] = list(station.iter_connectors())
    last = reports[-1][0]
    assert connector.status is not None
    if last == "Occupied":
        assert connector.status.status in OCCUPIED_STATUSES
    else:
        expected = CONNECTOR_STATUSES.get(last) or S(last)
        assert connector.status.status is expected
    assert connector_operational_status(station, charger, connector) is operational_status_of(
        connector.status.status
    )


def test_status_report_names_evse_and_connector() -> None:
    report = status_report(VALID["StatusNotification"])
    assert (report.evse_id, report.ocpp_id, report.status, report.occupied) == (
        1,
        1,
        S.AVAILABLE,
        False,
    )
    for field in ("evseId", "connectorId"):
        with pytest.raises(Refused) as refused:
            status_report({**VALID["StatusNotification"], field: 0})
        assert refused.value.violation.field == field


# --- meter values, transaction events, reports -----------------------------------------------


def test_meter_samples_are_scaled_and_keep_their_units() -> None:
    samples = meter_samples(
        [
            {
                "timestamp": "2026-11-25T10:00:00+01:00",
                "sampledValue": [
                    {"value": 1.5, "unitOfMeasure": {"unit": "kWh"}},
                    {"value": 12, "unitOfMeasure": {"multiplier": 3}},
                    {"value": 230.1, "measurand": "Voltage", "phase": "L1"},
                    {"value": 1, "unitOfMeasure": {"multiplier": 400}},
                    {"value": 1e300},
                ],
            }
        ],
        "meterValue",
    )
    assert [(s.measurand, s.value, s.unit, s.phase) for s in samples] == [
        ("Energy.Active.Import.Register", 1.5, "kWh", None),
        ("Energy.Active.Import.Register", 12000.0, "Wh", None),
        ("Voltage", 230.1, None, "L1"),
    ]
    assert samples[0].timestamp == T0


def test_transaction_event_reading() -> None:
    payload = {
        **VALID["TransactionEvent"],
        "eventType": "Ended",
        "transactionInfo": {
            "transactionId": "tx-1",
            "chargingState": "EVConnected",
            "stoppedReason": "EVDisconnected",
            "remoteStartId": 7,
        },
        "offline": True,
        "reservationId": 3,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": 10.0}]}],
    }
    event = transaction_event(payload)
    assert (event.transaction_id, event.seq_no, event.event_type) == (
        "tx-1",
        0,
        TransactionEventType.ENDED,
    )
    assert (event.evse_id, event.connector_id, event.id_token) == (1, 1, "A")
    assert (event.stopped_reason, event.offline, event.reservation_id, event.remote_start_id) == (
        "EVDisconnected",
        True,
        3,
        7,
    )
    assert event.connector_status is S.FINISHING
    assert [s.value for s in event.samples] == [10.0]
    free = transaction_event(
        {**VALID["TransactionEvent"], "idToken": {"idToken": "", "type": "NoAuthorization"}}
    )
    assert free.id_token is None
    with pytest.raises(Refused):
        transaction_event({**VALID["TransactionEvent"], "seqNo": -1})
    with pytest.raises(Refused):
        transaction_event({**VALID["TransactionEvent"], "evse": {"id": 0}})


def test_device_variables_of_a_report() -> None:
    (variable,) = device_variables(VALID["NotifyReport"], T0)
    assert variable.key == VariableKey("OCPPCommCtrlr", "HeartbeatInterval")
    assert (variable.value, variable.readonly, variable.unit, variable.data_type) == (
        "300",
        False,
        "s",
        "integer",
    )
    assert (variable.persistent, variable.constant, variable.reported_at) == (False, False, T0)
    assert device_variables({"requestId": 1, "generatedAt": "x", "seqNo": 0}, T0) == []
    nameless = json.loads(json.dumps(VALID["NotifyReport"]))
    nameless["reportData"][0]["component"]["name"] = ""
    with pytest.raises(Refused) as refused:
        device_variables(nameless, T0)
    assert refused.value.violation.field == "reportData[0].variableAttribute[0]"


def test_free_vend_authorize_is_accepted_without_the_registry() -> None:
    async def test() -> None:
        charging = ChargingService(InMemoryRepository(), clock=lambda: T0)
        free = {"idToken": {"idToken": "", "type": "NoAuthorization"}}
        handled = await HANDLERS["Authorize"](charging, "ST1", free)
        assert handled.payload == {"idTokenInfo": {"status": "Accepted"}}
        unknown = await HANDLERS["Authorize"](charging, "ST1", VALID["Authorize"])
        assert unknown.payload == {"idTokenInfo": {"status": "Invalid"}}

    asyncio.run(test())

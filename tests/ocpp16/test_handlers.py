"""The handlers and payload conversions, without sockets: each handler's answer is held to
its response schema (checked with ``jsonschema``, independently of our validators)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.charging import BootResult, ChargingService
from evcharge_core.domain.model import Station
from evcharge_core.domain.transactions import Authorization, AuthorizationStatus, IdToken
from evcharge_core.domain.values import RegistrationStatus
from evcharge_core.ocpp16 import HANDLERS, STATION_ACTIONS, Kind, schema
from evcharge_core.ocpp16._messages import (
    Refused,
    boot_response,
    id_tag_info,
    meter_samples,
    ocpp_time,
    parse_time,
    status_report,
)

from .test_protocol import VALID

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def assert_response_valid(action: str, payload: dict[str, Any]) -> None:
    jsonschema.Draft4Validator(
        schema(action, Kind.RESPONSE), format_checker=jsonschema.FormatChecker()
    ).validate(payload)


def test_every_station_action_has_a_handler() -> None:
    assert set(HANDLERS) == STATION_ACTIONS


@pytest.mark.parametrize("action", sorted(STATION_ACTIONS))
def test_each_handler_answers_a_schema_valid_payload(action: str) -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        async with repository.transaction() as tx:
            await tx.stations.save(Station(id="ST1", name="ST1", code="ST1"))
        charging = ChargingService(repository, clock=lambda: T0)
        await charging.save_id_token(IdToken("A", expiry_date=T0 + timedelta(days=1)))
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
    group=st.none() | st.text(max_size=40),
)
def test_id_tag_info_is_always_valid(
    status: AuthorizationStatus, expiry: datetime | None, group: str | None
) -> None:
    info = id_tag_info(Authorization(status, expiry, group))
    assert_response_valid("Authorize", {"idTagInfo": info})


@given(st.datetimes(timezones=st.just(UTC)))
def test_ocpp_time_round_trips_to_the_millisecond(instant: datetime) -> None:
    text = ocpp_time(instant)
    assert text.endswith("Z")
    assert parse_time(text, "t") == instant.replace(microsecond=instant.microsecond // 1000 * 1000)


def test_boot_response() -> None:
    payload = boot_response(BootResult(RegistrationStatus.PENDING, 60, T0))
    assert payload == {
        "status": "Pending",
        "currentTime": "2026-11-25T09:00:00.000Z",
        "interval": 60,
    }
    assert_response_valid("BootNotification", payload)


@pytest.mark.parametrize("text", ["2026-13-01T00:00:00Z", "2026-01-01T00:00:00", "soon"])
def test_bad_times_are_refused(text: str) -> None:
    with pytest.raises(Refused) as refused:
        parse_time(text, "timestamp")
    assert refused.value.violation.code == "PropertyConstraintViolation"
    assert refused.value.violation.field == "timestamp"


def test_status_report_defaults() -> None:
    report = status_report({"connectorId": 0, "errorCode": "NoError", "status": "Faulted"}, T0)
    assert (report.ocpp_id, report.timestamp, report.error_code) == (0, T0, None)
    with pytest.raises(Refused):
        status_report({"connectorId": -1, "errorCode": "NoError", "status": "Faulted"}, T0)


def test_meter_samples_keep_numbers_and_units() -> None:
    samples = meter_samples(
        [
            {
                "timestamp": "2026-11-25T09:00:00+01:00",
                "sampledValue": [
                    {"value": "1.5", "unit": "kWh"},
                    {"value": "230.1", "measurand": "Voltage", "phase": "L1"},
                    {"value": "nan"},
                    {"value": "1e300"},
                    {"value": "12", "format": "SignedData"},
                    {"value": "twelve"},
                ],
            }
        ],
        "meterValue",
    )
    assert [(s.measurand, s.value, s.unit, s.phase) for s in samples] == [
        ("Energy.Active.Import.Register", 1.5, "kWh", None),
        ("Voltage", 230.1, None, "L1"),
    ]
    assert samples[0].timestamp == T0 - timedelta(hours=1)


def test_notification_payload_is_stored_as_sent() -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        charging = ChargingService(repository, clock=lambda: T0)
        payload = {"vendorId": "com.example", "data": "ü"}
        await HANDLERS["DataTransfer"](charging, "ST1", payload)
        (note,) = await charging.notifications("ST1")
        assert json.loads(note.payload) == payload

    asyncio.run(test())

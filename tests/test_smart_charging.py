"""OCPP smart charging payloads: schema-valid, and what a well-behaved station makes of them.

The well-behaved station is the project's simulator (``simulator._profiles``), which
evaluates installed profiles as OCPP 1.6 §3.13 says and answers GetCompositeSchedule.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, tzinfo
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge_core.domain.allocation import Allocation, AllocationState
from evcharge_core.domain.profiles import (
    ChargingProfile,
    ProfilePeriod,
    RateUnit,
    Recurrence,
    parse_profile,
)
from evcharge_core.errors import InvalidInput
from evcharge_core.simulator._ocppj import PayloadReader
from evcharge_core.simulator._profiles import (
    InstalledProfile,
    composite_schedule,
)
from evcharge_core.simulator._profiles import (
    parse_profile as station_parse,
)
from evcharge_core.smart_charging import (
    CompositeSchedule,
    ProfilePurpose,
    ScheduleDifference,
    SchedulePeriod,
    charger_profile_purpose,
    compare_schedule,
    composite_from_ocpp16,
    composite_from_ocpp201,
    format_timestamp,
    ocpp16_charger_profile,
    ocpp16_tx_profile,
    ocpp201_charger_profile,
    ocpp201_tx_profile,
)

from .domain.strategies import instants, profiles, zones

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 6, 1, 10, 0, tzinfo=UTC)  # 12:00 in Berlin


@cache
def validator(version: str, name: str) -> jsonschema.protocols.Validator:
    text = resources.files(f"ocpp.{version}").joinpath("schemas", name).read_text("utf-8")
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft4Validator)
    return cls(schema, format_checker=cls.FORMAT_CHECKER)


def valid16(payload: Any, name: str = "SetChargingProfile.json") -> None:
    validator("v16", name).validate(payload)


def valid201(payload: Any, name: str = "SetChargingProfileRequest.json") -> None:
    validator("v201", name).validate(payload)


def day_night() -> ChargingProfile:
    return parse_profile(
        {
            "name": "Day/night",
            "unit": "W",
            "recurrence": "daily",
            "periods": [{"start": "07:00", "limit": 10_000}, {"start": "22:00", "limit": 20_000}],
        },
        profile_id="day-night",
    )


allocations = st.builds(
    Allocation,
    connector_id=st.just("c"),
    limit=st.integers(0, 500_000),
    unit=st.sampled_from(RateUnit),
    state=st.sampled_from(AllocationState),
    phases=st.sampled_from([1, 3]),
    current_a=st.integers(0, 500),
    power_w=st.integers(0, 500_000),
)
ids = st.integers(1, 2**31 - 1)
levels = st.integers(0, 2**31 - 1)


# --- payloads ----------------------------------------------------------------------------------


def test_day_night_as_ocpp16() -> None:
    request = ocpp16_charger_profile(
        day_night(),
        BERLIN,
        NOW,
        profile_id=1,
        stack_level=0,
        purpose=ProfilePurpose.STATION_MAX,
    )
    assert request.payload == {
        "connectorId": 0,
        "csChargingProfiles": {
            "chargingProfileId": 1,
            "stackLevel": 0,
            "chargingProfilePurpose": "ChargePointMaxProfile",
            "chargingProfileKind": "Recurring",
            "recurrencyKind": "Daily",
            "chargingSchedule": {
                "startSchedule": "2026-05-31T22:00:00Z",  # midnight CEST
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [
                    {"startPeriod": 0, "limit": 20_000},  # the night period, wrapped around
                    {"startPeriod": 7 * 3600, "limit": 10_000},
                    {"startPeriod": 22 * 3600, "limit": 20_000},
                ],
            },
        },
    }
    assert request.resend_at == datetime(2026, 10, 25, 1, tzinfo=UTC)
    valid16(request.payload)


def test_day_night_as_ocpp201() -> None:
    weekly = ChargingProfile(
        "w", "n", RateUnit.AMPERES, Recurrence.WEEKLY, [ProfilePeriod(0, 16, 3)]
    )
    request = ocpp201_charger_profile(
        weekly,
        BERLIN,
        NOW,
        profile_id=7,
        stack_level=2,
        purpose=ProfilePurpose.TX_DEFAULT,
        evse_id=1,
    )
    assert request.payload == {
        "evseId": 1,
        "chargingProfile": {
            "id": 7,
            "stackLevel": 2,
            "chargingProfilePurpose": "TxDefaultProfile",
            "chargingProfileKind": "Recurring",
            "recurrencyKind": "Weekly",
            "chargingSchedule": [
                {
                    "id": 7,
                    "startSchedule": "2026-05-31T22:00:00Z",  # Monday 1 June, 00:00 CEST
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16, "numberPhases": 3}],
                }
            ],
        },
    }
    valid201(request.payload)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(profiles(), zones, instants, st.data())
def test_every_charger_profile_validates(
    profile: ChargingProfile, zone: tzinfo, now: datetime, data: st.DataObject
) -> None:
    profile_id = data.draw(ids)
    stack_level = data.draw(levels)
    purpose = data.draw(st.sampled_from(ProfilePurpose))
    target = 0 if purpose is ProfilePurpose.STATION_MAX else data.draw(st.integers(0, 10))
    v16 = ocpp16_charger_profile(
        profile,
        zone,
        now,
        profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        connector_id=target,
    )
    valid16(v16.payload)
    v201 = ocpp201_charger_profile(
        profile,
        zone,
        now,
        profile_id=profile_id,
        stack_level=stack_level,
        purpose=purpose,
        evse_id=target,
    )
    valid201(v201.payload)
    periods = v16.payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    assert periods[0]["startPeriod"] == 0
    assert (
        periods == v201.payload["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"]
    )
    assert [p["startPeriod"] for p in periods] == sorted({p["startPeriod"] for p in periods})
    assert v16.resend_at == v201.resend_at


@given(allocations, ids, levels, st.integers(-(2**31), 2**31 - 1), st.integers(1, 100))
def test_every_tx_profile_validates(
    allocation: Allocation, profile_id: int, stack_level: int, transaction: int, target: int
) -> None:
    v16 = ocpp16_tx_profile(
        allocation,
        connector_id=target,
        transaction_id=transaction,
        profile_id=profile_id,
        stack_level=stack_level,
    )
    valid16(v16)
    v201 = ocpp201_tx_profile(
        allocation,
        evse_id=target,
        transaction_id=f"tx-{transaction}",
        profile_id=profile_id,
        stack_level=stack_level,
    )
    valid201(v201)
    period = v16["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"]
    assert period == v201["chargingProfile"]["chargingSchedule"][0]["chargingSchedulePeriod"]
    assert period[0]["limit"] == allocation.limit
    assert ("numberPhases" in period[0]) == (allocation.unit is RateUnit.AMPERES)


def test_tx_profile_shapes() -> None:
    allocation = Allocation("c", 13, RateUnit.AMPERES, AllocationState.CHARGING, 1, 13, 2990)
    assert ocpp16_tx_profile(
        allocation, connector_id=2, transaction_id=42, profile_id=2002, stack_level=1
    ) == {
        "connectorId": 2,
        "csChargingProfiles": {
            "chargingProfileId": 2002,
            "transactionId": 42,
            "stackLevel": 1,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 13, "numberPhases": 1}],
            },
        },
    }
    v201 = ocpp201_tx_profile(
        allocation, evse_id=1, transaction_id="abc", profile_id=5, stack_level=1, schedule_id=9
    )
    assert v201["evseId"] == 1
    assert v201["chargingProfile"]["transactionId"] == "abc"
    assert v201["chargingProfile"]["chargingSchedule"][0]["id"] == 9


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (
            lambda: ocpp16_charger_profile(
                day_night(),
                BERLIN,
                NOW,
                profile_id=1,
                stack_level=0,
                purpose=ProfilePurpose.STATION_MAX,
                connector_id=1,
            ),
            "connector 0",
        ),
        (
            lambda: ocpp201_charger_profile(
                day_night(),
                BERLIN,
                NOW,
                profile_id=1,
                stack_level=0,
                purpose=ProfilePurpose.STATION_MAX,
                evse_id=2,
            ),
            "EVSE 0",
        ),
        (
            lambda: ocpp16_charger_profile(
                day_night(),
                BERLIN,
                NOW,
                profile_id=0,
                stack_level=0,
                purpose=ProfilePurpose.TX_DEFAULT,
            ),
            "profile_id",
        ),
        (
            lambda: ocpp16_charger_profile(
                day_night(),
                BERLIN,
                NOW,
                profile_id=1,
                stack_level=-1,
                purpose=ProfilePurpose.TX_DEFAULT,
            ),
            "stack_level",
        ),
        (
            lambda: ocpp201_tx_profile(
                Allocation("c", 6, RateUnit.AMPERES, AllocationState.CHARGING, 3, 6, 4140),
                evse_id=1,
                transaction_id="x" * 37,
                profile_id=1,
                stack_level=0,
            ),
            "36 characters",
        ),
        (
            lambda: ocpp16_tx_profile(
                Allocation("c", 6, RateUnit.AMPERES, AllocationState.CHARGING, 3, 6, 4140),
                connector_id=0,
                transaction_id=1,
                profile_id=1,
                stack_level=0,
            ),
            "connector_id",
        ),
    ],
)
def test_misuse_is_refused(call: Any, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        call()
    with pytest.raises(TypeError, match="integer"):
        ocpp16_charger_profile(
            day_night(),
            BERLIN,
            NOW,
            profile_id="1",  # type: ignore[arg-type]
            stack_level=0,
            purpose=ProfilePurpose.TX_DEFAULT,
        )


def test_charger_profile_purpose() -> None:
    assert charger_profile_purpose(1) is ProfilePurpose.STATION_MAX
    assert charger_profile_purpose(2) is ProfilePurpose.TX_DEFAULT
    assert ProfilePurpose.STATION_MAX.ocpp201 == "ChargingStationMaxProfile"
    assert ProfilePurpose.TX_DEFAULT.ocpp16 == "TxDefaultProfile"


def test_format_timestamp() -> None:
    moment = datetime(2026, 3, 29, 3, 0, 0, 123_000, tzinfo=BERLIN)
    assert format_timestamp(moment) == "2026-03-29T01:00:00Z"


# --- what a station makes of it: GetCompositeSchedule ------------------------------------------


def station_answer(
    payload: dict[str, Any], now: datetime, duration: int, unit: str
) -> dict[str, Any]:
    """A well-behaved 1.6 station's GetCompositeSchedule answer, after SetChargingProfile."""
    installed = InstalledProfile(
        payload["connectorId"], station_parse(PayloadReader(payload["csChargingProfiles"])), now
    )
    schedule = composite_schedule(
        [installed], 1, now, duration=duration, unit=unit, max_watts=10**9
    )
    answer = {
        "status": "Accepted",
        "connectorId": 1,
        "scheduleStart": schedule["startSchedule"],
        "chargingSchedule": schedule,
    }
    valid16(answer, "GetCompositeScheduleResponse.json")
    return answer


def as_ocpp201(answer: dict[str, Any]) -> dict[str, Any]:
    schedule = answer["chargingSchedule"]
    converted = {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": schedule["duration"],
            "scheduleStart": answer["scheduleStart"],
            "chargingRateUnit": schedule["chargingRateUnit"],
            "chargingSchedulePeriod": schedule["chargingSchedulePeriod"],
        },
    }
    valid201(converted, "GetCompositeScheduleResponse.json")
    return converted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(profiles(max_periods=5), zones, instants, st.integers(60, 3 * 86_400))
def test_a_well_behaved_station_agrees_until_the_resend(
    profile: ChargingProfile, zone: tzinfo, now: datetime, duration: int
) -> None:
    # The simulator converts amperes at three phases; phase counts below 3 are its own rule.
    profile = ChargingProfile(
        profile.id,
        profile.name,
        profile.unit,
        profile.recurrence,
        [ProfilePeriod(p.start_s, p.limit) for p in profile.periods],
    )
    now = now.replace(microsecond=0)
    request = ocpp16_charger_profile(
        profile, zone, now, profile_id=1, stack_level=0, purpose=ProfilePurpose.STATION_MAX
    )
    if request.resend_at is not None:
        duration = min(duration, int((request.resend_at - now).total_seconds()))
    answer = station_answer(dict(request.payload), now, duration, profile.unit.value)
    assert compare_schedule(profile, zone, composite_from_ocpp16(answer)) == ()
    assert compare_schedule(profile, zone, composite_from_ocpp201(as_ocpp201(answer))) == ()


def test_a_station_anchored_before_a_dst_change_is_an_hour_off_after_it() -> None:
    profile = day_night()
    now = datetime(2026, 10, 24, 12, tzinfo=UTC)
    request = ocpp16_charger_profile(
        profile, BERLIN, now, profile_id=1, stack_level=0, purpose=ProfilePurpose.STATION_MAX
    )
    assert request.resend_at == datetime(2026, 10, 25, 1, tzinfo=UTC)
    answer = station_answer(dict(request.payload), now, 36 * 3600, "W")
    differences = compare_schedule(profile, BERLIN, composite_from_ocpp16(answer))
    # The station counts 24 h from midnight CEST: after the switch to CET its 07:00 and
    # 22:00 come at 06:00 and 21:00 wall time, an hour early.
    assert differences == (
        ScheduleDifference(
            datetime(2026, 10, 25, 5, tzinfo=UTC),
            datetime(2026, 10, 25, 6, tzinfo=UTC),
            20_000,
            10_000,
        ),
        ScheduleDifference(
            datetime(2026, 10, 25, 20, tzinfo=UTC),
            datetime(2026, 10, 25, 21, tzinfo=UTC),
            10_000,
            20_000,
        ),
    )
    # Sent again at resend_at, it agrees.
    again = ocpp16_charger_profile(
        profile,
        BERLIN,
        request.resend_at,
        profile_id=1,
        stack_level=0,
        purpose=ProfilePurpose.STATION_MAX,
    )
    answer = station_answer(dict(again.payload), request.resend_at, 2 * 86_400, "W")
    assert compare_schedule(profile, BERLIN, composite_from_ocpp16(answer)) == ()


def test_compare_reports_a_station_that_disagrees() -> None:
    start = datetime(2026, 6, 1, 4, tzinfo=UTC)  # 06:00 CEST
    schedule = CompositeSchedule(
        start,
        4 * 3600,
        RateUnit.WATTS,
        (SchedulePeriod(0, 20_000), SchedulePeriod(3600, 10_000), SchedulePeriod(7200, 11_040)),
    )
    assert compare_schedule(day_night(), BERLIN, schedule) == (
        ScheduleDifference(start + timedelta(hours=2), start + timedelta(hours=4), 10_000, 11_040),
    )
    # Adjacent periods saying the same are one difference.
    split = CompositeSchedule(
        start, 2 * 3600, RateUnit.WATTS, (SchedulePeriod(0, 5_000), SchedulePeriod(60, 5_000))
    )
    assert compare_schedule(day_night(), BERLIN, split) == (
        ScheduleDifference(start, start + timedelta(hours=1), 20_000, 5_000),
        ScheduleDifference(start + timedelta(hours=1), start + timedelta(hours=2), 10_000, 5_000),
    )
    # A schedule that starts late leaves the beginning unlimited.
    late = CompositeSchedule(start, 3600, RateUnit.WATTS, (SchedulePeriod(1800, 20_000),))
    assert compare_schedule(day_night(), BERLIN, late) == (
        ScheduleDifference(start, start + timedelta(minutes=30), 20_000, None),
    )
    assert late.limit_at(start - timedelta(seconds=1)) is None


def test_compare_converts_units_with_the_phase_voltage() -> None:
    start = datetime(2026, 6, 1, 10, tzinfo=UTC)
    in_amperes = CompositeSchedule(
        start, 3600, RateUnit.AMPERES, (SchedulePeriod(0, 14.5),)
    )  # 10 kW at 230 V x 3 = 14.49 A
    assert compare_schedule(day_night(), BERLIN, in_amperes, phase_voltage=230) == ()
    with pytest.raises(InvalidInput, match="phase voltage"):
        compare_schedule(day_night(), BERLIN, in_amperes)
    amperes = ChargingProfile(
        "a", "n", RateUnit.AMPERES, Recurrence.DAILY, [ProfilePeriod(0, 16, 1)]
    )
    in_watts = CompositeSchedule(start, 60, RateUnit.WATTS, (SchedulePeriod(0, 3680),))
    assert compare_schedule(amperes, BERLIN, in_watts, phase_voltage=230) == ()


@pytest.mark.parametrize(
    ("answer", "fields"),
    [
        ({"status": "Rejected"}, ["status"]),
        ([], ["answer"]),
        ({"status": "Accepted"}, ["chargingSchedule"]),
        (
            {
                "status": "Accepted",
                "chargingSchedule": {
                    "chargingRateUnit": "kW",
                    "chargingSchedulePeriod": [{"startPeriod": "0", "limit": True}, 3],
                },
            },
            [
                "scheduleStart",
                "chargingSchedule.duration",
                "chargingSchedule.chargingRateUnit",
                "chargingSchedule.chargingSchedulePeriod[0].startPeriod",
                "chargingSchedule.chargingSchedulePeriod[0].limit",
                "chargingSchedule.chargingSchedulePeriod[1]",
            ],
        ),
        (
            {
                "status": "Accepted",
                "scheduleStart": "2026-06-01T10:00:00",  # no offset
                "chargingSchedule": {
                    "duration": 60,
                    "chargingRateUnit": "W",
                    "chargingSchedulePeriod": [],
                },
            },
            ["scheduleStart", "chargingSchedule.chargingSchedulePeriod"],
        ),
    ],
)
def test_composite_16_errors_name_their_fields(answer: object, fields: list[str]) -> None:
    with pytest.raises(InvalidInput) as caught:
        composite_from_ocpp16(answer)
    assert [issue.field for issue in caught.value.issues] == fields


def test_composite_16_takes_the_requested_duration_and_startschedule() -> None:
    answer = {
        "status": "Accepted",
        "scheduleStart": "2026-06-01T10:00:00Z",
        "chargingSchedule": {
            "startSchedule": "2026-06-01T10:00:30+00:00",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [
                {"startPeriod": 60, "limit": 6},
                {"startPeriod": 0, "limit": 16.5, "numberPhases": 1},
            ],
        },
    }
    schedule = composite_from_ocpp16(answer, duration_s=300)
    assert schedule == CompositeSchedule(
        datetime(2026, 6, 1, 10, 0, 30, tzinfo=UTC),
        300,
        RateUnit.AMPERES,
        (SchedulePeriod(0, 16.5, 1), SchedulePeriod(60, 6.0)),
    )
    assert schedule.limit_at(datetime(2026, 6, 1, 10, 1, 30, tzinfo=UTC)) == 6.0
    assert schedule.limit_at(schedule.end) is None


def test_composite_201_errors_name_their_fields() -> None:
    with pytest.raises(InvalidInput) as caught:
        composite_from_ocpp201({"status": "Accepted", "schedule": {"evseId": 1}})
    assert [issue.field for issue in caught.value.issues] == [
        "schedule.scheduleStart",
        "schedule.duration",
        "schedule.chargingRateUnit",
        "schedule.chargingSchedulePeriod",
    ]
    with pytest.raises(InvalidInput, match="Rejected"):
        composite_from_ocpp201({"status": "Rejected"})
    with pytest.raises(InvalidInput) as caught:
        composite_from_ocpp201({"status": "Accepted"})
    assert [issue.field for issue in caught.value.issues] == ["schedule"]


def test_an_unreadable_timestamp_is_named() -> None:
    answer = {
        "status": "Accepted",
        "schedule": {
            "evseId": 1,
            "duration": 60,
            "scheduleStart": "yesterday",
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6}],
        },
    }
    with pytest.raises(InvalidInput) as caught:
        composite_from_ocpp201(answer)
    assert [(i.field, i.message) for i in caught.value.issues] == [
        ("schedule.scheduleStart", "must be an ISO 8601 date-time with offset")
    ]

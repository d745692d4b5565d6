"""Charging profiles: parsing, limits and composite schedules (``simulator._profiles``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from evcharge_core.simulator._ocppj import CallErrorReply, PayloadReader
from evcharge_core.simulator._profiles import (
    InstalledProfile,
    composite_schedule,
    limit_watts,
    parse_profile,
    parse_profile_201,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def profile(
    profile_id: int = 1,
    *,
    purpose: str = "TxDefaultProfile",
    kind: str = "Absolute",
    stack_level: int = 0,
    unit: str = "W",
    periods: list[tuple[int, float]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    schedule: dict[str, Any] = {
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": [
            {"startPeriod": start, "limit": limit}
            for start, limit in (periods if periods is not None else [(0, 11000)])
        ],
    }
    schedule.update(extra.pop("schedule", {}))
    return {
        "chargingProfileId": profile_id,
        "stackLevel": stack_level,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": kind,
        "chargingSchedule": schedule,
        **extra,
    }


def install(connector_id: int, raw: dict[str, Any], at: datetime = T0) -> InstalledProfile:
    return InstalledProfile(connector_id, parse_profile(PayloadReader(raw)), at)


def test_parse_sorts_periods_and_rejects_empty_schedules() -> None:
    parsed = parse_profile(PayloadReader(profile(periods=[(60, 1.0), (0, 2.0)])))
    assert [p.start for p in parsed.schedule.periods] == [0, 60]
    with pytest.raises(CallErrorReply):
        parse_profile(PayloadReader(profile(periods=[])))


def test_no_profile_means_no_limit() -> None:
    assert limit_watts([], 1, T0) is None


def test_amperes_become_watts_per_phase() -> None:
    profiles = [install(1, profile(unit="A", periods=[(0, 16)]))]
    assert limit_watts(profiles, 1, T0) == 16 * 230 * 3
    one_phase = profile(unit="A")
    one_phase["chargingSchedule"]["chargingSchedulePeriod"] = [
        {"startPeriod": 0, "limit": 10, "numberPhases": 1}
    ]
    assert limit_watts([install(1, one_phase)], 1, T0) == 2300


def test_precedence() -> None:
    profiles = [
        install(0, profile(1, periods=[(0, 9000)])),  # station-wide default
        install(1, profile(2, periods=[(0, 7000)])),  # connector default wins over it
        install(1, profile(3, purpose="TxProfile", periods=[(0, 5000)])),
        install(0, profile(4, purpose="ChargePointMaxProfile", periods=[(0, 6000)])),
    ]
    assert limit_watts(profiles, 2, T0) == 6000  # default 9000 capped by max 6000
    assert limit_watts(profiles[:3], 2, T0) == 9000
    assert limit_watts(profiles[:3], 1, T0) == 7000  # no transaction: TxProfile idle
    assert limit_watts(profiles[:3], 1, T0, transaction_id=5) == 5000


def test_stack_levels_and_periods_in_time() -> None:
    profiles = [
        install(1, profile(1, stack_level=0, periods=[(0, 11000)])),
        install(
            1,
            profile(
                2, stack_level=1, periods=[(0, 3000), (600, 4000)], schedule={"duration": 1200}
            ),
        ),
    ]
    assert limit_watts(profiles, 1, T0) == 3000
    assert limit_watts(profiles, 1, T0 + timedelta(seconds=700)) == 4000
    assert limit_watts(profiles, 1, T0 + timedelta(seconds=1300)) == 11000


def test_validity_relative_and_recurring() -> None:
    valid = install(1, profile(validFrom=(T0 + timedelta(hours=1)).isoformat()))
    assert limit_watts([valid], 1, T0) is None
    expired = install(1, profile(validTo=T0.isoformat()))
    assert limit_watts([expired], 1, T0) is None
    relative = install(
        1, profile(kind="Relative", periods=[(0, 1000), (60, 2000)]), at=T0 - timedelta(hours=5)
    )
    assert limit_watts([relative], 1, T0, transaction_start=T0 - timedelta(seconds=90)) == 2000
    assert limit_watts([relative], 1, T0, transaction_start=T0) == 1000
    daily = install(
        1,
        profile(
            kind="Recurring",
            recurrencyKind="Daily",
            periods=[(0, 1000), (3600, 2000)],
            schedule={"startSchedule": (T0 - timedelta(days=3)).isoformat()},
        ),
    )
    assert limit_watts([daily], 1, T0) == 1000
    assert limit_watts([daily], 1, T0 + timedelta(hours=2)) == 2000
    future = install(1, profile(schedule={"startSchedule": (T0 + timedelta(hours=1)).isoformat()}))
    assert limit_watts([future], 1, T0) is None


def test_composite_schedule() -> None:
    profiles = [
        install(1, profile(1, periods=[(0, 7000), (600, 3450)], schedule={"duration": 1200})),
    ]
    schedule = composite_schedule(profiles, 1, T0, duration=1800, unit="A", max_watts=22080.0)
    assert schedule["duration"] == 1800
    assert schedule["chargingRateUnit"] == "A"
    assert schedule["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 10.1},
        {"startPeriod": 600, "limit": 5},
        {"startPeriod": 1200, "limit": 32},
    ]
    empty = composite_schedule([], 1, T0, duration=0, unit="W", max_watts=22080.0)
    assert empty["chargingSchedulePeriod"] == [{"startPeriod": 0, "limit": 22080}]


def profile_201(purpose: str = "TxDefaultProfile", **extra: Any) -> dict[str, Any]:
    return {
        "id": 9,
        "stackLevel": 2,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [
                    {"startPeriod": 60, "limit": 8},
                    {"startPeriod": 0, "limit": 16},
                ],
            },
            {
                "id": 2,
                "chargingRateUnit": "W",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 1}],
            },
        ],
        **extra,
    }


def test_ocpp201_profiles() -> None:
    parsed = parse_profile_201(PayloadReader(profile_201(transactionId="tx-1")))
    assert (parsed.profile_id, parsed.stack_level, parsed.transaction_id) == (9, 2, "tx-1")
    assert parsed.schedule.unit == "A"  # the first schedule is the one used
    assert [p.start for p in parsed.schedule.periods] == [0, 60]
    for broken in (profile_201(chargingSchedule=[]), profile_201(chargingSchedule=[{}] * 4)):
        with pytest.raises(CallErrorReply):
            parse_profile_201(PayloadReader(broken))
    # a ChargingStationMaxProfile caps like a 1.6 ChargePointMaxProfile
    maximum = InstalledProfile(
        0, parse_profile_201(PayloadReader(profile_201("ChargingStationMaxProfile"))), T0
    )
    default = install(1, profile(periods=[(0, 22000)]))
    assert limit_watts([default, maximum], 1, T0) == 16 * 230 * 3
    tx = InstalledProfile(
        1, parse_profile_201(PayloadReader(profile_201("TxProfile", transactionId="tx-1"))), T0
    )
    assert limit_watts([tx], 1, T0, transaction_id="tx-1", transaction_start=T0) == 16 * 230 * 3
    assert limit_watts([tx], 1, T0, transaction_id="tx-2", transaction_start=T0) is None

"""Hypothesis strategies for charging profiles and load balancing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from evcharge_core.domain.profiles import (
    MAX_LIMIT,
    ChargingProfile,
    ProfilePeriod,
    RateUnit,
    Recurrence,
)

ZONE_NAMES = (
    "UTC",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Sao_Paulo",  # DST until 2019, none since
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Asia/Kolkata",  # +05:30, no DST
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Santiago",  # southern-hemisphere DST
)

zones = st.sampled_from(ZONE_NAMES).map(ZoneInfo)

instants = st.datetimes(
    min_value=datetime(2019, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)

units = st.sampled_from(RateUnit)
recurrences = st.sampled_from(Recurrence)


@st.composite
def periods(
    draw: st.DrawFn, recurrence: Recurrence, unit: RateUnit, *, max_size: int = 8
) -> list[ProfilePeriod]:
    # Starts on whole minutes most of the time (as operators write them), seconds sometimes.
    grain = draw(st.sampled_from([60, 900, 1]))
    starts = draw(
        st.lists(
            st.integers(0, recurrence.cycle_s // grain - 1).map(lambda n: n * grain),
            min_size=1,
            max_size=max_size,
            unique=True,
        )
    )
    return [
        ProfilePeriod(
            start,
            draw(st.integers(0, MAX_LIMIT[unit.value])),
            draw(st.none() | st.sampled_from([1, 2, 3])),
        )
        for start in starts
    ]


@st.composite
def profiles(draw: st.DrawFn, *, max_periods: int = 8) -> ChargingProfile:
    unit = draw(units)
    recurrence = draw(recurrences)
    return ChargingProfile(
        "p1",
        draw(st.text(min_size=1, max_size=20).filter(str.strip)),
        unit,
        recurrence,
        draw(periods(recurrence, unit, max_size=max_periods)),
    )

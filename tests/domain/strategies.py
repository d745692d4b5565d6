"""Hypothesis strategies for charging profiles and load balancing."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from hypothesis import strategies as st

from evcharge_core.domain.allocation import AreaLimit, ConnectorLoad, Phase
from evcharge_core.domain.profiles import (
    MAX_LIMIT,
    ChargingProfile,
    ProfileLimit,
    ProfilePeriod,
    RateUnit,
    Recurrence,
)
from evcharge_core.domain.values import PowerType

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


# --- load balancing --------------------------------------------------------------------------


_phase_voltages = st.sampled_from([230, 230, 120, 240])
area_limits = st.one_of(
    st.builds(AreaLimit, current_a=st.integers(0, 400), phase_voltage=_phase_voltages),
    st.builds(AreaLimit, power_w=st.integers(0, 300_000), phase_voltage=_phase_voltages),
    st.builds(
        AreaLimit,
        current_a=st.integers(0, 400),
        power_w=st.integers(0, 300_000),
        phase_voltage=_phase_voltages,
    ),
)


@st.composite
def connector_loads(
    draw: st.DrawFn,
    connector_id: str,
    arrival: int,
    *,
    dc: bool = True,
    draws: bool = True,
    pinned: bool = False,
) -> ConnectorLoad:
    power_types = list(PowerType) if dc else [PowerType.AC_1_PHASE, PowerType.AC_3_PHASE]
    power_type = draw(st.sampled_from(power_types))
    if power_type is PowerType.DC:
        voltage = draw(st.sampled_from([400, 500, 800, 920]))
        amperage = draw(st.integers(0, 500))
        wattage = draw(st.none() | st.integers(0, 400_000))
    else:
        voltage = draw(st.sampled_from([230, 230, 220, 240, 120]))
        amperage = draw(st.sampled_from([0, 4, 6, 10, 13, 16, 20, 32, 63]) | st.integers(0, 80))
        wattage = draw(st.none() | st.integers(0, 50_000))
    profile_limit = draw(
        st.none()
        | st.builds(ProfileLimit, st.integers(0, 80), st.just(RateUnit.AMPERES))
        | st.builds(ProfileLimit, st.integers(0, 200_000), st.just(RateUnit.WATTS))
    )
    observed: float | None = None
    previous: int | None = None
    suspended = False
    if draws:
        scale = 1 if power_type is not PowerType.DC else 690
        previous = draw(st.none() | st.integers(0, 80).map(lambda a: a * scale))
        observed = draw(st.none() | st.floats(0, 80, allow_nan=False).map(lambda a: a * scale))
        suspended = draw(st.booleans())
    return ConnectorLoad(
        connector_id,
        arrival,
        power_type,
        voltage,
        amperage,
        wattage,
        phase=draw(st.sampled_from(Phase)),
        profile_limit=profile_limit,
        observed=observed,
        suspended_ev=suspended,
        previous=previous,
        pinned=pinned and previous is not None and draw(st.booleans()),
        minimum=draw(
            st.none()
            | st.sampled_from([0, 1000, 5000] if power_type is PowerType.DC else [0, 6, 8, 10])
        ),
    )


@st.composite
def area_loads(
    draw: st.DrawFn,
    *,
    max_size: int = 12,
    dc: bool = True,
    draws: bool = True,
    pinned: bool = False,
) -> list[ConnectorLoad]:
    count = draw(st.integers(0, max_size))
    arrivals = draw(st.lists(st.integers(0, 50), min_size=count, max_size=count))
    return [
        draw(connector_loads(f"c{index}", arrival, dc=dc, draws=draws, pinned=pinned))
        for index, arrival in enumerate(arrivals)
    ]

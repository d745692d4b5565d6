"""Charging profiles on the simulated charge point (OCPP 1.6 §3.13, OCPP 2.0.1 K): storing,
limits, schedules.

Profiles are parsed from SetChargingProfile (or RemoteStartTransaction,
RequestStartTransaction) payloads into frozen values, kept per connector (OCPP 2.0.1: per
EVSE; 0 is the whole station), and evaluated the way a charge point does:

- for a connector, the TxProfile with the highest stack level that is in force wins;
  without one, the TxDefaultProfile (connector-specific before connector 0);
- the ChargePointMaxProfile (2.0.1: ChargingStationMaxProfile; on 0) caps the result;
- a limit in amperes is converted to watts at 230 V per phase (3 phases unless the period
  says otherwise).

Nothing here does I/O or reads the clock: every function takes ``now``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

import attrs

from ._ocppj import CallErrorReply, ErrorCode, PayloadReader, format_datetime

__all__ = [
    "PHASE_VOLTAGE",
    "ChargingProfile",
    "InstalledProfile",
    "Period",
    "Schedule",
    "composite_schedule",
    "limit_watts",
    "parse_profile",
    "parse_profile_201",
]

#: Volts per phase used to convert ampere limits to watts.
PHASE_VOLTAGE: Final = 230.0
_DEFAULT_PHASES: Final = 3
_PURPOSES: Final = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
_PURPOSES_201: Final = (
    "ChargingStationExternalConstraints",
    "ChargingStationMaxProfile",
    "TxDefaultProfile",
    "TxProfile",
)
#: The purposes that cap the whole station (1.6 and 2.0.1 names).
_MAX_PURPOSES: Final = frozenset({"ChargePointMaxProfile", "ChargingStationMaxProfile"})
_KINDS: Final = ("Absolute", "Recurring", "Relative")
_RECURRENCY: Final = {"Daily": 86_400, "Weekly": 604_800}


@attrs.frozen
class Period:
    """One period of a charging schedule: from ``start`` seconds, at most ``limit``."""

    start: int
    limit: float
    number_phases: int | None = None


@attrs.frozen
class Schedule:
    """A charging schedule: periods in ``unit`` (``A`` or ``W``), optionally bounded."""

    unit: str
    periods: tuple[Period, ...]
    duration: int | None = None
    start: datetime | None = None
    min_rate: float | None = None


@attrs.frozen
class ChargingProfile:
    """A charging profile as SetChargingProfile carries it (``csChargingProfiles`` in 1.6,
    ``chargingProfile`` in 2.0.1, whose transaction IDs are strings)."""

    profile_id: int
    stack_level: int
    purpose: str
    kind: str
    schedule: Schedule
    transaction_id: int | str | None = None
    recurrency: str | None = None
    valid_from: datetime | None = None
    valid_to: datetime | None = None


@attrs.frozen
class InstalledProfile:
    """A profile installed on a connector (0: the whole charge point) at ``installed_at``."""

    connector_id: int
    profile: ChargingProfile
    installed_at: datetime


def parse_profile(reader: PayloadReader) -> ChargingProfile:
    """Read a ``ChargingProfile`` object; raise :class:`CallErrorReply` if it is malformed."""
    schedule = _schedule_of(reader.child("chargingSchedule"))
    return ChargingProfile(
        profile_id=reader.integer("chargingProfileId"),
        stack_level=reader.integer("stackLevel"),
        purpose=reader.choice("chargingProfilePurpose", _PURPOSES),
        kind=reader.choice("chargingProfileKind", _KINDS),
        schedule=schedule,
        transaction_id=reader.optional_integer("transactionId"),
        recurrency=reader.optional_choice("recurrencyKind", tuple(_RECURRENCY)),
        valid_from=reader.optional_timestamp("validFrom"),
        valid_to=reader.optional_timestamp("validTo"),
    )


def _schedule_of(reader: PayloadReader) -> Schedule:
    periods = tuple(
        Period(
            start=item.integer("startPeriod"),
            limit=item.number("limit"),
            number_phases=item.optional_integer("numberPhases"),
        )
        for item in reader.objects("chargingSchedulePeriod", required=True)
    )
    if not periods:
        raise CallErrorReply(
            ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, "chargingSchedulePeriod is empty"
        )
    return Schedule(
        unit=reader.choice("chargingRateUnit", ("A", "W")),
        periods=tuple(sorted(periods, key=lambda period: period.start)),
        duration=reader.optional_integer("duration"),
        start=reader.optional_timestamp("startSchedule"),
        min_rate=reader.optional_number("minChargingRate"),
    )


def parse_profile_201(reader: PayloadReader) -> ChargingProfile:
    """Read an OCPP 2.0.1 ``ChargingProfileType``; raise :class:`CallErrorReply` if it is
    malformed. Of its one to three schedules (more are for ISO 15118), the first is used."""
    schedules = reader.objects("chargingSchedule", required=True)
    if not 1 <= len(schedules) <= 3:
        raise CallErrorReply(
            ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, "chargingSchedule must hold 1 to 3 schedules"
        )
    for schedule in schedules:
        schedule.integer("id")
    return ChargingProfile(
        profile_id=reader.integer("id"),
        stack_level=reader.integer("stackLevel"),
        purpose=reader.choice("chargingProfilePurpose", _PURPOSES_201),
        kind=reader.choice("chargingProfileKind", _KINDS),
        schedule=_schedule_of(schedules[0]),
        transaction_id=reader.optional_string("transactionId", 36),
        recurrency=reader.optional_choice("recurrencyKind", tuple(_RECURRENCY)),
        valid_from=reader.optional_timestamp("validFrom"),
        valid_to=reader.optional_timestamp("validTo"),
    )


def _to_watts(limit: float, unit: str, phases: int | None) -> float:
    if unit == "W":
        return limit
    return limit * PHASE_VOLTAGE * (phases or _DEFAULT_PHASES)


def _limit_at(
    installed: InstalledProfile, moment: datetime, transaction_start: datetime | None
) -> float | None:
    """The profile's limit in watts at ``moment``, or ``None`` if it is not in force."""
    profile = installed.profile
    if profile.valid_from is not None and moment < profile.valid_from:
        return None
    if profile.valid_to is not None and moment >= profile.valid_to:
        return None
    schedule = profile.schedule
    if profile.kind == "Relative":
        start = transaction_start if transaction_start is not None else installed.installed_at
    else:
        start = schedule.start if schedule.start is not None else installed.installed_at
    offset = (moment - start).total_seconds()
    if offset < 0:
        return None
    if profile.kind == "Recurring" and profile.recurrency is not None:
        offset %= _RECURRENCY[profile.recurrency]
    if schedule.duration is not None and offset >= schedule.duration:
        return None
    current: Period | None = None
    for period in schedule.periods:
        if period.start <= offset:
            current = period
    if current is None:
        return None
    return _to_watts(current.limit, schedule.unit, current.number_phases)


def _winner(
    candidates: Iterable[InstalledProfile], moment: datetime, transaction_start: datetime | None
) -> float | None:
    for installed in sorted(candidates, key=lambda item: -item.profile.stack_level):
        limit = _limit_at(installed, moment, transaction_start)
        if limit is not None:
            return limit
    return None


def limit_watts(
    profiles: Sequence[InstalledProfile],
    connector_id: int,
    moment: datetime,
    *,
    transaction_id: int | str | None = None,
    transaction_start: datetime | None = None,
) -> float | None:
    """The power limit on a connector at ``moment`` from its profiles, ``None`` if unlimited."""
    tx_profiles = [
        item
        for item in profiles
        if item.profile.purpose == "TxProfile"
        and item.connector_id == connector_id
        and transaction_id is not None
        and item.profile.transaction_id in (None, transaction_id)
    ]
    limit = _winner(tx_profiles, moment, transaction_start)
    if limit is None:
        for scope in (connector_id, 0):
            defaults = [
                item
                for item in profiles
                if item.profile.purpose == "TxDefaultProfile" and item.connector_id == scope
            ]
            limit = _winner(defaults, moment, transaction_start)
            if limit is not None:
                break
    maximum = _winner(
        (item for item in profiles if item.profile.purpose in _MAX_PURPOSES),
        moment,
        transaction_start,
    )
    if maximum is not None:
        limit = maximum if limit is None else min(limit, maximum)
    return limit


def _boundaries(
    profiles: Sequence[InstalledProfile],
    start: datetime,
    end: datetime,
    transaction_start: datetime | None,
) -> list[datetime]:
    """Every moment in [start, end) where some profile's limit may change."""
    moments = {start}
    for installed in profiles:
        profile = installed.profile
        schedule = profile.schedule
        if profile.kind == "Relative":
            base = transaction_start if transaction_start is not None else installed.installed_at
        else:
            base = schedule.start if schedule.start is not None else installed.installed_at
        period_seconds = _RECURRENCY.get(profile.recurrency or "", 0)
        repeats = [0]
        if profile.kind == "Recurring" and period_seconds:
            first = math.floor((start - base).total_seconds() / period_seconds)
            last = math.ceil((end - base).total_seconds() / period_seconds)
            repeats = list(range(max(first, 0), max(last, 0) + 1))
        offsets = [period.start for period in schedule.periods]
        if schedule.duration is not None:
            offsets.append(schedule.duration)
        for repeat in repeats:
            for offset in offsets:
                moments.add(base + timedelta(seconds=repeat * period_seconds + offset))
        moments.update(m for m in (profile.valid_from, profile.valid_to) if m is not None)
    return sorted(moment for moment in moments if start <= moment < end) or [start]


def _round_limit(value: float) -> float | int:
    rounded = round(value, 1)
    return int(rounded) if rounded.is_integer() else rounded


def composite_schedule(
    profiles: Sequence[InstalledProfile],
    connector_id: int,
    now: datetime,
    *,
    duration: int,
    unit: str,
    max_watts: float,
    transaction_id: int | str | None = None,
    transaction_start: datetime | None = None,
) -> dict[str, Any]:
    """GetCompositeSchedule's ``chargingSchedule``: the limits over ``duration`` seconds.

    Where no profile limits the connector, the station's own maximum (``max_watts``) applies.
    Limits are in ``unit`` (``A``: watts over 3 phases at 230 V), rounded to 0.1.
    """
    end = now + timedelta(seconds=max(duration, 0))
    periods: list[dict[str, Any]] = []
    for moment in _boundaries(profiles, now, end, transaction_start):
        watts = limit_watts(
            profiles,
            connector_id,
            moment,
            transaction_id=transaction_id,
            transaction_start=transaction_start,
        )
        watts = max_watts if watts is None else min(watts, max_watts)
        limit = watts if unit == "W" else watts / (PHASE_VOLTAGE * _DEFAULT_PHASES)
        value = _round_limit(limit)
        offset = int((moment - now).total_seconds())
        if periods and periods[-1]["startPeriod"] == offset:
            periods.pop()
        if periods and periods[-1]["limit"] == value:
            continue
        periods.append({"startPeriod": offset, "limit": value})
    return {
        "duration": max(duration, 0),
        "startSchedule": format_datetime(now),
        "chargingRateUnit": unit,
        "chargingSchedulePeriod": periods,
    }

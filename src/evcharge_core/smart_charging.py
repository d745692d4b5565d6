"""OCPP smart charging messages for charging profiles and load-balancing allocations.

Pure functions from domain values to OCPP payloads (camelCase dicts, ready to send and valid
against the ``ocpp`` package's schemas) and back from GetCompositeSchedule answers:

=================================  ===================================================
:func:`ocpp16_charger_profile`     a profile as 1.6 ``SetChargingProfile``
:func:`ocpp201_charger_profile`    a profile as 2.0.1 ``SetChargingProfile``
:func:`ocpp16_tx_profile`          an allocation as a 1.6 TxProfile on a transaction
:func:`ocpp201_tx_profile`         an allocation as a 2.0.1 TxProfile on a transaction
:func:`composite_from_ocpp16`      a 1.6 ``GetCompositeSchedule`` answer, read
:func:`composite_from_ocpp201`     a 2.0.1 ``GetCompositeSchedule`` answer, read
:func:`compare_schedule`           where a station's composite schedule and a profile
                                   disagree
=================================  ===================================================

**Profiles** go out as Recurring profiles (``recurrencyKind`` Daily or Weekly) whose
``startSchedule`` is the start of the current local cycle at the UTC offset in force
(:func:`~evcharge_core.domain.profiles.ocpp_anchor`), so a station counting elapsed seconds
sees every period start when the area's clocks show it. That holds until the zone's next
change of UTC offset: :attr:`ProfileRequest.resend_at` says when to send the profile again.
OCPP wants the first period to start at 0: when a profile's first period starts later, the
schedule opens with a period at 0 carrying the last period's limit (the wrap-around from the
previous cycle).

**Purpose.** :func:`charger_profile_purpose`: the station maximum (1.6
ChargePointMaxProfile on connector 0, 2.0.1 ChargingStationMaxProfile on EVSE 0) when the
charger is its station's only one, so the profile also caps any TxProfile; otherwise
TxDefaultProfile on the charger's connectors (1.6) or EVSE (2.0.1). A TxProfile replaces a
TxDefaultProfile for its transaction, so the balancer itself keeps allocations under the
charger profile (the allocator caps by it and recomputes at each period boundary).

**Allocations** go out as TxProfiles of kind Relative with one period from 0: the limit holds
for the rest of the transaction, needs no clock, and is replaced by the next one with the
same ``chargingProfileId``.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final

import attrs

from .domain.allocation import Allocation
from .domain.profiles import ChargingProfile, RateUnit, limit_segments, ocpp_anchor
from .errors import InvalidInput, Issue

__all__ = [
    "DEFAULT_TOLERANCE",
    "CompositeSchedule",
    "ProfilePurpose",
    "ProfileRequest",
    "ScheduleDifference",
    "SchedulePeriod",
    "charger_profile_purpose",
    "compare_schedule",
    "composite_from_ocpp16",
    "composite_from_ocpp201",
    "format_timestamp",
    "ocpp16_charger_profile",
    "ocpp16_tx_profile",
    "ocpp201_charger_profile",
    "ocpp201_tx_profile",
]

DEFAULT_TOLERANCE: Final = 0.1
"""Differences up to this (in the schedule's unit) are rounding, not disagreement: OCPP
limits carry at most one decimal, and a station converting W to A rounds."""

_INT32_MAX: Final = 2**31 - 1
_OCPP_PHASES: Final = 3  # OCPP assumes three phases where numberPhases is absent


class ProfilePurpose(enum.Enum):
    """What a charger profile is installed as on its station."""

    STATION_MAX = "station_max"
    """1.6 ChargePointMaxProfile (connector 0), 2.0.1 ChargingStationMaxProfile (EVSE 0)."""
    TX_DEFAULT = "tx_default"
    """TxDefaultProfile: the default for every transaction on a connector or EVSE."""

    @property
    def ocpp16(self) -> str:
        return "ChargePointMaxProfile" if self is ProfilePurpose.STATION_MAX else "TxDefaultProfile"

    @property
    def ocpp201(self) -> str:
        if self is ProfilePurpose.STATION_MAX:
            return "ChargingStationMaxProfile"
        return "TxDefaultProfile"


def charger_profile_purpose(chargers_on_station: int) -> ProfilePurpose:
    """The purpose a charger's profile is sent with (see the module docstring)."""
    return ProfilePurpose.STATION_MAX if chargers_on_station == 1 else ProfilePurpose.TX_DEFAULT


@attrs.frozen
class ProfileRequest:
    """A ``SetChargingProfile`` payload, and when it must be sent again (the zone's next
    change of UTC offset; ``None``: not within a year)."""

    payload: Mapping[str, Any]
    resend_at: datetime | None


def format_timestamp(moment: datetime) -> str:
    """An OCPP date-time: UTC, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_id(name: str, value: int, low: int = 0) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if not low <= value <= _INT32_MAX:
        raise ValueError(f"{name} must be between {low} and {_INT32_MAX}, got {value}")


def _periods(profile: ChargingProfile) -> list[dict[str, Any]]:
    periods = list(profile.periods)
    if periods[0].start_s > 0:
        periods.insert(0, attrs.evolve(periods[-1], start_s=0))
    result: list[dict[str, Any]] = []
    for period in periods:
        item: dict[str, Any] = {"startPeriod": period.start_s, "limit": period.limit}
        if period.number_phases is not None:
            item["numberPhases"] = period.number_phases
        result.append(item)
    return result


def _recurring_profile(
    profile: ChargingProfile, zone: tzinfo, now: datetime
) -> tuple[dict[str, Any], datetime | None]:
    anchor = ocpp_anchor(profile.recurrence, zone, now)
    schedule = {
        "startSchedule": format_timestamp(anchor.start_schedule),
        "chargingRateUnit": profile.unit.value,
        "chargingSchedulePeriod": _periods(profile),
    }
    return schedule, anchor.valid_until


def ocpp16_charger_profile(
    profile: ChargingProfile,
    zone: tzinfo,
    now: datetime,
    *,
    profile_id: int,
    stack_level: int,
    purpose: ProfilePurpose,
    connector_id: int = 0,
) -> ProfileRequest:
    """The OCPP 1.6 ``SetChargingProfile`` request installing ``profile`` at ``now``.

    ``connector_id`` must be 0 for the station maximum; for TxDefaultProfile, 0 means every
    connector. Use one ``profile_id`` per (station, connector, purpose) and keep it, so that
    sending again replaces the profile rather than adding one.
    """
    _check_id("profile_id", profile_id, 1)
    _check_id("stack_level", stack_level)
    _check_id("connector_id", connector_id)
    if purpose is ProfilePurpose.STATION_MAX and connector_id != 0:
        raise ValueError("a ChargePointMaxProfile is set on connector 0")
    schedule, resend_at = _recurring_profile(profile, zone, now)
    payload = {
        "connectorId": connector_id,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": purpose.ocpp16,
            "chargingProfileKind": "Recurring",
            "recurrencyKind": profile.recurrence.value,
            "chargingSchedule": schedule,
        },
    }
    return ProfileRequest(payload, resend_at)


def ocpp201_charger_profile(
    profile: ChargingProfile,
    zone: tzinfo,
    now: datetime,
    *,
    profile_id: int,
    stack_level: int,
    purpose: ProfilePurpose,
    evse_id: int = 0,
    schedule_id: int | None = None,
) -> ProfileRequest:
    """The OCPP 2.0.1 ``SetChargingProfile`` request installing ``profile`` at ``now``.

    ``evse_id`` must be 0 for the station maximum; for TxDefaultProfile, 0 means every EVSE.
    ``schedule_id`` (the schedule's own id) defaults to ``profile_id``.
    """
    _check_id("profile_id", profile_id, 1)
    _check_id("stack_level", stack_level)
    _check_id("evse_id", evse_id)
    if purpose is ProfilePurpose.STATION_MAX and evse_id != 0:
        raise ValueError("a ChargingStationMaxProfile is set on EVSE 0")
    schedule, resend_at = _recurring_profile(profile, zone, now)
    schedule_id = profile_id if schedule_id is None else schedule_id
    _check_id("schedule_id", schedule_id)
    payload = {
        "evseId": evse_id,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": purpose.ocpp201,
            "chargingProfileKind": "Recurring",
            "recurrencyKind": profile.recurrence.value,
            "chargingSchedule": [{"id": schedule_id, **schedule}],
        },
    }
    return ProfileRequest(payload, resend_at)


def _tx_period(allocation: Allocation) -> dict[str, Any]:
    period: dict[str, Any] = {"startPeriod": 0, "limit": allocation.limit}
    if allocation.unit is RateUnit.AMPERES:
        period["numberPhases"] = allocation.phases
    return period


def ocpp16_tx_profile(
    allocation: Allocation,
    *,
    connector_id: int,
    transaction_id: int,
    profile_id: int,
    stack_level: int,
) -> dict[str, Any]:
    """The OCPP 1.6 ``SetChargingProfile`` request that puts ``allocation`` in force on a
    transaction (a paused allocation is a limit of 0)."""
    _check_id("connector_id", connector_id, 1)
    _check_id("transaction_id", transaction_id, -(2**31))
    _check_id("profile_id", profile_id, 1)
    _check_id("stack_level", stack_level)
    return {
        "connectorId": connector_id,
        "csChargingProfiles": {
            "chargingProfileId": profile_id,
            "transactionId": transaction_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "chargingSchedule": {
                "chargingRateUnit": allocation.unit.value,
                "chargingSchedulePeriod": [_tx_period(allocation)],
            },
        },
    }


def ocpp201_tx_profile(
    allocation: Allocation,
    *,
    evse_id: int,
    transaction_id: str,
    profile_id: int,
    stack_level: int,
    schedule_id: int | None = None,
) -> dict[str, Any]:
    """The OCPP 2.0.1 ``SetChargingProfile`` request that puts ``allocation`` in force on a
    transaction (its ``transactionId``, at most 36 characters)."""
    _check_id("evse_id", evse_id, 1)
    _check_id("profile_id", profile_id, 1)
    _check_id("stack_level", stack_level)
    if not 1 <= len(transaction_id) <= 36:
        raise ValueError("a 2.0.1 transactionId has 1 to 36 characters")
    schedule_id = profile_id if schedule_id is None else schedule_id
    _check_id("schedule_id", schedule_id)
    return {
        "evseId": evse_id,
        "chargingProfile": {
            "id": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": "TxProfile",
            "chargingProfileKind": "Relative",
            "transactionId": transaction_id,
            "chargingSchedule": [
                {
                    "id": schedule_id,
                    "chargingRateUnit": allocation.unit.value,
                    "chargingSchedulePeriod": [_tx_period(allocation)],
                }
            ],
        },
    }


# --- GetCompositeSchedule --------------------------------------------------------------------


@attrs.frozen
class SchedulePeriod:
    """A composite schedule period: from ``start_s`` seconds after the schedule's start."""

    start_s: int
    limit: float
    number_phases: int | None = None


@attrs.frozen
class CompositeSchedule:
    """A station's composite schedule, whatever the protocol: the limits from ``start`` for
    ``duration_s`` seconds."""

    start: datetime
    duration_s: int
    unit: RateUnit
    periods: tuple[SchedulePeriod, ...]

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.duration_s)

    def limit_at(self, at: datetime) -> float | None:
        """The reported limit at ``at``; ``None`` outside the schedule or before its first
        period."""
        offset = (at - self.start).total_seconds()
        if not 0 <= offset < self.duration_s:
            return None
        limit: float | None = None
        for period in self.periods:
            if period.start_s <= offset:
                limit = period.limit
        return limit


@attrs.frozen
class ScheduleDifference:
    """Over ``[start, end)`` the profile says ``expected`` (in the schedule's unit) and the
    station ``reported`` (``None``: no limit reported)."""

    start: datetime
    end: datetime
    expected: float
    reported: float | None


class _Reader:
    """Typed access to a decoded answer, collecting located issues."""

    def __init__(self) -> None:
        self.issues: list[Issue] = []

    def fail(self, field: str, message: str) -> None:
        self.issues.append(Issue(message, field=field))

    def mapping(self, obj: object, field: str) -> Mapping[str, Any] | None:
        if isinstance(obj, Mapping):
            return obj
        self.fail(field, "missing" if obj is None else "must be an object")
        return None

    def integer(self, obj: object, field: str) -> int | None:
        if isinstance(obj, int) and not isinstance(obj, bool):
            return obj
        self.fail(field, "missing" if obj is None else "must be an integer")
        return None

    def number(self, obj: object, field: str) -> float | None:
        if isinstance(obj, int | float) and not isinstance(obj, bool) and math.isfinite(obj):
            return float(obj)
        self.fail(field, "missing" if obj is None else "must be a number")
        return None

    def timestamp(self, obj: object, field: str) -> datetime | None:
        if isinstance(obj, str):
            try:
                moment = datetime.fromisoformat(obj)
            except ValueError:
                pass
            else:
                if moment.utcoffset() is not None:
                    return moment.astimezone(UTC)
        self.fail(field, "missing" if obj is None else "must be an ISO 8601 date-time with offset")
        return None

    def unit(self, obj: object, field: str) -> RateUnit | None:
        if obj in ("A", "W"):
            return RateUnit(obj)
        self.fail(field, 'must be "A" or "W"')
        return None

    def periods(self, obj: object, field: str) -> tuple[SchedulePeriod, ...] | None:
        if not isinstance(obj, Sequence) or isinstance(obj, str) or not obj:
            self.fail(field, "must be a non-empty list")
            return None
        periods: list[SchedulePeriod] = []
        for index, item in enumerate(obj):
            where = f"{field}[{index}]"
            period = self.mapping(item, where)
            if period is None:
                continue
            start = self.integer(period.get("startPeriod"), f"{where}.startPeriod")
            limit = self.number(period.get("limit"), f"{where}.limit")
            phases = period.get("numberPhases")
            if phases is not None:
                phases = self.integer(phases, f"{where}.numberPhases")
            if start is not None and limit is not None:
                periods.append(SchedulePeriod(start, limit, phases))
        return tuple(sorted(periods, key=lambda period: period.start_s))

    def done(self, schedule: CompositeSchedule | None) -> CompositeSchedule:
        if self.issues or schedule is None:
            raise InvalidInput(self.issues or [Issue("no schedule")])
        return schedule


def _accepted(answer: object, reader: _Reader) -> Mapping[str, Any] | None:
    root = reader.mapping(answer, "answer")
    if root is None:
        return None
    if root.get("status") != "Accepted":
        reader.fail("status", f"the station answered {root.get('status')!r}, not Accepted")
        return None
    return root


def composite_from_ocpp16(answer: object, *, duration_s: int | None = None) -> CompositeSchedule:
    """Read a 1.6 ``GetCompositeSchedule`` answer (``status``, ``scheduleStart``,
    ``chargingSchedule``). Periods count from ``chargingSchedule.startSchedule`` if given,
    else from ``scheduleStart``; without a ``duration`` in the answer, pass the requested
    one. Raises :class:`~evcharge_core.errors.InvalidInput` naming the fields at fault."""
    reader = _Reader()
    root = _accepted(answer, reader)
    if root is None:
        return reader.done(None)
    schedule = reader.mapping(root.get("chargingSchedule"), "chargingSchedule")
    if schedule is None:
        return reader.done(None)
    raw_start = schedule.get("startSchedule")
    start = (
        reader.timestamp(raw_start, "chargingSchedule.startSchedule")
        if raw_start is not None
        else reader.timestamp(root.get("scheduleStart"), "scheduleStart")
    )
    raw_duration = schedule.get("duration", duration_s)
    duration = reader.integer(raw_duration, "chargingSchedule.duration")
    unit = reader.unit(schedule.get("chargingRateUnit"), "chargingSchedule.chargingRateUnit")
    periods = reader.periods(
        schedule.get("chargingSchedulePeriod"), "chargingSchedule.chargingSchedulePeriod"
    )
    if start is None or duration is None or unit is None or periods is None:
        return reader.done(None)
    return reader.done(CompositeSchedule(start, duration, unit, periods))


def composite_from_ocpp201(answer: object) -> CompositeSchedule:
    """Read a 2.0.1 ``GetCompositeSchedule`` answer (``status``, ``schedule`` with
    ``scheduleStart``, ``duration``, ``chargingRateUnit``, ``chargingSchedulePeriod``)."""
    reader = _Reader()
    root = _accepted(answer, reader)
    if root is None:
        return reader.done(None)
    schedule = reader.mapping(root.get("schedule"), "schedule")
    if schedule is None:
        return reader.done(None)
    start = reader.timestamp(schedule.get("scheduleStart"), "schedule.scheduleStart")
    duration = reader.integer(schedule.get("duration"), "schedule.duration")
    unit = reader.unit(schedule.get("chargingRateUnit"), "schedule.chargingRateUnit")
    periods = reader.periods(
        schedule.get("chargingSchedulePeriod"), "schedule.chargingSchedulePeriod"
    )
    if start is None or duration is None or unit is None or periods is None:
        return reader.done(None)
    return reader.done(CompositeSchedule(start, duration, unit, periods))


def _convert(
    value: float, source: RateUnit, target: RateUnit, phases: int, voltage: int | None
) -> float:
    if source is target:
        return float(value)
    if voltage is None:
        raise InvalidInput(
            [
                Issue(
                    f"the schedule is in {target.value} and the profile in {source.value}; "
                    "give the phase voltage to convert",
                    field="chargingRateUnit",
                )
            ]
        )
    if target is RateUnit.WATTS:
        return value * voltage * phases
    return value / (voltage * phases)


def compare_schedule(
    profile: ChargingProfile,
    zone: tzinfo,
    schedule: CompositeSchedule,
    *,
    phase_voltage: int | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[ScheduleDifference, ...]:
    """Where, over the schedule's window, the station's composite schedule differs from the
    profile's limits by more than ``tolerance``. Empty: they agree.

    Values are compared in the schedule's unit; if it differs from the profile's, limits are
    converted with ``phase_voltage`` and the period's phase count (3 if unsaid, as OCPP
    assumes). A composite schedule is the minimum of every profile on the station, so a
    station also running a TxProfile or its own hardware limit shows them as differences.
    """
    end = schedule.end
    expected = limit_segments(profile, zone, schedule.start, end)
    moments = {segment.start for segment in expected}
    moments.update(
        schedule.start + timedelta(seconds=period.start_s)
        for period in schedule.periods
        if 0 <= period.start_s < schedule.duration_s
    )
    ordered = sorted(moments)
    differences: list[ScheduleDifference] = []
    segment_index = 0
    for index, moment in enumerate(ordered):
        stop = ordered[index + 1] if index + 1 < len(ordered) else end
        while segment_index + 1 < len(expected) and expected[segment_index + 1].start <= moment:
            segment_index += 1
        period = expected[segment_index].period
        want = _convert(
            period.limit,
            profile.unit,
            schedule.unit,
            period.number_phases or _OCPP_PHASES,
            phase_voltage,
        )
        got = schedule.limit_at(moment)
        if got is not None and abs(got - want) <= tolerance:
            continue
        last = differences[-1] if differences else None
        if (
            last is not None
            and last.end == moment
            and (last.expected, last.reported)
            == (
                want,
                got,
            )
        ):
            differences[-1] = attrs.evolve(last, end=stop)
        else:
            differences.append(ScheduleDifference(moment, stop, want, got))
    return tuple(differences)

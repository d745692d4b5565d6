"""Charging profiles: a fixed schedule of limits that repeats every day or every week.

A :class:`ChargingProfile` ("20 kW at night, 10 kW by day") has a unit (W or A), a
:class:`Recurrence`, and periods that each start at a wall-clock time of the area's time
zone and hold until the next one starts. The limit at any instant is a pure function of the
profile, the instant and the zone (:func:`limit_at`).

**Time zones.** Every function here takes the zone as a :class:`datetime.tzinfo`, normally
``zoneinfo.ZoneInfo(area.time_zone)`` built by the caller. Looking a zone up reads the IANA
database from disk (or the ``tzdata`` package), which is I/O, so it happens at the edges;
given the ``tzinfo``, everything here is a pure function of (instant, zone). Tests may pass
any ``tzinfo``, fixed offsets included.

**Wall-clock semantics.** A period starting at 22:00 starts whenever the area's clocks show
22:00, so the limit depends only on the local wall time (and, for weekly profiles, the local
weekday). Around daylight-saving changes this means:

- spring forward (02:00 -> 03:00): a period starting inside the skipped hour starts at the
  transition itself (the first instant whose wall time is at or past its start);
- fall back (03:00 -> 02:00): the repeated hour is lived twice, so a period starting at 02:30
  starts twice, and the one before it is in force again for the half hour in between.

**Periods** are kept sorted by start. The list need not start at 0: before the first start
of a day (or week), the last period of the previous day (week) is still in force, as a
schedule that wraps around.

**OCPP.** A station runs a Recurring profile by elapsed seconds from its ``startSchedule``;
it knows nothing of time zones. :func:`ocpp_anchor` gives the ``startSchedule`` that makes a
station's schedule agree with :func:`limit_at` from now until the zone's next change of UTC
offset, and that instant, at which the profile must be sent again.
"""

from __future__ import annotations

import enum
import math
import re
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Final, TypeVar

import attrs

from ..errors import InvalidInput, Issue

__all__ = [
    "DAY_S",
    "MAX_LIMIT",
    "MAX_PERIODS",
    "PROFILE_FIELDS",
    "WEEK_S",
    "ChargingProfile",
    "LimitSegment",
    "OcppAnchor",
    "ProfileLimit",
    "ProfilePeriod",
    "RateUnit",
    "Recurrence",
    "format_start",
    "limit_at",
    "limit_segments",
    "local_offset_s",
    "next_limit_change",
    "next_offset_change",
    "ocpp_anchor",
    "offset_changes",
    "parse_profile",
    "parse_start",
    "period_at",
    "profile_limit_at",
]

DAY_S: Final = 86_400
WEEK_S: Final = 7 * DAY_S

MAX_PERIODS: Final = 1024
"""At most this many periods per profile: OCPP 2.0.1's schema limit for one schedule. A
station may accept fewer (its ``ChargingScheduleMaxPeriods``); that is checked when the
profile is sent, not here."""

MAX_LIMIT: Final = {"A": 5_000, "W": 10_000_000}
"""The largest limit accepted per unit: 5 000 A per phase, 10 MW. Whole numbers only."""

PROFILE_FIELDS: Final = ("name", "unit", "recurrence", "periods")
"""The fields of a profile object (:func:`parse_profile`)."""

_PERIOD_FIELDS: Final = ("start", "limit", "number_phases")
_WEEKDAYS: Final = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_WEEKDAY_NAMES: Final = (
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
)
_START_RE: Final = re.compile(
    r"(?:(?P<day>[A-Za-z]+)\s+)?(?P<h>\d{1,2}):(?P<m>\d{2})(?::(?P<s>\d{2}))?"
)
_E = TypeVar("_E", bound=enum.Enum)
_OFFSET_PROBE_S: Final = 3600
"""Step used to look for changes of a zone's UTC offset (then narrowed to the second). No
zone in the IANA database changes its offset twice within an hour."""


class RateUnit(enum.Enum):
    """The unit of a limit, as OCPP's ``chargingRateUnit`` spells it."""

    AMPERES = "A"
    """Amperes per phase."""
    WATTS = "W"


class Recurrence(enum.Enum):
    """How often a profile's periods repeat, as OCPP's ``recurrencyKind`` spells it."""

    DAILY = "Daily"
    """Every local day, from midnight."""
    WEEKLY = "Weekly"
    """Every local week, from Monday midnight."""

    @property
    def cycle_s(self) -> int:
        """The length of one cycle in wall-clock seconds (a DST day is still 24 h of wall
        time)."""
        return DAY_S if self is Recurrence.DAILY else WEEK_S


# --- value objects ---------------------------------------------------------------------------


def _phases(_inst: object, _attr: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and (isinstance(value, bool) or value not in (1, 2, 3)):
        raise ValueError(f"number_phases must be 1, 2 or 3, got {value!r}")


def _whole(_inst: object, _attr: attrs.Attribute[int], value: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{_attr.name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{_attr.name} must not be negative, got {value}")


@attrs.frozen
class ProfilePeriod:
    """From ``start_s`` wall-clock seconds after the start of the cycle (local midnight, or
    Monday midnight for a weekly profile) until the next period, at most ``limit``."""

    start_s: int = attrs.field(validator=_whole)
    limit: int = attrs.field(validator=_whole)
    """In the profile's unit: whole amperes per phase, or whole watts."""
    number_phases: int | None = attrs.field(default=None, validator=_phases)
    """How many phases the station may use (OCPP ``numberPhases``); ``None``: unsaid, which
    OCPP reads as 3."""


def _sorted_periods(value: Iterable[ProfilePeriod]) -> tuple[ProfilePeriod, ...]:
    return tuple(sorted(value, key=lambda period: period.start_s))


@attrs.frozen
class ChargingProfile:
    """A named schedule of limits, assigned to chargers (see the module docstring).

    Constructing one checks it (every rule of :func:`parse_profile`) and raises
    :class:`~evcharge_core.errors.InvalidInput` listing every problem. Periods are stored
    sorted by start, so two profiles that differ only in the order their periods were given
    are equal.
    """

    id: str
    name: str
    unit: RateUnit
    recurrence: Recurrence
    periods: tuple[ProfilePeriod, ...] = attrs.field(converter=_sorted_periods)

    def __attrs_post_init__(self) -> None:
        issues = _check(self.name, self.unit, self.recurrence, self.periods)
        if issues:
            raise InvalidInput(issues)

    def limit_at(self, at: datetime, zone: tzinfo) -> int:
        """Shorthand for :func:`limit_at`."""
        return limit_at(self, at, zone)


def _check(
    name: str, unit: RateUnit, recurrence: Recurrence, periods: Sequence[ProfilePeriod]
) -> list[Issue]:
    """Every broken rule of an already typed profile (periods sorted by start)."""
    return _check_name(name) + _check_periods(unit, recurrence, periods)


def _check_name(name: str) -> list[Issue]:
    if not name.strip():
        return [Issue("name is missing", field="name")]
    if len(name) > 100:
        return [Issue("name is longer than 100 characters", field="name")]
    return []


def _check_periods(
    unit: RateUnit, recurrence: Recurrence, periods: Sequence[ProfilePeriod]
) -> list[Issue]:
    issues: list[Issue] = []
    if not periods:
        issues.append(Issue("at least one period is needed", field="periods"))
    elif len(periods) > MAX_PERIODS:
        issues.append(Issue(f"at most {MAX_PERIODS} periods are allowed", field="periods"))
    cycle = recurrence.cycle_s
    high = MAX_LIMIT[unit.value]
    for index, period in enumerate(periods):
        where = f"periods[{index}]"
        if period.start_s >= cycle:
            what = "a day" if recurrence is Recurrence.DAILY else "a week"
            issues.append(
                Issue(
                    f"starts {period.start_s} s after the start of the cycle, past {what}",
                    field=f"{where}.start",
                )
            )
        if period.limit > high:
            issues.append(Issue(f"must be at most {high} {unit.value}", field=f"{where}.limit"))
        if index and periods[index - 1].start_s == period.start_s:
            issues.append(
                Issue(
                    f"two periods start at {format_start(recurrence, period.start_s)}",
                    field=f"{where}.start",
                )
            )
    return issues


@attrs.frozen
class ProfileLimit:
    """A limit in force: ``value`` in ``unit``, with the period's phase count if it says."""

    value: int
    unit: RateUnit
    number_phases: int | None = None


@attrs.frozen
class LimitSegment:
    """The period in force over ``[start, end)`` (UTC instants)."""

    start: datetime
    end: datetime
    period: ProfilePeriod

    @property
    def limit(self) -> int:
        return self.period.limit


@attrs.frozen
class OcppAnchor:
    """Where a station's Recurring schedule must start (``start_schedule``, UTC) so that its
    elapsed-seconds schedule matches the wall-clock one, and until when that holds
    (``valid_until``: the zone's next change of UTC offset, ``None`` if none is ahead)."""

    start_schedule: datetime
    valid_until: datetime | None


# --- parsing user input ----------------------------------------------------------------------


def format_start(recurrence: Recurrence, start_s: int) -> str:
    """``07:00`` (daily), ``Mon 07:00`` (weekly); seconds only when not zero."""
    day, rest = divmod(start_s, DAY_S)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else "")
    if recurrence is Recurrence.WEEKLY:
        return f"{_WEEKDAYS[day % 7].capitalize()} {text}"
    return text


def parse_start(recurrence: Recurrence, value: object) -> int:
    """A period's start as seconds into the cycle. Accepts ``"HH:MM"`` or ``"HH:MM:SS"``
    (daily), the same after a weekday (``"Mon 07:00"``, ``"monday 07:00"``; weekly), or a
    whole number of seconds. Raises :class:`ValueError` with an operator-facing message."""
    cycle = recurrence.cycle_s
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(
            'must be a time such as "07:00"'
            + (' with a weekday ("Mon 07:00")' if recurrence is Recurrence.WEEKLY else "")
            + " or a whole number of seconds"
        )
    if isinstance(value, int):
        if not 0 <= value < cycle:
            raise ValueError(f"must be between 0 and {cycle - 1} seconds, got {value}")
        return value
    match = _START_RE.fullmatch(value.strip())
    if match is None:
        example = '"Mon 07:00"' if recurrence is Recurrence.WEEKLY else '"07:00"'
        raise ValueError(f"{value!r} is not a start time such as {example}")
    hours, minutes = int(match["h"]), int(match["m"])
    seconds = int(match["s"] or 0)
    if hours > 23 or minutes > 59 or seconds > 59:
        raise ValueError(f"{value!r} is not a time of day (00:00 to 23:59:59)")
    day_name = match["day"]
    if recurrence is Recurrence.DAILY:
        if day_name is not None:
            raise ValueError(f"{value!r} names a weekday, but the profile repeats daily")
        day = 0
    else:
        if day_name is None:
            raise ValueError(f'{value!r} needs a weekday for a weekly profile ("Mon 07:00")')
        lowered = day_name.lower()
        if lowered in _WEEKDAYS:
            day = _WEEKDAYS.index(lowered)
        elif lowered in _WEEKDAY_NAMES:
            day = _WEEKDAY_NAMES.index(lowered)
        else:
            raise ValueError(f"{day_name!r} is not a weekday (Mon to Sun)")
    return day * DAY_S + hours * 3600 + minutes * 60 + seconds


def _json_type(value: object) -> str:
    kinds: tuple[tuple[type | tuple[type, ...], str], ...] = (
        (bool, "a boolean"),
        ((int, float), "a number"),
        (str, "a string"),
        (Mapping, "an object"),
        ((list, tuple), "a list"),
    )
    if value is None:
        return "null"
    return next((name for kind, name in kinds if isinstance(value, kind)), type(value).__name__)


def parse_profile(obj: object, *, profile_id: str) -> ChargingProfile:
    """Check a decoded profile object and build the profile, or raise
    :class:`~evcharge_core.errors.InvalidInput` listing every problem, each located by
    ``field`` (``periods[1].limit``)::

        {"name": "Day/night", "unit": "W", "recurrence": "daily",
         "periods": [{"start": "07:00", "limit": 10000},
                     {"start": "22:00", "limit": 20000, "number_phases": 3}]}

    ``unit`` is ``"A"`` or ``"W"``; ``recurrence`` ``"daily"`` or ``"weekly"`` (any case);
    ``start`` as :func:`parse_start` reads it; ``limit`` a whole number from 0 to
    :data:`MAX_LIMIT`; ``number_phases`` optional, 1 to 3. Unknown fields are errors.
    """
    if not isinstance(obj, Mapping):
        raise InvalidInput(f"expected an object with the profile's fields, not {_json_type(obj)}")
    issues: list[Issue] = []
    name = obj.get("name")
    if not isinstance(name, str):
        message = "name is missing" if name is None else f"must be a string, not {_json_type(name)}"
        issues.append(Issue(message, field="name"))
        name = None
    elif name_issues := _check_name(name):
        issues.extend(name_issues)
        name = None
    unit = _enum(obj.get("unit"), RateUnit, "unit", '"A" or "W"', issues)
    recurrence = _enum(
        obj.get("recurrence"), Recurrence, "recurrence", '"daily" or "weekly"', issues
    )
    periods = _periods(obj.get("periods"), recurrence, unit, issues)
    issues.extend(
        Issue(f"unknown field; the fields are {', '.join(PROFILE_FIELDS)}", field=str(key))
        for key in obj
        if key not in PROFILE_FIELDS
    )
    if unit is not None and recurrence is not None and periods is not None:
        # Sorted, as the profile stores them; errors still name each period by its position
        # in the input, so the sort keeps the input index alongside.
        order = sorted(range(len(periods)), key=lambda i: periods[i].start_s)
        checked = _check_periods(unit, recurrence, [periods[i] for i in order])
        issues.extend(_reindex(issue, order) for issue in checked)
    if issues:
        raise InvalidInput(issues)
    assert name is not None
    assert unit is not None
    assert recurrence is not None
    assert periods is not None
    return ChargingProfile(profile_id, name.strip(), unit, recurrence, periods)


def _reindex(issue: Issue, order: Sequence[int]) -> Issue:
    """Rewrite ``periods[k]`` (sorted position) to the period's position in the input."""
    field = issue.field
    if field is None or not field.startswith("periods["):
        return issue
    index, _, rest = field[len("periods[") :].partition("]")
    return attrs.evolve(issue, field=f"periods[{order[int(index)]}]{rest}")


def _enum(
    value: object, kind: type[_E], field: str, expected: str, issues: list[Issue]
) -> _E | None:
    if value is None:
        issues.append(Issue(f"{field} is missing; expected {expected}", field=field))
        return None
    if isinstance(value, str):
        for member in kind:
            if value.strip().lower() == str(member.value).lower():
                return member
    issues.append(Issue(f"{value!r} is not valid; expected {expected}", field=field))
    return None


def _periods(
    value: object,
    recurrence: Recurrence | None,
    unit: RateUnit | None,
    issues: list[Issue],
) -> list[ProfilePeriod] | None:
    if value is None:
        issues.append(Issue("periods are missing; expected a list of periods", field="periods"))
        return None
    if not isinstance(value, list | tuple):
        issues.append(Issue(f"must be a list, not {_json_type(value)}", field="periods"))
        return None
    periods: list[ProfilePeriod] = []
    ok = True
    for index, item in enumerate(value):
        where = f"periods[{index}]"
        if not isinstance(item, Mapping):
            issues.append(Issue(f"must be an object, not {_json_type(item)}", field=where))
            ok = False
            continue
        start: int | None = None
        raw_start = item.get("start")
        if raw_start is None:
            issues.append(Issue("start is missing", field=f"{where}.start"))
        elif recurrence is not None:
            try:
                start = parse_start(recurrence, raw_start)
            except ValueError as error:
                issues.append(Issue(str(error), field=f"{where}.start"))
        limit = _whole_number(item.get("limit"), f"{where}.limit", unit, issues)
        raw_phases = item.get("number_phases")
        phases: int | None = None
        if raw_phases is not None:
            # JSON numbers may arrive as floats: 3.0 is 3, as for limits
            number = isinstance(raw_phases, int | float) and not isinstance(raw_phases, bool)
            if number and raw_phases in (1, 2, 3):
                phases = int(raw_phases)
            if phases is None:
                issues.append(
                    Issue(f"must be 1, 2 or 3, not {raw_phases!r}", field=f"{where}.number_phases")
                )
                ok = False
        issues.extend(
            Issue(
                f"unknown field; the fields are {', '.join(_PERIOD_FIELDS)}",
                field=f"{where}.{key}",
            )
            for key in item
            if key not in _PERIOD_FIELDS
        )
        if start is None or limit is None:
            ok = False
            continue
        periods.append(ProfilePeriod(start, limit, phases))
    return periods if ok else None


def _whole_number(
    value: object, field: str, unit: RateUnit | None, issues: list[Issue]
) -> int | None:
    what = {RateUnit.AMPERES: "amperes", RateUnit.WATTS: "watts", None: "units"}[unit]
    if value is None:
        issues.append(Issue("limit is missing", field=field))
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        issues.append(Issue(f"must be a number, not {_json_type(value)}", field=field))
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        issues.append(Issue(f"must be a whole number of {what}, got {value}", field=field))
        return None
    if value < 0:
        issues.append(Issue(f"must not be negative, got {value}", field=field))
        return None
    return int(value)


# --- the limit at an instant -----------------------------------------------------------------


def _aware(at: datetime) -> None:
    if at.utcoffset() is None:
        raise ValueError("instants must be timezone-aware datetimes")


def local_offset_s(recurrence: Recurrence, at: datetime, zone: tzinfo) -> int:
    """Wall-clock seconds since the start of the local cycle that contains ``at``."""
    _aware(at)
    local = at.astimezone(zone)
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    if recurrence is Recurrence.WEEKLY:
        seconds += local.weekday() * DAY_S
    return seconds


def _period_for(profile: ChargingProfile, offset_s: int) -> ProfilePeriod:
    index = bisect_right(profile.periods, offset_s, key=lambda period: period.start_s) - 1
    return profile.periods[index]  # index -1: the last period wraps around


def period_at(profile: ChargingProfile, at: datetime, zone: tzinfo) -> ProfilePeriod:
    """The period in force at ``at`` (an aware instant) in ``zone``."""
    return _period_for(profile, local_offset_s(profile.recurrence, at, zone))


def limit_at(profile: ChargingProfile, at: datetime, zone: tzinfo) -> int:
    """The profile's limit, in its unit, at ``at`` in ``zone``."""
    return period_at(profile, at, zone).limit


def profile_limit_at(profile: ChargingProfile, at: datetime, zone: tzinfo) -> ProfileLimit:
    """The limit in force at ``at`` with its unit and phase count, as the allocator takes
    it."""
    period = period_at(profile, at, zone)
    return ProfileLimit(period.limit, profile.unit, period.number_phases)


# --- changes over time -----------------------------------------------------------------------


def _offset(zone: tzinfo, at: datetime) -> timedelta:
    offset = at.astimezone(zone).utcoffset()
    assert offset is not None
    return offset


def _offset_at(zone: tzinfo, epoch_s: int) -> timedelta | None:
    return datetime.fromtimestamp(epoch_s, zone).utcoffset()


def offset_changes(zone: tzinfo, start: datetime, end: datetime) -> list[datetime]:
    """Every instant in ``(start, end]`` at which ``zone``'s UTC offset changes (the first
    instant with the new offset), in UTC, to the second."""
    _aware(start)
    _aware(end)
    changes: list[datetime] = []
    low = math.floor(start.timestamp())
    end_s = math.ceil(end.timestamp())
    before = _offset_at(zone, low)
    while low < end_s:
        high = min(low + _OFFSET_PROBE_S, end_s)
        after = _offset_at(zone, high)
        if after != before:
            lo, hi = low, high  # narrow down to the first second with the new offset
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if _offset_at(zone, mid) == before:
                    lo = mid
                else:
                    hi = mid
            moment = datetime.fromtimestamp(hi, UTC)
            if start < moment <= end:
                changes.append(moment)
            before = after
        low = high
    return changes


def next_offset_change(
    zone: tzinfo, after: datetime, horizon: timedelta = timedelta(days=400)
) -> datetime | None:
    """The first instant after ``after`` with a different UTC offset in ``zone``, if one
    comes within ``horizon``."""
    _aware(after)
    # Probe by days first (cheap over a year), then hour by hour inside the day found.
    low = after.astimezone(UTC)
    end = low + horizon
    before = _offset(zone, low)
    while low < end:
        high = min(low + timedelta(days=1), end)
        if _offset(zone, high) != before:
            found = offset_changes(zone, low, high)
            return found[0] if found else high
        low = high
    return None


def _cycle_starts(recurrence: Recurrence, first: date, last: date) -> Iterable[datetime]:
    """Naive local midnights starting a cycle, from the cycle containing ``first`` to the one
    containing ``last``."""
    step = timedelta(days=1 if recurrence is Recurrence.DAILY else 7)
    day = first if recurrence is Recurrence.DAILY else first - timedelta(days=first.weekday())
    while day <= last:
        yield datetime(day.year, day.month, day.day)  # noqa: DTZ001 (naive local wall time)
        day += step


def limit_segments(
    profile: ChargingProfile, zone: tzinfo, start: datetime, end: datetime
) -> tuple[LimitSegment, ...]:
    """The limits in force over ``[start, end)``: consecutive segments, each with a
    different limit or phase count from the one before, covering the window exactly."""
    _aware(start)
    _aware(end)
    start = start.astimezone(UTC)
    end = end.astimezone(UTC)
    if end <= start:
        return ()
    candidates = {start}
    candidates.update(moment for moment in offset_changes(zone, start, end) if moment < end)
    first = start.astimezone(zone).date() - timedelta(days=1)
    last = end.astimezone(zone).date() + timedelta(days=1)
    for cycle in _cycle_starts(profile.recurrence, first, last):
        for period in profile.periods:
            wall = cycle + timedelta(seconds=period.start_s)
            for fold in (0, 1):
                moment = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
                if start < moment < end:
                    candidates.add(moment)
    segments: list[LimitSegment] = []
    for moment in sorted(candidates):
        period = period_at(profile, moment, zone)
        if segments and _same_limit(segments[-1].period, period):
            continue
        if segments:
            segments[-1] = attrs.evolve(segments[-1], end=moment)
        segments.append(LimitSegment(moment, end, period))
    return tuple(segments)


def _same_limit(a: ProfilePeriod, b: ProfilePeriod) -> bool:
    return a.limit == b.limit and a.number_phases == b.number_phases


def next_limit_change(profile: ChargingProfile, zone: tzinfo, after: datetime) -> datetime | None:
    """The first instant after ``after`` at which the limit (or phase count) changes, or
    ``None`` if it never does. A balancer recomputes its allocations then."""
    window = timedelta(seconds=profile.recurrence.cycle_s) + timedelta(days=2)
    segments = limit_segments(profile, zone, after, after + window)
    return segments[1].start if len(segments) > 1 else None


def ocpp_anchor(recurrence: Recurrence, zone: tzinfo, now: datetime) -> OcppAnchor:
    """The ``startSchedule`` for a Recurring OCPP profile sent at ``now``.

    It is the start of the current cycle (local midnight, or Monday midnight) computed with
    the UTC offset in force at ``now``. A station that counts elapsed seconds from it sees
    the period starting ``start_s`` wall-clock seconds into each cycle at exactly the
    instants :func:`limit_at` does, for every instant from ``now`` until ``valid_until``,
    the zone's next change of UTC offset. Send the profile again then.
    """
    _aware(now)
    offset = _offset(zone, now)
    wall = (now.astimezone(UTC) + offset).replace(tzinfo=None)
    cycle = wall.replace(hour=0, minute=0, second=0, microsecond=0)
    if recurrence is Recurrence.WEEKLY:
        cycle -= timedelta(days=cycle.weekday())
    start_schedule = (cycle - offset).replace(tzinfo=UTC)
    return OcppAnchor(start_schedule, next_offset_change(zone, now))

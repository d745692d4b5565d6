"""Charging profiles: validation, the limit at an instant, DST, segments, the OCPP anchor."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

import attrs
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from evcharge_core.domain.profiles import (
    DAY_S,
    MAX_LIMIT,
    WEEK_S,
    ChargingProfile,
    ProfileLimit,
    ProfilePeriod,
    RateUnit,
    Recurrence,
    format_start,
    limit_at,
    limit_segments,
    local_offset_s,
    next_limit_change,
    next_offset_change,
    ocpp_anchor,
    offset_changes,
    parse_profile,
    parse_start,
    period_at,
    profile_limit_at,
)
from evcharge_core.errors import InvalidInput

from .strategies import instants, profiles, zones

BERLIN = ZoneInfo("Europe/Berlin")


def day_night() -> ChargingProfile:
    """The console's example: 20 kW at night (22:00-07:00), 10 kW by day."""
    return parse_profile(
        {
            "name": "Day/night",
            "unit": "W",
            "recurrence": "daily",
            "periods": [{"start": "07:00", "limit": 10_000}, {"start": "22:00", "limit": 20_000}],
        },
        profile_id="day-night",
    )


def berlin(*args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=BERLIN, fold=fold)  # type: ignore[misc]


# --- parsing and validation ------------------------------------------------------------------


def test_parse_reads_the_documented_shape() -> None:
    profile = parse_profile(
        {
            "name": " Weekday caps ",
            "unit": "a",
            "recurrence": "Weekly",
            "periods": [
                {"start": "Sat 00:00", "limit": 32},
                {"start": "monday 07:30:15", "limit": 16, "number_phases": 1},
                {"start": 0, "limit": 20},
            ],
        },
        profile_id="p",
    )
    assert profile.name == "Weekday caps"
    assert profile.unit is RateUnit.AMPERES
    assert profile.recurrence is Recurrence.WEEKLY
    assert profile.periods == (
        ProfilePeriod(0, 20),
        ProfilePeriod(7 * 3600 + 30 * 60 + 15, 16, 1),
        ProfilePeriod(5 * DAY_S, 32),
    )


def test_parse_reads_whole_floats_as_json_numbers_arrive() -> None:
    """A JSON decoder may give 3.0 for 3: a whole float is read as the integer (it once
    tripped an assertion instead: found by the admin API's fuzz test)."""
    profile = parse_profile(
        {
            "name": "p",
            "unit": "W",
            "recurrence": "daily",
            "periods": [{"start": 0, "limit": 7000.0, "number_phases": 3.0}],
        },
        profile_id="p",
    )
    assert profile.periods == (ProfilePeriod(0, 7000, 3),)
    assert isinstance(profile.periods[0].number_phases, int)
    with pytest.raises(InvalidInput) as caught:
        parse_profile(
            {
                "name": "p",
                "unit": "W",
                "recurrence": "daily",
                "periods": [{"start": 0, "limit": 1, "number_phases": 2.5}],
            },
            profile_id="p",
        )
    assert [i.field for i in caught.value.issues] == ["periods[0].number_phases"]


def test_parse_reports_every_problem_with_its_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_profile(
            {
                "name": "  ",
                "unit": "kW",
                "recurrence": "monthly",
                "periods": [
                    {"start": "25:00", "limit": -1},
                    {"start": "07:00", "limit": 1.5, "phases": 3},
                    "08:00",
                ],
                "colour": "red",
            },
            profile_id="p",
        )
    found = {(issue.field, issue.message) for issue in caught.value.issues}
    fields = {field for field, _ in found}
    assert fields == {
        "name",
        "unit",
        "recurrence",
        "periods[0].limit",
        "periods[1].limit",
        "periods[1].phases",
        "periods[2]",
        "colour",
    }
    # Without a valid recurrence, starts cannot be read; with one, they are checked.
    with pytest.raises(InvalidInput) as caught:
        parse_profile(
            {
                "name": "x",
                "unit": "W",
                "recurrence": "daily",
                "periods": [
                    {"start": "25:00", "limit": 1},
                    {"start": "Mon 07:00", "limit": 1},
                    {"limit": 1},
                    {"start": "07:00", "number_phases": 4},
                ],
            },
            profile_id="p",
        )
    assert [issue.field for issue in caught.value.issues] == [
        "periods[0].start",
        "periods[1].start",
        "periods[2].start",
        "periods[3].limit",
        "periods[3].number_phases",
    ]


@pytest.mark.parametrize(
    ("obj", "field", "words"),
    [
        ([], None, "expected an object"),
        (None, None, "not null"),
        (
            {
                "name": "n",
                "unit": "W",
                "recurrence": "daily",
                "periods": [{"start": 0, "limit": "9"}],
            },
            "periods[0].limit",
            "must be a number, not a string",
        ),
        ({"unit": "W", "recurrence": "daily", "periods": []}, "name", "missing"),
        ({"name": 3, "unit": "W", "recurrence": "daily", "periods": []}, "name", "a number"),
        ({"name": "x" * 101, "unit": "W", "recurrence": "daily", "periods": []}, "name", "100"),
        ({"name": "n", "recurrence": "daily", "periods": []}, "unit", "missing"),
        ({"name": "n", "unit": "W", "periods": []}, "recurrence", "missing"),
        ({"name": "n", "unit": "W", "recurrence": "daily"}, "periods", "missing"),
        ({"name": "n", "unit": "W", "recurrence": "daily", "periods": {}}, "periods", "a list"),
        ({"name": "n", "unit": "W", "recurrence": "daily", "periods": []}, "periods", "at least"),
    ],
)
def test_parse_errors(obj: object, field: str | None, words: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_profile(obj, profile_id="p")
    issues = [issue for issue in caught.value.issues if issue.field == field]
    assert issues, caught.value.issues
    assert words in issues[0].message


def test_duplicate_starts_and_limits_are_named_by_their_input_position() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_profile(
            {
                "name": "n",
                "unit": "A",
                "recurrence": "weekly",
                "periods": [
                    {"start": "Tue 08:00", "limit": 10},
                    {"start": "Mon 07:00", "limit": 6_000},
                    {"start": "mon 07:00", "limit": 16},
                ],
            },
            profile_id="p",
        )
    assert [(i.field, i.message) for i in caught.value.issues] == [
        ("periods[1].limit", f"must be at most {MAX_LIMIT['A']} A"),
        ("periods[2].start", "two periods start at Mon 07:00"),
    ]


def test_too_many_periods_and_starts_past_the_cycle() -> None:
    too_many = [ProfilePeriod(i, 1) for i in range(1025)]
    with pytest.raises(InvalidInput, match="at most 1024"):
        ChargingProfile("p", "n", RateUnit.WATTS, Recurrence.DAILY, too_many)
    with pytest.raises(InvalidInput, match="past a day"):
        ChargingProfile("p", "n", RateUnit.WATTS, Recurrence.DAILY, [ProfilePeriod(DAY_S, 1)])
    with pytest.raises(InvalidInput, match="past a week"):
        ChargingProfile("p", "n", RateUnit.WATTS, Recurrence.WEEKLY, [ProfilePeriod(WEEK_S, 1)])
    with pytest.raises(ValueError, match="number_phases"):
        ProfilePeriod(0, 1, 4)
    with pytest.raises(ValueError, match="negative"):
        ProfilePeriod(-1, 1)
    with pytest.raises(TypeError, match="whole number"):
        ProfilePeriod(0, 1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("recurrence", "text", "seconds"),
    [
        (Recurrence.DAILY, "00:00", 0),
        (Recurrence.DAILY, "7:05", 7 * 3600 + 300),
        (Recurrence.DAILY, "23:59:59", DAY_S - 1),
        (Recurrence.DAILY, 3600, 3600),
        (Recurrence.WEEKLY, "Sun 23:00", 6 * DAY_S + 23 * 3600),
        (Recurrence.WEEKLY, "WEDNESDAY 12:00", 2 * DAY_S + 12 * 3600),
    ],
)
def test_parse_start(recurrence: Recurrence, text: str | int, seconds: int) -> None:
    assert parse_start(recurrence, text) == seconds


@pytest.mark.parametrize(
    ("recurrence", "value", "words"),
    [
        (Recurrence.DAILY, "24:00", "not a time of day"),
        (Recurrence.DAILY, "7h", "not a start time"),
        (Recurrence.DAILY, "Mon 07:00", "repeats daily"),
        (Recurrence.WEEKLY, "07:00", "needs a weekday"),
        (Recurrence.WEEKLY, "Funday 07:00", "not a weekday"),
        (Recurrence.DAILY, DAY_S, "between 0 and 86399"),
        (Recurrence.DAILY, 7.5, "whole number of seconds"),
        (Recurrence.WEEKLY, True, "with a weekday"),
    ],
)
def test_parse_start_errors(recurrence: Recurrence, value: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_start(recurrence, value)


@given(st.sampled_from(Recurrence), st.data())
def test_format_start_round_trips(recurrence: Recurrence, data: st.DataObject) -> None:
    seconds = data.draw(st.integers(0, recurrence.cycle_s - 1))
    assert parse_start(recurrence, format_start(recurrence, seconds)) == seconds


@given(profiles())
def test_a_profile_round_trips_through_its_input_shape(profile: ChargingProfile) -> None:
    obj = {
        "name": profile.name,
        "unit": profile.unit.value,
        "recurrence": profile.recurrence.value.lower(),
        "periods": [
            {"start": format_start(profile.recurrence, p.start_s), "limit": p.limit}
            | ({} if p.number_phases is None else {"number_phases": p.number_phases})
            for p in profile.periods
        ],
    }
    assert parse_profile(obj, profile_id=profile.id) == attrs.evolve(
        profile, name=profile.name.strip()
    )


@given(profiles(), st.randoms(use_true_random=False))
def test_period_order_does_not_matter(profile: ChargingProfile, rnd: random.Random) -> None:
    shuffled = list(profile.periods)
    rnd.shuffle(shuffled)
    again = ChargingProfile(profile.id, profile.name, profile.unit, profile.recurrence, shuffled)
    assert again == profile
    assert list(again.periods) == sorted(shuffled, key=lambda p: p.start_s)


# --- the limit at an instant -----------------------------------------------------------------


def test_day_night_in_berlin() -> None:
    profile = day_night()
    assert profile.limit_at(berlin(2026, 6, 1, 6, 59, 59), BERLIN) == 20_000
    assert profile.limit_at(berlin(2026, 6, 1, 7, 0), BERLIN) == 10_000
    assert profile.limit_at(berlin(2026, 6, 1, 21, 59, 59), BERLIN) == 10_000
    assert profile.limit_at(berlin(2026, 6, 1, 22, 0), BERLIN) == 20_000
    # The same instant seen from UTC: 22:00 CEST is 20:00 UTC.
    assert limit_at(profile, datetime(2026, 6, 1, 20, 0, tzinfo=UTC), BERLIN) == 20_000
    assert limit_at(profile, datetime(2026, 6, 1, 19, 59, tzinfo=UTC), BERLIN) == 10_000
    assert profile_limit_at(profile, berlin(2026, 6, 1, 12), BERLIN) == ProfileLimit(
        10_000, RateUnit.WATTS
    )


def test_a_period_list_not_starting_at_zero_wraps_around() -> None:
    profile = day_night()
    # Just after midnight, before 07:00: the 22:00 period from the day before.
    assert profile.limit_at(berlin(2026, 6, 2, 0, 0), BERLIN) == 20_000
    weekly = ChargingProfile(
        "w",
        "weekend boost",
        RateUnit.AMPERES,
        Recurrence.WEEKLY,
        [ProfilePeriod(4 * DAY_S + 18 * 3600, 32), ProfilePeriod(6 * DAY_S + 20 * 3600, 16)],
    )
    # Monday morning is still in Sunday 20:00's period, Friday 18:00 starts the boost.
    assert weekly.limit_at(berlin(2026, 6, 1, 6), BERLIN) == 16  # a Monday
    assert weekly.limit_at(berlin(2026, 6, 5, 17, 59), BERLIN) == 16  # Friday
    assert weekly.limit_at(berlin(2026, 6, 5, 18), BERLIN) == 32
    assert weekly.limit_at(berlin(2026, 6, 7, 19, 59), BERLIN) == 32  # Sunday
    assert weekly.limit_at(berlin(2026, 6, 7, 20), BERLIN) == 16


def test_spring_forward_starts_a_skipped_period_at_the_transition() -> None:
    # 2026-03-29 in Berlin: 02:00 CET -> 03:00 CEST, at 01:00 UTC.
    profile = ChargingProfile(
        "p",
        "n",
        RateUnit.AMPERES,
        Recurrence.DAILY,
        [ProfilePeriod(0, 10), ProfilePeriod(2 * 3600 + 1800, 20), ProfilePeriod(5 * 3600, 30)],
    )
    transition = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)
    assert profile.limit_at(transition - timedelta(seconds=1), BERLIN) == 10
    assert profile.limit_at(transition, BERLIN) == 20
    segments = limit_segments(profile, BERLIN, berlin(2026, 3, 29, 0), berlin(2026, 3, 29, 6))
    assert [(s.start, s.limit) for s in segments] == [
        (berlin(2026, 3, 29, 0), 10),
        (transition, 20),
        (berlin(2026, 3, 29, 5), 30),
    ]
    # The day has 23 hours: the 05:00 period starts 4 hours after midnight.
    assert segments[2].start - segments[0].start == timedelta(hours=4)


def test_fall_back_lives_the_repeated_hour_twice() -> None:
    # 2026-10-25 in Berlin: 03:00 CEST -> 02:00 CET, at 01:00 UTC.
    profile = ChargingProfile(
        "p",
        "n",
        RateUnit.AMPERES,
        Recurrence.DAILY,
        [ProfilePeriod(0, 10), ProfilePeriod(2 * 3600 + 1800, 20)],
    )
    segments = limit_segments(profile, BERLIN, berlin(2026, 10, 25, 0), berlin(2026, 10, 25, 4))
    assert [(s.start.astimezone(UTC).strftime("%H:%M"), s.limit) for s in segments] == [
        ("22:00", 10),  # 00:00 CEST
        ("00:30", 20),  # 02:30 CEST
        ("01:00", 10),  # back to 02:00 CET
        ("01:30", 20),  # 02:30 CET
    ]
    assert profile.limit_at(berlin(2026, 10, 25, 2, 15, fold=0), BERLIN) == 10
    assert profile.limit_at(berlin(2026, 10, 25, 2, 45, fold=0), BERLIN) == 20
    assert profile.limit_at(berlin(2026, 10, 25, 2, 15, fold=1), BERLIN) == 10
    assert profile.limit_at(berlin(2026, 10, 25, 2, 45, fold=1), BERLIN) == 20


def test_instants_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        limit_at(day_night(), datetime(2026, 1, 1), BERLIN)


@given(profiles(), zones, instants)
def test_the_limit_is_always_one_of_the_periods(
    profile: ChargingProfile, zone: tzinfo, at: datetime
) -> None:
    period = period_at(profile, at, zone)
    assert period in profile.periods
    assert limit_at(profile, at, zone) == period.limit
    # ... the latest period started by the local wall time, or the last one (wrap-around).
    offset = local_offset_s(profile.recurrence, at, zone)
    started = [p for p in profile.periods if p.start_s <= offset]
    assert period == (started[-1] if started else profile.periods[-1])


@given(profiles(), zones, instants, st.integers(-3, 3))
@example(day_night(), BERLIN, datetime(2026, 3, 28, 1, 30, tzinfo=UTC), 1)
def test_shifting_by_whole_cycles_of_wall_time_keeps_the_limit(
    profile: ChargingProfile, zone: tzinfo, at: datetime, cycles: int
) -> None:
    local = at.astimezone(zone)
    wall = local.replace(tzinfo=None) + timedelta(seconds=cycles * profile.recurrence.cycle_s)
    shifted = wall.replace(tzinfo=zone, fold=local.fold)
    # Skip wall times that do not exist (spring forward) on the shifted day.
    assume(shifted.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == wall)
    assert limit_at(profile, shifted, zone) == limit_at(profile, at, zone)


@given(profiles(), instants, st.integers(-5, 5), st.integers(-12 * 60, 14 * 60))
def test_in_a_fixed_offset_zone_the_limit_repeats_every_cycle(
    profile: ChargingProfile, at: datetime, cycles: int, minutes: int
) -> None:
    zone = timezone(timedelta(minutes=minutes))
    later = at + timedelta(seconds=cycles * profile.recurrence.cycle_s)
    assert limit_at(profile, later, zone) == limit_at(profile, at, zone)


@given(profiles(), zones, instants, st.integers(1, 9 * DAY_S), st.lists(st.floats(0, 1)))
def test_segments_cover_the_window_and_agree_with_limit_at(
    profile: ChargingProfile, zone: tzinfo, start: datetime, length: int, samples: list[float]
) -> None:
    end = start + timedelta(seconds=length)
    segments = limit_segments(profile, zone, start, end)
    assert segments[0].start == start
    assert segments[-1].end == end
    for before, after in itertools.pairwise(segments):
        assert before.end == after.start
        assert (before.limit, before.period.number_phases) != (
            after.limit,
            after.period.number_phases,
        )
    changes = set(offset_changes(zone, start, end))
    for segment in segments:
        assert segment.start < segment.end
        assert limit_at(profile, segment.start, zone) == segment.limit
        # A boundary is a period start in wall time, or a change of UTC offset.
        if segment.start != start:
            offset = local_offset_s(profile.recurrence, segment.start, zone)
            assert segment.start in changes or offset in {p.start_s for p in profile.periods}
    for fraction in samples:
        moment = start + timedelta(seconds=int(fraction * (length - 1)))
        segment = next(s for s in segments if s.start <= moment < s.end)
        assert limit_at(profile, moment, zone) == segment.limit


def test_empty_window() -> None:
    moment = berlin(2026, 1, 1)
    assert limit_segments(day_night(), BERLIN, moment, moment) == ()


@given(profiles(), zones, instants)
def test_next_limit_change(profile: ChargingProfile, zone: tzinfo, after: datetime) -> None:
    change = next_limit_change(profile, zone, after)
    limits = {(p.limit, p.number_phases) for p in profile.periods}
    if change is None:
        assert len(limits) == 1
        return
    assert change > after
    assert change - after <= timedelta(seconds=profile.recurrence.cycle_s + 2 * 3600)
    now = period_at(profile, after, zone)
    just_before = period_at(profile, change - timedelta(seconds=1), zone)
    then = period_at(profile, change, zone)
    assert (now.limit, now.number_phases) == (just_before.limit, just_before.number_phases)
    assert (then.limit, then.number_phases) != (now.limit, now.number_phases)


def test_offset_changes_of_berlin_in_2026() -> None:
    year = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
    assert offset_changes(BERLIN, *year) == [
        datetime(2026, 3, 29, 1, tzinfo=UTC),
        datetime(2026, 10, 25, 1, tzinfo=UTC),
    ]
    assert offset_changes(ZoneInfo("Asia/Kolkata"), *year) == []
    assert next_offset_change(BERLIN, datetime(2026, 4, 1, tzinfo=UTC)) == datetime(
        2026, 10, 25, 1, tzinfo=UTC
    )
    assert next_offset_change(ZoneInfo("UTC"), datetime(2026, 4, 1, tzinfo=UTC)) is None
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # 02:00 +10:30 -> 02:30 +11:00
    assert offset_changes(lord_howe, *year) == [
        datetime(2026, 4, 4, 15, tzinfo=UTC),
        datetime(2026, 10, 3, 15, 30, tzinfo=UTC),
    ]


# --- OCPP anchor -----------------------------------------------------------------------------


def ocpp_limit(profile: ChargingProfile, start_schedule: datetime, at: datetime) -> int:
    """What a station running the profile as a Recurring OCPP schedule applies at ``at``:
    elapsed seconds since startSchedule, modulo the recurrence, in the period list that starts
    at 0 (the last period wraps into it)."""
    elapsed = int((at - start_schedule).total_seconds()) % profile.recurrence.cycle_s
    started = [p for p in profile.periods if p.start_s <= elapsed]
    return (started[-1] if started else profile.periods[-1]).limit


@given(profiles(), zones, instants, st.lists(st.floats(0, 1), min_size=1))
def test_the_ocpp_anchor_agrees_until_the_next_offset_change(
    profile: ChargingProfile, zone: tzinfo, now: datetime, samples: list[float]
) -> None:
    anchor = ocpp_anchor(profile.recurrence, zone, now)
    assert anchor.start_schedule <= now
    assert now - anchor.start_schedule < timedelta(seconds=profile.recurrence.cycle_s)
    until = anchor.valid_until or now + timedelta(days=400)
    assert until > now
    for fraction in samples:
        at = now + (until - now) * fraction
        at = min(at, until - timedelta(seconds=1))
        assume(at >= now)
        assert ocpp_limit(profile, anchor.start_schedule, at) == limit_at(profile, at, zone)


def test_the_ocpp_anchor_is_local_midnight_or_monday() -> None:
    now = datetime(2026, 3, 29, 12, tzinfo=UTC)  # a Sunday, after the switch to CEST
    daily = ocpp_anchor(Recurrence.DAILY, BERLIN, now)
    weekly = ocpp_anchor(Recurrence.WEEKLY, BERLIN, now)
    assert daily.start_schedule == datetime(2026, 3, 28, 22, tzinfo=UTC)
    # Monday 2026-03-23 00:00 at today's offset (+02:00), though that Monday was at +01:00:
    # the station counts elapsed seconds, so the anchor uses the offset now in force.
    assert weekly.start_schedule == datetime(2026, 3, 22, 22, tzinfo=UTC)
    assert daily.valid_until == datetime(2026, 10, 25, 1, tzinfo=UTC)

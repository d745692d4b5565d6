"""The load-balancing allocator: examples, then SPEC §8's rules as properties."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from fractions import Fraction

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evcharge_core.domain.allocation import (
    DRAW_MARGIN_A,
    MIN_AC_CURRENT_A,
    Allocation,
    AllocationState,
    AreaAllocation,
    AreaLimit,
    ConnectorLoad,
    Phase,
    allocate,
    allocation_changes,
)
from evcharge_core.domain.profiles import ProfileLimit, RateUnit
from evcharge_core.domain.values import PowerType

from .strategies import area_limits, area_loads

AC1 = PowerType.AC_1_PHASE
AC3 = PowerType.AC_3_PHASE
DC = PowerType.DC
CHARGING = AllocationState.CHARGING
PAUSED = AllocationState.PAUSED
HELD = AllocationState.HELD
PINNED = AllocationState.PINNED


def car(
    connector_id: str,
    arrival: int,
    power_type: PowerType = AC3,
    amperage: int = 32,
    **fields: object,
) -> ConnectorLoad:
    voltage = fields.pop("voltage", 800 if power_type is DC else 230)
    return ConnectorLoad(connector_id, arrival, power_type, voltage, amperage, **fields)  # type: ignore[arg-type]


def limits(result: AreaAllocation) -> dict[str, int]:
    return result.limits()


def states(result: AreaAllocation) -> dict[str, AllocationState]:
    return {a.connector_id: a.state for a in result}


# --- an independent model of what each allocation loads --------------------------------------


@attrs.frozen
class Loads:
    """What an allocation puts on L1, L2, L3 (A, exact) and on the power limit (W)."""

    phases: tuple[Fraction, Fraction, Fraction]
    watts: Fraction


def level_of(load: ConnectorLoad, limit: int, area: AreaLimit) -> Fraction:
    """Amperes per loaded phase."""
    if load.power_type is DC:
        return Fraction(limit, 3 * area.phase_voltage)
    return Fraction(limit)


def loads_of(load: ConnectorLoad, limit: int, area: AreaLimit) -> Loads:
    level = level_of(load, limit, area)
    if load.power_type is AC1:
        phases = [Fraction(0)] * 3
        phases[load.phase.value] = level
        return Loads((phases[0], phases[1], phases[2]), level * load.voltage)
    watts = Fraction(limit) if load.power_type is DC else level * 3 * load.voltage
    return Loads((level, level, level), watts)


def unit_loads(load: ConnectorLoad, area: AreaLimit) -> Loads:
    """The loads of one more ampere per phase (one level step)."""
    step = 3 * area.phase_voltage if load.power_type is DC else 1
    return loads_of(load, step, area)


def own_cap(load: ConnectorLoad, area: AreaLimit) -> Fraction:
    """The connector's own caps (hardware and profile) in amperes per phase."""
    step = unit_loads(load, area).watts  # watts per ampere per phase
    if load.power_type is DC:
        caps = [Fraction(load.voltage * load.amperage) / step]
    else:
        caps = [Fraction(load.amperage)]
    if load.wattage_limit is not None:
        caps.append(Fraction(load.wattage_limit) / step)
    if load.profile_limit is not None:
        if load.profile_limit.unit is RateUnit.WATTS:
            caps.append(Fraction(load.profile_limit.value) / step)
        else:
            caps.append(Fraction(load.profile_limit.value))
    return min(caps)


def minimum_level(load: ConnectorLoad, area: AreaLimit) -> int:
    if load.power_type is DC:
        return math.ceil(Fraction(load.minimum or 0, 3 * area.phase_voltage))
    return MIN_AC_CURRENT_A if load.minimum is None else load.minimum


def totals(
    loads: Sequence[ConnectorLoad], result: AreaAllocation, area: AreaLimit
) -> tuple[list[Fraction], Fraction]:
    by_id = {load.connector_id: load for load in loads}
    phases = [Fraction(0)] * 3
    watts = Fraction(0)
    for allocation in result:
        used = loads_of(by_id[allocation.connector_id], allocation.limit, area)
        for r in range(3):
            phases[r] += used.phases[r]
        watts += used.watts
    return phases, watts


def residuals(
    loads: Sequence[ConnectorLoad], result: AreaAllocation, area: AreaLimit
) -> tuple[list[Fraction | None], Fraction | None]:
    phases, watts = totals(loads, result, area)
    phase_room: list[Fraction | None] = [
        None if area.current_a is None else area.current_a - used for used in phases
    ]
    return phase_room, None if area.power_w is None else area.power_w - watts


def can_take_one_more(
    load: ConnectorLoad,
    room: tuple[list[Fraction | None], Fraction | None],
    area: AreaLimit,
) -> bool:
    """Whether every limit the connector loads has room for one more ampere of it."""
    step = unit_loads(load, area)
    phase_room, power_room = room
    for r in range(3):
        if step.phases[r] and phase_room[r] is not None and phase_room[r] < step.phases[r]:  # type: ignore[operator]
            return False
    return power_room is None or power_room >= step.watts


def shares_a_limit(a: ConnectorLoad, b: ConnectorLoad, r: int, area: AreaLimit) -> bool:
    if r == 3:
        return True
    return bool(unit_loads(a, area).phases[r] and unit_loads(b, area).phases[r])


# --- examples --------------------------------------------------------------------------------


def test_three_cars_share_32_amperes() -> None:
    area = AreaLimit(current_a=32)
    cars = [car("A", 1), car("B", 2, amperage=16), car("C", 3, AC1)]
    result = allocate(area, cars)
    # Everyone loads L1: 32 A over three is 10.67, so 11 + 11 + 10 (earlier arrivals first).
    assert limits(result) == {"A": 11, "B": 11, "C": 10}
    assert result.phase_current_a == (32, 22, 22)
    assert result.power_w == 2 * 3 * 230 * 11 + 230 * 10
    # Three single-phase cars wired to different phases do not share anything.
    spread = [
        car(name, i, AC1, phase=phase)
        for i, (name, phase) in enumerate(zip("ABC", Phase, strict=True))
    ]
    assert limits(allocate(area, spread)) == {"A": 32, "B": 32, "C": 32}
    # B leaves: A takes all it can on every phase.
    assert limits(allocate(area, [car("A", 1), car("C", 3, AC1)])) == {"A": 16, "C": 16}


def test_caps_come_first() -> None:
    area = AreaLimit(current_a=63)
    result = allocate(
        area,
        [
            car("small", 1, amperage=10),
            car("watts", 2, wattage_limit=7_000),  # 7000 / 690 = 10.1 A
            car("profile_a", 3, profile_limit=ProfileLimit(13, RateUnit.AMPERES)),
            car("profile_w", 4, profile_limit=ProfileLimit(4_140, RateUnit.WATTS)),  # 6 A
            car("rest", 5),
        ],
    )
    assert limits(result) == {"small": 10, "watts": 10, "profile_a": 13, "profile_w": 6, "rest": 24}


def test_latest_arrivals_pause_and_resume_in_order() -> None:
    area = AreaLimit(current_a=20)
    cars = [car(name, arrival) for arrival, name in enumerate("ABCD")]
    result = allocate(area, cars)
    # 20 A serves three cars at 6 A: D waits.
    assert limits(result) == {"A": 7, "B": 7, "C": 6, "D": 0}
    assert states(result)["D"] is PAUSED
    # A leaves: D resumes.
    assert limits(allocate(area, cars[1:])) == {"B": 7, "C": 7, "D": 6}
    # Down to 11 A: only A can be served at 6 A; B, C and D wait.
    result = allocate(AreaLimit(current_a=11), cars)
    assert limits(result) == {"A": 11, "B": 0, "C": 0, "D": 0}
    # Nobody jumps the queue: a single-phase car on L2 arriving last waits too, though L2
    # has room for it, because B (earlier) is waiting.
    late = car("E", 9, AC1, phase=Phase.L2)
    assert states(allocate(AreaLimit(current_a=11), [*cars, late]))["E"] is PAUSED


def test_a_connector_held_by_its_own_limits_does_not_block_the_queue() -> None:
    area = AreaLimit(current_a=16)
    cars = [
        car("A", 1, profile_limit=ProfileLimit(0, RateUnit.AMPERES)),  # the night period: 0 A
        car("B", 2),
        car("C", 3, amperage=4),  # a connector that cannot reach 6 A
    ]
    result = allocate(area, cars)
    assert states(result) == {"A": HELD, "B": CHARGING, "C": HELD}
    assert limits(result) == {"A": 0, "B": 16, "C": 0}


def test_power_limit_and_dc() -> None:
    area = AreaLimit(current_a=100, power_w=60_000)
    result = allocate(area, [car("dc", 1, DC, 125), car("ac", 2)])
    by_id = result.by_connector()
    assert by_id["ac"].limit == 32
    assert by_id["ac"].power_w == 22_080
    # The rest, in whole amperes per phase: 54 x 3 x 230 W.
    assert by_id["dc"] == Allocation("dc", 37_260, RateUnit.WATTS, CHARGING, 3, 54, 37_260)
    assert result.power_w == 59_340
    # Power only, and fair in amperes per phase: the single-phase car's 32 A is 7360 W.
    result = allocate(AreaLimit(power_w=11_000), [car("a", 1), car("b", 2, AC1)])
    assert limits(result) == {"a": 12, "b": 11}


def test_dc_counts_as_a_balanced_three_phase_load() -> None:
    area = AreaLimit(current_a=40)
    result = allocate(area, [car("dc", 1, DC, 200), car("l1", 2, AC1)])
    # Both load L1: 20 A each; the DC charger's 20 A per phase is 13.8 kW.
    assert limits(result) == {"dc": 13_800, "l1": 20}
    assert result.phase_current_a == (40, 20, 20)


def test_suspended_and_slow_evs_leave_their_share_to_others() -> None:
    area = AreaLimit(current_a=32)
    full = car("full", 1, previous=16, suspended_ev=True)
    slow = car("slow", 2, previous=16, observed=5.2)
    hungry = car("hungry", 3, previous=0)
    result = allocate(area, [full, slow, hungry])
    # full keeps 6 A to be able to resume, slow gets its draw + 2 A rounded up, hungry the rest.
    assert limits(result) == {"full": 6, "slow": 8, "hungry": 18}
    # slow ramps up to within 1 A of its 8 A: released, it gets its fair share again.
    slow = attrs.evolve(slow, previous=8, observed=7.4)
    assert limits(allocate(area, [full, slow, attrs.evolve(hungry, previous=18)])) == {
        "full": 6,
        "slow": 13,
        "hungry": 13,
    }


def test_a_cap_in_force_within_the_band_is_kept() -> None:
    area = AreaLimit(current_a=32)
    result = allocate(area, [car("a", 1, previous=9, observed=5.0)])
    assert limits(result) == {"a": 9}  # 9 <= 5 + 2 + 2: kept
    result = allocate(area, [car("a", 1, previous=10, observed=5.0)])
    assert limits(result) == {"a": 7}  # too far above: draw + 2


def test_pinned_connectors_keep_their_limit_and_count() -> None:
    area = AreaLimit(current_a=32)
    cars = [car("stuck", 1, previous=20, pinned=True), car("b", 2), car("c", 3)]
    result = allocate(area, cars)
    assert limits(result) == {"stuck": 20, "b": 6, "c": 6}
    assert states(result)["stuck"] is PINNED
    # Pinned above what is left: the others wait.
    cars[0] = attrs.evolve(cars[0], previous=30)
    assert states(allocate(area, cars)) == {"stuck": PINNED, "b": PAUSED, "c": PAUSED}
    # Pinned on another phase, it leaves this one alone.
    other_phase = [car("stuck", 1, AC1, phase=Phase.L2, previous=30, pinned=True), car("b", 2, AC1)]
    assert limits(allocate(area, other_phase)) == {"stuck": 30, "b": 32}
    # A DC connector pinned at a limit between two levels counts its amperes rounded up.
    dc = car("dc", 1, DC, 100, previous=1_000, pinned=True)
    result = allocate(AreaLimit(current_a=8), [dc, car("b", 2)])
    assert limits(result) == {"dc": 1_000, "b": 6}
    assert result.phase_current_a == (8, 8, 8)


def test_inputs_are_checked() -> None:
    with pytest.raises(ValueError, match="needs current_a, power_w or both"):
        AreaLimit()
    with pytest.raises(ValueError, match="positive"):
        AreaLimit(current_a=1, phase_voltage=0)
    with pytest.raises(ValueError, match="at least 0"):
        car("a", 1, amperage=-1)
    with pytest.raises(TypeError, match="whole number"):
        car("a", 1, previous=1.5)
    with pytest.raises(TypeError, match="whole number"):
        AreaLimit(current_a=True)


def test_allocation_changes_sends_decreases_first() -> None:
    area = AreaLimit(current_a=32)
    before = allocate(area, [car("A", 1), car("B", 2)])
    assert limits(before) == {"A": 16, "B": 16}
    after = allocate(area, [car("A", 1), car("B", 2), car("C", 3)])
    changes = allocation_changes(before.limits(), after)
    assert [a.connector_id for a in changes.decreases] == ["A", "B", "C"]  # C: none in force
    assert changes.increases == ()
    back = allocation_changes(after.limits(), before)
    assert [a.connector_id for a in back.increases] == ["A", "B"]
    assert list(back) == [*back.decreases, *back.increases]
    assert len(back) == 2
    assert bool(back)
    assert not allocation_changes(before.limits(), before)


# --- properties ------------------------------------------------------------------------------


@settings(max_examples=300)
@given(area_limits, area_loads())
def test_invariants(area: AreaLimit, loads: list[ConnectorLoad]) -> None:
    """No cap or per-phase sum exceeded; minimum or 0; the queue pauses only the latest."""
    result = allocate(area, loads)
    by_id = {load.connector_id: load for load in loads}
    assert sorted(a.connector_id for a in result) == sorted(by_id)
    order = [(load.arrival, load.connector_id) for load in loads]
    assert [(by_id[a.connector_id].arrival, a.connector_id) for a in result] == sorted(order)

    for allocation in result:
        load = by_id[allocation.connector_id]
        assert allocation.unit is (RateUnit.WATTS if load.power_type is DC else RateUnit.AMPERES)
        if allocation.state is PINNED:
            assert allocation.limit == load.previous
            continue
        level = level_of(load, allocation.limit, area)
        assert level.denominator == 1  # whole amperes (per phase, for DC too)
        assert allocation.current_a == level
        assert level <= own_cap(load, area)
        if allocation.state is CHARGING:
            assert level >= minimum_level(load, area)
            if load.suspended_ev:
                assert level == minimum_level(load, area)
        else:
            assert allocation.limit == 0
            assert (allocation.state is HELD) == (own_cap(load, area) < minimum_level(load, area))

    if not any(a.state is PINNED for a in result):
        phases, watts = totals(loads, result, area)
        if area.current_a is not None:
            assert all(used <= area.current_a for used in phases)
        if area.power_w is not None:
            assert watts <= area.power_w
        assert result.phase_current_a == tuple(math.ceil(p) for p in phases)

    # The queue: once someone is paused, everyone after is paused (held ones aside).
    queue = [a.state for a in result if a.state in (CHARGING, PAUSED)]
    if PAUSED in queue:
        assert all(state is PAUSED for state in queue[queue.index(PAUSED) :])


@settings(max_examples=300)
@given(area_limits, area_loads(draws=False))
def test_max_min_fair_and_work_conserving(area: AreaLimit, loads: list[ConnectorLoad]) -> None:
    """Every charging connector below its cap is stopped by a full limit it loads: one
    that has no room for one more ampere of it (work conservation), and would still have
    none if every connector loading it gave back what it has above this one's level plus
    one ampere (max-min fairness, up to rounding to whole amperes)."""
    result = allocate(area, loads)
    by_id = {load.connector_id: load for load in loads}
    phase_room, power_room = residuals(loads, result, area)
    charging = [a for a in result if a.state is CHARGING]
    for allocation in charging:
        load = by_id[allocation.connector_id]
        level = level_of(load, allocation.limit, area)
        if level + 1 > own_cap(load, area):
            continue  # at its cap
        step = unit_loads(load, area)
        assert not can_take_one_more(load, (phase_room, power_room), area)
        stopped_by = []
        for r in range(4):
            need = step.watts if r == 3 else step.phases[r]
            room = power_room if r == 3 else phase_room[r]
            if not need or room is None:
                continue
            given_back = Fraction(0)
            for other in charging:
                if other is allocation:
                    continue
                other_load = by_id[other.connector_id]
                other_step = unit_loads(other_load, area)
                per_level = other_step.watts if r == 3 else other_step.phases[r]
                floor = max(level + 1, minimum_level(other_load, area))
                excess = level_of(other_load, other.limit, area) - floor
                if per_level and excess > 0:
                    given_back += per_level * excess
            if room + given_back < need:
                stopped_by.append(r)
        assert stopped_by, allocation


@settings(max_examples=200)
@given(area_limits, area_loads(draws=False))
def test_the_first_paused_connector_did_not_fit(
    area: AreaLimit, loads: list[ConnectorLoad]
) -> None:
    """Paused only when the area cannot serve it at its minimum next to those admitted."""
    result = allocate(area, loads)
    by_id = {load.connector_id: load for load in loads}
    paused = [a for a in result if a.state is PAUSED]
    if not paused:
        return
    admitted = [by_id[a.connector_id] for a in result if a.state is CHARGING]
    first = by_id[paused[0].connector_id]
    phases = [Fraction(0)] * 3
    watts = Fraction(0)
    for load in [*admitted, first]:
        step = unit_loads(load, area)
        minimum = minimum_level(load, area)
        for r in range(3):
            phases[r] += step.phases[r] * minimum
        watts += step.watts * minimum
    over_phase = area.current_a is not None and any(p > area.current_a for p in phases)
    over_power = area.power_w is not None and watts > area.power_w
    assert over_phase or over_power


@given(area_limits, area_loads(pinned=True), st.randoms(use_true_random=False))
def test_deterministic_whatever_the_input_order(
    area: AreaLimit, loads: list[ConnectorLoad], rnd: random.Random
) -> None:
    result = allocate(area, loads)
    assert allocate(area, loads) == result
    shuffled = list(loads)
    rnd.shuffle(shuffled)
    assert allocate(area, shuffled) == result


@given(area_limits, area_loads(draws=False))
def test_stable_when_nothing_changes(area: AreaLimit, loads: list[ConnectorLoad]) -> None:
    """Fed its own output as the limits in force, the allocator changes nothing: no
    SetChargingProfile is sent twice."""
    result = allocate(area, loads)
    again = allocate(
        area, [attrs.evolve(load, previous=result.limits()[load.connector_id]) for load in loads]
    )
    assert again == result
    assert not allocation_changes(result.limits(), again)


@given(
    st.sampled_from([AC1, AC3]),
    st.integers(0, 63),
    st.floats(0, 40),
    st.floats(-0.999, 0.999),
)
def test_meter_noise_under_one_ampere_keeps_a_demand_cap(
    power_type: PowerType, previous: int, draw: float, noise: float
) -> None:
    area = AreaLimit(current_a=100)
    first = allocate(area, [car("a", 1, power_type, 63, previous=previous, observed=draw)])
    limit = first.limits()["a"]
    again = allocate(area, [car("a", 1, power_type, 63, previous=limit, observed=draw + noise)])
    if limit < 63 and draw < previous - 1:  # capped by its draw
        new_cap = max(MIN_AC_CURRENT_A, math.ceil(draw + DRAW_MARGIN_A))
        if previous <= draw + DRAW_MARGIN_A + 2:
            assert limit == max(MIN_AC_CURRENT_A, previous)  # the limit in force, kept
        else:
            assert limit == new_cap
            # A cap set from a draw survives any later draw less than 1 A away.
            assert again.limits()["a"] == limit
    else:
        assert limit == 63  # no sign it takes less: all it may have


def test_odd_readings_and_accessors() -> None:
    area = AreaLimit(current_a=32)
    unreadable = car("a", 1, previous=10, observed=math.nan)
    assert allocate(area, [unreadable]).limits() == {"a": 32}  # no usable draw: no demand cap
    result = allocate(area, [car("a", 1), car("dc", 2, DC, 100)])
    assert len(result) == 2
    assert result.by_connector()["dc"].unit is RateUnit.WATTS
    assert car("dc", 1, DC).unit is RateUnit.WATTS
    assert car("a", 1).unit is RateUnit.AMPERES


def test_allocation_changes_properties() -> None:
    area = AreaLimit(current_a=32)
    result = allocate(area, [car("A", 1), car("B", 2)])
    assert not allocation_changes({"A": 16, "B": 16, "gone": 5}, result)
    changes = allocation_changes({"A": 20}, result)
    assert [a.connector_id for a in changes] == ["A", "B"]


def test_the_worked_example_of_the_how_to() -> None:
    """docs/load-balancing.md: three cars sharing 32 A, one with a day/night profile."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from evcharge_core.domain.profiles import parse_profile, profile_limit_at

    berlin = ZoneInfo("Europe/Berlin")
    day_night = parse_profile(
        {
            "name": "Day/night",
            "unit": "W",
            "recurrence": "daily",
            "periods": [{"start": "07:00", "limit": 10_000}, {"start": "22:00", "limit": 20_000}],
        },
        profile_id="day-night",
    )

    def a(hour: int, minute: int = 0, **fields: object) -> ConnectorLoad:
        at = datetime(2026, 6, 1, hour, minute, tzinfo=berlin)
        return car("A", 1, profile_limit=profile_limit_at(day_night, at, berlin), **fields)

    def b(**fields: object) -> ConnectorLoad:
        return car("B", 2, amperage=16, **fields)

    def c(**fields: object) -> ConnectorLoad:
        return car("C", 3, AC1, **fields)

    area = AreaLimit(current_a=32)
    steps: list[tuple[list[ConnectorLoad], dict[str, int], tuple[int, int, int]]] = []
    in_force: dict[str, int] = {}

    def step(loads: list[ConnectorLoad], area: AreaLimit = area) -> AreaAllocation:
        result = allocate(area, loads)
        steps.append((loads, result.limits(), result.phase_current_a))
        in_force.clear()
        in_force.update(result.limits())
        return result

    step([a(18)])
    assert steps[-1][1:] == ({"A": 14}, (14, 14, 14))
    step([a(18, 5, previous=in_force["A"]), b()])
    assert steps[-1][1:] == ({"A": 14, "B": 16}, (30, 30, 30))
    before = dict(in_force)
    result = step([a(18, 10, previous=in_force["A"]), b(previous=in_force["B"]), c()])
    assert steps[-1][1:] == ({"A": 11, "B": 11, "C": 10}, (32, 22, 22))
    changes = allocation_changes(before, result)
    assert [x.connector_id for x in changes.decreases] == ["A", "B", "C"]
    assert not changes.increases
    step(
        [
            a(19, 30, previous=in_force["A"]),
            b(previous=in_force["B"], observed=3.2),
            c(previous=in_force["C"]),
        ]
    )
    assert steps[-1][1:] == ({"A": 13, "B": 6, "C": 13}, (32, 19, 19))
    step(
        [
            a(20, previous=in_force["A"], suspended_ev=True),
            b(previous=in_force["B"], observed=3.1),
            c(previous=in_force["C"]),
        ]
    )
    assert steps[-1][1:] == ({"A": 6, "B": 6, "C": 20}, (32, 12, 12))
    step([a(21, previous=in_force["A"], suspended_ev=True), c(previous=in_force["C"])])
    assert steps[-1][1:] == ({"A": 6, "C": 26}, (32, 6, 6))

    # Pausing and resuming: the limit lowered to 16 A at 19:00.
    low = AreaLimit(current_a=16)
    result = step([a(19), b(), c()], low)
    assert steps[-1][1:] == ({"A": 8, "B": 8, "C": 0}, (16, 16, 16))
    assert states(result)["C"] is PAUSED
    step([a(19, 45), c()], low)
    assert steps[-1][1:] == ({"A": 8, "C": 8}, (16, 8, 8))

    # Alone, A gets its profile's limit: 14 A by day, 28 A (19 320 W) at night.
    assert allocate(area, [a(12)]).limits() == {"A": 14}
    night = allocate(area, [a(23)])
    assert night.limits() == {"A": 28}
    assert night.power_w == 19_320

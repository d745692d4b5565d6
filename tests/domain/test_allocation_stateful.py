"""The allocator over time: a model of an area where cars arrive, charge at their own pace,
leave, and the area limit changes, with the balancer's loop around the allocator (limits in
force, changes sent, stations that reject a change). Invariants hold after every step."""

from __future__ import annotations

import math
from fractions import Fraction

import attrs
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from evcharge_core.domain.allocation import (
    AllocationState,
    AreaAllocation,
    AreaLimit,
    ConnectorLoad,
    allocate,
    allocation_changes,
)
from evcharge_core.domain.profiles import ProfileLimit, RateUnit
from evcharge_core.domain.values import PowerType

from .strategies import area_limits, connector_loads
from .test_allocation import level_of, loads_of, minimum_level, own_cap

SETTLE_ROUNDS = 6


@attrs.frozen
class Car:
    """A connector with a car: its hardware (``load``) and what the car would take."""

    load: ConnectorLoad
    wants: float
    """Most the car draws, in the connector's unit (A per phase, or W for DC)."""
    suspended: bool = False


class Area(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.limit = AreaLimit(current_a=32)
        self.cars: dict[str, Car] = {}
        self.in_force: dict[str, int] = {}
        self.rejecting: set[str] = set()
        self.pinned: set[str] = set()
        self.arrivals = 0
        self.result: AreaAllocation = allocate(self.limit, [])

    # --- the balancer's loop ------------------------------------------------------------------

    def loads(self) -> list[ConnectorLoad]:
        loads = []
        for connector_id, car in self.cars.items():
            in_force = self.in_force.get(connector_id)
            observed = None
            if in_force is not None:
                observed = 0.0 if car.suspended else min(car.wants, float(in_force))
            loads.append(
                attrs.evolve(
                    car.load,
                    previous=in_force,
                    observed=observed,
                    suspended_ev=car.suspended,
                    pinned=connector_id in self.pinned,
                )
            )
        return loads

    def recompute(self) -> int:
        """Allocate, send the changes; a rejecting station keeps its limit and is pinned
        until it accepts again. Returns how many changes were sent."""
        self.result = allocate(self.limit, self.loads())
        changes = allocation_changes(self.in_force, self.result)
        for allocation in changes:
            if allocation.connector_id in self.rejecting:
                if allocation.connector_id in self.in_force:
                    self.pinned.add(allocation.connector_id)
                continue
            self.in_force[allocation.connector_id] = allocation.limit
        return len(changes)

    # --- rules -------------------------------------------------------------------------------

    @rule(data=st.data(), wants=st.floats(0, 80), suspended=st.booleans())
    def arrive(self, data: st.DataObject, wants: float, suspended: bool) -> None:
        self.arrivals += 1
        connector_id = f"c{self.arrivals}"
        load = data.draw(connector_loads(connector_id, self.arrivals, draws=False))
        scale = 3 * self.limit.phase_voltage if load.power_type is PowerType.DC else 1
        self.cars[connector_id] = Car(load, wants * scale, suspended)
        self.recompute()

    @precondition(lambda self: self.cars)
    @rule(data=st.data())
    def leave(self, data: st.DataObject) -> None:
        connector_id = data.draw(st.sampled_from(sorted(self.cars)))
        del self.cars[connector_id]
        self.in_force.pop(connector_id, None)
        self.rejecting.discard(connector_id)
        self.pinned.discard(connector_id)
        self.recompute()

    @rule(limit=area_limits)
    def change_area_limit(self, limit: AreaLimit) -> None:
        self.limit = limit
        self.recompute()

    @precondition(lambda self: self.cars)
    @rule(data=st.data(), wants=st.floats(0, 80), suspended=st.booleans())
    def car_changes_pace(self, data: st.DataObject, wants: float, suspended: bool) -> None:
        connector_id = data.draw(st.sampled_from(sorted(self.cars)))
        car = self.cars[connector_id]
        scale = 3 * self.limit.phase_voltage if car.load.power_type is PowerType.DC else 1
        self.cars[connector_id] = attrs.evolve(car, wants=wants * scale, suspended=suspended)
        self.recompute()

    @precondition(lambda self: self.cars)
    @rule(data=st.data(), amperes=st.none() | st.integers(0, 40))
    def profile_period_changes(self, data: st.DataObject, amperes: int | None) -> None:
        connector_id = data.draw(st.sampled_from(sorted(self.cars)))
        car = self.cars[connector_id]
        limit = None if amperes is None else ProfileLimit(amperes, RateUnit.AMPERES)
        self.cars[connector_id] = attrs.evolve(
            car, load=attrs.evolve(car.load, profile_limit=limit)
        )
        self.recompute()

    @precondition(lambda self: self.cars)
    @rule(data=st.data())
    def station_starts_rejecting(self, data: st.DataObject) -> None:
        self.rejecting.add(data.draw(st.sampled_from(sorted(self.cars))))

    @precondition(lambda self: self.rejecting)
    @rule(data=st.data())
    def station_accepts_again(self, data: st.DataObject) -> None:
        connector_id = data.draw(st.sampled_from(sorted(self.rejecting)))
        self.rejecting.discard(connector_id)
        self.pinned.discard(connector_id)
        self.recompute()

    @rule()
    def nothing_changes(self) -> None:
        """Meter values with the same draws keep arriving: the loop settles, then sends
        nothing more."""
        for _ in range(SETTLE_ROUNDS):
            if not self.recompute():
                break
        assert self.recompute() == 0, self.result

    # --- invariants --------------------------------------------------------------------------

    @invariant()
    def within_every_limit(self) -> None:
        by_id = {load.connector_id: load for load in self.loads()}
        pinned_phases = [Fraction(0)] * 3
        pinned_watts = Fraction(0)
        phases = [Fraction(0)] * 3
        watts = Fraction(0)
        for allocation in self.result:
            load = by_id[allocation.connector_id]
            used = loads_of(load, allocation.limit, self.limit)
            for r in range(3):
                phases[r] += used.phases[r]
            watts += used.watts
            if allocation.state is AllocationState.PINNED:
                for r in range(3):
                    pinned_phases[r] += used.phases[r]
                pinned_watts += used.watts
                continue
            level = level_of(load, allocation.limit, self.limit)
            assert level <= own_cap(load, self.limit)
            if allocation.state is AllocationState.CHARGING:
                assert level >= minimum_level(load, self.limit)
            else:
                assert allocation.limit == 0
        current, power = self.limit.current_a, self.limit.power_w
        pinned_over = (
            current is not None and any(math.ceil(p) > current for p in pinned_phases)
        ) or (power is not None and pinned_watts > power)
        if pinned_over:
            # Stations that did not take a decrease hold more than the area has: every
            # other connector is paused or held.
            assert all(a.limit == 0 for a in self.result if a.state is not AllocationState.PINNED)
        else:
            slack = [math.ceil(p) - p for p in pinned_phases]  # pinned DC counts rounded up
            if current is not None:
                assert all(phases[r] + slack[r] <= current for r in range(3))
            if power is not None:
                assert watts <= power

    @invariant()
    def only_the_latest_arrivals_wait(self) -> None:
        queue = [
            a.state
            for a in self.result
            if a.state in (AllocationState.CHARGING, AllocationState.PAUSED)
        ]
        if AllocationState.PAUSED in queue:
            first = queue.index(AllocationState.PAUSED)
            assert all(state is AllocationState.PAUSED for state in queue[first:])

    @invariant()
    def stations_hold_what_was_accepted(self) -> None:
        for allocation in self.result:
            if allocation.connector_id not in self.rejecting:
                assert self.in_force[allocation.connector_id] == allocation.limit


Area.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestArea = Area.TestCase

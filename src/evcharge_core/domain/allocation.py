"""Dynamic load balancing: sharing an area's output limit among its charging connectors.

:func:`allocate` takes the area's limit (:class:`AreaLimit`: amperes per phase and/or watts)
and the connectors that are charging (:class:`ConnectorLoad`), and returns each one's
allocation (:class:`AreaAllocation`) by these rules (SPEC §8), applied in this order:

1. **Caps.** A connector's allocation never exceeds its amperage, its wattage limit, its
   charger profile's limit at this instant, nor what its EV is seen to take (the *demand*
   rule below).
2. **Minimum and the queue.** An AC connector is never given less than its minimum current
   (6 A, IEC 61851) unless it is paused (0 A). Connectors are admitted in arrival order while
   the area can serve every admitted one at its minimum at once; from the first that does not
   fit, every later arrival is paused. Nobody jumps the queue: a later arrival never charges
   while an earlier one waits, and paused connectors resume in arrival order as capacity
   frees up. A connector whose own caps are below its minimum (a profile period of 0 A, say)
   is *held* at 0 and does not block the queue.
3. **Max-min fairness** (water-filling). Every admitted connector's *level* rises together
   until it reaches its cap or a limit it loads (a phase, or the area's power) is full; then
   it stops there. The result: no connector can get more without taking from one that has
   as much or less.
4. **Whole units.** Levels are whole amperes per phase. Where a limit cannot give everyone
   sharing it one more ampere, the earlier arrivals get the extra one, and whoever still
   fits keeps rising: no ampere that someone could use is left unused.

**Levels and units.** Fairness is measured in amperes per phase on the grid side, the
quantity an area's fuse protects and a charging pilot signal sets. An AC connector's level
is its charging current: a single-phase connector loads one phase (:class:`Phase`, L1
unless configured), a three-phase connector all three. A DC connector is fed by a three-
phase rectifier: a level of ``k`` means ``k`` amperes on each phase, that is ``3 x k x V``
watts with ``V`` the area's phase voltage, and its allocation is sent in watts (so DC
allocations are multiples of ``3 x V`` W: 690 W at 230 V). Power is phase voltage times
current, as :mod:`.power` computes it (apparent power; the power factor is not applied,
which errs on the safe side).

**Demand** (redistribution of an unused share). An EV that takes clearly less than it was
given frees the rest for the others, with headroom so it can ramp up again:

- ``SuspendedEV``: the EV does not charge; it keeps its minimum (so it can resume without
  waiting for the balancer) and the rest goes to the others;
- observed draw more than :data:`RELEASE_TOLERANCE_A` below the limit in force: the
  connector is capped at its draw plus :data:`DRAW_MARGIN_A`, rounded up (never below its
  minimum). Once its draw comes within the tolerance of that cap, it is released and gets
  its full share again at the next computation;
- hysteresis: a limit already in force is kept as the cap while it stays in a band above
  the draw (draw + tolerance < limit <= draw + margin + :data:`DEMAND_HYSTERESIS_A`), so
  meter noise does not cause a new limit to be sent at every meter value: once a cap is
  set from a draw, any later draw less than 1 A away from it keeps that cap.

**Pinned** connectors: a station that rejected or did not answer the last change keeps its
limit in force (``previous``); it is counted at that limit and not changed.

The computation is sort-based water-filling over at most four constraints (three phases and
the power): ``O(n log n)`` for ``n`` connectors, in integers, deterministic.
:func:`allocation_changes` says which connectors must be sent a new limit.
"""

from __future__ import annotations

import enum
import functools
import math
import operator
from collections.abc import Iterable, Iterator, Mapping
from typing import Final

import attrs

from .profiles import ProfileLimit, RateUnit
from .values import PowerType

__all__ = [
    "DC_MINIMUM_W",
    "DEMAND_HYSTERESIS_A",
    "DRAW_MARGIN_A",
    "MIN_AC_CURRENT_A",
    "RELEASE_TOLERANCE_A",
    "Allocation",
    "AllocationChanges",
    "AllocationState",
    "AreaAllocation",
    "AreaLimit",
    "ConnectorLoad",
    "Phase",
    "allocate",
    "allocation_changes",
]

MIN_AC_CURRENT_A: Final = 6
"""The least current an AC charging pilot may offer (IEC 61851-1): below it, 0 A (paused)."""

DC_MINIMUM_W: Final = 0
"""The default minimum of a DC connector: none, so a DC connector always fits and never
closes the queue (it shares what is left, down to 0 W); it waits only behind an earlier
arrival that is paused. Set ``minimum`` per connector otherwise."""

DRAW_MARGIN_A: Final = 2
"""Headroom above an EV's observed draw when its cap comes from that draw (per phase)."""

RELEASE_TOLERANCE_A: Final = 1
"""An EV drawing within this of its limit counts as wanting more (per phase)."""

DEMAND_HYSTERESIS_A: Final = 2
"""How far above draw + margin a limit in force may be and still be kept as the cap."""


class Phase(enum.Enum):
    """The phase a single-phase connector loads (its wiring; L1 unless configured)."""

    L1 = 0
    L2 = 1
    L3 = 2


class AllocationState(enum.Enum):
    """Why a connector has the allocation it has."""

    CHARGING = "charging"
    """Admitted: at least its minimum."""
    PAUSED = "paused"
    """Waiting in the queue at 0: the area cannot serve it at its minimum yet."""
    HELD = "held"
    """At 0 because its own caps (a profile period, its hardware) are below its minimum."""
    PINNED = "pinned"
    """Its station did not take the last change: counted at the limit in force."""


def _check_whole(name: str, value: object, *, positive: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be a whole number, got {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"{name} must be {'positive' if positive else 'at least 0'}, got {value}")


def _non_negative(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    _check_whole(attr.name, value)


def _optional_non_negative(
    _inst: object, attr: attrs.Attribute[int | None], value: int | None
) -> None:
    if value is not None:
        _check_whole(attr.name, value)


def _positive(_inst: object, attr: attrs.Attribute[int], value: int) -> None:
    _check_whole(attr.name, value, positive=True)


@attrs.frozen
class AreaLimit:
    """An area's output limit: ``current_a`` amperes on each phase and/or ``power_w`` watts
    in total. ``phase_voltage`` converts DC power to phase current."""

    current_a: int | None = attrs.field(default=None, validator=_optional_non_negative)
    power_w: int | None = attrs.field(default=None, validator=_optional_non_negative)
    phase_voltage: int = attrs.field(default=230, validator=_positive)

    def __attrs_post_init__(self) -> None:
        if self.current_a is None and self.power_w is None:
            raise ValueError("an area limit needs current_a, power_w or both")


@attrs.frozen
class ConnectorLoad:
    """A connector that is charging (has a transaction), as the allocator sees it.

    ``power_type`` is how the session loads the grid: the connector's own, or
    ``AC_1_PHASE`` when meter values show a single-phase car on a three-phase connector.
    ``observed`` and ``previous`` are in the unit the allocation is sent in: amperes (the
    highest phase) for AC, watts for DC. ``arrival`` orders the queue (the transaction's
    start, as any increasing number); ties are broken by ``connector_id``.
    """

    connector_id: str
    arrival: int
    power_type: PowerType
    voltage: int = attrs.field(validator=_positive)
    """The connector's phase voltage (AC) or DC voltage, V."""
    amperage: int = attrs.field(validator=_non_negative)
    wattage_limit: int | None = attrs.field(default=None, validator=_optional_non_negative)
    phase: Phase = Phase.L1
    """Single-phase AC only: the phase it loads."""
    profile_limit: ProfileLimit | None = None
    """Its charger's profile limit at this instant (:func:`.profiles.profile_limit_at`)."""
    observed: float | None = None
    suspended_ev: bool = False
    previous: int | None = attrs.field(default=None, validator=_optional_non_negative)
    """The limit in force on the station (last accepted), ``None`` if none was sent."""
    pinned: bool = False
    """The station did not take the last change: keep counting ``previous``."""
    minimum: int | None = attrs.field(default=None, validator=_optional_non_negative)
    """Least allocation short of pausing: default :data:`MIN_AC_CURRENT_A` A (AC) or
    :data:`DC_MINIMUM_W` W (DC)."""

    @property
    def unit(self) -> RateUnit:
        return RateUnit.WATTS if self.power_type is PowerType.DC else RateUnit.AMPERES


@attrs.frozen
class Allocation:
    """One connector's share: send ``limit`` in ``unit`` (A for AC, W for DC)."""

    connector_id: str
    limit: int
    unit: RateUnit
    state: AllocationState
    phases: int
    """Phases the allocation loads: 1 or 3 (DC: 3, its rectifier's supply)."""
    current_a: int
    """Amperes on each loaded phase (DC: the equivalent AC current, rounded up)."""
    power_w: int


@attrs.frozen
class AreaAllocation:
    """The allocations of one area, in arrival order, and the load they add up to.

    It is stored column by column; each connector's :class:`Allocation` is built when first
    asked for (``allocations``, iteration, :meth:`by_connector`), so that the balancer's
    usual path, :meth:`limits` and :func:`allocation_changes`, builds only the changed ones.
    """

    connector_ids: tuple[str, ...]
    sent: tuple[int, ...] = attrs.field(repr=False)
    """Each connector's limit, in its unit."""
    units: tuple[RateUnit, ...] = attrs.field(repr=False)
    states: tuple[AllocationState, ...] = attrs.field(repr=False)
    phases: tuple[int, ...] = attrs.field(repr=False)
    currents: tuple[int, ...] = attrs.field(repr=False)
    powers: tuple[int, ...] = attrs.field(repr=False)
    phase_current_a: tuple[int, int, int]
    """The area's load on L1, L2, L3 (A; DC counted in whole amperes per phase)."""
    power_w: int

    def item(self, index: int) -> Allocation:
        """The allocation of the connector at ``index`` in arrival order."""
        return Allocation(
            self.connector_ids[index],
            self.sent[index],
            self.units[index],
            self.states[index],
            self.phases[index],
            self.currents[index],
            self.powers[index],
        )

    @functools.cached_property
    def allocations(self) -> tuple[Allocation, ...]:
        return tuple(self.item(index) for index in range(len(self.connector_ids)))

    def __iter__(self) -> Iterator[Allocation]:
        return iter(self.allocations)

    def __len__(self) -> int:
        return len(self.connector_ids)

    def by_connector(self) -> dict[str, Allocation]:
        return {allocation.connector_id: allocation for allocation in self.allocations}

    def limits(self) -> dict[str, int]:
        """Connector ID to limit: what the stations will have once every change is sent."""
        return dict(zip(self.connector_ids, self.sent, strict=True))


@attrs.frozen
class AllocationChanges:
    """The connectors to send a new limit: ``decreases`` first (and wait for them to be
    accepted), then ``increases``, so the area's load never overshoots in between."""

    decreases: tuple[Allocation, ...] = ()
    increases: tuple[Allocation, ...] = ()

    def __iter__(self) -> Iterator[Allocation]:
        yield from self.decreases
        yield from self.increases

    def __bool__(self) -> bool:
        return bool(self.decreases or self.increases)

    def __len__(self) -> int:
        return len(self.decreases) + len(self.increases)


def allocation_changes(
    in_force: Mapping[str, int], allocation: AreaAllocation
) -> AllocationChanges:
    """Which connectors of ``allocation`` must be sent a new limit, given the limits
    ``in_force`` on the stations (connector ID to limit). A connector with no limit in force
    counts as a decrease: until it gets one, its station may let it draw its full rating."""
    decreases: list[Allocation] = []
    increases: list[Allocation] = []
    for index, (connector_id, limit) in enumerate(
        zip(allocation.connector_ids, allocation.sent, strict=True)
    ):
        current = in_force.get(connector_id)
        if current is None or limit < current:
            decreases.append(allocation.item(index))
        elif limit > current:
            increases.append(allocation.item(index))
    return AllocationChanges(tuple(decreases), tuple(increases))


# --- the computation -------------------------------------------------------------------------

_RESOURCES: Final = 4  # L1, L2, L3 (amperes), power (watts)
_WAITING: Final = 0  # admitted, held at its minimum until the rising level reaches it
_RISING: Final = 1
_FROZEN: Final = 2  # final: at a cap, stopped by a full resource, or not admitted

# The computation works on parallel lists indexed by arrival rank (plain Python is fastest
# that way); ``uses[i]`` lists the (resource, cost of one ampere of level) pairs of the
# area's active limits that connector ``i`` loads.


_arrival: Final = operator.attrgetter("arrival", "connector_id")


def _demand_cap(load: ConnectorLoad, scale: int, minimum: int) -> int | None:
    """What the EV is seen to take, plus headroom, as a level; ``None``: no sign it takes
    less than it is given. ``scale`` converts the sent unit to levels (W per level for DC,
    1 for AC)."""
    if load.suspended_ev:
        return minimum
    observed, previous = load.observed, load.previous
    if observed is None or previous is None or not math.isfinite(observed):
        return None
    draw = max(observed, 0.0) / scale
    in_force = previous / scale
    if draw >= in_force - RELEASE_TOLERANCE_A:
        return None
    if in_force <= draw + DRAW_MARGIN_A + DEMAND_HYSTERESIS_A:
        cap = math.floor(in_force)  # within the band: keep the limit in force (hysteresis)
    else:
        cap = math.ceil(draw + DRAW_MARGIN_A)
    return max(cap, minimum)


# Enum members looked up once (attribute access on an Enum class is slow before 3.12).
_AC1: Final = PowerType.AC_1_PHASE
_DC: Final = PowerType.DC
_WATTS: Final = RateUnit.WATTS
_AMPERES: Final = RateUnit.AMPERES
_PHASE_INDEX: Final = {Phase.L1: 0, Phase.L2: 1, Phase.L3: 2}
_ONE_PHASE: Final = ((1, 0, 0), (0, 1, 0), (0, 0, 1))
_THREE_PHASES: Final = (1, 1, 1)


def _describe(load: ConnectorLoad, phase_voltage: int) -> tuple[int, int, int, int]:
    """Watts per level, minimum level, level cap (hardware, profile, demand), and the phase
    loaded (0 to 2; 3: all)."""
    wattage_limit = load.wattage_limit
    power_type = load.power_type
    if power_type is _DC:
        watts = 3 * phase_voltage
        minimum = -(-(DC_MINIMUM_W if load.minimum is None else load.minimum) // watts)
        own_w = load.voltage * load.amperage
        if wattage_limit is not None and wattage_limit < own_w:
            own_w = wattage_limit
        cap = own_w // watts
        phase = 3
    else:
        if power_type is _AC1:
            watts = load.voltage
            phase = _PHASE_INDEX[load.phase]
        else:
            watts = 3 * load.voltage
            phase = 3
        minimum = MIN_AC_CURRENT_A if load.minimum is None else load.minimum
        cap = load.amperage
        if wattage_limit is not None and wattage_limit // watts < cap:
            cap = wattage_limit // watts
    limit = load.profile_limit
    if limit is not None:
        cap = min(cap, limit.value // watts if limit.unit is _WATTS else limit.value)
    if load.suspended_ev or (load.observed is not None and load.previous is not None):
        demand = _demand_cap(load, watts if power_type is _DC else 1, minimum)
        if demand is not None and demand < cap:
            cap = demand
    return watts, minimum, cap, phase


def allocate(limit: AreaLimit, loads: Iterable[ConnectorLoad]) -> AreaAllocation:
    """Share ``limit`` among ``loads`` (see the module docstring for the rules)."""
    ordered = sorted(loads, key=_arrival)
    count = len(ordered)
    capacity = [limit.current_a or 0] * 3 + [limit.power_w or 0]
    active = [limit.current_a is not None] * 3 + [limit.power_w is not None]
    resources = [r for r in range(_RESOURCES) if active[r]]
    watts = [0] * count
    minimums = [0] * count
    caps = [0] * count
    phase_loads: list[tuple[int, int, int]] = [_THREE_PHASES] * count
    uses: list[tuple[tuple[int, int], ...]] = [()] * count
    levels = [0] * count
    states: list[AllocationState] = [AllocationState.PAUSED] * count
    status = bytearray([_FROZEN]) * count
    usage = [0] * _RESOURCES

    phases_on = limit.current_a is not None
    power_on = limit.power_w is not None
    phase_uses: tuple[tuple[tuple[int, int], ...], ...] = (
        (((0, 1),), ((1, 1),), ((2, 1),), ((0, 1), (1, 1), (2, 1)))
        if phases_on
        else ((), (), (), ())
    )
    pinned = AllocationState.PINNED
    phase_voltage = limit.phase_voltage
    for i, load in enumerate(ordered):
        watts[i], minimums[i], caps[i], phase = _describe(load, phase_voltage)
        if phase < 3:
            phase_loads[i] = _ONE_PHASE[phase]
        uses[i] = (*phase_uses[phase], (3, watts[i])) if power_on else phase_uses[phase]
        if load.pinned and load.previous is not None:
            # Counted at its limit in force, whatever else happens (DC rounded up).
            previous = load.previous
            levels[i] = -(-previous // watts[i]) if load.power_type is _DC else previous
            states[i] = pinned
            for r, cost in uses[i]:
                usage[r] += cost * levels[i]

    admitted = _admit(
        states=states,
        minimums=minimums,
        caps=caps,
        uses=uses,
        usage=usage,
        capacity=capacity,
        status=status,
    )
    if admitted:
        fill = _WaterFill(capacity, resources, uses, minimums, caps, levels, status, usage)
        fill.run(admitted)
    return _result(ordered, states, levels, watts, phase_loads)


def _admit(
    *,
    states: list[AllocationState],
    minimums: list[int],
    caps: list[int],
    uses: list[tuple[tuple[int, int], ...]],
    usage: list[int],
    capacity: list[int],
    status: bytearray,
) -> list[int]:
    """The queue: admit in arrival order while everyone admitted fits at their minimum;
    from the first that does not, everyone after waits. Returns the admitted ranks."""
    admitted: list[int] = []
    queue_open = True
    pinned, held, charging = AllocationState.PINNED, AllocationState.HELD, AllocationState.CHARGING
    for i, state in enumerate(states):
        if state is pinned:
            continue
        minimum = minimums[i]
        if caps[i] < minimum:
            states[i] = held
            continue
        if queue_open:
            for r, cost in uses[i]:
                if usage[r] + cost * minimum > capacity[r]:
                    queue_open = False
                    break
            else:
                for r, cost in uses[i]:
                    usage[r] += cost * minimum
                states[i] = charging
                status[i] = _WAITING
                admitted.append(i)
    return admitted


@attrs.define
class _WaterFill:
    """Raise the admitted connectors' level together, by events rather than steps, until
    each meets its cap or a full resource.

    Each connector starts at its minimum and joins the rising level once that level reaches
    it, so a connector with a higher minimum (6 A beside a DC charger's 0) keeps it. When a
    resource cannot raise all its rising users by one more ampere, they are taken in arrival
    order: each that still fits everywhere goes up and keeps rising, the others stop. The
    result is work-conserving and max-min fair up to that one-ampere rounding.

    ``fixed`` holds what the connectors not rising use (pinned ones at their limit, waiting
    ones at their minimum, frozen ones at their level); ``rising`` the summed costs of those
    rising, all at one common level, which they are given when they freeze.
    """

    capacity: list[int]
    resources: list[int]
    uses: list[tuple[tuple[int, int], ...]]
    minimums: list[int]
    caps: list[int]
    levels: list[int]
    status: bytearray
    fixed: list[int]
    rising: list[int] = attrs.field(factory=lambda: [0] * _RESOURCES)
    users: list[list[int]] = attrs.field(factory=lambda: [[] for _ in range(_RESOURCES)])
    remaining: int = 0

    def run(self, admitted: list[int]) -> None:
        levels, minimums, caps, status = self.levels, self.minimums, self.caps, self.status
        uses, users, fixed, rising = self.uses, self.users, self.fixed, self.rising
        for i in admitted:
            for r, _cost in uses[i]:
                users[r].append(i)
        by_minimum = sorted(admitted, key=minimums.__getitem__)
        by_cap = sorted(admitted, key=caps.__getitem__)
        total = self.remaining = len(admitted)
        next_join = next_cap = 0
        while self.remaining:
            while status[by_cap[next_cap]] == _FROZEN:
                next_cap += 1
            level_cap = caps[by_cap[next_cap]]
            level_full = self.full_level()
            lowest = level_cap if level_full is None else min(level_cap, level_full)
            if next_join < total and minimums[by_minimum[next_join]] <= lowest:
                next_join = self.join(by_minimum, next_join)
            elif level_full is None or level_cap <= level_full:
                # Everyone still rising reaches the lowest cap first: stop those at it.
                stopped = 0
                while next_cap < total and caps[by_cap[next_cap]] == level_cap:
                    i = by_cap[next_cap]
                    if status[i] != _FROZEN:  # then rising: a waiting one's cap is higher
                        status[i] = _FROZEN
                        levels[i] = level_cap
                        for r, cost in uses[i]:
                            rising[r] -= cost
                            fixed[r] += cost * level_cap
                        stopped += 1
                    next_cap += 1
                self.remaining -= stopped
            else:
                self.step(level_full)

    def full_level(self) -> int | None:
        """The highest level all rising connectors can reach together (``None``: none is
        rising)."""
        capacity, fixed, rising = self.capacity, self.fixed, self.rising
        best: int | None = None
        for r in self.resources:
            if rising[r]:
                level = (capacity[r] - fixed[r]) // rising[r]
                if best is None or level < best:
                    best = level
        return best

    def join(self, by_minimum: list[int], position: int) -> int:
        """The rising level reaches the minimum of the connectors from ``position`` on:
        they rise from here on. Returns the position after them."""
        minimums, status, uses, fixed, rising = (
            self.minimums,
            self.status,
            self.uses,
            self.fixed,
            self.rising,
        )
        level = minimums[by_minimum[position]]
        while position < len(by_minimum) and minimums[by_minimum[position]] == level:
            i = by_minimum[position]  # still waiting: nothing freezes before it joins
            status[i] = _RISING
            for r, cost in uses[i]:
                fixed[r] -= cost * level
                rising[r] += cost
            position += 1
        return position

    def freeze(self, i: int, level: int) -> None:
        self.status[i] = _FROZEN
        self.levels[i] = level
        fixed, rising = self.fixed, self.rising
        for r, cost in self.uses[i]:
            rising[r] -= cost
            fixed[r] += cost * level
        self.remaining -= 1

    def step(self, level: int) -> None:
        """Every rising connector is at ``level``, and some resources (the *tied* ones)
        cannot raise all their rising users by one more ampere. Those users are taken in
        arrival order: each that fits everywhere gets the ampere, the others stop at
        ``level``. Then everyone still rising is at ``level + 1``."""
        capacity, fixed, rising, status, uses = (
            self.capacity,
            self.fixed,
            self.rising,
            self.status,
            self.uses,
        )
        candidates: set[int] = set()
        for r in self.resources:
            if rising[r] and (capacity[r] - fixed[r]) // rising[r] == level:
                self.users[r] = [i for i in self.users[r] if status[i] != _FROZEN]
                candidates.update(i for i in self.users[r] if status[i] == _RISING)
        lifted: list[int] = []
        for i in sorted(candidates):  # indexes are ranks in arrival order
            fits = level < self.caps[i]
            if fits:
                for r, cost in uses[i]:
                    if capacity[r] - fixed[r] - level * rising[r] < cost:
                        fits = False
                        break
            if fits:
                lifted.append(i)  # book the extra ampere as fixed until the level catches up
                for r, cost in uses[i]:
                    fixed[r] += cost
            else:
                self.freeze(i, level)
        for i in lifted:
            for r, cost in uses[i]:
                fixed[r] -= cost


def _result(
    ordered: list[ConnectorLoad],
    states: list[AllocationState],
    levels: list[int],
    watts: list[int],
    phase_loads: list[tuple[int, int, int]],
) -> AreaAllocation:
    count = len(ordered)
    sent = [0] * count
    units = [_AMPERES] * count
    phases = [3] * count
    powers = [0] * count
    l1 = l2 = l3 = 0
    charging, pinned = AllocationState.CHARGING, AllocationState.PINNED
    for i, load in enumerate(ordered):
        state = states[i]
        power_type = load.power_type
        if power_type is _DC:
            units[i] = _WATTS
        elif power_type is _AC1:
            phases[i] = 1
        if state is not charging and state is not pinned:
            levels[i] = 0
            continue
        level = levels[i]
        if power_type is _DC:
            sent[i] = powers[i] = (load.previous or 0) if state is pinned else level * watts[i]
        else:
            sent[i] = level
            powers[i] = level * watts[i]
        a, b, c = phase_loads[i]
        l1 += a * level
        l2 += b * level
        l3 += c * level
    return AreaAllocation(
        tuple(load.connector_id for load in ordered),
        tuple(sent),
        tuple(units),
        tuple(states),
        tuple(phases),
        tuple(levels),
        tuple(powers),
        (l1, l2, l3),
        sum(powers),
    )

"""Benchmark: the load-balancing allocator on areas of 10 to 10 000 connectors.

For each size N it builds one area, seeded so every run sees the same inputs:

- connectors: 45 % three-phase AC, 45 % single-phase AC spread over L1/L2/L3, 10 % DC;
  amperages 10 to 63 A (DC 50 to 350 kW), a wattage limit on one in five, a charger profile
  limit (A or W) on one in four;
- EVs: one in ten SuspendedEV, half with a meter reading somewhere between 20 % and 110 % of
  the limit in force, the others without a reading yet; arrivals in random order;
- the area: 9 A per phase and 6 kW per connector up to 1000 connectors, so the phases and
  the power are both contended and connectors stop at caps, at phase limits and at the
  power limit; at 10 000 connectors 2 A and 3 kW per connector, so a queue forms too.

It times :func:`~evcharge_core.domain.allocation.allocate`, ``--repeat`` times, and prints
the best and the median of the wall-clock time and of the process's CPU time (on a shared
machine the CPU time is the steadier figure). It also times allocate followed by
:func:`~evcharge_core.domain.allocation.allocation_changes`, as the balancer runs them, in
two cases: *steady* (the stations already have the computed limits: nothing to send, the
usual case when a meter value arrives) and *all new* (nearly every limit changes, as after
a restart), and prints their CPU medians. Target: under 5 ms for 1000 connectors. Nothing
is asserted: the figures are for a person.

    python bench/allocate.py [--sizes 10,100,1000,10000] [--repeat 30] [--json]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable

from evcharge_core.domain.allocation import (
    AreaLimit,
    ConnectorLoad,
    Phase,
    allocate,
    allocation_changes,
)
from evcharge_core.domain.profiles import ProfileLimit, RateUnit
from evcharge_core.domain.values import PowerType

TARGET_MS = {1000: 5.0}


def build(count: int, seed: int = 6) -> tuple[AreaLimit, list[ConnectorLoad]]:
    rnd = random.Random(seed)
    loads: list[ConnectorLoad] = []
    arrivals = list(range(count))
    rnd.shuffle(arrivals)
    for index in range(count):
        kind = rnd.random()
        if kind < 0.45:
            power_type, voltage, amperage = PowerType.AC_3_PHASE, 230, rnd.choice([16, 32, 63])
        elif kind < 0.9:
            power_type, voltage, amperage = PowerType.AC_1_PHASE, 230, rnd.choice([10, 16, 32])
        else:
            power_type, voltage, amperage = PowerType.DC, 800, rnd.choice([63, 125, 200, 437])
        wattage = rnd.choice([None, None, None, None, amperage * voltage])
        profile = None
        if rnd.random() < 0.25:
            profile = rnd.choice(
                [
                    ProfileLimit(rnd.randint(6, 32), RateUnit.AMPERES),
                    ProfileLimit(rnd.randint(3_000, 50_000), RateUnit.WATTS),
                ]
            )
        scale = 690 if power_type is PowerType.DC else 1
        previous = rnd.randint(6, 40) * scale
        observed = previous * rnd.uniform(0.2, 1.1) if rnd.random() < 0.5 else None
        loads.append(
            ConnectorLoad(
                f"c{index}",
                arrivals[index],
                power_type,
                voltage,
                amperage,
                wattage,
                phase=Phase(index % 3),
                profile_limit=profile,
                observed=observed,
                suspended_ev=rnd.random() < 0.1,
                previous=previous,
            )
        )
    area = AreaLimit(current_a=9 * count, power_w=6_000 * count)
    if count >= 10_000:
        area = AreaLimit(current_a=2 * count, power_w=3_000 * count)  # contended: a queue forms
    return area, loads


def _timed(action: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of one call."""
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(count: int, repeat: int) -> dict[str, object]:
    area, loads = build(count)
    allocate(area, loads)  # warm-up
    steady = allocate(area, loads).limits()  # the stations already have these limits
    restart = {load.connector_id: load.previous or 0 for load in loads}  # nearly all differ
    alone = [_timed(lambda: allocate(area, loads)) for _ in range(repeat)]
    unchanged = [
        _timed(lambda: allocation_changes(steady, allocate(area, loads))) for _ in range(repeat)
    ]
    all_new = [
        _timed(lambda: allocation_changes(restart, allocate(area, loads))) for _ in range(repeat)
    ]
    result = allocate(area, loads)
    wall = [w for w, _ in alone]
    cpu = [c for _, c in alone]
    return {
        "connectors": count,
        "wall_best_ms": min(wall) * 1000,
        "wall_median_ms": statistics.median(wall) * 1000,
        "cpu_best_ms": min(cpu) * 1000,
        "cpu_median_ms": statistics.median(cpu) * 1000,
        "steady_cpu_median_ms": statistics.median(c for _, c in unchanged) * 1000,
        "all_new_cpu_median_ms": statistics.median(c for _, c in all_new) * 1000,
        "all_new_changes": len(allocation_changes(restart, result)),
        "states": dict(Counter(a.state.value for a in result)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000,10000")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    rows = [measure(int(size), args.repeat) for size in args.sizes.split(",")]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(
        f"{'connectors':>10}  {'wall best':>9}  {'median':>7}  {'CPU best':>8}  {'median':>7}"
        f"  {'steady':>7}  {'all new':>7}  {'target':>7}  states"
    )
    for row in rows:
        count = int(str(row["connectors"]))
        target = f"<{TARGET_MS[count]:g} ms" if count in TARGET_MS else ""
        states = row["states"]
        assert isinstance(states, dict)
        shown = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        print(
            f"{count:>10}  {row['wall_best_ms']:>9.2f}  {row['wall_median_ms']:>7.2f}"
            f"  {row['cpu_best_ms']:>8.2f}  {row['cpu_median_ms']:>7.2f}"
            f"  {row['steady_cpu_median_ms']:>7.2f}  {row['all_new_cpu_median_ms']:>7.2f}"
            f"  {target:>7}  {shown}"
        )
    print(
        "milliseconds per allocate() call; steady / all new: allocate() and allocation_changes()"
        " (CPU median) when the stations already have the limits / when nearly all change"
    )


if __name__ == "__main__":
    main()

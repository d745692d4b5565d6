"""Benchmark: one load-balancing recomputation by the balancer, storage reads included.

For each size N it stores one area limited to 9 A per phase per connector, N stations of one
connector each (half three-phase 32 A, half single-phase 32 A over L1/L2/L3), each with an
active transaction and one meter value report (three phase currents) and times
:meth:`Balancer.recompute <evcharge_core.balancing.Balancer.recompute>` with a command
service that accepts every TxProfile at once (no network): the *first* computation (every
connector is sent its limit) and a *steady* one (nothing changed: what a meter value or a
status report costs). It prints the median wall-clock time and the share of it the
allocator itself took. ``--db`` chooses the repository: ``memory`` (default) or ``sqlite``
(a file in a temporary directory). Nothing is asserted: the figures are for a person.

    python bench/balance.py [--sizes 10,100,1000] [--repeat 10] [--db memory|sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.adapters.sqlite import SQLiteRepository
from evcharge_core.balancing import Balancer
from evcharge_core.domain.model import Area, Charger, Connector, Station
from evcharge_core.domain.transactions import MeterSample, Transaction
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType
from evcharge_core.ports import Repository

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class AcceptAll:
    """A CommandService stand-in that accepts every profile at once."""

    sent = 0

    def is_connected(self, station_id: str) -> bool:
        return True

    async def set_charging_profile(
        self, station_id: str, connector_id: int, profile: Mapping[str, Any], **_: Any
    ) -> str:
        self.sent += 1
        return "Accepted"


def _station(n: int) -> Station:
    power_type = PowerType.AC_3_PHASE if n % 2 else PowerType.AC_1_PHASE
    connector = Connector(
        id=f"k{n}", ocpp_id=1, code="K1", name="K1", standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET, power_type=power_type, voltage=230, amperage=32,
    )  # fmt: skip
    charger = Charger(id=f"c{n}", evse_id=1, code=f"C{n}", name="C", connectors=(connector,))
    return Station(id=f"S{n}", name=f"S{n}", code=f"S{n}", area_id="a", chargers=(charger,))


async def _seed(repository: Repository, count: int) -> None:
    async with repository.transaction() as tx:
        area = Area(id="a", name="A", latitude=0, longitude=0, output_limit_a=9 * count)
        await tx.areas.save(area)
        await tx.stations.save_many([_station(n) for n in range(count)])
    async with repository.transaction() as tx:
        for n in range(count):
            started = T0 + timedelta(seconds=n)
            await tx.transactions.save(Transaction(f"S{n}", str(n + 1), 1, "TAG", started, 0))
            samples = [
                MeterSample(started, 12.0 + n % 7, "Current.Import", "A", phase)
                for phase in ("L1", "L2", "L3")
            ]
            await tx.meter_values.add(f"S{n}", 1, str(n + 1), samples)


async def measure(count: int, repeat: int, db: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as directory:
        repository: Repository
        if db == "sqlite":
            repository = await SQLiteRepository.open(Path(directory) / "bench.db")
        else:
            repository = InMemoryRepository()
        await _seed(repository, count)
        first: list[float] = []
        steady: list[float] = []
        allocator: list[float] = []
        try:
            for _ in range(repeat):
                commands = AcceptAll()
                balancer = Balancer(repository, commands, clock=lambda: T0)  # type: ignore[arg-type]
                started = time.perf_counter()
                await balancer.recompute("a")
                first.append(time.perf_counter() - started)
                assert commands.sent == count
                started = time.perf_counter()
                view = await balancer.recompute("a")
                steady.append(time.perf_counter() - started)
                assert commands.sent == count
                assert view is not None
                allocator.append(view.compute_s)
                await balancer.aclose()
        finally:
            await repository.close()
    return {
        "connectors": count,
        "first_ms": statistics.median(first) * 1000,
        "steady_ms": statistics.median(steady) * 1000,
        "read_and_allocate_ms": statistics.median(allocator) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--db", choices=["memory", "sqlite"], default="memory")
    args = parser.parse_args()
    print(f"balancer recompute, {args.db} repository (median of {args.repeat})")
    print(f"{'connectors':>10} {'first (all sent)':>17} {'steady':>10} {'read+allocate':>14}")
    for size in args.sizes.split(","):
        row = asyncio.run(measure(int(size), args.repeat, args.db))
        print(
            f"{row['connectors']:>10} {row['first_ms']:>14.1f} ms {row['steady_ms']:>7.1f} ms"
            f" {row['read_and_allocate_ms']:>11.1f} ms"
        )


if __name__ == "__main__":
    main()

"""Benchmark: the operator's lists and map over a SQLite database of many stations.

Stores ``--stations`` active stations (two chargers of one or two connectors each, in 50
areas) in a fresh SQLite file, then times, each the median of ``--repeat`` runs:

* ``GET``-equivalent library calls: a page of the station list, a page of the charger list
  (computed from the station list, see :mod:`evcharge_core.listing`), a filtered charger
  page, the charger CSV export, and the map (driver view, nearest first, with a power
  filter);
* the same on a repository opened afresh each time (no station cache: the cold case, as
  after a restart).

Figures, never assertions: the machines are shared and noisy.

    python bench/operator_lists.py [--stations 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from evcharge_core.adapters.sqlite import SQLiteRepository
from evcharge_core.domain.charger_map import MapQuery
from evcharge_core.domain.model import Area, Charger, Connector, Station
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType, Protocol
from evcharge_core.listing import ChargerQuery, ChargerSortKey
from evcharge_core.ports import StationQuery
from evcharge_core.service import StationService


def _connector(station: int, n: int) -> Connector:
    return Connector(
        id=f"k{station}-{n}",
        ocpp_id=n,
        code=str(n),
        name=f"Connector {n}",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=16 if n % 2 else 32,
    )


def stations(count: int) -> list[Station]:
    made = []
    for n in range(count):
        chargers = (
            Charger(id=f"c{n}-1", evse_id=1, code=f"C{n}-1", name=f"Charger {n} A",
                    connectors=(_connector(n, 1),)),
            Charger(id=f"c{n}-2", evse_id=2, code=f"C{n}-2", name=f"Charger {n} B",
                    connectors=(_connector(n, 2), _connector(n, 3))),
        )  # fmt: skip
        made.append(
            Station(
                id=f"ST{n:06d}",
                name=f"Station {n}",
                code=f"ST{n:06d}",
                protocol=Protocol.OCPP16,
                area_id=f"area-{n % 50}",
                chargers=chargers,
            )
        )
    return made


async def seed(path: Path, count: int) -> None:
    repository = await SQLiteRepository.open(str(path))
    try:
        async with repository.transaction() as tx:
            for a in range(50):
                await tx.areas.save(
                    Area(id=f"area-{a}", name=f"Area {a}", latitude=59.0 + a / 100,
                         longitude=10.0 + a / 100)
                )  # fmt: skip
            await tx.stations.save_many(stations(count))
    finally:
        await repository.close()


async def timed(call: Callable[[], Awaitable[object]], repeat: int) -> float:
    runs = []
    for _ in range(repeat):
        started = time.perf_counter()
        await call()
        runs.append(time.perf_counter() - started)
    return statistics.median(runs)


async def main(count: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "bench.db"
        await seed(path, count)
        repository = await SQLiteRepository.open(str(path))
        service = StationService(repository)
        cases: dict[str, Callable[[StationService], Awaitable[object]]] = {
            "station list, page of 50": lambda s: s.list_stations(StationQuery()),
            "charger list, page of 50": lambda s: s.list_chargers(ChargerQuery()),
            "charger list, search + sort by power": lambda s: s.list_chargers(
                ChargerQuery(search="charger 4", sort=ChargerSortKey.MAX_POWER, descending=True)
            ),
            "charger list, one area": lambda s: s.list_chargers(ChargerQuery(area_id="area-7")),
            "charger CSV export (all)": lambda s: s.export_chargers_csv(ChargerQuery()),
            "map, nearest first, >= 20 kW": lambda s: s.map_chargers(
                MapQuery(latitude=59.2, longitude=10.2, min_power_w=20_000)
            ),
        }
        try:
            print(f"{count} stations, {3 * count} connectors, SQLite; median of {repeat} runs")
            await service.list_stations(StationQuery(page_size=1000))  # warm the cache
            for name, case in cases.items():
                warm = await timed(lambda case=case: case(service), repeat)  # type: ignore[misc]

                async def cold(case: Callable[[StationService], Awaitable[object]] = case) -> None:
                    fresh = await SQLiteRepository.open(str(path))
                    try:
                        await case(StationService(fresh))
                    finally:
                        await fresh.close()

                chilled = await timed(cold, repeat)
                print(f"  {name:40s} warm {warm * 1000:8.1f} ms   cold {chilled * 1000:8.1f} ms")
        finally:
            await repository.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stations", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    arguments = parser.parse_args()
    asyncio.run(main(arguments.stations, arguments.repeat))

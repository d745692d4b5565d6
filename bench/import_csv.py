"""Benchmark: a generated 5000-row CSV imported into a fresh SQLite database.

Prints rows/s and seconds for validation alone, for validation plus hashing plus commit
(``StationService.import_csv``), and for the whole ``evcharge import-stations`` process,
start-up included. Targets on the project's 2-core machine: the import itself under 0.2 s,
the whole process under 1 s. Figures, never assertions: the machines are shared and noisy.

    python bench/import_csv.py [--rows 5000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HEADER = (
    "Station ID;Security code;Manufacturer;Article number;Wi-Fi supported;GSM supported;"
    "Connector type;Format;Power type;Voltage;Amperage;Serial number"
)


def generate(rows: int) -> str:
    """``rows`` data rows: most stations have one connector row, every fifth has two."""
    lines = [HEADER]
    n = 0
    while len(lines) <= rows:
        sid = f"ST{n:07d}"
        lines.append(
            f"{sid};SC-{n:06d}-Q;Alfen;ICU-EVE;yes;no;Type 2;Socket;Three-phase AC;230;16;SN{n:09d}"
        )
        if n % 5 == 0 and len(lines) <= rows:
            lines.append(f"{sid};SC-{n:06d}-Q;Alfen;ICU-EVE;yes;no;CCS2;Cable;DC;400;125;SN{n:09d}")
        n += 1
    return "\n".join(lines) + "\n"


def best_of(repeat: int, fn: Callable[[], float]) -> tuple[float, float]:
    times = [fn() for _ in range(repeat)]
    return min(times), statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    from evcharge_core.adapters.sqlite import SQLiteRepository
    from evcharge_core.importing import parse_csv
    from evcharge_core.service import StationService

    text = generate(args.rows)
    data = text.encode()
    tmp = Path(tempfile.mkdtemp(prefix="evcharge-bench-"))

    def validate() -> float:
        start = time.perf_counter()
        batch = parse_csv(data)
        elapsed = time.perf_counter() - start
        assert not batch.errors, batch.errors[:3]
        return elapsed

    counter = iter(range(10**6))

    def full_import() -> float:
        path = tmp / f"import-{next(counter)}.db"

        async def go() -> float:
            repo = await SQLiteRepository.open(path)
            service = StationService(repo)
            start = time.perf_counter()
            await service.import_csv(data)
            elapsed = time.perf_counter() - start
            await repo.close()
            return elapsed

        return asyncio.run(go())

    def process() -> float:
        path = tmp / f"process-{next(counter)}.db"
        csv_path = tmp / "stations.csv"
        csv_path.write_bytes(data)
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "evcharge_core",
                "import-stations",
                str(csv_path),
                "--db",
                str(path),
            ],
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - start

    print(f"{args.rows} rows ({len(data) / 1e6:.2f} MB), best and median of {args.repeat}")
    for name, fn, target in (
        ("validation alone", validate, None),
        ("validation + hashing + commit", full_import, 0.2),
        ("whole `evcharge import-stations` process", process, 1.0),
    ):
        best, median = best_of(args.repeat, fn)
        goal = f"  (target < {target} s)" if target else ""
        print(
            f"  {name:42s} best {best:7.3f} s  median {median:7.3f} s"
            f"  {args.rows / best:10,.0f} rows/s{goal}"
        )


if __name__ == "__main__":
    main()

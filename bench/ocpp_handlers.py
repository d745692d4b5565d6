"""Benchmark: the server's CPU cost per OCPP message, without the network.

``bench/ocpp_load.py`` measures the whole server under load, but two processes share the
machine's cores and its figures move by 10 to 20 % from one run to the next. This one
measures the part of the server that is ours, in one process: N stations of the
``--protocol`` (``ocpp1.6``, the default, or ``ocpp2.0.1``), each given the session that
``python -m evcharge_core.serve`` gives a connection of that protocol (the gateway's
session factory from :func:`~evcharge_core.serve.build_core`: SQLite storage, the
Prometheus observer), are fed the same frames as the load benchmark's stations send
(Heartbeat, StatusNotification, MeterValues), all N at once, one CALL in flight per station.
It prints, for each action alone and for the three in turn, the CPU time per message (best
and median of ``--repeat`` rounds) and messages per CPU second. What it leaves out is the
websocket layer (framing, the event loop's socket I/O).

With ``--db postgresql://...`` the sessions store in a fresh PostgreSQL database created on
that server for the run and dropped after it (the URL's own database only serves to create
and drop it). The CPU time is this process's alone: the database server's is not counted, so
compare the wall-clock messages/s line, printed too.

    python bench/ocpp_handlers.py [--protocol ocpp1.6|ocpp2.0.1] [--stations 1000]
                                  [--rounds 5] [--repeat 5]
                                  [--calls Heartbeat,StatusNotification,...] [--json]
                                  [--db postgresql://postgres@127.0.0.1/postgres]

Each round sends ``--rounds`` CALLs from every station; the first round is a warm-up, not
measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from evcharge_core.bootstrap import display_db_url, open_repository
from evcharge_core.domain.values import Protocol
from evcharge_core.observability import PrometheusObserver
from evcharge_core.ports import SessionContext, StationSession
from evcharge_core.serve import build_core
from evcharge_core.service import StationService

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
from ocpp_load import (  # noqa: E402 - the frames and database helpers live beside us
    ACTIONS,
    BOOT_FRAMES,
    FRAMES,
    PROTOCOLS,
    create_database,
    drop_database,
)

MIXES: dict[str, tuple[str, ...]] = {
    **{action: (action,) for action in ACTIONS},
    "all three in turn": ACTIONS,
}


class UnexpectedAnswer(RuntimeError):
    """A session answered a benchmark frame with something other than a CALLRESULT."""


async def _send(_text: str) -> None:
    return None


async def _close(_code: int, _reason: str) -> None:
    return None


def _check(protocol: str, sent: str, reply: str | None) -> None:
    if reply is None or not reply.startswith("[3,"):
        raise UnexpectedAnswer(
            f"the server's {protocol} session answered {sent[:60]}... with {reply!r}; "
            f"is OCPP {protocol.removeprefix('ocpp')} handling wired into serve.build_core?"
        )


async def _measure(
    db: str,
    count: int,
    rounds: int,
    repeat: int,
    mixes: dict[str, tuple[str, ...]],
    *,
    protocol: str = "ocpp1.6",
) -> dict[str, tuple[list[float], list[float]]]:
    """Per mix: CPU seconds per message and wall-clock seconds per message, per repeat."""
    repository = await open_repository(db)
    try:
        service = StationService(repository)
        ids = [f"bench-{i:05d}" for i in range(count)]
        for station_id in ids:
            await service.create_station({"id": station_id, "protocol": protocol})
        observer = PrometheusObserver(CollectorRegistry())
        core = build_core(repository, observer=observer)
        sessions: list[StationSession] = []
        boot = BOOT_FRAMES[protocol].decode()
        for station_id in ids:
            station = await service.get_station(station_id)
            context = SessionContext(station, Protocol(protocol), protocol, _send, _close)
            session = core.gateway.session_factory(context)
            await session.on_open()
            reply = await session.on_message(boot)
            _check(protocol, boot, reply)
            if '"Accepted"' not in (reply or ""):
                raise UnexpectedAnswer(f"BootNotification not accepted: {reply}")
            sessions.append(session)
        results: dict[str, tuple[list[float], list[float]]] = {}
        for name, actions in mixes.items():
            templates = [FRAMES[protocol][action] for action in actions]

            async def station(
                session: StationSession,
                offset: int,
                calls: int,
                templates: list[Any] = templates,
            ) -> None:
                for n in range(calls):
                    sent = templates[(offset + n) % len(templates)].render(n).decode()
                    _check(protocol, sent, await session.on_message(sent))

            async def round_of(calls: int) -> None:
                await asyncio.gather(*(station(s, i, calls) for i, s in enumerate(sessions)))

            await round_of(1)
            per_message, wall = [], []
            for _ in range(repeat):
                started, clock = time.process_time(), time.perf_counter()
                await round_of(rounds)
                per_message.append((time.process_time() - started) / (rounds * count))
                wall.append((time.perf_counter() - clock) / (rounds * count))
            results[name] = (per_message, wall)
        return results
    finally:
        await repository.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="ocpp1.6",
        help="the OCPP version the stations speak (default: ocpp1.6)",
    )
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--calls",
        default=",".join(MIXES),
        help="which of the rows to measure, comma-separated (default: all)",
    )
    parser.add_argument(
        "--db",
        help="a postgresql:// server to run on (a fresh database per run); default: a fresh "
        "SQLite file",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.db is not None and not args.db.startswith(("postgresql://", "postgres://")):
        parser.error("--db must be a postgresql:// or postgres:// URL")
    wanted = args.calls.split(",")
    unknown = [name for name in wanted if name not in MIXES]
    if unknown:
        parser.error(f"unknown --calls {unknown}; choose from {list(MIXES)}")
    mixes = {name: MIXES[name] for name in wanted}
    with tempfile.TemporaryDirectory() as workdir:
        db = str(Path(workdir) / "bench.db") if args.db is None else create_database(args.db)
        try:
            results = asyncio.run(
                _measure(
                    db,
                    args.stations,
                    args.rounds,
                    args.repeat,
                    mixes,
                    protocol=args.protocol,
                )
            )
        finally:
            if args.db is not None:
                drop_database(args.db, db)
    if args.json:
        print(
            json.dumps(
                {name: {"cpu_s": cpu, "wall_s": wall} for name, (cpu, wall) in results.items()},
                indent=2,
            )
        )
        return 0
    version = args.protocol.removeprefix("ocpp")
    storage = "SQLite" if args.db is None else f"PostgreSQL ({display_db_url(args.db)})"
    print(
        f"OCPP {version} sessions without the network, on {storage}: {args.stations} stations,"
        f" one CALL in flight each, {args.rounds} CALLs per station per round, best and median"
        f" of {args.repeat}"
    )
    print(
        f"{'CALLs':<20} {'best µs/msg':>12} {'median µs/msg':>14} {'msgs/CPU s':>11}"
        f" {'msgs/s (wall)':>14}"
    )
    print("-" * 75)
    for name, (figures, wall) in results.items():
        best, median = min(figures), statistics.median(figures)
        row: list[Any] = [name, best * 1e6, median * 1e6, 1 / best, 1 / min(wall)]
        print(f"{row[0]:<20} {row[1]:>12.1f} {row[2]:>14.1f} {row[3]:>11,.0f} {row[4]:>14,.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmark: several server processes on one PostgreSQL database (SPEC §9).

Two measurements, figures only (the machines are shared and noisy):

1. **Command round trip across processes**, per bus. Two ``python -m evcharge_core.serve``
   processes on a fresh PostgreSQL database with ``--bus B``; one station (this script, a
   websocket client answering every CALL at once) connected to the second. ``--commands``
   TriggerMessage commands, one at a time, through the *first* process's admin API (routed
   to the second over the bus) and, for reference, through the second's own (local); p50
   and p99 in milliseconds. ``B``: ``postgres`` (LISTEN/NOTIFY) and ``nats`` (``--nats``).

2. **Total round trips/s of the load of ``bench/ocpp_load.py``** (its frames and stations:
   each station keeps one CALL in flight, Heartbeat, StatusNotification, MeterValues in
   turn), ``--stations`` stations (1000) spread round-robin over 1, 2 and 3 processes on
   PostgreSQL, with each bus, against one process on SQLite. The client is one process; on
   a small machine it shares the cores with the servers and the database, which bounds
   what more processes can add (the CPU columns show it).

    python bench/cluster.py [--db-url postgresql://postgres@127.0.0.1/postgres]
                            [--nats nats://127.0.0.1:4222] [--stations 1000]
                            [--duration 10] [--commands 300] [--processes 1,2,3]
                            [--no-round-trips] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

sys.path.insert(0, str(Path(__file__).resolve().parent))

import ocpp_load  # the load generator, reused

TOKEN = "bench-not-a-secret"
ADMIN_LINE = ocpp_load.re.compile(r"Admin API: (http://\S+)/api/")


@dataclass
class Node:
    process: subprocess.Popen[bytes]
    base_uri: str
    admin: str
    err: Path


def start(workdir: Path, name: str, db: str, bus: str) -> Node:
    command = [
        sys.executable, "-m", "evcharge_core.serve", "--db", db, "--bus", bus,
        "--node-id", name, "--host", "127.0.0.1", "--port", "0", "--admin-port", "0",
        "--admin-token", TOKEN,
    ]  # fmt: skip
    out, err = workdir / f"{name}.out", workdir / f"{name}.err"
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text = out.read_text()
        endpoint, admin = ocpp_load.ENDPOINT_LINE.search(text), ADMIN_LINE.search(text)
        if endpoint and admin and "Web console" in text:
            return Node(process, endpoint.group(1), admin.group(1), err)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    ocpp_load.stop_server(process)
    raise RuntimeError(f"{name} did not start:\n{err.read_text()[-2000:]}")


@contextlib.contextmanager
def cluster(workdir: Path, db: str, bus: str, count: int) -> Any:
    nodes: list[Node] = []
    try:
        nodes.extend(start(workdir, f"node{n}", db, bus) for n in range(count))
        yield nodes
    finally:
        for node in nodes:
            ocpp_load.stop_server(node.process)


@contextlib.contextmanager
def database(kind: str, server_url: str, workdir: Path, ids: Sequence[str]) -> Any:
    if kind == "sqlite":
        db = str(workdir / "bench.db")
        ocpp_load.create_stations(db, ids)
        yield db
        return
    db = ocpp_load.create_database(server_url)
    try:
        ocpp_load.create_stations(db, ids)
        yield db
    finally:
        ocpp_load.drop_database(server_url, db)


# --- 1. command round trips ------------------------------------------------------------------


@dataclass
class RoundTrips:
    bus: str
    path: str
    commands: int
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float


async def _answering_station(url: str, ready: asyncio.Event, stop: asyncio.Event) -> None:
    async with connect(url, subprotocols=[Subprotocol("ocpp1.6")]) as ws:
        await ws.send(ocpp_load.BOOT_FRAMES["ocpp1.6"].decode())
        await ws.recv()
        ready.set()
        while not stop.is_set():
            try:
                text = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            frame = json.loads(text)
            if frame[0] == 2:
                await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))


async def _library_commands(db: str, bus: str, station_id: str, count: int) -> list[float]:
    """Commands through a :class:`~evcharge_core.commands.CommandService` of a node in this
    process (no gateway of its own), routed over the bus: the bus's own cost."""
    from evcharge_core.bootstrap import open_repository
    from evcharge_core.cluster import open_cluster
    from evcharge_core.serve import build_core

    repository = await open_repository(db)
    node = await open_cluster(db, bus, node_id="bench-client")
    await node.start()
    try:
        commands = build_core(repository, cluster=node).commands
        for _ in range(10):
            await commands.trigger_message(station_id, "Heartbeat")
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            await commands.trigger_message(station_id, "Heartbeat")
            latencies.append(time.perf_counter() - started)
        return sorted(latencies)
    finally:
        await node.aclose()
        await repository.close()


async def _commands(admin: str, station_id: str, count: int) -> list[float]:
    latencies = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        url = f"{admin}/api/stations/{station_id}/trigger"
        for _ in range(10):  # warm up
            (await client.post(url, json={"message": "Heartbeat"})).raise_for_status()
        for _ in range(count):
            started = time.perf_counter()
            response = await client.post(url, json={"message": "Heartbeat"})
            latencies.append(time.perf_counter() - started)
            response.raise_for_status()
    return sorted(latencies)


def command_round_trips(server_url: str, bus: str, count: int) -> list[RoundTrips]:
    ids = ["rt-station"]
    with tempfile.TemporaryDirectory(prefix="evcharge-cluster-") as tmp:
        workdir = Path(tmp)
        with (
            database("postgres", server_url, workdir, ids) as db,
            cluster(workdir, db, bus, 2) as nodes,
        ):

            async def go() -> list[RoundTrips]:
                ready, stop = asyncio.Event(), asyncio.Event()
                station = asyncio.create_task(
                    _answering_station(nodes[1].base_uri + ids[0], ready, stop)
                )
                await asyncio.wait_for(ready.wait(), 30)
                results = []
                name = "nats" if bus.startswith("nats") else bus
                paths = (
                    ("library, routed", None),
                    ("admin API, routed", nodes[0]),
                    ("admin API, local", nodes[1]),
                )
                for path, node in paths:
                    if node is None:
                        lat = await _library_commands(db, bus, ids[0], count)
                    else:
                        lat = await _commands(node.admin, ids[0], count)
                    results.append(
                        RoundTrips(
                            name,
                            path,
                            len(lat),
                            _ms(ocpp_load.percentile(lat, 0.5)),
                            _ms(ocpp_load.percentile(lat, 0.99)),
                            1000 * sum(lat) / len(lat),
                        )
                    )
                stop.set()
                await station
                return results

            return asyncio.run(go())


def _ms(value: float | None) -> float | None:
    return None if value is None else value * 1000


# --- 2. the load over several processes ------------------------------------------------------


@dataclass
class Load:
    storage: str
    bus: str
    processes: int
    stations: int
    connected: int
    connect_s: float
    round_trips_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    servers_cpu_pct: float
    client_cpu_pct: float
    errors: int


async def _load(nodes: list[Node], ids: Sequence[str], duration: float, batch: int) -> Load:
    frames = [ocpp_load.FRAMES["ocpp1.6"][a] for a in ocpp_load.ACTIONS]
    gate = asyncio.Semaphore(batch)
    began = time.perf_counter()
    opened = await asyncio.gather(
        *(
            ocpp_load.open_station(nodes[i % len(nodes)].base_uri, sid, gate)
            for i, sid in enumerate(ids)
        ),
        return_exceptions=True,
    )
    connect_s = time.perf_counter() - began
    stations = [s for s in opened if isinstance(s, ocpp_load.Station)]
    pids = [n.process.pid for n in nodes]
    client_cpu = ocpp_load.own_cpu_seconds()
    server_cpu = sum(ocpp_load.cpu_seconds(p) for p in pids)
    t_start = time.perf_counter()
    t_end = t_start + duration
    tasks = [
        asyncio.create_task(ocpp_load.drive(s, frames, i, t_end)) for i, s in enumerate(stations)
    ]
    if tasks:
        _, unfinished = await asyncio.wait(tasks, timeout=duration + ocpp_load.OVERTIME)
        for task in unfinished:
            task.cancel()
    elapsed = time.perf_counter() - t_start
    client_cpu = ocpp_load.own_cpu_seconds() - client_cpu
    server_cpu = sum(ocpp_load.cpu_seconds(p) for p in pids) - server_cpu
    closing = [asyncio.create_task(s.ws.close()) for s in stations]
    if closing:
        await asyncio.wait(closing, timeout=30)
    latencies = sorted(x for s in stations for x in s.latencies)
    return Load(
        storage="",
        bus="",
        processes=len(nodes),
        stations=len(ids),
        connected=len(stations),
        connect_s=connect_s,
        round_trips_per_s=len(latencies) / duration,
        p50_ms=_ms(ocpp_load.percentile(latencies, 0.5)),
        p99_ms=_ms(ocpp_load.percentile(latencies, 0.99)),
        servers_cpu_pct=100 * server_cpu / elapsed,
        client_cpu_pct=100 * client_cpu / elapsed,
        errors=sum(s.errors + s.mismatched for s in stations),
    )


def load_run(
    storage: str, bus: str, processes: int, server_url: str, *, count: int, duration: float
) -> Load:
    ids = ocpp_load.station_ids(count)
    with tempfile.TemporaryDirectory(prefix="evcharge-cluster-") as tmp:
        workdir = Path(tmp)
        with (
            database(storage, server_url, workdir, ids) as db,
            cluster(workdir, db, bus, processes) as nodes,
        ):
            result = asyncio.run(_load(nodes, ids, duration, 100))
    result.storage = storage
    result.bus = "nats" if bus.startswith("nats") else bus
    return result


# --- output ----------------------------------------------------------------------------------


def _num(value: float | None, spec: str = ".1f") -> str:
    return "-" if value is None else format(value, spec)


def print_tables(trips: Sequence[RoundTrips], loads: Sequence[Load]) -> None:
    print("Command round trip (TriggerMessage through the admin API), 2 processes")
    print(f"{'bus':<9} {'path':<18} {'commands':>8} {'p50 ms':>7} {'p99 ms':>7} {'mean ms':>8}")
    for t in trips:
        print(
            f"{t.bus:<9} {t.path:<18} {t.commands:>8} {_num(t.p50_ms):>7} "
            f"{_num(t.p99_ms):>7} {_num(t.mean_ms):>8}"
        )
    print()
    print("Load: each station keeps one CALL in flight; stations spread round-robin")
    print(
        f"{'storage':<9} {'bus':<9} {'procs':>5} {'conn':>5} {'connect s':>9} {'rt/s':>7} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'servers CPU%':>12} {'client CPU%':>11} {'errors':>6}"
    )
    for r in loads:
        print(
            f"{r.storage:<9} {r.bus:<9} {r.processes:>5} {r.connected:>5} "
            f"{r.connect_s:>9.1f} {r.round_trips_per_s:>7.0f} {_num(r.p50_ms):>7} "
            f"{_num(r.p99_ms):>7} {r.servers_cpu_pct:>12.0f} {r.client_cpu_pct:>11.0f} "
            f"{r.errors:>6}"
        )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench/cluster.py", description=__doc__.split("\n")[0])
    parser.add_argument("--db-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--nats", default="nats://127.0.0.1:4222")
    parser.add_argument("--stations", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--commands", type=int, default=300)
    parser.add_argument("--processes", default="1,2,3")
    parser.add_argument("--no-round-trips", action="store_true", help="only the load")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    ocpp_load.raise_open_file_limit(args.stations + 512)
    buses = ["postgres", args.nats]
    trips: list[RoundTrips] = []
    for bus in [] if args.no_round_trips else buses:
        print(f"round trips, bus {bus} ...", file=sys.stderr, flush=True)
        trips.extend(command_round_trips(args.db_url, bus, args.commands))
    loads: list[Load] = []
    plan: list[tuple[str, str, int]] = [("sqlite", "local", 1), ("postgres", "local", 1)]
    for count in (int(n) for n in args.processes.split(",")):
        plan.extend(("postgres", bus, count) for bus in buses)
    for storage, bus, count in plan:
        print(f"load: {storage}, bus {bus}, {count} processes ...", file=sys.stderr, flush=True)
        loads.append(
            load_run(storage, bus, count, args.db_url, count=args.stations, duration=args.duration)
        )
    if args.json:
        json.dump(
            {"round_trips": [asdict(t) for t in trips], "load": [asdict(r) for r in loads]},
            sys.stdout,
            indent=2,
        )
        print()
    else:
        print_tables(trips, loads)


if __name__ == "__main__":
    main()

"""Benchmark: N OCPP stations, each with one CALL always in flight, against a server.

For each server and each N, a fresh server subprocess is started on 127.0.0.1, N stations
connect (at most ``--connect-batch`` handshakes at a time), offering the ``--protocol``
subprotocol (``ocpp1.6``, the default, or ``ocpp2.0.1``), and each sends a BootNotification
(not measured); then, for ``--duration`` seconds, every station sends Heartbeat,
StatusNotification and MeterValues in turn (in the protocol's shapes), the next CALL as soon
as the answer to the previous one arrived. Printed per server and N:

* connect storm: seconds until all N stations are connected and booted;
* round trips/s: answers received within the measured window, divided by its length;
* p50 / p99: latency of one round trip (send to answer), in milliseconds;
* RSS per station: the server's VmRSS after all N connected and booted minus before the
  first connected, divided by N, in KiB;
* CPU: the load client's and the server's CPU time over the measured window, as % of one
  core (a client near 100 % is the bottleneck, not the server);

and, last, ours/baseline of round trips/s for each N. The targets, at 1000 stations: at
least 2x the baseline's round trips/s, p99 under 250 ms, at most 60 KiB per connected
station. Figures, never assertions: the machines are shared and noisy.

The servers: ``ours`` is ``python -m evcharge_core.serve`` on a fresh SQLite database holding
the N stations (created through :class:`~evcharge_core.service.StationService`, with the
benchmark's protocol, security profile 0), or with ``--db-url postgresql://...`` on a fresh
PostgreSQL database created for each run on that server and dropped after it (the URL's own
database is only used to create and drop it; the ``postgres`` extra must be installed);
``baseline`` is ``bench/baseline_server.py --protocol P``, the ``ocpp`` package's
``ChargePoint`` (``ocpp.v16`` or ``ocpp.v201``) on ``websockets``, in memory. The client is
one asyncio process on ``websockets``' client, with pre-built frames (only the message ID
changes, and the timestamp of a 2.0.1 StatusNotification, which OCPP 2.0.1 requires) and no
schema validation, so that it stays cheaper than either server. It answers no CALL a server
sends (none is expected: the stations have no boot configuration); such CALLs are counted.

    python bench/ocpp_load.py [--protocol ocpp1.6|ocpp2.0.1] [--stations 1,100,1000]
                              [--duration 10] [--servers ours,baseline]
                              [--connect-batch 100] [--json]
                              [--calls Heartbeat,StatusNotification,MeterValues]
                              [--db-url postgresql://postgres@127.0.0.1/postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

BENCH_DIR = Path(__file__).resolve().parent
SERVERS = ("ours", "baseline")
PROTOCOLS = ("ocpp1.6", "ocpp2.0.1")
ENDPOINT_LINE = re.compile(r"OCPP websocket endpoint: (ws://\S+?)\{station_id\}")

TARGET_RATIO = 2.0
TARGET_P99_MS = 250.0
TARGET_RSS_KIB = 60.0
TARGET_STATIONS = 1000

SERVER_START_TIMEOUT = 30.0  # seconds until the endpoint line is printed
SERVER_STOP_TIMEOUT = 60.0  # seconds for a graceful stop before SIGKILL
OVERTIME = 15.0  # seconds a station may run past the window before it is cancelled
MAX_CALLS_PER_STATION = 10_000_000  # a bound on each station's loop besides the clock
MAX_SERVER_CALLS_SKIPPED = 10  # CSMS-initiated CALLs ignored while awaiting one answer
ERROR_CODES_PER_STATION = 3  # CallErrors parsed (for their code) per station; others counted

# --- the frames: built once, only the message ID (and a timestamp) is filled in ------------

METER_TIMESTAMP = "2025-01-01T00:00:00.000Z"
TIMESTAMP_MARK = "@@NOW@@"  # replaced by the send time, as a 2.0.1 StatusNotification needs
BOOT_PAYLOADS: dict[str, dict[str, Any]] = {
    "ocpp1.6": {
        "chargePointVendor": "evcharge-bench",
        "chargePointModel": "ocpp-load",
        "firmwareVersion": "1.0.0",
    },
    "ocpp2.0.1": {
        "chargingStation": {
            "vendorName": "evcharge-bench",
            "model": "ocpp-load",
            "firmwareVersion": "1.0.0",
        },
        "reason": "PowerUp",
    },
}


def _samples(*, v201: bool) -> list[dict[str, Any]]:
    """Two sampled values (energy register, power) in the protocol's shape."""
    samples = []
    for value, measurand, unit in (
        (123456, "Energy.Active.Import.Register", "Wh"),
        (7200, "Power.Active.Import", "W"),
    ):
        sample: dict[str, Any] = {"context": "Sample.Periodic", "measurand": measurand}
        if v201:
            sample.update(value=value, unitOfMeasure={"unit": unit})
        else:
            sample.update(value=str(value), unit=unit)
        samples.append(sample)
    return samples


#: The CALLs each station sends in turn, per protocol. OCPP 2.0.1: StatusNotification of
#: EVSE 1's connector 1 (its required timestamp is the send time) and MeterValues of EVSE 1,
#: the same work as the OCPP 1.6 mix; a TransactionEvent ``Updated`` would need a new seqNo
#: per message (a repeated one is a duplicate the server may skip) and an open transaction.
LOAD_CALLS: dict[str, tuple[tuple[str, dict[str, Any]], ...]] = {
    "ocpp1.6": (
        ("Heartbeat", {}),
        ("StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Available"}),
        (
            "MeterValues",
            {
                "connectorId": 1,
                "meterValue": [
                    {"timestamp": METER_TIMESTAMP, "sampledValue": _samples(v201=False)}
                ],
            },
        ),
    ),
    "ocpp2.0.1": (
        ("Heartbeat", {}),
        (
            "StatusNotification",
            {
                "timestamp": TIMESTAMP_MARK,
                "connectorStatus": "Available",
                "evseId": 1,
                "connectorId": 1,
            },
        ),
        (
            "MeterValues",
            {
                "evseId": 1,
                "meterValue": [{"timestamp": METER_TIMESTAMP, "sampledValue": _samples(v201=True)}],
            },
        ),
    ),
}


def utc_stamp() -> bytes:
    """The time now as an OCPP timestamp (UTC, milliseconds)."""
    now = time.time()
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now))
    return b"%s.%03dZ" % (whole.encode(), int(now * 1000) % 1000)


@dataclass(frozen=True)
class FrameTemplate:
    """A CALL frame as UTF-8 with ``%d`` where the message ID goes (and ``%s`` where the send
    time goes when ``timed``)."""

    action: str
    template: bytes
    timed: bool = False

    @classmethod
    def build(cls, action: str, payload: dict[str, Any]) -> FrameTemplate:
        rest = json.dumps([action, payload], separators=(",", ":"))[1:]
        template = b'[2,"%d",' + rest.encode().replace(b"%", b"%%")
        timed = TIMESTAMP_MARK.encode() in template
        return cls(action, template.replace(TIMESTAMP_MARK.encode(), b"%s"), timed)

    def render(self, n: int) -> bytes:
        """The frame of message ID ``n``."""
        return self.template % ((n, utc_stamp()) if self.timed else n)


BOOT_FRAMES = {
    protocol: FrameTemplate.build("BootNotification", payload).render(0)
    for protocol, payload in BOOT_PAYLOADS.items()
}
FRAMES: dict[str, dict[str, FrameTemplate]] = {
    protocol: {action: FrameTemplate.build(action, payload) for action, payload in calls}
    for protocol, calls in LOAD_CALLS.items()
}
ACTIONS = ("Heartbeat", "StatusNotification", "MeterValues")
#: OCPP 1.6 defaults, as before there were two protocols.
BOOT_FRAME = BOOT_FRAMES["ocpp1.6"]
LOAD_FRAMES = FRAMES["ocpp1.6"]


# --- one station -----------------------------------------------------------------------------


@dataclass
class Station:
    """One connected station's connection and what it measured."""

    id: str
    ws: ClientConnection
    boot: str = ""
    latencies: list[float] = field(default_factory=list)
    results: int = 0
    errors: int = 0
    mismatched: int = 0
    server_calls: int = 0
    error_codes: Counter[str] = field(default_factory=Counter)


def describe_answer(reply: bytes) -> str:
    """``Accepted`` (a BootNotification's status), ``CallError Code``, or what came."""
    try:
        frame = json.loads(reply)
        if frame[0] == 3:
            return str(frame[2].get("status", "answered"))
        if frame[0] == 4:
            return f"CallError {frame[2]}"
    except (ValueError, LookupError, TypeError, AttributeError):
        pass
    return f"unexpected {reply[:60]!r}"


async def open_station(
    base_uri: str, station_id: str, gate: asyncio.Semaphore, protocol: str = "ocpp1.6"
) -> Station:
    """Connect and boot one station, holding ``gate`` meanwhile."""
    async with gate:
        ws = await connect(
            base_uri + station_id,
            subprotocols=[Subprotocol(protocol)],
            compression=None,
            ping_interval=None,
            open_timeout=60,
            close_timeout=5,
            max_size=2**16,
        )
        try:
            await ws.send(BOOT_FRAMES[protocol], text=True)
            reply = await ws.recv(decode=False)
        except BaseException:
            ws.transport.abort()
            raise
        assert isinstance(reply, bytes)
        return Station(station_id, ws, boot=describe_answer(reply))


async def drive(
    station: Station, frames: Sequence[FrameTemplate], first: int, t_end: float
) -> None:
    """Keep one CALL in flight, ``frames`` in turn from ``first``, until ``t_end``; record
    what completed before it."""
    send, recv, clock = station.ws.send, station.ws.recv, time.perf_counter
    latencies = station.latencies
    count = len(frames)
    for n in range(1, MAX_CALLS_PER_STATION + 1):
        frame = frames[(first + n) % count].render(n)
        start = clock()
        await send(frame, text=True)
        reply = await recv(decode=False)
        for _ in range(MAX_SERVER_CALLS_SKIPPED):  # the client answers no CSMS-initiated CALL
            if not reply.startswith(b"[2,"):
                break
            station.server_calls += 1
            reply = await recv(decode=False)
        done = clock()
        if done > t_end:
            return
        latencies.append(done - start)
        if reply.startswith(b'[3,"%d",' % n):
            station.results += 1
        elif reply.startswith(b'[4,"%d",' % n):
            station.errors += 1
            if station.errors <= ERROR_CODES_PER_STATION:
                station.error_codes[describe_answer(reply)] += 1
        else:  # the same JSON laid out otherwise, or a wrong answer: parse it to know
            kind = _message_type(reply, n)
            if kind == 3:
                station.results += 1
            elif kind == 4:
                station.errors += 1
            else:
                station.mismatched += 1


def _message_type(reply: bytes, n: int) -> int | None:
    """3 or 4 for a CALLRESULT or CALLERROR answering message ``n``, else ``None``."""
    try:
        frame = json.loads(reply)
        if frame[0] in (3, 4) and frame[1] == str(n):
            return int(frame[0])
    except (ValueError, LookupError, TypeError):
        pass
    return None


# --- the server under test -------------------------------------------------------------------


@dataclass
class ServerProcess:
    name: str
    process: subprocess.Popen[bytes]
    base_uri: str
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid


def rss_kib(pid: int) -> int:
    """The process's resident set size (VmRSS), in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for process {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def station_ids(count: int) -> list[str]:
    return [f"bench-{i:05d}" for i in range(count)]


def create_stations(db: str, ids: Sequence[str], protocol: str = "ocpp1.6") -> None:
    """Create the stations (with ``protocol``, profile 0) in a new database (a path or URL)."""
    from evcharge_core.bootstrap import open_repository
    from evcharge_core.service import StationService

    async def go() -> None:
        repository = await open_repository(db)
        try:
            service = StationService(repository)
            for station_id in ids:
                await service.create_station({"id": station_id, "protocol": protocol})
        finally:
            await repository.close()

    asyncio.run(go())


def create_database(server_url: str) -> str:
    """A new database on the PostgreSQL server of ``server_url``; its URL."""
    from urllib.parse import urlsplit, urlunsplit

    import psycopg
    from psycopg import sql

    name = f"evcharge_bench_{os.getpid()}_{time.monotonic_ns()}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    parts = urlsplit(server_url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


def drop_database(server_url: str, url: str) -> None:
    from urllib.parse import urlsplit

    import psycopg
    from psycopg import sql

    name = urlsplit(url).path.lstrip("/")
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def start_server(name: str, workdir: Path, db: str, protocol: str = "ocpp1.6") -> ServerProcess:
    """Start a server subprocess; return once it printed its endpoint."""
    if name == "ours":
        command = [
            sys.executable,
            "-m",
            "evcharge_core.serve",
            "--db",
            db,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--admin-token",
            "bench-not-a-secret",
        ]
    else:
        command = [
            sys.executable,
            str(BENCH_DIR / "baseline_server.py"),
            "--port",
            "0",
            "--protocol",
            protocol,
        ]
    out, log = workdir / f"{name}.out", workdir / f"{name}.log"
    with out.open("wb") as stdout, log.open("wb") as stderr:
        process = subprocess.Popen(command, stdout=stdout, stderr=stderr, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while time.monotonic() < deadline:
        match = ENDPOINT_LINE.search(out.read_text())
        if match:
            return ServerProcess(name, process, match.group(1), log)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    stop_server(process)
    tail = log.read_text()[-2000:]
    raise RuntimeError(f"{name} server did not start (exit {process.returncode}):\n{tail}")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(SERVER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


# --- one run: one server, N stations ---------------------------------------------------------


@dataclass
class Run:
    server: str
    protocol: str
    stations: int
    connected: int
    connect_s: float
    round_trips: int
    round_trips_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    rss_before_kib: int
    rss_after_kib: int
    rss_per_station_kib: float | None
    client_cpu_pct: float
    server_cpu_pct: float
    results: int
    call_errors: int
    mismatched: int
    server_calls: int
    unfinished: int
    boot: dict[str, int]
    error_codes: dict[str, int]
    connect_failures: dict[str, int]


def percentile(ordered: Sequence[float], q: float) -> float | None:
    """The ``q`` quantile (0..1) of sorted values, nearest rank; ``None`` if empty."""
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 1))  # ceil(len * q), at least 1
    return ordered[int(rank) - 1]


async def load(
    server: ServerProcess,
    ids: Sequence[str],
    frames: Sequence[FrameTemplate],
    duration: float,
    batch: int,
    *,
    protocol: str = "ocpp1.6",
) -> Run:
    rss_before = rss_kib(server.pid)
    gate = asyncio.Semaphore(batch)
    storm_start = time.perf_counter()
    opened = await asyncio.wait_for(
        asyncio.gather(
            *(open_station(server.base_uri, sid, gate, protocol) for sid in ids),
            return_exceptions=True,
        ),
        timeout=max(60.0, len(ids) * 0.2),
    )
    connect_s = time.perf_counter() - storm_start
    rss_after = rss_kib(server.pid)
    stations = [s for s in opened if isinstance(s, Station)]
    failures = Counter(type(e).__name__ for e in opened if isinstance(e, BaseException))

    client_cpu, server_cpu = own_cpu_seconds(), cpu_seconds(server.pid)
    t_start = time.perf_counter()
    t_end = t_start + duration
    tasks = [asyncio.create_task(drive(s, frames, i, t_end)) for i, s in enumerate(stations)]
    unfinished: set[asyncio.Task[None]] = set()
    if tasks:
        _, unfinished = await asyncio.wait(tasks, timeout=duration + OVERTIME)
    for task in unfinished:
        task.cancel()
    elapsed = time.perf_counter() - t_start
    client_cpu = own_cpu_seconds() - client_cpu
    server_cpu = cpu_seconds(server.pid) - server_cpu
    for task in tasks:
        if not task.cancelled() and task.done() and task.exception() is not None:
            failures[f"during load: {type(task.exception()).__name__}"] += 1

    closing = [asyncio.create_task(s.ws.close()) for s in stations]
    if closing:
        await asyncio.wait(closing, timeout=30)

    latencies = sorted(x for s in stations for x in s.latencies)
    round_trips = len(latencies)
    p50, p99 = percentile(latencies, 0.50), percentile(latencies, 0.99)
    error_codes: Counter[str] = Counter()
    for s in stations:
        error_codes.update(s.error_codes)
    return Run(
        server=server.name,
        protocol=protocol,
        stations=len(ids),
        connected=len(stations),
        connect_s=connect_s,
        round_trips=round_trips,
        round_trips_per_s=round_trips / duration,
        p50_ms=None if p50 is None else p50 * 1000,
        p99_ms=None if p99 is None else p99 * 1000,
        rss_before_kib=rss_before,
        rss_after_kib=rss_after,
        rss_per_station_kib=(rss_after - rss_before) / len(stations) if stations else None,
        client_cpu_pct=100 * client_cpu / elapsed,
        server_cpu_pct=100 * server_cpu / elapsed,
        results=sum(s.results for s in stations),
        call_errors=sum(s.errors for s in stations),
        mismatched=sum(s.mismatched for s in stations),
        server_calls=sum(s.server_calls for s in stations),
        unfinished=len(unfinished),
        boot=dict(Counter(s.boot for s in stations)),
        error_codes=dict(error_codes),
        connect_failures=dict(failures),
    )


def run_one(
    name: str,
    count: int,
    frames: Sequence[FrameTemplate],
    duration: float,
    batch: int,
    *,
    protocol: str = "ocpp1.6",
    db_server: str | None = None,
) -> Run:
    with tempfile.TemporaryDirectory(prefix="evcharge-ocpp-load-") as tmp:
        workdir = Path(tmp)
        ids = station_ids(count)
        db, created = str(workdir / "bench.db"), None
        try:
            if name == "ours":
                if db_server is not None:
                    db = created = create_database(db_server)
                create_stations(db, ids, protocol)
            server = start_server(name, workdir, db, protocol)
            try:
                return asyncio.run(load(server, ids, frames, duration, batch, protocol=protocol))
            finally:
                stop_server(server.process)
        finally:
            if created is not None and db_server is not None:
                drop_database(db_server, created)


# --- output ----------------------------------------------------------------------------------


def raise_open_file_limit(needed: int) -> int:
    """Raise the soft RLIMIT_NOFILE towards ``needed`` (servers started later inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def answers(run: Run) -> str:
    parts = []
    if run.results:
        parts.append(f"{run.results} results")
    if run.call_errors:
        codes = ", ".join(sorted(run.error_codes)) or "?"
        parts.append(f"{run.call_errors} CallErrors ({codes})")
    if run.mismatched:
        parts.append(f"{run.mismatched} mismatched")
    if run.server_calls:
        parts.append(f"{run.server_calls} CALLs from the server, unanswered")
    return "; ".join(parts) or "none"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def print_table(
    runs: Sequence[Run],
    duration: float,
    calls: Sequence[str],
    protocol: str = "ocpp1.6",
    storage: str = "SQLite",
) -> None:
    version = "1.6J" if protocol == "ocpp1.6" else protocol.removeprefix("ocpp")
    print(
        f"OCPP {version} load: each station keeps one CALL in flight for {duration:g} s, "
        f"{' / '.join(calls)} in turn ({os.cpu_count()} CPUs); ours on {storage}"
    )
    header = (
        f"{'server':9s} {'stations':>8s} {'connect s':>9s} {'round trips/s':>13s} "
        f"{'p50 ms':>7s} {'p99 ms':>7s} {'KiB/station':>11s} {'client CPU':>10s} "
        f"{'server CPU':>10s}"
    )
    print(header)
    print("-" * len(header))
    for r in runs:
        print(
            f"{r.server:9s} {r.stations:8d} {r.connect_s:9.2f} {r.round_trips_per_s:13,.0f} "
            f"{_num(r.p50_ms, '7.1f')} {_num(r.p99_ms, '7.1f')} "
            f"{_num(r.rss_per_station_kib, '11.1f')} {r.client_cpu_pct:9.0f}% "
            f"{r.server_cpu_pct:9.0f}%"
        )
    print()
    for r in runs:
        boot = ", ".join(f"{k} x{v}" for k, v in sorted(r.boot.items())) or "-"
        notes = [f"boot: {boot}", f"answers: {answers(r)}"]
        if r.connected < r.stations:
            notes.append(f"only {r.connected} connected ({r.connect_failures})")
        elif r.connect_failures:
            notes.append(f"failures: {r.connect_failures}")
        if r.unfinished:
            notes.append(f"{r.unfinished} stations cancelled past the window")
        print(f"  {r.server} x{r.stations}: " + "; ".join(notes))
    ratios = compute_ratios(runs)
    if ratios:
        print()
        print("ours/baseline, round trips/s:")
        for count, ratio in ratios.items():
            target = f"  (target >= {TARGET_RATIO:g}x)" if count == TARGET_STATIONS else ""
            print(f"  {count:5d} stations: {ratio:5.2f}x{target}")
    print()
    print(
        f"Targets at {TARGET_STATIONS} stations (shown, not asserted): ours >= "
        f"{TARGET_RATIO:g}x baseline round trips/s, p99 < {TARGET_P99_MS:g} ms, "
        f"<= {TARGET_RSS_KIB:g} KiB RSS per connected station."
    )
    for r in runs:
        if r.server == "ours" and r.stations == TARGET_STATIONS:
            ours_ratio = ratios.get(r.stations)
            print(
                f"  ours x{r.stations}: ratio {_num(ours_ratio, '.2f')}x "
                f"[{_met(ours_ratio, lambda v: v >= TARGET_RATIO)}], "
                f"p99 {_num(r.p99_ms, '.1f')} ms [{_met(r.p99_ms, lambda v: v < TARGET_P99_MS)}], "
                f"{_num(r.rss_per_station_kib, '.1f')} KiB/station "
                f"[{_met(r.rss_per_station_kib, lambda v: v <= TARGET_RSS_KIB)}]"
            )


def _met(value: float | None, ok: Any) -> str:
    if value is None:
        return "not measured"
    return "met" if ok(value) else "missed"


def compute_ratios(runs: Sequence[Run]) -> dict[int, float]:
    by_key = {(r.server, r.stations): r for r in runs}
    ratios = {}
    for (server, count), ours in sorted(by_key.items(), key=lambda item: item[0][1]):
        baseline = by_key.get(("baseline", count))
        if server == "ours" and baseline and baseline.round_trips_per_s:
            ratios[count] = ours.round_trips_per_s / baseline.round_trips_per_s
    return ratios


def _csv_of(kind: type, choices: Sequence[str] | None = None) -> Any:
    def parse(text: str) -> list[Any]:
        try:
            values = [kind(part) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a comma-separated list: {text!r}") from None
        if not values:
            raise argparse.ArgumentTypeError("empty list")
        if choices is not None and not set(values) <= set(choices):
            raise argparse.ArgumentTypeError(f"choose from {', '.join(choices)}")
        if kind is int and min(values) < 1:
            raise argparse.ArgumentTypeError("station counts must be 1 or more")
        return values

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--protocol",
        choices=PROTOCOLS,
        default="ocpp1.6",
        help="the OCPP version the stations speak (default: ocpp1.6)",
    )
    parser.add_argument("--stations", type=_csv_of(int), default=[1, 100, 1000])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per run")
    parser.add_argument("--servers", type=_csv_of(str, SERVERS), default=list(SERVERS))
    parser.add_argument(
        "--calls",
        type=_csv_of(str, ACTIONS),
        default=list(ACTIONS),
        help="the CALLs each station sends in turn (default: all three; one alone measures "
        "that action's cost)",
    )
    parser.add_argument(
        "--connect-batch", type=int, default=100, help="handshakes in flight at most"
    )
    parser.add_argument(
        "--db-url",
        help="run ours on PostgreSQL: a fresh database per run on this server (the URL's "
        "database is used to create and drop it); default: a fresh SQLite file",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.db_url is not None and not args.db_url.startswith(("postgresql://", "postgres://")):
        parser.error("--db-url must be a postgresql:// or postgres:// URL")
    from evcharge_core.bootstrap import display_db_url

    storage = "SQLite" if args.db_url is None else f"PostgreSQL ({display_db_url(args.db_url)})"
    if not 0 < args.duration <= 3600:
        parser.error("--duration must be between 0 and 3600 seconds")
    if max(args.stations) > 20_000:
        parser.error("at most 20000 stations (one client process, one loopback address)")

    frames = [FRAMES[args.protocol][action] for action in args.calls]
    limit = raise_open_file_limit(max(args.stations) + 256)
    runs = []
    for count in args.stations:
        for name in args.servers:
            print(f"{name}: {count} stations ...", file=sys.stderr, flush=True)
            runs.append(
                run_one(
                    name,
                    count,
                    frames,
                    args.duration,
                    args.connect_batch,
                    protocol=args.protocol,
                    db_server=args.db_url,
                )
            )
    if args.json:
        document = {
            "protocol": args.protocol,
            "duration_s": args.duration,
            "calls": args.calls,
            "storage": storage,
            "cpus": os.cpu_count(),
            "open_file_limit": limit,
            "runs": [asdict(r) for r in runs],
            "ours_over_baseline": compute_ratios(runs),
            "targets": {
                "stations": TARGET_STATIONS,
                "ratio_at_least": TARGET_RATIO,
                "p99_ms_below": TARGET_P99_MS,
                "rss_kib_per_station_at_most": TARGET_RSS_KIB,
            },
        }
        json.dump(document, sys.stdout, indent=2)
        print()
    else:
        print_table(runs, args.duration, args.calls, args.protocol, storage)


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        main()

"""Two and three ``python -m evcharge_core.serve`` processes on one PostgreSQL database,
behind a round-robin TCP load balancer, with simulated stations spread over them: an
operator command through any process's admin API reaches every station; ``kill -9`` of one
process: its stations reconnect to the others, which take their leases over, and no
transaction confirmed to a station is lost. With each bus: PostgreSQL LISTEN/NOTIFY and
NATS."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pytest

from evcharge_core.bootstrap import open_repository
from evcharge_core.charging import ChargingService
from evcharge_core.domain.transactions import IdToken
from evcharge_core.service import StationService
from evcharge_core.simulator import SimulationConfig, run_simulation
from tests import postgres
from tests.cluster.harness import balancer, require_nats, until

TOKEN = "cluster-test-token"
STATIONS = 12
ENDPOINT = re.compile(r"OCPP websocket endpoint: ws://[^:]+:(\d+)/")
ADMIN = re.compile(r"Admin API: (http://\S+)/api/")


class Server:
    def __init__(self, name: str, db: str, bus: str, workdir: Path) -> None:
        self.name = name
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        command = [
            sys.executable,
            "-m",
            "evcharge_core.serve",
            "--db",
            db,
            "--bus",
            bus,
            "--node-id",
            name,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--admin-port",
            "0",
            "--admin-token",
            TOKEN,
        ]
        with self.out.open("wb") as out, self.err.open("wb") as err:
            self.process = subprocess.Popen(command, stdout=out, stderr=err)
        self.port = 0
        self.admin = ""

    def wait_started(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.out.read_text()
            endpoint, admin = ENDPOINT.search(text), ADMIN.search(text)
            if endpoint and admin and "Web console" in text:
                self.port, self.admin = int(endpoint.group(1)), admin.group(1)
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise AssertionError(f"{self.name} did not start:\n{self.err.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)


@pytest.fixture
def db_url() -> Iterator[str]:
    url = postgres.create_database("evcharge_procs")
    yield url
    postgres.drop_database(url)


def _leases(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT station_id, node_id FROM evcharge_station_leases WHERE expires_at > now()"
        ).fetchall()
    return {str(s): str(n) for s, n in rows}


def _transactions(url: str) -> tuple[int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), count(stopped_at) FROM transactions WHERE station_id LIKE 'CL%'"
        ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def _command_everywhere(servers: list[Server], station_ids: list[str]) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(headers=headers, timeout=60) as client:
        for server in servers:
            for station_id in station_ids:
                response = await client.post(
                    f"{server.admin}/api/stations/{station_id}/trigger",
                    json={"message": "Heartbeat"},
                )
                assert response.status_code == 200, (server.name, station_id, response.text)
                assert response.json() == {"status": "Accepted"}


@pytest.mark.parametrize(
    ("processes", "bus"),
    [(2, "postgres"), (3, "postgres"), (2, "nats"), (3, "nats")],
)
def test_processes_share_stations_and_survive_a_kill(
    db_url: str, tmp_path: Path, processes: int, bus: str
) -> None:
    bus_url = require_nats() if bus == "nats" else bus
    station_ids = [f"CL{n}" for n in range(1, STATIONS + 1)]

    async def create() -> None:
        repository = await open_repository(db_url)
        try:
            service = StationService(repository)
            for station_id in station_ids:
                await service.create_station({"id": station_id, "protocol": "ocpp1.6"})
            await ChargingService(repository).add_id_token(IdToken("SIMTAG"))
        finally:
            await repository.close()

    asyncio.run(create())
    servers = [Server(f"node{n}", db_url, bus_url, tmp_path) for n in range(processes)]
    try:
        for server in servers:
            server.wait_started()
        asyncio.run(_scenario(db_url, servers, station_ids))
    finally:
        for server in servers:
            server.stop()
    for server in servers[1:]:
        assert server.process.returncode == 0, server.err.read_text()[-3000:]


async def _scenario(db_url: str, servers: list[Server], station_ids: list[str]) -> None:
    async with balancer([("127.0.0.1", s.port) for s in servers]) as lb:
        config = SimulationConfig(
            url=f"ws://127.0.0.1:{lb.port}/ocpp/",
            stations=len(station_ids),
            id_prefix="CL",
            seed=7,
            meter_interval=1,
            think_time=(0.2, 0.6),
            charge_time=(1.0, 2.0),
            unplug_time=(0.1, 0.3),
            reconnect_delay=(0.2, 1.0),
            call_timeout=20.0,
        )
        stop = asyncio.Event()
        simulation = asyncio.create_task(run_simulation(config, stop=stop))
        try:
            names = {s.name for s in servers}
            await until(
                lambda: (
                    len(_leases(db_url)) == len(station_ids)
                    and set(_leases(db_url).values()) == names
                ),
                what="every station connected, on every process",
            )
            await _command_everywhere(servers, station_ids)
            await asyncio.sleep(2)  # some transactions under way when the process dies
            victim, survivors = servers[0], servers[1:]
            os.kill(victim.process.pid, signal.SIGKILL)
            victim.process.wait(10)
            alive = {s.name for s in survivors}
            await until(
                lambda: (
                    len(_leases(db_url)) == len(station_ids)
                    and set(_leases(db_url).values()) <= alive
                ),
                what="the killed process's stations to reconnect to the others",
            )
            await _command_everywhere(survivors, station_ids)
            await asyncio.sleep(2)
        finally:
            stop.set()
            report = await asyncio.wait_for(simulation, 60)
    started = sum(s.transactions_started for s in report.stations)
    stopped = sum(s.transactions_stopped for s in report.stations)
    assert started > 0
    stored, stored_stopped = _transactions(db_url)
    assert stored >= started  # every start a station got an answer to is stored
    assert stored_stopped >= stopped

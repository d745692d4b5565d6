"""Demo mode: the seeded data (idempotent), and ``serve --demo`` end to end in a real
process: simulated stations connect to the server's own endpoint and charge."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import attrs
import httpx

from evcharge_core.charging import ChargingService
from evcharge_core.demo import (
    DEMO_AREAS,
    DEMO_ID_TOKENS,
    DemoSeed,
    demo_config,
    demo_stations,
    seed_demo,
)
from evcharge_core.domain.qr import charger_qr_codes
from evcharge_core.ports import Repository
from evcharge_core.service import StationService

TOKEN = "demo-token"


def test_seeding_is_idempotent_and_keeps_operator_changes(repository: Repository) -> None:
    stations = StationService(repository)
    charging = ChargingService(repository)

    async def scenario() -> None:
        first = await seed_demo(stations, charging)
        assert first == DemoSeed(
            tuple(a.id for a in DEMO_AREAS),
            ("DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"),
            tuple(t.id_token for t in DEMO_ID_TOKENS),
        )
        await stations.update_station("DEMO-1", {"name": "Renamed by an operator"})
        await charging.delete_id_token("DEMO-CARD")
        again = await seed_demo(stations, charging)
        assert again == DemoSeed((), (), ("DEMO-CARD",))
        assert (await stations.get_station("DEMO-1")).name == "Renamed by an operator"
        page = await stations.list_stations(attrs.evolve(stations_query(), page_size=10))
        assert [s.id for s in page.items] == ["DEMO-1", "DEMO-2", "DEMO-3", "DEMO-4"]
        assert [a.id for a in await stations.list_areas()] == sorted(
            (a.id for a in DEMO_AREAS), key=lambda i: next(a.name for a in DEMO_AREAS if a.id == i)
        )

    asyncio.run(scenario())


def stations_query() -> Any:
    from evcharge_core.ports import StationQuery

    return StationQuery()


def test_demo_stations_show_every_qr_rule_and_match_the_simulation() -> None:
    config = demo_config("ws://127.0.0.1:9000/ocpp/")
    stations = demo_stations()
    assert [s.id for s in stations] == config.station_ids()
    for station in stations:
        numbers = sorted(c.ocpp_id for _, c in station.iter_connectors())
        assert numbers == list(range(1, config.connectors + 1))  # what the simulator reports
        assert station.is_active
    payloads = {
        s.id: [code.payload for c in s.chargers for code in charger_qr_codes(s, c)]
        for s in stations
    }
    assert payloads["DEMO-1"] == ["DEMO-1-1*1", "DEMO-1-1*2"]
    assert payloads["DEMO-2"] == ["DEMO-2-1", "DEMO-2-2"]
    assert not stations[3].visible
    assert {c.max_power_w for _, c in stations[2].iter_connectors()} == {50_000}


async def _wait(check: Any, what: str, attempts: int = 200) -> Any:
    """Poll ``check`` (an async callable returning a true value when done) every 0.1 s."""
    for _ in range(attempts):
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"gave up waiting for {what}")


async def _demo_server(db: Path) -> tuple[asyncio.subprocess.Process, str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("EVCHARGE_DB", "EVCHARGE_ADMIN_TOKEN")}
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "evcharge_core.serve", "--db", str(db), "--demo"),
        *("--host", "127.0.0.1", "--port", "0", "--admin-port", "0", "--admin-token", TOKEN),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    assert process.stdout is not None
    lines = []
    for _ in range(3):
        line = await asyncio.wait_for(process.stdout.readline(), timeout=30)
        lines.append(line.decode().rstrip("\n"))
    admin = lines[1].removeprefix("Admin API: ").removesuffix("api/")
    return process, admin, lines


async def _stop(process: asyncio.subprocess.Process) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    assert process.stderr is not None
    _, stderr = await asyncio.wait_for(process.communicate(), timeout=30)
    return process.returncode or 0, stderr.decode()


def test_serve_demo_end_to_end(tmp_path: Path) -> None:
    db = tmp_path / "demo.db"

    async def scenario() -> None:
        process, admin, lines = await _demo_server(db)
        try:
            assert lines[0].startswith("OCPP websocket endpoint: ws://127.0.0.1:")
            assert lines[2].startswith("Demo: 4 simulated stations (DEMO-1 .. DEMO-4)")
            assert lines[2].endswith("; seeded 4 stations")
            auth = {"Authorization": f"Bearer {TOKEN}"}
            async with httpx.AsyncClient(base_url=admin, headers=auth, timeout=10) as http:

                async def all_connected() -> bool:
                    listing = (await http.get("/api/stations", params={"connected": "true"})).json()
                    return bool(listing["total"] == 4)

                await _wait(all_connected, "the 4 demo stations to connect")
                areas = (await http.get("/api/areas")).json()["items"]
                assert len(areas) == 3
                tokens = (await http.get("/api/id-tokens")).json()["items"]
                assert "SIMTAG" in {t["id_token"] for t in tokens}
                station = (await http.get("/api/stations/DEMO-2")).json()
                assert station["reported"]["model"] == "simulator"

                async def statuses_reported() -> bool:
                    found = (await http.get("/api/stations/DEMO-2")).json()
                    connectors = [c for ch in found["chargers"] for c in ch["connectors"]]
                    return all(c["status"] is not None for c in connectors)

                await _wait(statuses_reported, "status reports from DEMO-2")

                # A driver scans a demo QR code: the simulated station starts a session.
                start = await http.post(
                    "/api/qr/remote-start", json={"payload": "DEMO-3-1*1", "id_tag": "DEMO-CARD"}
                )
                assert start.status_code == 200, start.text
                assert start.json()["status"] in ("Accepted", "Rejected")  # Rejected: busy

                tag = "DEMO-CARD" if start.json()["status"] == "Accepted" else ""

                async def session() -> bool:
                    params = {"station_id": "DEMO-3", "search": tag}
                    found = await http.get("/api/transactions", params=params)
                    return bool(found.json()["total"] >= 1)

                await _wait(session, "a session on DEMO-3")
                document = (await http.get("/api/map/chargers", params={"view": "operator"})).json()
                assert len(document["features"]) == 6  # every demo charger
                public = (await http.get("/api/map/chargers")).json()
                assert {f["properties"]["station_id"] for f in public["features"]} == {
                    "DEMO-1",
                    "DEMO-2",
                    "DEMO-3",
                }
        finally:
            status, stderr = await _stop(process)
        assert status == 0, stderr
        assert "Traceback" not in stderr

        # A second start on the same database seeds nothing and fails nothing.
        process, admin, lines = await _demo_server(db)
        try:
            assert lines[2].startswith("Demo: 4 simulated stations")
            assert "seeded" not in lines[2]
            async with httpx.AsyncClient(
                base_url=admin, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
            ) as http:
                assert (await http.get("/api/stations")).json()["total"] == 4
        finally:
            status, stderr = await _stop(process)
        assert status == 0, stderr

    asyncio.run(asyncio.wait_for(scenario(), timeout=120))


def test_demo_refuses_tls(tmp_path: Path) -> None:
    from evcharge_core.serve import build_parser, run

    args = build_parser().parse_args(
        ["--demo", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--db", str(tmp_path / "x.db")]
    )
    status = asyncio.run(run(args, asyncio.Event()))
    assert status == 1

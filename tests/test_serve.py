"""``python -m evcharge_core.serve`` as a real process: start, serve a station, stop cleanly."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from evcharge_core.bootstrap import open_repository
from evcharge_core.domain.model import Connection, Station
from evcharge_core.domain.values import Protocol
from evcharge_core.serve import build_parser, run

ENDPOINT = "OCPP websocket endpoint: "


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("EVCHARGE_DB", None)
    return env


async def _load(db: Path, station_id: str = "ST1") -> Station:
    repository = await open_repository(str(db))
    try:
        async with repository.transaction() as tx:
            station = await tx.stations.get(station_id)
    finally:
        await repository.close()
    assert station is not None
    return station


async def _create_station(db: Path) -> None:
    """ST1 on OCPP 1.6, stored as a crashed server leaves it: still marked connected.

    Written through the repository rather than the ``evcharge`` CLI so that this test
    depends on the server alone.
    """
    repository = await open_repository(str(db))
    try:
        async with repository.transaction() as tx:
            stale = Connection(connected=True, connected_since=datetime(2026, 1, 1, tzinfo=UTC))
            station = Station(
                id="ST1", name="ST1", code="ST1", protocol=Protocol.OCPP16, connection=stale
            )
            await tx.stations.save(station)
    finally:
        await repository.close()


async def _serve_and_stop(db: Path, signum: signal.Signals) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "evcharge_core.serve",
        "--db",
        str(db),
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--admin-port",
        "0",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    assert process.stdout is not None
    assert process.stderr is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        assert line.startswith(ENDPOINT), line
        template = line.removeprefix(ENDPOINT).strip()
        assert template.startswith("ws://127.0.0.1:")
        assert template.endswith("/ocpp/{station_id}")
        # The stale "connected" flag was reset before the server said it was ready.
        assert not (await _load(db)).connection.connected

        async with connect(template.format(station_id="ST1"), subprotocols=["ocpp1.6"]) as ws:
            assert ws.subprotocol == "ocpp1.6"
            await ws.send('[2,"1","Heartbeat",{}]')
            answer = json.loads(await asyncio.wait_for(ws.recv(), timeout=10))
            assert answer[:2] == [3, "1"]  # answered by the OCPP 1.6 handlers
            assert "currentTime" in answer[2]
            stored = await _load(db)
            assert stored.connection.connected
            assert stored.connection.subprotocol is Protocol.OCPP16

            process.send_signal(signum)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), timeout=10)
            assert ws.close_code == 1001
        status = await asyncio.wait_for(process.wait(), timeout=10)
        stderr = (await process.stderr.read()).decode()
        return status, stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_serve_runs_until_signalled_and_stores_disconnection(
    tmp_path: Path, signum: signal.Signals
) -> None:
    db = tmp_path / "x.db"
    asyncio.run(_create_station(db))
    status, stderr = asyncio.run(_serve_and_stop(db, signum))
    assert status == 0, stderr
    assert "Traceback" not in stderr
    stored = asyncio.run(_load(db))
    assert not stored.connection.connected
    assert stored.connection.last_seen is not None


def test_storage_error_at_start_is_one_line_and_exit_1() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "evcharge_core.serve", "--db", "postgresql://db/x", "--port", "0"],
        capture_output=True,
        text=True,
        timeout=30,
        env=_env(),
        check=False,
    )
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "postgresql" in lines[0]


def test_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [
                *(sys.executable, "-m", "evcharge_core.serve", "--db", str(tmp_path / "x.db")),
                *("--host", "127.0.0.1", "--port", str(port), "--admin-port", "0"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            env=_env(),
            check=False,
        )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert str(port) in errors[0]


def test_parser_defaults_and_database_from_the_environment() -> None:
    args = build_parser().parse_args([])
    assert (args.db, args.host, args.port, args.heartbeat_interval) == (None, "0.0.0.0", 9000, 300)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--port", "70000"])
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--heartbeat-interval", "0"])


def test_run_in_process_until_stopped(capsys: pytest.CaptureFixture[str]) -> None:
    async def test() -> int:
        stop = asyncio.Event()
        args = build_parser().parse_args(
            ["--db", "memory://", "--host", "::1", "--port", "0", "--admin-port", "0"]
        )
        server = asyncio.create_task(run(args, stop))
        output = ""
        for _ in range(500):
            output += capsys.readouterr().out
            if output or server.done():
                break
            await asyncio.sleep(0.01)
        assert output.startswith("OCPP websocket endpoint: ws://[::1]:")
        stop.set()
        return await asyncio.wait_for(server, timeout=10)

    try:
        assert asyncio.run(test()) == 0
    except OSError as error:  # pragma: no cover - a host without IPv6
        pytest.skip(f"no IPv6 loopback: {error}")


def test_the_server_process_tunes_the_garbage_collector() -> None:
    """In a process of its own: the thresholds are the server's, start-up objects frozen."""
    code = (
        "import gc, sys\n"
        "from evcharge_core import serve\n"
        "async def no_server(args, stop=None):\n"
        "    return 0\n"
        "serve.run = no_server\n"
        "assert gc.get_threshold() != serve.GC_THRESHOLDS\n"
        "assert serve.main(['--db', 'memory://']) == 0\n"
        "print(gc.get_threshold() == serve.GC_THRESHOLDS, gc.get_freeze_count() > 0)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]


async def _start_server(db: str, token: str) -> tuple[asyncio.subprocess.Process, str, str]:
    """``python -m evcharge_core.serve --db DB`` on free loopback ports; the process, the
    websocket URL template and the admin API base URL."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "evcharge_core.serve", "--db", db, "--host", "127.0.0.1"),
        *("--port", "0", "--admin-port", "0", "--admin-token", token),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    assert process.stdout is not None
    endpoint = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
    admin = (await asyncio.wait_for(process.stdout.readline(), timeout=30)).decode()
    assert endpoint.startswith(ENDPOINT), endpoint
    assert admin.startswith("Admin API: "), admin
    return (
        process,
        endpoint.removeprefix(ENDPOINT).strip(),
        admin.removeprefix("Admin API: ").strip(),
    )


def test_serve_on_postgresql_serves_an_ocpp16_station_end_to_end(postgres_db: str) -> None:
    """The reference server on ``--db postgresql://...``: a station built on the ``ocpp``
    package boots, reports a status, charges (start and stop), answers a live command sent
    through the admin API; everything is in PostgreSQL after a clean stop."""
    import httpx
    from ocpp.v16 import call

    from evcharge_core.domain.transactions import IdToken, TransactionState
    from evcharge_core.ports import TransactionQuery

    from .ocpp16.harness import StationClient, now_text

    token = "t0ken-for-the-test"

    async def test() -> None:
        repository = await open_repository(postgres_db)
        try:
            async with repository.transaction() as tx:
                await tx.stations.save(
                    Station(id="ST1", name="ST1", code="ST1", protocol=Protocol.OCPP16)
                )
                await tx.id_tokens.save(IdToken("TAG1"))
        finally:
            await repository.close()
        process, template, admin = await _start_server(postgres_db, token)
        try:
            url = template.format(station_id="ST1")
            async with connect(url, subprotocols=["ocpp1.6"], open_timeout=10) as ws:
                station = StationClient("ST1", ws)
                serving = asyncio.create_task(station.start())
                boot = await station.boot()
                assert boot.status == "Accepted"
                await station.call(
                    call.StatusNotification(
                        connector_id=1, error_code="NoError", status="Charging",
                        timestamp=now_text(),
                    )
                )  # fmt: skip
                started = await station.call(
                    call.StartTransaction(
                        connector_id=1, id_tag="TAG1", meter_start=100, timestamp=now_text()
                    )
                )
                assert started.id_tag_info["status"] == "Accepted"
                assert started.transaction_id > 0
                async with httpx.AsyncClient(
                    base_url=admin, headers={"Authorization": f"Bearer {token}"}, timeout=20
                ) as client:
                    live = await client.get(
                        "stations/ST1/configuration", params={"key": "HeartbeatInterval"}
                    )
                    assert live.status_code == 200, live.text
                    assert live.json()["configuration"][0]["value"] == "300"
                    listed = await client.get("transactions", params={"station_id": "ST1"})
                    assert listed.status_code == 200, listed.text
                    assert len(listed.json()["items"]) == 1
                stopped = await station.call(
                    call.StopTransaction(
                        meter_stop=1600, timestamp=now_text(),
                        transaction_id=started.transaction_id,
                    )
                )  # fmt: skip
                assert stopped.id_tag_info is None or stopped.id_tag_info["status"] == "Accepted"
                serving.cancel()
                with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                    await serving
            process.send_signal(signal.SIGTERM)
            assert await asyncio.wait_for(process.wait(), timeout=20) == 0
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
        repository = await open_repository(postgres_db)
        try:
            async with repository.transaction() as tx:
                stored = await tx.stations.get("ST1")
                sessions = await tx.transactions.list(TransactionQuery(station_id="ST1"))
        finally:
            await repository.close()
        assert stored is not None
        assert stored.reported.vendor == "Vendor"
        assert not stored.connection.connected
        (session,) = sessions.items
        assert session.transaction_id == str(started.transaction_id)
        assert session.state is TransactionState.ENDED
        assert session.meter_stop == 1600

    asyncio.run(asyncio.wait_for(test(), timeout=90))

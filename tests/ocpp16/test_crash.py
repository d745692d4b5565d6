"""A confirmed StartTransaction survives ``kill -9`` of the reference server: it was stored
(and committed) before its confirmation was sent."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator
from pathlib import Path

from ocpp.v16 import call
from websockets.asyncio.client import connect

from evcharge_core.bootstrap import open_repository
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol

from .harness import StationClient

ENDPOINT = "OCPP websocket endpoint: "


async def _create_station(db: Path) -> None:
    repository = await open_repository(str(db))
    try:
        async with repository.transaction() as tx:
            await tx.stations.save(
                Station(id="ST1", name="ST1", code="ST1", protocol=Protocol.OCPP16)
            )
    finally:
        await repository.close()


@contextlib.asynccontextmanager
async def _server(db: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    env = {k: v for k, v in os.environ.items() if k not in ("EVCHARGE_DB",)}
    env["EVCHARGE_ADMIN_TOKEN"] = "test-token"
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "evcharge_core.serve", "--db", str(db)),
        *("--host", "127.0.0.1", "--port", "0", "--admin-port", "0"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
    )
    assert process.stdout is not None
    try:
        line = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
        assert line.startswith(ENDPOINT), line
        yield process, line.removeprefix(ENDPOINT).strip().format(station_id="ST1")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def _start(url: str, start: call.StartTransaction) -> int:
    async with connect(url, subprotocols=["ocpp1.6"], open_timeout=10) as ws:
        station = StationClient("ST1", ws)
        task = asyncio.create_task(station.start())
        try:
            await station.boot()
            answer = await station.call(start, suppress=False)
            return int(answer.transaction_id)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


def test_confirmed_transaction_survives_kill_9(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    asyncio.run(_create_station(db))
    start = call.StartTransaction(
        connector_id=1, id_tag="TAG1", meter_start=1234, timestamp="2026-11-25T09:00:00Z"
    )

    async def crash() -> int:
        async with _server(db) as (process, url):
            transaction_id = await _start(url, start)
            process.kill()  # SIGKILL: no shutdown, no flush
            await process.wait()
            return transaction_id

    async def restart(transaction_id: int) -> None:
        async with _server(db) as (process, url):
            # The restarted server knows it: a retransmission gets the same id.
            assert await _start(url, start) == transaction_id
            process.terminate()
            await process.wait()

    transaction_id = asyncio.run(asyncio.wait_for(crash(), 30))
    asyncio.run(asyncio.wait_for(restart(transaction_id), 30))

    async def stored() -> None:
        repository = await open_repository(str(db))
        try:
            async with repository.transaction() as tx:
                found = await tx.transactions.get("ST1", str(transaction_id))
        finally:
            await repository.close()
        assert found is not None
        assert (found.connector_id, found.id_tag, found.meter_start) == (1, "TAG1", 1234)

    asyncio.run(stored())

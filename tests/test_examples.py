"""The shipped examples run as documented."""

from __future__ import annotations

import subprocess
import sys

from .conftest import EXAMPLES


def test_embedding_example_runs() -> None:
    result = subprocess.run(
        [sys.executable, str(EXAMPLES / "embed.py")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "event: StationBooted DEPOT-1" in lines
    assert "configuration: [('HeartbeatInterval', '60')]" in lines
    assert "event: TransactionStarted DEPOT-1" in lines
    assert lines[-1].startswith("simulator report: {'started': ")


def test_ocpp201_station_example_takes_the_tutorial_commands() -> None:
    """``examples/station201.py`` (the tutorial's 2.0.1 station) against the reference
    wiring: it boots, reports its EVSEs, and takes configuration reads and writes, a remote
    start and a remote stop."""
    import asyncio

    from evcharge_core.adapters.memory import InMemoryRepository
    from evcharge_core.domain.model import Station
    from evcharge_core.domain.transactions import IdToken, TransactionState
    from evcharge_core.domain.values import Protocol
    from evcharge_core.ports import TransactionQuery
    from evcharge_core.serve import build_core

    async def scenario() -> None:
        repository = InMemoryRepository()
        async with repository.transaction() as tx:
            await tx.stations.save(
                Station(id="EX201", name="EX201", code="EX201", protocol=Protocol.OCPP201)
            )
        core = build_core(repository)
        await core.charging.save_id_token(IdToken("DRIVER-42"))
        async with core.gateway.serve("127.0.0.1", 0):
            url = f"ws://127.0.0.1:{core.gateway.port}/ocpp/"
            process = await asyncio.create_subprocess_exec(
                sys.executable, str(EXAMPLES / "station201.py"), url, "EX201",
                "--evses", "2", "--duration", "20",
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            try:
                for _ in range(400):
                    station = await core.stations.get_station("EX201")
                    if len(list(station.iter_connectors())) == 2:
                        break
                    await asyncio.sleep(0.05)
                assert [c.evse_id for c in station.chargers] == [1, 2]
                commands = core.commands
                key = "OCPPCommCtrlr.HeartbeatInterval"
                read = await commands.get_configuration("EX201", [key])
                assert [(e.key, e.value) for e in read.entries] == [(key, "300")]
                assert await commands.change_configuration("EX201", key, "120") == "Accepted"
                assert await commands.remote_start("EX201", "DRIVER-42", 2) == "Accepted"
                for _ in range(400):
                    page = await core.charging.list_transactions(TransactionQuery())
                    if page.items:
                        break
                    await asyncio.sleep(0.05)
                [transaction] = page.items
                assert (transaction.evse_id, transaction.id_tag) == (2, "DRIVER-42")
                status = await commands.remote_stop("EX201", transaction.transaction_id)
                assert status == "Accepted"
                for _ in range(400):
                    ended = await core.charging.get_transaction("EX201", transaction.transaction_id)
                    if ended.state is TransactionState.ENDED:
                        break
                    await asyncio.sleep(0.05)
                assert ended.stop_reason == "Remote"
                await commands.disconnect("EX201")
                stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
                assert process.returncode == 0, stderr.decode()
                assert "boot: Accepted" in stdout.decode()
                assert f"transaction {transaction.transaction_id} on EVSE 2" in stdout.decode()
            finally:
                if process.returncode is None:
                    process.kill()
                    await process.wait()
            await core.commands.aclose()

    asyncio.run(asyncio.wait_for(scenario(), 90))

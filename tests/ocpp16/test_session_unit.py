""":class:`~evcharge_core.ocpp16.Ocpp16Session` fed by hand, without sockets: the paths a
real station rarely takes (a deleted station, a failing handler, a send that fails, closing
while the boot configuration waits)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.adapters.websocket import SessionContext
from evcharge_core.charging import ChargingService
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol, RegistrationStatus
from evcharge_core.errors import CommandTimeout, InvalidInput, StationNotConnected
from evcharge_core.ocpp16 import Ocpp16Session, session_factory

from .harness import full_boot_configuration

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Link:
    """The session's side of a fake connection: what it sent, and whether sending fails."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []
        self.fail = False
        self.sent_event = asyncio.Event()

    async def send(self, text: str) -> None:
        if self.fail:
            raise ConnectionError("gone")
        self.sent.append(json.loads(text))
        self.sent_event.set()

    async def close(self, code: int, reason: str) -> None:
        pass

    async def next_sent(self) -> list[Any]:
        await asyncio.wait_for(self.sent_event.wait(), 5)
        self.sent_event.clear()
        return self.sent[-1]


async def _session(
    station: Station | None = None, **options: Any
) -> tuple[Ocpp16Session, Link, InMemoryRepository]:
    station = station or Station(id="ST1", name="ST1", code="ST1")
    repository = InMemoryRepository()
    async with repository.transaction() as tx:
        await tx.stations.save(station)
    link = Link()
    context = SessionContext(station, Protocol.OCPP16, "ocpp1.6", link.send, link.close)
    charging = ChargingService(repository, clock=lambda: T0)
    session = session_factory(charging, **options)(context)
    assert isinstance(session, Ocpp16Session)
    await session.on_open()
    return session, link, repository


def test_a_failing_handler_is_answered_internal_error_without_details(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def test() -> None:
        session, _, _ = await _session()

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("secret detail")

        session.charging.heartbeat = broken  # type: ignore[method-assign]
        answer = json.loads(await session.on_message('[2,"1","Heartbeat",{}]') or "")
        assert answer == [4, "1", "InternalError", "the message could not be processed", {}]
        assert "secret detail" in caplog.text  # logged for us, not sent to the station

    asyncio.run(test())


def test_a_deleted_station_is_refused() -> None:
    async def test() -> None:
        session, _, repository = await _session()
        async with repository.transaction() as tx:
            await tx.stations.delete("ST1")
        report = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}
        status = json.dumps([2, "1", "StatusNotification", report])
        answer = json.loads(await session.on_message(status) or "")
        assert answer[2] == "SecurityError"
        assert session.registration is RegistrationStatus.REJECTED
        boot = '[2,"2","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
        answer = json.loads(await session.on_message(boot) or "")
        assert answer[2]["status"] == "Rejected"

    asyncio.run(test())


def test_a_send_that_fails_is_not_connected() -> None:
    async def test() -> None:
        session, link, _ = await _session()
        link.fail = True
        with pytest.raises(StationNotConnected):
            await session.call("Reset", {"type": "Soft"})
        link.fail = False
        with pytest.raises(InvalidInput):
            await session.call("Reset", {"type": "Sideways"})
        assert link.sent == []

    asyncio.run(test())


def test_timeout_counts_the_wait_for_a_turn() -> None:
    async def test() -> None:
        session, link, _ = await _session()
        first = asyncio.create_task(session.call("Reset", {"type": "Soft"}, timeout=5))
        frame = await link.next_sent()
        with pytest.raises(CommandTimeout):
            await session.call("Reset", {"type": "Hard"}, timeout=0.05)
        assert len(link.sent) == 1  # the second never went out
        await session.on_message(json.dumps([3, frame[1], {"status": "Accepted"}]))
        assert await first == {"status": "Accepted"}

    asyncio.run(test())


def test_closing_ends_the_boot_configuration_and_later_work() -> None:
    async def test() -> None:
        station = Station(
            id="ST1", name="ST1", code="ST1", boot_configuration=full_boot_configuration()
        )
        session, link, _ = await _session(station)
        first = await link.next_sent()
        assert first[2:] == ["TriggerMessage", {"requestedMessage": "BootNotification"}]
        await session.on_close()
        assert session.closed
        assert len(link.sent) == 1  # the configuration stopped with the connection

        async def never() -> None:  # pragma: no cover - closed before it runs
            raise AssertionError

        session.spawn(never())
        with pytest.raises(StationNotConnected):
            await session.call("Reset", {"type": "Soft"})

    asyncio.run(test())


def test_closing_while_a_call_waits_for_its_turn() -> None:
    async def test() -> None:
        session, link, _ = await _session()
        first = asyncio.create_task(session.call("Reset", {"type": "Soft"}))
        await link.next_sent()
        second = asyncio.create_task(session.call("Reset", {"type": "Hard"}))
        await asyncio.sleep(0.01)
        await session.on_close()
        for task in (first, second):
            with pytest.raises(StationNotConnected):
                await task
        assert len(link.sent) == 1

    asyncio.run(test())

"""The local event bus, and the connection events published to it."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime

import pytest

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.bus import LocalEventBus
from evcharge_core.connections import ConnectionService
from evcharge_core.domain.events import (
    Event,
    StationConnected,
    StationDeleted,
    StationDisconnected,
)
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


def test_subscribers_get_every_event_in_order_and_failures_are_contained(
    caplog: pytest.LogCaptureFixture,
) -> None:
    bus = LocalEventBus()
    got: list[tuple[str, Event]] = []

    def broken(event: Event) -> None:
        raise RuntimeError("subscriber bug")

    unsubscribe_a = bus.subscribe(lambda e: got.append(("a", e)))
    bus.subscribe(broken)
    bus.subscribe(lambda e: got.append(("b", e)))
    assert bus.subscriber_count == 3
    events = [StationDeleted("1"), StationDeleted("2")]
    with caplog.at_level(logging.ERROR, logger="evcharge_core.bus"):
        bus.publish(events)
    assert got == [("a", events[0]), ("b", events[0]), ("a", events[1]), ("b", events[1])]
    assert "subscriber bug" in caplog.text
    unsubscribe_a()
    unsubscribe_a()  # idempotent
    got.clear()
    bus.publish([events[0]])
    assert got == [("b", events[0])]
    bus.publish([])


def test_a_subscriber_may_unsubscribe_while_called() -> None:
    bus = LocalEventBus()
    got: list[Event] = []
    unsubscribe = bus.subscribe(lambda e: (got.append(e), unsubscribe()))  # type: ignore[func-returns-value]
    bus.publish([StationDeleted("1"), StationDeleted("2")])
    assert len(got) == 2  # this publish still reaches it; the next will not
    bus.publish([StationDeleted("3")])
    assert len(got) == 2


def test_connection_service_publishes_connected_and_disconnected() -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        async with repository.transaction() as tx:
            await tx.stations.save(Station(id="ST1", name="ST1", code="ST1"))
        bus = LocalEventBus()
        got: list[Event] = []
        bus.subscribe(got.append)
        connections = ConnectionService(repository, clock=lambda: T0, events=bus)
        await connections.connected("ST1", Protocol.OCPP16, record_protocol=True)
        await connections.disconnected("ST1")
        assert await connections.disconnected("NOPE") is None
        assert got == [StationConnected("ST1", T0, "ocpp1.6"), StationDisconnected("ST1", T0)]

    asyncio.run(test())

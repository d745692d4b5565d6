"""Two nodes of a cluster in one process, on one PostgreSQL database: commands issued on
either reach stations connected to the other, with the same errors; events reach every
node's subscribers; a station connecting to the other node takes its lease over."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from evcharge_core.bootstrap import open_repository
from evcharge_core.cluster import (
    ClusterNode,
    LeaseStore,
    MemoryHub,
    NatsTransport,
    PostgresTransport,
    Transport,
)
from evcharge_core.domain.events import Event, StationConnected, StationDisconnected
from evcharge_core.errors import (
    CommandTimeout,
    NotFound,
    StationCallError,
    StationNotConnected,
    StorageError,
)
from evcharge_core.serve import Core, build_core
from evcharge_core.service import StationService
from tests import postgres
from tests.cluster.harness import RawStation, require_nats, until


@pytest.fixture
def db_url() -> Iterator[str]:
    url = postgres.create_database("evcharge_cluster")
    yield url
    postgres.drop_database(url)


def _transport_factory(kind: str, url: str) -> Callable[[LeaseStore], Transport]:
    if kind == "memory":
        hub = MemoryHub()
        return lambda leases: hub.transport()
    if kind == "postgres":
        return lambda leases: PostgresTransport(url, leases)
    nats_url = require_nats()
    return lambda leases: NatsTransport(nats_url)


@contextlib.asynccontextmanager
async def node(
    url: str, name: str, make: Callable[[LeaseStore], Transport], ttl: float = 30.0
) -> AsyncIterator[tuple[Core, ClusterNode]]:
    repository = await open_repository(url)
    leases = await LeaseStore.open(url, name, ttl=ttl)
    cluster = ClusterNode(name, leases, make(leases))
    await cluster.start()
    core = build_core(repository, cluster=cluster)
    await core.connections.reset_connections()
    await core.gateway.start("127.0.0.1", 0)
    try:
        yield core, cluster
    finally:
        await core.gateway.close()
        await core.commands.aclose()
        await cluster.aclose()
        await repository.close()


def url_of(core: Core, station_id: str) -> str:
    return f"ws://127.0.0.1:{core.gateway.port}/ocpp/{station_id}"


def answers(action: str, payload: dict[str, Any]) -> dict[str, Any] | tuple[str, str] | None:
    if action == "Reset":
        return {"status": "Accepted"}
    if action == "UnlockConnector":
        return ("NotSupported", "no lock here")
    if action == "GetConfiguration":
        return {
            "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "300"}],
            "unknownKey": ["Nope"],
        }
    return None  # never answered: a timeout


async def create(url: str, *ids: str) -> None:
    repository = await open_repository(url)
    try:
        service = StationService(repository)
        for station_id in ids:
            await service.create_station({"id": station_id, "protocol": "ocpp1.6"})
    finally:
        await repository.close()


@pytest.mark.parametrize("kind", ["memory", "postgres", "nats"])
def test_commands_and_events_cross_nodes(db_url: str, kind: str) -> None:
    make = _transport_factory(kind, db_url)

    async def go() -> None:
        await create(db_url, "ST1", "ST2", "IDLE")
        async with node(db_url, "a", make) as (a, _), node(db_url, "b", make) as (b, _):
            seen_on_b: list[Event] = []
            b.bus.subscribe(seen_on_b.append)
            async with RawStation(url_of(a, "ST1"), answers), RawStation(url_of(b, "ST2"), answers):
                await until(
                    lambda: any(
                        isinstance(e, StationConnected) and e.station_id == "ST1" for e in seen_on_b
                    ),
                    what="b to see ST1's connection on a",
                )
                await until(
                    lambda: a.gateway.session("ST1") and b.gateway.session("ST2"),
                    what="both stations' sessions",
                )
                for here, station in ((b, "ST1"), (a, "ST2"), (a, "ST1"), (b, "ST2")):
                    assert await here.commands.reset(station, "Soft") == "Accepted"
                    result = await here.commands.get_configuration(station, ["HeartbeatInterval"])
                    assert [tuple(e) for e in result.entries] == [
                        ("HeartbeatInterval", "300", False)
                    ]
                    assert result.unknown_keys == ("Nope",)
                    with pytest.raises(StationCallError) as raised:
                        await here.commands.unlock(station, 1)
                    assert (raised.value.code, raised.value.description) == (
                        "NotSupported",
                        "no lock here",
                    )
                    assert raised.value.station_id == station
                    with pytest.raises(CommandTimeout) as timed_out:
                        await here.commands.trigger_message(station, "Heartbeat", timeout=0.3)
                    assert timed_out.value.station_id == station
                with pytest.raises(StationNotConnected):
                    await b.commands.reset("IDLE", "Soft")
                with pytest.raises(NotFound):
                    await b.commands.reset("NOSUCH", "Soft")
                await b.commands.disconnect("ST1")  # routed to a
                await until(
                    lambda: any(
                        isinstance(e, StationDisconnected) and e.station_id == "ST1"
                        for e in seen_on_b
                    ),
                    what="ST1's disconnection, seen on b",
                )
                with pytest.raises(StationNotConnected):
                    await b.commands.reset("ST1", "Soft")

    asyncio.run(go())


async def _holder_is(node: ClusterNode, station_id: str, node_id: str) -> bool:
    lease = await node.leases.holder(station_id)
    return lease is not None and lease.node_id == node_id


def test_a_station_connecting_elsewhere_takes_its_lease_over(db_url: str) -> None:
    make = _transport_factory("postgres", db_url)

    async def go() -> None:
        await create(db_url, "ST1")
        async with node(db_url, "a", make) as (a, na), node(db_url, "b", make) as (b, nb):
            async with RawStation(url_of(a, "ST1"), answers) as first:
                await until(lambda: _holder_is(na, "ST1", "a"), what="a's lease on ST1")
                async with RawStation(url_of(b, "ST1"), answers):
                    await asyncio.wait_for(first.closed.wait(), 30)  # a closed its socket
                    lease = await nb.leases.holder("ST1")
                    assert lease is not None
                    assert lease.node_id == "b"
                    await until(lambda: not a.gateway.connected_station_ids(), what="a's close")
                    station = await a.stations.get_station("ST1")
                    assert station.connection.connected  # a's close did not undo b's
                    assert await a.commands.reset("ST1", "Soft") == "Accepted"

            async def stored_disconnected() -> bool:
                station = await b.stations.get_station("ST1")
                return not station.connection.connected

            await until(stored_disconnected, what="ST1 stored disconnected by b")
            assert await nb.leases.holder("ST1") is None

    asyncio.run(go())


def test_a_lease_lost_at_renewal_closes_the_socket(db_url: str) -> None:
    """Without the message (a node that missed it): the next renewal finds the lease gone."""
    make = _transport_factory("memory", db_url)

    async def go() -> None:
        await create(db_url, "ST1")
        async with node(db_url, "a", make) as (a, na):
            async with RawStation(url_of(a, "ST1"), answers) as station:
                # the lease is taken just after the handshake
                await until(lambda: _holder_is(na, "ST1", "a"), what="a's lease on ST1")
                async with na.leases.pool.connection() as conn:
                    await conn.execute("UPDATE evcharge_station_leases SET node_id = 'elsewhere'")
                await na.renew()
                await asyncio.wait_for(station.closed.wait(), 30)
            stored = await a.stations.get_station("ST1")
            assert stored.connection.connected  # 'elsewhere' holds it

    asyncio.run(go())


@pytest.mark.parametrize("kind", ["memory", "nats"])
def test_a_command_to_a_dead_node_fails_at_once(db_url: str, kind: str) -> None:
    """Its lease still lives, but nobody answers for that node any more: not connected."""
    make = _transport_factory(kind, db_url)

    async def go() -> None:
        await create(db_url, "ST1")
        async with (
            node(db_url, "a", make) as (a, _),
            node(db_url, "b", make) as (b, nb),
            RawStation(url_of(b, "ST1"), answers),
        ):
            await until(lambda: b.gateway.session("ST1"), what="ST1's session on b")
            assert await a.commands.reset("ST1", "Soft") == "Accepted"
            await nb.transport.close()  # as if b had been killed
            assert await nb.leases.holder("ST1") is not None
            with pytest.raises(StationNotConnected):
                await a.commands.reset("ST1", "Soft", timeout=60)

    asyncio.run(go())


def big_answers(action: str, payload: dict[str, Any]) -> dict[str, Any] | tuple[str, str] | None:
    if action == "GetConfiguration":  # about 20 KB: more than a notification carries
        keys = [{"key": f"Key{n}", "readonly": True, "value": "x" * 40} for n in range(300)]
        return {"configurationKey": keys}
    return {"status": "Accepted"}


def test_large_answers_cross_the_postgres_bus(db_url: str) -> None:
    make = _transport_factory("postgres", db_url)

    async def go() -> None:
        await create(db_url, "ST1")
        async with (
            node(db_url, "a", make) as (a, _),
            node(db_url, "b", make) as (b, _),
            RawStation(url_of(b, "ST1"), big_answers),
        ):
            await until(lambda: b.gateway.session("ST1"), what="ST1's session on b")
            result = await a.commands.get_configuration("ST1")
            assert len(result.entries) == 300
            assert result.entries[299] == ("Key299", "x" * 40, True)

    asyncio.run(go())


def test_the_postgres_bus_listens_again_after_its_connection_broke(db_url: str) -> None:
    make = _transport_factory("postgres", db_url)

    async def go() -> None:
        await create(db_url, "ST1", "ST2")
        async with node(db_url, "a", make) as (a, _), node(db_url, "b", make) as (b, _):
            seen_on_a: list[Event] = []
            a.bus.subscribe(seen_on_a.append)
            postgres.terminate_sessions(db_url)  # as a database restart would

            async def routed() -> bool:
                try:
                    return await a.commands.reset("ST1", "Soft", timeout=1) == "Accepted"
                except (CommandTimeout, StationNotConnected, StorageError):
                    return False

            async with RawStation(url_of(b, "ST1"), answers):
                await until(routed, what="a command routed after the reconnection")
            async with RawStation(url_of(b, "ST2"), answers):
                await until(
                    lambda: any(
                        isinstance(e, StationConnected) and e.station_id == "ST2" for e in seen_on_a
                    ),
                    what="b's events on a after the reconnection",
                )

    asyncio.run(go())


STATUSES = {"UnlockConnector": "Unlocked"}


def every_answer(action: str, payload: dict[str, Any]) -> dict[str, Any] | tuple[str, str] | None:
    if action == "GetConfiguration":
        return {"configurationKey": []}
    return {"status": STATUSES.get(action, "Accepted")}


def test_every_command_crosses(db_url: str) -> None:
    from datetime import UTC, datetime, timedelta

    from evcharge_core.cluster import RemoteCommands
    from evcharge_core.errors import Conflict

    make = _transport_factory("memory", db_url)
    profile = {
        "chargingProfileId": 1,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxDefaultProfile",
        "chargingProfileKind": "Absolute",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
        },
    }

    async def go() -> None:
        await create(db_url, "ST1")
        async with (
            node(db_url, "a", make) as (a, _),
            node(db_url, "b", make) as (b, _),
            RawStation(url_of(b, "ST1"), every_answer),
        ):
            await until(lambda: b.gateway.session("ST1"), what="ST1's session on b")
            c = a.commands
            assert await c.change_configuration("ST1", "HeartbeatInterval", "60") == "Accepted"
            assert await c.rotate_password("ST1") == "Accepted"
            assert (await b.stations.get_station("ST1")).password_hash is not None
            assert await c.trigger_message("ST1", "StatusNotification", 1) == "Accepted"
            assert await c.remote_start("ST1", "TAG", 1) == "Accepted"
            assert await c.remote_stop("ST1", 42) == "Accepted"
            assert await c.unlock("ST1", 1) == "Unlocked"
            assert await c.change_availability("ST1", 0, "Inoperative") == "Accepted"
            assert await c.set_charging_profile("ST1", 1, profile) == "Accepted"
            assert await c.clear_charging_profile("ST1", profile_id=1) == "Accepted"
            assert await c.call("ST1", "DataTransfer", {"vendorId": "x"}) == {"status": "Accepted"}
            with pytest.raises(Conflict):  # OCPP 2.0.1 only, said by the holding node
                await c.get_base_report("ST1")
            remote = await a.live.find_session("ST1")  # type: ignore[union-attr]
            commands = remote.commands  # type: ignore[union-attr]
            assert isinstance(commands, RemoteCommands)
            expiry = datetime.now(UTC) + timedelta(hours=1)
            assert await commands.reserve_now(1, "TAG", expiry, 5) == "Accepted"
            assert await commands.cancel_reservation(5) == "Accepted"

    asyncio.run(go())


def test_a_message_that_cannot_be_read_does_not_stop_the_listener(db_url: str) -> None:
    make = _transport_factory("postgres", db_url)

    async def go() -> None:
        await create(db_url, "ST1")
        async with node(db_url, "a", make) as (a, na), node(db_url, "b", make) as (b, _):
            seen_on_a: list[Event] = []
            a.bus.subscribe(seen_on_a.append)
            await na.leases.notify("evcharge_events", '{"k": "evt", "b": "not json"}')
            await na.leases.notify("evcharge_events", "not json either")
            async with RawStation(url_of(b, "ST1"), answers):
                await until(
                    lambda: any(isinstance(e, StationConnected) for e in seen_on_a),
                    what="b's events on a",
                )

    asyncio.run(go())


def test_a_notification_of_another_shape_does_not_stop_the_listener(db_url: str) -> None:
    """JSON that is not an object, or names a stored message wrongly: ignored, and the
    node still hears the others (a dead listener would leave it deaf for good)."""
    make = _transport_factory("postgres", db_url)

    async def go() -> None:
        await create(db_url, "ST1")
        async with node(db_url, "a", make) as (a, na), node(db_url, "b", make) as (b, _):
            seen_on_a: list[Event] = []
            a.bus.subscribe(seen_on_a.append)
            for odd in ("1", "null", '"ref"', '["ref"]', '{"ref": "x"}', '{"ref": null}'):
                await na.leases.notify("evcharge_events", odd)
            async with RawStation(url_of(b, "ST1"), answers):
                await until(
                    lambda: any(isinstance(e, StationConnected) for e in seen_on_a),
                    what="b's events on a",
                )
                assert await a.commands.reset("ST1", "Soft") == "Accepted"

    asyncio.run(go())


def test_one_node_balances_and_another_takes_over_when_it_stops(db_url: str) -> None:
    """Every node sees every event, so only the holder of the cluster's balancer role may
    send TxProfiles; when it stops, another node takes the role (and balances)."""
    make = _transport_factory("memory", db_url)

    async def go() -> None:
        async with contextlib.AsyncExitStack() as stack:
            first = await stack.enter_async_context(node(db_url, "a", make, ttl=1.0))
            b, cluster_b = await stack.enter_async_context(node(db_url, "b", make, ttl=1.0))
            a, cluster_a = first
            await until(
                lambda: a.balancer.active or b.balancer.active, what="a node to take the role"
            )
            await asyncio.sleep(1.5)  # more than a time to live: the other never takes it
            assert [a.balancer.active, b.balancer.active].count(True) == 1
            assert (cluster_a.roles_held | cluster_b.roles_held) == {"balancer"}
            leader, other = (a, b) if a.balancer.active else (b, a)
            # a follower ignores events: it computes nothing, so it sends nothing
            assert other.balancer.request("any-area") is None
            await (cluster_a if leader is a else cluster_b).aclose()  # releases the role
            assert not leader.balancer.active  # told before the role is given up
            await until(lambda: other.balancer.active, what="the other node to take the role")

    asyncio.run(go())


def test_a_profile_assigned_on_any_node_is_sent_once_by_the_station_s_node(db_url: str) -> None:
    """Every node sees the assignment's event; only the node holding the station's websocket
    sends the profile (others would send it again through the routing)."""
    make = _transport_factory("memory", db_url)
    calls: list[str] = []

    def record(action: str, payload: dict[str, Any]) -> dict[str, Any]:
        calls.append(action)
        if action == "GetConfiguration":
            return {"configurationKey": [], "unknownKey": payload.get("key", [])}
        return {"status": "Accepted"}

    async def go() -> None:
        await create(db_url, "ST1")
        async with node(db_url, "a", make) as (a, _), node(db_url, "b", make) as (b, _):
            await a.stations.create_profile(
                {
                    "id": "day-night",
                    "name": "Day/night",
                    "unit": "W",
                    "recurrence": "daily",
                    "periods": [
                        {"start": "07:00", "limit": 10000},
                        {"start": "22:00", "limit": 20000},
                    ],
                }
            )
            _, charger = await a.stations.create_charger("ST1", {})
            async with RawStation(url_of(b, "ST1"), record):
                await until(lambda: b.gateway.session("ST1"), what="ST1's session on b")
                await a.stations.update_charger(charger.id, {"charging_profile_id": "day-night"})
                await until(lambda: "SetChargingProfile" in calls, what="the profile")
                await asyncio.sleep(0.5)  # room for a second sender, were there one
                assert calls.count("SetChargingProfile") == 1
                await b.stations.update_profile("day-night", {"name": "Day and night"})
                await a.stations.update_profile(
                    "day-night", {"periods": [{"start": "00:00", "limit": 15000}]}
                )
                await until(
                    lambda: calls.count("SetChargingProfile") >= 3, what="the changed profile"
                )
                await asyncio.sleep(0.5)
                assert calls.count("SetChargingProfile") == 3

    asyncio.run(go())

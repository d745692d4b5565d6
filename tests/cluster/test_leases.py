"""Station leases in PostgreSQL: taking, taking over, renewing, expiring; the start-up
clean-up that only touches stations no live lease holds; the cluster's own migrations."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any, cast

import psycopg
import pytest

from evcharge_core.bootstrap import open_repository
from evcharge_core.cluster import MIGRATIONS, LeasedConnectionService, LeaseStore
from evcharge_core.domain.values import Protocol
from evcharge_core.errors import StorageError
from evcharge_core.ports import Repository
from evcharge_core.service import StationService
from tests import postgres
from tests.cluster.harness import until


@pytest.fixture
def db_url() -> Iterator[str]:
    url = postgres.create_database("evcharge_leases")
    yield url
    postgres.drop_database(url)


def test_take_take_over_release_renew(db_url: str) -> None:
    async def go() -> None:
        a = await LeaseStore.open(db_url, "a")
        b = await LeaseStore.open(db_url, "b")
        try:
            assert await a.acquire("S1", "ocpp1.6") is None
            assert await a.acquire("S1", "ocpp1.6") is None  # again: still its own
            assert await b.acquire("S1", "ocpp2.0.1") == "a"  # taken over from a
            lease = await a.holder("S1")
            assert lease is not None
            assert (lease.node_id, lease.protocol) == ("b", "ocpp2.0.1")
            assert not await a.release("S1")  # not a's any more
            assert await a.renew(["S1"]) == {"S1"}  # lost
            assert await b.renew(["S1"]) == set()
            assert await b.release("S1")
            assert await a.holder("S1") is None
            assert await b.acquire("S1", "ocpp1.6") is None  # nobody held it
        finally:
            await a.close()
            await b.close()

    asyncio.run(go())


def test_leases_not_renewed_expire(db_url: str) -> None:
    async def go() -> None:
        dead = await LeaseStore.open(db_url, "dead", ttl=0.2)
        alive = await LeaseStore.open(db_url, "alive")
        try:
            await dead.acquire("S1", "ocpp1.6")
            await alive.acquire("S2", "ocpp1.6")

            async def gone() -> bool:
                return await alive.holder("S1") is None

            await until(gone, what="the dead node's lease to expire")
            assert await alive.expire() == ["S1"]
            assert await alive.live_station_ids() == {"S2"}
            assert await alive.acquire("S1", "ocpp1.6") is None  # expired: nobody to tell
        finally:
            await dead.close()
            await alive.close()

    asyncio.run(go())


def test_start_up_cleans_only_stations_without_a_live_lease(db_url: str) -> None:
    async def go() -> None:
        repository = await open_repository(db_url)
        other = await LeaseStore.open(db_url, "other")
        mine = await LeaseStore.open(db_url, "me")
        try:
            service = StationService(repository)
            for station_id in ("HELD", "MINE", "ORPHAN"):
                await service.create_station({"id": station_id, "protocol": "ocpp1.6"})
            connections = LeasedConnectionService(repository, mine)
            for station_id in ("HELD", "MINE", "ORPHAN"):
                await connections.connected(station_id, Protocol.OCPP16, record_protocol=False)
            await other.acquire("HELD", "ocpp1.6")  # connected to the other node now
            await mine.release("ORPHAN")  # as if a crashed node's lease had expired
            restarted = LeasedConnectionService(repository, mine)  # same node id, restarted
            assert await restarted.reset_connections() == 2
            stations = {s: await service.get_station(s) for s in ("HELD", "MINE", "ORPHAN")}
            assert stations["HELD"].connection.connected
            assert not stations["MINE"].connection.connected
            assert not stations["ORPHAN"].connection.connected
            assert await mine.live_station_ids() == {"HELD"}
        finally:
            await other.close()
            await mine.close()
            await repository.close()

    asyncio.run(go())


def test_sweep_stores_expired_stations_disconnected(db_url: str) -> None:
    async def go() -> None:
        repository = await open_repository(db_url)
        dead = await LeaseStore.open(db_url, "dead", ttl=0.2)
        alive = await LeaseStore.open(db_url, "alive")
        try:
            service = StationService(repository)
            await service.create_station({"id": "S1", "protocol": "ocpp1.6"})
            await LeasedConnectionService(repository, dead).connected(
                "S1", Protocol.OCPP16, record_protocol=False
            )
            sweeper = LeasedConnectionService(repository, alive)

            async def swept() -> bool:
                return await sweeper.sweep() == 1

            await until(swept, what="the expired lease to be swept")
            assert not (await service.get_station("S1")).connection.connected
        finally:
            await dead.close()
            await alive.close()
            await repository.close()

    asyncio.run(go())


def test_cluster_migrations_are_their_own(db_url: str) -> None:
    async def go() -> None:
        for _ in range(2):  # a second opening finds the schema current
            store = await LeaseStore.open(db_url, "a")
            await store.close()

    asyncio.run(go())
    with psycopg.connect(db_url) as conn:
        rows = conn.execute(
            "SELECT version, description FROM evcharge_cluster_migrations ORDER BY version"
        ).fetchall()
        assert rows == [(n + 1, m.description) for n, m in enumerate(MIGRATIONS)]
        conn.execute(
            "INSERT INTO evcharge_cluster_migrations (version, description)"
            " VALUES (99, 'from the future')"
        )
        conn.commit()

    async def newer() -> None:
        await LeaseStore.open(db_url, "a")

    from evcharge_core.errors import StorageError

    with pytest.raises(StorageError, match="version 99"):
        asyncio.run(newer())


def test_a_racing_disconnection_is_undone_at_the_next_renewal(db_url: str) -> None:
    async def go() -> None:
        repository = await open_repository(db_url)
        mine = await LeaseStore.open(db_url, "me")
        other = await LeaseStore.open(db_url, "other")
        try:
            service = StationService(repository)
            for station_id in ("S1", "S2"):
                await service.create_station({"id": station_id, "protocol": "ocpp1.6"})
            connections = LeasedConnectionService(repository, mine)
            for station_id in ("S1", "S2"):
                await connections.connected(station_id, Protocol.OCPP16, record_protocol=False)
            # Another process, closing the stations' old connections, wrote them disconnected
            # after they connected here; S2 has since moved on to that other process.
            await LeasedConnectionService(repository, other).store_disconnected(["S1", "S2"])
            await other.acquire("S2", "ocpp1.6")
            connections.forget("S2")
            assert await connections.confirm_recent() == 1
            assert (await service.get_station("S1")).connection.connected
            assert not (await service.get_station("S2")).connection.connected
            assert await connections.confirm_recent() == 0  # only once per lease taken
        finally:
            await mine.close()
            await other.close()
            await repository.close()

    asyncio.run(go())


def test_a_cluster_role_is_held_by_one_node_at_a_time(db_url: str) -> None:
    async def go() -> None:
        a = await LeaseStore.open(db_url, "a")
        b = await LeaseStore.open(db_url, "b")
        dying = await LeaseStore.open(db_url, "dying", ttl=0.2)
        try:
            assert await a.claim_role("balancer")
            assert not await b.claim_role("balancer")
            assert await a.claim_role("balancer")  # renewed: still a's
            assert await b.claim_role("other")  # roles are apart
            await b.release_role("balancer")  # not b's: nothing happens
            assert not await b.claim_role("balancer")
            await a.release_role("balancer")
            assert await b.claim_role("balancer")
            assert not await a.claim_role("balancer")

            # a node that stops renewing loses its role once its claim expires
            assert await dying.claim_role("solo")
            assert not await a.claim_role("solo")

            async def taken() -> bool:
                return await a.claim_role("solo")

            await until(taken, what="the dead node's role to expire")
            assert not await dying.claim_role("solo")
        finally:
            await a.close()
            await b.close()
            await dying.close()

    asyncio.run(go())


class Outage:
    """A repository whose next ``failures`` transactions cannot start (the database is
    briefly away)."""

    def __init__(self, inner: Repository) -> None:
        self.inner = inner
        self.failures = 0

    def transaction(self) -> Any:
        if self.failures:
            self.failures -= 1
            raise StorageError("the database is away")
        return self.inner.transaction()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_sweep_that_cannot_store_tries_again_at_the_next_round(db_url: str) -> None:
    """The expired leases are deleted before their stations are stored disconnected: when
    storing fails, the next sweep must still store them (no lease is left to find them)."""

    async def go() -> None:
        repository = await open_repository(db_url)
        dead = await LeaseStore.open(db_url, "dead", ttl=0.2)
        alive = await LeaseStore.open(db_url, "alive")
        try:
            service = StationService(repository)
            for station_id in ("S1", "S2"):
                await service.create_station({"id": station_id, "protocol": "ocpp1.6"})
                await LeasedConnectionService(repository, dead).connected(
                    station_id, Protocol.OCPP16, record_protocol=False
                )
            outage = Outage(repository)
            sweeper = LeasedConnectionService(cast(Repository, outage), alive)
            await until(
                lambda: _expired(alive, {"S1", "S2"}), what="the leases to expire", limit=60
            )
            outage.failures = 1
            with pytest.raises(StorageError):
                await sweeper.sweep()
            assert await alive.live_station_ids() == set()  # the leases are gone already
            assert await sweeper.sweep() == 2
            for station_id in ("S1", "S2"):
                assert not (await service.get_station(station_id)).connection.connected
        finally:
            await dead.close()
            await alive.close()
            await repository.close()

    asyncio.run(go())


async def _expired(leases: LeaseStore, station_ids: set[str]) -> bool:
    return not (await leases.live_station_ids() & station_ids)


def test_a_racing_disconnection_is_undone_even_after_a_failed_round(db_url: str) -> None:
    async def go() -> None:
        repository = await open_repository(db_url)
        mine = await LeaseStore.open(db_url, "me")
        other = await LeaseStore.open(db_url, "other")
        try:
            service = StationService(repository)
            await service.create_station({"id": "S1", "protocol": "ocpp1.6"})
            outage = Outage(repository)
            connections = LeasedConnectionService(cast(Repository, outage), mine)
            await connections.connected("S1", Protocol.OCPP16, record_protocol=False)
            await LeasedConnectionService(repository, other).store_disconnected(["S1"])
            outage.failures = 1
            with pytest.raises(StorageError):
                await connections.confirm_recent()
            assert await connections.confirm_recent() == 1
            assert (await service.get_station("S1")).connection.connected
        finally:
            await mine.close()
            await other.close()
            await repository.close()

    asyncio.run(go())

"""The PostgreSQL repository: the conformance suite against a real server, and what only a
server has: migrations shared by several processes, URLs and their errors, connections that
break, group commit, concurrent writers, and durability."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime

import attrs
import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.adapters import postgres as pg
from evcharge_core.adapters.memory import matches, search_fold
from evcharge_core.adapters.postgres import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Migration,
    PostgresRepository,
    display_url,
)
from evcharge_core.bootstrap import open_repository
from evcharge_core.domain.model import Charger, Station
from evcharge_core.domain.profiles import ChargingProfile, ProfilePeriod, RateUnit, Recurrence
from evcharge_core.errors import Conflict, StorageError
from evcharge_core.ports import Repository, StationQuery, TransactionQuery
from evcharge_core.testing import RepositoryConformance, make_stateful_test, strategies

from ..postgres import (
    create_database,
    drop_database,
    require_server,
    terminate_sessions,
    url_of,
)

_RUN: dict[str, str] = {}
"""The URL of this module's database, shared by the conformance examples."""


@pytest.fixture(scope="module", autouse=True)
def _module_database() -> Iterator[str]:
    require_server()
    url = create_database("evcharge_conformance")
    _RUN["url"] = url
    try:
        yield url
    finally:
        drop_database(url)


async def _empty_repository() -> Repository:
    """The module's database, emptied (opening it migrates it the first time)."""
    repository = await PostgresRepository.open(_RUN["url"])
    async with repository._pool.connection() as conn:
        await conn.execute("; ".join(f"DELETE FROM {table}" for table in pg._TABLES))
    return repository


class TestPostgresRepository(RepositoryConformance):
    """The conformance suite, each example on the emptied module database."""

    async def make_repository(self) -> Repository:
        return await _empty_repository()


TestPostgresRepositoryModel = make_stateful_test(_empty_repository)


# --- helpers ---------------------------------------------------------------------------------


def _station(station_id: str = "ST1", code: str = "C1", **fields: object) -> Station:
    fields.setdefault("name", f"Station {station_id}")
    return Station(id=station_id, code=code, **fields)  # type: ignore[arg-type]


def _query(url: str, sql: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()  # type: ignore[arg-type]


def _all(repository: Repository) -> list[Station]:
    async def run() -> list[Station]:
        async with repository.transaction() as tx:
            return list((await tx.stations.list(StationQuery(page_size=1000))).items)

    return asyncio.run(run())


@pytest.fixture
def db() -> Iterator[str]:
    """A new, empty database of its own (not migrated yet)."""
    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)


def _open(url: str, **kwargs: object) -> None:
    """Open and close (a repository belongs to the event loop that opened it)."""

    async def run() -> None:
        repository = await PostgresRepository.open(url, **kwargs)  # type: ignore[arg-type]
        await repository.close()

    asyncio.run(run())


def _save_and_close(url: str, *stations: Station) -> None:
    async def run() -> None:
        repository = await PostgresRepository.open(url)
        try:
            async with repository.transaction() as tx:
                await tx.stations.save_many(stations)
        finally:
            await repository.close()

    asyncio.run(run())


def _read_all(url: str) -> list[Station]:
    async def run() -> list[Station]:
        repository = await PostgresRepository.open(url)
        try:
            async with repository.transaction() as tx:
                return list((await tx.stations.list(StationQuery(page_size=1000))).items)
        finally:
            await repository.close()

    return asyncio.run(run())


# --- migrations ------------------------------------------------------------------------------


def test_a_new_database_gets_the_schema_and_its_version(db: str) -> None:
    _open(db)
    tables = {
        row[0]
        for row in _query(db, "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    }
    assert tables == {*pg._TABLES, "schema_migrations"}
    versions = _query(db, "SELECT version, description FROM schema_migrations ORDER BY version")
    assert [v for v, _ in versions] == list(range(1, SCHEMA_VERSION + 1))
    assert [d for _, d in versions] == [m.description for m in MIGRATIONS]
    assert _query(db, "SELECT to_regclass('transaction_ids') IS NOT NULL") == [(True,)]


def test_reopening_keeps_the_data_and_migrates_nothing(db: str) -> None:
    _save_and_close(db, _station())
    before = _query(db, "SELECT version, applied_at FROM schema_migrations")
    _open(db)
    assert _query(db, "SELECT version, applied_at FROM schema_migrations") == before
    assert _read_all(db) == [_station()]


_CONCURRENT_OPEN = """
import asyncio, sys
from evcharge_core.adapters.postgres import PostgresRepository

async def main():
    repositories = await asyncio.gather(*(PostgresRepository.open(sys.argv[1]) for _ in range(3)))
    for repository in repositories:
        await repository.close()
    print("opened")

asyncio.run(main())
"""


def test_concurrent_first_openings_by_several_processes_migrate_once(db: str) -> None:
    """Two processes of three openings each, all at once on a new database: the advisory
    lock lets one migrate, the others find the schema done."""
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _CONCURRENT_OPEN, db],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert out.strip() == "opened"
    versions = _query(db, "SELECT version FROM schema_migrations ORDER BY version")
    assert versions == [(v,) for v in range(1, SCHEMA_VERSION + 1)]


def test_a_failing_migration_step_changes_nothing(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each step is one transaction: a later step that fails leaves the earlier ones
    applied and itself not at all."""
    broken = Migration("broken", ("CREATE TABLE half_done (id integer)", "SELECT 1/0"))
    monkeypatch.setattr(pg, "MIGRATIONS", (*MIGRATIONS, broken))
    monkeypatch.setattr(pg, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StorageError, match="cannot migrate the schema: division by zero"):
        _open(db)
    assert _query(db, "SELECT max(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]
    assert _query(db, "SELECT to_regclass('half_done')") == [(None,)]
    monkeypatch.undo()
    _open(db)  # the current code opens it as usual


def test_version_1_sessions_are_found_by_search_after_migrating(
    db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Version 2's search column is filled in for the sessions stored before it."""
    monkeypatch.setattr(pg, "MIGRATIONS", MIGRATIONS[:1])
    monkeypatch.setattr(pg, "SCHEMA_VERSION", 1)
    _open(db)
    with psycopg.connect(db, autocommit=True) as conn:
        for station_id, transaction_id, id_tag in [("ST-A", "T1", "TagÄ"), ("st-b", "t2", None)]:
            conn.execute(
                "INSERT INTO transactions (station_id, transaction_id, connector_id, id_tag,"
                " state, orphan) VALUES (%s, %s, 1, %s, 'active', false)",
                (station_id, transaction_id, id_tag),
            )
    monkeypatch.undo()

    async def found(search: str) -> list[str]:
        repository = await PostgresRepository.open(db)
        try:
            async with repository.transaction() as tx:
                page = await tx.transactions.list(TransactionQuery(search=search))
        finally:
            await repository.close()
        return sorted(t.transaction_id for t in page.items)

    assert asyncio.run(found("st-")) == ["T1", "t2"]
    assert asyncio.run(found("TAGÄ")) == ["T1"]
    assert asyncio.run(found("tagä")) == []  # A-Z folded only, as the reference model does
    assert asyncio.run(found("t")) == ["T1", "t2"]


def test_a_version_3_database_migrates_and_keeps_its_profile_assignments(db: str) -> None:
    """Version 4 adds charging profiles; a charger that named a profile id at version 3
    keeps naming it, and the profile can then be stored and is protected from deletion."""
    charger = Charger(id="ch-1", evse_id=1, code="CH-1", name="A", charging_profile_id="day")
    station = Station(id="ST1", name="ST1", code="C1", chargers=[charger])
    profile = ChargingProfile(
        "day", "Day", RateUnit.WATTS, Recurrence.DAILY, [ProfilePeriod(7 * 3600, 10_000)]
    )

    async def at_version_4() -> None:
        repository = await PostgresRepository.open(db)
        async with repository.transaction() as tx:
            await tx.stations.save(station)
        await repository.close()

    asyncio.run(at_version_4())
    with psycopg.connect(db, autocommit=True) as conn:  # back to version 3's schema
        for statement in (
            "DROP INDEX chargers_by_profile",
            "DROP TABLE charging_profiles",
            "ALTER TABLE connectors DROP COLUMN phase",
            "ALTER TABLE areas DROP COLUMN phase_voltage",
            "DELETE FROM schema_migrations WHERE version = 4",
        ):
            conn.execute(statement)
    assert _query(db, "SELECT to_regclass('charging_profiles')") == [(None,)]

    async def run() -> None:
        repository = await PostgresRepository.open(db)
        async with repository.transaction() as tx:
            assert await tx.stations.get("ST1") == station
            assert await tx.charging_profiles.list() == []
            await tx.charging_profiles.save(profile)
        async with repository.transaction() as tx:
            assert await tx.charging_profiles.get("day") == profile
            with pytest.raises(Conflict, match="ch-1"):
                await tx.charging_profiles.delete("day")
        await repository.close()

    asyncio.run(run())
    assert _query(db, "SELECT max(version) FROM schema_migrations") == [(SCHEMA_VERSION,)]
    assert SCHEMA_VERSION == 4


def test_a_newer_schema_is_refused_untouched(db: str) -> None:
    _save_and_close(db, _station())
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, description) VALUES (99, 'x')")
    with pytest.raises(StorageError, match="version 99, newer than this evcharge_core knows"):
        _open(db)
    assert _query(db, "SELECT count(*) FROM stations") == [(1,)]


def test_a_database_with_foreign_tables_of_our_names_is_refused_untouched(db: str) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE TABLE stations (whatever text)")
    with pytest.raises(StorageError, match="already has tables named stations"):
        _open(db)
    assert _query(db, "SELECT to_regclass('schema_migrations')") == [(None,)]
    assert _query(db, "SELECT to_regclass('areas')") == [(None,)]


def test_a_schema_of_its_own_through_the_search_path(db: str) -> None:
    """``options=-csearch_path=...`` in the URL puts the tables in that schema."""
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA evcharge")
        conn.execute("CREATE TABLE public.stations (whatever text)")  # someone else's
    url = db + "?options=-csearch_path%3Devcharge"
    _save_and_close(url, _station())
    assert _read_all(url) == [_station()]
    assert _query(db, "SELECT count(*) FROM evcharge.stations") == [(1,)]


# --- URLs and opening errors -----------------------------------------------------------------


def test_errors_name_the_url_without_its_password() -> None:
    require_server()
    url = url_of("evcharge_no_such_database").replace("://", "://postgres:hunter2@", 1)
    with pytest.raises(StorageError) as caught:
        asyncio.run(open_repository(url))
    message = str(caught.value)
    assert "hunter2" not in message
    assert "postgres:***@" in message
    assert "cannot connect to the database" in message
    assert "evcharge_no_such_database" in message


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgresql://127.0.0.1:1/x", "cannot connect to the database"),
        ("postgresql://127.0.0.1:notaport/x", 'invalid integer value "notaport"'),
        ("postgresql://127.0.0.1/x?no_such_option=1", "not a valid PostgreSQL URL"),
    ],
)
def test_bad_urls_and_unreachable_servers(url: str, expected: str) -> None:
    with pytest.raises(StorageError, match=expected):
        asyncio.run(open_repository(url))


def test_both_url_schemes_open_the_adapter(db: str) -> None:
    for url in (db, db.replace("postgresql://", "postgres://", 1)):

        async def run(url: str = url) -> None:
            repository = await open_repository(url)
            assert isinstance(repository, PostgresRepository)
            await repository.close()

        asyncio.run(run())


def test_open_rejects_a_batch_limit_below_one(db: str) -> None:
    with pytest.raises(ValueError, match="batch_limit"):
        _open(db, batch_limit=0)


# --- transactions, failures and recovery -----------------------------------------------------


def test_a_connection_that_dies_mid_transaction_fails_the_unit_and_the_next_one_works(
    db: str,
) -> None:
    """The server ends the connection between two statements of a unit: the unit raises
    StorageError naming the URL, nothing of it is kept, and the next unit runs on a new
    connection."""

    async def run() -> None:
        repository = await PostgresRepository.open(db)
        try:
            async with repository.transaction() as tx:
                await tx.stations.save(_station("KEPT", "K"))

            async def interrupted() -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_station("LOST", "L"))
                    assert await asyncio.to_thread(terminate_sessions, db) >= 1
                    await tx.stations.get("KEPT")

            with pytest.raises(StorageError, match=r"cannot read stations") as caught:
                await interrupted()
            assert display_url(db) in str(caught.value)
            async with repository.transaction() as tx:
                assert await tx.stations.get("LOST") is None
                await tx.stations.save(_station("AFTER", "A"))
            async with repository.transaction() as tx:
                assert sorted((await tx.stations.get_many(["KEPT", "AFTER"])).keys()) == [
                    "AFTER",
                    "KEPT",
                ]
        finally:
            await repository.close()

    asyncio.run(run())


def test_pooled_connections_ended_while_idle_are_replaced_without_failing_a_unit(
    db: str,
) -> None:
    async def run() -> None:
        repository = await PostgresRepository.open(db, min_connections=2, max_connections=3)
        try:
            await _save(repository, _station())
            assert await asyncio.to_thread(terminate_sessions, db) >= 1
            async with repository.transaction() as tx:
                assert await tx.stations.get("ST1") == _station()
        finally:
            await repository.close()

    asyncio.run(run())


async def _save(repository: Repository, *stations: Station) -> None:
    async with repository.transaction() as tx:
        await tx.stations.save_many(stations)


def test_a_commit_that_fails_fails_every_unit_of_the_batch(db: str) -> None:
    async def run() -> None:
        repository = await PostgresRepository.open(db)
        try:
            arrived = asyncio.Event()

            async def unit(station: Station, *, kill: bool) -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(station)
                    if kill:
                        arrived.set()
                        await asyncio.to_thread(terminate_sessions, db)

            results = await asyncio.gather(
                unit(_station("A", "A"), kill=False),
                unit(_station("B", "B"), kill=True),
                return_exceptions=True,
            )
            assert arrived.is_set()
            assert all(isinstance(r, StorageError) for r in results), results
            assert await _get_many(repository, ["A", "B"]) == {}
        finally:
            await repository.close()

    asyncio.run(run())


async def _get_many(repository: Repository, ids: list[str]) -> dict[str, Station]:
    async with repository.transaction() as tx:
        return await tx.stations.get_many(ids)


def test_units_ready_together_share_one_postgresql_transaction(db: str) -> None:
    async def run() -> None:
        repository = await PostgresRepository.open(db)
        try:
            seen: list[int] = []

            async def unit(n: int) -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_station(f"S{n}", f"C{n}"))
                    cursor = await tx.conn().execute("SELECT txid_current()")
                    row = await cursor.fetchone()
                    assert row is not None
                    seen.append(row[0])

            await asyncio.gather(*(unit(n) for n in range(5)))
            assert len(set(seen)) == 1, seen
            assert len(await _get_many(repository, [f"S{n}" for n in range(5)])) == 5
        finally:
            await repository.close()

    asyncio.run(run())


def test_a_batch_holds_at_most_its_limit_of_units(db: str) -> None:
    async def run() -> None:
        repository = await PostgresRepository.open(db, batch_limit=2)
        try:
            seen: list[int] = []

            async def unit(n: int) -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_station(f"S{n}", f"C{n}"))
                    cursor = await tx.conn().execute("SELECT txid_current()")
                    row = await cursor.fetchone()
                    assert row is not None
                    seen.append(row[0])

            await asyncio.gather(*(unit(n) for n in range(5)))
            assert [seen.count(txid) for txid in dict.fromkeys(seen)] == [2, 2, 1]
            assert len(await _get_many(repository, [f"S{n}" for n in range(5)])) == 5
        finally:
            await repository.close()

    asyncio.run(run())


def test_a_unit_that_raises_leaves_the_rest_of_its_batch(db: str) -> None:
    class Abort(Exception):
        pass

    async def run() -> None:
        repository = await PostgresRepository.open(db)
        try:

            async def unit(n: int) -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_station(f"S{n}", f"C{n}"))
                    if n == 1:
                        raise Abort

            results = await asyncio.gather(*(unit(n) for n in range(3)), return_exceptions=True)
            assert [type(r) for r in results] == [type(None), Abort, type(None)]
            assert sorted(await _get_many(repository, ["S0", "S1", "S2"])) == ["S0", "S2"]
        finally:
            await repository.close()

    asyncio.run(run())


def test_a_write_racing_another_process_fails_instead_of_overwriting(db: str) -> None:
    """REPEATABLE READ: a unit that read a station, then saves it after another repository
    (another process) committed a change to it, fails; the other change stays."""

    async def run() -> None:
        first = await PostgresRepository.open(db)
        second = await PostgresRepository.open(db)
        try:
            await _save(first, _station())

            async def racing() -> None:
                async with first.transaction() as tx:
                    station = await tx.stations.get("ST1")
                    assert station is not None
                    await _save(second, attrs.evolve(station, name="theirs"))
                    await tx.stations.save(attrs.evolve(station, name="mine"))

            with pytest.raises(StorageError, match="serialization failure"):
                await racing()
            async with first.transaction() as tx:
                stored = await tx.stations.get("ST1")
            assert stored is not None
            assert stored.name == "theirs"
        finally:
            await first.close()
            await second.close()

    asyncio.run(run())


def test_transaction_ids_are_unique_across_repositories_on_one_database(db: str) -> None:
    async def run() -> None:
        repositories = [await PostgresRepository.open(db) for _ in range(3)]
        try:

            async def allocate(repository: Repository) -> list[int]:
                ids = []
                for _ in range(20):
                    async with repository.transaction() as tx:
                        ids.append(await tx.transactions.allocate_id())
                return ids

            allocated = await asyncio.gather(*(allocate(r) for r in repositories))
            every = [i for ids in allocated for i in ids]
            assert len(set(every)) == len(every) == 60
            assert all(ids == sorted(ids) for ids in allocated)
        finally:
            for repository in repositories:
                await repository.close()

    asyncio.run(run())


def test_conflicts_name_what_collided_and_the_transaction_goes_on(db: str) -> None:
    async def run() -> None:
        repository = await PostgresRepository.open(db)
        try:
            await _save(repository, _station("A", "X"))
            async with repository.transaction() as tx:
                with pytest.raises(Conflict, match="station code 'X' is already used by"):
                    await tx.stations.save(_station("B", "X"))
                await tx.stations.save(_station("C", "Y"))
            assert sorted(await _get_many(repository, ["A", "B", "C"])) == ["A", "C"]
        finally:
            await repository.close()

    asyncio.run(run())


def test_text_postgresql_cannot_hold_round_trips(db: str) -> None:
    """NUL and the escape character in free text, stored and found by search."""

    async def run() -> None:
        repository = await PostgresRepository.open(db)
        try:
            odd = [
                _station("N1", "N1", name="nul\x00inside", manufacturer="\x01lead"),
                _station("N2", "N2", name='\x01"json-like"'),
            ]
            await _save(repository, *odd)
            async with repository.transaction() as tx:
                assert await tx.stations.get_many(["N1", "N2"]) == {s.id: s for s in odd}
                found = await tx.stations.list(StationQuery(search="L\x00I"))
                assert [s.id for s in found.items] == ["N1"]
        finally:
            await repository.close()

    asyncio.run(run())


def test_committed_data_survives_a_killed_process(db: str) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from evcharge_core.adapters.postgres import PostgresRepository
        from evcharge_core.domain.model import Station

        async def main():
            repository = await PostgresRepository.open({db!r})
            async with repository.transaction() as tx:
                await tx.stations.save(Station(id="KILLED", name="k", code="K"))
            async with repository.transaction() as tx:
                await tx.transactions.allocate_id()
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    process = subprocess.run([sys.executable, "-c", script], check=False, timeout=120)
    assert process.returncode == -signal.SIGKILL
    assert [s.id for s in _read_all(db)] == ["KILLED"]


def test_closing_commits_the_open_batch(db: str) -> None:
    async def run() -> None:
        repository = await PostgresRepository.open(db)
        done = asyncio.create_task(_save(repository, _station()))
        await asyncio.sleep(0)
        await repository.close()
        await done

    asyncio.run(run())
    assert _read_all(db) == [_station()]


def test_timestamps_come_back_as_the_same_instants(db: str) -> None:
    from datetime import timedelta, timezone

    from evcharge_core.domain.model import Activation
    from evcharge_core.domain.values import ActivationState

    berlin = timezone(timedelta(hours=1))
    at = datetime(2025, 6, 1, 12, 30, 0, 123456, tzinfo=berlin)
    station = _station(activation=Activation(ActivationState.ACTIVE, at))
    _save_and_close(db, station)
    (stored,) = _read_all(db)
    assert stored.activation.activated_at == at
    assert stored.activation.activated_at is not None
    assert stored.activation.activated_at.utcoffset() == timedelta(0)
    assert stored.activation.activated_at == at.astimezone(UTC)


def _allow_connections(url: str, *, allowed: bool) -> None:
    from psycopg import sql

    from ..postgres import ADMIN_URL

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER DATABASE {} WITH ALLOW_CONNECTIONS {}").format(
                sql.Identifier(name), sql.SQL("true" if allowed else "false")
            )
        )


def test_an_unreachable_database_fails_units_and_the_repository_recovers(db: str) -> None:
    """While no connection can be had, units raise StorageError (the first after the
    timeout, the next ones sooner); once the database is back, units run again."""

    async def run() -> None:
        repository = await PostgresRepository.open(db, timeout=1.0)
        try:
            await _save(repository, _station())
            await asyncio.to_thread(_allow_connections, db, allowed=False)
            await asyncio.to_thread(terminate_sessions, db)
            for _ in range(2):
                with pytest.raises(StorageError, match="no connection to the database"):
                    await _get_many(repository, ["ST1"])
            await asyncio.to_thread(_allow_connections, db, allowed=True)
            for _ in range(120):  # the pool reconnects in the background, with back-off
                try:
                    found = await _get_many(repository, ["ST1"])
                except StorageError:
                    await asyncio.sleep(0.25)
                    continue
                assert found == {"ST1": _station()}
                return
            raise AssertionError("the repository never got a connection again")
        finally:
            await asyncio.to_thread(_allow_connections, db, allowed=True)
            await repository.close()

    asyncio.run(run())


@given(st.text())
def test_free_text_escaping_round_trips_and_never_holds_nul(text: str) -> None:
    stored = pg._put(text)
    assert "\x00" not in stored
    assert pg._get(stored) == text
    if "\x00" not in text and not text.startswith("\x01"):
        assert stored == text  # readable as it is in psql


@given(strategies.stations(), st.text(max_size=4))
def test_the_search_key_finds_what_the_reference_model_finds(station: Station, needle: str) -> None:
    """A needle is in the key (the folded fields joined by 0xFF) exactly when the model's
    search matches: no match across two fields, NUL and any case included."""
    query = StationQuery(search=needle)
    found = search_fold(needle).encode() in pg._search_key(station)
    assert found == matches(station, query)


def test_a_value_postgresql_cannot_store_is_a_storage_error_and_the_repository_goes_on(
    db: str,
) -> None:
    from evcharge_core.domain.transactions import Transaction as ChargingTransaction

    huge = ChargingTransaction(
        station_id="ST1", transaction_id="1", connector_id=1, id_tag="TAG",
        started_at=datetime(2025, 1, 1, tzinfo=UTC), meter_start=2**63,
    )  # fmt: skip

    async def run() -> None:
        repository = await PostgresRepository.open(db)
        try:

            async def failing() -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_station())
                    await tx.transactions.save(huge)

            with pytest.raises(StorageError, match=r"cannot save a transaction: .*out of range"):
                await failing()
            await _save(repository, _station("ST2", "C2"))
            assert sorted(await _get_many(repository, ["ST1", "ST2"])) == ["ST2"]
        finally:
            await repository.close()

    asyncio.run(run())


# --- connections -----------------------------------------------------------------------------


def test_connections_detect_a_vanished_peer_unless_the_url_says_otherwise(db: str) -> None:
    """TCP keepalives and a user timeout on every connection (``TCP_DEFAULTS``); a value the
    URL sets is kept."""
    from evcharge_core.cluster import LeaseStore

    async def parameters(url: str) -> tuple[dict[str, str], dict[str, str]]:
        repository = await pg.PostgresRepository.open(url)
        leases = await LeaseStore.open(url, "n")
        try:
            async with repository._pool.connection() as conn:
                ours = conn.info.get_parameters()
            async with leases.pool.connection() as conn:
                theirs = conn.info.get_parameters()
            return ours, theirs
        finally:
            await leases.close()
            await repository.close()

    for found in asyncio.run(parameters(db)):
        for key, value in pg.TCP_DEFAULTS.items():
            assert found.get(key) == str(value), key
    separator = "&" if "?" in db else "?"
    for found in asyncio.run(parameters(f"{db}{separator}keepalives_idle=45")):
        assert found["keepalives_idle"] == "45"
        assert found["tcp_user_timeout"] == "60000"
    assert pg.connection_options("postgresql://h/d?keepalives=0") == {
        k: v for k, v in pg.TCP_DEFAULTS.items() if k != "keepalives"
    }

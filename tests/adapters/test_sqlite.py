"""The SQLite repository: the conformance suite on a real file, and what only a file has:
its schema, migrations, journal mode, durability and the errors of opening it."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final, TypeVar

import attrs
import pytest

from evcharge_core.adapters import sqlite as sqlite_adapter
from evcharge_core.adapters.sqlite import APPLICATION_ID, SCHEMA_VERSION, SQLiteRepository
from evcharge_core.domain.model import Charger, Connector, ConnectorSpec, Station, StatusRecord
from evcharge_core.domain.profiles import ChargingProfile, ProfilePeriod, RateUnit, Recurrence
from evcharge_core.domain.transactions import IdToken, MeterSample, TransactionState
from evcharge_core.domain.transactions import Transaction as ChargingTransaction
from evcharge_core.domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    OperationalStatus,
    PhaseWiring,
    PowerType,
)
from evcharge_core.errors import Conflict, StorageError
from evcharge_core.ports import (
    Repository,
    SortKey,
    StationNotification,
    StationQuery,
    TransactionQuery,
)
from evcharge_core.testing import RepositoryConformance, make_stateful_test


class TestSQLiteRepository(RepositoryConformance):
    """The conformance suite, each example on a new database file."""

    def setup_method(self) -> None:
        self._dir = tempfile.TemporaryDirectory()
        self._count = 0

    def teardown_method(self) -> None:
        self._dir.cleanup()

    async def make_repository(self) -> Repository:
        self._count += 1
        return await SQLiteRepository.open(Path(self._dir.name) / f"{self._count}.db")


async def _fresh_file_repository() -> Repository:
    return await SQLiteRepository.open(Path(tempfile.mkdtemp()) / "model.db")


async def _drop(repository: Repository) -> None:
    assert isinstance(repository, SQLiteRepository)
    await repository.close()
    shutil.rmtree(Path(repository.path).parent)


TestSQLiteRepositoryModel = make_stateful_test(_fresh_file_repository, dispose=_drop)


# --- helpers ---------------------------------------------------------------------------------


def _station(station_id: str = "ST1", code: str = "C1") -> Station:
    return Station(id=station_id, name=f"Station {station_id}", code=code)


_T0 = datetime(2025, 1, 1, tzinfo=UTC)


def _session(station_id: str, transaction_id: str) -> ChargingTransaction:
    return ChargingTransaction(
        station_id=station_id,
        transaction_id=transaction_id,
        connector_id=1,
        id_tag="TAG",
        started_at=_T0,
        meter_start=0,
    )


class _Abort(Exception):
    pass


def _open(path: Path, **kwargs: float) -> SQLiteRepository:
    return asyncio.run(SQLiteRepository.open(path, **kwargs))


def _save_and_close(path: Path, *stations: Station) -> None:
    async def run() -> None:
        repository = await SQLiteRepository.open(path)
        async with repository.transaction() as tx:
            await tx.stations.save_many(stations)
        await repository.close()

    asyncio.run(run())


def _read_all(path: Path) -> list[Station]:
    async def run() -> list[Station]:
        repository = await SQLiteRepository.open(path)
        try:
            async with repository.transaction() as tx:
                return list((await tx.stations.list(StationQuery(page_size=1000))).items)
        finally:
            await repository.close()

    return asyncio.run(run())


def _dump(path: Path) -> list[str]:
    """The database's content as SQL, read through a separate connection.

    The query planner's statistics are left out: ``PRAGMA optimize`` on closing may write
    them (``sqlite_stat1``) whenever a table was queried, whatever the transactions did."""
    db = sqlite3.connect(path)
    try:
        return [
            line
            for line in db.iterdump()
            if line != 'ANALYZE "sqlite_master";'
            and not line.startswith('INSERT INTO "sqlite_stat')
        ]
    finally:
        db.close()


def _pragma(path: Path, name: str) -> object:
    db = sqlite3.connect(path)
    try:
        return db.execute(f"PRAGMA {name}").fetchone()[0]
    finally:
        db.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "evcharge.db"


@pytest.fixture
def writer(db_path: Path) -> Iterator[sqlite3.Connection]:
    """Another connection that holds the write lock of an existing database."""
    _save_and_close(db_path, _station())
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("BEGIN IMMEDIATE")
    try:
        yield db
    finally:
        db.execute("ROLLBACK")
        db.close()


# --- the file --------------------------------------------------------------------------------


def test_new_file_gets_the_schema_in_wal_mode(db_path: Path) -> None:
    asyncio.run(_open(db_path).close())
    assert _pragma(db_path, "journal_mode") == "wal"
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION
    assert _pragma(db_path, "application_id") == APPLICATION_ID
    db = sqlite3.connect(db_path)
    tables = {row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    db.close()
    assert tables == {
        "areas",
        "stations",
        "connector_specs",
        "chargers",
        "connectors",
        "activation_attempts",
        "transactions",
        "id_tokens",
        "meter_values",
        "notifications",
        "counters",
        "transaction_events",
        "device_variables",
        "charging_profiles",
    }


def test_connection_settings(db_path: Path) -> None:
    repository = _open(db_path, busy_timeout=1.5)
    db = repository._conn.db  # the settings are per connection
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 1500
    asyncio.run(repository.close())


def test_reopening_keeps_the_data(db_path: Path) -> None:
    stations = [_station("ST1", "C1"), _station("ST2", "C2")]
    _save_and_close(db_path, *stations)
    assert _read_all(db_path) == stations
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION


def test_an_empty_file_is_migrated(db_path: Path) -> None:
    db_path.touch()
    _save_and_close(db_path, _station())
    assert _read_all(db_path) == [_station()]


def _tables(path: Path) -> set[str]:
    db = sqlite3.connect(path)
    try:
        return {row[0] for row in db.execute("SELECT name FROM sqlite_schema WHERE type='table'")}
    finally:
        db.close()


_UNDO: Final = {
    # What each migration step added, undone: a database written by the current code,
    # taken back to the schema (and the rows) an older version wrote. Step 4 also added
    # columns to existing tables, so an older version's code cannot be run on the current
    # row functions any more.
    4: (
        "DROP INDEX chargers_by_profile",
        "DROP TABLE charging_profiles",
        "ALTER TABLE connectors DROP COLUMN phase",
        "ALTER TABLE areas DROP COLUMN phase_voltage",
    ),
    3: ("DROP TABLE transaction_events", "DROP TABLE device_variables"),
    2: (
        "DROP TABLE transactions",
        "DROP TABLE id_tokens",
        "DROP TABLE meter_values",
        "DROP TABLE notifications",
        "DROP TABLE counters",
    ),
}


def _downgrade(path: Path, version: int) -> None:
    """Take a database of the current schema back to ``version``."""
    db = sqlite3.connect(path)
    try:
        for step in range(SCHEMA_VERSION, version, -1):
            for statement in _UNDO[step]:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {version:d}")
        db.commit()
    finally:
        db.close()


def test_a_version_1_database_migrates_keeping_its_stations(db_path: Path) -> None:
    stations = [_station("ST1", "C1"), _station("ST2", "C2")]
    _save_and_close(db_path, *stations)
    _downgrade(db_path, 1)
    assert _pragma(db_path, "user_version") == 1
    assert "transactions" not in _tables(db_path)

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        async with repository.transaction() as tx:
            assert list((await tx.stations.list(StationQuery())).items) == stations
            assert await tx.transactions.allocate_id() == 1
            await tx.transactions.save(_session("ST1", "1"))
            await tx.id_tokens.save(IdToken("TAG"))
        async with repository.transaction() as tx:
            assert await tx.transactions.get("ST1", "1") == _session("ST1", "1")
            assert await tx.id_tokens.list() == [IdToken("TAG")]
        await repository.close()

    asyncio.run(run())
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION == 4
    assert {"transactions", "id_tokens", "meter_values", "notifications"} <= _tables(db_path)
    assert {"transaction_events", "device_variables"} <= _tables(db_path)
    assert _read_all(db_path) == stations


def test_a_version_2_database_migrates_keeping_its_sessions(db_path: Path) -> None:
    async def at_version_2() -> None:
        repository = await SQLiteRepository.open(db_path)
        async with repository.transaction() as tx:
            await tx.stations.save(_station("ST1", "C1"))
            await tx.transactions.save(_session("ST1", "1"))
        await repository.close()

    asyncio.run(at_version_2())
    _downgrade(db_path, 2)
    assert _pragma(db_path, "user_version") == 2
    assert "device_variables" not in _tables(db_path)

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        async with repository.transaction() as tx:
            assert await tx.transactions.get("ST1", "1") == _session("ST1", "1")
            assert await tx.device_model.list("ST1") == []
            assert await tx.transaction_events.list("ST1", "1") == []
        await repository.close()

    asyncio.run(run())
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION
    assert {"transaction_events", "device_variables"} <= _tables(db_path)


def test_a_version_3_database_migrates_and_keeps_its_profile_assignments(db_path: Path) -> None:
    """Version 4 adds charging profiles; a charger that named a profile id at version 3
    keeps naming it, and that profile can then be stored and is protected from deletion."""
    station = _station("ST1", "C1")
    wired = Connector(
        id="k-1", ocpp_id=1, code="K1", name="K1", standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET, power_type=PowerType.AC_1_PHASE, voltage=230,
        amperage=32, phase=PhaseWiring.L3,
    )  # fmt: skip
    charger = Charger(
        id="ch-1", evse_id=1, code="CH-1", name="A", charging_profile_id="day",
        connectors=[wired],
    )  # fmt: skip
    assigned = attrs.evolve(station, chargers=[charger])
    _save_and_close(db_path, assigned)
    _downgrade(db_path, 3)
    # at version 3 there was no phase wiring: the connector comes back wired to L1
    assigned = attrs.evolve(
        assigned,
        chargers=[attrs.evolve(charger, connectors=[attrs.evolve(wired, phase=PhaseWiring.L1)])],
    )
    assert _pragma(db_path, "user_version") == 3
    assert "charging_profiles" not in _tables(db_path)
    profile = ChargingProfile(
        "day", "Day", RateUnit.WATTS, Recurrence.DAILY, [ProfilePeriod(7 * 3600, 10_000)]
    )

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        async with repository.transaction() as tx:
            assert await tx.stations.get("ST1") == assigned
            assert await tx.charging_profiles.list() == []
            await tx.charging_profiles.save(profile)
        async with repository.transaction() as tx:
            assert await tx.charging_profiles.get("day") == profile
            with pytest.raises(Conflict, match="ch-1"):
                await tx.charging_profiles.delete("day")
        await repository.close()

    asyncio.run(run())
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION == 4
    assert "charging_profiles" in _tables(db_path)


def test_a_failing_migration_changes_nothing(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _save_and_close(db_path, _station())
    before = _dump(db_path)

    def broken_step(db: sqlite3.Connection) -> None:
        db.execute("CREATE TABLE half_done (x)")
        db.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(sqlite_adapter, "MIGRATIONS", (*sqlite_adapter.MIGRATIONS, broken_step))
    monkeypatch.setattr(sqlite_adapter, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StorageError, match="migrate"):
        _open(db_path)
    assert _dump(db_path) == before
    assert _pragma(db_path, "user_version") == SCHEMA_VERSION
    # and a file the failed opening created is removed again
    fresh = db_path.with_name("fresh.db")
    with pytest.raises(StorageError):
        _open(fresh)
    assert not fresh.exists()


def test_a_newer_schema_is_refused_untouched(db_path: Path) -> None:
    _save_and_close(db_path, _station())
    db = sqlite3.connect(db_path)
    db.execute("PRAGMA user_version = 99")
    db.commit()
    db.close()
    content = db_path.read_bytes()
    with pytest.raises(StorageError, match=r"version 99, newer .*upgrade") as caught:
        _open(db_path)
    assert str(db_path) in str(caught.value)
    assert db_path.read_bytes() == content


def test_a_garbage_file_is_refused_untouched(db_path: Path) -> None:
    content = b"station;code\n" * 100
    db_path.write_bytes(content)
    with pytest.raises(StorageError, match="not a database") as caught:
        _open(db_path)
    assert str(db_path) in str(caught.value)
    assert db_path.read_bytes() == content
    assert sorted(p.name for p in db_path.parent.iterdir()) == [db_path.name]


def test_a_corrupt_database_is_refused(db_path: Path) -> None:
    _save_and_close(db_path, _station())
    content = bytearray(db_path.read_bytes())
    content[100:4096] = b"\xa5" * (4096 - 100)  # the rest of page 1: the schema table
    db_path.write_bytes(bytes(content))
    with pytest.raises(StorageError, match="malformed"):
        _open(db_path)
    assert db_path.read_bytes() == bytes(content)


def test_another_applications_database_is_refused_untouched(db_path: Path) -> None:
    db = sqlite3.connect(db_path)
    db.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
    db.commit()
    db.close()
    before = _dump(db_path)
    with pytest.raises(StorageError, match="another application"):
        _open(db_path)
    assert _dump(db_path) == before


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="directory") as caught:
        _open(tmp_path)
    assert str(tmp_path) in str(caught.value)


def test_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="unable to open"):
        _open(tmp_path / "no" / "such" / "dir.db")


def test_a_read_only_file_is_refused_untouched(db_path: Path) -> None:
    _save_and_close(db_path, _station())
    content = db_path.read_bytes()
    db_path.chmod(0o444)
    try:
        with pytest.raises(StorageError, match="read-only"):
            _open(db_path)
    finally:
        db_path.chmod(0o644)
    assert db_path.read_bytes() == content


def test_a_locked_database_times_out_on_opening(db_path: Path, writer: sqlite3.Connection) -> None:
    with pytest.raises(StorageError, match=r"locked.*busy timeout of 0\.05 s"):
        _open(db_path, busy_timeout=0.05)


def test_a_locked_database_times_out_on_a_transaction(db_path: Path) -> None:
    async def run() -> None:
        repository = await SQLiteRepository.open(db_path, busy_timeout=0.05)
        other = sqlite3.connect(db_path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(StorageError, match="locked"):
                async with repository.transaction():
                    pass  # pragma: no cover - never entered
        finally:
            other.execute("ROLLBACK")
            other.close()
        async with repository.transaction() as tx:  # usable again once the lock is gone
            await tx.stations.save(_station())
        await repository.close()

    asyncio.run(run())


def test_a_failed_transaction_leaves_the_file_unchanged(db_path: Path) -> None:
    _save_and_close(db_path, _station("ST1", "C1"))
    before = _dump(db_path)

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)

        async def failing() -> None:
            async with repository.transaction() as tx:
                await tx.stations.save(_station("ST2", "C2"))
                await tx.stations.delete("ST1")
                await tx.stations.save_many([_station("ST3", "C3"), _station("ST4", "C3")])

        with pytest.raises(Conflict, match="'C3'"):
            await failing()
        await repository.close()

    asyncio.run(run())
    assert _dump(db_path) == before


def test_committed_data_survives_a_killed_process(db_path: Path) -> None:
    """synchronous=NORMAL in WAL mode: a commit is in the WAL before the call returns."""
    script = textwrap.dedent(
        f"""
        import asyncio, os, signal
        from evcharge_core.adapters.sqlite import SQLiteRepository
        from evcharge_core.domain.model import Station

        async def main():
            repository = await SQLiteRepository.open({str(db_path)!r})
            async with repository.transaction() as tx:
                await tx.stations.save(Station(id="KILLED", name="k", code="K"))
            os.kill(os.getpid(), signal.SIGKILL)

        asyncio.run(main())
        """
    )
    process = subprocess.run([sys.executable, "-c", script], check=False, timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert [s.id for s in _read_all(db_path)] == ["KILLED"]


def test_open_accepts_str_paths(tmp_path: Path) -> None:
    repository = _open(tmp_path / "x.db")
    assert repository.path == os.fspath(tmp_path / "x.db")
    asyncio.run(repository.close())


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (StationQuery(area_id="north"), "stations_by_area"),
        (StationQuery(status=ConnectorStatus.FAULTED), "stations_by_status"),
        (
            StationQuery(operational_status=OperationalStatus.CLOSED),
            "stations_by_operational_status",
        ),
        (StationQuery(connected=False), "stations_by_connected"),
        (StationQuery(activation=ActivationState.INACTIVE), "stations_by_activation"),
        (StationQuery(sort=SortKey.NAME), "stations_by_name"),
        (StationQuery(sort=SortKey.CODE, descending=True), "sqlite_autoindex_stations"),
    ],
)
def test_list_queries_use_the_indexes(db_path: Path, query: StationQuery, index: str) -> None:
    """The list's own SQL (the planner may still prefer a scan once it has statistics)."""
    asyncio.run(_open(db_path).close())
    where, params = sqlite_adapter._where(query)
    order = sqlite_adapter._ORDER_BY[query.sort, query.descending]
    db = sqlite3.connect(db_path)
    plan = db.execute(
        f"EXPLAIN QUERY PLAN SELECT id FROM stations{where} ORDER BY {order} LIMIT 50", params
    ).fetchall()
    db.close()
    assert index in " ".join(row[-1] for row in plan)


# --- charging sessions and the other version 2 tables ----------------------------------------


async def _allocate(repository: SQLiteRepository, *, fail: bool = False) -> int:
    """Allocate one id in a transaction that commits, or raises ``_Abort`` when ``fail``."""
    allocated: list[int] = []

    async def run() -> None:
        async with repository.transaction() as tx:
            allocated.append(await tx.transactions.allocate_id())
            await tx.transactions.save(_session("ST1", str(allocated[-1])))
            if fail:
                raise _Abort

    if fail:
        with pytest.raises(_Abort):
            await run()
    else:
        await run()
    return allocated[0]


def test_allocated_ids_survive_rollbacks_and_reopening(db_path: Path) -> None:
    """The counter is written back when the transaction that allocated rolls back, so a
    new process (without this one's memory of the last id) goes on after it."""

    async def run() -> list[int]:
        repository = await SQLiteRepository.open(db_path)
        ids = [await _allocate(repository), await _allocate(repository, fail=True)]
        await repository.close()
        repository = await SQLiteRepository.open(db_path)
        ids.append(await _allocate(repository, fail=True))
        await repository.close()
        repository = await SQLiteRepository.open(db_path)
        ids.append(await _allocate(repository))
        async with repository.transaction() as tx:
            saved = await tx.transactions.list(TransactionQuery())
        await repository.close()
        assert [t.transaction_id for t in saved.items] == ["1", "4"]  # same start: by id
        return ids

    assert asyncio.run(run()) == [1, 2, 3, 4]


def test_a_failed_transaction_that_allocated_keeps_only_the_counter(db_path: Path) -> None:
    _save_and_close(db_path, _station("ST1", "C1"))
    before = [line for line in _dump(db_path) if "counters" not in line]

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)

        async def failing() -> None:
            async with repository.transaction() as tx:
                await tx.stations.delete("ST1")
                await tx.id_tokens.save(IdToken("TAG"))
                await tx.meter_values.add("ST1", 1, None, [MeterSample(_T0, 1.0)])
                await tx.notifications.add(StationNotification("ST1", "DataTransfer", _T0, "{}"))
                await tx.transactions.allocate_id()
                raise _Abort

        with pytest.raises(_Abort):
            await failing()
        await repository.close()

    asyncio.run(run())
    assert [line for line in _dump(db_path) if "counters" not in line] == before
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT name, value FROM counters").fetchall() == [("transaction_id", 1)]
    db.close()


class _FailingCommit:
    """A connection whose next COMMIT fails as a full disk would make it."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self.fail_next_commit = True

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.fail_next_commit:
            self.fail_next_commit = False
            raise sqlite3.OperationalError("database or disk is full")
        return self._db.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._db, name)


def test_allocated_ids_survive_a_failed_commit(db_path: Path) -> None:
    async def run() -> int:
        repository = await SQLiteRepository.open(db_path)
        conn = repository._conn
        real = conn.db
        conn.db = _FailingCommit(real)  # type: ignore[assignment]
        with pytest.raises(StorageError, match="commit: database or disk is full"):
            await _allocate(repository)
        conn.db = real
        await repository.close()
        repository = await SQLiteRepository.open(db_path)
        async with repository.transaction() as tx:
            assert await tx.transactions.get("ST1", "1") is None
        allocated = await _allocate(repository)
        await repository.close()
        return allocated

    assert asyncio.run(run()) == 2


def test_allocated_ids_survive_sqlite_rolling_back_by_itself(db_path: Path) -> None:
    """After some errors (I/O, a full disk) SQLite has already rolled the transaction back
    when the exception reaches the repository: the counter is written in a new one."""

    async def run() -> int:
        repository = await SQLiteRepository.open(db_path)

        async def failing() -> None:
            async with repository.transaction() as tx:
                await tx.transactions.allocate_id()
                repository._conn.db.execute("ROLLBACK")
                raise _Abort

        with pytest.raises(_Abort):
            await failing()
        await repository.close()
        repository = await SQLiteRepository.open(db_path)
        allocated = await _allocate(repository)
        await repository.close()
        return allocated

    assert asyncio.run(run()) == 2


def test_a_deleted_stations_history_stays(db_path: Path) -> None:
    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        async with repository.transaction() as tx:
            await tx.stations.save(_station())
            await tx.transactions.save(_session("ST1", "1"))
            await tx.meter_values.add("ST1", 1, "1", [MeterSample(_T0, 1.0)])
            await tx.notifications.add(StationNotification("ST1", "DataTransfer", _T0, "{}"))
        async with repository.transaction() as tx:
            assert await tx.stations.delete("ST1") is True
        async with repository.transaction() as tx:
            assert await tx.transactions.get("ST1", "1") == _session("ST1", "1")
            assert len(await tx.meter_values.list("ST1", "1")) == 1
            assert len(await tx.notifications.list("ST1")) == 1
        await repository.close()

    asyncio.run(run())


def _plan(path: Path, sql: str, params: Sequence[object]) -> str:
    db = sqlite3.connect(path)
    try:
        return " ".join(row[-1] for row in db.execute(f"EXPLAIN QUERY PLAN {sql}", params))
    finally:
        db.close()


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (TransactionQuery(), "transactions_newest_first"),
        (TransactionQuery(station_id="ST1"), "transactions_of_station"),
        (TransactionQuery(state=TransactionState.ACTIVE), "transactions_by_state"),
    ],
)
def test_transaction_list_uses_the_indexes(
    db_path: Path, query: TransactionQuery, index: str
) -> None:
    """Pages come off an index in list order, without sorting."""
    asyncio.run(_open(db_path).close())
    where, params = sqlite_adapter._transaction_where(query)
    plan = _plan(
        db_path,
        f"{sqlite_adapter._SELECT_TRANSACTIONS}{where}"
        f" ORDER BY {sqlite_adapter._TRANSACTION_ORDER} LIMIT 50",
        params,
    )
    assert index in plan
    assert "TEMP B-TREE" not in plan


@pytest.mark.parametrize(
    ("sql", "params", "index"),
    [
        (sqlite_adapter._FIND_STARTED, ("ST1", 1, "TAG", 0, 0), "transactions_by_start"),
        (
            "SELECT samples FROM meter_values WHERE station_id = ? AND transaction_id IS ?"
            " ORDER BY id",
            ("ST1", None),
            "meter_values_by_transaction",
        ),
        (
            "SELECT station_id, action, received_at, payload FROM notifications"
            " WHERE station_id = ? ORDER BY received_us DESC, id LIMIT ?",
            ("ST1", 100),
            "notifications_newest_first",
        ),
    ],
)
def test_look_ups_use_the_indexes(
    db_path: Path, sql: str, params: Sequence[object], index: str
) -> None:
    asyncio.run(_open(db_path).close())
    assert index in _plan(db_path, sql, params)


# --- saving a stored station writes only what changed -----------------------------------------


_T = TypeVar("_T")


def attrs_evolve(instance: _T, **changes: object) -> _T:
    return attrs.evolve(instance, **changes)  # type: ignore[misc]


def _connector(connector_id: str, ocpp_id: int, status: ConnectorStatus | None = None) -> Connector:
    return Connector(
        id=connector_id,
        ocpp_id=ocpp_id,
        code=f"K{ocpp_id}",
        name=f"Connector {ocpp_id}",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=16,
        status=None if status is None else StatusRecord(status, _T0),
    )


def _spec(voltage: int = 230) -> ConnectorSpec:
    return ConnectorSpec(
        ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, voltage, 16
    )


def _big_station(station_id: str, code: str | None = None) -> Station:
    """Two chargers with two connectors each, and two connector specifications."""
    return Station(
        id=station_id,
        name=f"Station {station_id}",
        code=code or f"C-{station_id}",
        connector_specifications=(_spec(), _spec(400)),
        chargers=tuple(
            Charger(
                id=f"{station_id}-ch{evse}",
                evse_id=evse,
                code=f"{station_id}-CH{evse}",
                name=f"Charger {evse}",
                connectors=(
                    _connector(f"{station_id}-k{2 * evse - 1}", 2 * evse - 1),
                    _connector(f"{station_id}-k{2 * evse}", 2 * evse, ConnectorStatus.AVAILABLE),
                ),
            )
            for evse in (1, 2)
        ),
    )


def _writes(repository: SQLiteRepository) -> list[str]:
    """Start recording the statements that write rows (returns the list it appends to)."""
    statements: list[str] = []

    def trace(sql: str) -> None:
        verb = sql.split(None, 1)[0].upper()
        if verb in {"INSERT", "UPDATE", "DELETE"} and "counters" not in sql:
            statements.append(sql)

    repository._conn.db.set_trace_callback(trace)
    return statements


def _with_status(station: Station, charger: int, connector: int, minutes: int) -> Station:
    """The station with one connector's status report renewed."""
    chargers = list(station.chargers)
    connectors = list(chargers[charger].connectors)
    record = StatusRecord(ConnectorStatus.CHARGING, _T0 + timedelta(minutes=minutes))
    connectors[connector] = attrs_evolve(connectors[connector], status=record)
    chargers[charger] = attrs_evolve(chargers[charger], connectors=tuple(connectors))
    return attrs_evolve(station, chargers=tuple(chargers))


def test_resaving_a_station_writes_only_what_changed(db_path: Path) -> None:
    station = _big_station("A")

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            async with repository.transaction() as tx:
                await tx.stations.save_many([station, _big_station("B")])
            writes = _writes(repository)
            # unchanged: nothing is written, whether the transaction read the station or not
            async with repository.transaction() as tx:
                await tx.stations.save(station)
                assert await tx.stations.get("A") == station
                await tx.stations.save(station)
            assert writes == []
            # one connector's status (the station's derived status stays Available): that
            # row's status column, nothing else
            async with repository.transaction() as tx:
                assert await tx.stations.get("A") == station
                await tx.stations.save(_with_status(station, 1, 0, 5))
            assert len(writes) == 1
            assert writes[0].startswith("UPDATE connectors SET status = ")
            assert writes[0].endswith("WHERE id = 'A-k3'")
            # the same again, later, without reading first
            writes.clear()
            async with repository.transaction() as tx:
                await tx.stations.save(_with_status(station, 1, 0, 6))
            assert len(writes) == 1
            assert writes[0].startswith("UPDATE connectors SET status = ")
            # a new name: the name and its search copy
            writes.clear()
            renamed = attrs_evolve(_with_status(station, 1, 0, 6), name="Renamed")
            async with repository.transaction() as tx:
                await tx.stations.save(renamed)
            assert writes == [
                "UPDATE stations SET name = 'Renamed', search_name = 'renamed' WHERE id = 'A'"
            ]
            async with repository.transaction() as tx:
                assert await tx.stations.get("A") == renamed
                assert await tx.stations.get("B") == _big_station("B")
        finally:
            await repository.close()

    asyncio.run(run())


def _rows(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of the station tables, in key order (rowids left out)."""
    db = sqlite3.connect(path)
    try:
        return {
            table: db.execute(f"SELECT * FROM {table} ORDER BY {key}").fetchall()
            for table, key in [
                ("stations", "id"),
                ("connector_specs", "station_id, position"),
                ("chargers", "id"),
                ("connectors", "id"),
            ]
        }
    finally:
        db.close()


def _edits() -> list[tuple[str, list[Station]]]:
    """Batches that change stored stations A, B and C (as saved by the previous batch) in
    the ways a row-by-row update could trip over: keys that move between rows."""
    a, b, c = _big_station("A"), _big_station("B"), _big_station("C")
    a1, a2 = a.chargers
    b1, b2 = b.chargers
    swapped = (
        attrs_evolve(a1, evse_id=2, code=a2.code),
        attrs_evolve(a2, evse_id=1, code=a1.code),
    )
    return [
        ("swap the EVSE ids and codes of two chargers", [attrs_evolve(a, chargers=swapped)]),
        (
            "move a charger, its connectors with it, to another station",
            [
                attrs_evolve(a, chargers=(a1,)),
                attrs_evolve(b, chargers=(b1, attrs_evolve(a2, evse_id=3))),
            ],
        ),
        (
            "move a connector to another station's charger, renumbered",
            [
                attrs_evolve(a, chargers=(attrs_evolve(a1, connectors=a1.connectors[1:]), a2)),
                attrs_evolve(
                    b,
                    chargers=(
                        attrs_evolve(
                            b1,
                            connectors=(*b1.connectors, attrs_evolve(a1.connectors[0], ocpp_id=9)),
                        ),
                        b2,
                    ),
                ),
            ],
        ),
        (
            "rotate the station codes and swap charger codes across stations",
            [
                attrs_evolve(a, code=b.code, chargers=(attrs_evolve(a1, code=b1.code), a2)),
                attrs_evolve(b, code=c.code, chargers=(attrs_evolve(b1, code=a1.code), b2)),
                attrs_evolve(c, code=a.code),
            ],
        ),
        (
            "a new station takes the codes a stored one gives up",
            [
                attrs_evolve(a, code="A-NEW", chargers=(attrs_evolve(a1, code="A-CH-NEW"), a2)),
                attrs_evolve(
                    _big_station("N"),
                    code=a.code,
                    chargers=(attrs_evolve(_big_station("N").chargers[0], code=a1.code),),
                ),
            ],
        ),
        (
            "fewer, then changed specifications; a charger replaced by a new one",
            [
                attrs_evolve(a, connector_specifications=(_spec(240),)),
                attrs_evolve(
                    b,
                    connector_specifications=(_spec(), _spec(400), _spec(120)),
                    chargers=(b1, attrs_evolve(b2, id="B-ch2-new")),
                ),
            ],
        ),
        (
            "a connector moves out of a charger that goes",
            [
                attrs_evolve(
                    a,
                    chargers=(
                        attrs_evolve(
                            a1, connectors=(*a1.connectors, attrs_evolve(a2.connectors[0]))
                        ),
                    ),
                )
            ],
        ),
        ("everything goes", [attrs_evolve(a, chargers=(), connector_specifications=())]),
        ("everything comes back", [a, b, c]),
    ]


@pytest.mark.parametrize("edit", range(len(_edits())), ids=[name for name, _ in _edits()])
def test_resaving_ends_as_a_fresh_save(tmp_path: Path, edit: int) -> None:
    """Whatever moved between rows, the stored rows end as those of saving the new stations
    into an empty database, and the stations read back as saved."""
    name, batch = _edits()[edit]
    stored = [_big_station("A"), _big_station("B"), _big_station("C")]
    expected = {s.id: s for s in stored} | {s.id: s for s in batch}

    async def edit(path: Path, read_first: bool) -> None:
        repository = await SQLiteRepository.open(path)
        try:
            async with repository.transaction() as tx:
                if read_first:  # what the transaction knows, not what it reads, is compared
                    await tx.stations.get_many([s.id for s in batch])
                await tx.stations.save_many(batch)
                assert await tx.stations.get_many(list(expected)) == expected
        finally:
            await repository.close()

    fresh = tmp_path / "fresh.db"
    _save_and_close(fresh, *expected.values())
    for read_first in (False, True):
        path = tmp_path / f"edited-{read_first}.db"
        _save_and_close(path, *stored)
        asyncio.run(edit(path, read_first))
        assert _read_all(path) == sorted(expected.values(), key=lambda s: s.id)
        assert _rows(path) == _rows(fresh), name


def test_a_conflicting_resave_leaves_the_rows_and_what_the_transaction_knows(
    db_path: Path,
) -> None:
    """A resave that conflicts changes nothing, and a later save in the same transaction
    still writes the right rows."""
    a, b = _big_station("A"), _big_station("B")
    _save_and_close(db_path, a, b)
    before = _rows(db_path)
    taken = attrs_evolve(a.chargers[0], code=b.chargers[0].code)
    renamed = attrs_evolve(_with_status(a, 0, 1, 9), name="renamed")

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            async with repository.transaction() as tx:
                assert await tx.stations.get("A") == a
                with pytest.raises(Conflict, match="B-CH1"):
                    await tx.stations.save(
                        attrs_evolve(renamed, chargers=(taken, *renamed.chargers[1:]))
                    )
                with pytest.raises(Conflict, match="C-B"):
                    await tx.stations.save_many([renamed, attrs_evolve(a, id="X", code="C-B")])
            assert _rows(db_path) == before
            async with repository.transaction() as tx:
                with pytest.raises(Conflict, match="C-B"):
                    await tx.stations.save(attrs_evolve(renamed, code="C-B"))
                await tx.stations.save(renamed)
                assert await tx.stations.get("A") == renamed
        finally:
            await repository.close()

    asyncio.run(run())
    assert _read_all(db_path) == [renamed, b]


# --- the station cache, reusing stored rows, group commit ------------------------------------


def _statements(repository: SQLiteRepository) -> list[str]:
    """Start recording every statement the repository's connection runs."""
    statements: list[str] = []
    repository._conn.db.set_trace_callback(statements.append)
    return statements


def _note(n: int) -> StationNotification:
    return StationNotification("ST1", "DataTransfer", _T0 + timedelta(seconds=n), f'{{"n": {n}}}')


def test_a_station_read_again_comes_from_the_cache(db_path: Path) -> None:
    station = _big_station("A")
    _save_and_close(db_path, station)

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            async with repository.transaction() as tx:
                assert await tx.stations.get("A") == station
            statements = _statements(repository)
            async with repository.transaction() as tx:
                assert await tx.stations.get("A") == station
                assert await tx.stations.get_many(["A", "NONE"]) == {"A": station}
            queried = [sql for sql in statements if "FROM stations" in sql]
            assert len(queried) == 1  # NONE, which the cache cannot know is absent
            assert queried[0].endswith("""json_each('["NONE"]'))""")
        finally:
            await repository.close()

    asyncio.run(run())


def test_the_cache_sees_what_other_connections_commit(db_path: Path) -> None:
    """The CLI or a second process writing the same file: the cache is dropped."""
    _save_and_close(db_path, _big_station("A"))

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            async with repository.transaction() as tx:
                station = await tx.stations.get("A")
            assert station is not None
            assert station.name == "Station A"
            other = sqlite3.connect(db_path)
            other.execute("UPDATE stations SET name = 'Elsewhere' WHERE id = 'A'")
            other.commit()
            other.close()
            async with repository.transaction() as tx:
                station = await tx.stations.get("A")
                assert station is not None
                assert station.name == "Elsewhere"
                await tx.stations.save(attrs_evolve(station, name="Here"))
        finally:
            await repository.close()

    asyncio.run(run())
    assert [s.name for s in _read_all(db_path)] == ["Here"]


def test_what_a_rolled_back_unit_saved_never_reaches_the_cache(db_path: Path) -> None:
    station = _big_station("A")
    _save_and_close(db_path, station)

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            async with repository.transaction() as tx:
                assert await tx.stations.get("A") == station

            async def failing() -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_with_status(station, 0, 0, 1))
                    assert await tx.stations.get("A") == _with_status(station, 0, 0, 1)
                    raise _Abort

            with pytest.raises(_Abort):
                await failing()
            async with repository.transaction() as tx:
                assert await tx.stations.get("A") == station
                await tx.stations.save(_with_status(station, 1, 1, 2))
        finally:
            await repository.close()

    asyncio.run(run())
    assert _read_all(db_path) == [_with_status(station, 1, 1, 2)]


def test_the_cache_keeps_at_most_its_capacity(db_path: Path) -> None:
    _save_and_close(db_path, *(_station(f"ST{i}", f"C{i}") for i in range(10)))

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            repository._conn.cache.capacity = 4
            for i in range(10):
                async with repository.transaction() as tx:
                    assert await tx.stations.get(f"ST{i}") == _station(f"ST{i}", f"C{i}")
            assert list(repository._conn.cache.entries) == ["ST6", "ST7", "ST8", "ST9"]
        finally:
            await repository.close()

    asyncio.run(run())


def test_resaving_converts_only_what_changed(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Parts of the station that are the very objects stored are not turned into rows
    again: one connector's new status is the only status record encoded."""
    station = _big_station("A")
    _save_and_close(db_path, station)
    encoded: list[StatusRecord] = []
    real = sqlite_adapter._dump_status

    def counting(record: StatusRecord | None) -> str | None:
        if record is not None:
            encoded.append(record)
        return real(record)

    monkeypatch.setattr(sqlite_adapter, "_dump_status", counting)
    changed = _with_status(station, 1, 0, 5)

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            async with repository.transaction() as tx:
                stored = await tx.stations.get("A")
            assert stored == station
            encoded.clear()
            async with repository.transaction() as tx:
                await tx.stations.save(_with_status(stored, 1, 0, 5))
        finally:
            await repository.close()

    asyncio.run(run())
    assert encoded == [changed.chargers[1].connectors[0].status]
    assert _read_all(db_path) == [changed]


def test_units_ready_together_share_one_commit(db_path: Path) -> None:
    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            statements = _statements(repository)

            async def unit(n: int) -> None:
                async with repository.transaction() as tx:
                    await tx.notifications.add(_note(n))

            await asyncio.gather(*(unit(n) for n in range(20)))
            assert statements.count("COMMIT") == 1
            async with repository.transaction() as tx:
                assert len(await tx.notifications.list("ST1")) == 20
        finally:
            await repository.close()

    asyncio.run(run())


def test_a_unit_that_raises_leaves_the_rest_of_its_batch(db_path: Path) -> None:
    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:
            statements = _statements(repository)

            async def unit(n: int) -> None:
                async with repository.transaction() as tx:
                    await tx.notifications.add(_note(n))
                    if n == 1:
                        await tx.transactions.allocate_id()
                        raise _Abort

            results = await asyncio.gather(*(unit(n) for n in range(3)), return_exceptions=True)
            assert [type(r) for r in results] == [type(None), _Abort, type(None)]
            assert statements.count("COMMIT") == 1
            async with repository.transaction() as tx:
                kept = await tx.notifications.list("ST1")
                assert sorted(n.payload for n in kept) == ['{"n": 0}', '{"n": 2}']
                assert await tx.transactions.allocate_id() == 2  # 1 went with the failed unit
        finally:
            await repository.close()

    asyncio.run(run())


def test_a_failed_commit_fails_every_unit_of_the_batch(db_path: Path) -> None:
    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        conn = repository._conn
        real = conn.db
        conn.db = _FailingCommit(real)  # type: ignore[assignment]
        try:

            async def unit(n: int) -> None:
                async with repository.transaction() as tx:
                    await tx.notifications.add(_note(n))

            results = await asyncio.gather(*(unit(n) for n in range(3)), return_exceptions=True)
            assert all(isinstance(r, StorageError) for r in results), results
            conn.db = real
            async with repository.transaction() as tx:
                assert await tx.notifications.list("ST1") == []
            await unit(9)
            async with repository.transaction() as tx:
                assert [n.payload for n in await tx.notifications.list("ST1")] == ['{"n": 9}']
        finally:
            conn.db = real
            await repository.close()

    asyncio.run(run())


def test_a_unit_cancelled_while_its_batch_commits_cancels_nothing_else(db_path: Path) -> None:
    """Its work was done: it commits with the batch, and the other units end normally."""

    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)
        try:

            async def unit(n: int) -> None:
                async with repository.transaction() as tx:
                    await tx.notifications.add(_note(n))

            first = asyncio.create_task(unit(1))
            second = asyncio.create_task(unit(2))
            await asyncio.sleep(0)  # both ran their work and wait for the commit
            first.cancel()
            await second
            with pytest.raises(asyncio.CancelledError):
                await first
            async with repository.transaction() as tx:
                kept = await tx.notifications.list("ST1")
                assert sorted(n.payload for n in kept) == ['{"n": 1}', '{"n": 2}']
        finally:
            await repository.close()

    asyncio.run(run())


def test_closing_commits_the_open_batch(db_path: Path) -> None:
    async def run() -> None:
        repository = await SQLiteRepository.open(db_path)

        async def unit() -> None:
            async with repository.transaction() as tx:
                await tx.notifications.add(_note(1))

        task = asyncio.create_task(unit())
        await asyncio.sleep(0)  # the unit ran and waits for its batch's commit
        await repository.close()
        await task

    asyncio.run(run())
    db = sqlite3.connect(db_path)
    assert db.execute("SELECT count(*) FROM notifications").fetchone()[0] == 1
    db.close()

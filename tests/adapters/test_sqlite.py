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
from collections.abc import Iterator
from pathlib import Path

import pytest

from evcharge_core.adapters import sqlite as sqlite_adapter
from evcharge_core.adapters.sqlite import APPLICATION_ID, SCHEMA_VERSION, SQLiteRepository
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import ActivationState, ConnectorStatus, OperationalStatus
from evcharge_core.errors import Conflict, StorageError
from evcharge_core.ports import Repository, SortKey, StationQuery
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
    """The database's content as SQL, read through a separate connection."""
    db = sqlite3.connect(path)
    try:
        return list(db.iterdump())
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

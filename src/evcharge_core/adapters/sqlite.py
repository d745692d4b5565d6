"""The SQLite repository: the embedded default of the reference server.

Open one with :meth:`SQLiteRepository.open`::

    repository = await SQLiteRepository.open("evcharge.db")
    try:
        async with repository.transaction() as tx:
            await tx.stations.save(station)
    finally:
        await repository.close()

**Opening** creates the file and its schema, or migrates an older schema, in one SQLite
transaction: the schema version is ``PRAGMA user_version``, and :data:`MIGRATIONS` is the
ordered list of steps (step ``n`` takes a database from version ``n`` to ``n + 1``). A path
that cannot be opened, a file that is not a SQLite database or is corrupt, a SQLite
database that belongs to something else, a schema newer than this code knows, a read-only
file, or a database that another connection keeps locked beyond the busy timeout raise
:class:`~evcharge_core.errors.StorageError` naming the path, and leave the file as it was
(a file this call created is removed again).

**Durability.** The database runs in WAL mode with ``synchronous=NORMAL``: a committed
transaction survives the process being killed (the WAL is in the operating system's
hands); a power cut may lose the last transactions, never corrupt the file. Foreign keys are
on; other connections (a backup, the ``sqlite3`` shell) may read while the server writes.

**Transactions.** One repository transaction is one SQLite transaction, ``BEGIN IMMEDIATE``
(the write lock is taken at the start, so it cannot fail half-way for a lock) ... ``COMMIT``
or ``ROLLBACK``. Each ``save``/``save_many`` runs inside a savepoint, so a
:class:`~evcharge_core.errors.Conflict` leaves the transaction as it was before the call.

**Saving a stored station** writes only what differs from its stored rows: the columns
that changed, in the rows that changed; new chargers, connectors and specs are inserted and
those it no longer has deleted (see :func:`_write_changes`). What is stored is known from
the transaction's own reads and writes (a status report reads the station, then saves it),
else read first. A batch of new stations (an import) is inserted as it is.

**Transaction ids** (:meth:`~evcharge_core.ports.TransactionStore.allocate_id`) come from
the ``counters`` table and are never handed out twice, even when the transaction that
allocated them rolls back. The unit of work runs in a savepoint (``work``) inside the
SQLite transaction; a rollback of a unit that allocated ids rolls back to the savepoint,
writes the counter back and commits that alone (see :func:`_roll_back`). The connection
also remembers the last id it handed out and never allocates below it.

**Schema.** Normalised tables ``areas``, ``stations``, ``connector_specs``, ``chargers``,
``connectors`` and ``activation_attempts`` (version 1); ``transactions`` (charging
sessions), ``id_tokens``, ``meter_values``, ``notifications`` and ``counters`` (version
2); ``transaction_events`` (OCPP 2.0.1 TransactionEvents, keyed by station, transaction
and ``seqNo``) and ``device_variables`` (OCPP 2.0.1 device models, keyed by station and the
key text of :func:`~evcharge_core.domain.device_model.format_key`) (version 3). What the
station list filters and sorts on is held in indexed columns, including
copies of the derived station status and operational status
(:mod:`evcharge_core.domain.status`) computed at save time, and case-folded copies of the
searched text; the transaction list's order (start, else stop, in POSIX seconds) and the
instants compared by ``find_started`` and the notification list likewise. Small value
objects (boot configuration, reported info, connection, connectivity, status records,
custom fields, the samples of one meter value report) are JSON columns, written by this
module's own cattrs converter (datetimes as ISO 8601 strings). Datetimes must be
timezone-aware. No SQL is built from user data: values are parameters, and the only
dynamic SQL is the ``ORDER BY`` clause of the station list, chosen from a fixed table, and
``WHERE`` clauses put together from constant fragments.

**Threads.** The embedded database answers in microseconds, so the ``async`` methods do
their work synchronously on the event loop's thread. The connection is opened with
``check_same_thread=False`` and guarded by the repository's lock, so a later version may
move the calls to a worker thread without changing the interface.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import functools
import itertools
import json
import math
import operator
import os
import sqlite3
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Final, TypeVar

from ..domain.activation import ThrottleState
from ..domain.device_model import DeviceVariable, format_key, parse_key
from ..domain.model import (
    Activation,
    Area,
    BootConfiguration,
    Charger,
    Connection,
    Connectivity,
    Connector,
    ConnectorSpec,
    ReportedInfo,
    Station,
    StatusRecord,
)
from ..domain.profiles import ChargingProfile, ProfilePeriod, RateUnit, Recurrence
from ..domain.status import USABILITY_ORDER, station_operational_status, station_status
from ..domain.transactions import AuthorizationStatus, IdToken, MeterSample, TransactionState
from ..domain.transactions import Transaction as ChargingTransaction
from ..domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    CurrentType,
    PhaseWiring,
    PowerType,
    Protocol,
    RegistrationStatus,
)
from ..errors import Conflict, StorageError
from ..ports import (
    Page,
    SortKey,
    StationNotification,
    StationQuery,
    TransactionEventRecord,
    TransactionQuery,
    TransactionSortKey,
    ascii_fold,
)
from ._json_columns import dump as _dump
from ._json_columns import dump_fields as _dump_fields
from ._json_columns import dump_samples as _dump_samples
from ._json_columns import dump_status as _dump_status
from ._json_columns import load_fields as _load_fields
from ._json_columns import load_optional as _load_optional
from ._json_columns import load_or as _load_or
from ._json_columns import load_samples as _load_samples
from ._json_columns import slice_bounds as _slice
from .memory import (
    CHARGER_CODE,
    CHARGER_ID,
    CONNECTOR_ID,
    STATION_CODE,
    dedupe,
    find_conflict,
    profile_in_use,
    search_fold,
    transaction_sort_key,
)

if TYPE_CHECKING:
    from ..ports import Repository

__all__ = ["APPLICATION_ID", "MIGRATIONS", "SCHEMA_VERSION", "SQLiteRepository"]

T = TypeVar("T")

APPLICATION_ID: Final = 0x45564348
"""``PRAGMA application_id`` of an evcharge database (``EVCH``)."""

DEFAULT_BUSY_TIMEOUT: Final = 5.0
"""Seconds to wait for another connection's write lock before giving up."""

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)
_STATUS_RANK: Final = {status: rank for rank, status in enumerate(USABILITY_ORDER)}
_STATUS_BY_RANK: Final = dict(enumerate(USABILITY_ORDER))


# --- schema and migrations -------------------------------------------------------------------

_SCHEMA_V1: Final = (
    """
    CREATE TABLE areas (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        latitude REAL NOT NULL,
        longitude REAL NOT NULL,
        address TEXT,
        output_limit_a INTEGER,
        output_limit_w INTEGER,
        private_group TEXT NOT NULL,          -- JSON list of driver ids, sorted
        time_zone TEXT NOT NULL
    )
    """,
    "CREATE INDEX areas_by_name ON areas (name, id)",
    """
    CREATE TABLE stations (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        code TEXT NOT NULL CONSTRAINT station_code_unique UNIQUE,
        visible INTEGER NOT NULL,
        physical_address TEXT,
        protocol TEXT,
        area_id TEXT,
        boot_configuration TEXT,              -- JSON; NULL: the default
        security_profile INTEGER NOT NULL,
        password_hash TEXT,
        registration_status TEXT NOT NULL,
        security_code_hash TEXT,
        manufacturer TEXT,
        article_number TEXT,
        serial_number TEXT,
        connectivity TEXT,                    -- JSON
        activation TEXT NOT NULL,
        activated_at TEXT,
        reported TEXT,                        -- JSON; NULL: the default
        connection TEXT,                      -- JSON; NULL: the default
        station_status TEXT,                  -- JSON: OCPP 1.6 connector 0
        closed INTEGER NOT NULL,
        -- derived at save time, for the station list
        connected INTEGER NOT NULL,
        last_seen_us INTEGER,                 -- microseconds since 1970 UTC
        status TEXT,
        status_rank INTEGER,                  -- index in USABILITY_ORDER
        operational_status TEXT NOT NULL,
        search_name TEXT NOT NULL,            -- str.casefold() copies
        search_manufacturer TEXT,
        search_serial_number TEXT,
        search_reported_serial_number TEXT
    )
    """,
    # Columns that are NULL for most imported stations (no status, no area, never seen) are
    # indexed partially: an equality filter implies IS NOT NULL, so the planner still uses
    # them, and an import of inactive stations does not pay for their entries.
    "CREATE INDEX stations_by_name ON stations (name, id)",
    "CREATE INDEX stations_by_status ON stations (status_rank, id) WHERE status_rank IS NOT NULL",
    "CREATE INDEX stations_by_operational_status ON stations (operational_status)",
    "CREATE INDEX stations_by_area ON stations (area_id) WHERE area_id IS NOT NULL",
    "CREATE INDEX stations_by_connected ON stations (connected)",
    "CREATE INDEX stations_by_activation ON stations (activation)",
    "CREATE INDEX stations_by_last_seen ON stations (last_seen_us, id)"
    " WHERE last_seen_us IS NOT NULL",
    """
    CREATE TABLE connector_specs (
        station_id TEXT NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        standard TEXT NOT NULL,
        format TEXT NOT NULL,
        power_type TEXT NOT NULL,
        voltage INTEGER NOT NULL,
        amperage INTEGER NOT NULL,
        PRIMARY KEY (station_id, position)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE chargers (
        id TEXT PRIMARY KEY,
        station_id TEXT NOT NULL REFERENCES stations (id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        evse_id INTEGER NOT NULL,
        code TEXT NOT NULL CONSTRAINT charger_code_unique UNIQUE,
        name TEXT NOT NULL,
        physical_address TEXT,
        reservable INTEGER NOT NULL,
        roaming INTEGER NOT NULL,
        current_type TEXT NOT NULL,
        charging_profile_id TEXT,
        custom_fields TEXT NOT NULL,          -- JSON object
        closed INTEGER NOT NULL,
        UNIQUE (station_id, evse_id)
    )
    """,
    """
    CREATE TABLE connectors (
        id TEXT PRIMARY KEY,
        charger_id TEXT NOT NULL REFERENCES chargers (id) ON DELETE CASCADE,
        station_id TEXT NOT NULL,
        position INTEGER NOT NULL,
        ocpp_id INTEGER NOT NULL,
        code TEXT NOT NULL,
        name TEXT NOT NULL,
        standard TEXT NOT NULL,
        format TEXT NOT NULL,
        power_type TEXT NOT NULL,
        voltage INTEGER NOT NULL,
        amperage INTEGER NOT NULL,
        wattage_limit INTEGER,
        power_factor REAL NOT NULL,
        custom_fields TEXT NOT NULL,          -- JSON object
        status TEXT,                          -- JSON status record
        closed INTEGER NOT NULL
    )
    """,
    "CREATE INDEX connectors_by_charger ON connectors (charger_id, position)",
    "CREATE INDEX connectors_by_station ON connectors (station_id)",
    """
    CREATE TABLE activation_attempts (
        station_id TEXT PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_failure_at TEXT NOT NULL,
        locked_until TEXT
    )
    """,
)


def _migrate_to_v1(db: sqlite3.Connection) -> None:
    """Version 1: the first schema."""
    for statement in _SCHEMA_V1:
        db.execute(statement)
    db.execute(f"PRAGMA application_id = {APPLICATION_ID:d}")


_TRANSACTION_ID_COUNTER: Final = "transaction_id"
"""The ``counters`` row of :meth:`~evcharge_core.ports.TransactionStore.allocate_id`."""

_SCHEMA_V2: Final = (
    # Charging sessions. No foreign key to stations: a deleted station's sessions are history
    # and stay. The rowid is the order of first save (find_started's tie-break, as the
    # reference model's dict order); saves are upserts, which keep it.
    """
    CREATE TABLE transactions (
        station_id TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        evse_id INTEGER,
        id_tag TEXT,
        started_at TEXT,
        meter_start INTEGER,
        state TEXT NOT NULL,
        reservation_id INTEGER,
        authorization TEXT,
        stopped_at TEXT,
        meter_stop INTEGER,
        stop_reason TEXT,
        stop_id_tag TEXT,
        last_meter_wh INTEGER,
        orphan INTEGER NOT NULL,
        -- derived at save time
        started_us INTEGER,                   -- started_at, microseconds since 1970 UTC
        list_time REAL,                       -- started_at, else stopped_at: POSIX seconds
        PRIMARY KEY (station_id, transaction_id)
    )
    """,
    # The list order (newest first: DESC puts NULL, no time at all, last), whole and per
    # station and per state; and the start key of retransmitted starts.
    "CREATE INDEX transactions_newest_first ON transactions"
    " (list_time DESC, station_id, transaction_id)",
    "CREATE INDEX transactions_of_station ON transactions"
    " (station_id, list_time DESC, transaction_id)",
    "CREATE INDEX transactions_by_state ON transactions"
    " (state, list_time DESC, station_id, transaction_id)",
    "CREATE INDEX transactions_by_start ON transactions"
    " (station_id, connector_id, started_us) WHERE orphan = 0",
    """
    CREATE TABLE id_tokens (
        id_token TEXT PRIMARY KEY,
        type TEXT NOT NULL,
        status TEXT NOT NULL,
        expiry_date TEXT,
        group_id TEXT
    ) WITHOUT ROWID
    """,
    # Append only; the integer key is the order of add() (a new row's key is always above
    # every existing one).
    """
    CREATE TABLE meter_values (
        id INTEGER PRIMARY KEY,
        station_id TEXT NOT NULL,
        connector_id INTEGER NOT NULL,
        transaction_id TEXT,                  -- NULL: outside any transaction
        samples TEXT NOT NULL                 -- JSON list of the samples of one add()
    )
    """,
    "CREATE INDEX meter_values_by_transaction ON meter_values (station_id, transaction_id, id)",
    """
    CREATE TABLE notifications (
        id INTEGER PRIMARY KEY,               -- the order of add()
        station_id TEXT NOT NULL,
        action TEXT NOT NULL,
        received_at TEXT NOT NULL,
        received_us INTEGER NOT NULL,         -- received_at, microseconds since 1970 UTC
        payload TEXT NOT NULL                 -- JSON text, as the station sent it
    )
    """,
    "CREATE INDEX notifications_newest_first ON notifications (station_id, received_us DESC, id)",
    # Allocated ids (the last one handed out); _roll_back() keeps them past a rollback.
    """
    CREATE TABLE counters (
        name TEXT PRIMARY KEY,
        value INTEGER NOT NULL                -- the last value handed out
    ) WITHOUT ROWID
    """,
)


def _migrate_to_v2(db: sqlite3.Connection) -> None:
    """Version 2: charging sessions, id tokens, meter values, notifications, counters."""
    for statement in _SCHEMA_V2:
        db.execute(statement)
    db.execute("INSERT INTO counters (name, value) VALUES (?, 0)", (_TRANSACTION_ID_COUNTER,))


_SCHEMA_V3: Final = (
    # OCPP 2.0.1 transaction events: the idempotence key (a retransmitted seqNo is not kept
    # twice) and each transaction's history. Like transactions, they outlive their station.
    """
    CREATE TABLE transaction_events (
        station_id TEXT NOT NULL,
        transaction_id TEXT NOT NULL,
        seq_no INTEGER NOT NULL,
        event_type TEXT NOT NULL,
        timestamp TEXT NOT NULL,              -- as the station says, ISO 8601
        trigger_reason TEXT NOT NULL,
        offline INTEGER NOT NULL,
        received_at TEXT NOT NULL,
        payload TEXT NOT NULL,                -- JSON text, as the station sent it
        PRIMARY KEY (station_id, transaction_id, seq_no)
    ) WITHOUT ROWID
    """,
    # OCPP 2.0.1 device models: one row per variable attribute. The key is the canonical
    # key text (format_key), which names component, instance, EVSE, connector, variable,
    # instance and attribute in one string that parses back; the primary key orders a
    # station's rows as the port lists them (BINARY compares UTF-8 in code point order).
    """
    CREATE TABLE device_variables (
        station_id TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT,
        mutability TEXT,
        persistent INTEGER,
        constant INTEGER,
        data_type TEXT,
        unit TEXT,
        min_limit REAL,
        max_limit REAL,
        values_list TEXT,
        supports_monitoring INTEGER,
        reported_at TEXT NOT NULL,
        PRIMARY KEY (station_id, key)
    ) WITHOUT ROWID
    """,
)


def _migrate_to_v3(db: sqlite3.Connection) -> None:
    """Version 3: OCPP 2.0.1 transaction events and device models."""
    for statement in _SCHEMA_V3:
        db.execute(statement)


_SCHEMA_V4: Final = (
    # Charging profiles, whole: the periods as a JSON list of {"start_s", "limit",
    # "number_phases"} objects, sorted by start. Chargers name theirs by
    # chargers.charging_profile_id, which is not a foreign key: version 1 stored any text
    # there; deleting an assigned profile is refused by the store instead.
    """
    CREATE TABLE charging_profiles (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        unit TEXT NOT NULL,                   -- "A" or "W"
        recurrence TEXT NOT NULL,             -- "Daily" or "Weekly"
        periods TEXT NOT NULL                 -- JSON list
    ) WITHOUT ROWID
    """,
    "CREATE INDEX charging_profiles_by_name ON charging_profiles (name, id)",
    "CREATE INDEX chargers_by_profile ON chargers (charging_profile_id)",
    # Load balancing: the supply phase a single-phase connector is wired to, and an
    # area's phase voltage (the rows stored before get the defaults, L1 and 230 V).
    "ALTER TABLE connectors ADD COLUMN phase TEXT NOT NULL DEFAULT 'L1'",
    "ALTER TABLE areas ADD COLUMN phase_voltage INTEGER NOT NULL DEFAULT 230",
)


def _migrate_to_v4(db: sqlite3.Connection) -> None:
    """Version 4: charging profiles; connectors' phase wiring, areas' phase voltage."""
    for statement in _SCHEMA_V4:
        db.execute(statement)


MIGRATIONS: Final[tuple[Callable[[sqlite3.Connection], None], ...]] = (
    _migrate_to_v1,
    _migrate_to_v2,
    _migrate_to_v3,
    _migrate_to_v4,
)
"""Step ``n`` takes the schema from version ``n`` to ``n + 1``. Append; never edit a step
that was released. A step gets the connection inside the migration's transaction and must
not commit (so no ``executescript``)."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
"""The schema version this code writes (``PRAGMA user_version``)."""


# --- rows ------------------------------------------------------------------------------------

_DEFAULT_BOOT: Final = BootConfiguration()
_DEFAULT_REPORTED: Final = ReportedInfo()
_DEFAULT_CONNECTION: Final = Connection()


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


_STATION_COLUMNS: Final = (
    "id, name, code, visible, physical_address, protocol, area_id, boot_configuration, "
    "security_profile, password_hash, registration_status, security_code_hash, manufacturer, "
    "article_number, serial_number, connectivity, activation, activated_at, reported, "
    "connection, station_status, closed"
)
_STATION_DERIVED: Final = (
    "connected, last_seen_us, status, status_rank, operational_status, search_name, "
    "search_manufacturer, search_serial_number, search_reported_serial_number"
)
_IDS: Final = "(SELECT value FROM json_each(?))"
"""A list of ids as one JSON parameter: no limit on how many, no SQL built from them."""

# The statements below are assembled from the constant column lists above, never from data
# (hence the S608 exemptions).
_SPEC_COLUMNS: Final = "station_id, position, standard, format, power_type, voltage, amperage"
_INSERT_SPEC: Final = f"INSERT INTO connector_specs ({_SPEC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"  # noqa: S608
_CHARGER_COLUMNS: Final = (
    "id, station_id, position, evse_id, code, name, physical_address, reservable, roaming, "
    "current_type, charging_profile_id, custom_fields, closed"
)
_INSERT_CHARGER: Final = (
    f"INSERT INTO chargers ({_CHARGER_COLUMNS}) VALUES ({', '.join(['?'] * 13)})"  # noqa: S608
)
_CONNECTOR_COLUMNS: Final = (
    "id, charger_id, station_id, position, ocpp_id, code, name, standard, format, power_type, "
    "voltage, amperage, wattage_limit, power_factor, custom_fields, status, closed, phase"
)
_INSERT_CONNECTOR: Final = (
    f"INSERT INTO connectors ({_CONNECTOR_COLUMNS}) VALUES ({', '.join(['?'] * 18)})"  # noqa: S608
)
_SELECT_STATIONS: Final = (
    f"SELECT {_STATION_COLUMNS}, {_STATION_DERIVED} FROM stations WHERE id IN {_IDS}"  # noqa: S608
)
_SELECT_SPECS: Final = (
    f"SELECT {_SPEC_COLUMNS} FROM connector_specs WHERE station_id IN {_IDS}"  # noqa: S608
    " ORDER BY station_id, position"
)
_SELECT_CHARGERS: Final = (
    f"SELECT {_CHARGER_COLUMNS} FROM chargers WHERE station_id IN {_IDS}"  # noqa: S608
    " ORDER BY station_id, position"
)
_SELECT_CONNECTORS: Final = (
    f"SELECT {_CONNECTOR_COLUMNS} FROM connectors WHERE station_id IN {_IDS}"  # noqa: S608
    " ORDER BY charger_id, position"
)

_STATION_COLUMN_NAMES: Final = tuple(f"{_STATION_COLUMNS}, {_STATION_DERIVED}".split(", "))
_SPEC_COLUMN_NAMES: Final = tuple(_SPEC_COLUMNS.split(", "))
_CHARGER_COLUMN_NAMES: Final = tuple(_CHARGER_COLUMNS.split(", "))
_CONNECTOR_COLUMN_NAMES: Final = tuple(_CONNECTOR_COLUMNS.split(", "))
_NO_VALUES: Final = (None,) * len(_STATION_COLUMN_NAMES)


@functools.lru_cache(maxsize=256)
def _insert_station_sql(present: tuple[bool, ...]) -> str:
    """An INSERT of the station columns marked present (names from the constant list)."""
    columns = ", ".join(itertools.compress(_STATION_COLUMN_NAMES, present))
    marks = ", ".join("?" * sum(present))
    return f"INSERT INTO stations ({columns}) VALUES ({marks})"  # noqa: S608


def _insert_stations(db: sqlite3.Connection, rows: Sequence[tuple[object, ...]]) -> None:
    """Insert station rows, leaving NULL columns out of the statement.

    sqlite3 binds ``None`` through its slow adapter look-up, and an imported station has a
    dozen NULL columns; rows are grouped by which columns they fill (nearly all rows of an
    import fill the same ones) and each group is one ``executemany``.
    """
    groups: dict[tuple[bool, ...], builtins.list[tuple[object, ...]]] = {}
    for row in rows:
        present = tuple(map(operator.is_not, row, _NO_VALUES))
        groups.setdefault(present, []).append(tuple(itertools.compress(row, present)))
    for present, values in groups.items():
        db.executemany(_insert_station_sql(present), values)


_Row = tuple[object, ...]

# Where the keys sit in the rows above.
_STATION_CODE_AT: Final = _STATION_COLUMN_NAMES.index("code")
_CHARGER_KEY_AT: Final = tuple(
    _CHARGER_COLUMN_NAMES.index(name) for name in ("station_id", "evse_id", "code")
)
_CONNECTOR_CHARGER_AT: Final = _CONNECTOR_COLUMN_NAMES.index("charger_id")

_UPDATE_TABLES: Final = {
    "stations": (_STATION_COLUMN_NAMES, "id = ?"),
    "connector_specs": (_SPEC_COLUMN_NAMES, "station_id = ? AND position = ?"),
    "chargers": (_CHARGER_COLUMN_NAMES, "id = ?"),
    "connectors": (_CONNECTOR_COLUMN_NAMES, "id = ?"),
}
_DELETE_CHARGER: Final = "DELETE FROM chargers WHERE id = ?"
_DELETE_CONNECTOR: Final = "DELETE FROM connectors WHERE id = ?"
_DELETE_SPECS_FROM: Final = "DELETE FROM connector_specs WHERE station_id = ? AND position >= ?"
_CODE_PLACEHOLDER: Final = "*"
"""Prefix of a station's code while codes move between the stations of one batch: ``*`` is
never part of a code (:func:`~evcharge_core.domain.values.parse_code`), and the station id
after it keeps the placeholders unique."""


class _Stored:
    """The rows of one station as they are in the database (values as this module writes
    them): its ``stations`` row, its specs by position, its chargers and connectors by id."""

    __slots__ = ("chargers", "connectors", "row", "source", "specs")

    def __init__(self, row: _Row, source: Station | None = None) -> None:
        self.row = row
        self.specs: dict[object, _Row] = {}
        self.chargers: dict[object, _Row] = {}
        self.connectors: dict[object, _Row] = {}
        self.source = source
        """The station these rows were decoded into or written from, when known. Domain
        values are immutable, so a part of a new version of the station that is the very
        same object as in ``source`` has the very same rows: saving it converts nothing
        (see :func:`_station_row` and the part rows)."""


@functools.lru_cache(maxsize=512)
def _update_sql(table: str, changed: tuple[int, ...]) -> str:
    """An UPDATE of the changed columns of one row (names from the constant lists)."""
    names, key = _UPDATE_TABLES[table]
    assignments = ", ".join(f"{names[i]} = ?" for i in changed)
    return f"UPDATE {table} SET {assignments} WHERE {key}"  # noqa: S608


def _changed(old: _Row, new: _Row) -> tuple[int, ...]:
    """The positions of the columns whose values differ."""
    return tuple(i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b)


class _Writes:
    """The statements that turn stored rows into new ones, grouped by statement."""

    def __init__(self) -> None:
        self.by_sql: dict[str, builtins.list[_Row]] = {}

    def update(self, table: str, old: _Row, new: _Row, key: _Row) -> None:
        if old is new:  # reused as it was stored (see _Stored.source)
            return
        changed = _changed(old, new)
        if changed:
            values = tuple(new[i] for i in changed)
            self.by_sql.setdefault(_update_sql(table, changed), []).append(values + key)

    def run(self, db: sqlite3.Connection) -> None:
        for sql, params in self.by_sql.items():
            db.executemany(sql, params)
        self.by_sql.clear()


def _write_changes(
    db: sqlite3.Connection,
    batch: Sequence[Station],
    station_rows: Sequence[_Row],
    stored: dict[str, _Stored],
) -> dict[str, _Stored]:
    """Save a batch in which some stations are stored already: write only what differs
    from their stored rows. Returns the rows now stored for every station of the batch.

    The end state is the one of deleting the batch's stations and inserting them again,
    and the same saves fail on the same uniqueness rules. The statements are ordered so
    that no row collides with one that is about to change or go (SQLite checks each
    row as it is written):

    1. chargers that are gone, or whose keys (station, EVSE id, code) changed, are deleted
       (their connectors go with them); so are connectors and specs that are gone;
    2. station rows are updated (codes moving between the batch's stations pass through
       placeholders), then new stations inserted;
    3. specs, chargers and connectors are updated where they differ and inserted where they
       are new (or were deleted in 1); connectors last, as one may move to a charger
       inserted just before.
    """
    now: dict[str, _Stored] = {}
    parts = 0
    for s, station_row in zip(batch, station_rows, strict=True):
        prev = stored.get(s.id)
        new = now[s.id] = _Stored(station_row, s)
        new.specs = {row[1]: row for row in _spec_rows(s, prev)}
        new.chargers = {row[0]: row for row in _charger_rows(s, prev)}
        new.connectors = {row[0]: row for row in _connector_rows(s, prev)}
        parts += len(s.chargers) + sum(len(c.connectors) for c in s.chargers)
    old = _Parts(stored.values())
    new_parts = _Parts(now.values())
    if len(new_parts.chargers) + len(new_parts.connectors) < parts:
        # A charger or connector id given twice: the primary key an insert would break.
        raise sqlite3.IntegrityError("UNIQUE constraint failed: a charger or connector id")
    _delete_parts(db, stored, now, old, new_parts)
    _save_station_rows(db, station_rows, stored, now)
    writes = _Writes()
    inserts: dict[str, builtins.list[_Row]] = {
        _INSERT_SPEC: [],
        _INSERT_CHARGER: [],
        _INSERT_CONNECTOR: [],
    }
    for table, insert, old_rows, new_rows in (
        ("connector_specs", _INSERT_SPEC, old.specs, new_parts.specs),
        ("chargers", _INSERT_CHARGER, old.chargers, new_parts.chargers),
        ("connectors", _INSERT_CONNECTOR, old.connectors, new_parts.connectors),
    ):
        for key, row in new_rows.items():
            old_row = old_rows.get(key)
            if old_row is None:
                inserts[insert].append(row)
            else:
                writes.update(table, old_row, row, key)
    for insert in (_INSERT_SPEC, _INSERT_CHARGER):
        if inserts[insert]:
            db.executemany(insert, inserts[insert])
    writes.run(db)
    if inserts[_INSERT_CONNECTOR]:
        db.executemany(_INSERT_CONNECTOR, inserts[_INSERT_CONNECTOR])
    return now


class _Parts:
    """The spec, charger and connector rows of some stations, keyed by their primary keys
    (as parameter tuples)."""

    def __init__(self, stations: Iterable[_Stored]) -> None:
        self.specs: dict[_Row, _Row] = {}
        self.chargers: dict[_Row, _Row] = {}
        self.connectors: dict[_Row, _Row] = {}
        for station in stations:
            for row in station.specs.values():
                self.specs[row[0], row[1]] = row
            for charger_id, row in station.chargers.items():
                self.chargers[(charger_id,)] = row
            for connector_id, row in station.connectors.items():
                self.connectors[(connector_id,)] = row


def _delete_parts(
    db: sqlite3.Connection,
    stored: dict[str, _Stored],
    now: dict[str, _Stored],
    old: _Parts,
    new: _Parts,
) -> None:
    """Step 1 of :func:`_write_changes`; removes what it deleted from ``old``."""
    dropped = [
        key
        for key, old_row in old.chargers.items()
        if (row := new.chargers.get(key)) is None
        or any(row[i] != old_row[i] for i in _CHARGER_KEY_AT)
    ]
    if dropped:
        db.executemany(_DELETE_CHARGER, dropped)
        gone = {key[0] for key in dropped}
        for key in dropped:
            del old.chargers[key]
        old.connectors = {
            key: row
            for key, row in old.connectors.items()
            if row[_CONNECTOR_CHARGER_AT] not in gone  # deleted with their charger
        }
    removed = [key for key in old.connectors if key not in new.connectors]
    if removed:
        db.executemany(_DELETE_CONNECTOR, removed)
        for key in removed:
            del old.connectors[key]
    cuts = [
        (station_id, len(now[station_id].specs))
        for station_id, stored_station in stored.items()
        if len(stored_station.specs) > len(now[station_id].specs)
    ]
    if cuts:
        db.executemany(_DELETE_SPECS_FROM, cuts)
        for station_id, count in cuts:
            for position in range(count, len(stored[station_id].specs)):
                old.specs.pop((station_id, position), None)


def _save_station_rows(
    db: sqlite3.Connection,
    station_rows: Sequence[_Row],
    stored: dict[str, _Stored],
    now: dict[str, _Stored],
) -> None:
    """Step 2 of :func:`_write_changes`."""
    moving = {
        station_id: now[station_id].row[_STATION_CODE_AT]
        for station_id, stored_station in stored.items()
        if stored_station.row[_STATION_CODE_AT] != now[station_id].row[_STATION_CODE_AT]
    }
    if moving:
        freed = {stored[station_id].row[_STATION_CODE_AT] for station_id in moving}
        if not freed.isdisjoint(moving.values()):
            db.executemany(
                _update_sql("stations", (_STATION_CODE_AT,)),
                [(_CODE_PLACEHOLDER + station_id, station_id) for station_id in moving],
            )
    writes = _Writes()
    for station_id, stored_station in stored.items():
        writes.update("stations", stored_station.row, now[station_id].row, (station_id,))
    writes.run(db)
    _insert_stations(db, [row for row in station_rows if row[0] not in stored])


_BOOT_AT: Final = _STATION_COLUMN_NAMES.index("boot_configuration")
_REPORTED_AT: Final = _STATION_COLUMN_NAMES.index("reported")
_CONNECTION_AT: Final = _STATION_COLUMN_NAMES.index("connection")
_STATION_STATUS_AT: Final = _STATION_COLUMN_NAMES.index("station_status")


def _station_row(s: Station, prev: _Stored | None = None) -> tuple[object, ...]:
    """The ``stations`` row of a station.

    Values are plain ``str``, ``int`` or ``None``: sqlite3 binds exact ``str`` and ``int``
    directly but looks for an adapter for anything else (enums, ``bool``), which is slow;
    ``str()`` of a :class:`~enum.StrEnum` is its plain value. Written out flat, because an
    import turns 5000 stations into rows and every call here counts. JSON columns are NULL
    for default values; those of values that are the same objects as in ``prev``'s source
    are taken from its row instead of being encoded again.
    """
    status = station_status(s)
    connection = s.connection
    boot = s.boot_configuration
    reported = s.reported
    activated_at = s.activation.activated_at
    last_seen = connection.last_seen
    source = None if prev is None else prev.source
    boot_json: object
    reported_json: object
    connection_json: object
    status_json: object
    if source is None or prev is None:
        boot_json = None if boot is _DEFAULT_BOOT or boot == _DEFAULT_BOOT else _dump(boot)
        reported_json = (
            None
            if reported is _DEFAULT_REPORTED or reported == _DEFAULT_REPORTED
            else _dump(reported)
        )
        connection_json = (
            None
            if connection is _DEFAULT_CONNECTION or connection == _DEFAULT_CONNECTION
            else _dump(connection)
        )
        status_json = _dump_status(s.station_status)
    else:
        old = prev.row
        boot_json = (
            old[_BOOT_AT]
            if boot is source.boot_configuration
            else None
            if boot == _DEFAULT_BOOT
            else _dump(boot)
        )
        reported_json = (
            old[_REPORTED_AT]
            if reported is source.reported
            else None
            if reported == _DEFAULT_REPORTED
            else _dump(reported)
        )
        connection_json = (
            old[_CONNECTION_AT]
            if connection is source.connection
            else None
            if connection == _DEFAULT_CONNECTION
            else _dump(connection)
        )
        status_json = (
            old[_STATION_STATUS_AT]
            if s.station_status is source.station_status
            else _dump_status(s.station_status)
        )
    return (
        s.id,
        s.name,
        s.code,
        int(s.visible),
        s.physical_address,
        None if s.protocol is None else str(s.protocol),
        s.area_id,
        boot_json,
        s.security_profile,
        s.password_hash,
        str(s.registration_status),
        s.security_code_hash,
        s.manufacturer,
        s.article_number,
        s.serial_number,
        None if s.connectivity is None else _dump(s.connectivity),
        str(s.activation.state),
        None if activated_at is None else activated_at.isoformat(),
        reported_json,
        connection_json,
        status_json,
        int(s.closed),
        # derived
        int(connection.connected),
        None if last_seen is None else (last_seen - _EPOCH) // _MICROSECOND,
        None if status is None else str(status),
        None if status is None else _STATUS_RANK[status],
        str(station_operational_status(s)),
        search_fold(s.name),
        None if s.manufacturer is None else search_fold(s.manufacturer),
        None if s.serial_number is None else search_fold(s.serial_number),
        None if reported.serial_number is None else search_fold(reported.serial_number),
    )


def _spec_rows(s: Station, prev: _Stored | None = None) -> Iterator[tuple[object, ...]]:
    source = None if prev is None else prev.source
    if (
        prev is not None
        and source is not None
        and (s.connector_specifications is source.connector_specifications)
    ):
        yield from prev.specs.values()
        return
    for position, spec in enumerate(s.connector_specifications):
        yield (s.id, position, str(spec.standard), str(spec.format), str(spec.power_type),
               spec.voltage, spec.amperage)  # fmt: skip


def _same_parts(s: Station, prev: _Stored | None) -> dict[str, tuple[int, Charger]]:
    """``prev``'s source chargers by id, with their positions (empty if it has none)."""
    source = None if prev is None else prev.source
    if source is None:
        return {}
    return {c.id: (position, c) for position, c in enumerate(source.chargers)}


def _charger_rows(s: Station, prev: _Stored | None = None) -> Iterator[tuple[object, ...]]:
    """The ``chargers`` rows; a charger that is the same object at the same position as in
    ``prev``'s source keeps its stored row."""
    before = _same_parts(s, prev)
    for position, c in enumerate(s.chargers):
        was = before.get(c.id)
        if prev is not None and was is not None and was[1] is c and was[0] == position:
            yield prev.chargers[c.id]
            continue
        yield (c.id, s.id, position, c.evse_id, c.code, c.name, c.physical_address,
               int(c.reservable), int(c.roaming), str(c.current_type), c.charging_profile_id,
               _dump_fields(c.custom_fields), int(c.closed))  # fmt: skip


def _connector_rows(s: Station, prev: _Stored | None = None) -> Iterator[tuple[object, ...]]:
    """The ``connectors`` rows; a connector that is the same object at the same position of
    the same charger as in ``prev``'s source keeps its stored row."""
    before = _same_parts(s, prev)
    for c in s.chargers:
        was = before.get(c.id)
        kept = {} if was is None else {k.id: (i, k) for i, k in enumerate(was[1].connectors)}
        for position, k in enumerate(c.connectors):
            old = kept.get(k.id)
            if prev is not None and old is not None and old[1] is k and old[0] == position:
                yield prev.connectors[k.id]
                continue
            yield (k.id, c.id, s.id, position, k.ocpp_id, k.code, k.name, str(k.standard),
                   str(k.format), str(k.power_type), k.voltage, k.amperage, k.wattage_limit,
                   float(k.power_factor), _dump_fields(k.custom_fields),
                   _dump_status(k.status), int(k.closed), k.phase.value)  # fmt: skip


def _station_from_row(
    row: sqlite3.Row,
    specs: builtins.list[ConnectorSpec],
    chargers: builtins.list[Charger],
) -> Station:
    return Station(
        id=row["id"],
        name=row["name"],
        code=row["code"],
        visible=bool(row["visible"]),
        physical_address=row["physical_address"],
        protocol=None if row["protocol"] is None else Protocol(row["protocol"]),
        area_id=row["area_id"],
        boot_configuration=_load_or(row["boot_configuration"], _DEFAULT_BOOT),
        security_profile=row["security_profile"],
        password_hash=row["password_hash"],
        registration_status=RegistrationStatus(row["registration_status"]),
        security_code_hash=row["security_code_hash"],
        manufacturer=row["manufacturer"],
        article_number=row["article_number"],
        serial_number=row["serial_number"],
        connectivity=_load_optional(row["connectivity"], Connectivity),
        connector_specifications=tuple(specs),
        activation=Activation(ActivationState(row["activation"]), _parse_time(row["activated_at"])),
        reported=_load_or(row["reported"], _DEFAULT_REPORTED),
        connection=_load_or(row["connection"], _DEFAULT_CONNECTION),
        station_status=_load_optional(row["station_status"], StatusRecord),
        closed=bool(row["closed"]),
        chargers=tuple(chargers),
    )


def _spec_from_row(row: sqlite3.Row) -> ConnectorSpec:
    return ConnectorSpec(
        standard=ConnectorStandard(row["standard"]),
        format=ConnectorFormat(row["format"]),
        power_type=PowerType(row["power_type"]),
        voltage=row["voltage"],
        amperage=row["amperage"],
    )


def _connector_from_row(row: sqlite3.Row) -> Connector:
    return Connector(
        id=row["id"],
        ocpp_id=row["ocpp_id"],
        code=row["code"],
        name=row["name"],
        standard=ConnectorStandard(row["standard"]),
        format=ConnectorFormat(row["format"]),
        power_type=PowerType(row["power_type"]),
        voltage=row["voltage"],
        amperage=row["amperage"],
        wattage_limit=row["wattage_limit"],
        power_factor=row["power_factor"],
        custom_fields=_load_fields(row["custom_fields"]),
        status=_load_optional(row["status"], StatusRecord),
        closed=bool(row["closed"]),
        phase=PhaseWiring(row["phase"]),
    )


def _charger_from_row(row: sqlite3.Row, connectors: builtins.list[Connector]) -> Charger:
    return Charger(
        id=row["id"],
        evse_id=row["evse_id"],
        code=row["code"],
        name=row["name"],
        physical_address=row["physical_address"],
        reservable=bool(row["reservable"]),
        roaming=bool(row["roaming"]),
        current_type=CurrentType(row["current_type"]),
        charging_profile_id=row["charging_profile_id"],
        custom_fields=_load_fields(row["custom_fields"]),
        connectors=tuple(connectors),
        closed=bool(row["closed"]),
    )


def _area_row(area: Area) -> tuple[object, ...]:
    return (
        area.id,
        area.name,
        area.latitude,
        area.longitude,
        area.address,
        area.output_limit_a,
        area.output_limit_w,
        json.dumps(sorted(area.private_group), ensure_ascii=False),
        area.time_zone,
        area.phase_voltage,
    )


def _area_from_row(row: sqlite3.Row) -> Area:
    return Area(
        id=row["id"],
        name=row["name"],
        latitude=row["latitude"],
        longitude=row["longitude"],
        address=row["address"],
        output_limit_a=row["output_limit_a"],
        output_limit_w=row["output_limit_w"],
        private_group=frozenset(json.loads(row["private_group"])),
        time_zone=row["time_zone"],
        phase_voltage=row["phase_voltage"],
    )


def _micros(value: datetime | None) -> int | None:
    """An aware datetime's instant in microseconds since 1970 UTC (what indexes compare)."""
    return None if value is None else (value - _EPOCH) // _MICROSECOND


def _list_time(transaction: ChargingTransaction) -> float | None:
    """What the transaction list sorts on, newest first: the reference model's
    :func:`~evcharge_core.adapters.memory.transaction_sort_key` undone (POSIX seconds of the
    start, else of the stop), ``None`` for neither (last, as ``DESC`` puts NULL)."""
    negated = transaction_sort_key(transaction)[0]
    return None if math.isinf(negated) else -negated


_TRANSACTION_COLUMN_NAMES: Final = (
    "station_id", "transaction_id", "connector_id", "evse_id", "id_tag", "started_at",
    "meter_start", "state", "reservation_id", "authorization", "stopped_at", "meter_stop",
    "stop_reason", "stop_id_tag", "last_meter_wh", "orphan", "started_us", "list_time",
)  # fmt: skip
_TRANSACTION_COLUMNS: Final = ", ".join(_TRANSACTION_COLUMN_NAMES)
_SAVE_TRANSACTION: Final = (
    f"INSERT INTO transactions ({_TRANSACTION_COLUMNS})"  # noqa: S608
    f" VALUES ({', '.join('?' * len(_TRANSACTION_COLUMN_NAMES))})"
    " ON CONFLICT (station_id, transaction_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _TRANSACTION_COLUMN_NAMES[2:])
)
"""An upsert: a saved transaction keeps its row (and rowid, the order of first save)."""
_SELECT_TRANSACTIONS: Final = f"SELECT {_TRANSACTION_COLUMNS} FROM transactions"  # noqa: S608
_TRANSACTION_ORDER: Final = "list_time DESC, station_id, transaction_id"
"""Newest first by start (orphans by stop), then station and id: the reference model's
:func:`~evcharge_core.adapters.memory.transaction_sort_key`. ``DESC`` puts transactions
with neither time (NULL) last; ``TEXT`` compares by code point, like ``str``."""


def _transaction_row(t: ChargingTransaction) -> tuple[object, ...]:
    return (
        t.station_id,
        t.transaction_id,
        t.connector_id,
        t.evse_id,
        t.id_tag,
        _time(t.started_at),
        t.meter_start,
        str(t.state),
        t.reservation_id,
        None if t.authorization is None else str(t.authorization),
        _time(t.stopped_at),
        t.meter_stop,
        t.stop_reason,
        t.stop_id_tag,
        t.last_meter_wh,
        int(t.orphan),
        # derived
        _micros(t.started_at),
        _list_time(t),
    )


def _transaction_from_row(row: sqlite3.Row) -> ChargingTransaction:
    authorization = row["authorization"]
    return ChargingTransaction(
        station_id=row["station_id"],
        transaction_id=row["transaction_id"],
        connector_id=row["connector_id"],
        evse_id=row["evse_id"],
        id_tag=row["id_tag"],
        started_at=_parse_time(row["started_at"]),
        meter_start=row["meter_start"],
        state=TransactionState(row["state"]),
        reservation_id=row["reservation_id"],
        authorization=None if authorization is None else AuthorizationStatus(authorization),
        stopped_at=_parse_time(row["stopped_at"]),
        meter_stop=row["meter_stop"],
        stop_reason=row["stop_reason"],
        stop_id_tag=row["stop_id_tag"],
        last_meter_wh=row["last_meter_wh"],
        orphan=bool(row["orphan"]),
    )


def _id_token_from_row(row: sqlite3.Row) -> IdToken:
    return IdToken(
        id_token=row["id_token"],
        type=row["type"],
        status=AuthorizationStatus(row["status"]),
        expiry_date=_parse_time(row["expiry_date"]),
        group_id=row["group_id"],
    )


def _notification_from_row(row: sqlite3.Row) -> StationNotification:
    received_at = _parse_time(row["received_at"])
    assert received_at is not None  # NOT NULL column
    return StationNotification(row["station_id"], row["action"], received_at, row["payload"])


# --- queries ---------------------------------------------------------------------------------

_ORDER_BY: Final[dict[tuple[SortKey, bool], str]] = {
    (SortKey.ID, False): "id ASC",
    (SortKey.ID, True): "id DESC",
    (SortKey.NAME, False): "name ASC, id ASC",
    (SortKey.NAME, True): "name DESC, id ASC",
    (SortKey.CODE, False): "code ASC, id ASC",
    (SortKey.CODE, True): "code DESC, id ASC",
    (SortKey.STATUS, False): "status_rank IS NULL, status_rank ASC, id ASC",
    (SortKey.STATUS, True): "status_rank IS NULL, status_rank DESC, id ASC",
    (SortKey.LAST_SEEN, False): "last_seen_us IS NULL, last_seen_us ASC, id ASC",
    (SortKey.LAST_SEEN, True): "last_seen_us IS NULL, last_seen_us DESC, id ASC",
}
"""The only SQL chosen at run time: the ``ORDER BY`` clause for each sort key and direction
(see :mod:`evcharge_core.adapters.memory` for the rules)."""

_SEARCH: Final = (
    "(instr(lower(id), ?) > 0 OR instr(search_name, ?) > 0 OR instr(lower(code), ?) > 0"
    " OR instr(search_manufacturer, ?) > 0 OR instr(search_serial_number, ?) > 0"
    " OR instr(search_reported_serial_number, ?) > 0)"
)
"""Station ids and codes are ASCII, so SQLite's ``lower`` folds them as ``casefold`` does;
the other fields are folded in Python at save time."""

_OWNER_OF: Final = {
    STATION_CODE: "SELECT id FROM stations WHERE code = ?",
    CHARGER_CODE: "SELECT station_id FROM chargers WHERE code = ?",
    CHARGER_ID: "SELECT station_id FROM chargers WHERE id = ?",
    CONNECTOR_ID: "SELECT station_id FROM connectors WHERE id = ?",
}


def _where(query: StationQuery) -> tuple[str, builtins.list[object]]:
    clauses: builtins.list[str] = []
    params: builtins.list[object] = []
    if query.search is not None:
        clauses.append(_SEARCH)
        params.extend([search_fold(query.search)] * 6)
    if query.status is not None:
        clauses.append("status_rank = ?")
        params.append(_STATUS_RANK[query.status])
    if query.operational_status is not None:
        clauses.append("operational_status = ?")
        params.append(str(query.operational_status))
    if query.area_id is not None:
        clauses.append("area_id = ?")
        params.append(query.area_id)
    if query.connected is not None:
        clauses.append("connected = ?")
        params.append(int(query.connected))
    if query.activation is not None:
        clauses.append("activation = ?")
        params.append(str(query.activation))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_TRANSACTION_SEARCH: Final = (
    "(instr(lower(station_id), ?) > 0 OR instr(lower(transaction_id), ?) > 0"
    " OR instr(lower(id_tag), ?) > 0)"
)
"""SQLite's ``lower()`` folds ``A-Z`` only, as :func:`~evcharge_core.ports.ascii_fold`
does; ``instr`` of a NULL id tag is NULL, which is not a match."""

_ENERGY: Final = "(coalesce(meter_stop, last_meter_wh) - meter_start)"
""":attr:`~evcharge_core.domain.transactions.Transaction.energy_wh` (NULL without a start
reading or any later one)."""

_TRANSACTION_ORDER_BY: Final[dict[tuple[TransactionSortKey, bool], str]] = {
    (TransactionSortKey.STARTED_AT, True): _TRANSACTION_ORDER,
    (TransactionSortKey.STARTED_AT, False): (
        "list_time IS NULL, list_time ASC, station_id, transaction_id"
    ),
    (TransactionSortKey.ENERGY, True): (
        f"{_ENERGY} IS NULL, {_ENERGY} DESC, station_id, transaction_id"
    ),
    (TransactionSortKey.ENERGY, False): (
        f"{_ENERGY} IS NULL, {_ENERGY} ASC, station_id, transaction_id"
    ),
    (TransactionSortKey.STATION, True): "station_id DESC, transaction_id",
    (TransactionSortKey.STATION, False): "station_id, transaction_id",
}
"""The ``ORDER BY`` clause of the transaction list for each sort key and direction (see
:class:`~evcharge_core.ports.TransactionQuery`: missing values last, ties ascending)."""


def _transaction_where(query: TransactionQuery) -> tuple[str, builtins.list[object]]:
    clauses: builtins.list[str] = []
    params: builtins.list[object] = []
    if query.station_id is not None:
        clauses.append("station_id = ?")
        params.append(query.station_id)
    if query.state is not None:
        clauses.append("state = ?")
        params.append(str(query.state))
    if query.area_id is not None:
        clauses.append("station_id IN (SELECT id FROM stations WHERE area_id = ?)")
        params.append(query.area_id)
    if query.since is not None:
        clauses.append("list_time >= ?")
        params.append(query.since.timestamp())
    if query.until is not None:
        clauses.append("list_time < ?")
        params.append(query.until.timestamp())
    if query.search is not None:
        clauses.append(_TRANSACTION_SEARCH)
        params.extend([ascii_fold(query.search)] * 3)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_FIND_STARTED: Final = (
    f"{_SELECT_TRANSACTIONS} WHERE station_id = ? AND orphan = 0 AND connector_id = ?"
    " AND id_tag IS ? AND started_us IS ? AND meter_start IS ? ORDER BY rowid LIMIT 1"
)
"""The first saved of the station's non-orphan transactions with a start key (instants
compared, as ``datetime`` equality does)."""


# --- the repository --------------------------------------------------------------------------


DEFAULT_STATION_CACHE_SIZE: Final = 10_000
"""How many stations :class:`SQLiteRepository` keeps decoded between transactions."""

_Cached = tuple[Station, "_Stored"]


class _StationCache:
    """Stations as last committed, with their stored rows, shared by the repository's
    transactions so that a station read again (every status report of a connected station
    reads it) is neither queried nor decoded.

    A transaction stages what it reads and writes (:attr:`_SQLiteStationStore.staged`) and
    the stage is applied only once its ``COMMIT`` succeeded, so the cache never holds
    anything rolled back. It is emptied whenever another connection has committed (``PRAGMA
    data_version``), and it holds at most ``capacity`` stations, dropping the least recently
    staged first. Every write to the station tables goes through the station store, which
    stages it: code that writes them otherwise must clear the cache.
    """

    __slots__ = ("capacity", "entries")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.entries: dict[str, _Cached] = {}

    def get(self, station_id: str) -> _Cached | None:
        return self.entries.get(station_id)

    def apply(self, staged: dict[str, _Cached | None]) -> None:
        """Take in a committed transaction's stations (``None``: forget that one)."""
        entries = self.entries
        for station_id, entry in staged.items():
            entries.pop(station_id, None)
            if entry is not None and self.capacity:
                entries[station_id] = entry
        excess = len(entries) - self.capacity
        if excess > 0:
            for station_id in list(itertools.islice(entries, excess)):
                del entries[station_id]

    def clear(self) -> None:
        self.entries.clear()


class _Connection:
    """The SQLite connection with the path it came from, for error messages."""

    def __init__(self, db: sqlite3.Connection, path: str, busy_timeout: float) -> None:
        self.db = db
        self.path = path
        self.busy_timeout = busy_timeout
        self.last_transaction_id = 0
        """The last transaction id this process handed out: allocation never goes below it,
        even if writing the counter back after a failed commit failed too."""
        self.cache = _StationCache(DEFAULT_STATION_CACHE_SIZE)
        self.data_version: int | None = None
        """``PRAGMA data_version`` when the cache was last known valid: it changes when
        another connection commits (see :meth:`check_cache`)."""

    def check_cache(self) -> None:
        """Forget the cached stations if another connection (the CLI, a second process)
        committed since this one last looked. Called with the write lock held, so no other
        commit can come between this check and the transaction's reads."""
        version = self.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self.data_version:
            self.cache.clear()
            self.data_version = version

    @contextlib.contextmanager
    def errors(self, doing: str) -> Iterator[None]:
        """Turn SQLite's errors (other than constraint failures) into StorageError."""
        try:
            yield
        except sqlite3.IntegrityError:
            raise
        except (sqlite3.Error, OverflowError) as exc:
            raise _storage_error(self.path, doing, exc, self.busy_timeout) from exc


def _storage_error(path: str, doing: str, exc: BaseException, busy_timeout: float) -> StorageError:
    detail = str(exc)
    if "locked" in detail or "busy" in detail:
        detail += (
            f" (another connection held the write lock for longer than the busy timeout of"
            f" {busy_timeout:g} s)"
        )
    return StorageError(f"{path}: cannot {doing}: {detail}")


class _SQLiteTransaction:
    """One unit of work: the stores over the connection, valid until it ends."""

    def __init__(self, conn: _Connection, batch: _Batch) -> None:
        self._conn = conn
        self.batch = batch
        self._open = True
        self.allocated = False
        """Whether this transaction handed out ids (the counter must outlive a rollback)."""
        self._stations = _SQLiteStationStore(self)
        self._areas = _SQLiteAreaStore(self)
        self._profiles = _SQLiteChargingProfileStore(self)
        self._attempts = _SQLiteActivationAttemptStore(self)
        self._transactions = _SQLiteTransactionStore(self)
        self._id_tokens = _SQLiteIdTokenStore(self)
        self._meter_values = _SQLiteMeterValueStore(self)
        self._notifications = _SQLiteNotificationStore(self)
        self._transaction_events = _SQLiteTransactionEventStore(self)
        self._device_model = _SQLiteDeviceModelStore(self)

    @property
    def transaction_events(self) -> _SQLiteTransactionEventStore:
        return self._transaction_events

    @property
    def device_model(self) -> _SQLiteDeviceModelStore:
        return self._device_model

    @property
    def transactions(self) -> _SQLiteTransactionStore:
        return self._transactions

    @property
    def id_tokens(self) -> _SQLiteIdTokenStore:
        return self._id_tokens

    @property
    def meter_values(self) -> _SQLiteMeterValueStore:
        return self._meter_values

    @property
    def notifications(self) -> _SQLiteNotificationStore:
        return self._notifications

    @property
    def stations(self) -> _SQLiteStationStore:
        return self._stations

    @property
    def areas(self) -> _SQLiteAreaStore:
        return self._areas

    @property
    def activation_attempts(self) -> _SQLiteActivationAttemptStore:
        return self._attempts

    @property
    def charging_profiles(self) -> _SQLiteChargingProfileStore:
        return self._profiles

    def conn(self) -> _Connection:
        if not self._open:
            raise RuntimeError("this transaction has ended; start a new one")
        return self._conn

    def end(self) -> None:
        self._open = False


class _SQLiteStationStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx
        self._known: dict[str, _Stored | None] = {}
        """What this transaction knows is stored, by station id (``None``: no such
        station), from its reads and writes: :meth:`save_many` writes only what differs
        from it. It holds while the transaction does: nothing else writes meanwhile (the
        transaction holds the write lock), and a save that fails forgets its stations."""
        self.staged: dict[str, _Cached | None] = {}
        """What this transaction read or wrote, for the repository's :class:`_StationCache`
        once it has committed (``None``: to be forgotten there)."""

    # reading

    def _fetch(
        self, station_ids: Sequence[str]
    ) -> tuple[
        builtins.list[sqlite3.Row],
        builtins.list[sqlite3.Row],
        builtins.list[sqlite3.Row],
        builtins.list[sqlite3.Row],
    ]:
        """The stored rows of stations, specs, connectors and chargers, in that order; and
        what they are is remembered for :meth:`save_many` (see :attr:`_known`)."""
        conn = self._tx.conn()
        db = conn.db
        ids = json.dumps(builtins.list(station_ids))
        known = self._known
        with conn.errors("read stations"):
            rows = db.execute(_SELECT_STATIONS, (ids,)).fetchall()
            if not rows:
                known.update(dict.fromkeys(station_ids))
                return rows, [], [], []
            spec_rows = db.execute(_SELECT_SPECS, (ids,)).fetchall()
            connector_rows = db.execute(_SELECT_CONNECTORS, (ids,)).fetchall()
            charger_rows = db.execute(_SELECT_CHARGERS, (ids,)).fetchall()
        found = {row[0]: _Stored(tuple(row)) for row in rows}
        for row in spec_rows:
            found[row[0]].specs[row[1]] = tuple(row)
        for row in connector_rows:
            found[row[2]].connectors[row[0]] = tuple(row)
        for row in charger_rows:
            found[row[1]].chargers[row[0]] = tuple(row)
        if len(found) < len(station_ids):
            known.update(dict.fromkeys(station_ids))
        known.update(found)
        return rows, spec_rows, connector_rows, charger_rows

    def _cached(self, station_id: str) -> _Cached | None:
        """The station and its stored rows from this unit's stage, else its batch's, else
        the repository's cache; ``None`` (also a ``None`` in a stage): read the database."""
        if station_id in self.staged:
            return self.staged[station_id]
        batch_staged = self._tx.batch.staged
        if station_id in batch_staged:
            return batch_staged[station_id]
        return self._tx.conn().cache.get(station_id)

    def _load(self, station_ids: Sequence[str]) -> dict[str, Station]:
        """The stations that exist, from :meth:`_cached` else from the database (then
        staged for the cache)."""
        loaded: dict[str, Station] = {}
        missing: builtins.list[str] = []
        for station_id in station_ids:
            entry = self._cached(station_id)
            if entry is None:
                missing.append(station_id)
            else:
                loaded[station_id] = entry[0]
                self._known[station_id] = entry[1]
        if missing:
            loaded.update(self._decode(missing))
        return loaded

    def _decode(self, station_ids: Sequence[str]) -> dict[str, Station]:
        rows, spec_rows, connector_rows, charger_rows = self._fetch(station_ids)
        if not rows:
            return {}
        specs: dict[str, builtins.list[ConnectorSpec]] = {}
        for row in spec_rows:
            specs.setdefault(row["station_id"], []).append(_spec_from_row(row))
        connectors: dict[str, builtins.list[Connector]] = {}
        for row in connector_rows:
            connectors.setdefault(row["charger_id"], []).append(_connector_from_row(row))
        chargers: dict[str, builtins.list[Charger]] = {}
        for row in charger_rows:
            chargers.setdefault(row["station_id"], []).append(
                _charger_from_row(row, connectors.get(row["id"], []))
            )
        decoded: dict[str, Station] = {}
        known, staged = self._known, self.staged
        for row in rows:
            station_id = row["id"]
            station = _station_from_row(
                row, specs.get(station_id, []), chargers.get(station_id, [])
            )
            decoded[station_id] = station
            stored = known.get(station_id)
            if stored is not None:
                stored.source = station
            staged[station_id] = None if stored is None else (station, stored)
        return decoded

    def _stored(self, station_ids: Sequence[str]) -> dict[str, _Stored]:
        """The stored rows of those of the stations that exist."""
        known = self._known
        unknown = []
        for station_id in station_ids:
            if station_id not in known:
                entry = self._cached(station_id)
                if entry is None:
                    unknown.append(station_id)
                else:
                    known[station_id] = entry[1]
        if unknown:
            self._fetch(unknown)
        return {i: stored for i in station_ids if (stored := known[i]) is not None}

    def _one(self, sql: str, key: str) -> Station | None:
        conn = self._tx.conn()
        with conn.errors("read stations"):
            row = conn.db.execute(sql, (key,)).fetchone()
        return None if row is None else self._load([row[0]]).get(row[0])

    async def get(self, station_id: str) -> Station | None:
        return self._load([station_id]).get(station_id)

    async def get_many(self, station_ids: Sequence[str]) -> dict[str, Station]:
        found = self._load(station_ids)
        return {i: found[i] for i in station_ids if i in found}

    async def get_by_code(self, code: str) -> Station | None:
        return self._one(_OWNER_OF[STATION_CODE], code)

    async def get_by_charger_id(self, charger_id: str) -> Station | None:
        return self._one(_OWNER_OF[CHARGER_ID], charger_id)

    async def get_by_charger_code(self, code: str) -> Station | None:
        return self._one(_OWNER_OF[CHARGER_CODE], code)

    async def get_by_connector_id(self, connector_id: str) -> Station | None:
        return self._one(_OWNER_OF[CONNECTOR_ID], connector_id)

    async def list(self, query: StationQuery) -> Page[Station]:
        conn = self._tx.conn()
        where, params = _where(query)
        order = _ORDER_BY[query.sort, query.descending]
        with conn.errors("list stations"):
            # Only constant fragments: the WHERE clauses of _where() and an _ORDER_BY entry.
            count_sql = f"SELECT count(*) FROM stations{where}"  # noqa: S608
            page_sql = f"SELECT id FROM stations{where} ORDER BY {order} LIMIT ? OFFSET ?"  # noqa: S608
            total = conn.db.execute(count_sql, params).fetchone()[0]
            ids = [
                row[0]
                for row in conn.db.execute(
                    page_sql,
                    [*params, query.page_size, (query.page - 1) * query.page_size],
                )
            ]
        found = self._load(ids)
        return Page(
            items=tuple(found[i] for i in ids),
            page=query.page,
            page_size=query.page_size,
            total=total,
        )

    # writing

    async def save(self, station: Station) -> None:
        await self.save_many([station])

    async def save_many(self, stations: Sequence[Station]) -> None:
        """Insert new stations; of stored ones, write only the rows and columns that differ
        (see :func:`_write_changes`)."""
        batch = dedupe(stations)
        if not batch:
            return
        conn = self._tx.conn()
        db = conn.db
        known = self._known
        with conn.errors("save stations"):
            stored = self._stored([s.id for s in batch])
            station_rows = [_station_row(s, stored.get(s.id)) for s in batch]
            db.execute("SAVEPOINT save_stations")
            try:
                if stored:
                    now = _write_changes(db, batch, station_rows, stored)
                else:  # new stations only (an import): no need to compare anything
                    _insert_stations(db, station_rows)
                    db.executemany(_INSERT_SPEC, [row for s in batch for row in _spec_rows(s)])
                    db.executemany(
                        _INSERT_CHARGER, [row for s in batch for row in _charger_rows(s)]
                    )
                    db.executemany(
                        _INSERT_CONNECTOR, [row for s in batch for row in _connector_rows(s)]
                    )
                    now = None
            except BaseException as exc:
                for s in batch:
                    known.pop(s.id, None)
                    self.staged[s.id] = None
                db.execute("ROLLBACK TO save_stations")
                db.execute("RELEASE save_stations")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise self._conflict(batch, exc) from exc
                raise
            db.execute("RELEASE save_stations")
        staged = self.staged
        if now is None:
            for s in batch:
                known.pop(s.id, None)
                staged[s.id] = None
        else:
            known.update(now)
            for s in batch:
                staged[s.id] = (s, now[s.id])

    def _conflict(self, batch: Sequence[Station], exc: sqlite3.IntegrityError) -> Exception:
        """Name what collided, looking at the database as it was before the save."""
        db = self._tx.conn().db

        def owner_of(kind: str, value: str) -> str | None:
            row = db.execute(_OWNER_OF[kind], (value,)).fetchone()
            return None if row is None else str(row[0])

        problem = find_conflict(batch, owner_of)
        if problem is None:
            conn = self._tx.conn()
            return _storage_error(conn.path, "save stations", exc, conn.busy_timeout)
        return Conflict(problem)

    async def delete(self, station_id: str) -> bool:
        conn = self._tx.conn()
        self._known.pop(station_id, None)
        self.staged[station_id] = None
        with conn.errors("delete a station"):
            cursor = conn.db.execute("DELETE FROM stations WHERE id = ?", (station_id,))
        self._known[station_id] = None
        return cursor.rowcount > 0


class _SQLiteAreaStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def get(self, area_id: str) -> Area | None:
        conn = self._tx.conn()
        with conn.errors("read areas"):
            row = conn.db.execute("SELECT * FROM areas WHERE id = ?", (area_id,)).fetchone()
        return None if row is None else _area_from_row(row)

    async def save(self, area: Area) -> None:
        conn = self._tx.conn()
        with conn.errors("save an area"):
            conn.db.execute(
                "INSERT INTO areas (id, name, latitude, longitude, address, output_limit_a,"
                " output_limit_w, private_group, time_zone, phase_voltage)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " latitude = excluded.latitude, longitude = excluded.longitude,"
                " address = excluded.address, output_limit_a = excluded.output_limit_a,"
                " output_limit_w = excluded.output_limit_w,"
                " private_group = excluded.private_group, time_zone = excluded.time_zone,"
                " phase_voltage = excluded.phase_voltage",
                _area_row(area),
            )

    async def delete(self, area_id: str) -> bool:
        conn = self._tx.conn()
        with conn.errors("delete an area"):
            cursor = conn.db.execute("DELETE FROM areas WHERE id = ?", (area_id,))
        return cursor.rowcount > 0

    async def list(self) -> builtins.list[Area]:
        conn = self._tx.conn()
        with conn.errors("read areas"):
            rows = conn.db.execute("SELECT * FROM areas ORDER BY name, id").fetchall()
        return [_area_from_row(row) for row in rows]


def _profile_row(profile: ChargingProfile) -> tuple[str, str, str, str, str]:
    periods = [
        {"start_s": p.start_s, "limit": p.limit, "number_phases": p.number_phases}
        for p in profile.periods
    ]
    return (
        profile.id,
        profile.name,
        profile.unit.value,
        profile.recurrence.value,
        json.dumps(periods, separators=(",", ":")),
    )


def _profile_from_row(row: sqlite3.Row) -> ChargingProfile:
    return ChargingProfile(
        row["id"],
        row["name"],
        RateUnit(row["unit"]),
        Recurrence(row["recurrence"]),
        [
            ProfilePeriod(p["start_s"], p["limit"], p["number_phases"])
            for p in json.loads(row["periods"])
        ],
    )


class _SQLiteChargingProfileStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def get(self, profile_id: str) -> ChargingProfile | None:
        conn = self._tx.conn()
        with conn.errors("read charging profiles"):
            row = conn.db.execute(
                "SELECT * FROM charging_profiles WHERE id = ?", (profile_id,)
            ).fetchone()
        return None if row is None else _profile_from_row(row)

    async def save(self, profile: ChargingProfile) -> None:
        conn = self._tx.conn()
        with conn.errors("save a charging profile"):
            conn.db.execute(
                "INSERT INTO charging_profiles (id, name, unit, recurrence, periods)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
                " unit = excluded.unit, recurrence = excluded.recurrence,"
                " periods = excluded.periods",
                _profile_row(profile),
            )

    async def delete(self, profile_id: str) -> bool:
        conn = self._tx.conn()
        with conn.errors("delete a charging profile"):
            user = conn.db.execute(
                "SELECT station_id, id FROM chargers WHERE charging_profile_id = ?"
                " ORDER BY station_id, position LIMIT 1",
                (profile_id,),
            ).fetchone()
            exists = conn.db.execute(
                "SELECT 1 FROM charging_profiles WHERE id = ?", (profile_id,)
            ).fetchone()
            if exists is None:
                return False
            if user is not None:
                raise Conflict(profile_in_use(profile_id, user[0], user[1]))
            conn.db.execute("DELETE FROM charging_profiles WHERE id = ?", (profile_id,))
        return True

    async def list(self) -> builtins.list[ChargingProfile]:
        conn = self._tx.conn()
        with conn.errors("read charging profiles"):
            rows = conn.db.execute("SELECT * FROM charging_profiles ORDER BY name, id").fetchall()
        return [_profile_from_row(row) for row in rows]


class _SQLiteActivationAttemptStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def get(self, station_id: str) -> ThrottleState | None:
        conn = self._tx.conn()
        with conn.errors("read activation attempts"):
            row = conn.db.execute(
                "SELECT failures, last_failure_at, locked_until FROM activation_attempts"
                " WHERE station_id = ?",
                (station_id,),
            ).fetchone()
        if row is None:
            return None
        last_failure_at = _parse_time(row["last_failure_at"])
        assert last_failure_at is not None  # NOT NULL column
        return ThrottleState(row["failures"], last_failure_at, _parse_time(row["locked_until"]))

    async def save(self, station_id: str, state: ThrottleState) -> None:
        conn = self._tx.conn()
        with conn.errors("save activation attempts"):
            conn.db.execute(
                "INSERT INTO activation_attempts (station_id, failures, last_failure_at,"
                " locked_until) VALUES (?, ?, ?, ?) ON CONFLICT (station_id) DO UPDATE SET"
                " failures = excluded.failures, last_failure_at = excluded.last_failure_at,"
                " locked_until = excluded.locked_until",
                (
                    station_id,
                    state.failures,
                    _time(state.last_failure_at),
                    _time(state.locked_until),
                ),
            )

    async def clear(self, station_id: str) -> None:
        conn = self._tx.conn()
        with conn.errors("clear activation attempts"):
            conn.db.execute("DELETE FROM activation_attempts WHERE station_id = ?", (station_id,))


class _SQLiteTransactionStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def allocate_id(self) -> int:
        conn = self._tx.conn()
        with conn.errors("allocate a transaction id"):
            conn.db.execute(
                "UPDATE counters SET value = max(value, ?) + 1 WHERE name = ?",
                (conn.last_transaction_id, _TRANSACTION_ID_COUNTER),
            )
            allocated: int = conn.db.execute(
                "SELECT value FROM counters WHERE name = ?", (_TRANSACTION_ID_COUNTER,)
            ).fetchone()[0]
        conn.last_transaction_id = allocated
        self._tx.allocated = True
        return allocated

    async def get(self, station_id: str, transaction_id: str) -> ChargingTransaction | None:
        conn = self._tx.conn()
        with conn.errors("read transactions"):
            row = conn.db.execute(
                f"{_SELECT_TRANSACTIONS} WHERE station_id = ? AND transaction_id = ?",
                (station_id, transaction_id),
            ).fetchone()
        return None if row is None else _transaction_from_row(row)

    async def find_started(
        self,
        station_id: str,
        start_key: tuple[int, str | None, datetime | None, int | None],
    ) -> ChargingTransaction | None:
        connector_id, id_tag, started_at, meter_start = start_key
        conn = self._tx.conn()
        with conn.errors("read transactions"):
            row = conn.db.execute(
                _FIND_STARTED,
                (station_id, connector_id, id_tag, _micros(started_at), meter_start),
            ).fetchone()
        return None if row is None else _transaction_from_row(row)

    async def save(self, transaction: ChargingTransaction) -> None:
        conn = self._tx.conn()
        with conn.errors("save a transaction"):
            conn.db.execute(_SAVE_TRANSACTION, _transaction_row(transaction))

    async def list(self, query: TransactionQuery) -> Page[ChargingTransaction]:
        conn = self._tx.conn()
        where, params = _transaction_where(query)
        start = (query.page - 1) * query.page_size
        with conn.errors("list transactions"):
            # Only constant fragments: the clauses of _transaction_where().
            count_sql = f"SELECT count(*) FROM transactions{where}"  # noqa: S608
            order = _TRANSACTION_ORDER_BY[query.sort, query.descending]
            page_sql = f"{_SELECT_TRANSACTIONS}{where} ORDER BY {order} LIMIT ? OFFSET ?"
            total: int = conn.db.execute(count_sql, params).fetchone()[0]
            offset, limit = _slice(total, start, start + query.page_size)
            rows = conn.db.execute(page_sql, [*params, limit, offset]).fetchall() if limit else []
        return Page(
            items=[_transaction_from_row(row) for row in rows],
            page=query.page,
            page_size=query.page_size,
            total=total,
        )


class _SQLiteIdTokenStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def get(self, id_token: str) -> IdToken | None:
        conn = self._tx.conn()
        with conn.errors("read id tokens"):
            row = conn.db.execute(
                "SELECT * FROM id_tokens WHERE id_token = ?", (id_token,)
            ).fetchone()
        return None if row is None else _id_token_from_row(row)

    async def save(self, token: IdToken) -> None:
        conn = self._tx.conn()
        with conn.errors("save an id token"):
            conn.db.execute(
                "INSERT INTO id_tokens (id_token, type, status, expiry_date, group_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id_token) DO UPDATE SET"
                " type = excluded.type, status = excluded.status,"
                " expiry_date = excluded.expiry_date, group_id = excluded.group_id",
                (
                    token.id_token,
                    token.type,
                    str(token.status),
                    _time(token.expiry_date),
                    token.group_id,
                ),
            )

    async def delete(self, id_token: str) -> bool:
        conn = self._tx.conn()
        with conn.errors("delete an id token"):
            cursor = conn.db.execute("DELETE FROM id_tokens WHERE id_token = ?", (id_token,))
        return cursor.rowcount > 0

    async def list(self) -> builtins.list[IdToken]:
        conn = self._tx.conn()
        with conn.errors("read id tokens"):
            rows = conn.db.execute("SELECT * FROM id_tokens ORDER BY id_token").fetchall()
        return [_id_token_from_row(row) for row in rows]


class _SQLiteMeterValueStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def add(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        conn = self._tx.conn()
        if not samples:
            return
        with conn.errors("save meter values"):
            conn.db.execute(
                "INSERT INTO meter_values (station_id, connector_id, transaction_id, samples)"
                " VALUES (?, ?, ?, ?)",
                (station_id, connector_id, transaction_id, _dump_samples(samples)),
            )

    async def list(self, station_id: str, transaction_id: str | None) -> builtins.list[MeterSample]:
        conn = self._tx.conn()
        with conn.errors("read meter values"):
            rows = conn.db.execute(
                "SELECT samples FROM meter_values WHERE station_id = ? AND transaction_id IS ?"
                " ORDER BY id",
                (station_id, transaction_id),
            ).fetchall()
        return [sample for row in rows for sample in _load_samples(row[0])]


class _SQLiteNotificationStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def add(self, notification: StationNotification) -> None:
        conn = self._tx.conn()
        with conn.errors("save a notification"):
            conn.db.execute(
                "INSERT INTO notifications (station_id, action, received_at, received_us,"
                " payload) VALUES (?, ?, ?, ?, ?)",
                (
                    notification.station_id,
                    notification.action,
                    _time(notification.received_at),
                    _micros(notification.received_at),
                    notification.payload,
                ),
            )

    async def list(self, station_id: str, limit: int = 100) -> builtins.list[StationNotification]:
        """Newest first; notifications received at the same instant in the order they were
        added (the reference model's stable sort)."""
        conn = self._tx.conn()
        with conn.errors("read notifications"):
            if limit < 0:  # sliced as Python does: all but the oldest -limit
                total = conn.db.execute(
                    "SELECT count(*) FROM notifications WHERE station_id = ?", (station_id,)
                ).fetchone()[0]
                limit = _slice(total, 0, limit)[1]
            rows = conn.db.execute(
                "SELECT station_id, action, received_at, payload FROM notifications"
                " WHERE station_id = ? ORDER BY received_us DESC, id LIMIT ?",
                (station_id, limit),
            ).fetchall()
        return [_notification_from_row(row) for row in rows]


class _SQLiteTransactionEventStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def add(self, event: TransactionEventRecord) -> bool:
        conn = self._tx.conn()
        with conn.errors("save a transaction event"):
            cursor = conn.db.execute(
                "INSERT INTO transaction_events (station_id, transaction_id, seq_no,"
                " event_type, timestamp, trigger_reason, offline, received_at, payload)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (
                    event.station_id,
                    event.transaction_id,
                    event.seq_no,
                    event.event_type,
                    _time(event.timestamp),
                    event.trigger_reason,
                    int(event.offline),
                    _time(event.received_at),
                    event.payload,
                ),
            )
        return cursor.rowcount > 0

    async def list(
        self, station_id: str, transaction_id: str
    ) -> builtins.list[TransactionEventRecord]:
        conn = self._tx.conn()
        with conn.errors("read transaction events"):
            rows = conn.db.execute(
                "SELECT * FROM transaction_events WHERE station_id = ? AND transaction_id = ?"
                " ORDER BY seq_no",
                (station_id, transaction_id),
            ).fetchall()
        return [_transaction_event_from_row(row) for row in rows]


def _transaction_event_from_row(row: sqlite3.Row) -> TransactionEventRecord:
    timestamp = _parse_time(row["timestamp"])
    received_at = _parse_time(row["received_at"])
    assert timestamp is not None  # NOT NULL columns
    assert received_at is not None
    return TransactionEventRecord(
        station_id=row["station_id"],
        transaction_id=row["transaction_id"],
        seq_no=row["seq_no"],
        event_type=row["event_type"],
        timestamp=timestamp,
        trigger_reason=row["trigger_reason"],
        offline=bool(row["offline"]),
        received_at=received_at,
        payload=row["payload"],
    )


def _optional_bool(value: int | None) -> bool | None:
    return None if value is None else bool(value)


def _optional_int(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _variable_row(station_id: str, v: DeviceVariable) -> tuple[object, ...]:
    return (
        station_id,
        format_key(v.key),
        v.value,
        v.mutability,
        _optional_int(v.persistent),
        _optional_int(v.constant),
        v.data_type,
        v.unit,
        v.min_limit,
        v.max_limit,
        v.values_list,
        _optional_int(v.supports_monitoring),
        _time(v.reported_at),
    )


def _variable_from_row(row: sqlite3.Row) -> DeviceVariable:
    reported_at = _parse_time(row["reported_at"])
    assert reported_at is not None  # NOT NULL column
    return DeviceVariable(
        key=parse_key(row["key"]),
        reported_at=reported_at,
        value=row["value"],
        mutability=row["mutability"],
        persistent=_optional_bool(row["persistent"]),
        constant=_optional_bool(row["constant"]),
        data_type=row["data_type"],
        unit=row["unit"],
        min_limit=row["min_limit"],
        max_limit=row["max_limit"],
        values_list=row["values_list"],
        supports_monitoring=_optional_bool(row["supports_monitoring"]),
    )


_VARIABLE_COLUMN_NAMES: Final = (
    "station_id", "key", "value", "mutability", "persistent", "constant", "data_type", "unit",
    "min_limit", "max_limit", "values_list", "supports_monitoring", "reported_at",
)  # fmt: skip
_SAVE_VARIABLE: Final = (
    f"INSERT INTO device_variables ({', '.join(_VARIABLE_COLUMN_NAMES)})"  # noqa: S608
    f" VALUES ({', '.join('?' * len(_VARIABLE_COLUMN_NAMES))})"
    " ON CONFLICT (station_id, key) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _VARIABLE_COLUMN_NAMES[2:])
)


class _SQLiteDeviceModelStore:
    def __init__(self, tx: _SQLiteTransaction) -> None:
        self._tx = tx

    async def save(self, station_id: str, variables: Sequence[DeviceVariable]) -> None:
        conn = self._tx.conn()
        with conn.errors("save a device model"):
            conn.db.executemany(_SAVE_VARIABLE, [_variable_row(station_id, v) for v in variables])

    async def list(self, station_id: str) -> builtins.list[DeviceVariable]:
        conn = self._tx.conn()
        with conn.errors("read a device model"):
            rows = conn.db.execute(
                "SELECT * FROM device_variables WHERE station_id = ? ORDER BY key",
                (station_id,),
            ).fetchall()
        return [_variable_from_row(row) for row in rows]

    async def clear(self, station_id: str) -> int:
        conn = self._tx.conn()
        with conn.errors("delete a device model"):
            cursor = conn.db.execute(
                "DELETE FROM device_variables WHERE station_id = ?", (station_id,)
            )
        return cursor.rowcount


class _Batch:
    """Units of work sharing one SQLite transaction, committed together (group commit).

    Every unit runs in a savepoint of its own inside the batch's ``BEGIN IMMEDIATE``; a unit
    that raises is rolled back to its savepoint alone. The batch commits once the units
    that were ready to run have run (see :meth:`SQLiteRepository.transaction`), and each
    unit's ``async with`` block ends only after that ``COMMIT``: what a unit wrote is
    committed before the code that ran it goes on, as if it had committed alone.
    """

    __slots__ = ("allocated", "done", "staged", "waiters")

    def __init__(self, done: asyncio.Future[None]) -> None:
        self.done = done
        """Resolved once the batch committed; its exception if the commit failed."""
        self.staged: dict[str, _Cached | None] = {}
        """The stations its committed units read or wrote, for the cache once committed."""
        self.allocated = False
        """Whether a unit handed out transaction ids (kept even if the commit fails)."""
        self.waiters = 0
        """Units that ended normally and wait for the commit."""


class _Unit(contextlib.AbstractAsyncContextManager[_SQLiteTransaction]):
    """``async with repository.transaction() as tx:`` (written out rather than with
    :func:`contextlib.asynccontextmanager`: every station message goes through here)."""

    __slots__ = ("_repository", "_tx")

    def __init__(self, repository: SQLiteRepository) -> None:
        self._repository = repository
        self._tx: _SQLiteTransaction | None = None

    async def __aenter__(self) -> _SQLiteTransaction:
        repository = self._repository
        repository._check_usable()
        await repository._lock.acquire()
        try:
            repository._check_usable()
            repository._holder = asyncio.current_task()
            self._tx = _SQLiteTransaction(repository._conn, repository._unit_batch())
        except BaseException:
            repository._holder = None
            repository._lock.release()
            raise
        return self._tx

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        repository, tx = self._repository, self._tx
        assert tx is not None, "__aexit__ without __aenter__"
        try:
            tx.end()
            if exc_type is not None:
                repository._roll_back(tx)
                return
            repository._release(tx)
        finally:
            repository._holder = None
            repository._lock.release()
        # Shielded: one waiter's cancellation must not cancel the batch's other units.
        await asyncio.shield(tx.batch.done)


class SQLiteRepository:
    """A :class:`~evcharge_core.ports.Repository` in one SQLite file; see the module
    docstring. Create it with :meth:`open`, not with the constructor."""

    def __init__(self, conn: _Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[object] | None = None
        self._batch: _Batch | None = None
        self._committer: asyncio.Task[None] | None = None
        self._closed = False

    @property
    def path(self) -> str:
        """The database file."""
        return self._conn.path

    @classmethod
    async def open(
        cls, path: str | os.PathLike[str], *, busy_timeout: float = DEFAULT_BUSY_TIMEOUT
    ) -> SQLiteRepository:
        """Open the database at ``path``, creating it or migrating its schema first.

        ``busy_timeout`` is how many seconds to wait for a write lock held by another
        connection before raising :class:`~evcharge_core.errors.StorageError`. Every failure
        raises that error naming the path, and leaves the file as it was.
        """
        return cls(_open(os.fspath(path), busy_timeout))

    def _check_usable(self, doing: str = "start a transaction") -> None:
        if self._closed:
            raise StorageError(f"{self._conn.path}: the repository is closed")
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError(f"cannot {doing} inside a transaction of the same task")

    def transaction(self) -> _Unit:
        """A unit of work, in the savepoint ``work`` of the current batch's SQLite
        transaction (``BEGIN IMMEDIATE`` ... ``COMMIT``, see :class:`_Batch`).

        The first unit of a batch begins the SQLite transaction and schedules the commit: a
        task that takes the repository's lock after the units already waiting for it, so
        the units that become ready in the same turn of the event loop (a burst of station
        messages) share one ``COMMIT``. A unit that raises is rolled back to its savepoint,
        keeping the transaction id counter (see :func:`_roll_back`); the others are not
        touched. The block ends once the batch has committed, with the commit's
        :class:`~evcharge_core.errors.StorageError` if it failed."""
        return _Unit(self)

    def _unit_batch(self) -> _Batch:
        """The open batch, begun if there is none, with the unit's savepoint taken."""
        conn = self._conn
        batch = self._batch
        with conn.errors("start a transaction"):
            if batch is None:
                if conn.db.in_transaction:  # left open by a failed rollback
                    conn.db.execute("ROLLBACK")
                conn.db.execute("BEGIN IMMEDIATE")
                conn.check_cache()
                loop = asyncio.get_running_loop()
                batch = self._batch = _Batch(loop.create_future())
                self._committer = loop.create_task(self._commit_later(batch))
            conn.db.execute("SAVEPOINT work")
        return batch

    def _release(self, tx: _SQLiteTransaction) -> None:
        """End a unit that ran to its end: its work joins the batch."""
        batch = tx.batch
        try:
            with self._conn.errors("commit"):
                self._conn.db.execute("RELEASE work")
        except StorageError as error:
            self._abandon(batch, error)
            raise
        batch.staged.update(tx.stations.staged)
        batch.allocated = batch.allocated or tx.allocated
        batch.waiters += 1

    def _roll_back(self, tx: _SQLiteTransaction) -> None:
        """Discard a unit that raised; the batch goes on unless SQLite itself ended it."""
        batch = tx.batch
        batch.allocated = batch.allocated or tx.allocated
        try:
            _roll_back(self._conn, keep_ids=tx.allocated)
        except StorageError as error:
            self._abandon(batch, error)
            raise
        if not self._conn.db.in_transaction:  # SQLite rolled everything back (an I/O error)
            self._abandon(
                batch, StorageError(f"{self._conn.path}: the transaction was rolled back")
            )

    async def _commit_later(self, batch: _Batch) -> None:
        async with self._lock:
            if self._batch is batch:
                self._commit(batch)

    def _commit(self, batch: _Batch) -> None:
        """Commit the batch and tell its units; apply its stations to the cache."""
        self._batch = None
        conn = self._conn
        try:
            with conn.errors("commit"):
                conn.db.execute("COMMIT")
        except StorageError as error:
            self._abandon(batch, error)
            return
        conn.cache.apply(batch.staged)
        batch.done.set_result(None)

    def _abandon(self, batch: _Batch, error: StorageError) -> None:
        """The batch is lost: roll back what is left of it, keep the id counter, and fail
        the units waiting for its commit with ``error``."""
        if self._batch is batch:
            self._batch = None
        conn = self._conn
        if conn.db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                conn.db.execute("ROLLBACK")
        if batch.allocated:
            with contextlib.suppress(StorageError):
                _keep_ids(conn)
        if batch.done.done():
            return
        if batch.waiters:
            batch.done.set_exception(error)
        else:  # nobody to tell: the units that raised already told their callers
            batch.done.set_result(None)

    async def close(self) -> None:
        """Wait for running transactions, commit the last batch, then close the file
        (SQLite checkpoints the WAL into it). Closing twice is fine."""
        if self._closed:
            return
        self._check_usable("close the repository")
        async with self._lock:
            self._closed = True
            if self._batch is not None:
                self._commit(self._batch)
            with self._conn.errors("close the database"):
                with contextlib.suppress(sqlite3.Error):
                    self._conn.db.execute("PRAGMA optimize")
                self._conn.db.close()
        if self._committer is not None:
            await self._committer


_KEEP_IDS: Final = "UPDATE counters SET value = max(value, ?) WHERE name = ?"


def _roll_back(conn: _Connection, *, keep_ids: bool) -> None:
    """Discard a unit of work (roll back to its savepoint); when it handed out transaction
    ids, keep the counter.

    An allocated id may already have left the process (in a reply), so it must never be
    handed out again, yet the counter was written inside the unit being discarded. So the
    counter is written back (never lowered) after the rollback to the savepoint, in the
    batch's transaction, and commits with it; if that commit fails, :func:`_keep_ids`
    writes it in a transaction of its own. If SQLite already rolled back the whole
    transaction (an I/O error), the counter is written in a new one at once.
    """
    db = conn.db
    with conn.errors("roll back"):
        if not db.in_transaction:  # SQLite already rolled back everything (an I/O error)
            if keep_ids:
                _keep_ids(conn)
            return
        db.execute("ROLLBACK TO work")
        db.execute("RELEASE work")
        if keep_ids:
            db.execute(_KEEP_IDS, (conn.last_transaction_id, _TRANSACTION_ID_COUNTER))


def _keep_ids(conn: _Connection) -> None:
    """Write the id counter back in a transaction of its own (after a failed commit)."""
    db = conn.db
    with conn.errors("keep the transaction id counter"):
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(_KEEP_IDS, (conn.last_transaction_id, _TRANSACTION_ID_COUNTER))
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise


# --- opening ---------------------------------------------------------------------------------


def _open(path: str, busy_timeout: float) -> _Connection:
    """Connect, check, set up and migrate; on any failure undo what this call created."""
    target = Path(path)
    if target.is_dir():
        raise StorageError(f"{path}: cannot open the database: it is a directory")
    existed = target.exists()
    if existed:
        mode = target.stat().st_mode
        if not os.access(target, os.W_OK) or not mode & (
            stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
        ):
            raise StorageError(f"{path}: cannot open the database: the file is read-only")
    try:
        db = sqlite3.connect(
            path, timeout=busy_timeout, isolation_level=None, check_same_thread=False
        )
    except sqlite3.Error as exc:
        raise StorageError(f"{path}: cannot open the database: {exc}") from exc
    conn = _Connection(db, path, busy_timeout)
    try:
        db.row_factory = sqlite3.Row
        _check_and_migrate(conn)
    except BaseException:
        db.close()
        if not existed:
            for suffix in ("", "-wal", "-shm", "-journal"):
                with contextlib.suppress(OSError):
                    os.remove(path + suffix)
        raise
    return conn


def _check_and_migrate(conn: _Connection) -> None:
    db, path = conn.db, conn.path
    with conn.errors("read the database"):
        version = _read_version(conn)
        db.execute("PRAGMA foreign_keys = ON")
    with conn.errors("switch the database to WAL mode"):
        mode = db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        db.execute("PRAGMA synchronous = NORMAL")
    if mode != "wal" and path != ":memory:":
        raise StorageError(f"{path}: cannot switch the database to WAL mode (it stays {mode})")
    # Always take the write lock once: it proves the file is writable and not held by
    # another writer, and it makes concurrent first openings migrate only once.
    with conn.errors("migrate the schema"):
        db.execute("BEGIN IMMEDIATE")
        try:
            version = _read_version(conn)
            for step in MIGRATIONS[version:]:
                step(db)
            if version < SCHEMA_VERSION:
                db.execute(f"PRAGMA user_version = {SCHEMA_VERSION:d}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise


def _read_version(conn: _Connection) -> int:
    """The schema version, after checking that the file is an evcharge database we know."""
    db, path = conn.db, conn.path
    version: int = db.execute("PRAGMA user_version").fetchone()[0]
    application_id: int = db.execute("PRAGMA application_id").fetchone()[0]
    tables = db.execute("SELECT count(*) FROM sqlite_schema").fetchone()[0]
    if application_id not in (0, APPLICATION_ID) or (version == 0 and tables):
        raise StorageError(
            f"{path}: this SQLite database belongs to another application; "
            "give evcharge a file of its own"
        )
    if version > SCHEMA_VERSION:
        raise StorageError(
            f"{path}: the schema is version {version}, newer than this evcharge_core knows"
            f" ({SCHEMA_VERSION}); upgrade evcharge_core to open it"
        )
    return version


if TYPE_CHECKING:

    def _implements_the_port(repository: SQLiteRepository) -> Repository:
        return repository  # mypy checks the structural match here

"""The PostgreSQL repository: one database shared by one or several gateway processes.

Open one with :meth:`PostgresRepository.open` (or :func:`evcharge_core.bootstrap.open_repository`
with a ``postgresql://`` or ``postgres://`` URL)::

    repository = await PostgresRepository.open("postgresql://evcharge@db.example/evcharge")
    try:
        async with repository.transaction() as tx:
            await tx.stations.save(station)
    finally:
        await repository.close()

**Driver.** psycopg 3 with :mod:`psycopg_pool` (the ``postgres`` extra): typed (``mypy
--strict`` checks the calls), an official connection pool, and client-side binding, with
which the statements of one step (a station's four tables, a save's writes) go as one query
string in one round trip (:meth:`_PgTransaction.run`). Round trips are what a unit of work
costs here.

**Opening** connects once, migrates the schema (see below) and opens the pool. A URL that
cannot be parsed, a server that cannot be reached, a database that does not exist or refuses
the user, tables of the same names that evcharge did not create, or a schema newer than this
code knows raise :class:`~evcharge_core.errors.StorageError` naming the URL with its password
masked (:func:`display_url`).

**Migrations.** :data:`MIGRATIONS` is the ordered list of steps; step ``n`` takes the schema
from version ``n`` to ``n + 1``, in one PostgreSQL transaction that also records the version
in ``schema_migrations`` (``version``, ``description``, ``applied_at``). Openings hold a
session advisory lock (:data:`MIGRATION_LOCK`) while they read the version and migrate, so
several processes opening a new database at once migrate it once. Tables are created in the
first schema of the connection's ``search_path`` (``?options=-csearch_path%3Dname`` in the URL
chooses one).

**Transactions.** A unit of work (``async with repository.transaction()``) is a savepoint
``work`` inside a PostgreSQL transaction ``BEGIN ISOLATION LEVEL REPEATABLE READ`` ...
``COMMIT``. As in the SQLite adapter, units that become ready in the same turn of the event
loop share that transaction (*group commit*): each unit is rolled back alone to its savepoint
when it raises, one ``COMMIT`` ends them all, and every unit's ``async with`` block ends only
after that commit, with its error if it failed. A batch holds at most ``batch_limit`` units
(64 by default; a bound on the subtransactions of one transaction). Units of one repository
run one at a time (the port's rule), on one pooled connection per batch. ``REPEATABLE READ``
is for several processes: a unit that writes rows another process changed since its batch
began fails with :class:`~evcharge_core.errors.StorageError` (SQLSTATE 40001) instead of
overwriting them; that unit is rolled back alone and may be run again.

Each ``save``/``save_many`` runs in a savepoint of its own with the unique and foreign key
constraints deferred to its end (``SET CONSTRAINTS ALL DEFERRED`` ... ``IMMEDIATE``), so
codes and ids may move between the stations of one batch in any order; a uniqueness
violation rolls back to that savepoint and raises :class:`~evcharge_core.errors.Conflict`
naming what collided (:func:`~evcharge_core.adapters.memory.find_conflict` against the
database as it was before the save); the transaction goes on.

**No cache across transactions.** Several processes write to one database, so a station is
read from the database by every unit that needs it; a unit remembers the rows it read or wrote
only until it ends, to write only the rows that changed when it saves.

**Transaction ids** come from the sequence ``transaction_ids``: ``nextval`` is never rolled
back, so an id is never handed out twice, by any process.

**Text.** PostgreSQL ``text`` cannot hold the NUL character, which a station's display name,
say, may contain. Free-text columns hold their text as it is unless it contains NUL or starts
with ``\\x01``; such text is stored as ``\\x01`` followed by its JSON string encoding
(:func:`_put`). What the station list sorts names by and searches is held in ``bytea``
columns (UTF-8, whose byte order is code point order; the searched fields joined by
``\\xff``, a byte no UTF-8 text contains), ids and codes in ``COLLATE "C"`` columns.

**Failures.** Every error of the server or the connection is raised as
:class:`~evcharge_core.errors.StorageError` naming the URL (password masked) and what failed.
A connection that breaks is dropped from the pool; the next unit of work gets a new one (a
pooled connection found dead by a batch's first statement is replaced and the statement sent
again, without failing a unit). While no connection can be had, the first unit waits up to
the pool's timeout and the next ones at most :data:`UNREACHABLE_WAIT`, until one comes.

**Adding a store**: a step appended to :data:`MIGRATIONS`, a store class whose methods go
through :meth:`_PgTransaction.run` (or its ``rows``/``count`` shorthands), a property on
:class:`_PgTransaction`, and the table in ``_TABLES``.
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs
import psycopg
import psycopg.conninfo
import psycopg.errors
from psycopg import AsyncConnection, pq
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from ..bootstrap import display_db_url as display_url
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
    station_keys,
)

if TYPE_CHECKING:
    from ..ports import Repository

__all__ = [
    "DEFAULT_BATCH_LIMIT",
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "SCHEMA_VERSION",
    "TCP_DEFAULTS",
    "UNREACHABLE_WAIT",
    "Migration",
    "PostgresRepository",
    "connection_options",
    "display_url",
]

T = TypeVar("T")

DEFAULT_BATCH_LIMIT: Final = 64
"""Units of work that share one PostgreSQL transaction at most (see the module docstring)."""

UNREACHABLE_WAIT: Final = 0.5
"""Seconds a unit waits for a connection while the last wait for one timed out."""

MIGRATION_LOCK: Final = 0x4556_4348_4D49_4752
"""The advisory lock key openings hold while they migrate (``EVCHMIGR``)."""

_SCHEMES: Final = ("postgresql://", "postgres://")
_STATUS_RANK: Final = {status: rank for rank, status in enumerate(USABILITY_ORDER)}
_Row = tuple[Any, ...]


# --- the URL ---------------------------------------------------------------------------------


def _check_url(url: str, shown: str) -> None:
    if not url.startswith(_SCHEMES):
        raise StorageError(f"{shown}: not a PostgreSQL URL (postgresql://... or postgres://...)")
    try:
        psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise StorageError(f"{shown}: not a valid PostgreSQL URL: {exc}") from exc


TCP_DEFAULTS: Final[dict[str, int]] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 60_000,
}
"""libpq options every connection gets unless its URL sets them: a connection whose peer
vanished without a word (a NAT or firewall that forgot it, a server machine that died) is
found dead within about a minute, idle or busy, instead of after the system's TCP timeouts
(two hours idle, about fifteen minutes with data unacknowledged)."""


def connection_options(url: str) -> dict[str, Any]:
    """The :data:`TCP_DEFAULTS` that ``url`` does not set (its own values win), as keyword
    arguments for :func:`psycopg.AsyncConnection.connect` or a pool's ``kwargs``."""
    given = psycopg.conninfo.conninfo_to_dict(url)
    return {key: value for key, value in TCP_DEFAULTS.items() if key not in given}


# --- free text -------------------------------------------------------------------------------

_ESCAPE: Final = "\x01"


def _put(text: str) -> str:
    """Free text as stored: as it is, unless PostgreSQL cannot hold it (NUL) or it could be
    mistaken for an escaped one; those are ``\\x01`` + their JSON encoding."""
    if "\x00" in text or text.startswith(_ESCAPE):
        return _ESCAPE + json.dumps(text)
    return text


def _put_optional(text: str | None) -> str | None:
    return None if text is None else _put(text)


def _get(stored: str) -> str:
    """The inverse of :func:`_put`."""
    if stored.startswith(_ESCAPE):
        text: str = json.loads(stored[1:])
        return text
    return stored


def _get_optional(stored: str | None) -> str | None:
    return None if stored is None else _get(stored)


# --- JSON columns ----------------------------------------------------------------------------

_DEFAULT_BOOT: Final = BootConfiguration()
_DEFAULT_REPORTED: Final = ReportedInfo()
_DEFAULT_CONNECTION: Final = Connection()


def _dump_default(value: T, default: T) -> str | None:
    """``NULL`` for the default value (most stations), else the JSON."""
    return None if value is default or value == default else _dump(value)


def _dump_optional(value: object | None) -> str | None:
    return None if value is None else _dump(value)


# --- schema and migrations -------------------------------------------------------------------


@attrs.frozen
class Migration:
    """One step of the schema: its statements run in one transaction."""

    description: str
    statements: tuple[str, ...]


_V1: Final = Migration(
    "stations, chargers, connectors, areas, activation attempts, charging sessions, id tokens,"
    " meter values, notifications, the transaction id sequence",
    (
        """
        CREATE TABLE areas (
            id text COLLATE "C" PRIMARY KEY,
            name text NOT NULL,
            latitude double precision NOT NULL,
            longitude double precision NOT NULL,
            address text,
            output_limit_a bigint,
            output_limit_w bigint,
            private_group text NOT NULL,          -- JSON list of driver ids, sorted
            time_zone text NOT NULL
        )
        """,
        """
        CREATE TABLE stations (
            id text COLLATE "C" PRIMARY KEY,
            name text NOT NULL,
            code text COLLATE "C" NOT NULL
                CONSTRAINT station_code_unique UNIQUE DEFERRABLE INITIALLY IMMEDIATE,
            visible boolean NOT NULL,
            physical_address text,
            protocol text,
            area_id text COLLATE "C",
            boot_configuration text,              -- JSON; NULL: the default
            security_profile integer NOT NULL,
            password_hash text,
            registration_status text NOT NULL,
            security_code_hash text,
            manufacturer text,
            article_number text,
            serial_number text,
            connectivity text,                    -- JSON
            activation text NOT NULL,
            activated_at timestamptz,
            reported text,                        -- JSON; NULL: the default
            connection text,                      -- JSON; NULL: the default
            station_status text,                  -- JSON: OCPP 1.6 connector 0
            closed boolean NOT NULL,
            -- derived at save time, for the station list
            connected boolean NOT NULL,
            last_seen timestamptz,
            status text,
            status_rank integer,                  -- index in USABILITY_ORDER
            operational_status text NOT NULL,
            name_key bytea NOT NULL,              -- the name in UTF-8: code point order
            search bytea NOT NULL                 -- the searched fields, case-folded, in UTF-8
        )
        """,
        "CREATE INDEX stations_by_name ON stations (name_key, id)",
        "CREATE INDEX stations_by_status ON stations (status_rank, id)"
        " WHERE status_rank IS NOT NULL",
        "CREATE INDEX stations_by_operational_status ON stations (operational_status)",
        "CREATE INDEX stations_by_area ON stations (area_id) WHERE area_id IS NOT NULL",
        "CREATE INDEX stations_by_connected ON stations (connected)",
        "CREATE INDEX stations_by_activation ON stations (activation)",
        "CREATE INDEX stations_by_last_seen ON stations (last_seen, id)"
        " WHERE last_seen IS NOT NULL",
        """
        CREATE TABLE connector_specs (
            station_id text COLLATE "C" NOT NULL REFERENCES stations (id)
                ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
            position integer NOT NULL,
            standard text NOT NULL,
            format text NOT NULL,
            power_type text NOT NULL,
            voltage integer NOT NULL,
            amperage integer NOT NULL,
            PRIMARY KEY (station_id, position)
        )
        """,
        """
        CREATE TABLE chargers (
            id text COLLATE "C" PRIMARY KEY,
            station_id text COLLATE "C" NOT NULL REFERENCES stations (id)
                ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
            position integer NOT NULL,
            evse_id integer NOT NULL,
            code text COLLATE "C" NOT NULL
                CONSTRAINT charger_code_unique UNIQUE DEFERRABLE INITIALLY IMMEDIATE,
            name text NOT NULL,
            physical_address text,
            reservable boolean NOT NULL,
            roaming boolean NOT NULL,
            current_type text NOT NULL,
            charging_profile_id text,
            custom_fields text NOT NULL,          -- JSON object
            closed boolean NOT NULL,
            CONSTRAINT charger_evse_unique UNIQUE (station_id, evse_id)
                DEFERRABLE INITIALLY IMMEDIATE
        )
        """,
        "CREATE INDEX chargers_of_station ON chargers (station_id, position)",
        """
        CREATE TABLE connectors (
            id text COLLATE "C" PRIMARY KEY,
            charger_id text COLLATE "C" NOT NULL REFERENCES chargers (id)
                ON DELETE CASCADE DEFERRABLE INITIALLY IMMEDIATE,
            station_id text COLLATE "C" NOT NULL,
            position integer NOT NULL,
            ocpp_id integer NOT NULL,
            code text NOT NULL,
            name text NOT NULL,
            standard text NOT NULL,
            format text NOT NULL,
            power_type text NOT NULL,
            voltage integer NOT NULL,
            amperage integer NOT NULL,
            wattage_limit bigint,
            power_factor double precision NOT NULL,
            custom_fields text NOT NULL,          -- JSON object
            status text,                          -- JSON status record
            closed boolean NOT NULL
        )
        """,
        "CREATE INDEX connectors_of_charger ON connectors (charger_id, position)",
        "CREATE INDEX connectors_of_station ON connectors (station_id)",
        """
        CREATE TABLE activation_attempts (
            station_id text COLLATE "C" PRIMARY KEY,
            failures integer NOT NULL,
            last_failure_at timestamptz NOT NULL,
            locked_until timestamptz
        )
        """,
        # Charging sessions: no foreign key to stations, a deleted station's sessions are
        # history. first_saved is the order of first save (find_started's tie-break); an
        # upsert keeps it.
        """
        CREATE TABLE transactions (
            station_id text COLLATE "C" NOT NULL,
            transaction_id text COLLATE "C" NOT NULL,
            connector_id integer NOT NULL,
            evse_id integer,
            id_tag text,
            started_at timestamptz,
            meter_start bigint,
            state text NOT NULL,
            reservation_id bigint,
            authorization_status text,
            stopped_at timestamptz,
            meter_stop bigint,
            stop_reason text,
            stop_id_tag text,
            last_meter_wh bigint,
            orphan boolean NOT NULL,
            list_time timestamptz,                -- started_at, else stopped_at
            first_saved bigint GENERATED BY DEFAULT AS IDENTITY,
            PRIMARY KEY (station_id, transaction_id)
        )
        """,
        "CREATE INDEX transactions_newest_first ON transactions"
        " (list_time DESC NULLS LAST, station_id, transaction_id)",
        "CREATE INDEX transactions_of_station ON transactions"
        " (station_id, list_time DESC NULLS LAST, transaction_id)",
        "CREATE INDEX transactions_by_state ON transactions"
        " (state, list_time DESC NULLS LAST, station_id, transaction_id)",
        "CREATE INDEX transactions_by_start ON transactions"
        " (station_id, connector_id, started_at) WHERE NOT orphan",
        """
        CREATE TABLE id_tokens (
            id_token text COLLATE "C" PRIMARY KEY,
            type text NOT NULL,
            status text NOT NULL,
            expiry_date timestamptz,
            group_id text
        )
        """,
        """
        CREATE TABLE meter_values (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- the order of add()
            station_id text COLLATE "C" NOT NULL,
            connector_id integer NOT NULL,
            transaction_id text COLLATE "C",      -- NULL: outside any transaction
            samples text NOT NULL                 -- JSON list of the samples of one add()
        )
        """,
        "CREATE INDEX meter_values_of_transaction ON meter_values (station_id, transaction_id, id)",
        """
        CREATE TABLE notifications (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,   -- the order of add()
            station_id text COLLATE "C" NOT NULL,
            action text NOT NULL,
            received_at timestamptz NOT NULL,
            payload text NOT NULL                 -- JSON text, as the station sent it
        )
        """,
        "CREATE INDEX notifications_newest_first ON notifications"
        " (station_id, received_at DESC, id)",
        "CREATE SEQUENCE transaction_ids AS bigint",
    ),
)

_V2: Final = Migration(
    "the transaction list's search column (station id, transaction id and id tag, A-Z folded)",
    (
        "ALTER TABLE transactions ADD COLUMN search bytea NOT NULL DEFAULT ''::bytea",
        # Rows saved before: folded here as _transaction_search() folds them (exact for text
        # without NUL, which version 1 stored escaped and no OCPP id contains).
        """
        CREATE FUNCTION pg_temp.ascii_fold(text) RETURNS bytea LANGUAGE sql IMMUTABLE AS $$
            SELECT convert_to(
                translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
                'UTF8'
            )
        $$
        """,
        """
        UPDATE transactions SET search =
            pg_temp.ascii_fold(station_id) || '\\xff'::bytea || pg_temp.ascii_fold(transaction_id)
            || CASE WHEN id_tag IS NULL THEN ''::bytea
                    ELSE '\\xff'::bytea || pg_temp.ascii_fold(id_tag) END
        """,
        "ALTER TABLE transactions ALTER COLUMN search DROP DEFAULT",
    ),
)

_V3: Final = Migration(
    "OCPP 2.0.1 transaction events and device models",
    (
        # Kept once per (station, transaction, seqNo): the idempotence key and the
        # transaction's history. Like transactions, they outlive their station.
        """
        CREATE TABLE transaction_events (
            station_id text COLLATE "C" NOT NULL,
            transaction_id text COLLATE "C" NOT NULL,
            seq_no bigint NOT NULL,
            event_type text NOT NULL,
            timestamp timestamptz NOT NULL,       -- as the station says
            trigger_reason text NOT NULL,
            offline boolean NOT NULL,
            received_at timestamptz NOT NULL,
            payload text NOT NULL,                -- JSON text, as the station sent it
            PRIMARY KEY (station_id, transaction_id, seq_no)
        )
        """,
        # One row per variable attribute, keyed by the canonical key text (format_key);
        # key_order is that text in UTF-8, whose byte order is code point order.
        """
        CREATE TABLE device_variables (
            station_id text COLLATE "C" NOT NULL,
            key text COLLATE "C" NOT NULL,
            key_order bytea NOT NULL,
            value text,
            mutability text,
            persistent boolean,
            constant boolean,
            data_type text,
            unit text,
            min_limit double precision,
            max_limit double precision,
            values_list text,
            supports_monitoring boolean,
            reported_at timestamptz NOT NULL,
            PRIMARY KEY (station_id, key)
        )
        """,
        "CREATE INDEX device_variables_in_order ON device_variables (station_id, key_order)",
    ),
)

_V4: Final = Migration(
    "charging profiles; connectors' phase wiring, areas' phase voltage",
    (
        # Whole profiles: the periods as a JSON list of {"start_s", "limit",
        # "number_phases"} objects, sorted by start. chargers.charging_profile_id is not a
        # foreign key (version 1 stored any text there); the store refuses to delete an
        # assigned profile instead.
        """
        CREATE TABLE charging_profiles (
            id text COLLATE "C" PRIMARY KEY,
            name text NOT NULL,
            unit text NOT NULL,                   -- "A" or "W"
            recurrence text NOT NULL,             -- "Daily" or "Weekly"
            periods text NOT NULL                 -- JSON list
        )
        """,
        "CREATE INDEX chargers_by_profile ON chargers (charging_profile_id)",
        # Load balancing: the supply phase a single-phase connector is wired to, and an
        # area's phase voltage (rows stored before get the defaults, L1 and 230 V).
        "ALTER TABLE connectors ADD COLUMN phase text NOT NULL DEFAULT 'L1'",
        "ALTER TABLE areas ADD COLUMN phase_voltage integer NOT NULL DEFAULT 230",
    ),
)

MIGRATIONS: Final[tuple[Migration, ...]] = (_V1, _V2, _V3, _V4)
"""Step ``n`` takes the schema from version ``n`` to ``n + 1``. Append; never edit a step
that was released. A step's statements run in one transaction, which also records it."""

SCHEMA_VERSION: Final = len(MIGRATIONS)
"""The schema version this code writes (the highest ``schema_migrations.version``)."""

_TABLES: Final = (
    "areas", "stations", "connector_specs", "chargers", "connectors", "activation_attempts",
    "transactions", "id_tokens", "meter_values", "notifications", "transaction_events",
    "device_variables", "charging_profiles",
)  # fmt: skip
"""Every table of the schema but ``schema_migrations`` (tests empty them)."""

_CREATE_MIGRATIONS_TABLE: Final = """
    CREATE TABLE schema_migrations (
        version integer PRIMARY KEY,
        description text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""


async def _migrate(conn: AsyncConnection[Any], shown: str) -> None:
    """Bring the schema to :data:`SCHEMA_VERSION`, each step in its own transaction, under
    the advisory lock (concurrent openings wait, then find nothing left to do)."""
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        row = await (
            await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
        ).fetchone()
        version = 0
        if row is not None and row[0]:
            found = await (
                await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            ).fetchone()
            version = 0 if found is None else int(found[0])
        else:
            await _check_no_foreign_tables(conn, shown)
        if version > SCHEMA_VERSION:
            raise StorageError(
                f"{shown}: the schema is version {version}, newer than this evcharge_core"
                f" knows ({SCHEMA_VERSION}); upgrade evcharge_core to open it"
            )
        for number, step in enumerate(MIGRATIONS[version:], start=version + 1):
            async with conn.transaction():
                if number == 1:
                    await conn.execute(_CREATE_MIGRATIONS_TABLE)
                for statement in step.statements:
                    await conn.execute(statement)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, description) VALUES (%s, %s)",
                    (number, step.description),
                )
    finally:
        if not conn.closed:
            with contextlib.suppress(psycopg.Error):
                await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))


async def _check_no_foreign_tables(conn: AsyncConnection[Any], shown: str) -> None:
    """A database without ``schema_migrations`` must not hold tables of our names."""
    cursor = await conn.execute(
        "SELECT name FROM unnest(%s::text[]) AS name WHERE to_regclass(name) IS NOT NULL",
        (builtins.list(_TABLES),),
    )
    taken = [row[0] for row in await cursor.fetchall()]
    if taken:
        raise StorageError(
            f"{shown}: the database already has tables named {', '.join(taken)} that evcharge"
            " did not create; give evcharge a database (or a schema, with"
            " ?options=-csearch_path%3Dname) of its own"
        )


# --- rows ------------------------------------------------------------------------------------

_STATION_COLUMN_NAMES: Final = (
    "id", "name", "code", "visible", "physical_address", "protocol", "area_id",
    "boot_configuration", "security_profile", "password_hash", "registration_status",
    "security_code_hash", "manufacturer", "article_number", "serial_number", "connectivity",
    "activation", "activated_at", "reported", "connection", "station_status", "closed",
    # derived
    "connected", "last_seen", "status", "status_rank", "operational_status", "name_key",
    "search",
)  # fmt: skip
_SPEC_COLUMN_NAMES: Final = (
    "station_id", "position", "standard", "format", "power_type", "voltage", "amperage",
)  # fmt: skip
_CHARGER_COLUMN_NAMES: Final = (
    "id", "station_id", "position", "evse_id", "code", "name", "physical_address", "reservable",
    "roaming", "current_type", "charging_profile_id", "custom_fields", "closed",
)  # fmt: skip
_CONNECTOR_COLUMN_NAMES: Final = (
    "id", "charger_id", "station_id", "position", "ocpp_id", "code", "name", "standard",
    "format", "power_type", "voltage", "amperage", "wattage_limit", "power_factor",
    "custom_fields", "status", "closed", "phase",
)  # fmt: skip
_CONNECTOR_CHARGER_AT: Final = _CONNECTOR_COLUMN_NAMES.index("charger_id")
_STATION_CODE_AT: Final = _STATION_COLUMN_NAMES.index("code")
_CHARGER_KEYS_AT: Final = tuple(
    _CHARGER_COLUMN_NAMES.index(name) for name in ("station_id", "evse_id", "code")
)
_CONNECTOR_KEYS_AT: Final = (_CONNECTOR_CHARGER_AT,)
"""Columns of unique or foreign keys, besides the primary key."""


def _insert_sql(table: str, names: Sequence[str]) -> str:
    marks = ", ".join(["%s"] * len(names))
    return f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})"  # noqa: S608 - constant names


def _update_sql(table: str, names: Sequence[str], keys: int) -> str:
    """An UPDATE of every column but the first ``keys``, which identify the row (the row
    tuple's own order: parameters are the row's values after the key, then the key)."""
    assignments = ", ".join(f"{name} = %s" for name in names[keys:])
    where = " AND ".join(f"{name} = %s" for name in names[:keys])
    return f"UPDATE {table} SET {assignments} WHERE {where}"  # noqa: S608 - constant names


def _update_params(row: _Row, keys: int) -> _Row:
    return row[keys:] + row[:keys]


_INSERT_STATION: Final = _insert_sql("stations", _STATION_COLUMN_NAMES)
_UPDATE_STATION: Final = _update_sql("stations", _STATION_COLUMN_NAMES, 1)
_INSERT_SPEC: Final = _insert_sql("connector_specs", _SPEC_COLUMN_NAMES)
_UPDATE_SPEC: Final = _update_sql("connector_specs", _SPEC_COLUMN_NAMES, 2)
_INSERT_CHARGER: Final = _insert_sql("chargers", _CHARGER_COLUMN_NAMES)
_UPDATE_CHARGER: Final = _update_sql("chargers", _CHARGER_COLUMN_NAMES, 1)
_INSERT_CONNECTOR: Final = _insert_sql("connectors", _CONNECTOR_COLUMN_NAMES)
_UPDATE_CONNECTOR: Final = _update_sql("connectors", _CONNECTOR_COLUMN_NAMES, 1)
_SELECT_STATIONS: Final = (
    f"SELECT {', '.join(_STATION_COLUMN_NAMES)} FROM stations WHERE id = ANY(%s::text[])"  # noqa: S608
)
_SELECT_SPECS: Final = (
    f"SELECT {', '.join(_SPEC_COLUMN_NAMES)} FROM connector_specs"  # noqa: S608
    " WHERE station_id = ANY(%s::text[]) ORDER BY station_id, position"
)
_SELECT_CHARGERS: Final = (
    f"SELECT {', '.join(_CHARGER_COLUMN_NAMES)} FROM chargers"  # noqa: S608
    " WHERE station_id = ANY(%s::text[]) ORDER BY station_id, position"
)
_SELECT_CONNECTORS: Final = (
    f"SELECT {', '.join(_CONNECTOR_COLUMN_NAMES)} FROM connectors"  # noqa: S608
    " WHERE station_id = ANY(%s::text[]) ORDER BY charger_id, position"
)


def _search_key(s: Station) -> bytes:
    """The searched fields, folded, in UTF-8, joined by ``\\xff`` (never part of UTF-8 text,
    so a searched needle never matches across two fields)."""
    fields = (
        s.id,
        s.name,
        s.code,
        s.manufacturer,
        s.serial_number,
        s.reported.serial_number,
    )
    return b"\xff".join(search_fold(f).encode() for f in fields if f is not None)


def _station_row(s: Station) -> _Row:
    status = station_status(s)
    connection = s.connection
    return (
        s.id,
        _put(s.name),
        s.code,
        s.visible,
        s.physical_address,
        None if s.protocol is None else str(s.protocol),
        _put_optional(s.area_id),
        _dump_default(s.boot_configuration, _DEFAULT_BOOT),
        s.security_profile,
        s.password_hash,
        str(s.registration_status),
        s.security_code_hash,
        _put_optional(s.manufacturer),
        _put_optional(s.article_number),
        _put_optional(s.serial_number),
        _dump_optional(s.connectivity),
        str(s.activation.state),
        s.activation.activated_at,
        _dump_default(s.reported, _DEFAULT_REPORTED),
        _dump_default(connection, _DEFAULT_CONNECTION),
        _dump_optional(s.station_status),
        s.closed,
        # derived
        connection.connected,
        connection.last_seen,
        None if status is None else str(status),
        None if status is None else _STATUS_RANK[status],
        str(station_operational_status(s)),
        s.name.encode(),
        _search_key(s),
    )


def _spec_rows(s: Station) -> Iterable[_Row]:
    for position, spec in enumerate(s.connector_specifications):
        yield (s.id, position, str(spec.standard), str(spec.format), str(spec.power_type),
               spec.voltage, spec.amperage)  # fmt: skip


def _charger_rows(s: Station) -> Iterable[_Row]:
    for position, c in enumerate(s.chargers):
        yield (_put(c.id), s.id, position, c.evse_id, c.code, _put(c.name), c.physical_address,
               c.reservable, c.roaming, str(c.current_type), _put_optional(c.charging_profile_id),
               _dump_fields(c.custom_fields), c.closed)  # fmt: skip


def _connector_rows(s: Station) -> Iterable[_Row]:
    for c in s.chargers:
        charger_id = _put(c.id)
        for position, k in enumerate(c.connectors):
            yield (_put(k.id), charger_id, s.id, position, k.ocpp_id, k.code, _put(k.name),
                   str(k.standard), str(k.format), str(k.power_type), k.voltage, k.amperage,
                   k.wattage_limit, float(k.power_factor), _dump_fields(k.custom_fields),
                   _dump_optional(k.status), k.closed, k.phase.value)  # fmt: skip


def _station_from_row(
    row: _Row, specs: builtins.list[ConnectorSpec], chargers: builtins.list[Charger]
) -> Station:
    (id_, name, code, visible, physical_address, protocol, area_id, boot, security_profile,
     password_hash, registration_status, security_code_hash, manufacturer, article_number,
     serial_number, connectivity, activation, activated_at, reported, connection,
     status_record, closed) = row[:22]  # fmt: skip
    return Station(
        id=id_,
        name=_get(name),
        code=code,
        visible=visible,
        physical_address=physical_address,
        protocol=None if protocol is None else Protocol(protocol),
        area_id=_get_optional(area_id),
        boot_configuration=_load_or(boot, _DEFAULT_BOOT),
        security_profile=security_profile,
        password_hash=password_hash,
        registration_status=RegistrationStatus(registration_status),
        security_code_hash=security_code_hash,
        manufacturer=_get_optional(manufacturer),
        article_number=_get_optional(article_number),
        serial_number=_get_optional(serial_number),
        connectivity=_load_optional(connectivity, Connectivity),
        connector_specifications=tuple(specs),
        activation=Activation(ActivationState(activation), activated_at),
        reported=_load_or(reported, _DEFAULT_REPORTED),
        connection=_load_or(connection, _DEFAULT_CONNECTION),
        station_status=_load_optional(status_record, StatusRecord),
        closed=closed,
        chargers=tuple(chargers),
    )


def _spec_from_row(row: _Row) -> ConnectorSpec:
    return ConnectorSpec(
        standard=ConnectorStandard(row[2]),
        format=ConnectorFormat(row[3]),
        power_type=PowerType(row[4]),
        voltage=row[5],
        amperage=row[6],
    )


def _connector_from_row(row: _Row) -> Connector:
    return Connector(
        id=_get(row[0]),
        ocpp_id=row[4],
        code=row[5],
        name=_get(row[6]),
        standard=ConnectorStandard(row[7]),
        format=ConnectorFormat(row[8]),
        power_type=PowerType(row[9]),
        voltage=row[10],
        amperage=row[11],
        wattage_limit=row[12],
        power_factor=row[13],
        custom_fields=_load_fields(row[14]),
        status=_load_optional(row[15], StatusRecord),
        closed=row[16],
        phase=PhaseWiring(row[17]),
    )


def _charger_from_row(row: _Row, connectors: builtins.list[Connector]) -> Charger:
    return Charger(
        id=_get(row[0]),
        evse_id=row[3],
        code=row[4],
        name=_get(row[5]),
        physical_address=row[6],
        reservable=row[7],
        roaming=row[8],
        current_type=CurrentType(row[9]),
        charging_profile_id=_get_optional(row[10]),
        custom_fields=_load_fields(row[11]),
        connectors=tuple(connectors),
        closed=row[12],
    )


_AREA_COLUMNS: Final = (
    "id, name, latitude, longitude, address, output_limit_a, output_limit_w, private_group,"
    " time_zone, phase_voltage"
)


def _area_row(area: Area) -> _Row:
    return (
        _put(area.id),
        _put(area.name),
        area.latitude,
        area.longitude,
        _put_optional(area.address),
        area.output_limit_a,
        area.output_limit_w,
        json.dumps(sorted(area.private_group), ensure_ascii=False),
        _put(area.time_zone),
        area.phase_voltage,
    )


def _area_from_row(row: _Row) -> Area:
    return Area(
        id=_get(row[0]),
        name=_get(row[1]),
        latitude=row[2],
        longitude=row[3],
        address=_get_optional(row[4]),
        output_limit_a=row[5],
        output_limit_w=row[6],
        private_group=frozenset(json.loads(row[7])),
        time_zone=_get(row[8]),
        phase_voltage=row[9],
    )


_TRANSACTION_COLUMN_NAMES: Final = (
    "station_id", "transaction_id", "connector_id", "evse_id", "id_tag", "started_at",
    "meter_start", "state", "reservation_id", "authorization_status", "stopped_at",
    "meter_stop", "stop_reason", "stop_id_tag", "last_meter_wh", "orphan", "list_time",
    "search",
)  # fmt: skip
_TRANSACTION_COLUMNS: Final = ", ".join(_TRANSACTION_COLUMN_NAMES[:-1])
"""What is read back (``search`` is only looked in)."""
_SAVE_TRANSACTION: Final = (
    _insert_sql("transactions", _TRANSACTION_COLUMN_NAMES)
    + " ON CONFLICT (station_id, transaction_id) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _TRANSACTION_COLUMN_NAMES[2:])
)
"""An upsert: a saved session keeps its row (and ``first_saved``)."""
_SELECT_TRANSACTIONS: Final = f"SELECT {_TRANSACTION_COLUMNS} FROM transactions"  # noqa: S608
_TRANSACTION_ORDER: Final = "list_time DESC NULLS LAST, station_id, transaction_id"
"""Newest first by start (orphans by stop), then station and id by code point: the
reference model's :func:`~evcharge_core.adapters.memory.transaction_sort_key`."""
_FIND_STARTED: Final = (
    f"{_SELECT_TRANSACTIONS} WHERE station_id = %s AND NOT orphan AND connector_id = %s"
    " AND id_tag IS NOT DISTINCT FROM %s::text"
    " AND started_at IS NOT DISTINCT FROM %s::timestamptz"
    " AND meter_start IS NOT DISTINCT FROM %s::bigint ORDER BY first_saved LIMIT 1"
)


def _transaction_row(t: ChargingTransaction) -> _Row:
    return (
        _put(t.station_id),
        _put(t.transaction_id),
        t.connector_id,
        t.evse_id,
        _put_optional(t.id_tag),
        t.started_at,
        t.meter_start,
        str(t.state),
        t.reservation_id,
        None if t.authorization is None else str(t.authorization),
        t.stopped_at,
        t.meter_stop,
        _put_optional(t.stop_reason),
        _put_optional(t.stop_id_tag),
        t.last_meter_wh,
        t.orphan,
        t.started_at or t.stopped_at,
        _transaction_search(t),
    )


def _transaction_search(t: ChargingTransaction) -> bytes:
    """What the transaction list's ``search`` looks in: the station id, the transaction id
    and the id tag, :func:`~evcharge_core.ports.ascii_fold`-ed, in UTF-8, joined by ``\xff``
    (a byte no UTF-8 text contains, so no match spans two fields; and UTF-8 being
    self-synchronising, a byte match is a character match)."""
    fields = [t.station_id, t.transaction_id] + ([] if t.id_tag is None else [t.id_tag])
    return b"\xff".join(ascii_fold(f).encode("utf-8", "surrogatepass") for f in fields)


def _transaction_from_row(row: _Row) -> ChargingTransaction:
    authorization = row[9]
    return ChargingTransaction(
        station_id=_get(row[0]),
        transaction_id=_get(row[1]),
        connector_id=row[2],
        evse_id=row[3],
        id_tag=_get_optional(row[4]),
        started_at=row[5],
        meter_start=row[6],
        state=TransactionState(row[7]),
        reservation_id=row[8],
        authorization=None if authorization is None else AuthorizationStatus(authorization),
        stopped_at=row[10],
        meter_stop=row[11],
        stop_reason=_get_optional(row[12]),
        stop_id_tag=_get_optional(row[13]),
        last_meter_wh=row[14],
        orphan=row[15],
    )


def _id_token_from_row(row: _Row) -> IdToken:
    return IdToken(
        id_token=_get(row[0]),
        type=_get(row[1]),
        status=AuthorizationStatus(row[2]),
        expiry_date=row[3],
        group_id=_get_optional(row[4]),
    )


# --- queries ---------------------------------------------------------------------------------

_ORDER_BY: Final[dict[tuple[SortKey, bool], str]] = {
    (SortKey.ID, False): "id ASC",
    (SortKey.ID, True): "id DESC",
    (SortKey.NAME, False): "name_key ASC, id ASC",
    (SortKey.NAME, True): "name_key DESC, id ASC",
    (SortKey.CODE, False): "code ASC, id ASC",
    (SortKey.CODE, True): "code DESC, id ASC",
    (SortKey.STATUS, False): "status_rank ASC NULLS LAST, id ASC",
    (SortKey.STATUS, True): "status_rank DESC NULLS LAST, id ASC",
    (SortKey.LAST_SEEN, False): "last_seen ASC NULLS LAST, id ASC",
    (SortKey.LAST_SEEN, True): "last_seen DESC NULLS LAST, id ASC",
}
"""The ``ORDER BY`` clause for each sort key and direction (the rules are in
:mod:`evcharge_core.adapters.memory`): the only SQL chosen at run time, from this table."""

_OWNERS: Final = (
    "SELECT %s::text, code, id FROM stations WHERE code = ANY(%s::text[])"
    " UNION ALL SELECT %s::text, code, station_id FROM chargers WHERE code = ANY(%s::text[])"
    " UNION ALL SELECT %s::text, id, station_id FROM chargers WHERE id = ANY(%s::text[])"
    " UNION ALL SELECT %s::text, id, station_id FROM connectors WHERE id = ANY(%s::text[])"
)
"""Who holds which of some unique keys of :func:`~evcharge_core.adapters.memory.station_keys`:
rows of (kind, stored key, station id)."""

_BY_KEY: Final = {
    STATION_CODE: "SELECT id FROM stations WHERE code = %s",
    CHARGER_CODE: "SELECT station_id FROM chargers WHERE code = %s",
    CHARGER_ID: "SELECT station_id FROM chargers WHERE id = %s",
    CONNECTOR_ID: "SELECT station_id FROM connectors WHERE id = %s",
}
_ESCAPED_KEYS: Final = frozenset({CHARGER_ID, CONNECTOR_ID})
"""The keys stored through :func:`_put` (station and charger codes are validated codes)."""


def _where(query: StationQuery) -> tuple[str, builtins.list[object]]:
    clauses: builtins.list[str] = []
    params: builtins.list[object] = []
    if query.search is not None:
        clauses.append("position(%s::bytea in search) > 0")
        params.append(search_fold(query.search).encode())
    if query.status is not None:
        clauses.append("status_rank = %s")
        params.append(_STATUS_RANK[query.status])
    if query.operational_status is not None:
        clauses.append("operational_status = %s")
        params.append(str(query.operational_status))
    if query.area_id is not None:
        clauses.append("area_id = %s")
        params.append(_put(query.area_id))
    if query.connected is not None:
        clauses.append("connected = %s")
        params.append(query.connected)
    if query.activation is not None:
        clauses.append("activation = %s")
        params.append(str(query.activation))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def _transaction_where(query: TransactionQuery) -> tuple[str, builtins.list[object]]:
    clauses: builtins.list[str] = []
    params: builtins.list[object] = []
    if query.station_id is not None:
        clauses.append("station_id = %s")
        params.append(_put(query.station_id))
    if query.state is not None:
        clauses.append("state = %s")
        params.append(str(query.state))
    if query.area_id is not None:
        clauses.append("station_id IN (SELECT id FROM stations WHERE area_id = %s)")
        params.append(_put(query.area_id))
    if query.since is not None:
        clauses.append("list_time >= %s")
        params.append(query.since)
    if query.until is not None:
        clauses.append("list_time < %s")
        params.append(query.until)
    if query.search is not None:
        clauses.append("position(%s::bytea in search) > 0")
        params.append(ascii_fold(query.search).encode("utf-8", "surrogatepass"))
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


_ENERGY: Final = "(coalesce(meter_stop, last_meter_wh) - meter_start)"
""":attr:`~evcharge_core.domain.transactions.Transaction.energy_wh` (NULL without a start
reading or any later one)."""

_TRANSACTION_ORDER_BY: Final[dict[tuple[TransactionSortKey, bool], str]] = {
    (TransactionSortKey.STARTED_AT, True): _TRANSACTION_ORDER,
    (TransactionSortKey.STARTED_AT, False): (
        "list_time ASC NULLS LAST, station_id, transaction_id"
    ),
    (TransactionSortKey.ENERGY, True): f"{_ENERGY} DESC NULLS LAST, station_id, transaction_id",
    (TransactionSortKey.ENERGY, False): f"{_ENERGY} ASC NULLS LAST, station_id, transaction_id",
    (TransactionSortKey.STATION, True): "station_id DESC, transaction_id",
    (TransactionSortKey.STATION, False): "station_id, transaction_id",
}
"""The ``ORDER BY`` clause of the transaction list for each sort key and direction (see
:class:`~evcharge_core.ports.TransactionQuery`: missing values last, ties ascending)."""


# --- statements ------------------------------------------------------------------------------


@attrs.frozen
class _Op:
    """One statement of a step: ``rows`` fetches its rows, ``many`` runs it once
    per parameter tuple."""

    sql: str
    params: Any = None
    rows: bool = False
    many: bool = False


_STATEMENTS_PER_QUERY: Final = 500
"""Statements sent in one query string at most (a large import is several round trips)."""
_BEGIN: Final = _Op("BEGIN ISOLATION LEVEL REPEATABLE READ")
_SAVEPOINT_WORK: Final = _Op("SAVEPOINT work")
_RELEASE_WORK: Final = _Op("RELEASE SAVEPOINT work")


def _error(shown: str, doing: str, exc: BaseException) -> StorageError:
    if isinstance(exc, psycopg.errors.SerializationFailure):
        detail = (
            "another process changed the same rows at the same time (serialization failure);"
            " the unit of work was rolled back and may be run again"
        )
    elif isinstance(exc, PoolTimeout):
        detail = f"no connection to the database could be had ({exc})"
    else:
        # libpq's messages may span lines (a hint on the second): one line, for logs.
        detail = " ".join(part.strip() for part in str(exc).splitlines() if part.strip())
        detail = detail or type(exc).__name__
    return StorageError(f"{shown}: cannot {doing}: {detail}")


class _PgTransaction:
    """One unit of work: the stores over the batch's connection, valid until it ends."""

    def __init__(self, repository: PostgresRepository, batch: _Batch) -> None:
        self._repository = repository
        self.batch = batch
        self.shown = repository.shown
        self._open = True
        self.savepoint_pending = True
        """Whether this unit's savepoint is still to be taken (with its first statement: a
        unit that runs none costs no round trip)."""
        self._stations = _PgStationStore(self)
        self._areas = _PgAreaStore(self)
        self._profiles = _PgChargingProfileStore(self)
        self._attempts = _PgActivationAttemptStore(self)
        self._transactions = _PgTransactionStore(self)
        self._id_tokens = _PgIdTokenStore(self)
        self._meter_values = _PgMeterValueStore(self)
        self._notifications = _PgNotificationStore(self)
        self._transaction_events = _PgTransactionEventStore(self)
        self._device_model = _PgDeviceModelStore(self)

    @property
    def stations(self) -> _PgStationStore:
        return self._stations

    @property
    def areas(self) -> _PgAreaStore:
        return self._areas

    @property
    def activation_attempts(self) -> _PgActivationAttemptStore:
        return self._attempts

    @property
    def charging_profiles(self) -> _PgChargingProfileStore:
        return self._profiles

    @property
    def transactions(self) -> _PgTransactionStore:
        return self._transactions

    @property
    def id_tokens(self) -> _PgIdTokenStore:
        return self._id_tokens

    @property
    def meter_values(self) -> _PgMeterValueStore:
        return self._meter_values

    @property
    def notifications(self) -> _PgNotificationStore:
        return self._notifications

    @property
    def transaction_events(self) -> _PgTransactionEventStore:
        return self._transaction_events

    @property
    def device_model(self) -> _PgDeviceModelStore:
        return self._device_model

    def conn(self) -> AsyncConnection[Any]:
        if not self._open:
            raise RuntimeError("this transaction has ended; start a new one")
        return self.batch.conn

    def end(self) -> None:
        self._open = False

    def _prefix(self) -> builtins.list[_Op]:
        """What must run before this unit's first statement, sent in the same round trip:
        the batch's ``BEGIN`` if it is the batch's first, the release of the previous unit's
        savepoint, and this unit's own ``SAVEPOINT``."""
        batch = self.batch
        prefix = []
        if not batch.begun:
            prefix.append(_BEGIN)
            batch.begun = True
        if batch.pending_release:
            prefix.append(_RELEASE_WORK)
            batch.pending_release = False
        if self.savepoint_pending:
            prefix.append(_SAVEPOINT_WORK)
            self.savepoint_pending = False
        return prefix

    async def run(self, doing: str, ops: Sequence[_Op]) -> builtins.list[Any]:
        """Run ``ops`` in one round trip; for each, its rows (``rows``) or its row count
        (summed over the rows of a ``many``). Database errors become StorageError, except
        unique violations, which the caller turns into Conflict.

        The statements are sent as one query string with the parameters bound on the client
        (:class:`psycopg.AsyncClientCursor`): one write and one wait for the whole step,
        where pipeline mode waits on the event loop once per statement, which costs more
        CPU than the server's parsing that binding on the server would save."""
        self.conn()
        for _ in range(self._repository.max_connections + 1):
            prefix = self._prefix()
            try:
                return (await self._send(doing, [*prefix, *ops]))[len(prefix) :]
            except StorageError:
                if prefix[:1] != [_BEGIN] or not (self.batch.conn.broken or self.batch.conn.closed):
                    raise
            # The batch's first statement found its pooled connection dead (the server
            # restarted, an administrator ended it): nothing was done on it yet, so the step
            # runs again on another connection.
            self.batch.begun, self.savepoint_pending = False, True
            await self._repository._reconnect(self.batch)
        raise StorageError(f"{self.shown}: cannot {doing}: every pooled connection was broken")

    async def _send(self, doing: str, ops: builtins.list[_Op]) -> builtins.list[Any]:
        conn = self.conn()
        statements = [
            (index, op.sql, params)
            for index, op in enumerate(ops)
            for params in (op.params if op.many else [op.params])
        ]
        results: builtins.list[Any] = [[] if op.rows else 0 for op in ops]
        cursor = psycopg.AsyncClientCursor(conn)
        try:
            for start in range(0, len(statements), _STATEMENTS_PER_QUERY):
                chunk = statements[start : start + _STATEMENTS_PER_QUERY]
                query = "; ".join(sql for _, sql, _ in chunk)
                params = [value for _, _, values in chunk if values for value in values]
                await cursor.execute(query, params or None)
                for position, (index, _, _) in enumerate(chunk):
                    if position:
                        cursor.nextset()
                    if ops[index].rows:
                        results[index] = await cursor.fetchall()
                    else:
                        results[index] += max(cursor.rowcount, 0)
        except psycopg.errors.UniqueViolation:
            raise
        except (psycopg.Error, PoolTimeout) as exc:
            raise _error(self.shown, doing, exc) from exc
        return results

    async def rows(self, doing: str, sql: str, params: Any = None) -> builtins.list[_Row]:
        rows: builtins.list[_Row] = (await self.run(doing, [_Op(sql, params, rows=True)]))[0]
        return rows

    async def count(self, doing: str, sql: str, params: Any = None) -> int:
        count: int = (await self.run(doing, [_Op(sql, params)]))[0]
        return count


class _Stored:
    """The rows of one station as they are in the database: its ``stations`` row, its specs
    by position, its chargers and connectors by (stored) id."""

    __slots__ = ("chargers", "connectors", "row", "specs")

    def __init__(self, row: _Row) -> None:
        self.row = row
        self.specs: dict[int, _Row] = {}
        self.chargers: dict[str, _Row] = {}
        self.connectors: dict[str, _Row] = {}


def _stored_of(s: Station) -> _Stored:
    stored = _Stored(_station_row(s))
    stored.specs = {row[1]: row for row in _spec_rows(s)}
    stored.chargers = {row[0]: row for row in _charger_rows(s)}
    stored.connectors = {row[0]: row for row in _connector_rows(s)}
    return stored


class _PgStationStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx
        self._known: dict[str, _Stored | None] = {}
        """What this unit knows is stored, by station id (``None``: no such station), from
        its own reads and writes: a save writes only the rows that differ from it. A save
        that fails forgets its stations."""

    # reading

    async def _fetch(self, station_ids: Sequence[str]) -> dict[str, Station]:
        """Read and decode the stations that exist (remembering their rows)."""
        ids = builtins.list(dict.fromkeys(station_ids))
        station_rows, spec_rows, charger_rows, connector_rows = await self._tx.run(
            "read stations",
            [
                _Op(_SELECT_STATIONS, (ids,), rows=True),
                _Op(_SELECT_SPECS, (ids,), rows=True),
                _Op(_SELECT_CHARGERS, (ids,), rows=True),
                _Op(_SELECT_CONNECTORS, (ids,), rows=True),
            ],
        )
        known = self._known
        known.update(dict.fromkeys(ids))
        if not station_rows:
            return {}
        found = {row[0]: _Stored(row) for row in station_rows}
        specs: dict[str, builtins.list[ConnectorSpec]] = {}
        for row in spec_rows:
            found[row[0]].specs[row[1]] = row
            specs.setdefault(row[0], []).append(_spec_from_row(row))
        connectors: dict[str, builtins.list[Connector]] = {}
        for row in connector_rows:
            found[row[2]].connectors[row[0]] = row
            connectors.setdefault(row[_CONNECTOR_CHARGER_AT], []).append(_connector_from_row(row))
        chargers: dict[str, builtins.list[Charger]] = {}
        for row in charger_rows:
            found[row[1]].chargers[row[0]] = row
            chargers.setdefault(row[1], []).append(
                _charger_from_row(row, connectors.get(row[0], []))
            )
        known.update(found)
        return {
            row[0]: _station_from_row(row, specs.get(row[0], []), chargers.get(row[0], []))
            for row in station_rows
        }

    async def _stored(self, station_ids: Sequence[str]) -> dict[str, _Stored]:
        unknown = [i for i in station_ids if i not in self._known]
        if unknown:
            await self._fetch(unknown)
        return {i: stored for i in station_ids if (stored := self._known[i]) is not None}

    async def get(self, station_id: str) -> Station | None:
        return (await self._fetch([station_id])).get(station_id)

    async def get_many(self, station_ids: Sequence[str]) -> dict[str, Station]:
        if not station_ids:
            return {}
        found = await self._fetch(station_ids)
        return {i: found[i] for i in station_ids if i in found}

    async def _by_key(self, kind: str, key: str) -> Station | None:
        value = _put(key) if kind in _ESCAPED_KEYS else key
        rows = await self._tx.rows("read stations", _BY_KEY[kind], (value,))
        return None if not rows else await self.get(rows[0][0])

    async def get_by_code(self, code: str) -> Station | None:
        return await self._by_key(STATION_CODE, code)

    async def get_by_charger_id(self, charger_id: str) -> Station | None:
        return await self._by_key(CHARGER_ID, charger_id)

    async def get_by_charger_code(self, code: str) -> Station | None:
        return await self._by_key(CHARGER_CODE, code)

    async def get_by_connector_id(self, connector_id: str) -> Station | None:
        return await self._by_key(CONNECTOR_ID, connector_id)

    async def list(self, query: StationQuery) -> Page[Station]:
        where, params = _where(query)
        order = _ORDER_BY[query.sort, query.descending]
        # Only constant fragments: the clauses of _where() and an _ORDER_BY entry.
        count_sql = f"SELECT count(*) FROM stations{where}"  # noqa: S608
        page_sql = f"SELECT id FROM stations{where} ORDER BY {order} LIMIT %s OFFSET %s"  # noqa: S608
        counted, page_rows = await self._tx.run(
            "list stations",
            [
                _Op(count_sql, params, rows=True),
                _Op(page_sql, [*params, query.page_size, (query.page - 1) * query.page_size],
                    rows=True),
            ],
        )  # fmt: skip
        ids = [row[0] for row in page_rows]
        found = await self._fetch(ids) if ids else {}
        return Page(
            items=tuple(found[i] for i in ids),
            page=query.page,
            page_size=query.page_size,
            total=counted[0][0],
        )

    # writing

    async def save(self, station: Station) -> None:
        await self.save_many([station])

    async def save_many(self, stations: Sequence[Station]) -> None:
        """Insert new stations; of stored ones, write only the rows that differ (see
        :func:`_write_ops`), all in one round trip, in a savepoint of their own."""
        batch = dedupe(stations)
        if not batch:
            return
        stored = await self._stored([s.id for s in batch])
        now = {s.id: _stored_of(s) for s in batch}
        ops = _write_ops(batch, stored, now)
        try:
            if ops is None:  # a charger or connector id given twice
                raise psycopg.errors.UniqueViolation("an id is used twice in the batch")
            await self._tx.run("save stations", ops)
        except psycopg.errors.UniqueViolation as exc:
            for s in batch:
                self._known.pop(s.id, None)
            raise await self._conflict(batch, exc, rolled_back=ops is None) from exc
        except Exception:
            for s in batch:
                self._known.pop(s.id, None)
            if ops and ops[0] is _SAVEPOINT_SAVE:  # else the unit is unusable: it must raise
                with contextlib.suppress(psycopg.Error, RuntimeError):
                    await self._tx.conn().execute(_UNDO_SAVE)
            raise
        except BaseException:  # cancelled: the unit's rollback cleans up
            for s in batch:
                self._known.pop(s.id, None)
            raise
        self._known.update(now)

    async def _conflict(
        self, batch: Sequence[Station], exc: psycopg.Error, *, rolled_back: bool
    ) -> Exception:
        """Undo the save and name what collided, looking at the database as it was before."""
        tx = self._tx
        conn = tx.conn()
        try:
            if not rolled_back:
                await conn.execute(_UNDO_SAVE)
            keys: dict[str, builtins.list[str]] = {}
            for station in batch:
                for kind, value in station_keys(station):
                    keys.setdefault(kind, []).append(
                        _put(value) if kind in _ESCAPED_KEYS else value
                    )
            params: builtins.list[object] = []
            for kind in (STATION_CODE, CHARGER_CODE, CHARGER_ID, CONNECTOR_ID):
                params.extend([kind, keys.get(kind, [])])
            rows = await (await conn.execute(_OWNERS, params)).fetchall()
        except psycopg.Error as error:
            return _error(tx.shown, "save stations", error)
        owners = {
            (kind, _get(value) if kind in _ESCAPED_KEYS else value): owner
            for kind, value, owner in rows
        }
        problem = find_conflict(batch, lambda kind, value: owners.get((kind, value)))
        if problem is None:
            return _error(tx.shown, "save stations", exc)
        return Conflict(problem)

    async def delete(self, station_id: str) -> bool:
        self._known.pop(station_id, None)
        deleted = await self._tx.count(
            "delete a station", "DELETE FROM stations WHERE id = %s", (station_id,)
        )
        self._known[station_id] = None
        return deleted > 0


_SAVEPOINT_SAVE: Final = _Op("SAVEPOINT save_stations")
_UNDO_SAVE: Final = (
    "ROLLBACK TO SAVEPOINT save_stations; RELEASE SAVEPOINT save_stations;"
    " SET CONSTRAINTS ALL IMMEDIATE"
)


def _write_ops(
    batch: Sequence[Station], stored: dict[str, _Stored], now: dict[str, _Stored]
) -> builtins.list[_Op] | None:
    """The statements that turn the stored rows of ``batch`` into ``now``'s (``None`` if a
    charger or connector id is given twice, which no statement order could store).

    Rows are keyed by primary key across the whole batch, so a charger or connector that
    moves between stations of the batch is updated, not deleted and inserted. Unique and
    foreign keys are checked at the end (deferred), so the order of the statements matters
    only for primary keys: chargers, connectors and specs that are gone are deleted first
    (connectors of a deleted charger go with it, and are inserted again if they stay)."""
    chargers = sum(len(s.chargers) for s in batch)
    connectors = sum(len(c.connectors) for s in batch for c in s.chargers)
    new_chargers = {key: row for entry in now.values() for key, row in entry.chargers.items()}
    new_connectors = {key: row for entry in now.values() for key, row in entry.connectors.items()}
    if len(new_chargers) < chargers or len(new_connectors) < connectors:
        return None
    old_chargers = {key: row for entry in stored.values() for key, row in entry.chargers.items()}
    old_connectors = {
        key: row for entry in stored.values() for key, row in entry.connectors.items()
    }
    gone_chargers = [key for key in old_chargers if key not in new_chargers]
    if gone_chargers:
        dropped = set(gone_chargers)
        old_connectors = {
            key: row
            for key, row in old_connectors.items()
            if row[_CONNECTOR_CHARGER_AT] not in dropped  # deleted with their charger
        }
    gone_connectors = [key for key in old_connectors if key not in new_connectors]
    spec_cuts = [
        (station_id, len(now[station_id].specs))
        for station_id, entry in stored.items()
        if len(entry.specs) > len(now[station_id].specs)
    ]
    ops = [
        _SAVEPOINT_SAVE,
        _Op("SET CONSTRAINTS ALL DEFERRED"),
        _Op("DELETE FROM chargers WHERE id = ANY(%s::text[])", (gone_chargers,))
        if gone_chargers
        else None,
        _Op("DELETE FROM connectors WHERE id = ANY(%s::text[])", (gone_connectors,))
        if gone_connectors
        else None,
        _write("DELETE FROM connector_specs WHERE station_id = %s AND position >= %s", spec_cuts),
    ]
    moved = False
    station_updates: builtins.list[_Row] = []
    station_inserts: builtins.list[_Row] = []
    spec_updates: builtins.list[_Row] = []
    spec_inserts: builtins.list[_Row] = []
    for s in batch:
        entry, old = now[s.id], stored.get(s.id)
        if old is None:
            station_inserts.append(entry.row)
            spec_inserts.extend(entry.specs.values())
            continue
        if entry.row != old.row:
            station_updates.append(_update_params(entry.row, 1))
            moved = moved or entry.row[_STATION_CODE_AT] != old.row[_STATION_CODE_AT]
        for position, row in entry.specs.items():
            was = old.specs.get(position)
            if was is None:
                spec_inserts.append(row)
            elif was != row:
                spec_updates.append(_update_params(row, 2))
    charger_updates, charger_inserts, chargers_moved = _changes(
        old_chargers, new_chargers, _CHARGER_KEYS_AT
    )
    connector_updates, connector_inserts, connectors_moved = _changes(
        old_connectors, new_connectors, _CONNECTOR_KEYS_AT
    )
    writes = [
        _write(_UPDATE_STATION, station_updates),
        _write(_INSERT_STATION, station_inserts),
        _write(_UPDATE_SPEC, spec_updates),
        _write(_INSERT_SPEC, spec_inserts),
        _write(_UPDATE_CHARGER, charger_updates),
        _write(_INSERT_CHARGER, charger_inserts),
        _write(_UPDATE_CONNECTOR, connector_updates),
        _write(_INSERT_CONNECTOR, connector_inserts),
    ]
    only_updates = not (
        moved
        or chargers_moved
        or connectors_moved
        or gone_chargers
        or gone_connectors
        or spec_cuts
        or station_inserts
        or spec_inserts
        or charger_inserts
        or connector_inserts
    )
    if only_updates:
        # No unique or foreign key column changes and no row comes or goes (a status
        # report, a heartbeat): nothing can collide, so no savepoint is needed.
        return [op for op in writes if op is not None]
    ops += [*writes, _Op("SET CONSTRAINTS ALL IMMEDIATE"), _Op("RELEASE SAVEPOINT save_stations")]
    return [op for op in ops if op is not None]


def _write(sql: str, rows: builtins.list[_Row]) -> _Op | None:
    """One statement for some rows: none, one execution, or one per row."""
    if not rows:
        return None
    return _Op(sql, rows[0]) if len(rows) == 1 else _Op(sql, rows, many=True)


def _changes(
    old: dict[str, _Row], new: dict[str, _Row], keys_at: tuple[int, ...]
) -> tuple[builtins.list[_Row], builtins.list[_Row], bool]:
    """Update parameters of the rows that changed, the rows that are new, and whether a
    changed row changed a column of a unique or foreign key (at ``keys_at``)."""
    updates, inserts = [], []
    moved = False
    for key, row in new.items():
        was = old.get(key)
        if was is None:
            inserts.append(row)
        elif was != row:
            updates.append(_update_params(row, 1))
            moved = moved or any(row[i] != was[i] for i in keys_at)
    return updates, inserts, moved


class _PgAreaStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def get(self, area_id: str) -> Area | None:
        rows = await self._tx.rows(
            "read areas",
            f"SELECT {_AREA_COLUMNS} FROM areas WHERE id = %s",  # noqa: S608
            (_put(area_id),),
        )
        return _area_from_row(rows[0]) if rows else None

    async def save(self, area: Area) -> None:
        await self._tx.run(
            "save an area",
            [
                _Op(
                    f"INSERT INTO areas ({_AREA_COLUMNS}) VALUES"  # noqa: S608
                    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                    " name = excluded.name, latitude = excluded.latitude,"
                    " longitude = excluded.longitude, address = excluded.address,"
                    " output_limit_a = excluded.output_limit_a,"
                    " output_limit_w = excluded.output_limit_w,"
                    " private_group = excluded.private_group, time_zone = excluded.time_zone,"
                    " phase_voltage = excluded.phase_voltage",
                    _area_row(area),
                )
            ],
        )

    async def delete(self, area_id: str) -> bool:
        deleted = await self._tx.count(
            "delete an area", "DELETE FROM areas WHERE id = %s", (_put(area_id),)
        )
        return deleted > 0

    async def list(self) -> builtins.list[Area]:
        """By name then id, compared in Python (names are any text)."""
        rows = await self._tx.rows("read areas", f"SELECT {_AREA_COLUMNS} FROM areas")  # noqa: S608
        return sorted((_area_from_row(row) for row in rows), key=lambda a: (a.name, a.id))


_PROFILE_COLUMNS: Final = "id, name, unit, recurrence, periods"


def _profile_row(profile: ChargingProfile) -> tuple[str, str, str, str, str]:
    periods = [
        {"start_s": p.start_s, "limit": p.limit, "number_phases": p.number_phases}
        for p in profile.periods
    ]
    return (
        _put(profile.id),
        _put(profile.name),
        profile.unit.value,
        profile.recurrence.value,
        json.dumps(periods, separators=(",", ":")),
    )


def _profile_from_row(row: _Row) -> ChargingProfile:
    return ChargingProfile(
        _get(row[0]),
        _get(row[1]),
        RateUnit(row[2]),
        Recurrence(row[3]),
        [ProfilePeriod(p["start_s"], p["limit"], p["number_phases"]) for p in json.loads(row[4])],
    )


class _PgChargingProfileStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def get(self, profile_id: str) -> ChargingProfile | None:
        rows = await self._tx.rows(
            "read charging profiles",
            f"SELECT {_PROFILE_COLUMNS} FROM charging_profiles WHERE id = %s",  # noqa: S608
            (_put(profile_id),),
        )
        return _profile_from_row(rows[0]) if rows else None

    async def save(self, profile: ChargingProfile) -> None:
        await self._tx.run(
            "save a charging profile",
            [
                _Op(
                    f"INSERT INTO charging_profiles ({_PROFILE_COLUMNS})"  # noqa: S608
                    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET"
                    " name = excluded.name, unit = excluded.unit,"
                    " recurrence = excluded.recurrence, periods = excluded.periods",
                    _profile_row(profile),
                )
            ],
        )

    async def delete(self, profile_id: str) -> bool:
        stored = _put(profile_id)
        exists, users = await self._tx.run(
            "delete a charging profile",
            [
                _Op("SELECT 1 FROM charging_profiles WHERE id = %s", (stored,), rows=True),
                _Op(
                    "SELECT station_id, id FROM chargers WHERE charging_profile_id = %s"
                    " ORDER BY station_id, position LIMIT 1",
                    (stored,),
                    rows=True,
                ),
            ],
        )
        if not exists:
            return False
        if users:
            raise Conflict(profile_in_use(profile_id, _get(users[0][0]), _get(users[0][1])))
        await self._tx.count(
            "delete a charging profile", "DELETE FROM charging_profiles WHERE id = %s", (stored,)
        )
        return True

    async def list(self) -> builtins.list[ChargingProfile]:
        """By name then id, compared in Python (names are any text)."""
        rows = await self._tx.rows(
            "read charging profiles",
            f"SELECT {_PROFILE_COLUMNS} FROM charging_profiles",  # noqa: S608
        )
        return sorted((_profile_from_row(row) for row in rows), key=lambda p: (p.name, p.id))


class _PgActivationAttemptStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def get(self, station_id: str) -> ThrottleState | None:
        rows = await self._tx.rows(
            "read activation attempts",
            "SELECT failures, last_failure_at, locked_until FROM activation_attempts"
            " WHERE station_id = %s",
            (_put(station_id),),
        )
        return ThrottleState(*rows[0]) if rows else None

    async def save(self, station_id: str, state: ThrottleState) -> None:
        await self._tx.run(
            "save activation attempts",
            [
                _Op(
                    "INSERT INTO activation_attempts (station_id, failures, last_failure_at,"
                    " locked_until) VALUES (%s, %s, %s, %s) ON CONFLICT (station_id) DO UPDATE"
                    " SET failures = excluded.failures,"
                    " last_failure_at = excluded.last_failure_at,"
                    " locked_until = excluded.locked_until",
                    (_put(station_id), state.failures, state.last_failure_at, state.locked_until),
                )
            ],
        )

    async def clear(self, station_id: str) -> None:
        await self._tx.count(
            "clear activation attempts",
            "DELETE FROM activation_attempts WHERE station_id = %s",
            (_put(station_id),),
        )


class _PgTransactionStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def allocate_id(self) -> int:
        """``nextval`` of the sequence: outside transactions, so never handed out twice."""
        rows = await self._tx.rows("allocate a transaction id", "SELECT nextval('transaction_ids')")
        allocated: int = rows[0][0]
        return allocated

    async def get(self, station_id: str, transaction_id: str) -> ChargingTransaction | None:
        rows = await self._tx.rows(
            "read transactions",
            f"{_SELECT_TRANSACTIONS} WHERE station_id = %s AND transaction_id = %s",
            (_put(station_id), _put(transaction_id)),
        )
        return _transaction_from_row(rows[0]) if rows else None

    async def find_started(
        self,
        station_id: str,
        start_key: tuple[int, str | None, datetime | None, int | None],
    ) -> ChargingTransaction | None:
        connector_id, id_tag, started_at, meter_start = start_key
        rows = await self._tx.rows(
            "read transactions",
            _FIND_STARTED,
            (_put(station_id), connector_id, _put_optional(id_tag), started_at, meter_start),
        )
        return _transaction_from_row(rows[0]) if rows else None

    async def save(self, transaction: ChargingTransaction) -> None:
        await self._tx.run(
            "save a transaction", [_Op(_SAVE_TRANSACTION, _transaction_row(transaction))]
        )

    async def list(self, query: TransactionQuery) -> Page[ChargingTransaction]:
        where, params = _transaction_where(query)
        start = (query.page - 1) * query.page_size
        # Only constant fragments: the clauses of _transaction_where().
        counted, rows = await self._tx.run(
            "list transactions",
            [
                _Op(f"SELECT count(*) FROM transactions{where}", params, rows=True),  # noqa: S608
                _Op(
                    f"{_SELECT_TRANSACTIONS}{where}"
                    f" ORDER BY {_TRANSACTION_ORDER_BY[query.sort, query.descending]}"
                    " LIMIT %s OFFSET %s",
                    [*params, query.page_size, start],
                    rows=True,
                ),
            ],
        )
        return Page(
            items=[_transaction_from_row(row) for row in rows],
            page=query.page,
            page_size=query.page_size,
            total=counted[0][0],
        )


class _PgIdTokenStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    _COLUMNS: Final = "id_token, type, status, expiry_date, group_id"

    async def get(self, id_token: str) -> IdToken | None:
        rows = await self._tx.rows(
            "read id tokens",
            f"SELECT {self._COLUMNS} FROM id_tokens WHERE id_token = %s",  # noqa: S608
            (_put(id_token),),
        )
        return _id_token_from_row(rows[0]) if rows else None

    async def save(self, token: IdToken) -> None:
        await self._tx.run(
            "save an id token",
            [
                _Op(
                    f"INSERT INTO id_tokens ({self._COLUMNS}) VALUES (%s, %s, %s, %s, %s)"  # noqa: S608
                    " ON CONFLICT (id_token) DO UPDATE SET type = excluded.type,"
                    " status = excluded.status, expiry_date = excluded.expiry_date,"
                    " group_id = excluded.group_id",
                    (
                        _put(token.id_token),
                        _put(token.type),
                        str(token.status),
                        token.expiry_date,
                        _put_optional(token.group_id),
                    ),
                )
            ],
        )

    async def delete(self, id_token: str) -> bool:
        deleted = await self._tx.count(
            "delete an id token", "DELETE FROM id_tokens WHERE id_token = %s", (_put(id_token),)
        )
        return deleted > 0

    async def list(self) -> builtins.list[IdToken]:
        """By id token, compared in Python (tokens are any text)."""
        rows = await self._tx.rows("read id tokens", f"SELECT {self._COLUMNS} FROM id_tokens")  # noqa: S608
        return sorted((_id_token_from_row(row) for row in rows), key=lambda t: t.id_token)


class _PgMeterValueStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def add(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        self._tx.conn()
        if not samples:
            return
        await self._tx.run(
            "save meter values",
            [
                _Op(
                    "INSERT INTO meter_values (station_id, connector_id, transaction_id, samples)"
                    " VALUES (%s, %s, %s, %s)",
                    (
                        _put(station_id),
                        connector_id,
                        _put_optional(transaction_id),
                        _dump_samples(samples),
                    ),
                )
            ],
        )

    async def list(self, station_id: str, transaction_id: str | None) -> builtins.list[MeterSample]:
        if transaction_id is None:
            sql = "SELECT samples FROM meter_values WHERE station_id = %s"
            params: tuple[object, ...] = (_put(station_id),)
            sql += " AND transaction_id IS NULL ORDER BY id"
        else:
            sql = (
                "SELECT samples FROM meter_values WHERE station_id = %s AND transaction_id = %s"
                " ORDER BY id"
            )
            params = (_put(station_id), _put(transaction_id))
        rows = await self._tx.rows("read meter values", sql, params)
        return [sample for row in rows for sample in _load_samples(row[0])]


class _PgNotificationStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def add(self, notification: StationNotification) -> None:
        await self._tx.run(
            "save a notification",
            [
                _Op(
                    "INSERT INTO notifications (station_id, action, received_at, payload)"
                    " VALUES (%s, %s, %s, %s)",
                    (
                        _put(notification.station_id),
                        _put(notification.action),
                        notification.received_at,
                        _put(notification.payload),
                    ),
                )
            ],
        )

    async def list(self, station_id: str, limit: int = 100) -> builtins.list[StationNotification]:
        """Newest first; those received at the same instant in the order they were added."""
        key = _put(station_id)
        if limit < 0:  # sliced as Python does: all but the oldest -limit
            total = (
                await self._tx.rows(
                    "read notifications",
                    "SELECT count(*) FROM notifications WHERE station_id = %s",
                    (key,),
                )
            )[0][0]
            limit = _slice(total, 0, limit)[1]
        rows = await self._tx.rows(
            "read notifications",
            "SELECT station_id, action, received_at, payload FROM notifications"
            " WHERE station_id = %s ORDER BY received_at DESC, id LIMIT %s",
            (key, limit),
        )
        return [
            StationNotification(_get(row[0]), _get(row[1]), row[2], _get(row[3])) for row in rows
        ]


class _PgTransactionEventStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def add(self, event: TransactionEventRecord) -> bool:
        added = await self._tx.count(
            "save a transaction event",
            "INSERT INTO transaction_events (station_id, transaction_id, seq_no, event_type,"
            " timestamp, trigger_reason, offline, received_at, payload)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (
                _put(event.station_id),
                _put(event.transaction_id),
                event.seq_no,
                _put(event.event_type),
                event.timestamp,
                _put(event.trigger_reason),
                event.offline,
                event.received_at,
                _put(event.payload),
            ),
        )
        return added > 0

    async def list(
        self, station_id: str, transaction_id: str
    ) -> builtins.list[TransactionEventRecord]:
        rows = await self._tx.rows(
            "read transaction events",
            "SELECT station_id, transaction_id, seq_no, event_type, timestamp, trigger_reason,"
            " offline, received_at, payload FROM transaction_events"
            " WHERE station_id = %s AND transaction_id = %s ORDER BY seq_no",
            (_put(station_id), _put(transaction_id)),
        )
        return [
            TransactionEventRecord(
                station_id=_get(row[0]),
                transaction_id=_get(row[1]),
                seq_no=row[2],
                event_type=_get(row[3]),
                timestamp=row[4],
                trigger_reason=_get(row[5]),
                offline=row[6],
                received_at=row[7],
                payload=_get(row[8]),
            )
            for row in rows
        ]


_VARIABLE_COLUMN_NAMES: Final = (
    "station_id", "key", "key_order", "value", "mutability", "persistent", "constant",
    "data_type", "unit", "min_limit", "max_limit", "values_list", "supports_monitoring",
    "reported_at",
)  # fmt: skip
_SAVE_VARIABLE: Final = (
    _insert_sql("device_variables", _VARIABLE_COLUMN_NAMES)
    + " ON CONFLICT (station_id, key) DO UPDATE SET "
    + ", ".join(f"{name} = excluded.{name}" for name in _VARIABLE_COLUMN_NAMES[2:])
)


def _variable_row(station_id: str, v: DeviceVariable) -> _Row:
    key = format_key(v.key)
    return (
        _put(station_id),
        _put(key),
        key.encode("utf-8", "surrogatepass"),
        _put_optional(v.value),
        _put_optional(v.mutability),
        v.persistent,
        v.constant,
        _put_optional(v.data_type),
        _put_optional(v.unit),
        v.min_limit,
        v.max_limit,
        _put_optional(v.values_list),
        v.supports_monitoring,
        v.reported_at,
    )


def _variable_from_row(row: _Row) -> DeviceVariable:
    return DeviceVariable(
        key=parse_key(_get(row[0])),
        value=_get_optional(row[1]),
        mutability=_get_optional(row[2]),
        persistent=row[3],
        constant=row[4],
        data_type=_get_optional(row[5]),
        unit=_get_optional(row[6]),
        min_limit=row[7],
        max_limit=row[8],
        values_list=_get_optional(row[9]),
        supports_monitoring=row[10],
        reported_at=row[11],
    )


class _PgDeviceModelStore:
    def __init__(self, tx: _PgTransaction) -> None:
        self._tx = tx

    async def save(self, station_id: str, variables: Sequence[DeviceVariable]) -> None:
        # A later variable of the same key replaces an earlier one: keep the last of each,
        # as one INSERT ... ON CONFLICT cannot update a row it inserted itself.
        last = {format_key(v.key): v for v in variables}
        if not last:
            return
        await self._tx.run(
            "save a device model",
            [
                _Op(
                    _SAVE_VARIABLE,
                    [_variable_row(station_id, v) for v in last.values()],
                    many=True,
                )
            ],
        )

    async def list(self, station_id: str) -> builtins.list[DeviceVariable]:
        rows = await self._tx.rows(
            "read a device model",
            "SELECT key, value, mutability, persistent, constant, data_type, unit, min_limit,"
            " max_limit, values_list, supports_monitoring, reported_at FROM device_variables"
            " WHERE station_id = %s ORDER BY key_order",
            (_put(station_id),),
        )
        return [_variable_from_row(row) for row in rows]

    async def clear(self, station_id: str) -> int:
        return await self._tx.count(
            "delete a device model",
            "DELETE FROM device_variables WHERE station_id = %s",
            (_put(station_id),),
        )


# --- the repository --------------------------------------------------------------------------


class _Batch:
    """Units of work sharing one PostgreSQL transaction, committed together (group commit):
    see :meth:`PostgresRepository.transaction`."""

    __slots__ = ("begun", "conn", "done", "pending_release", "units", "waiters")

    def __init__(self, conn: AsyncConnection[Any], done: asyncio.Future[None]) -> None:
        self.conn = conn
        self.done = done
        """Resolved once the batch committed; its exception if the commit failed."""
        self.units = 1
        """Units begun in it (bounded by the repository's batch limit)."""
        self.waiters = 0
        """Units that ended normally and wait for the commit."""
        self.begun = False
        """Whether ``BEGIN`` was sent (with the batch's first statement: one round trip fewer
        per batch, and none for units that run no statement)."""
        self.pending_release = False
        """Whether the last unit's savepoint is still to be released (lazily, with the next
        unit's first statement, or never: ``COMMIT`` releases it)."""


class _Unit(contextlib.AbstractAsyncContextManager[_PgTransaction]):
    """``async with repository.transaction() as tx:``."""

    __slots__ = ("_repository", "_tx")

    def __init__(self, repository: PostgresRepository) -> None:
        self._repository = repository
        self._tx: _PgTransaction | None = None

    async def __aenter__(self) -> _PgTransaction:
        repository = self._repository
        repository._check_usable()
        await repository._lock.acquire()
        try:
            repository._check_usable()
            repository._holder = asyncio.current_task()
            self._tx = _PgTransaction(repository, await repository._unit_batch())
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
                if not tx.savepoint_pending:  # else the unit ran nothing: nothing to undo
                    await repository._roll_back(tx.batch)
                return
            if not tx.savepoint_pending:
                tx.batch.pending_release = True
            tx.batch.waiters += 1
        finally:
            repository._holder = None
            repository._lock.release()
        # Shielded: one waiter's cancellation must not cancel the batch's other units.
        await asyncio.shield(tx.batch.done)


class PostgresRepository:
    """A :class:`~evcharge_core.ports.Repository` in a PostgreSQL database; see the module
    docstring. Create it with :meth:`open`, not with the constructor."""

    def __init__(
        self, pool: AsyncConnectionPool[AsyncConnection[Any]], shown: str, *, batch_limit: int
    ) -> None:
        self._pool = pool
        self.shown = shown
        """The URL with its password masked (what error messages name)."""
        self._batch_limit = batch_limit
        self.max_connections = pool.max_size
        self._timeout = pool.timeout
        self._reachable = True
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[object] | None = None
        self._batch: _Batch | None = None
        self._committer: asyncio.Task[None] | None = None
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str,
        *,
        min_connections: int = 1,
        max_connections: int = 4,
        timeout: float = 10.0,
        batch_limit: int = DEFAULT_BATCH_LIMIT,
    ) -> PostgresRepository:
        """Connect to the database ``url`` names, create or migrate its schema, and open a
        pool of ``min_connections`` to ``max_connections`` connections.

        ``timeout`` is how many seconds to wait for a connection (when opening, and when a
        unit of work begins while none is free or the server is unreachable) before raising
        :class:`~evcharge_core.errors.StorageError`. ``batch_limit`` bounds the units of work
        that share one PostgreSQL transaction. Every failure raises that error naming the URL
        (password masked); nothing is left half-migrated.
        """
        shown = display_url(url)
        _check_url(url, shown)
        if batch_limit < 1:
            raise ValueError(f"batch_limit must be 1 or more, got {batch_limit}")
        try:
            conn = await AsyncConnection.connect(
                url,
                autocommit=True,
                connect_timeout=max(1, round(timeout)),
                **connection_options(url),
            )
        except psycopg.Error as exc:
            raise _error(shown, "connect to the database", exc) from exc
        try:
            await _migrate(conn, shown)
        except psycopg.Error as exc:
            raise _error(shown, "migrate the schema", exc) from exc
        finally:
            await conn.close()
        pool: AsyncConnectionPool[AsyncConnection[Any]] = AsyncConnectionPool(
            url,
            min_size=min_connections,
            max_size=max_connections,
            kwargs={"autocommit": True, **connection_options(url)},
            configure=_configure,
            timeout=timeout,
            open=False,
            name="evcharge",
        )
        try:
            await pool.open(wait=True, timeout=timeout)
        except (PoolTimeout, psycopg.Error) as exc:
            await pool.close()
            raise _error(shown, "open the connection pool", exc) from exc
        return cls(pool, shown, batch_limit=batch_limit)

    def _check_usable(self, doing: str = "start a transaction") -> None:
        if self._closed:
            raise StorageError(f"{self.shown}: the repository is closed")
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError(f"cannot {doing} inside a transaction of the same task")

    def transaction(self) -> _Unit:
        """A unit of work: the savepoint ``work`` in the current batch's PostgreSQL
        transaction.

        The first unit of a batch takes a pooled connection, begins the transaction and
        schedules the commit: a task that takes the repository's lock after the units
        already waiting for it, so units that become ready in the same turn of the event
        loop share one ``COMMIT`` (at most ``batch_limit`` of them). A unit that raises is
        rolled back to its savepoint alone. The block ends once the batch has committed,
        with the commit's :class:`~evcharge_core.errors.StorageError` if it failed."""
        return _Unit(self)

    async def _unit_batch(self) -> _Batch:
        """The open batch; a new one if there is none or the open one is full. (The unit's
        savepoint is taken with its first statement: see :meth:`_PgTransaction.run`.)"""
        batch = self._batch
        if batch is not None and batch.units >= self._batch_limit:
            await self._commit(batch)
            batch = None
        if batch is None:
            conn = await self._connection()
            loop = asyncio.get_running_loop()
            batch = self._batch = _Batch(conn, loop.create_future())
            self._committer = loop.create_task(self._commit_later(batch))
            return batch
        batch.units += 1
        return batch

    async def _connection(self) -> AsyncConnection[Any]:
        """A pooled connection (the batch's transaction begins with its first statement).

        Units are serialised, so while the server is unreachable each would wait the whole
        timeout behind the one before; once a wait timed out, the next ones wait at most
        :data:`UNREACHABLE_WAIT` until a connection comes again (the pool keeps trying)."""
        timeout = self._timeout if self._reachable else min(self._timeout, UNREACHABLE_WAIT)
        try:
            conn = await self._pool.getconn(timeout=timeout)
        except PoolTimeout as exc:
            self._reachable = False
            raise _error(self.shown, "start a transaction", exc) from exc
        self._reachable = True
        return conn

    async def _reconnect(self, batch: _Batch) -> None:
        """Take another connection, then give the broken one back (the pool drops it); if
        none comes, the batch keeps the broken one, for its end to give back."""
        broken, batch.conn = batch.conn, await self._connection()
        await self._give_back(broken)

    async def _give_back(self, conn: AsyncConnection[Any]) -> None:
        """Return a connection to the pool, closed unless it is idle and well."""
        if not conn.closed and conn.info.transaction_status != pq.TransactionStatus.IDLE:
            with contextlib.suppress(psycopg.Error):
                await conn.close()
        with contextlib.suppress(psycopg.Error, PoolTimeout):
            await self._pool.putconn(conn)

    async def _roll_back(self, batch: _Batch) -> None:
        """Discard a unit that raised; the batch goes on if its connection is well."""
        conn = batch.conn
        status = conn.info.transaction_status
        if not conn.closed and status in (
            pq.TransactionStatus.INTRANS,
            pq.TransactionStatus.INERROR,
        ):
            try:
                await conn.execute("ROLLBACK TO SAVEPOINT work; RELEASE SAVEPOINT work")
            except psycopg.Error as exc:
                await self._abandon(batch, _error(self.shown, "roll back", exc))
            return
        await self._abandon(
            batch,
            StorageError(f"{self.shown}: the transaction was lost (connection {status.name})"),
        )

    async def _commit_later(self, batch: _Batch) -> None:
        async with self._lock:
            if self._batch is batch:
                await self._commit(batch)

    async def _commit(self, batch: _Batch) -> None:
        """Commit the batch, tell its units, and give its connection back."""
        self._batch = None
        try:
            if batch.begun:
                await batch.conn.execute("COMMIT")
        except psycopg.Error as exc:
            await self._abandon(batch, _error(self.shown, "commit", exc))
            return
        await self._give_back(batch.conn)
        if not batch.done.done():
            batch.done.set_result(None)

    async def _abandon(self, batch: _Batch, error: StorageError) -> None:
        """The batch is lost: roll it back (or drop its connection) and fail the units
        waiting for its commit with ``error``."""
        if self._batch is batch:
            self._batch = None
        conn = batch.conn
        if not conn.closed and conn.info.transaction_status in (
            pq.TransactionStatus.INTRANS,
            pq.TransactionStatus.INERROR,
        ):
            with contextlib.suppress(psycopg.Error):
                await conn.execute("ROLLBACK")
        await self._give_back(conn)
        if batch.done.done():
            return
        if batch.waiters:
            batch.done.set_exception(error)
        else:  # nobody to tell: the units that raised already told their callers
            batch.done.set_result(None)

    async def close(self) -> None:
        """Wait for running transactions, commit the last batch, then close the pool.
        Closing twice is fine."""
        if self._closed:
            return
        self._check_usable("close the repository")
        async with self._lock:
            self._closed = True
            if self._batch is not None:
                await self._commit(self._batch)
            await self._pool.close()
        if self._committer is not None:
            await self._committer


async def _configure(conn: AsyncConnection[Any]) -> None:
    """Every pooled connection reads instants in UTC."""
    await conn.execute("SET TIME ZONE 'UTC'")


if TYPE_CHECKING:

    def _implements_the_port(repository: PostgresRepository) -> Repository:
        return repository  # mypy checks the structural match here

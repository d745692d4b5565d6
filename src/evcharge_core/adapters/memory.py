"""The in-memory repository: for tests, for embedding, and the reference model of the ports.

:class:`InMemoryRepository` implements :class:`~evcharge_core.ports.Repository` in plain
dicts. It is what every other adapter is compared with by the conformance suite
(:mod:`evcharge_core.testing.conformance`), so its behaviour *is* the specification where the
port docstrings leave a choice open. The choices, which every adapter must make the same way:

**Transactions.** One at a time per repository (an :class:`asyncio.Lock`); entering one from
inside another in the same task raises :class:`RuntimeError` instead of deadlocking. A
transaction reads its own writes. Its writes become visible when the block ends normally and
are discarded when it raises. Stores used after their transaction ended raise
:class:`RuntimeError`. After :meth:`~InMemoryRepository.close`, starting a transaction raises
:class:`~evcharge_core.errors.StorageError`.

**Saving.** :meth:`~evcharge_core.ports.StationStore.save_many` is one atomic step: the given
stations replace those with the same ids (a later duplicate in the list replaces an earlier
one), and the uniqueness rules are checked on the result. ``save(s)`` is
``save_many([s])``. A save that breaks a rule raises :class:`~evcharge_core.errors.Conflict`
naming the code or id and changes nothing, so a caller may catch it and go on with the
transaction. The unique keys (see :func:`station_keys`): station codes among stations,
charger codes among all chargers, charger ids among all chargers, connector ids among all
connectors (a charger and a connector may share an id: they are different namespaces).

**Listing.** :func:`matches` and :func:`sort_stations` are the rules of
:class:`~evcharge_core.ports.StationQuery`:

* ``search`` is folded with :meth:`str.casefold` (so ``STRASSE`` finds ``Straße``) and must
  be a substring of the folded id, name, code, manufacturer, serial number or reported serial
  number; the empty string matches every station.
* ``status`` and ``operational_status`` compare with
  :func:`~evcharge_core.domain.status.station_status` and
  :func:`~evcharge_core.domain.status.station_operational_status`; ``area_id``,
  ``connected`` and ``activation`` compare with the station's fields. Filters combine with
  *and*.
* Names and codes sort by code point (case-sensitive), ``status`` by
  :data:`~evcharge_core.domain.status.USABILITY_ORDER`, ``last_seen`` by instant.
  ``descending`` reverses the order of the sort key only: stations without a value (no
  status, never seen) come last in both directions, and ties are broken by ascending id in
  both directions (``id`` itself is reversed).
* The page is cut after filtering and sorting; ``total`` counts every station that passed
  the filters. A page past the end is empty.

Areas and charging profiles list by name then id (code point order). Deleting a charging
profile that a charger of a stored station still names raises
:class:`~evcharge_core.errors.Conflict` with :func:`profile_in_use` 's message.

**OCPP 2.0.1 stores.** Transaction events are kept once per ``(station_id, transaction_id,
seq_no)`` and listed by ``seq_no``; device model variables replace those with an equal key
and list by the text of their key (code point order).
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence, Set
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

import attrs

from ..domain.activation import ThrottleState
from ..domain.device_model import DeviceVariable, format_key
from ..domain.model import Area, Station
from ..domain.profiles import ChargingProfile
from ..domain.status import USABILITY_ORDER, station_operational_status, station_status
from ..domain.transactions import IdToken, MeterSample, Transaction
from ..errors import Conflict, StorageError
from ..ports import (
    Page,
    Repository,
    SortKey,
    StationNotification,
    StationQuery,
    TransactionEventRecord,
    TransactionQuery,
    TransactionSortKey,
    ascii_fold,
)

__all__ = [
    "CHARGER_CODE",
    "CHARGER_ID",
    "CONNECTOR_ID",
    "STATION_CODE",
    "InMemoryRepository",
    "dedupe",
    "find_conflict",
    "matches",
    "page_of",
    "profile_in_use",
    "search_fold",
    "sort_stations",
    "station_keys",
    "transaction_list_time",
    "transaction_matches",
    "transaction_page",
    "transaction_sort_key",
]

STATION_CODE: Final = "station code"
CHARGER_CODE: Final = "charger code"
CHARGER_ID: Final = "charger id"
CONNECTOR_ID: Final = "connector id"

_STATUS_RANK: Final = {status: rank for rank, status in enumerate(USABILITY_ORDER)}


# --- the reference rules, shared with other adapters -----------------------------------------


def station_keys(station: Station) -> builtins.list[tuple[str, str]]:
    """What must be unique across stored stations, as ``(kind, value)`` pairs: the station
    code (:data:`STATION_CODE`), each charger's code and id (:data:`CHARGER_CODE`,
    :data:`CHARGER_ID`) and each connector's id (:data:`CONNECTOR_ID`)."""
    keys = [(STATION_CODE, station.code)]
    for charger in station.chargers:
        keys.append((CHARGER_CODE, charger.code))
        keys.append((CHARGER_ID, charger.id))
        keys.extend((CONNECTOR_ID, connector.id) for connector in charger.connectors)
    return keys


def dedupe(stations: Iterable[Station]) -> builtins.list[Station]:
    """The stations of a batch save: one per id, the last given, in first-seen order."""
    by_id: dict[str, Station] = {}
    for station in stations:
        by_id[station.id] = station
    return builtins.list(by_id.values())


def find_conflict(
    stations: Sequence[Station], owner_of: Callable[[str, str], str | None]
) -> str | None:
    """Why saving ``stations`` (already de-duplicated by id) would break a uniqueness rule,
    or ``None`` if it would not.

    ``owner_of(kind, value)`` answers which stored station holds a key of
    :func:`station_keys`, before the save. Stations being saved replace their stored
    versions, so keys held by them do not count.
    """
    replaced = {station.id for station in stations}
    claimed: dict[tuple[str, str], str] = {}
    for station in stations:
        own: set[tuple[str, str]] = set()
        for key in station_keys(station):
            kind, value = key
            if key in own:
                return f"{kind} {value!r} is used twice in station {station.id!r}"
            own.add(key)
            other = claimed.get(key)
            if other is not None:
                return f"{kind} {value!r} is used by both station {other!r} and {station.id!r}"
            claimed[key] = station.id
            owner = owner_of(kind, value)
            if owner is not None and owner not in replaced:
                return f"{kind} {value!r} is already used by station {owner!r}"
    return None


def search_fold(text: str) -> str:
    """How search text and the searched fields are compared: :meth:`str.casefold`."""
    return text.casefold()


def _search_fields(station: Station) -> tuple[str | None, ...]:
    return (
        station.id,
        station.name,
        station.code,
        station.manufacturer,
        station.serial_number,
        station.reported.serial_number,
    )


def matches(station: Station, query: StationQuery) -> bool:
    """Whether ``station`` passes the filters and the search of ``query``."""
    checks = (
        query.area_id is None or station.area_id == query.area_id,
        query.connected is None or station.connection.connected == query.connected,
        query.activation is None or station.activation.state is query.activation,
    )
    if not all(checks):
        return False
    if query.status is not None and station_status(station) is not query.status:
        return False
    if (
        query.operational_status is not None
        and station_operational_status(station) is not query.operational_status
    ):
        return False
    if query.search is None:
        return True
    needle = search_fold(query.search)
    return any(
        field is not None and needle in search_fold(field) for field in _search_fields(station)
    )


def _sort_value(station: Station, key: SortKey) -> str | int | datetime | None:
    if key is SortKey.NAME:
        return station.name
    if key is SortKey.CODE:
        return station.code
    if key is SortKey.STATUS:
        status = station_status(station)
        return None if status is None else _STATUS_RANK[status]
    if key is SortKey.LAST_SEEN:
        return station.connection.last_seen
    return station.id


def sort_stations(
    stations: Iterable[Station], key: SortKey, *, descending: bool = False
) -> builtins.list[Station]:
    """``stations`` in list order (see the module docstring)."""
    by_id = sorted(stations, key=lambda s: s.id)
    if key is SortKey.ID:
        return by_id[::-1] if descending else by_id
    valued = [(value, s) for s in by_id if (value := _sort_value(s, key)) is not None]
    missing = [s for s in by_id if _sort_value(s, key) is None]
    # sorted() is stable in both directions, so ties keep ascending id order.
    valued.sort(key=lambda pair: pair[0], reverse=descending)
    return [s for _, s in valued] + missing


def page_of(stations: Iterable[Station], query: StationQuery) -> Page[Station]:
    """The page ``query`` asks for, out of ``stations`` (all of them, unfiltered)."""
    selected = sort_stations(
        (s for s in stations if matches(s, query)), query.sort, descending=query.descending
    )
    start = (query.page - 1) * query.page_size
    return Page(
        items=tuple(selected[start : start + query.page_size]),
        page=query.page,
        page_size=query.page_size,
        total=len(selected),
    )


# --- the repository --------------------------------------------------------------------------


@attrs.define
class _State:
    stations: dict[str, Station] = attrs.Factory(dict)
    areas: dict[str, Area] = attrs.Factory(dict)
    profiles: dict[str, ChargingProfile] = attrs.Factory(dict)
    attempts: dict[str, ThrottleState] = attrs.Factory(dict)
    owners: dict[tuple[str, str], str] = attrs.Factory(dict)
    """Every key of :func:`station_keys` of every stored station, to its station's id."""

    def copy(self) -> _State:
        return _State(
            dict(self.stations),
            dict(self.areas),
            dict(self.profiles),
            dict(self.attempts),
            dict(self.owners),
        )


def _no_allocator() -> int:
    raise RuntimeError("this transaction belongs to no repository")


_LEDGERS: Final = (
    "transactions",
    "id_tokens",
    "meter_values",
    "notifications",
    "counters",
    "transaction_events",
    "device_model",
)


class _MemoryTransaction:
    """The stores of one transaction; copies the state on its first write.

    Stations, areas and attempts are copied together (they are checked together). The
    ledgers (transactions, id tokens, meter values, notifications) are copied one by one on
    first write, so a status update never copies the transaction history.
    """

    def __init__(self, base: _State, ledgers: dict[str, dict[Any, Any]]) -> None:
        self._base = base
        self._working: _State | None = None
        self._ledgers = ledgers
        self._written: dict[str, dict[Any, Any]] = {}
        self._open = True
        self._stations = _MemoryStationStore(self)
        self._areas = _MemoryAreaStore(self)
        self._profiles = _MemoryChargingProfileStore(self)
        self._attempts = _MemoryActivationAttemptStore(self)
        self._transactions = _MemoryTransactionStore(self)
        self._id_tokens = _MemoryIdTokenStore(self)
        self._meter_values = _MemoryMeterValueStore(self)
        self._notifications = _MemoryNotificationStore(self)
        self._transaction_events = _MemoryTransactionEventStore(self)
        self._device_model = _MemoryDeviceModelStore(self)
        self.allocator: Callable[[], int] = _no_allocator

    @property
    def transactions(self) -> _MemoryTransactionStore:
        return self._transactions

    @property
    def id_tokens(self) -> _MemoryIdTokenStore:
        return self._id_tokens

    @property
    def meter_values(self) -> _MemoryMeterValueStore:
        return self._meter_values

    @property
    def notifications(self) -> _MemoryNotificationStore:
        return self._notifications

    @property
    def transaction_events(self) -> _MemoryTransactionEventStore:
        return self._transaction_events

    @property
    def device_model(self) -> _MemoryDeviceModelStore:
        return self._device_model

    def ledger(self, name: str) -> dict[Any, Any]:
        self.read()
        return self._written.get(name, self._ledgers[name])

    def write_ledger(self, name: str) -> dict[Any, Any]:
        self.read()
        if name not in self._written:
            self._written[name] = dict(self._ledgers[name])
        return self._written[name]

    def written_ledgers(self) -> dict[str, dict[Any, Any]]:
        return self._written

    @property
    def stations(self) -> _MemoryStationStore:
        return self._stations

    @property
    def areas(self) -> _MemoryAreaStore:
        return self._areas

    @property
    def activation_attempts(self) -> _MemoryActivationAttemptStore:
        return self._attempts

    @property
    def charging_profiles(self) -> _MemoryChargingProfileStore:
        return self._profiles

    def read(self) -> _State:
        if not self._open:
            raise RuntimeError("this transaction has ended; start a new one")
        return self._base if self._working is None else self._working

    def write(self) -> _State:
        self.read()
        if self._working is None:
            self._working = self._base.copy()
        return self._working

    def end(self) -> _State | None:
        """Close the stores; the new state if anything was written."""
        self._open = False
        return self._working


class _MemoryStationStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def get(self, station_id: str) -> Station | None:
        return self._tx.read().stations.get(station_id)

    async def get_many(self, station_ids: Sequence[str]) -> dict[str, Station]:
        stored = self._tx.read().stations
        return {i: stored[i] for i in station_ids if i in stored}

    async def save(self, station: Station) -> None:
        await self.save_many([station])

    async def save_many(self, stations: Sequence[Station]) -> None:
        batch = dedupe(stations)
        if not batch:
            return
        owners = self._tx.read().owners
        problem = find_conflict(batch, lambda kind, value: owners.get((kind, value)))
        if problem is not None:
            raise Conflict(problem)
        state = self._tx.write()
        for station in batch:
            old = state.stations.get(station.id)
            if old is not None:
                for key in station_keys(old):
                    del state.owners[key]
        for station in batch:
            state.stations[station.id] = station
            for key in station_keys(station):
                state.owners[key] = station.id

    async def delete(self, station_id: str) -> bool:
        if station_id not in self._tx.read().stations:
            return False
        state = self._tx.write()
        old = state.stations.pop(station_id)
        for key in station_keys(old):
            del state.owners[key]
        return True

    async def list(self, query: StationQuery) -> Page[Station]:
        return page_of(self._tx.read().stations.values(), query)

    def _by_key(self, kind: str, value: str) -> Station | None:
        state = self._tx.read()
        owner = state.owners.get((kind, value))
        return None if owner is None else state.stations[owner]

    async def get_by_code(self, code: str) -> Station | None:
        return self._by_key(STATION_CODE, code)

    async def get_by_charger_id(self, charger_id: str) -> Station | None:
        return self._by_key(CHARGER_ID, charger_id)

    async def get_by_charger_code(self, code: str) -> Station | None:
        return self._by_key(CHARGER_CODE, code)

    async def get_by_connector_id(self, connector_id: str) -> Station | None:
        return self._by_key(CONNECTOR_ID, connector_id)


class _MemoryAreaStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def get(self, area_id: str) -> Area | None:
        return self._tx.read().areas.get(area_id)

    async def save(self, area: Area) -> None:
        self._tx.write().areas[area.id] = area

    async def delete(self, area_id: str) -> bool:
        if area_id not in self._tx.read().areas:
            return False
        del self._tx.write().areas[area_id]
        return True

    async def list(self) -> builtins.list[Area]:
        return sorted(self._tx.read().areas.values(), key=lambda a: (a.name, a.id))


def profile_in_use(profile_id: str, station_id: str, charger_id: str) -> str:
    """The :class:`~evcharge_core.errors.Conflict` message of deleting an assigned profile."""
    return (
        f"charging profile {profile_id!r} is assigned to charger {charger_id!r}"
        f" of station {station_id!r}; assign another profile or none first"
    )


class _MemoryChargingProfileStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def get(self, profile_id: str) -> ChargingProfile | None:
        return self._tx.read().profiles.get(profile_id)

    async def save(self, profile: ChargingProfile) -> None:
        self._tx.write().profiles[profile.id] = profile

    async def delete(self, profile_id: str) -> bool:
        state = self._tx.read()
        if profile_id not in state.profiles:
            return False
        for station_id in sorted(state.stations):
            for charger in state.stations[station_id].chargers:
                if charger.charging_profile_id == profile_id:
                    raise Conflict(profile_in_use(profile_id, station_id, charger.id))
        del self._tx.write().profiles[profile_id]
        return True

    async def list(self) -> builtins.list[ChargingProfile]:
        return sorted(self._tx.read().profiles.values(), key=lambda p: (p.name, p.id))


class _MemoryActivationAttemptStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def get(self, station_id: str) -> ThrottleState | None:
        return self._tx.read().attempts.get(station_id)

    async def save(self, station_id: str, state: ThrottleState) -> None:
        self._tx.write().attempts[station_id] = state

    async def clear(self, station_id: str) -> None:
        if station_id in self._tx.read().attempts:
            del self._tx.write().attempts[station_id]


class _MemoryTransactionStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def allocate_id(self) -> int:
        self._tx.read()
        return self._tx.allocator()

    async def get(self, station_id: str, transaction_id: str) -> Transaction | None:
        found: Transaction | None = self._tx.ledger("transactions").get(
            (station_id, transaction_id)
        )
        return found

    async def find_started(
        self,
        station_id: str,
        start_key: tuple[int, str | None, datetime | None, int | None],
    ) -> Transaction | None:
        for transaction in self._tx.ledger("transactions").values():
            if (
                transaction.station_id == station_id
                and not transaction.orphan
                and transaction.start_key == start_key
            ):
                found: Transaction = transaction
                return found
        return None

    async def save(self, transaction: Transaction) -> None:
        key = (transaction.station_id, transaction.transaction_id)
        self._tx.write_ledger("transactions")[key] = transaction

    async def list(self, query: TransactionQuery) -> Page[Transaction]:
        stations = self._tx.read().stations
        area_stations = (
            None
            if query.area_id is None
            else {i for i, s in stations.items() if s.area_id == query.area_id}
        )
        selected = [
            t
            for t in self._tx.ledger("transactions").values()
            if transaction_matches(t, query, area_stations)
        ]
        return transaction_page(selected, query)


def transaction_sort_key(transaction: Transaction) -> tuple[float, str, str]:
    """Newest first by start time (orphans by their stop time), then station and id."""
    moment = transaction.started_at or transaction.stopped_at
    stamp = moment.timestamp() if moment is not None else float("-inf")
    return (-stamp, transaction.station_id, transaction.transaction_id)


def transaction_list_time(transaction: Transaction) -> float | None:
    """What ``since`` and ``until`` compare and the ``started_at`` sort orders by: POSIX
    seconds of the start, else of the stop (an orphan), else ``None``."""
    negated = transaction_sort_key(transaction)[0]
    return None if negated == float("inf") else -negated


def transaction_matches(  # noqa: PLR0911 - one early answer per filter reads best
    transaction: Transaction, query: TransactionQuery, area_stations: Set[str] | None
) -> bool:
    """Whether ``transaction`` passes the filters of ``query`` (``area_stations``: the ids of
    the stations of ``query.area_id``, ``None`` without an area filter)."""
    t = transaction
    if query.station_id is not None and t.station_id != query.station_id:
        return False
    if query.state is not None and t.state is not query.state:
        return False
    if area_stations is not None and t.station_id not in area_stations:
        return False
    if query.since is not None or query.until is not None:
        moment = transaction_list_time(t)
        if moment is None:
            return False
        if query.since is not None and moment < query.since.timestamp():
            return False
        if query.until is not None and moment >= query.until.timestamp():
            return False
    if query.search is not None:
        needle = ascii_fold(query.search)
        fields = (t.station_id, t.transaction_id, t.id_tag)
        return any(f is not None and needle in ascii_fold(f) for f in fields)
    return True


def _transaction_value(t: Transaction, key: TransactionSortKey) -> float | int | str | None:
    if key is TransactionSortKey.STARTED_AT:
        return transaction_list_time(t)
    if key is TransactionSortKey.ENERGY:
        return t.energy_wh
    return t.station_id


def transaction_page(selected: Iterable[Transaction], query: TransactionQuery) -> Page[Transaction]:
    """The page ``query`` asks for out of the ``selected`` transactions (already filtered):
    sorted by ``query.sort`` (missing values last), ties by station id then transaction id."""
    by_key = sorted(selected, key=lambda t: (t.station_id, t.transaction_id))
    valued = [(v, t) for t in by_key if (v := _transaction_value(t, query.sort)) is not None]
    missing = [t for t in by_key if _transaction_value(t, query.sort) is None]
    valued.sort(key=lambda pair: pair[0], reverse=query.descending)  # stable: ties keep order
    ordered = [t for _, t in valued] + missing
    start = (query.page - 1) * query.page_size
    return Page(ordered[start : start + query.page_size], query.page, query.page_size, len(ordered))


class _MemoryIdTokenStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def get(self, id_token: str) -> IdToken | None:
        found: IdToken | None = self._tx.ledger("id_tokens").get(id_token)
        return found

    async def save(self, token: IdToken) -> None:
        self._tx.write_ledger("id_tokens")[token.id_token] = token

    async def delete(self, id_token: str) -> bool:
        if id_token not in self._tx.ledger("id_tokens"):
            return False
        del self._tx.write_ledger("id_tokens")[id_token]
        return True

    async def list(self) -> builtins.list[IdToken]:
        tokens: dict[str, IdToken] = self._tx.ledger("id_tokens")
        return [tokens[key] for key in sorted(tokens)]


class _MemoryMeterValueStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def add(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        ledger = self._tx.write_ledger("meter_values")
        key = (station_id, transaction_id)
        ledger[key] = (*ledger.get(key, ()), *samples)

    async def list(self, station_id: str, transaction_id: str | None) -> builtins.list[MeterSample]:
        return list(self._tx.ledger("meter_values").get((station_id, transaction_id), ()))


class _MemoryNotificationStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def add(self, notification: StationNotification) -> None:
        ledger = self._tx.write_ledger("notifications")
        ledger[notification.station_id] = (
            *ledger.get(notification.station_id, ()),
            notification,
        )

    async def list(self, station_id: str, limit: int = 100) -> builtins.list[StationNotification]:
        kept = self._tx.ledger("notifications").get(station_id, ())
        newest_first = sorted(kept, key=lambda n: n.received_at, reverse=True)
        return newest_first[:limit]


class _MemoryTransactionEventStore:
    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def add(self, event: TransactionEventRecord) -> bool:
        key = (event.station_id, event.transaction_id)
        kept: dict[int, TransactionEventRecord] = self._tx.ledger("transaction_events").get(key, {})
        if event.seq_no in kept:
            return False
        self._tx.write_ledger("transaction_events")[key] = {**kept, event.seq_no: event}
        return True

    async def list(
        self, station_id: str, transaction_id: str
    ) -> builtins.list[TransactionEventRecord]:
        kept: dict[int, TransactionEventRecord] = self._tx.ledger("transaction_events").get(
            (station_id, transaction_id), {}
        )
        return [kept[seq_no] for seq_no in sorted(kept)]


class _MemoryDeviceModelStore:
    """Per station: key text to variable."""

    def __init__(self, tx: _MemoryTransaction) -> None:
        self._tx = tx

    async def save(self, station_id: str, variables: Sequence[DeviceVariable]) -> None:
        if not variables:
            return
        ledger = self._tx.write_ledger("device_model")
        model = dict(ledger.get(station_id, {}))
        for variable in variables:
            model[format_key(variable.key)] = variable
        ledger[station_id] = model

    async def list(self, station_id: str) -> builtins.list[DeviceVariable]:
        model: dict[str, DeviceVariable] = self._tx.ledger("device_model").get(station_id, {})
        return [model[key] for key in sorted(model)]

    async def clear(self, station_id: str) -> int:
        model = self._tx.ledger("device_model").get(station_id, {})
        if not model:
            return 0
        del self._tx.write_ledger("device_model")[station_id]
        return len(model)


class InMemoryRepository:
    """A :class:`~evcharge_core.ports.Repository` in memory; nothing survives the process.

    Committing swaps in the transaction's copy of the state (domain objects are frozen, so
    the copy is shallow), so a transaction that raises leaves no trace.
    """

    def __init__(self) -> None:
        self._state = _State()
        self._ledgers: dict[str, dict[Any, Any]] = {name: {} for name in _LEDGERS}
        # Allocated 1.6 transaction ids survive rollbacks: they live outside transactions.
        self._next_transaction_id = 1
        self._lock = asyncio.Lock()
        self._holder: asyncio.Task[object] | None = None
        self._closed = False

    def _check_usable(self, doing: str = "start a transaction") -> None:
        if self._closed:
            raise StorageError("the in-memory repository is closed")
        task = asyncio.current_task()
        if task is not None and task is self._holder:
            raise RuntimeError(f"cannot {doing} inside a transaction of the same task")

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[_MemoryTransaction]:
        """A unit of work (see :class:`~evcharge_core.ports.Repository`)."""
        self._check_usable()
        async with self._lock:
            self._check_usable()
            self._holder = asyncio.current_task()
            tx = _MemoryTransaction(self._state, self._ledgers)
            tx.allocator = self._allocate_transaction_id
            try:
                yield tx
            except BaseException:
                tx.end()
                raise
            else:
                new_state = tx.end()
                if new_state is not None:
                    self._state = new_state
                self._ledgers.update(tx.written_ledgers())
            finally:
                self._holder = None

    def _allocate_transaction_id(self) -> int:
        allocated = self._next_transaction_id
        self._next_transaction_id += 1
        return allocated

    async def close(self) -> None:
        """Waits for a running transaction, then refuses new ones. Closing twice is fine."""
        if self._closed:
            return
        self._check_usable("close the repository")
        async with self._lock:
            self._closed = True


if TYPE_CHECKING:

    def _implements_the_port(repository: InMemoryRepository) -> Repository:
        return repository  # mypy checks the structural match here

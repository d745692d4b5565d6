"""The repository conformance suite: every storage adapter is held to the same model.

The rules are those of :mod:`evcharge_core.ports` and, where the ports leave a choice open,
of the reference model :mod:`evcharge_core.adapters.memory` (read its module docstring).
The suite has two parts:

* :class:`RepositoryConformance`, a pytest base class whose test methods check each rule:
  round trips of generated stations, whole-aggregate replacement, deletion, the uniqueness
  conflicts and what they leave behind, commit and rollback, the serialisation of
  transactions, every filter, the search and every sort key of the station list in both
  directions against the reference model, areas, charging profiles (and the conflict of
  deleting one still assigned), activation attempts, the ``get_by_*``
  look-ups, and ``close()``; and for the charging stores: round trips of generated charging
  sessions, id tokens, meter samples and notifications, ``find_started`` (the first saved
  non-orphan session of the station with the start key), the session list's filters,
  order (:func:`~evcharge_core.adapters.memory.transaction_sort_key`) and pages against the
  reference rule, ``allocate_id`` (increasing, never reused after a rollback), the id token
  order, meter values in the order added, notifications newest first (ties in the order
  added) with a limit, OCPP 2.0.1 transaction events (kept once per seqNo, listed by it)
  and device models (replaced by key, listed by key text, cleared), and rollbacks that
  discard writes to every one of these stores.
* :func:`make_stateful_test`, a hypothesis state machine that runs random saves, batch
  saves, deletions, failed and partly failed transactions, look-ups and list queries on
  every store (stations, areas, activation attempts, charging sessions with stops and
  orphan stops, id tokens, meter values, notifications, transaction events, device models,
  transactions writing to all of them that commit or abort) against your adapter and
  :class:`~evcharge_core.adapters.memory.InMemoryRepository` side by side, and fails on the
  first observable difference. Allocated transaction ids are not compared with the model's
  (an adapter may skip ids); each repository's must increase and never repeat.

Run it against your adapter with pytest (no pytest plugin is needed; the tests drive their
own event loop)::

    # tests/test_my_repository.py
    from evcharge_core.testing.conformance import RepositoryConformance, make_stateful_test

    from my_package import MyRepository


    class TestMyRepository(RepositoryConformance):
        async def make_repository(self):
            return await MyRepository.connect("...")  # a fresh, empty repository


    async def fresh_repository():
        return await MyRepository.connect("...")


    TestMyRepositoryModel = make_stateful_test(fresh_repository)

:meth:`RepositoryConformance.make_repository` is called once per test example and must
return an *empty* repository; :meth:`RepositoryConformance.dispose_repository` (closes it by
default) is called after each. Override it to drop a test database.

This module needs pytest and hypothesis, the ``test`` extra of evcharge_core
(``pip install evcharge-core[test]``); so does importing :mod:`evcharge_core.testing`.
"""

from __future__ import annotations

import abc
import asyncio
import unittest
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ..adapters.memory import (
    InMemoryRepository,
    page_of,
    transaction_matches,
    transaction_page,
    transaction_sort_key,
)
from ..domain.activation import ThrottleState
from ..domain.device_model import DeviceVariable, VariableKey, format_key
from ..domain.model import (
    Area,
    Charger,
    Connection,
    Connector,
    ReportedInfo,
    Station,
    StatusRecord,
)
from ..domain.profiles import ChargingProfile, ProfilePeriod, RateUnit, Recurrence
from ..domain.status import station_operational_status, station_status
from ..domain.transactions import (
    AuthorizationStatus,
    IdToken,
    MeterSample,
    TransactionState,
    orphan_stop,
    stop_transaction,
)
from ..domain.transactions import Transaction as ChargingTransaction
from ..domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    OperationalStatus,
    PowerType,
)
from ..errors import Conflict
from ..ports import (
    Page,
    Repository,
    SortKey,
    StationNotification,
    StationQuery,
    TransactionEventRecord,
    TransactionQuery,
    TransactionSortKey,
)
from . import strategies as gen

__all__ = ["CONFORMANCE_SETTINGS", "RepositoryConformance", "make_stateful_test"]

T = TypeVar("T")

CONFORMANCE_SETTINGS: Final = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
)
"""Hypothesis settings of the property tests: a modest number of examples, no deadline
(databases have slow moments), and the same test run by several adapter classes."""

_T0: Final = datetime(2025, 1, 1, tzinfo=UTC)
_ALL: Final = 1000  # the largest page size: "everything" for the small sets used here


class _Abort(Exception):
    """Raised inside a transaction to make it roll back."""


# --- small builders for example-based tests --------------------------------------------------


def _connector(connector_id: str, ocpp_id: int, status: ConnectorStatus | None) -> Connector:
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


def _station(
    station_id: str,
    *,
    code: str | None = None,
    statuses: Sequence[ConnectorStatus | None] = (),
    charger_code: str | None = None,
    **fields: Any,
) -> Station:
    """A station with one charger holding one connector per entry of ``statuses`` (no
    charger when empty); ids and codes derive from ``station_id`` unless given."""
    chargers: tuple[Charger, ...] = ()
    if statuses:
        chargers = (
            Charger(
                id=f"{station_id}-ch",
                evse_id=1,
                code=charger_code or f"{station_id}-CH",
                name="Charger",
                connectors=tuple(
                    _connector(f"{station_id}-k{n}", n, status)
                    for n, status in enumerate(statuses, start=1)
                ),
            ),
        )
    return Station(
        id=station_id,
        name=fields.pop("name", f"Station {station_id}"),
        code=code or f"C-{station_id}",
        chargers=chargers,
        **fields,
    )


def _ids(stations: Sequence[Station] | Page[Station]) -> list[str]:
    items = stations.items if isinstance(stations, Page) else stations
    return [s.id for s in items]


async def _save(repository: Repository, *stations: Station) -> None:
    async with repository.transaction() as tx:
        await tx.stations.save_many(stations)


async def _get(repository: Repository, station_id: str) -> Station | None:
    async with repository.transaction() as tx:
        return await tx.stations.get(station_id)


async def _list(repository: Repository, query: StationQuery) -> Page[Station]:
    async with repository.transaction() as tx:
        return await tx.stations.list(query)


async def _all(repository: Repository) -> list[Station]:
    page = await _list(repository, StationQuery(page_size=_ALL))
    return list(page.items)


def _assert_page(actual: Page[Station], expected: Page[Station], query: StationQuery) -> None:
    assert _ids(actual) == _ids(expected), f"{query}: order or selection differs"
    assert actual.total == expected.total, f"{query}: total differs"
    assert (actual.page, actual.page_size) == (query.page, query.page_size)
    assert list(actual.items) == list(expected.items), f"{query}: stations differ"


_CASE_CHANGES: Final[list[Callable[[str], str]]] = [
    str.lower,
    str.upper,
    str.swapcase,
    str.title,
    str,
]

_FILTERS: Final[list[dict[str, Any]]] = [
    *({"status": status} for status in ConnectorStatus),
    *({"operational_status": status} for status in OperationalStatus),
    *({"area_id": area} for area in ("area-1", "area-2", "area-3", "elsewhere")),
    {"connected": True},
    {"connected": False},
    {"activation": ActivationState.ACTIVE},
    {"activation": ActivationState.INACTIVE},
]


def _queries() -> st.SearchStrategy[StationQuery]:
    return st.builds(
        StationQuery,
        page=st.integers(1, 3),
        page_size=st.integers(1, 4),
        search=st.none()
        | st.sampled_from(["", "a", "DEPOT", "strasse", "ÄRZTE", "%", "_", "1", "-"])
        | st.text(max_size=3),
        status=st.none() | st.sampled_from(ConnectorStatus),
        operational_status=st.none() | st.sampled_from(OperationalStatus),
        area_id=st.none() | st.sampled_from(["area-1", "area-2", "elsewhere"]),
        connected=st.none() | st.booleans(),
        activation=st.none() | st.sampled_from(ActivationState),
        sort=st.sampled_from(SortKey),
        descending=st.booleans(),
    )


# --- charging sessions, id tokens, meter values, notifications: pools and rules ---------------

_SESSION_STATIONS: Final = ["ST1", "ST2", "st1"]
_SESSION_IDS: Final = ["1", "2", "9", "10", "tx-a"]
_SESSION_TIMES: Final = (
    st.sampled_from(
        [
            _T0,
            _T0 + timedelta(microseconds=1),
            _T0 + timedelta(hours=1),
            _T0 - timedelta(days=400),
        ]
    )
    | gen.utc_datetimes()
)
_POOLED_TRANSACTIONS: Final = gen.transactions(
    ids=st.sampled_from(_SESSION_IDS),
    station_id_strategy=st.sampled_from(_SESSION_STATIONS),
    connector_numbers=st.integers(1, 2),
    id_tag_strategy=st.sampled_from([None, "TAG", "tag"]),
    time_strategy=_SESSION_TIMES,
    meter_strategy=st.sampled_from([0, 100]),
)
"""Sessions from small pools, so that keys repeat, start keys collide and the order ties."""
_POOLED_TOKENS: Final = gen.id_tokens(ids=st.sampled_from(["A", "a", "B", "10", "9", "ä", "Z"]))
_METER_KEYS: Final = [(station, tx) for station in ("ST1", "ST2") for tx in ("1", "2", None)]
_POOLED_NOTIFICATIONS: Final = gen.notifications(
    station_id_strategy=st.sampled_from(["ST1", "ST2"]), time_strategy=_SESSION_TIMES
)

_RARELY_TRUE: Final = st.sampled_from([False, False, False, True])
_EVENT_KEYS: Final = [(station, tx) for station in ("ST1", "ST2") for tx in ("T1", "T2")]
_POOLED_EVENTS: Final = gen.transaction_event_records(
    station_id_strategy=st.sampled_from(["ST1", "ST2"]),
    transaction_id_strategy=st.sampled_from(["T1", "T2"]),
    seq_nos=st.integers(0, 4),
)
_POOLED_KEYS: Final = (
    st.sampled_from(
        [
            VariableKey("OCPPCommCtrlr", "HeartbeatInterval"),
            VariableKey("OCPPCommCtrlr", "HeartbeatInterval", attribute_type="Target"),
            VariableKey("EVSE", "AvailabilityState", evse_id=1),
            VariableKey("EVSE", "AvailabilityState", evse_id=1, connector_id=1),
            VariableKey("a.b", "c", component_instance="i", variable_instance="j"),
        ]
    )
    | gen.variable_keys()
)
_POOLED_VARIABLES: Final = gen.device_variables(keys=_POOLED_KEYS)


def _expected_model(model: dict[str, DeviceVariable]) -> list[DeviceVariable]:
    return [model[key] for key in sorted(model)]


def _unique_transactions(max_size: int = 8) -> st.SearchStrategy[list[ChargingTransaction]]:
    return st.lists(
        _POOLED_TRANSACTIONS,
        max_size=max_size,
        unique_by=lambda t: (t.station_id, t.transaction_id),
    )


def _transaction_queries() -> st.SearchStrategy[TransactionQuery]:
    return st.builds(
        TransactionQuery,
        station_id=st.none() | st.sampled_from([*_SESSION_STATIONS, "elsewhere"]),
        state=st.none() | st.sampled_from(TransactionState),
        page=st.integers(1, 3),
        page_size=st.integers(1, 4),
        search=st.none() | st.sampled_from(["", "st1", "T", "tag", "X-A", "1", "ä"]),
        area_id=st.none() | st.sampled_from(["area-1", "area-2"]),
        since=st.none() | _SESSION_TIMES,
        until=st.none() | _SESSION_TIMES,
        sort=st.sampled_from(TransactionSortKey),
        descending=st.booleans(),
    )


def _saved(transactions: Iterable[ChargingTransaction]) -> list[ChargingTransaction]:
    """What saving ``transactions`` in turn leaves: the last of each key, in the order each
    key was first saved."""
    latest: dict[tuple[str, str], ChargingTransaction] = {}
    for t in transactions:
        latest[t.station_id, t.transaction_id] = t
    return list(latest.values())


def _expected_transactions(
    saved: Iterable[ChargingTransaction],
    query: TransactionQuery,
    area_stations: Iterable[str] = (),
) -> tuple[list[ChargingTransaction], int]:
    """The rule of the list (:class:`~evcharge_core.ports.TransactionQuery`), as the
    reference model writes it: filter (``area_stations``: the ids of the stations stored in
    ``query.area_id``), order, then cut the page. The default order is that of
    :func:`~evcharge_core.adapters.memory.transaction_sort_key` (newest start first,
    orphans by their stop, then station and id by code point)."""
    in_area = None if query.area_id is None else set(area_stations)
    page = transaction_page([t for t in saved if transaction_matches(t, query, in_area)], query)
    return list(page.items), page.total


def _expected_find(
    saved: Iterable[ChargingTransaction],
    station_id: str,
    start_key: tuple[int, str | None, datetime | None, int | None],
) -> ChargingTransaction | None:
    """The first saved non-orphan session of the station with that start key."""
    for t in saved:
        if t.station_id == station_id and not t.orphan and t.start_key == start_key:
            return t
    return None


def _expected_notifications(
    added: Iterable[StationNotification], station_id: str, limit: int
) -> list[StationNotification]:
    """Newest first; those received at the same instant in the order they were added."""
    mine = [n for n in added if n.station_id == station_id]
    return sorted(mine, key=lambda n: n.received_at, reverse=True)[:limit]


async def _all_transactions(repository: Repository) -> list[ChargingTransaction]:
    async with repository.transaction() as tx:
        return list((await tx.transactions.list(TransactionQuery(page_size=_ALL))).items)


def _session(
    station_id: str, transaction_id: str, started_at: datetime | None, **fields: Any
) -> ChargingTransaction:
    return ChargingTransaction(
        station_id=station_id,
        transaction_id=transaction_id,
        connector_id=fields.pop("connector_id", 1),
        id_tag=fields.pop("id_tag", "TAG"),
        started_at=started_at,
        meter_start=fields.pop("meter_start", None if started_at is None else 0),
        **fields,
    )


# --- the suite -------------------------------------------------------------------------------


class RepositoryConformance(abc.ABC):
    """Subclass as ``Test...``, implement :meth:`make_repository`, and run pytest."""

    @abc.abstractmethod
    async def make_repository(self) -> Repository:
        """A new, empty repository (called for every test example)."""

    async def dispose_repository(self, repository: Repository) -> None:
        """Called after each example; closes the repository (override to also drop it)."""
        await repository.close()

    def run(self, scenario: Callable[[Repository], Coroutine[Any, Any, T]]) -> T:
        """Run ``scenario`` on a fresh repository in a new event loop."""

        async def main() -> T:
            repository = await self.make_repository()
            try:
                return await scenario(repository)
            finally:
                await self.dispose_repository(repository)

        return asyncio.run(main())

    # round trips and look-ups

    @CONFORMANCE_SETTINGS
    @given(station=gen.stations())
    def test_station_round_trip(self, station: Station) -> None:
        """A saved station comes back equal, by id and by every key it holds."""

        async def scenario(repository: Repository) -> None:
            await _save(repository, station)
            async with repository.transaction() as tx:
                assert await tx.stations.get(station.id) == station
                assert await tx.stations.get_by_code(station.code) == station
                for charger in station.chargers:
                    assert await tx.stations.get_by_charger_id(charger.id) == station
                    assert await tx.stations.get_by_charger_code(charger.code) == station
                    for connector in charger.connectors:
                        assert await tx.stations.get_by_connector_id(connector.id) == station

        self.run(scenario)

    def test_unknown_keys(self) -> None:
        async def scenario(repository: Repository) -> None:
            await _save(repository, _station("ST1", statuses=[None]))
            async with repository.transaction() as tx:
                assert await tx.stations.get("nope") is None
                assert await tx.stations.get_many([]) == {}
                assert await tx.stations.get_by_code("nope") is None
                assert await tx.stations.get_by_charger_id("nope") is None
                assert await tx.stations.get_by_charger_code("nope") is None
                assert await tx.stations.get_by_connector_id("nope") is None
                # keys are exact, not case-insensitive
                assert await tx.stations.get("st1") is None
                assert await tx.stations.get_by_code("c-st1") is None

        self.run(scenario)

    @CONFORMANCE_SETTINGS
    @given(stations=gen.station_lists(min_size=1), data=st.data())
    def test_get_many(self, stations: list[Station], data: st.DataObject) -> None:
        """``get_many`` returns the existing ones among the ids asked, unknown ids left out."""
        wanted = data.draw(
            st.lists(st.sampled_from([s.id for s in stations]) | gen.station_ids(), max_size=8)
        )

        async def scenario(repository: Repository) -> None:
            await _save(repository, *stations)
            by_id = {s.id: s for s in stations}
            async with repository.transaction() as tx:
                found = await tx.stations.get_many(wanted)
            assert found == {i: by_id[i] for i in wanted if i in by_id}

        self.run(scenario)

    # saving

    @CONFORMANCE_SETTINGS
    @given(station=gen.stations(kind="operator", max_chargers=3), data=st.data())
    def test_save_replaces_whole_station(self, station: Station, data: st.DataObject) -> None:
        """Saving again replaces the aggregate: chargers and connectors it no longer has are
        gone, and their ids and codes are free for other stations."""
        kept: list[Charger] = []
        if station.chargers:
            for charger in data.draw(
                st.lists(st.sampled_from(station.chargers), unique_by=lambda c: c.id)
            ):
                connectors = (
                    data.draw(
                        st.lists(st.sampled_from(charger.connectors), unique_by=lambda k: k.id)
                    )
                    if charger.connectors
                    else []
                )
                kept.append(attrs.evolve(charger, connectors=connectors))
        smaller = attrs.evolve(station, chargers=kept, name=station.name + " (edited)")
        gone_chargers = [c for c in station.chargers if c.id not in {k.id for k in kept}]
        kept_connectors = {k.id for c in kept for k in c.connectors}
        gone_connectors = [k for _, k in station.iter_connectors() if k.id not in kept_connectors]

        async def scenario(repository: Repository) -> None:
            await _save(repository, station)
            await _save(repository, smaller)
            async with repository.transaction() as tx:
                assert await tx.stations.get(station.id) == smaller
                for charger in gone_chargers:
                    assert await tx.stations.get_by_charger_id(charger.id) is None
                    assert await tx.stations.get_by_charger_code(charger.code) is None
                for connector in gone_connectors:
                    assert await tx.stations.get_by_connector_id(connector.id) is None
            # the freed ids and codes can now be used by another station
            if gone_chargers:
                other = _station("OTHER", charger_code=gone_chargers[0].code, statuses=[None])
                other = attrs.evolve(
                    other, chargers=[attrs.evolve(other.chargers[0], id=gone_chargers[0].id)]
                )
                await _save(repository, other)
                assert await _get(repository, "OTHER") == other

        self.run(scenario)

    def test_save_many_empty_and_duplicates(self) -> None:
        """An empty batch does nothing; within a batch the last station with an id wins."""

        async def scenario(repository: Repository) -> None:
            first = _station("ST1", name="first")
            last = _station("ST1", name="last", code="C-LAST")
            async with repository.transaction() as tx:
                await tx.stations.save_many([])
                await tx.stations.save_many([first, last])
            assert await _all(repository) == [last]
            async with repository.transaction() as tx:
                assert await tx.stations.get_by_code(first.code) is None

        self.run(scenario)

    def test_resave_keeps_own_keys_and_codes_may_move(self) -> None:
        """A station never conflicts with its own stored version, and a batch may move a
        code from one station to another."""

        async def scenario(repository: Repository) -> None:
            a = _station("A", code="X", statuses=[ConnectorStatus.AVAILABLE])
            b = _station("B", code="Y")
            await _save(repository, a, b)
            await _save(repository, attrs.evolve(a, name="renamed"))
            # swap the codes of A and B in one batch
            await _save(repository, attrs.evolve(a, code="Y"), attrs.evolve(b, code="X"))
            async with repository.transaction() as tx:
                assert (await tx.stations.get_by_code("Y")) == attrs.evolve(a, code="Y")
                assert (await tx.stations.get_by_code("X")) == attrs.evolve(b, code="X")

        self.run(scenario)

    def test_delete(self) -> None:
        async def scenario(repository: Repository) -> None:
            station = _station("ST1", statuses=[ConnectorStatus.CHARGING, None])
            await _save(repository, station, _station("ST2"))
            async with repository.transaction() as tx:
                assert await tx.stations.delete("ST1") is True
                assert await tx.stations.delete("ST1") is False
                assert await tx.stations.delete("unknown") is False
            async with repository.transaction() as tx:
                assert await tx.stations.get("ST1") is None
                assert await tx.stations.get_by_code(station.code) is None
                assert await tx.stations.get_by_charger_id("ST1-ch") is None
                assert await tx.stations.get_by_charger_code("ST1-CH") is None
                assert await tx.stations.get_by_connector_id("ST1-k1") is None
                assert await tx.stations.get("ST2") is not None
            # everything it held is free again
            await _save(repository, station)
            assert await _get(repository, "ST1") == station

        self.run(scenario)

    # uniqueness

    def _conflicting_pairs(self) -> list[tuple[str, Station, Station]]:
        base = _station("A", code="CODE-A", statuses=[None, None], charger_code="CH-A")
        charger = base.chargers[0]
        return [
            ("CODE-A", base, _station("B", code="CODE-A")),
            ("CH-A", base, _station("B", statuses=[None], charger_code="CH-A")),
            (
                "A-ch",
                base,
                attrs.evolve(
                    _station("B", statuses=[None]),
                    chargers=[attrs.evolve(charger, code="CH-B", connectors=())],
                ),
            ),
            (
                "A-k1",
                base,
                attrs.evolve(
                    _station("B", statuses=[None]),
                    chargers=[
                        attrs.evolve(
                            charger, id="B-ch", code="CH-B", connectors=charger.connectors[:1]
                        )
                    ],
                ),
            ),
        ]

    def test_conflicts_between_stations(self) -> None:
        """Station code, charger code (across stations), charger id and connector id:
        :class:`Conflict` naming the key, and the stored data is unchanged."""

        async def scenario(repository: Repository) -> None:
            for key, first, second in self._conflicting_pairs():
                await _save(repository, first)
                with pytest.raises(Conflict, match=key):
                    await _save(repository, second)
                with pytest.raises(Conflict, match=key):
                    await _save(repository, _station("C"), second)
                assert await _all(repository) == [first], key
                async with repository.transaction() as tx:
                    await tx.stations.delete(first.id)

        self.run(scenario)

    def test_conflicts_inside_a_batch_and_a_station(self) -> None:
        """Two stations of one batch, or two parts of one station, sharing a key."""

        async def scenario(repository: Repository) -> None:
            for key, first, second in self._conflicting_pairs():
                with pytest.raises(Conflict, match=key):
                    await _save(repository, first, second)
                assert await _all(repository) == [], key
            one = _station("D", statuses=[None, None])
            charger = one.chargers[0]
            twin_connectors = attrs.evolve(
                charger,
                connectors=[charger.connectors[0], attrs.evolve(charger.connectors[1], id="D-k1")],
            )
            twin_chargers = [charger, attrs.evolve(charger, evse_id=2, code="OTHER", connectors=())]
            twin_codes = [charger, attrs.evolve(charger, id="D-ch2", evse_id=2, connectors=())]
            for key, chargers in [
                ("D-k1", [twin_connectors]),
                ("D-ch", twin_chargers),
                ("D-CH", twin_codes),
            ]:
                with pytest.raises(Conflict, match=key):
                    await _save(repository, attrs.evolve(one, chargers=chargers))
                assert await _all(repository) == [], key

        self.run(scenario)

    def test_namespaces_are_separate(self) -> None:
        """A station code may equal a charger code, and a charger id a connector id."""

        async def scenario(repository: Repository) -> None:
            a = _station("A", code="SAME", statuses=[None])
            b = _station("B", statuses=[None], charger_code="SAME")
            c = attrs.evolve(
                b,
                id="C",
                code="C-C",
                chargers=[
                    attrs.evolve(
                        b.chargers[0],
                        id="A-k1",
                        code="CH-C",
                        connectors=[attrs.evolve(b.chargers[0].connectors[0], id="A-ch")],
                    )
                ],
            )
            await _save(repository, a, b, c)
            assert _ids(await _all(repository)) == ["A", "B", "C"]

        self.run(scenario)

    def test_conflict_caught_inside_a_transaction(self) -> None:
        """A conflicting save changes nothing, so the transaction can go on and commit."""

        async def scenario(repository: Repository) -> None:
            a = _station("A", code="X")
            async with repository.transaction() as tx:
                await tx.stations.save(a)
                with pytest.raises(Conflict):
                    await tx.stations.save_many([_station("B"), _station("C", code="X")])
                await tx.stations.save(_station("D"))
            assert _ids(await _all(repository)) == ["A", "D"]

        self.run(scenario)

    def test_conflict_leaving_a_transaction_rolls_it_back(self) -> None:
        async def scenario(repository: Repository) -> None:
            await _save(repository, _station("A", code="X"))

            async def conflicting() -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_station("B"))
                    await tx.stations.delete("A")
                    await tx.stations.save(_station("C", code="B-code"))
                    await tx.stations.save(_station("D", code="B-code"))

            with pytest.raises(Conflict):
                await conflicting()
            assert _ids(await _all(repository)) == ["A"]

        self.run(scenario)

    # transactions

    def test_rollback_on_exception(self) -> None:
        """Nothing of a transaction that raises is kept, in any store."""

        async def scenario(repository: Repository) -> None:
            area = Area("area-1", "Depot", 52.0, 13.0)
            attempts = ThrottleState(1, _T0)
            await _save(repository, _station("A"))

            async def failing() -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(_station("B", statuses=[None]))
                    await tx.stations.save(attrs.evolve(_station("A"), name="changed"))
                    await tx.stations.delete("A")
                    await tx.areas.save(area)
                    await tx.activation_attempts.save("A", attempts)
                    raise _Abort

            with pytest.raises(_Abort):
                await failing()
            assert await _all(repository) == [_station("A")]
            async with repository.transaction() as tx:
                assert await tx.areas.list() == []
                assert await tx.activation_attempts.get("A") is None

        self.run(scenario)

    def test_reads_see_own_writes(self) -> None:
        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                await tx.stations.save(_station("A"))
                assert await tx.stations.get("A") == _station("A")
                assert (await tx.stations.list(StationQuery())).total == 1
                await tx.stations.delete("A")
                assert await tx.stations.get("A") is None

        self.run(scenario)

    def test_transactions_are_serialised(self) -> None:
        """A second transaction starts only after the first has ended."""

        async def scenario(repository: Repository) -> None:
            log: list[str] = []
            first_in = asyncio.Event()

            async def first() -> None:
                async with repository.transaction() as tx:
                    log.append("first begins")
                    first_in.set()
                    await asyncio.sleep(0.02)
                    await tx.stations.save(_station("A"))
                    log.append("first ends")

            async def second() -> None:
                await first_in.wait()
                async with repository.transaction() as tx:
                    log.append("second begins")
                    assert await tx.stations.get("A") == _station("A")

            await asyncio.gather(first(), second())
            assert log == ["first begins", "first ends", "second begins"]

        self.run(scenario)

    def test_misuse(self) -> None:
        """Nesting transactions in one task, and using stores after their transaction."""

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                with pytest.raises(RuntimeError):
                    async with repository.transaction():
                        pass  # pragma: no cover - never entered
                stations = tx.stations
            with pytest.raises(RuntimeError):
                await stations.get("A")
            async with repository.transaction() as tx:  # still usable
                await tx.stations.save(_station("A"))
            assert await _get(repository, "A") == _station("A")

        self.run(scenario)

    def test_close(self) -> None:
        """After ``close()`` (which may be called twice) no transaction starts."""

        async def scenario(repository: Repository) -> None:
            await _save(repository, _station("A"))
            await repository.close()
            await repository.close()
            with pytest.raises(RuntimeError):
                async with repository.transaction():
                    pass  # pragma: no cover - never entered

        self.run(scenario)

    # the station list

    @CONFORMANCE_SETTINGS
    @given(stations=gen.station_lists(max_size=7), query=_queries())
    def test_list_matches_the_model(self, stations: list[Station], query: StationQuery) -> None:
        """Any query: the same page, total and order as the reference model."""

        async def scenario(repository: Repository) -> None:
            await _save(repository, *stations)
            _assert_page(await _list(repository, query), page_of(stations, query), query)

        self.run(scenario)

    @CONFORMANCE_SETTINGS
    @given(stations=gen.station_lists(max_size=7))
    def test_list_every_sort_and_filter(self, stations: list[Station]) -> None:
        """Every sort key in both directions, every filter value, and pages that add up."""

        async def scenario(repository: Repository) -> None:
            await _save(repository, *stations)
            for sort in SortKey:
                for descending in (False, True):
                    query = StationQuery(page_size=_ALL, sort=sort, descending=descending)
                    expected = page_of(stations, query)
                    _assert_page(await _list(repository, query), expected, query)
                    pages: list[Station] = []
                    for page in range(1, len(stations) // 2 + 3):
                        part = StationQuery(page, 2, sort=sort, descending=descending)
                        got = await _list(repository, part)
                        assert got.total == len(stations)
                        pages.extend(got.items)
                    assert _ids(pages) == _ids(expected), f"pages of {query}"
            for fields in _FILTERS:
                query = StationQuery(page_size=_ALL, **fields)
                _assert_page(await _list(repository, query), page_of(stations, query), query)

        self.run(scenario)

    @CONFORMANCE_SETTINGS
    @given(stations=gen.station_lists(min_size=1, max_size=6), data=st.data())
    def test_list_search(self, stations: list[Station], data: st.DataObject) -> None:
        """Searching for a piece of a field of some station, in any case."""
        station = data.draw(st.sampled_from(stations))
        fields = [
            f
            for f in (
                station.id,
                station.name,
                station.code,
                station.manufacturer,
                station.serial_number,
                station.reported.serial_number,
            )
            if f
        ]
        field = data.draw(st.sampled_from(fields))
        start = data.draw(st.integers(0, len(field) - 1))
        end = data.draw(st.integers(start + 1, len(field)))
        change_case = data.draw(st.sampled_from(_CASE_CHANGES))
        query = StationQuery(page_size=_ALL, search=change_case(field[start:end]))

        async def scenario(repository: Repository) -> None:
            await _save(repository, *stations)
            page = await _list(repository, query)
            _assert_page(page, page_of(stations, query), query)
            if change_case is str:
                assert station.id in _ids(page), f"{query} did not find {station.id}"

        self.run(scenario)

    def test_list_sort_rules(self) -> None:
        """The documented order: code points for names, USABILITY_ORDER for status, missing
        values last in both directions, ties by ascending id in both directions."""
        seen_early, seen_late = _T0, _T0 + timedelta(hours=1)
        stations = [
            _station("a1", name="beta", statuses=[ConnectorStatus.AVAILABLE],
                     connection=Connection(last_seen=seen_early)),
            _station("a2", name="Alpha"),
            _station("a3", name="alpha", statuses=[ConnectorStatus.FAULTED],
                     connection=Connection(last_seen=seen_late)),
            _station("a0", name="beta", statuses=[ConnectorStatus.AVAILABLE, None],
                     connection=Connection(last_seen=seen_early)),
        ]  # fmt: skip
        expected = {
            (SortKey.ID, False): ["a0", "a1", "a2", "a3"],
            (SortKey.ID, True): ["a3", "a2", "a1", "a0"],
            (SortKey.NAME, False): ["a2", "a3", "a0", "a1"],
            (SortKey.NAME, True): ["a0", "a1", "a3", "a2"],
            (SortKey.STATUS, False): ["a0", "a1", "a3", "a2"],
            (SortKey.STATUS, True): ["a3", "a0", "a1", "a2"],
            (SortKey.LAST_SEEN, False): ["a0", "a1", "a3", "a2"],
            (SortKey.LAST_SEEN, True): ["a3", "a0", "a1", "a2"],
        }

        async def scenario(repository: Repository) -> None:
            await _save(repository, *stations)
            for (sort, descending), ids in expected.items():
                query = StationQuery(sort=sort, descending=descending)
                assert _ids(await _list(repository, query)) == ids, query
            page = await _list(repository, StationQuery(page=3, page_size=2))
            assert (list(page.items), page.total) == ([], 4)

        self.run(scenario)

    def test_list_search_and_filter_rules(self) -> None:
        """Search folds case (``STRASSE`` finds ``Straße``), treats ``%`` and ``_``
        literally, and covers id, name, code, manufacturer and both serial numbers."""
        stations = [
            _station("S1", name="Hauptstraße 1"),
            _station("S2", name="50%_off"),
            _station("S3", manufacturer="ACME Chargers"),
            _station("S4", serial_number="SN-XY-9"),
            _station("S5", reported=ReportedInfo(serial_number="rep-777")),
            _station("S6", code="Depot-9", area_id="north",
                     statuses=[ConnectorStatus.UNAVAILABLE]),
        ]  # fmt: skip
        searches = {
            "STRASSE": ["S1"],
            "%": ["S2"],
            "_": ["S2"],
            "acme c": ["S3"],
            "xy-9": ["S4"],
            "REP-7": ["S5"],
            "depot-": ["S6"],
            "s6": ["S6"],
            "": ["S1", "S2", "S3", "S4", "S5", "S6"],
            "nothing": [],
        }

        async def scenario(repository: Repository) -> None:
            await _save(repository, *stations)
            for search, ids in searches.items():
                assert _ids(await _list(repository, StationQuery(search=search))) == ids, search
            filtered = await _list(
                repository,
                StationQuery(
                    area_id="north",
                    status=ConnectorStatus.UNAVAILABLE,
                    operational_status=OperationalStatus.INOPERATIVE,
                    connected=False,
                    activation=ActivationState.ACTIVE,
                ),
            )
            assert _ids(filtered) == ["S6"]
            assert station_status(stations[-1]) is ConnectorStatus.UNAVAILABLE
            assert station_operational_status(stations[-1]) is OperationalStatus.INOPERATIVE

        self.run(scenario)

    # charging profiles

    @CONFORMANCE_SETTINGS
    @given(
        profiles=st.lists(gen.charging_profiles(), unique_by=lambda p: p.id, max_size=5),
        data=st.data(),
    )
    def test_charging_profiles(self, profiles: list[ChargingProfile], data: st.DataObject) -> None:
        """Save, get, replace, delete; the list is ordered by name then id."""
        gone = data.draw(st.lists(st.sampled_from(profiles), unique=True)) if profiles else []
        changed = [attrs.evolve(p, name=p.name + "!", periods=p.periods[:1]) for p in profiles[:2]]

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for profile in profiles:
                    await tx.charging_profiles.save(profile)
            async with repository.transaction() as tx:
                for profile in profiles:
                    assert await tx.charging_profiles.get(profile.id) == profile
                assert await tx.charging_profiles.list() == sorted(
                    profiles, key=lambda p: (p.name, p.id)
                )
                for profile in changed:
                    await tx.charging_profiles.save(profile)
                for profile in gone:
                    assert await tx.charging_profiles.delete(profile.id) is True
                    assert await tx.charging_profiles.delete(profile.id) is False
            current = {p.id: p for p in profiles} | {p.id: p for p in changed}
            for profile in gone:
                del current[profile.id]
            async with repository.transaction() as tx:
                assert await tx.charging_profiles.get("no such profile") is None
                assert await tx.charging_profiles.list() == sorted(
                    current.values(), key=lambda p: (p.name, p.id)
                )

        self.run(scenario)

    def test_deleting_an_assigned_charging_profile_is_a_conflict(self) -> None:
        """While a charger of a stored station names the profile, deleting it raises
        Conflict naming the charger and changes nothing; the transaction goes on."""
        profile = ChargingProfile(
            "day-night",
            "Day/night",
            RateUnit.WATTS,
            Recurrence.DAILY,
            [ProfilePeriod(7 * 3600, 10_000), ProfilePeriod(22 * 3600, 20_000)],
        )
        station = _station("ST1", statuses=[None])
        assigned = attrs.evolve(
            station,
            chargers=[attrs.evolve(station.chargers[0], charging_profile_id=profile.id)],
        )

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                await tx.charging_profiles.save(profile)
                await tx.stations.save(assigned)
            async with repository.transaction() as tx:
                with pytest.raises(Conflict, match="ST1-ch"):
                    await tx.charging_profiles.delete(profile.id)
                assert await tx.charging_profiles.get(profile.id) == profile
                # the transaction goes on: unassign, then delete
                await tx.stations.save(station)
                assert await tx.charging_profiles.delete(profile.id) is True
            async with repository.transaction() as tx:
                assert await tx.charging_profiles.list() == []
                await tx.charging_profiles.save(profile)
                await tx.stations.save(assigned)
            async with repository.transaction() as tx:
                # deleting the station frees the profile
                assert await tx.stations.delete("ST1") is True
                assert await tx.charging_profiles.delete(profile.id) is True

        self.run(scenario)

    def test_charging_profile_writes_roll_back(self) -> None:
        profile = ChargingProfile(
            "p1", "Night", RateUnit.AMPERES, Recurrence.WEEKLY, [ProfilePeriod(0, 16)]
        )

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                await tx.charging_profiles.save(profile)

            async def failing() -> None:
                async with repository.transaction() as tx:
                    await tx.charging_profiles.save(attrs.evolve(profile, name="Day"))
                    await tx.charging_profiles.save(attrs.evolve(profile, id="p2"))
                    assert len(await tx.charging_profiles.list()) == 2
                    assert await tx.charging_profiles.delete("p2") is True
                    assert await tx.charging_profiles.delete("p1") is True
                    raise _Abort

            with pytest.raises(_Abort):
                await failing()
            async with repository.transaction() as tx:
                assert await tx.charging_profiles.list() == [profile]

        self.run(scenario)

    # areas and activation attempts

    @CONFORMANCE_SETTINGS
    @given(areas=st.lists(gen.areas(), unique_by=lambda a: a.id, max_size=6), data=st.data())
    def test_areas(self, areas: list[Area], data: st.DataObject) -> None:
        """Save, get, replace, delete; the list is ordered by name then id."""
        gone = data.draw(st.lists(st.sampled_from(areas), unique=True)) if areas else []
        renamed = [attrs.evolve(a, name=a.name + "!", address=None) for a in areas[:2]]

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for area in areas:
                    await tx.areas.save(area)
            async with repository.transaction() as tx:
                for area in areas:
                    assert await tx.areas.get(area.id) == area
                assert await tx.areas.list() == sorted(areas, key=lambda a: (a.name, a.id))
                for area in renamed:
                    await tx.areas.save(area)
                for area in gone:
                    assert await tx.areas.delete(area.id) is True
                    assert await tx.areas.delete(area.id) is False
            current = {a.id: a for a in areas} | {a.id: a for a in renamed}
            for area in gone:
                del current[area.id]
            async with repository.transaction() as tx:
                assert await tx.areas.get("no such area") is None
                assert await tx.areas.list() == sorted(
                    current.values(), key=lambda a: (a.name, a.id)
                )

        self.run(scenario)

    @CONFORMANCE_SETTINGS
    @given(states=st.lists(gen.throttle_states(), min_size=1, max_size=3))
    def test_activation_attempts(self, states: list[ThrottleState]) -> None:
        """Kept per station id, also for ids of no station; cleared on demand."""

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                assert await tx.activation_attempts.get("ST1") is None
                await tx.activation_attempts.clear("ST1")
                for state in states:
                    await tx.activation_attempts.save("ST1", state)
                await tx.activation_attempts.save("ST2", states[0])
            async with repository.transaction() as tx:
                assert await tx.activation_attempts.get("ST1") == states[-1]
                assert await tx.activation_attempts.get("ST2") == states[0]
                await tx.activation_attempts.clear("ST1")
            async with repository.transaction() as tx:
                assert await tx.activation_attempts.get("ST1") is None
                assert await tx.activation_attempts.get("ST2") == states[0]

        self.run(scenario)

    # charging sessions

    @CONFORMANCE_SETTINGS
    @given(transactions=_unique_transactions(), data=st.data())
    def test_transaction_round_trip(
        self, transactions: list[ChargingTransaction], data: st.DataObject
    ) -> None:
        """Saved sessions come back equal by ``(station_id, transaction_id)``; saving again
        replaces; the same id at another station is another session."""
        chosen = (
            data.draw(st.lists(st.sampled_from(transactions), unique=True)) if transactions else []
        )
        replaced = [attrs.evolve(t, stop_reason="Replaced", last_meter_wh=7) for t in chosen]

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for t in transactions:
                    await tx.transactions.save(t)
            async with repository.transaction() as tx:
                for t in transactions:
                    assert await tx.transactions.get(t.station_id, t.transaction_id) == t
                for t in replaced:
                    await tx.transactions.save(t)
            current = _saved([*transactions, *replaced])
            async with repository.transaction() as tx:
                for t in current:
                    assert await tx.transactions.get(t.station_id, t.transaction_id) == t
                assert await tx.transactions.get("ST1", "no such id") is None
                assert await tx.transactions.get("elsewhere", "1") is None
            assert sorted(await _all_transactions(repository), key=transaction_sort_key) == (
                sorted(current, key=transaction_sort_key)
            )

        self.run(scenario)

    @CONFORMANCE_SETTINGS
    @given(
        transactions=st.lists(_POOLED_TRANSACTIONS, max_size=10),
        probes=st.lists(
            st.tuples(
                st.sampled_from([*_SESSION_STATIONS, "elsewhere"]),
                st.integers(0, 2),
                st.sampled_from([None, "TAG", "tag"]),
                st.none() | _SESSION_TIMES,
                st.sampled_from([None, 0, 100]),
            ),
            max_size=5,
        ),
    )
    def test_find_started(
        self,
        transactions: list[ChargingTransaction],
        probes: list[tuple[str, int, str | None, datetime | None, int | None]],
    ) -> None:
        """The first saved non-orphan session of the station with the start key (connector,
        id tag, start time as an instant, meter start); orphans are never found."""
        saved = _saved(transactions)

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for t in transactions:
                    await tx.transactions.save(t)
            async with repository.transaction() as tx:
                wanted = [(t.station_id, t.start_key) for t in saved]
                wanted += [(station, (c, tag, at, meter)) for station, c, tag, at, meter in probes]
                for station_id, key in wanted:
                    found = await tx.transactions.find_started(station_id, key)
                    assert found == _expected_find(saved, station_id, key), (station_id, key)

        self.run(scenario)

    def test_find_started_rules(self) -> None:
        async def scenario(repository: Repository) -> None:
            active = _session("ST1", "1", _T0, connector_id=2, id_tag="TAG", meter_start=50)
            orphan = orphan_stop("ST1", "2", meter_stop=9, timestamp=_T0, reason=None, id_tag="TAG")
            async with repository.transaction() as tx:
                await tx.transactions.save(active)
                await tx.transactions.save(orphan)
                key = active.start_key
                assert await tx.transactions.find_started("ST1", key) == active
                # the start time is compared as an instant
                berlin = timezone(timedelta(hours=1))
                assert (
                    await tx.transactions.find_started(
                        "ST1", (2, "TAG", _T0.astimezone(berlin), 50)
                    )
                    == active
                )
                for other in [(1, "TAG", _T0, 50), (2, "tag", _T0, 50), (2, None, _T0, 50),
                              (2, "TAG", _T0 + timedelta(microseconds=1), 50),
                              (2, "TAG", _T0, 51), (2, "TAG", None, 50),
                              (2, "TAG", _T0, None)]:  # fmt: skip
                    assert await tx.transactions.find_started("ST1", other) is None, other
                assert await tx.transactions.find_started("ST2", key) is None
                assert await tx.transactions.find_started("ST1", orphan.start_key) is None
                # ended sessions are found too (a late retransmission of their start)
                ended = stop_transaction(
                    active, meter_stop=80, timestamp=_T0, reason=None, id_tag=None
                )
                await tx.transactions.save(ended)
                assert await tx.transactions.find_started("ST1", key) == ended

        self.run(scenario)

    @CONFORMANCE_SETTINGS
    @given(transactions=_unique_transactions(max_size=9), query=_transaction_queries())
    def test_transaction_list_matches_the_model(
        self, transactions: list[ChargingTransaction], query: TransactionQuery
    ) -> None:
        """Any query: the same page, total and order as the reference rule, and pages of
        every station and state that add up to the whole list."""

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for t in transactions:
                    await tx.transactions.save(t)
                page = await tx.transactions.list(query)
            items, total = _expected_transactions(transactions, query)
            assert (list(page.items), page.total) == (items, total), query
            assert (page.page, page.page_size) == (query.page, query.page_size)
            for station_id in (None, "ST1"):
                for state in (None, *TransactionState):
                    whole = TransactionQuery(station_id, state, page_size=_ALL)
                    expected, count = _expected_transactions(transactions, whole)
                    pages: list[ChargingTransaction] = []
                    for number in range(1, count // 2 + 3):
                        async with repository.transaction() as tx:
                            part = await tx.transactions.list(
                                TransactionQuery(station_id, state, number, 2)
                            )
                        assert part.total == count, whole
                        pages.extend(part.items)
                    assert pages == expected, whole

        self.run(scenario)

    def test_transaction_list_order_rules(self) -> None:
        """Newest start first, an orphan by its stop time, ties by station then id (code
        point: ``"10"`` before ``"9"``), sessions without any time last."""
        hour = timedelta(hours=1)
        orphan = orphan_stop("ST1", "77", meter_stop=5, timestamp=_T0 + 2 * hour,
                             reason="Other", id_tag=None)  # fmt: skip
        sessions = {
            "a": _session("ST1", "9", _T0 + hour),
            "b": _session("ST1", "10", _T0 + hour),
            "c": _session("ST0", "5", _T0 + hour, state=TransactionState.ENDED,
                          stopped_at=_T0 + 3 * hour, meter_stop=10),
            "d": orphan,
            "e": _session("ST1", "1", _T0),
            "f": _session("ST1", "0", None),
        }  # fmt: skip
        expected = {
            TransactionQuery(): "dcbaef",
            TransactionQuery(station_id="ST1"): "dbaef",
            TransactionQuery(state=TransactionState.ACTIVE): "baef",
            TransactionQuery(state=TransactionState.ENDED): "dc",
            TransactionQuery(station_id="ST0", state=TransactionState.ACTIVE): "",
            TransactionQuery(page=2, page_size=4): "ef",
            TransactionQuery(page=3, page_size=4): "",
        }
        names = {(t.station_id, t.transaction_id): name for name, t in sessions.items()}

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for t in sessions.values():
                    await tx.transactions.save(t)
            for query, order in expected.items():
                async with repository.transaction() as tx:
                    page = await tx.transactions.list(query)
                got = "".join(names[t.station_id, t.transaction_id] for t in page.items)
                assert got == order, query
                assert page.total == _expected_transactions(sessions.values(), query)[1]

        self.run(scenario)

    def test_transaction_list_filters_and_sort_rules(self) -> None:
        """Search (ASCII case folded, substring of station id, transaction id or id tag),
        area (the stations stored in it), since/until on the list time, and every sort key
        in both directions (missing values last, ties by station then id)."""
        hour = timedelta(hours=1)
        ended = TransactionState.ENDED
        sessions = {
            "a": _session("ST1", "9", _T0 + hour, id_tag="Card-ÄB", meter_start=0,
                          last_meter_wh=500),
            "b": _session("ST2", "10", _T0 + 2 * hour, id_tag=None, meter_start=100,
                          state=ended, stopped_at=_T0 + 3 * hour, meter_stop=1100),
            "c": _session("ST3", "tx-C", _T0, id_tag="fleet", meter_start=None),
            "d": orphan_stop("ST1", "77", meter_stop=5, timestamp=_T0 + 4 * hour,
                             reason="Other", id_tag="CARD-äb"),
        }  # fmt: skip
        names = {(t.station_id, t.transaction_id): name for name, t in sessions.items()}
        stations = [
            _station("ST1", area_id="north"),
            _station("ST2", area_id="south"),
            _station("ST3", area_id="north"),
        ]
        sort = TransactionSortKey
        expected = {
            TransactionQuery(search="card-"): "da",  # ASCII folded: "Ä" is not "ä"
            TransactionQuery(search="card-äb"): "d",
            TransactionQuery(search="st1"): "da",
            TransactionQuery(search="TX-c"): "c",
            TransactionQuery(search="1"): "dba",  # "ST1"..., and "10"
            TransactionQuery(search=""): "dbac",
            TransactionQuery(area_id="north"): "dac",
            TransactionQuery(area_id="nowhere"): "",
            TransactionQuery(since=_T0 + hour): "dba",
            TransactionQuery(until=_T0 + hour): "c",
            TransactionQuery(since=_T0 + hour, until=_T0 + 4 * hour): "ba",
            TransactionQuery(sort=sort.STARTED_AT, descending=False): "cabd",
            TransactionQuery(sort=sort.ENERGY): "ba" + "dc",  # no energy (c, d): last, by station
            TransactionQuery(sort=sort.ENERGY, descending=False): "ab" + "dc",
            TransactionQuery(sort=sort.STATION): "cbda",  # station descending, ties id ascending
            TransactionQuery(sort=sort.STATION, descending=False): "dabc",
            TransactionQuery(area_id="north", search="card", sort=sort.STATION): "da",
        }

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                await tx.stations.save_many(stations)
                for t in sessions.values():
                    await tx.transactions.save(t)
            for query, order in expected.items():
                async with repository.transaction() as tx:
                    page = await tx.transactions.list(query)
                got = "".join(names[t.station_id, t.transaction_id] for t in page.items)
                assert got == order, query
                assert page.total == len(order), query
                in_area = [s.id for s in stations if s.area_id == query.area_id]
                assert _expected_transactions(sessions.values(), query, in_area)[0] == list(
                    page.items
                ), query

        self.run(scenario)

    @CONFORMANCE_SETTINGS
    @given(
        transactions=_unique_transactions(max_size=9),
        areas=st.lists(st.sampled_from(["area-1", "area-2"]), min_size=3, max_size=3),
        query=_transaction_queries(),
    )
    def test_transaction_list_with_areas_matches_the_model(
        self, transactions: list[ChargingTransaction], areas: list[str], query: TransactionQuery
    ) -> None:
        """Any query over sessions whose stations are stored in areas."""
        stations = [
            _station(station_id, area_id=area)
            for station_id, area in zip(_SESSION_STATIONS, areas, strict=True)
        ]

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                await tx.stations.save_many(stations)
                for t in transactions:
                    await tx.transactions.save(t)
                page = await tx.transactions.list(query)
            in_area = [s.id for s in stations if s.area_id == query.area_id]
            items, total = _expected_transactions(transactions, query, in_area)
            assert (list(page.items), page.total) == (items, total), query

        self.run(scenario)

    def test_allocate_id(self) -> None:
        """Positive and increasing; an id allocated by a transaction that rolled back is not
        handed out again (it may already be in a reply to a station)."""

        async def scenario(repository: Repository) -> None:
            allocated: list[int] = []

            async def allocate(count: int, *, fail: bool = False, save: bool = False) -> None:
                async with repository.transaction() as tx:
                    allocated.extend([await tx.transactions.allocate_id() for _ in range(count)])
                    if save:
                        await tx.transactions.save(_session("ST1", str(allocated[-1]), _T0))
                    if fail:
                        raise _Abort

            await allocate(2)
            with pytest.raises(_Abort):
                await allocate(1, fail=True, save=True)
            async with repository.transaction() as tx:
                assert await tx.transactions.get("ST1", str(allocated[-1])) is None
            await allocate(1)
            with pytest.raises(_Abort):
                await allocate(2, fail=True)
            await allocate(1)
            assert allocated[0] > 0
            assert allocated == sorted(set(allocated)), allocated

        self.run(scenario)

    # id tokens

    @CONFORMANCE_SETTINGS
    @given(tokens=st.lists(_POOLED_TOKENS, max_size=7), data=st.data())
    def test_id_tokens(self, tokens: list[IdToken], data: st.DataObject) -> None:
        """Save (the last save of an id wins), get, delete; the list is ordered by id token
        (code point)."""
        latest = {t.id_token: t for t in tokens}
        gone = data.draw(st.lists(st.sampled_from(sorted(latest)), unique=True)) if latest else []
        blocked = [
            attrs.evolve(t, status=AuthorizationStatus.BLOCKED, expiry_date=None)
            for t in list(latest.values())[:2]
        ]

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for token in tokens:
                    await tx.id_tokens.save(token)
            async with repository.transaction() as tx:
                for token in latest.values():
                    assert await tx.id_tokens.get(token.id_token) == token
                assert await tx.id_tokens.list() == [latest[k] for k in sorted(latest)]
                for token in blocked:
                    await tx.id_tokens.save(token)
                for id_token in gone:
                    assert await tx.id_tokens.delete(id_token) is True
                    assert await tx.id_tokens.delete(id_token) is False
            current = latest | {t.id_token: t for t in blocked}
            for id_token in gone:
                del current[id_token]
            async with repository.transaction() as tx:
                assert await tx.id_tokens.get("no such token") is None
                for id_token in gone:
                    assert await tx.id_tokens.get(id_token) is None
                assert await tx.id_tokens.list() == [current[k] for k in sorted(current)]

        self.run(scenario)

    # meter values

    @CONFORMANCE_SETTINGS
    @given(
        adds=st.lists(
            st.tuples(
                st.sampled_from(_METER_KEYS),
                st.integers(0, 2),
                st.lists(gen.meter_samples(), max_size=3),
            ),
            max_size=8,
        ),
        split=st.integers(0, 8),
    )
    def test_meter_values(
        self,
        adds: list[tuple[tuple[str, str | None], int, list[MeterSample]]],
        split: int,
    ) -> None:
        """Kept per station and transaction (``None``: outside any), in the order added,
        whatever the connector; over several transactions."""

        async def scenario(repository: Repository) -> None:
            for part in (adds[:split], adds[split:]):
                async with repository.transaction() as tx:
                    for (station_id, transaction_id), connector_id, samples in part:
                        await tx.meter_values.add(station_id, connector_id, transaction_id, samples)
            async with repository.transaction() as tx:
                for station_id, transaction_id in [*_METER_KEYS, ("ST3", None)]:
                    expected = [
                        sample
                        for key, _, samples in adds
                        if key == (station_id, transaction_id)
                        for sample in samples
                    ]
                    got = await tx.meter_values.list(station_id, transaction_id)
                    assert got == expected, (station_id, transaction_id)

        self.run(scenario)

    # notifications

    @CONFORMANCE_SETTINGS
    @given(
        notes=st.lists(_POOLED_NOTIFICATIONS, max_size=8),
        limits=st.lists(st.integers(0, 9), max_size=3),
    )
    def test_notifications(self, notes: list[StationNotification], limits: list[int]) -> None:
        """Per station, newest first (ties in the order added), at most ``limit``."""

        async def scenario(repository: Repository) -> None:
            for note in notes:
                async with repository.transaction() as tx:
                    await tx.notifications.add(note)
            async with repository.transaction() as tx:
                for station_id in ("ST1", "ST2", "ST3"):
                    got = await tx.notifications.list(station_id)
                    assert got == _expected_notifications(notes, station_id, 100)
                    for limit in limits:
                        got = await tx.notifications.list(station_id, limit)
                        assert got == _expected_notifications(notes, station_id, limit)

        self.run(scenario)

    def test_notification_rules(self) -> None:
        def note(station_id: str, at: datetime, text: str) -> StationNotification:
            return StationNotification(station_id, "DataTransfer", at, f'{{"n": "{text}"}}')

        later = _T0 + timedelta(seconds=1)
        notes = [note("ST1", _T0, "first"), note("ST1", later, "second"),
                 note("ST2", later, "other"), note("ST1", _T0, "third")]  # fmt: skip

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                for n in notes:
                    await tx.notifications.add(n)
                assert await tx.notifications.list("ST1") == [notes[1], notes[0], notes[3]]
                assert await tx.notifications.list("ST1", 2) == [notes[1], notes[0]]
                assert await tx.notifications.list("ST1", 0) == []
                assert await tx.notifications.list("ST2") == [notes[2]]
                assert await tx.notifications.list("nobody") == []

        self.run(scenario)

    # OCPP 2.0.1 transaction events

    @CONFORMANCE_SETTINGS
    @given(events=st.lists(_POOLED_EVENTS, max_size=10), split=st.integers(0, 10))
    def test_transaction_events(self, events: list[TransactionEventRecord], split: int) -> None:
        """Kept once per ``(station_id, transaction_id, seq_no)``, the first added;
        ``add`` says whether it kept the event; listed by ``seq_no``, per transaction."""

        async def scenario(repository: Repository) -> None:
            kept: dict[tuple[str, str, int], TransactionEventRecord] = {}
            for part in (events[:split], events[split:]):
                async with repository.transaction() as tx:
                    for event in part:
                        key = (event.station_id, event.transaction_id, event.seq_no)
                        assert await tx.transaction_events.add(event) is (key not in kept)
                        kept.setdefault(key, event)
            async with repository.transaction() as tx:
                for station_id, transaction_id in [*_EVENT_KEYS, ("ST3", "T1")]:
                    expected = [
                        kept[key]
                        for key in sorted(kept, key=lambda k: k[2])
                        if key[:2] == (station_id, transaction_id)
                    ]
                    got = await tx.transaction_events.list(station_id, transaction_id)
                    assert got == expected, (station_id, transaction_id)

        self.run(scenario)

    # OCPP 2.0.1 device models

    @CONFORMANCE_SETTINGS
    @given(
        saves=st.lists(
            st.tuples(st.sampled_from(["ST1", "ST2"]), st.lists(_POOLED_VARIABLES, max_size=4)),
            max_size=5,
        ),
        cleared=st.sampled_from([None, "ST1", "ST2", "ST3"]),
    )
    def test_device_model(
        self, saves: list[tuple[str, list[DeviceVariable]]], cleared: str | None
    ) -> None:
        """A save replaces the variables with an equal key (a later one in the same save
        wins); the list is ordered by key text; ``clear`` forgets one station's model and
        counts it; every round trip is exact."""

        async def scenario(repository: Repository) -> None:
            models: dict[str, dict[str, DeviceVariable]] = {}
            for station_id, variables in saves:
                async with repository.transaction() as tx:
                    await tx.device_model.save(station_id, variables)
                model = models.setdefault(station_id, {})
                for variable in variables:
                    model[format_key(variable.key)] = variable
            async with repository.transaction() as tx:
                if cleared is not None:
                    count = await tx.device_model.clear(cleared)
                    assert count == len(models.pop(cleared, {}))
                for station_id in ("ST1", "ST2", "ST3"):
                    got = await tx.device_model.list(station_id)
                    assert got == _expected_model(models.get(station_id, {})), station_id

        self.run(scenario)

    # the new stores in transactions

    def test_rollback_discards_every_new_store(self) -> None:
        """Nothing a failed transaction wrote to sessions, id tokens, meter values or
        notifications is kept, and what was committed before is untouched."""
        session = _session("ST1", "1", _T0)
        token = IdToken("TAG")
        sample = MeterSample(_T0, 10.0)
        note = StationNotification("ST1", "DataTransfer", _T0, "{}")
        event = TransactionEventRecord(
            "ST1",
            "T1",
            0,
            "Started",
            _T0,
            "Authorized",
            offline=False,
            received_at=_T0,
            payload="{}",
        )
        variable = DeviceVariable(VariableKey("OCPPCommCtrlr", "HeartbeatInterval"), _T0, "300")

        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                await tx.transactions.save(session)
                await tx.id_tokens.save(token)
                await tx.meter_values.add("ST1", 1, "1", [sample])
                await tx.notifications.add(note)
                await tx.transaction_events.add(event)
                await tx.device_model.save("ST1", [variable])

            async def failing() -> None:
                async with repository.transaction() as tx:
                    await tx.transactions.save(attrs.evolve(session, last_meter_wh=99))
                    await tx.transactions.save(_session("ST1", "2", _T0))
                    await tx.id_tokens.save(attrs.evolve(token, status=AuthorizationStatus.BLOCKED))
                    await tx.id_tokens.save(IdToken("OTHER"))
                    await tx.meter_values.add("ST1", 1, "1", [sample, sample])
                    await tx.meter_values.add("ST1", 1, None, [sample])
                    await tx.notifications.add(attrs.evolve(note, action="Heartbeat"))
                    assert await tx.transaction_events.add(attrs.evolve(event, seq_no=1))
                    await tx.device_model.save("ST1", [attrs.evolve(variable, value="60")])
                    await tx.device_model.save("ST2", [variable])
                    assert await tx.device_model.clear("ST1") == 1
                    await tx.transactions.allocate_id()
                    # and it reads its own writes
                    assert await tx.transactions.get("ST1", "2") is not None
                    assert len(await tx.meter_values.list("ST1", "1")) == 3
                    assert len(await tx.notifications.list("ST1")) == 2
                    assert [t.id_token for t in await tx.id_tokens.list()] == ["OTHER", "TAG"]
                    assert await tx.id_tokens.delete("TAG") is True
                    raise _Abort

            with pytest.raises(_Abort):
                await failing()
            assert await _all_transactions(repository) == [session]
            async with repository.transaction() as tx:
                assert await tx.id_tokens.list() == [token]
                assert await tx.meter_values.list("ST1", "1") == [sample]
                assert await tx.meter_values.list("ST1", None) == []
                assert await tx.notifications.list("ST1") == [note]
                assert await tx.transaction_events.list("ST1", "T1") == [event]
                assert await tx.device_model.list("ST1") == [variable]
                assert await tx.device_model.list("ST2") == []

        self.run(scenario)

    def test_new_stores_after_their_transaction(self) -> None:
        async def scenario(repository: Repository) -> None:
            async with repository.transaction() as tx:
                stores = (tx.transactions, tx.id_tokens, tx.meter_values, tx.notifications)
                events, model = tx.transaction_events, tx.device_model
            transactions, id_tokens, meter_values, notifications = stores
            calls: list[Callable[[], Awaitable[object]]] = [
                transactions.allocate_id,
                lambda: transactions.get("ST1", "1"),
                lambda: transactions.list(TransactionQuery()),
                id_tokens.list,
                lambda: meter_values.list("ST1", None),
                lambda: notifications.list("ST1"),
                lambda: events.list("ST1", "T1"),
                lambda: model.list("ST1"),
                lambda: model.clear("ST1"),
            ]
            for call in calls:
                with pytest.raises(RuntimeError):
                    await call()

        self.run(scenario)


# --- the model-based test --------------------------------------------------------------------

_STATION_IDS: Final = ["S1", "S2", "S3", "S4"]
_POOLED_STATIONS: Final = gen.stations(
    ids=st.sampled_from(_STATION_IDS),
    code_strategy=st.sampled_from(["c1", "c2", "c3", "c4", "c5", "c6", "c7"]),
    charger_ids=st.sampled_from(["ch1", "ch2", "ch3", "ch4", "ch5"]),
    connector_ids=st.sampled_from(["k1", "k2", "k3", "k4", "k5", "k6"]),
    area_ids=st.none() | st.sampled_from(["area-1", "area-2"]),
    max_chargers=2,
    max_connectors=2,
)
"""Stations drawn from small pools of ids and codes, so that saves collide and replace."""

_Outcome = tuple[str, object]


def make_stateful_test(
    factory: Callable[[], Awaitable[Repository]],
    *,
    dispose: Callable[[Repository], Awaitable[None]] | None = None,
    max_examples: int = 30,
    step_count: int = 20,
) -> type[unittest.TestCase]:
    """A :class:`unittest.TestCase` (pytest collects it) that runs random operations on a
    repository from ``factory`` (fresh and empty at each call) and on the in-memory model
    side by side, comparing every observable result. ``dispose`` is awaited on each
    repository at the end of a run (default: ``close()``)."""

    class RepositoryModelMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.loop = asyncio.new_event_loop()
            self.subject = self.loop.run_until_complete(factory())
            self.model = InMemoryRepository()
            self.last_ids: dict[str, int] = {}

        def teardown(self) -> None:
            try:
                subject = self.subject
                self.loop.run_until_complete(
                    dispose(subject) if dispose is not None else subject.close()
                )
                self.loop.run_until_complete(self.model.close())
            finally:
                self.loop.close()

        def both(self, operation: Callable[[Repository], Awaitable[object]]) -> object:
            """Run ``operation`` on both repositories; their outcomes must be equal."""

            async def outcome(repository: Repository) -> _Outcome:
                try:
                    return ("returned", await operation(repository))
                except Conflict:
                    return ("conflict", None)
                except _Abort:
                    return ("aborted", None)

            expected = self.loop.run_until_complete(outcome(self.model))
            actual = self.loop.run_until_complete(outcome(self.subject))
            assert actual == expected, f"adapter: {actual!r}\nmodel:   {expected!r}"
            return actual[1]

        @rule(station=_POOLED_STATIONS)
        def save(self, station: Station) -> None:
            async def op(repository: Repository) -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save(station)

            self.both(op)

        @rule(stations=st.lists(_POOLED_STATIONS, max_size=3))
        def save_many(self, stations: list[Station]) -> None:
            async def op(repository: Repository) -> None:
                async with repository.transaction() as tx:
                    await tx.stations.save_many(stations)

            self.both(op)

        @rule(station_id=st.sampled_from(_STATION_IDS))
        def delete(self, station_id: str) -> None:
            async def op(repository: Repository) -> bool:
                async with repository.transaction() as tx:
                    return await tx.stations.delete(station_id)

            self.both(op)

        @rule(
            first=_POOLED_STATIONS,
            second=_POOLED_STATIONS,
            victim=st.sampled_from(_STATION_IDS),
            abort=st.booleans(),
        )
        def partly_failed_transaction(
            self, first: Station, second: Station, victim: str, abort: bool
        ) -> None:
            """Writes, a conflict that is caught (or not), then a commit or an abort."""

            async def op(repository: Repository) -> str:
                async with repository.transaction() as tx:
                    await tx.stations.delete(victim)
                    try:
                        await tx.stations.save(first)
                        result = "saved"
                    except Conflict:
                        result = "first conflicted"
                    await tx.stations.save(second)
                    if abort:
                        raise _Abort
                return result

            self.both(op)

        @rule(area=gen.areas(ids=st.sampled_from(["area-1", "area-2", "area-3"])))
        def save_area(self, area: Area) -> None:
            async def op(repository: Repository) -> None:
                async with repository.transaction() as tx:
                    await tx.areas.save(area)

            self.both(op)

        @rule(area_id=st.sampled_from(["area-1", "area-2", "area-3"]))
        def delete_area(self, area_id: str) -> None:
            async def op(repository: Repository) -> bool:
                async with repository.transaction() as tx:
                    return await tx.areas.delete(area_id)

            self.both(op)

        @rule(station_id=st.sampled_from(_STATION_IDS), state=st.none() | gen.throttle_states())
        def activation_attempts(self, station_id: str, state: ThrottleState | None) -> None:
            async def op(repository: Repository) -> ThrottleState | None:
                async with repository.transaction() as tx:
                    if state is None:
                        await tx.activation_attempts.clear(station_id)
                    else:
                        await tx.activation_attempts.save(station_id, state)
                    return await tx.activation_attempts.get(station_id)

            self.both(op)

        @rule(
            lookup=st.sampled_from(
                ["get_by_code", "get_by_charger_id", "get_by_charger_code", "get_by_connector_id"]
            ),
            key=st.sampled_from(["c1", "c2", "c4", "ch1", "ch2", "k1", "k3", "S1"]),
        )
        def look_up(self, lookup: str, key: str) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    found: Station | None = await getattr(tx.stations, lookup)(key)
                    many = await tx.stations.get_many([key, "S1", "S2", "S2"])
                    return found, many

            self.both(op)

        @rule(query=_queries())
        def list_stations(self, query: StationQuery) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    page = await tx.stations.list(query)
                return list(page.items), page.total

            self.both(op)

        # charging sessions, id tokens, meter values, notifications

        @rule(transaction=_POOLED_TRANSACTIONS)
        def save_transaction(self, transaction: ChargingTransaction) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    await tx.transactions.save(transaction)
                    return await tx.transactions.get(
                        transaction.station_id, transaction.transaction_id
                    )

            self.both(op)

        @rule(
            station_id=st.sampled_from(_SESSION_STATIONS),
            transaction_id=st.sampled_from(_SESSION_IDS),
            meter_stop=st.integers(0, 500),
            at=_SESSION_TIMES,
        )
        def stop_transaction(
            self, station_id: str, transaction_id: str, meter_stop: int, at: datetime
        ) -> None:
            """A stop as the charging service does it: of a known session, or an orphan."""

            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    known = await tx.transactions.get(station_id, transaction_id)
                    stopped = (
                        orphan_stop(station_id, transaction_id, meter_stop=meter_stop,
                                    timestamp=at, reason=None, id_tag=None)
                        if known is None
                        else stop_transaction(known, meter_stop=meter_stop, timestamp=at,
                                              reason="Local", id_tag=None)
                    )  # fmt: skip
                    await tx.transactions.save(stopped)
                    return stopped

            self.both(op)

        @rule(
            station_id=st.sampled_from(_SESSION_STATIONS),
            key=st.tuples(
                st.integers(0, 2),
                st.sampled_from([None, "TAG", "tag"]),
                st.none() | _SESSION_TIMES,
                st.sampled_from([None, 0, 100]),
            ),
        )
        def find_started(
            self, station_id: str, key: tuple[int, str | None, datetime | None, int | None]
        ) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    return await tx.transactions.find_started(station_id, key)

            self.both(op)

        @rule(query=_transaction_queries())
        def list_transactions(self, query: TransactionQuery) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    page = await tx.transactions.list(query)
                return list(page.items), page.total

            self.both(op)

        def allocate_on(self, repository: Repository, count: int, abort: bool) -> list[int]:
            async def op() -> list[int]:
                async with repository.transaction() as tx:
                    ids = [await tx.transactions.allocate_id() for _ in range(count)]
                    if abort:
                        raise _Abort(ids)
                return ids

            try:
                return self.loop.run_until_complete(op())
            except _Abort as aborted:
                allocated: list[int] = aborted.args[0]
                return allocated

        @rule(count=st.integers(1, 3), abort=st.booleans())
        def allocate_ids(self, count: int, abort: bool) -> None:
            """Ids need not equal the model's, only increase and never repeat (each
            repository against its own history)."""
            for name, repository in (("model", self.model), ("adapter", self.subject)):
                ids = self.allocate_on(repository, count, abort)
                last = self.last_ids.get(name, 0)
                assert ids == sorted(set(ids)), f"{name}: {ids}"
                assert ids[0] > last, f"{name}: {ids[0]} after {last}"
                self.last_ids[name] = ids[-1]

        @rule(token=_POOLED_TOKENS)
        def save_id_token(self, token: IdToken) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    await tx.id_tokens.save(token)
                    return await tx.id_tokens.get(token.id_token)

            self.both(op)

        @rule(id_token=st.sampled_from(["A", "a", "B", "ä"]))
        def delete_id_token(self, id_token: str) -> None:
            async def op(repository: Repository) -> bool:
                async with repository.transaction() as tx:
                    return await tx.id_tokens.delete(id_token)

            self.both(op)

        @rule(
            key=st.sampled_from(_METER_KEYS),
            connector_id=st.integers(0, 2),
            samples=st.lists(gen.meter_samples(), max_size=3),
        )
        def add_meter_values(
            self, key: tuple[str, str | None], connector_id: int, samples: list[MeterSample]
        ) -> None:
            station_id, transaction_id = key

            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    await tx.meter_values.add(station_id, connector_id, transaction_id, samples)
                    return await tx.meter_values.list(station_id, transaction_id)

            self.both(op)

        @rule(note=_POOLED_NOTIFICATIONS, limit=st.integers(0, 4))
        def add_notification(self, note: StationNotification, limit: int) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    await tx.notifications.add(note)
                    return await tx.notifications.list(note.station_id, limit)

            self.both(op)

        @rule(event=_POOLED_EVENTS)
        def add_transaction_event(self, event: TransactionEventRecord) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    kept = await tx.transaction_events.add(event)
                    return kept, await tx.transaction_events.list(
                        event.station_id, event.transaction_id
                    )

            self.both(op)

        @rule(
            station_id=st.sampled_from(["ST1", "ST2"]),
            variables=st.lists(_POOLED_VARIABLES, max_size=3),
            clear=_RARELY_TRUE,
            abort=_RARELY_TRUE,
        )
        def save_device_model(
            self, station_id: str, variables: list[DeviceVariable], clear: bool, abort: bool
        ) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    cleared = await tx.device_model.clear(station_id) if clear else None
                    await tx.device_model.save(station_id, variables)
                    listed = await tx.device_model.list(station_id)
                    if abort:
                        raise _Abort
                return cleared, listed

            self.both(op)

        @rule(
            transaction=_POOLED_TRANSACTIONS,
            token=_POOLED_TOKENS,
            key=st.sampled_from(_METER_KEYS),
            samples=st.lists(gen.meter_samples(), min_size=1, max_size=2),
            note=_POOLED_NOTIFICATIONS,
            station=_POOLED_STATIONS,
            abort=st.booleans(),
        )
        def charging_transaction(
            self,
            *,
            transaction: ChargingTransaction,
            token: IdToken,
            key: tuple[str, str | None],
            samples: list[MeterSample],
            note: StationNotification,
            station: Station,
            abort: bool,
        ) -> None:
            """Writes to every store in one transaction (a station save that may conflict,
            caught), then a commit or an abort."""

            async def op(repository: Repository) -> str:
                async with repository.transaction() as tx:
                    await tx.transactions.save(transaction)
                    await tx.id_tokens.save(token)
                    await tx.meter_values.add(key[0], 1, key[1], samples)
                    await tx.notifications.add(note)
                    await tx.id_tokens.delete("B")
                    try:
                        await tx.stations.save(station)
                        result = "saved"
                    except Conflict:
                        result = "conflicted"
                    if abort:
                        raise _Abort
                return result

            self.both(op)

        @invariant()
        def same_contents(self) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    page = await tx.stations.list(StationQuery(page_size=_ALL))
                    areas = await tx.areas.list()
                    sessions = await tx.transactions.list(TransactionQuery(page_size=_ALL))
                    tokens = await tx.id_tokens.list()
                    samples = [await tx.meter_values.list(*key) for key in _METER_KEYS]
                    notes = [await tx.notifications.list(s) for s in ("ST1", "ST2")]
                    events = [await tx.transaction_events.list(*key) for key in _EVENT_KEYS]
                    models = [await tx.device_model.list(s) for s in ("ST1", "ST2")]
                return (
                    list(page.items),
                    areas,
                    list(sessions.items),
                    tokens,
                    samples,
                    notes,
                    events,
                    models,
                )

            self.both(op)

    test_case = RepositoryModelMachine.TestCase
    test_case.settings = settings(
        max_examples=max_examples,
        stateful_step_count=step_count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )
    return test_case

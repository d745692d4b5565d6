"""The repository conformance suite: every storage adapter is held to the same model.

The rules are those of :mod:`evcharge_core.ports` and, where the ports leave a choice open,
of the reference model :mod:`evcharge_core.adapters.memory` (read its module docstring).
The suite has two parts:

* :class:`RepositoryConformance`, a pytest base class whose test methods check each rule:
  round trips of generated stations, whole-aggregate replacement, deletion, the uniqueness
  conflicts and what they leave behind, commit and rollback, the serialisation of
  transactions, every filter, the search and every sort key of the station list in both
  directions against the reference model, areas, activation attempts, the ``get_by_*``
  look-ups, and ``close()``.
* :func:`make_stateful_test`, a hypothesis state machine that runs random saves, batch
  saves, deletions, failed and partly failed transactions, look-ups and list queries
  against your adapter and :class:`~evcharge_core.adapters.memory.InMemoryRepository` side
  by side, and fails on the first observable difference.

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
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ..adapters.memory import InMemoryRepository, page_of
from ..domain.activation import ThrottleState
from ..domain.model import (
    Area,
    Charger,
    Connection,
    Connector,
    ReportedInfo,
    Station,
    StatusRecord,
)
from ..domain.status import station_operational_status, station_status
from ..domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    OperationalStatus,
    PowerType,
)
from ..errors import Conflict
from ..ports import Page, Repository, SortKey, StationQuery
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

        @invariant()
        def same_contents(self) -> None:
            async def op(repository: Repository) -> object:
                async with repository.transaction() as tx:
                    page = await tx.stations.list(StationQuery(page_size=_ALL))
                    areas = await tx.areas.list()
                return list(page.items), areas

            self.both(op)

    test_case = RepositoryModelMachine.TestCase
    test_case.settings = settings(
        max_examples=max_examples,
        stateful_step_count=step_count,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors],
    )
    return test_case

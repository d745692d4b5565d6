"""The in-memory repository: the conformance suite, and what only the reference model has
to answer for (its helper functions)."""

from __future__ import annotations

from evcharge_core.adapters.memory import (
    InMemoryRepository,
    dedupe,
    find_conflict,
    sort_stations,
    station_keys,
)
from evcharge_core.domain.model import Station
from evcharge_core.ports import Repository, SortKey
from evcharge_core.testing import RepositoryConformance, make_stateful_test


class TestInMemoryRepository(RepositoryConformance):
    async def make_repository(self) -> Repository:
        return InMemoryRepository()


async def _fresh() -> Repository:
    return InMemoryRepository()


# The model against itself: checks that the state machine runs and that a fresh copy of the
# model agrees with another one (transactions, copy-on-write).
TestInMemoryRepositoryModel = make_stateful_test(_fresh, max_examples=10)


def _station(station_id: str, code: str) -> Station:
    return Station(id=station_id, name=station_id, code=code)


def test_station_keys_lists_every_unique_key() -> None:
    assert station_keys(_station("A", "X")) == [("station code", "X")]


def test_dedupe_keeps_the_last_station_of_an_id_in_first_seen_order() -> None:
    a1, b, a2 = _station("A", "1"), _station("B", "2"), _station("A", "3")
    assert dedupe([a1, b, a2]) == [a2, b]


def test_find_conflict_ignores_keys_of_replaced_stations() -> None:
    owners = {("station code", "X"): "A"}
    lookup = lambda kind, value: owners.get((kind, value))  # noqa: E731
    assert find_conflict([_station("B", "X")], lookup) == (
        "station code 'X' is already used by station 'A'"
    )
    assert find_conflict([_station("B", "X"), _station("A", "Y")], lookup) is None


def test_sort_by_id_descending_reverses() -> None:
    stations = [_station("b", "1"), _station("a", "2"), _station("c", "3")]
    assert [s.id for s in sort_stations(stations, SortKey.ID, descending=True)] == [
        "c",
        "b",
        "a",
    ]

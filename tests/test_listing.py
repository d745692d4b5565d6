"""The charger list's rules, list paging, and the formula-safe CSV exports."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from datetime import UTC, datetime, timedelta, timezone

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.domain.model import Charger, Connection, Connector, Station, StatusRecord
from evcharge_core.domain.status import USABILITY_ORDER, charger_status
from evcharge_core.domain.transactions import Transaction, TransactionState
from evcharge_core.domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    CurrentType,
    OperationalStatus,
    PowerType,
)
from evcharge_core.listing import (
    CHARGER_EXPORT_COLUMNS,
    TRANSACTION_EXPORT_COLUMNS,
    ChargerQuery,
    ChargerSortKey,
    charger_matches,
    charger_page,
    chargers_to_csv,
    iter_pages,
    neutralize_formula,
    sort_chargers,
    stations_to_csv,
    transactions_to_csv,
)
from evcharge_core.ports import Page
from evcharge_core.service import StationService
from evcharge_core.testing import strategies as gen

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _connector(n: int, amperage: int = 16, status: ConnectorStatus | None = None) -> Connector:
    return Connector(
        id=f"k{n}",
        ocpp_id=n,
        code=str(n),
        name=f"C{n}",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=amperage,
        status=None if status is None else StatusRecord(status, T0),
    )


def _stations() -> list[Station]:
    def charger(cid: str, evse: int, name: str, *connectors: Connector, **kw: object) -> Charger:
        return Charger(id=cid, evse_id=evse, code=cid.upper(), name=name,
                       connectors=connectors, **kw)  # type: ignore[arg-type]  # fmt: skip

    return [
        Station(id="B", name="Bahnhof", code="B", area_id="north",
                connection=Connection(connected=True),
                chargers=(charger("b1", 1, "Gleis", _connector(1, 32, ConnectorStatus.CHARGING)),
                          charger("b2", 2, "Straße", _connector(2, 16, ConnectorStatus.AVAILABLE),
                                  current_type=CurrentType.DC))),
        Station(id="A", name="Airport", code="A", area_id="south",
                activation=attrs.evolve(Station(id="x", name="x", code="x").activation,
                                        state=ActivationState.INACTIVE),
                chargers=(charger("a1", 1, "Arrivals", _connector(3, 8, ConnectorStatus.FAULTED)),
                          charger("a2", 2, "Empty"))),
    ]  # fmt: skip


def _ids(query: ChargerQuery) -> list[str]:
    return [c.id for _, c in charger_page(_stations(), query).items]


def test_filters_search_and_default_order() -> None:
    assert _ids(ChargerQuery()) == ["a1", "a2", "b1", "b2"]
    assert _ids(ChargerQuery(search="STRASSE")) == ["b2"]  # casefold: ß is ss
    assert _ids(ChargerQuery(search="airport")) == ["a1", "a2"]  # the station's name
    assert _ids(ChargerQuery(search="b1")) == ["b1"]  # the charger's id (and code B1)
    assert _ids(ChargerQuery(station_id="B")) == ["b1", "b2"]
    assert _ids(ChargerQuery(area_id="south")) == ["a1", "a2"]
    assert _ids(ChargerQuery(connected=True)) == ["b1", "b2"]
    assert _ids(ChargerQuery(activation=ActivationState.INACTIVE)) == ["a1", "a2"]
    assert _ids(ChargerQuery(current_type=CurrentType.DC)) == ["b2"]
    assert _ids(ChargerQuery(status=ConnectorStatus.CHARGING)) == ["b1"]
    assert _ids(ChargerQuery(operational_status=OperationalStatus.INOPERATIVE)) == ["a1"]
    assert _ids(ChargerQuery(operational_status=OperationalStatus.OPERATIVE)) == ["a2", "b1", "b2"]


def test_sort_keys_and_directions() -> None:
    def ids(key: ChargerSortKey, descending: bool = False) -> list[str]:
        return _ids(ChargerQuery(sort=key, descending=descending))

    assert ids(ChargerSortKey.STATION, descending=True) == ["b1", "b2", "a1", "a2"]
    assert ids(ChargerSortKey.CODE) == ["a1", "a2", "b1", "b2"]
    assert ids(ChargerSortKey.NAME) == ["a1", "a2", "b1", "b2"]  # Arrivals, Empty, Gleis, Straße
    assert ids(ChargerSortKey.NAME, descending=True) == ["b2", "b1", "a2", "a1"]
    # Status by usability; the charger without connectors (no status) last both ways.
    assert ids(ChargerSortKey.STATUS) == ["b2", "b1", "a1", "a2"]
    assert ids(ChargerSortKey.STATUS, descending=True) == ["a1", "b1", "b2", "a2"]
    assert ids(ChargerSortKey.MAX_POWER) == ["a1", "b2", "b1", "a2"]
    assert ids(ChargerSortKey.MAX_POWER, descending=True) == ["b1", "b2", "a1", "a2"]


def test_query_validation() -> None:
    with pytest.raises(ValueError, match="page must be 1 or more"):
        ChargerQuery(page=0)
    with pytest.raises(ValueError, match="page size must be between 1 and 1000"):
        ChargerQuery(page_size=1001)


_queries = st.builds(
    ChargerQuery,
    page=st.integers(1, 3),
    page_size=st.integers(1, 4),
    search=st.none() | st.sampled_from(["", "a", "CH", "-", "x"]),
    status=st.none() | st.sampled_from(ConnectorStatus),
    operational_status=st.none() | st.sampled_from(OperationalStatus),
    area_id=st.none() | st.sampled_from(["area-1", "area-2"]),
    connected=st.none() | st.booleans(),
    activation=st.none() | st.sampled_from(ActivationState),
    current_type=st.none() | st.sampled_from(CurrentType),
    sort=st.sampled_from(ChargerSortKey),
    descending=st.booleans(),
)
_RANK = {s: n for n, s in enumerate(USABILITY_ORDER)}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.station_lists(max_size=5), _queries)
def test_pages_hold_exactly_the_matches_in_order(
    stations: list[Station], query: ChargerQuery
) -> None:
    page = charger_page(stations, query)
    everything = charger_page(stations, attrs.evolve(query, page=1, page_size=1000)).items
    expected = {(s.id, c.id) for s in stations for c in s.chargers if charger_matches(s, c, query)}
    assert {(s.id, c.id) for s, c in everything} == expected
    assert page.total == len(expected)
    start = (query.page - 1) * query.page_size
    assert list(page.items) == list(everything[start : start + query.page_size])

    def value(item: tuple[Station, Charger]) -> object:
        station, charger = item
        if query.sort is ChargerSortKey.STATUS:
            status = charger_status(station, charger)
            return None if status is None else _RANK[status]
        if query.sort is ChargerSortKey.MAX_POWER:
            return max((c.max_power_w for c in charger.connectors), default=None)
        if query.sort is ChargerSortKey.CODE:
            return charger.code
        if query.sort is ChargerSortKey.NAME:
            return charger.name
        return station.id

    for before, after in itertools.pairwise(everything):
        a, b = value(before), value(after)
        if a is None:
            assert b is None  # missing values last
        if a is not None and b is not None and a != b:
            assert (a > b) if query.descending else (a < b)  # type: ignore[operator]
        if a == b:
            place = (before[0].id, before[1].evse_id), (after[0].id, after[1].evse_id)
            assert place[0] < place[1]  # ties by station then EVSE id, ascending


def test_sort_chargers_is_stable_on_equal_keys() -> None:
    items = [(s, c) for s in _stations() for c in s.chargers]
    assert sort_chargers(items, ChargerSortKey.STATION) == sort_chargers(
        list(reversed(items)), ChargerSortKey.STATION
    )


def test_iter_pages_walks_every_page() -> None:
    calls: list[int] = []

    async def fetch(query: ChargerQuery) -> Page[int]:
        calls.append(query.page)
        start = (query.page - 1) * query.page_size
        return Page(
            list(range(10))[start : start + query.page_size], query.page, query.page_size, 10
        )

    async def collect() -> list[int]:
        return [n async for n in iter_pages(fetch, ChargerQuery(), page_size=3)]

    assert asyncio.run(collect()) == list(range(10))
    assert calls == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("value", "safe"),
    [("=1+1", "'=1+1"), ("+1", "'+1"), ("-1", "'-1"), ("@SUM(A1)", "'@SUM(A1)"),
     ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"), ("", ""), ("a=b", "a=b")],
)  # fmt: skip
def test_neutralize_formula(value: str, safe: str) -> None:
    assert neutralize_formula(value) == safe


def test_csv_exports_are_formula_safe() -> None:
    stations = _stations()
    evil = attrs.evolve(
        stations[0],
        name='=HYPERLINK("http://x")',
        chargers=(attrs.evolve(stations[0].chargers[0], name="@cmd"),),
    )
    rows = list(csv.DictReader(io.StringIO(chargers_to_csv([(evil, evil.chargers[0])]))))
    assert list(rows[0]) == list(CHARGER_EXPORT_COLUMNS)
    assert rows[0]["station_name"] == '\'=HYPERLINK("http://x")'
    assert rows[0]["name"] == "'@cmd"
    assert (rows[0]["status"], rows[0]["connected"], rows[0]["max_power_w"]) == (
        "Charging",
        "true",
        "22080",
    )
    station_rows = list(csv.DictReader(io.StringIO(stations_to_csv([evil]))))
    assert station_rows[0]["name"] == '\'=HYPERLINK("http://x")'

    plus_two = timezone(timedelta(hours=2))
    transaction = Transaction(
        station_id="B",
        transaction_id="7",
        connector_id=1,
        id_tag="-1+1",
        started_at=datetime(2026, 1, 1, 12, tzinfo=plus_two),
        meter_start=100,
        state=TransactionState.ENDED,
        stopped_at=datetime(2026, 1, 1, 13, tzinfo=plus_two),
        meter_stop=1100,
    )
    text = transactions_to_csv([transaction])
    assert text.endswith("\r\n")
    (row,) = csv.DictReader(io.StringIO(text))
    assert list(row) == list(TRANSACTION_EXPORT_COLUMNS)
    assert row["id_tag"] == "'-1+1"
    assert (row["started_at"], row["stopped_at"]) == (
        "2026-01-01T10:00:00Z",
        "2026-01-01T11:00:00Z",
    )
    assert (row["energy_wh"], row["state"], row["orphan"], row["evse_id"]) == (
        "1000",
        "ended",
        "false",
        "",
    )


def test_service_lists_chargers_with_station_filters_pushed_down() -> None:
    async def scenario() -> None:
        repository = InMemoryRepository()
        service = StationService(repository)
        async with repository.transaction() as tx:
            await tx.stations.save_many(_stations())
        page = await service.list_chargers(ChargerQuery(page_size=2))
        assert ([c.id for _, c in page.items], page.total) == (["a1", "a2"], 4)
        one = await service.list_chargers(ChargerQuery(station_id="B", search="gleis"))
        assert [c.id for _, c in one.items] == ["b1"]
        none = await service.list_chargers(ChargerQuery(station_id="NOPE"))
        assert (list(none.items), none.total) == ([], 0)
        every = [c.id async for _, c in service.iter_chargers(ChargerQuery(page_size=1))]
        assert every == ["a1", "a2", "b1", "b2"]
        text = await service.export_chargers_csv(ChargerQuery(area_id="north"))
        assert [r["id"] for r in csv.DictReader(io.StringIO(text))] == ["b1", "b2"]
        assert '"id": "b2"' in await service.export_chargers_json(ChargerQuery(search="b2"))

    asyncio.run(scenario())

"""The map of chargers: placement, visibility, the power filter, distance order."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge_core.domain.charger_map import MapQuery, is_closed, map_chargers, visible_to
from evcharge_core.domain.geo import distance_m
from evcharge_core.domain.model import (
    Activation,
    Area,
    Charger,
    Connector,
    Station,
    StatusRecord,
)
from evcharge_core.domain.status import charger_operational_status
from evcharge_core.domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    OperationalStatus,
    PowerType,
)
from evcharge_core.testing import strategies as gen

from ..conftest import FakeClock

AREAS = {
    "near": Area(id="near", name="Near", latitude=52.5200, longitude=13.4050),
    "far": Area(id="far", name="Far", latitude=48.1372, longitude=11.5756),
    "private": Area(
        id="private",
        name="Private",
        latitude=52.5300,
        longitude=13.4000,
        private_group=frozenset({"alice", "fleet-7"}),
    ),
}


def _connector(
    n: int, amperage: int = 16, power_type: PowerType = PowerType.AC_3_PHASE
) -> Connector:
    return Connector(
        id=f"k{n}",
        ocpp_id=n,
        code=str(n),
        name=f"C{n}",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=power_type,
        voltage=230,
        amperage=amperage,
    )


def _station(
    station_id: str,
    area_id: str | None,
    *connectors: Connector,
    visible: bool = True,
    active: bool = True,
    closed_charger: bool = False,
) -> Station:
    charger = Charger(
        id=f"{station_id}-c",
        evse_id=1,
        code=f"{station_id}-1",
        name=station_id,
        connectors=connectors,
        closed=closed_charger,
    )
    state = ActivationState.ACTIVE if active else ActivationState.INACTIVE
    return Station(
        id=station_id,
        name=station_id,
        code=station_id,
        area_id=area_id,
        visible=visible,
        activation=Activation(state),
        chargers=(charger,),
    )


STATIONS = (
    _station("FAR", "far", _connector(1, 32)),  # 22 080 W
    _station("NEAR", "near", _connector(1, 16), _connector(2, 32, PowerType.AC_1_PHASE)),
    _station("HIDDEN", "private", _connector(1, 16), visible=False),
    _station("NOWHERE", None, _connector(1, 16)),
    _station("NEW", "near", _connector(1, 16), active=False),
    _station("GONE", "near", _connector(1, 16), closed_charger=True),
)
BERLIN = {"latitude": 52.52, "longitude": 13.40}


def _ids(query: MapQuery) -> list[str]:
    return [e.station.id for e in map_chargers(STATIONS, AREAS, query).entries]


def test_driver_view_nearest_first_with_distances() -> None:
    result = map_chargers(STATIONS, AREAS, MapQuery(**BERLIN))
    assert [e.station.id for e in result.entries] == ["NEAR", "FAR"]
    assert result.unlocated == 1  # NOWHERE has no area
    near, far = result.entries
    assert near.distance_m == pytest.approx(distance_m(52.52, 13.40, 52.52, 13.405))
    assert 335 < near.distance_m < 342  # type: ignore[operator]
    assert 500_000 < far.distance_m < 510_000  # type: ignore[operator]
    assert near.max_power_w == 11_040  # 3 x 230 V x 16 A beats 230 V x 32 A
    assert far.max_power_w == 22_080


def test_private_group_sees_invisible_stations() -> None:
    assert "HIDDEN" not in _ids(MapQuery(**BERLIN))
    assert "HIDDEN" not in _ids(MapQuery(**BERLIN, driver_id="bob"))
    assert _ids(MapQuery(**BERLIN, driver_id="alice")) == ["NEAR", "HIDDEN", "FAR"]
    assert "HIDDEN" in _ids(MapQuery(driver_id="bob", driver_groups={"fleet-7"}))


def test_operator_view_shows_everything_located() -> None:
    result = map_chargers(STATIONS, AREAS, MapQuery(**BERLIN, operator_view=True))
    assert [e.station.id for e in result.entries] == ["GONE", "NEAR", "NEW", "HIDDEN", "FAR"]
    assert result.unlocated == 1


def test_power_filter_keeps_connectors_with_enough_computed_power() -> None:
    result = map_chargers(STATIONS, AREAS, MapQuery(**BERLIN, min_power_w=11_040))
    near, far = result.entries
    assert [c.id for c in near.connectors] == ["k1"]  # the 7 360 W one is left out
    assert far.station.id == "FAR"
    assert _ids(MapQuery(min_power_w=20_000)) == ["FAR"]
    assert _ids(MapQuery(min_power_w=50_000)) == []


def test_radius_limit_area_and_order_without_a_point() -> None:
    assert _ids(MapQuery(**BERLIN, radius_m=10_000)) == ["NEAR"]
    assert _ids(MapQuery(**BERLIN, limit=1)) == ["NEAR"]
    assert _ids(MapQuery(area_id="far")) == ["FAR"]
    # Without a point: by area name (Far before Near), then station id.
    assert _ids(MapQuery()) == ["FAR", "NEAR"]
    assert all(e.distance_m is None for e in map_chargers(STATIONS, AREAS, MapQuery()).entries)


def test_query_validation() -> None:
    for kwargs, message in (
        ({"latitude": 1.0}, "both latitude and longitude"),
        ({"latitude": 91.0, "longitude": 0.0}, "latitude must be between"),
        ({"radius_m": 5.0}, "radius_m needs"),
        ({"min_power_w": -1}, "min_power_w"),
        ({"limit": 0}, "limit must be 1 or more"),
    ):
        with pytest.raises(ValueError, match=message):
            MapQuery(**kwargs)  # type: ignore[arg-type]


def test_disconnected_station_keeps_its_last_status() -> None:
    clock = FakeClock()
    connector = attrs.evolve(
        _connector(1), status=StatusRecord(ConnectorStatus.CHARGING, clock.now)
    )
    station = _station("ST", "near", connector)
    (entry,) = map_chargers([station], AREAS, MapQuery()).entries
    assert not entry.station.connection.connected
    assert entry.connectors[0].status is not None
    assert entry.connectors[0].status.status is ConnectorStatus.CHARGING


_areas = st.lists(gen.areas(ids=st.sampled_from(["a1", "a2", "a3"])), max_size=3).map(
    lambda areas: {a.id: a for a in areas}
)
_queries = st.builds(
    MapQuery,
    latitude=st.just(50.0),
    longitude=st.just(8.0),
    min_power_w=st.none() | st.integers(0, 60_000),
    driver_id=st.none() | st.sampled_from(["", "a", "b"]),
    driver_groups=st.frozensets(st.sampled_from(["a", "c"]), max_size=2),
    operator_view=st.booleans(),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.station_lists(max_size=5), _areas, _queries)
def test_map_rules_hold_for_any_stations(
    stations: list[Station], areas: dict[str, Area], query: MapQuery
) -> None:
    result = map_chargers(stations, areas, query)
    distances = [e.distance_m for e in result.entries]
    assert distances == sorted(distances)  # type: ignore[type-var]
    for entry in result.entries:
        assert entry.area.id == entry.station.area_id
        assert visible_to(entry.station, entry.area, query)
        assert entry.distance_m == distance_m(50.0, 8.0, entry.area.latitude, entry.area.longitude)
        if query.min_power_w is not None:
            assert entry.connectors
            assert all(c.max_power_w >= query.min_power_w for c in entry.connectors)
            dropped = set(entry.charger.connectors) - set(entry.connectors)
            assert all(c.max_power_w < query.min_power_w for c in dropped)
        else:
            assert entry.connectors == entry.charger.connectors
    # The filter only ever removes, and the operator sees a superset of any driver.
    unfiltered = map_chargers(stations, areas, attrs.evolve(query, min_power_w=None))
    keys = {(e.station.id, e.charger.id) for e in result.entries}
    assert keys <= {(e.station.id, e.charger.id) for e in unfiltered.entries}
    operator = map_chargers(stations, areas, attrs.evolve(query, operator_view=True))
    assert keys <= {(e.station.id, e.charger.id) for e in operator.entries}
    # Every charger is either placed or counted as unlocated, in the operator view.
    if query.min_power_w is None:
        everything = map_chargers(stations, areas, MapQuery(operator_view=True))
        total = sum(len(s.chargers) for s in stations)
        assert len(everything.entries) + everything.unlocated == total


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.stations(kind="operator"), st.data())
def test_is_closed_agrees_with_the_derived_operational_status(
    station: Station, data: st.DataObject
) -> None:
    """The map's shortcut says Closed exactly when the status rules do, whatever is closed
    and whatever the connectors reported."""
    station = attrs.evolve(
        station,
        closed=data.draw(st.booleans()),
        chargers=[
            attrs.evolve(
                charger,
                closed=data.draw(st.booleans()),
                connectors=[
                    attrs.evolve(c, closed=data.draw(st.booleans())) for c in charger.connectors
                ],
            )
            for charger in station.chargers
        ],
    )
    for charger in station.chargers:
        derived = charger_operational_status(station, charger) is OperationalStatus.CLOSED
        assert is_closed(station, charger) == derived

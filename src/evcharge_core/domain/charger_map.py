"""The map of chargers: which chargers a viewer sees, where, how far, and which of their
connectors pass a power filter. Pure.

**Where.** A charger is placed at its station's area's location (SPEC §7: an area is the site
on the map). A station without an area, or whose area no longer exists, has no location:
its chargers are left out of the map and counted in :attr:`MapResult.unlocated`, so an
operator can tell that some are missing and why.

**Who sees what.** A *driver view* (the default) shows the chargers of *active* stations
that are *visible*; an invisible station's chargers are shown only to a driver in its area's
private group: ``driver_id`` is in the group, or one of ``driver_groups`` is (the reference
server passes the group id of the driver's id token, so a private group can list id token
groups as well as drivers). Closed chargers (decommissioned) are left out of a driver view.
An *operator view* (``operator_view=True``) shows every located charger, whatever its
station's activation, visibility or closure.

**Power filter.** ``min_power_w`` keeps the connectors whose computed maximum power
(:func:`~evcharge_core.domain.power.max_power_w`: phase voltage, phases and amperage, capped
by the wattage limit) is at least that many watts; a charger with no such connector is left
out. The entries list only the connectors that passed.

**Distance and order.** With a point (``latitude`` and ``longitude``, both or neither) each
entry has ``distance_m``, the great-circle distance from the point to the area's location
(:func:`~evcharge_core.domain.geo.distance_m`), and entries come nearest first;
``radius_m`` then keeps those within that distance. Without a point entries come by area
name, station id and EVSE id. Ties are always broken by station id then EVSE id, so the
order is total. ``limit`` cuts the list after ordering.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import attrs

from .geo import check_coordinates, distance_m
from .model import Area, Charger, Connector, Station
from .values import ConnectorStatus

__all__ = ["MapEntry", "MapQuery", "MapResult", "is_closed", "map_chargers", "visible_to"]


def _optional_positive(_inst: object, attr: attrs.Attribute[Any], value: float | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not math.isfinite(value) or value < 0:
        raise ValueError(f"{attr.name} must be a number 0 or more, got {value}")


def _groups(value: Iterable[str]) -> frozenset[str]:
    # A typed converter: with ``converter=frozenset`` mypy types attrs.evolve()'s argument
    # with an unbound type variable.
    return frozenset(value)


@attrs.frozen
class MapQuery:
    """What a viewer of the map asks for (see the module docstring for each rule)."""

    latitude: float | None = None
    longitude: float | None = None
    min_power_w: int | None = attrs.field(default=None, validator=_optional_positive)
    driver_id: str | None = None
    driver_groups: frozenset[str] = attrs.field(default=frozenset(), converter=_groups)
    operator_view: bool = False
    area_id: str | None = None
    """Only the chargers of this area."""
    radius_m: float | None = attrs.field(default=None, validator=_optional_positive)
    limit: int | None = attrs.field(default=None)

    def __attrs_post_init__(self) -> None:
        if (self.latitude is None) != (self.longitude is None):
            raise ValueError("give both latitude and longitude, or neither")
        if self.latitude is not None and self.longitude is not None:
            check_coordinates(self.latitude, self.longitude)
        if self.radius_m is not None and self.latitude is None:
            raise ValueError("radius_m needs latitude and longitude")
        if self.limit is not None and (isinstance(self.limit, bool) or self.limit < 1):
            raise ValueError(f"limit must be 1 or more, got {self.limit}")

    @property
    def has_point(self) -> bool:
        return self.latitude is not None


@attrs.frozen
class MapEntry:
    """One charger on the map: where (``area``), how far (``distance_m``, ``None`` without a
    point), and the ``connectors`` that passed the power filter (all without one)."""

    station: Station
    charger: Charger
    area: Area
    connectors: tuple[Connector, ...]
    distance_m: float | None

    @property
    def max_power_w(self) -> int:
        """The most powerful listed connector's computed power (0 if none listed)."""
        return max((c.max_power_w for c in self.connectors), default=0)


@attrs.frozen
class MapResult:
    """The map: its entries in order, and how many chargers that would otherwise be shown
    have no location (their station has no area)."""

    entries: tuple[MapEntry, ...]
    unlocated: int


def visible_to(station: Station, area: Area | None, query: MapQuery) -> bool:
    """Whether the viewer of ``query`` may see ``station`` at all (activation, visibility
    and the private group; see the module docstring)."""
    if query.operator_view:
        return True
    if not station.is_active:
        return False
    if station.visible:
        return True
    if area is None:
        return False
    members = area.private_group
    if query.driver_id is not None and query.driver_id in members:
        return True
    return not members.isdisjoint(query.driver_groups)


def is_closed(station: Station, charger: Charger) -> bool:
    """Whether the charger's operational status is ``Closed``
    (:func:`~evcharge_core.domain.status.charger_operational_status`), decided from the
    closure flags alone: the station or the charger is closed, or every one of its
    connectors is, by its flag or by a stored ``Closed`` record (the map asks this of every
    charger, so it skips deriving statuses)."""
    if station.closed or charger.closed:
        return True
    return bool(charger.connectors) and all(
        c.closed or (c.status is not None and c.status.status is ConnectorStatus.CLOSED)
        for c in charger.connectors
    )


def _connectors(charger: Charger, query: MapQuery) -> tuple[Connector, ...]:
    if query.min_power_w is None:
        return charger.connectors
    return tuple(c for c in charger.connectors if c.max_power_w >= query.min_power_w)


def map_chargers(
    stations: Iterable[Station], areas: Mapping[str, Area], query: MapQuery
) -> MapResult:
    """The chargers of ``stations`` the viewer of ``query`` sees, placed at their area
    among ``areas`` (by id), filtered and ordered by the rules of the module docstring."""
    entries: list[MapEntry] = []
    unlocated = 0
    for station in stations:
        area = areas.get(station.area_id) if station.area_id is not None else None
        if query.area_id is not None and station.area_id != query.area_id:
            continue
        if not visible_to(station, area, query):
            continue
        for charger in station.chargers:
            connectors = _connectors(charger, query)
            if query.min_power_w is not None and not connectors:
                continue
            if not query.operator_view and is_closed(station, charger):
                continue
            if area is None:
                unlocated += 1
                continue
            distance = None
            if query.latitude is not None and query.longitude is not None:
                distance = distance_m(
                    query.latitude, query.longitude, area.latitude, area.longitude
                )
                if query.radius_m is not None and distance > query.radius_m:
                    continue
            entries.append(MapEntry(station, charger, area, connectors, distance))
    if query.has_point:
        entries.sort(key=lambda e: (e.distance_m, e.station.id, e.charger.evse_id))
    else:
        entries.sort(key=lambda e: (e.area.name, e.station.id, e.charger.evse_id))
    if query.limit is not None:
        entries = entries[: query.limit]
    return MapResult(tuple(entries), unlocated)

"""The admin API's map data: ``GET /api/map/chargers``, chargers as a GeoJSON
FeatureCollection (RFC 7946) at their area's location.

Rules (who sees what, the power filter, distance and order):
:mod:`evcharge_core.domain.charger_map`. Coordinates are ``[longitude, latitude]`` as
RFC 7946 orders them; ``distance_m`` is in metres, rounded to 0.1 m.
"""

from __future__ import annotations

import json
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from ..domain.charger_map import MapEntry, MapQuery, MapResult
from ..domain.qr import charger_qr_codes
from ..domain.status import (
    charger_operational_status,
    charger_status,
    connector_effective_status,
    connector_operational_status,
)
from ..errors import InvalidInput, Issue
from ._http import split_query
from ._lists import QueryReader
from ._schemas import ref
from ._table import AdminContext, ApiRoute, Param, Reply

__all__ = ["GEOJSON_MEDIA_TYPE", "MAP_ROUTES", "map_to_geojson"]

GEOJSON_MEDIA_TYPE: Final = "application/geo+json"


def _feature(entry: MapEntry) -> dict[str, Any]:
    station, charger, area = entry.station, entry.charger, entry.area
    status = charger_status(station, charger)
    return {
        "type": "Feature",
        "id": charger.id,
        "geometry": {"type": "Point", "coordinates": [area.longitude, area.latitude]},
        "properties": {
            "charger_id": charger.id,
            "charger_code": charger.code,
            "name": charger.name,
            "evse_id": charger.evse_id,
            "station_id": station.id,
            "station_name": station.name,
            "area_id": area.id,
            "area_name": area.name,
            "address": area.address,
            "status": None if status is None else status.value,
            "operational_status": charger_operational_status(station, charger).value,
            "online": station.connection.connected,
            "visible": station.visible,
            "current_type": charger.current_type.value,
            "max_power_w": entry.max_power_w,
            "distance_m": None if entry.distance_m is None else round(entry.distance_m, 1),
            "qr_payloads": [code.payload for code in charger_qr_codes(station, charger)],
            "connectors": [
                {
                    "id": connector.id,
                    "ocpp_id": connector.ocpp_id,
                    "code": connector.code,
                    "name": connector.name,
                    "standard": connector.standard.value,
                    "format": connector.format.value,
                    "power_type": connector.power_type.value,
                    "max_power_w": connector.max_power_w,
                    "status": _value(connector_effective_status(station, charger, connector)),
                    "operational_status": connector_operational_status(
                        station, charger, connector
                    ).value,
                }
                for connector in entry.connectors
            ],
        },
    }


def _value(member: Any) -> Any:
    return None if member is None else member.value


def map_to_geojson(result: MapResult) -> dict[str, Any]:
    """The map as a GeoJSON FeatureCollection; ``unlocated`` (a foreign member, as RFC 7946
    allows) counts the chargers left out for want of a location."""
    return {
        "type": "FeatureCollection",
        "features": [_feature(entry) for entry in result.entries],
        "unlocated": result.unlocated,
    }


_PARAMS: Final = (
    Param(
        "lat",
        "Latitude of the viewer, degrees (-90 to 90); with lon, sorts nearest first and sets "
        "distance_m.",
        {"type": "number", "minimum": -90, "maximum": 90},
    ),
    Param(
        "lon",
        "Longitude of the viewer, degrees (-180 to 180).",
        {"type": "number", "minimum": -180, "maximum": 180},
    ),
    Param(
        "min_power_w",
        "Only connectors whose computed maximum power is at least this many watts (and "
        "chargers with one).",
        {"type": "integer", "minimum": 0},
    ),
    Param(
        "driver_id",
        "The driver viewing the map: invisible stations are shown to members of their "
        "area's private group (the driver id, or the group id of the driver's id token).",
    ),
    Param("area_id", "Only chargers of this area."),
    Param(
        "radius_m",
        "Only chargers within this many metres of lat/lon.",
        {"type": "number", "minimum": 0},
    ),
    Param(
        "limit",
        "At most this many chargers (after ordering).",
        {"type": "integer", "minimum": 1, "maximum": 100000},
    ),
    Param(
        "view",
        "driver (default): active, visible (or private-group) stations, closed chargers "
        "left out; operator: every charger that has a location.",
        {"type": "string", "enum": ["driver", "operator"]},
    ),
)
_NAMES: Final = frozenset(p.name for p in _PARAMS)


_QUERY_FIELDS: Final = {"latitude": "lat", "longitude": "lon", "radius_m": "radius_m"}


async def map_chargers(request: Request, ctx: AdminContext) -> Response:
    read = QueryReader(*split_query(request, _NAMES))
    view = read.text("view") or "driver"
    if view not in ("driver", "operator"):
        read.issues.append(Issue("expected driver or operator", field="view"))
    values: dict[str, Any] = {
        "latitude": read.number("lat"),
        "longitude": read.number("lon"),
        "min_power_w": read.integer("min_power_w"),
        "driver_id": read.text("driver_id"),
        "area_id": read.text("area_id"),
        "radius_m": read.number("radius_m"),
        "limit": read.integer("limit", 1, 100_000),
        "operator_view": view == "operator",
    }
    if read.issues:
        raise InvalidInput(read.issues)
    try:
        query = MapQuery(**values)
    except ValueError as error:
        message = str(error)
        field = next((q for name, q in _QUERY_FIELDS.items() if message.startswith(name)), "lat")
        raise InvalidInput([Issue(message, field=field)]) from None
    result = await ctx.service.map_chargers(query)
    body = json.dumps(map_to_geojson(result), ensure_ascii=False, separators=(",", ":"))
    return Response(body, media_type=GEOJSON_MEDIA_TYPE)


MAP_ROUTES: Final[tuple[ApiRoute, ...]] = (
    ApiRoute(
        "GET",
        "/api/map/chargers",
        map_chargers,
        "mapChargers",
        "Chargers on the map (GeoJSON), nearest first",
        "map",
        description="A GeoJSON FeatureCollection of Point features, one per charger, at its "
        "station's area; stations without an area are left out (counted in unlocated). "
        "Error messages name the query parameter (lat, lon, radius_m...).",
        query=_PARAMS,
        replies=(
            Reply(
                200,
                "The chargers, nearest first when lat and lon are given.",
                ref("ChargerMap"),
                GEOJSON_MEDIA_TYPE,
            ),
        ),
    ),
)

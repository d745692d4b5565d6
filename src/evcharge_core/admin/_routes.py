"""The admin API's route groups: stations, chargers, connectors, areas, imports and the
operational routes (health, metrics, OpenAPI).

Handlers are thin: read the path, query and body, call one
:class:`~evcharge_core.service.StationService` use case, answer with
:mod:`evcharge_core.admin_json`'s objects. Library errors are left to the dispatcher, which
answers them as problems (see :data:`~evcharge_core.admin._http.ERROR_PROBLEMS`).
"""

from __future__ import annotations

import enum
from typing import Any, Final, TypeVar
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from .. import admin_json
from ..domain.model import Charger, Station
from ..service import ImportReport
from ._http import (
    ProblemError,
    issue_to_json,
    json_response,
    read_csv,
    read_json,
    read_json_object,
    split_query,
)
from ._lists import (
    CHARGER_LIST_ROUTES,
    EXPORT_ROUTES,
    FILTER_PARAMS,
    IGNORED_PAGE_PARAMS,
    PAGE_PARAMS,
    STATION_QUERY_NAMES,
    TRANSACTION_ROUTES,
    station_query,
)
from ._live import COMMAND_ROUTES, ID_TOKEN_ROUTES
from ._map import MAP_ROUTES
from ._metrics import METRICS_CONTENT_TYPE
from ._profiles import PROFILE_ROUTES
from ._qr import QR_ROUTES
from ._schemas import STRING, ref
from ._table import AdminContext, ApiRoute, Body, Reply

__all__ = [
    "AREA_ROUTES",
    "CHARGER_ROUTES",
    "CONNECTOR_ROUTES",
    "DEFAULT_ROUTES",
    "IMPORT_ROUTES",
    "OPERATION_ROUTES",
    "STATION_ROUTES",
    "station_query",
]

E = TypeVar("E", bound=enum.Enum)


# --- helpers ---------------------------------------------------------------------------------


def _path(request: Request, name: str) -> str:
    value: str = request.path_params[name]
    return value


def _location(request: Request, *segments: str) -> dict[str, str]:
    """A ``Location`` header for a created resource (under the app's mount point)."""
    root = request.scope.get("root_path", "")
    path = "/".join(quote(s, safe="") for s in segments)
    return {"Location": f"{root}/api/{path}"}


def _charger_holding(station: Station, connector_id: str) -> Charger:
    return next(
        charger for charger, connector in station.iter_connectors() if connector.id == connector_id
    )


def _import_result(report: ImportReport) -> dict[str, Any]:
    return {
        "imported": len(report.imported),
        "station_ids": list(report.imported),
        "replaced": list(report.replaced),
        "warnings": [issue_to_json(w) for w in report.warnings],
    }


# --- the station list ------------------------------------------------------------------------


async def list_stations(request: Request, ctx: AdminContext) -> Response:
    query = station_query(*split_query(request, STATION_QUERY_NAMES))
    page = await ctx.service.list_stations(query)
    return json_response(
        {
            "items": [ctx.service.station_json(s) for s in page.items],
            "page": page.page,
            "page_size": page.page_size,
            "total": page.total,
        }
    )


async def export_stations_csv(request: Request, ctx: AdminContext) -> Response:
    values, issues = split_query(request, STATION_QUERY_NAMES)
    values.pop("page", None)
    values.pop("page_size", None)
    text = await ctx.service.export_csv(station_query(values, issues))
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="stations.csv"'},
    )


# --- stations --------------------------------------------------------------------------------


async def create_station(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    station = await ctx.service.create_station(body)
    return json_response(
        ctx.service.station_json(station), 201, _location(request, "stations", station.id)
    )


async def get_station(request: Request, ctx: AdminContext) -> Response:
    station = await ctx.service.get_station(_path(request, "station_id"))
    return json_response(ctx.service.station_json(station))


async def update_station(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    station = await ctx.service.update_station(_path(request, "station_id"), body)
    return json_response(ctx.service.station_json(station))


async def delete_station(request: Request, ctx: AdminContext) -> Response:
    await ctx.service.delete_station(_path(request, "station_id"))
    return Response(status_code=204)


def _security_code(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("expected a string")
    return value


async def activate_station(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    values = admin_json.parse_body(
        body, {"security_code": _security_code}, required=frozenset({"security_code"})
    )
    station = await ctx.service.activate(_path(request, "station_id"), values["security_code"])
    return json_response(ctx.service.station_json(station))


async def disconnect_station(request: Request, ctx: AdminContext) -> Response:
    station = await ctx.service.get_station(_path(request, "station_id"))
    if ctx.gateway is None or not await ctx.gateway.disconnect(station.id):
        raise ProblemError(
            409, "not-connected", "Not connected", f"station {station.id} is not connected"
        )
    return json_response({"disconnected": True})


# --- chargers and connectors -----------------------------------------------------------------


async def create_charger(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    station, charger = await ctx.service.create_charger(_path(request, "station_id"), body)
    return json_response(
        admin_json.charger_to_json(station, charger),
        201,
        _location(request, "chargers", charger.id),
    )


async def get_charger(request: Request, ctx: AdminContext) -> Response:
    station, charger = await ctx.service.get_charger(_path(request, "charger_id"))
    return json_response(admin_json.charger_to_json(station, charger))


async def update_charger(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    station, charger = await ctx.service.update_charger(_path(request, "charger_id"), body)
    return json_response(admin_json.charger_to_json(station, charger))


async def delete_charger(request: Request, ctx: AdminContext) -> Response:
    await ctx.service.delete_charger(_path(request, "charger_id"))
    return Response(status_code=204)


async def create_connector(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    station, connector = await ctx.service.create_connector(_path(request, "charger_id"), body)
    charger = _charger_holding(station, connector.id)
    return json_response(
        admin_json.connector_to_json(station, charger, connector),
        201,
        _location(request, "connectors", connector.id),
    )


async def get_connector(request: Request, ctx: AdminContext) -> Response:
    found = await ctx.service.get_connector(_path(request, "connector_id"))
    return json_response(admin_json.connector_to_json(*found))


async def update_connector(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    station, connector = await ctx.service.update_connector(_path(request, "connector_id"), body)
    charger = _charger_holding(station, connector.id)
    return json_response(admin_json.connector_to_json(station, charger, connector))


async def delete_connector(request: Request, ctx: AdminContext) -> Response:
    await ctx.service.delete_connector(_path(request, "connector_id"))
    return Response(status_code=204)


# --- areas -----------------------------------------------------------------------------------


async def list_areas(request: Request, ctx: AdminContext) -> Response:
    areas = await ctx.service.list_areas()
    return json_response({"items": [admin_json.area_to_json(a) for a in areas]})


async def create_area(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    area = await ctx.service.create_area(body)
    return json_response(admin_json.area_to_json(area), 201, _location(request, "areas", area.id))


async def get_area(request: Request, ctx: AdminContext) -> Response:
    area = await ctx.service.get_area(_path(request, "area_id"))
    return json_response(admin_json.area_to_json(area))


async def update_area(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    area = await ctx.service.update_area(_path(request, "area_id"), body)
    return json_response(admin_json.area_to_json(area))


async def delete_area(request: Request, ctx: AdminContext) -> Response:
    await ctx.service.delete_area(_path(request, "area_id"))
    return Response(status_code=204)


# --- imports ---------------------------------------------------------------------------------


async def import_stations(request: Request, ctx: AdminContext) -> Response:
    data = await read_csv(request, ctx.max_body_size)
    return json_response(_import_result(await ctx.service.import_csv(data)))


async def import_single_station(request: Request, ctx: AdminContext) -> Response:
    body = await read_json(request, ctx.max_body_size)
    return json_response(_import_result(await ctx.service.import_single(body)))


# --- operations ------------------------------------------------------------------------------


async def healthz(request: Request, ctx: AdminContext) -> Response:
    return json_response({"status": "ok"})


async def metrics(request: Request, ctx: AdminContext) -> Response:
    await ctx.metrics.refresh(ctx.service)
    return Response(ctx.metrics.render(), media_type=METRICS_CONTENT_TYPE)


async def openapi(request: Request, ctx: AdminContext) -> Response:
    document = ctx.openapi()
    root = request.scope.get("root_path", "")
    if root:
        document = {**document, "servers": [{"url": root}]}
    return json_response(document)


# --- the tables ------------------------------------------------------------------------------

_STATION: Final = ref("Station")
_CHARGER: Final = ref("Charger")
_CONNECTOR: Final = ref("Connector")
_AREA: Final = ref("Area")
_CREATED: Final = {"Location": "The new resource's URL."}
_DELETED: Final = Reply(204, "Deleted.")

STATION_ROUTES: Final = (
    ApiRoute(
        "GET",
        "/api/stations",
        list_stations,
        "listStations",
        "List stations (paginated, filtered, sorted)",
        "stations",
        query=(*PAGE_PARAMS, *FILTER_PARAMS),
        replies=(Reply(200, "One page of stations.", ref("StationPage")),),
    ),
    ApiRoute(
        "GET",
        "/api/stations.csv",
        export_stations_csv,
        "exportStationsCsv",
        "Export every matching station as CSV",
        "stations",
        description="Cells that a spreadsheet would evaluate as a formula are prefixed "
        "with ' (CSV injection).",
        query=(*FILTER_PARAMS, *IGNORED_PAGE_PARAMS),
        replies=(Reply(200, "The stations as CSV, header first.", STRING, "text/csv"),),
    ),
    ApiRoute(
        "POST",
        "/api/stations",
        create_station,
        "createStation",
        "Create a station (active at once)",
        "stations",
        body=Body(ref("StationCreate")),
        replies=(Reply(201, "The station created.", _STATION, headers=_CREATED),),
        problems=(409,),
    ),
    ApiRoute(
        "GET",
        "/api/stations/{station_id}",
        get_station,
        "getStation",
        "Get a station",
        "stations",
        replies=(Reply(200, "The station.", _STATION),),
    ),
    ApiRoute(
        "PATCH",
        "/api/stations/{station_id}",
        update_station,
        "updateStation",
        "Change the fields given",
        "stations",
        body=Body(ref("StationUpdate")),
        replies=(Reply(200, "The station as changed.", _STATION),),
        problems=(409,),
    ),
    ApiRoute(
        "DELETE",
        "/api/stations/{station_id}",
        delete_station,
        "deleteStation",
        "Delete a station with its chargers and connectors",
        "stations",
        replies=(_DELETED,),
    ),
    ApiRoute(
        "POST",
        "/api/stations/{station_id}/activate",
        activate_station,
        "activateStation",
        "Activate an imported station with its security code",
        "stations",
        description="An unknown station ID and a wrong code are the same 422 "
        "(activation-mismatch) on purpose. Failed attempts are throttled per station ID.",
        body=Body(ref("ActivationRequest")),
        replies=(Reply(200, "The station, now active.", _STATION),),
        problems=(409, 429),
    ),
    ApiRoute(
        "POST",
        "/api/stations/{station_id}/disconnect",
        disconnect_station,
        "disconnectStation",
        "Close the station's websocket",
        "stations",
        replies=(Reply(200, "The connection is closed.", ref("Disconnected")),),
        problems=(409,),
    ),
)

CHARGER_ROUTES: Final = (
    ApiRoute(
        "POST",
        "/api/stations/{station_id}/chargers",
        create_charger,
        "createCharger",
        "Add a charger to a station",
        "chargers",
        description="evse_id defaults to the next free one, code to {station code}-{evse_id}.",
        body=Body(ref("ChargerInput")),
        replies=(Reply(201, "The charger created.", _CHARGER, headers=_CREATED),),
        problems=(409,),
    ),
    ApiRoute(
        "GET",
        "/api/chargers/{charger_id}",
        get_charger,
        "getCharger",
        "Get a charger",
        "chargers",
        replies=(Reply(200, "The charger.", _CHARGER),),
    ),
    ApiRoute(
        "PATCH",
        "/api/chargers/{charger_id}",
        update_charger,
        "updateCharger",
        "Change the fields given",
        "chargers",
        body=Body(ref("ChargerInput")),
        replies=(Reply(200, "The charger as changed.", _CHARGER),),
        problems=(409,),
    ),
    ApiRoute(
        "DELETE",
        "/api/chargers/{charger_id}",
        delete_charger,
        "deleteCharger",
        "Delete a charger with its connectors",
        "chargers",
        replies=(_DELETED,),
    ),
)

CONNECTOR_ROUTES: Final = (
    ApiRoute(
        "POST",
        "/api/chargers/{charger_id}/connectors",
        create_connector,
        "createConnector",
        "Add a connector to a charger",
        "connectors",
        body=Body(ref("ConnectorInput")),
        replies=(Reply(201, "The connector created.", _CONNECTOR, headers=_CREATED),),
        problems=(409,),
    ),
    ApiRoute(
        "GET",
        "/api/connectors/{connector_id}",
        get_connector,
        "getConnector",
        "Get a connector",
        "connectors",
        replies=(Reply(200, "The connector.", _CONNECTOR),),
    ),
    ApiRoute(
        "PATCH",
        "/api/connectors/{connector_id}",
        update_connector,
        "updateConnector",
        "Change the fields given",
        "connectors",
        body=Body(ref("ConnectorInput")),
        replies=(Reply(200, "The connector as changed.", _CONNECTOR),),
        problems=(409,),
    ),
    ApiRoute(
        "DELETE",
        "/api/connectors/{connector_id}",
        delete_connector,
        "deleteConnector",
        "Delete a connector",
        "connectors",
        replies=(_DELETED,),
    ),
)

AREA_ROUTES: Final = (
    ApiRoute(
        "GET",
        "/api/areas",
        list_areas,
        "listAreas",
        "List every area (by name)",
        "areas",
        replies=(Reply(200, "The areas.", ref("AreaList")),),
    ),
    ApiRoute(
        "POST",
        "/api/areas",
        create_area,
        "createArea",
        "Create an area",
        "areas",
        body=Body(ref("AreaCreate")),
        replies=(Reply(201, "The area created.", _AREA, headers=_CREATED),),
        problems=(409,),
    ),
    ApiRoute(
        "GET",
        "/api/areas/{area_id}",
        get_area,
        "getArea",
        "Get an area",
        "areas",
        replies=(Reply(200, "The area.", _AREA),),
    ),
    ApiRoute(
        "PATCH",
        "/api/areas/{area_id}",
        update_area,
        "updateArea",
        "Change the fields given",
        "areas",
        body=Body(ref("AreaUpdate")),
        replies=(Reply(200, "The area as changed.", _AREA),),
    ),
    ApiRoute(
        "DELETE",
        "/api/areas/{area_id}",
        delete_area,
        "deleteArea",
        "Delete an area no station belongs to",
        "areas",
        replies=(_DELETED,),
        problems=(409,),
    ),
)

IMPORT_ROUTES: Final = (
    ApiRoute(
        "POST",
        "/api/stations/import",
        import_stations,
        "importStations",
        "Import stations from a CSV file (all or nothing)",
        "import",
        description="The CSV format of the CSV format guide, UTF-8. On errors nothing is "
        "imported: the 422 problem's errors hold the first 100, located by line and "
        "column, and error_count the total.",
        body=Body({"type": "string"}, "text/csv", "The CSV file."),
        replies=(Reply(200, "Every station was imported.", ref("ImportResult")),),
    ),
    ApiRoute(
        "POST",
        "/api/stations/import-single",
        import_single_station,
        "importSingleStation",
        "Import one station from JSON",
        "import",
        description="Errors are located by field.",
        body=Body(ref("SingleStationImport")),
        replies=(Reply(200, "The station was imported.", ref("ImportResult")),),
    ),
)

OPERATION_ROUTES: Final = (
    ApiRoute(
        "GET",
        "/healthz",
        healthz,
        "healthz",
        "Liveness",
        "operations",
        replies=(Reply(200, "The API is up.", ref("Health")),),
        public=True,
    ),
    ApiRoute(
        "GET",
        "/metrics",
        metrics,
        "metrics",
        "Prometheus metrics",
        "operations",
        replies=(Reply(200, "Prometheus text format.", STRING, "text/plain"),),
        public=True,
    ),
    ApiRoute(
        "GET",
        "/openapi.json",
        openapi,
        "openapi",
        "This OpenAPI document",
        "operations",
        replies=(Reply(200, "OpenAPI 3.1.", {"type": "object"}),),
    ),
)

DEFAULT_ROUTES: Final[tuple[ApiRoute, ...]] = (
    *OPERATION_ROUTES,
    *IMPORT_ROUTES,
    *STATION_ROUTES,
    *EXPORT_ROUTES,
    *CHARGER_LIST_ROUTES,
    *CHARGER_ROUTES,
    *CONNECTOR_ROUTES,
    *QR_ROUTES,
    *AREA_ROUTES,
    *PROFILE_ROUTES,
    *MAP_ROUTES,
    *COMMAND_ROUTES,
    *ID_TOKEN_ROUTES,
    *TRANSACTION_ROUTES,
)
"""Every route of the admin API, in the order the OpenAPI document lists them."""

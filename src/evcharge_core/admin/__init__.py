"""The admin HTTP API: an ASGI application (Starlette) over
:class:`~evcharge_core.service.StationService`.

::

    from evcharge_core.admin import create_app

    app = create_app(service, token="s3cret", gateway=gateway)

Serve it with any ASGI server (the reference server runs it with uvicorn), or mount it in
your own Starlette or FastAPI service: ``outer.mount("/evcharge", app)``. Routes, error
format and metrics are described in the admin API guide (``docs/admin-api.md``).

The module is organised around a route table: every operation is an :class:`ApiRoute`
(method, path, handler and what the OpenAPI document says about it), grouped in sequences
(:data:`STATION_ROUTES`, ..., the lists and exports :data:`EXPORT_ROUTES`,
:data:`CHARGER_LIST_ROUTES` and :data:`TRANSACTION_ROUTES`, :data:`QR_ROUTES`,
:data:`MAP_ROUTES`, the live :data:`COMMAND_ROUTES` and :data:`ID_TOKEN_ROUTES`). The app
serves exactly its table and ``/openapi.json`` describes exactly that table, so they cannot
drift. To add a group of routes, write its
handlers (``async def handler(request, ctx: AdminContext) -> Response``), list them as
``ApiRoute`` values, and add the sequence to the table given to :func:`create_app`.
"""

from __future__ import annotations

from ._app import DEFAULT_MAX_BODY_SIZE, create_app
from ._http import (
    ERROR_PROBLEMS,
    PROBLEM_MEDIA_TYPE,
    PROBLEM_TYPE_BASE,
    ErrorProblem,
    ProblemError,
    issue_to_json,
    json_response,
    problem_for_error,
    query_values,
    read_csv,
    read_json,
    read_json_object,
    split_query,
)
from ._lists import (
    CHARGER_LIST_ROUTES,
    EXPORT_ROUTES,
    TRANSACTION_ROUTES,
    QueryReader,
    charger_item_to_json,
    charger_query,
    transaction_query,
    transaction_to_json,
)
from ._live import (
    COMMAND_ROUTES,
    ID_TOKEN_FIELDS,
    ID_TOKEN_ROUTES,
    id_token_to_json,
)
from ._map import GEOJSON_MEDIA_TYPE, MAP_ROUTES, map_to_geojson
from ._metrics import AdminMetrics
from ._qr import QR_ROUTES, qr_code_to_json
from ._routes import (
    AREA_ROUTES,
    CHARGER_ROUTES,
    CONNECTOR_ROUTES,
    DEFAULT_ROUTES,
    IMPORT_ROUTES,
    OPERATION_ROUTES,
    STATION_ROUTES,
    station_query,
)
from ._schemas import SCHEMAS
from ._table import (
    AdminContext,
    ApiRoute,
    Body,
    Gateway,
    Handler,
    Param,
    Reply,
    openapi_document,
)

__all__ = [
    "AREA_ROUTES",
    "CHARGER_LIST_ROUTES",
    "CHARGER_ROUTES",
    "COMMAND_ROUTES",
    "CONNECTOR_ROUTES",
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_ROUTES",
    "ERROR_PROBLEMS",
    "EXPORT_ROUTES",
    "GEOJSON_MEDIA_TYPE",
    "ID_TOKEN_FIELDS",
    "ID_TOKEN_ROUTES",
    "IMPORT_ROUTES",
    "MAP_ROUTES",
    "OPERATION_ROUTES",
    "PROBLEM_MEDIA_TYPE",
    "PROBLEM_TYPE_BASE",
    "QR_ROUTES",
    "SCHEMAS",
    "STATION_ROUTES",
    "TRANSACTION_ROUTES",
    "AdminContext",
    "AdminMetrics",
    "ApiRoute",
    "Body",
    "ErrorProblem",
    "Gateway",
    "Handler",
    "Param",
    "ProblemError",
    "QueryReader",
    "Reply",
    "charger_item_to_json",
    "charger_query",
    "create_app",
    "id_token_to_json",
    "issue_to_json",
    "json_response",
    "map_to_geojson",
    "openapi_document",
    "problem_for_error",
    "qr_code_to_json",
    "query_values",
    "read_csv",
    "read_json",
    "read_json_object",
    "split_query",
    "station_query",
    "transaction_query",
    "transaction_to_json",
]

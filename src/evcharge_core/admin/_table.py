"""The route table: each route of the admin API as data, and the OpenAPI document built
from it.

A route is an :class:`ApiRoute`: method, path (Starlette's ``{name}`` syntax, which is also
OpenAPI's), the handler, and what the OpenAPI document says about it. The app serves exactly
the routes of its table and :func:`openapi_document` describes exactly those, so the two
cannot drift. A group of routes is a sequence of them; adding a group is writing one more
sequence and appending it to the app's table.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
from starlette.requests import Request
from starlette.responses import Response

from .. import __version__
from ..service import StationService
from ._metrics import AdminMetrics
from ._schemas import SCHEMAS, ref

if TYPE_CHECKING:
    from ..balancing import Balancer, ProfileSender
    from ..charging import ChargingService
    from ..commands import CommandService

__all__ = [
    "AdminContext",
    "ApiRoute",
    "Body",
    "Gateway",
    "Handler",
    "Param",
    "Reply",
    "openapi_document",
    "path_parameters",
]


class Gateway(Protocol):
    """What the admin API needs from the station transport
    (:class:`~evcharge_core.adapters.websocket.WebsocketGateway` is one)."""

    def connected_station_ids(self) -> Collection[str]:
        """The IDs of the stations connected now."""
        ...

    async def disconnect(self, station_id: str) -> bool:
        """Close the station's connection; ``False`` if it has none."""
        ...


class AdminContext:
    """What handlers work with: the service, the gateway (``None`` when the app runs
    without one: live commands then answer 409), the operator commands (``None``: live
    commands answer 409), the charging service (id tokens, transactions), the metrics and
    the limits."""

    def __init__(
        self,
        service: StationService,
        *,
        gateway: Gateway | None,
        metrics: AdminMetrics,
        routes: tuple[ApiRoute, ...],
        max_body_size: int,
        commands: CommandService | None = None,
        charging: ChargingService | None = None,
        balancer: Balancer | None = None,
        profiles: ProfileSender | None = None,
    ) -> None:
        self.service = service
        self.balancer = balancer
        """The running balancer (its live allocations); ``None``: computed from storage."""
        self.profiles = profiles
        """Sends charger profiles (their last outcome per charger); may be ``None``."""
        self.gateway = gateway
        self.commands = commands
        self.charging = charging
        self.metrics = metrics
        self.routes = routes
        self.max_body_size = max_body_size
        self._openapi: dict[str, Any] | None = None

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI document of :attr:`routes` (built once)."""
        if self._openapi is None:
            self._openapi = openapi_document(self.routes)
        return self._openapi


Handler = Callable[[Request, AdminContext], Awaitable[Response]]
"""A route's handler: the request and the app's context in, the response out. Raise a
library error or a :class:`~evcharge_core.admin.ProblemError` for an error answer."""


@attrs.frozen
class Param:
    """A query parameter."""

    name: str
    description: str
    schema: Mapping[str, Any] = attrs.field(factory=lambda: {"type": "string"})
    required: bool = False


@attrs.frozen
class Body:
    """A request body."""

    schema: Mapping[str, Any]
    media_type: str = "application/json"
    description: str = ""


@attrs.frozen
class Reply:
    """A successful response. ``headers`` maps header names to their descriptions."""

    status: int
    description: str
    schema: Mapping[str, Any] | None = None
    media_type: str = "application/json"
    headers: Mapping[str, str] = attrs.field(factory=dict)


@attrs.frozen
class ApiRoute:
    """One operation of the admin API.

    ``problems`` lists the error statuses particular to the route; the document adds the
    common ones (401 unless ``public``; 400, 413 and 415 with a body; 404 with a path
    parameter; 422 with a body or query; 503 and 500). ``public`` routes need no token.
    ``path_params`` describes path parameters the common table does not.
    """

    method: str
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    description: str = ""
    query: tuple[Param, ...] = ()
    body: Body | None = None
    replies: tuple[Reply, ...] = ()
    problems: tuple[int, ...] = ()
    public: bool = False
    path_params: Mapping[str, str] = attrs.field(factory=dict)


_PATH_PARAM: Final = re.compile(r"{(\w+)}")

_PATH_PARAM_DESCRIPTIONS: Final = {
    "station_id": "The station's OCPP identity.",
    "charger_id": "The charger's ID.",
    "connector_id": "The connector's ID.",
    "area_id": "The area's ID.",
    "key": "The configuration key.",
    "action": "The OCPP action (e.g. GetLocalListVersion).",
    "id_token": "The id token (id tag).",
}

_PROBLEM_DESCRIPTIONS: Final = {
    400: "Malformed body: not UTF-8 or not JSON (located by ``line`` and ``column``).",
    401: "Missing or wrong bearer token.",
    404: "No such resource.",
    409: "Conflicts with the stored state.",
    413: "Body too large.",
    415: "Wrong content type.",
    422: "Invalid input; ``errors`` lists every problem, located.",
    429: "Too many attempts; retry after ``Retry-After`` seconds.",
    500: "Unexpected error (logged on the server).",
    502: "The station answered with a CallError (``code``, ``description``) or broke the protocol.",
    503: "Storage unavailable.",
    504: "The station did not answer in time.",
}


def path_parameters(path: str) -> list[str]:
    """The names of ``path``'s ``{parameters}``, in order."""
    return _PATH_PARAM.findall(path)


def _problem_statuses(route: ApiRoute) -> list[int]:
    statuses = set(route.problems) | {500}
    if not route.public:
        statuses |= {401, 503}
    if route.body is not None:
        statuses |= {400, 413, 415, 422}
    if route.query:
        statuses.add(422)
    if path_parameters(route.path):
        statuses.add(404)
    return sorted(statuses)


def _operation(route: ApiRoute) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "description": route.path_params.get(name) or _PATH_PARAM_DESCRIPTIONS.get(name, ""),
            "schema": {"type": "string"},
        }
        for name in path_parameters(route.path)
    ]
    parameters += [
        {
            "name": p.name,
            "in": "query",
            "required": p.required,
            "description": p.description,
            "schema": dict(p.schema),
        }
        for p in route.query
    ]
    responses: dict[str, Any] = {}
    for reply in route.replies:
        response: dict[str, Any] = {"description": reply.description}
        if reply.schema is not None:
            response["content"] = {reply.media_type: {"schema": dict(reply.schema)}}
        if reply.headers:
            response["headers"] = {
                name: {"description": text, "schema": {"type": "string"}}
                for name, text in reply.headers.items()
            }
        responses[str(reply.status)] = response
    for status in _problem_statuses(route):
        problem: dict[str, Any] = {
            "description": _PROBLEM_DESCRIPTIONS.get(status, "Error."),
            "content": {"application/problem+json": {"schema": ref("Problem")}},
        }
        if status == 401:
            problem["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if status == 429:
            problem["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        responses[str(status)] = problem
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "tags": [route.tag],
        "responses": responses,
    }
    if route.description:
        operation["description"] = route.description
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        operation["requestBody"] = {
            "required": True,
            "description": route.body.description,
            "content": {route.body.media_type: {"schema": dict(route.body.schema)}},
        }
    if route.public:
        operation["security"] = []
    return operation


def openapi_document(
    routes: Iterable[ApiRoute], *, title: str = "evcharge_core admin API"
) -> dict[str, Any]:
    """The OpenAPI 3.1 document describing ``routes``."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": __version__,
            "description": "Stations, chargers, connectors, areas, live commands, id "
            "tokens and transactions of an evcharge_core CSMS. Every route but the public "
            "ones needs `Authorization: Bearer TOKEN`. "
            "Errors are RFC 9457 problem details (`application/problem+json`).",
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": copy.deepcopy(SCHEMAS),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The admin token (`--admin-token`, "
                    "`EVCHARGE_ADMIN_TOKEN`, or the one the server printed at start-up).",
                }
            },
        },
    }

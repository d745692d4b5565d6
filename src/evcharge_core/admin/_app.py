""":func:`create_app`: the route table turned into a Starlette application."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Final

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..balancing import Balancer, ProfileSender
from ..charging import ChargingService
from ..commands import CommandService
from ..errors import EvchargeError
from ..service import StationService
from ._console import console_routes, load_console
from ._http import (
    ProblemError,
    check_bearer,
    http_problem,
    problem_for_error,
    token_digest,
)
from ._metrics import ROUTE_SCOPE_KEY, AdminMetrics, MetricsMiddleware
from ._routes import DEFAULT_ROUTES
from ._table import AdminContext, ApiRoute, Gateway, path_parameters

__all__ = ["DEFAULT_MAX_BODY_SIZE", "create_app"]

logger = logging.getLogger("evcharge_core.admin")

DEFAULT_MAX_BODY_SIZE: Final = 16 * 1024 * 1024
"""The largest request body accepted (a CSV import of 5000 stations is about 2 MB)."""


def _internal_error() -> Response:
    return ProblemError(
        500,
        "internal-error",
        "Internal Server Error",
        "an unexpected error occurred; it has been logged on the server",
    ).response()


def _dispatcher(
    path: str, operations: dict[str, ApiRoute], ctx: AdminContext, digest: bytes
) -> Route:
    """One Starlette route per path, dispatching on the method, so that a method the path
    does not have is a 405 naming every method it has."""

    async def endpoint(request: Request) -> Response:
        request.scope[ROUTE_SCOPE_KEY] = path
        method = request.method
        route = operations.get("GET" if method == "HEAD" else method)
        if route is None:  # pragma: no cover - Starlette answers 405 before calling us
            http_problem(405, f"{method} is not allowed on {path}")
        try:
            if not route.public:
                check_bearer(request, digest)
            return await route.handler(request, ctx)
        except ProblemError as problem:
            return problem.response()
        except EvchargeError as error:
            mapped = problem_for_error(error)
            if mapped is not None:
                return mapped.response()
            logger.exception("admin API: %s %s: unmapped error", method, path)
            return _internal_error()
        except Exception:
            logger.exception("admin API: %s %s failed", method, path)
            return _internal_error()

    return Route(path, endpoint, methods=list(operations), name=path)


def _http_exception_handler(
    digest: bytes,
) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def handle(request: Request, exc: Exception) -> Response:
        """Starlette's own 404 (no route) and 405 (no such method on a route) as problems.
        An unknown route needs the token too: without it, 401 (routes are not revealed)."""
        assert isinstance(exc, HTTPException)
        try:
            if exc.status_code in (404, 405):
                check_bearer(request, digest)
            if exc.status_code == 404:
                http_problem(404, f"no route {request.method} {request.url.path}")
            if exc.status_code == 405:
                allowed = (exc.headers or {}).get("Allow", "")
                http_problem(
                    405,
                    f"{request.method} is not allowed on {request.url.path} (use {allowed})",
                    exc.headers,
                )
            http_problem(exc.status_code, exc.detail, exc.headers)
        except ProblemError as problem:
            return problem.response()

    return handle


async def _server_error_handler(request: Request, exc: Exception) -> Response:
    """The last resort (an error outside any handler): a problem without a traceback.
    Starlette re-raises the error afterwards so that the server logs it."""
    return _internal_error()


def create_app(
    service: StationService,
    *,
    token: str,
    gateway: Gateway | None = None,
    metrics: CollectorRegistry | None = None,
    routes: Iterable[ApiRoute] = DEFAULT_ROUTES,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    commands: CommandService | None = None,
    charging: ChargingService | None = None,
    console: bool = True,
    balancer: Balancer | None = None,
    profiles: ProfileSender | None = None,
) -> Starlette:
    """The admin HTTP API as an ASGI application.

    ``token`` is the bearer token every route but ``/healthz`` and ``/metrics`` requires.
    ``gateway`` closes station connections and counts them; without one (an app embedded
    where no gateway runs) ``disconnect`` answers 409 "not connected". ``metrics`` is the
    Prometheus registry to register the API's metrics in (default: a new one per app).
    ``routes`` is the route table (default: :data:`DEFAULT_ROUTES`; add groups by passing
    ``(*DEFAULT_ROUTES, *more)``). ``commands`` sends live commands to connected stations
    (without it they answer 409 "not connected"); ``charging`` serves id tokens and
    transactions (default: a :class:`~evcharge_core.charging.ChargingService` over the
    service's repository). ``balancer`` is the running
    :class:`~evcharge_core.balancing.Balancer` whose allocations the allocations route and
    the metrics show (without one, allocations are computed from the stored state);
    ``profiles`` the :class:`~evcharge_core.balancing.ProfileSender` whose outcomes the
    charger profile route shows. ``console`` (default ``True``) also serves the web console
    at ``/`` and its files under ``/console/``, without the token (see
    :mod:`evcharge_core.admin._console`). The app's state holds ``admin`` (the
    :class:`AdminContext`) and ``metrics`` (the registry), for code that adds metrics.
    """
    if not token:
        raise ValueError("the admin token must not be empty")
    table = tuple(routes)
    by_path: dict[str, dict[str, ApiRoute]] = {}
    for route in table:
        operations = by_path.setdefault(route.path, {})
        if route.method in operations:
            raise ValueError(f"two routes for {route.method} {route.path}")
        operations[route.method] = route
    connected = None
    if gateway is not None:
        live = gateway

        def connected() -> int:
            return len(live.connected_station_ids())

    admin_metrics = AdminMetrics(metrics, connected=connected, balancer=balancer)
    ctx = AdminContext(
        service,
        gateway=gateway,
        metrics=admin_metrics,
        routes=table,
        max_body_size=max_body_size,
        commands=commands,
        charging=charging if charging is not None else ChargingService(service.repository),
        balancer=balancer,
        profiles=profiles,
    )
    digest = token_digest(token)
    # Fixed paths before parameterised ones, so that /api/stations/import is never taken
    # for a station ID.
    paths = sorted(by_path, key=lambda p: bool(path_parameters(p)))
    starlette_routes: list[BaseRoute] = [
        _dispatcher(path, by_path[path], ctx, digest) for path in paths
    ]
    if console:
        starlette_routes += console_routes(load_console())
    app = Starlette(
        routes=starlette_routes,
        middleware=[Middleware(MetricsMiddleware, metrics=admin_metrics)],
        exception_handlers={
            HTTPException: _http_exception_handler(digest),
            Exception: _server_error_handler,
        },
    )
    # A missing or extra slash is a 404 problem, not a redirect (which clients would follow
    # with another method, or without the token).
    app.router.redirect_slashes = False
    app.state.admin = ctx
    app.state.metrics = admin_metrics.registry
    return app

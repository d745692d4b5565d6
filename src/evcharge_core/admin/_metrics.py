"""Prometheus metrics of the admin API, in a registry of each app's own.

Each app gets its own :class:`~prometheus_client.CollectorRegistry` (unless given one), so
that several apps in one process (tests, or two embedded cores) do not clash over metric
names, and the process-wide default registry stays the embedding service's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..balancing import Balancer
from ..domain.values import ActivationState
from ..errors import StorageError
from ..ports import StationQuery
from ..service import StationService

__all__ = ["METRICS_CONTENT_TYPE", "ROUTE_SCOPE_KEY", "AdminMetrics", "MetricsMiddleware"]

logger = logging.getLogger("evcharge_core.admin")

METRICS_CONTENT_TYPE: Final = CONTENT_TYPE_LATEST
ROUTE_SCOPE_KEY: Final = "evcharge_core.route"
"""The ASGI scope key where the dispatcher leaves the matched route's path template."""

_KNOWN_METHODS: Final = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class AdminMetrics:
    """The admin API's metrics.

    ``connected`` counts the stations with an open connection (the gateway's live count);
    without it, :meth:`refresh` counts the stations stored as connected instead.
    """

    def __init__(
        self,
        registry: CollectorRegistry | None = None,
        *,
        connected: Callable[[], int] | None = None,
        balancer: Balancer | None = None,
    ) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self.balancer = balancer
        self.area_current = Gauge(
            "evcharge_area_phase_current_amperes",
            "Each balanced area's allocated current per phase (A).",
            ["area", "phase"],
            registry=self.registry,
        )
        self.area_power = Gauge(
            "evcharge_area_power_watts",
            "Each balanced area's allocated power (W).",
            ["area"],
            registry=self.registry,
        )
        self.area_limit_current = Gauge(
            "evcharge_area_limit_amperes",
            "Each balanced area's output limit per phase (A), where it has one.",
            ["area"],
            registry=self.registry,
        )
        self.area_limit_power = Gauge(
            "evcharge_area_limit_watts",
            "Each balanced area's output limit (W), where it has one.",
            ["area"],
            registry=self.registry,
        )
        self.area_paused = Gauge(
            "evcharge_area_paused_connectors",
            "Connectors of each balanced area paused at 0 for lack of capacity.",
            ["area"],
            registry=self.registry,
        )
        self.connected_stations = Gauge(
            "evcharge_connected_stations",
            "Stations with an open websocket connection.",
            registry=self.registry,
        )
        self._live_connected = connected
        if connected is not None:
            self.connected_stations.set_function(lambda: float(connected()))
        self.stations = Gauge(
            "evcharge_stations",
            "Stored stations by activation state.",
            ["activation"],
            registry=self.registry,
        )
        self.requests = Counter(
            "evcharge_admin_requests",
            "Admin API requests by route template, method and status code.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "evcharge_admin_request_seconds",
            "Admin API request duration in seconds, by route template and method.",
            ["route", "method"],
            registry=self.registry,
        )

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        """Count one request."""
        method = method if method in _KNOWN_METHODS else "other"
        self.requests.labels(route=route, method=method, status=str(status)).inc()
        self.request_seconds.labels(route=route, method=method).observe(seconds)

    async def refresh(self, service: StationService) -> None:
        """Bring the storage-derived gauges up to date (on each scrape: one count query per
        activation state). A storage failure keeps the previous values and is logged."""
        try:
            for state in ActivationState:
                page = await service.list_stations(StationQuery(activation=state, page_size=1))
                self.stations.labels(activation=state.value).set(page.total)
            if self._live_connected is None:
                page = await service.list_stations(StationQuery(connected=True, page_size=1))
                self.connected_stations.set(page.total)
        except StorageError:
            logger.warning("metrics: cannot count stations", exc_info=True)
        if self.balancer is not None:
            self._refresh_areas(self.balancer)

    def _refresh_areas(self, balancer: Balancer) -> None:
        for gauge in (
            self.area_current,
            self.area_power,
            self.area_limit_current,
            self.area_limit_power,
            self.area_paused,
        ):
            gauge.clear()
        for view in balancer.views():
            area = view.area_id
            phases = zip(("L1", "L2", "L3"), view.allocation.phase_current_a, strict=True)
            for phase, amperes in phases:
                self.area_current.labels(area=area, phase=phase).set(amperes)
            self.area_power.labels(area=area).set(view.allocation.power_w)
            if view.limit.current_a is not None:
                self.area_limit_current.labels(area=area).set(view.limit.current_a)
            if view.limit.power_w is not None:
                self.area_limit_power.labels(area=area).set(view.limit.power_w)
            paused = sum(1 for state in view.allocation.states if state.value == "paused")
            self.area_paused.labels(area=area).set(paused)

    def render(self) -> bytes:
        """The registry in the Prometheus text format."""
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware counting every HTTP request, matched or not, by route template."""

    def __init__(self, app: ASGIApp, metrics: AdminMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get(ROUTE_SCOPE_KEY, "unmatched")
            self.metrics.observe(route, scope["method"], status, time.perf_counter() - started)

"""The admin API's lists and exports beyond the station page: the station JSON export, the
charger list (paginated, searched, filtered, sorted) with its CSV and JSON exports, and the
transaction list with its exports.

Every list takes the same kind of query: ``page`` and ``page_size`` (1 to 1000), ``search``,
filters, and ``sort`` (a key, ``-`` in front for descending). Bad parameters are answered
with one 422 problem naming every one of them. The exports (``.csv``, ``.json``) take the
same filters and sort, ignore the paging and hold every match; CSV cells are neutralised
against spreadsheet formulas (:func:`evcharge_core.listing.neutralize_formula`).
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

from starlette.requests import Request
from starlette.responses import Response

from .. import admin_json
from ..domain.model import Charger, Station
from ..domain.transactions import Transaction, TransactionState
from ..domain.values import ActivationState, ConnectorStatus, CurrentType, OperationalStatus
from ..errors import InvalidInput, Issue
from ..listing import (
    ChargerQuery,
    ChargerSortKey,
    iter_pages,
    transactions_to_csv,
)
from ..ports import SortKey, StationQuery, TransactionQuery, TransactionSortKey
from ._http import json_response, split_query
from ._schemas import STRING, ref
from ._table import AdminContext, ApiRoute, Param, Reply

__all__ = [
    "CHARGER_LIST_ROUTES",
    "EXPORT_ROUTES",
    "FILTER_PARAMS",
    "IGNORED_PAGE_PARAMS",
    "PAGE_PARAMS",
    "STATION_QUERY_NAMES",
    "TRANSACTION_ROUTES",
    "QueryReader",
    "charger_item_to_json",
    "charger_query",
    "station_query",
    "transaction_query",
    "transaction_to_json",
]

E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")


def _values(enum_cls: type[enum.Enum]) -> str:
    return ", ".join(str(m.value) for m in enum_cls)


class QueryReader:
    """Reads typed query parameters, collecting an :class:`~evcharge_core.errors.Issue` per
    bad one; :meth:`build` then makes the query object or raises them all together."""

    def __init__(self, values: Mapping[str, str], issues: Iterable[Issue] = ()) -> None:
        self.values = values
        self.issues = list(issues)

    def _bad(self, name: str, message: str) -> None:
        self.issues.append(Issue(message, field=name))

    def text(self, name: str) -> str | None:
        """The parameter, ``None`` if absent or blank."""
        value = self.values.get(name, "").strip()
        return value or None

    def member(self, name: str, enum_cls: type[E], text: str | None = None) -> E | None:
        """An enum member by value, in any case."""
        text = self.values.get(name) if text is None else text
        if text is None:
            return None
        for candidate in enum_cls:
            if str(candidate.value).lower() == text.strip().lower():
                return candidate
        self._bad(name, f"unknown value {text!r} (use one of {_values(enum_cls)})")
        return None

    def sort(self, enum_cls: type[E], default: str) -> tuple[E | None, bool]:
        """``sort``: a key of ``enum_cls``, ``-`` in front for descending."""
        text = self.values.get("sort", default).strip()
        return self.member("sort", enum_cls, text.removeprefix("-")), text.startswith("-")

    def integer(self, name: str, low: int = 0, high: int = 2**63 - 1) -> int | None:
        text = self.values.get(name)
        if text is None:
            return None
        digits = text.strip()
        if not (digits.isascii() and digits.isdigit()):
            self._bad(name, f"expected a whole number, got {text!r}")
            return None
        value = int(digits)
        if not low <= value <= high:
            self._bad(name, f"must be between {low} and {high}, got {value}")
            return None
        return value

    def number(self, name: str) -> float | None:
        text = self.values.get(name)
        if text is None:
            return None
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            self._bad(name, f"expected a number, got {text!r}")
            return None
        return value

    def boolean(self, name: str) -> bool | None:
        text = self.values.get(name)
        if text is None:
            return None
        value = {"true": True, "false": False}.get(text.strip().lower())
        if value is None:
            self._bad(name, "expected true or false")
        return value

    def timestamp(self, name: str) -> datetime | None:
        text = self.values.get(name)
        if text is None:
            return None
        try:
            moment = datetime.fromisoformat(text.strip())
        except ValueError:
            self._bad(name, f"expected an ISO 8601 date and time, got {text!r}")
            return None
        if moment.utcoffset() is None:
            self._bad(name, "must have a time zone (e.g. Z)")
            return None
        return moment.astimezone(UTC)

    def paging(self, kwargs: dict[str, Any]) -> None:
        """``page`` and ``page_size`` into ``kwargs`` (when given and valid)."""
        for name, high in (("page", 2**31 - 1), ("page_size", 1000)):
            number = self.integer(name, 1, high)
            if number is not None:
                kwargs[name] = number

    def build(self, factory: Callable[..., T], **kwargs: Any) -> T:
        """``factory(**kwargs)``, or :class:`~evcharge_core.errors.InvalidInput` with every
        issue collected (a ``ValueError`` of the factory included, located by the
        parameter its message names)."""
        if not self.issues:
            try:
                return factory(**kwargs)
            except ValueError as error:
                message = str(error)
                names = sorted(kwargs, key=len, reverse=True)  # "page_size" before "page"
                field = next((n for n in names if _mentions(message, n)), None)
                self.issues.append(Issue(message, field=field))
        raise InvalidInput(list(dict.fromkeys(self.issues)))


def _mentions(message: str, name: str) -> bool:
    """Whether an error message names the parameter ``name`` (as is or with spaces)."""
    return name in message or name.replace("_", " ") in message


def _attachment(body: str, media_type: str, filename: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _json_export(items: list[Any], filename: str) -> Response:
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    return _attachment(text, "application/json", filename)


# --- stations --------------------------------------------------------------------------------

FILTER_PARAMS: Final = (
    Param(
        "search",
        "Case-insensitive substring of the station's id, name, code, manufacturer or "
        "serial numbers.",
    ),
    Param(
        "status",
        f"Derived station status ({_values(ConnectorStatus)}; any case).",
    ),
    Param(
        "operational_status",
        f"Derived operational status ({_values(OperationalStatus)}; any case).",
    ),
    Param("area_id", "Only stations of this area."),
    Param("connected", "true or false.", {"type": "string", "enum": ["true", "false"]}),
    Param("activation", f"Activation state ({_values(ActivationState)})."),
    Param(
        "sort",
        f"Sort key ({_values(SortKey)}); a leading '-' sorts descending. Default: id.",
    ),
)
PAGE_PARAMS: Final = (
    Param("page", "Page number, from 1 (default 1).", {"type": "integer", "minimum": 1}),
    Param(
        "page_size",
        "Stations per page, 1 to 1000 (default 50).",
        {"type": "integer", "minimum": 1, "maximum": 1000},
    ),
)
IGNORED_PAGE_PARAMS: Final = tuple(
    Param(p.name, "Accepted and ignored: the export has every matching station.", p.schema)
    for p in PAGE_PARAMS
)
STATION_QUERY_NAMES: Final = frozenset(p.name for p in (*FILTER_PARAMS, *PAGE_PARAMS))


def station_query(values: Mapping[str, str], issues: Iterable[Issue] = ()) -> StationQuery:
    """A :class:`~evcharge_core.ports.StationQuery` from query parameters; an
    :class:`~evcharge_core.errors.InvalidInput` naming every bad parameter otherwise
    (``issues``, those found before, included)."""
    issues = list(issues)

    def member(name: str, enum_cls: type[E], text: str | None = None) -> E | None:
        text = values.get(name) if text is None else text
        if text is None:
            return None
        for candidate in enum_cls:
            if str(candidate.value).lower() == text.lower():
                return candidate
        issues.append(Issue(f"unknown value {text!r} (use one of {_values(enum_cls)})", field=name))
        return None

    def integer(name: str) -> int | None:
        text = values.get(name)
        if text is None:
            return None
        if not (text.isascii() and text.isdigit()):
            issues.append(Issue(f"expected a whole number, got {text!r}", field=name))
            return None
        return int(text)

    connected: bool | None = None
    if "connected" in values:
        connected = {"true": True, "false": False}.get(values["connected"].lower())
        if connected is None:
            issues.append(Issue("expected true or false", field="connected"))
    sort_text = values.get("sort", "id")
    kwargs: dict[str, Any] = {
        "search": values.get("search", "").strip() or None,
        "status": member("status", ConnectorStatus),
        "operational_status": member("operational_status", OperationalStatus),
        "area_id": values.get("area_id") or None,
        "connected": connected,
        "activation": member("activation", ActivationState),
        "sort": member("sort", SortKey, sort_text.removeprefix("-")) or SortKey.ID,
        "descending": sort_text.startswith("-"),
    }
    for name in ("page", "page_size"):
        number = integer(name)
        if number is not None:
            kwargs[name] = number
    if not issues:
        try:
            return StationQuery(**kwargs)
        except ValueError as error:
            field = "page_size" if "page size" in str(error) else "page"
            issues.append(Issue(str(error), field=field))
    raise InvalidInput(issues)


async def export_stations_json(request: Request, ctx: AdminContext) -> Response:
    values, issues = split_query(request, STATION_QUERY_NAMES)
    values.pop("page", None)
    values.pop("page_size", None)
    query = station_query(values, issues)
    items = [ctx.service.station_json(s) async for s in ctx.service.iter_stations(query)]
    return _json_export(items, "stations.json")


# --- chargers --------------------------------------------------------------------------------

CHARGER_FILTER_PARAMS: Final = (
    Param(
        "search",
        "Case-insensitive substring of the charger's id, code or name, or of its station's "
        "id or name.",
    ),
    Param("station_id", "Only the chargers of this station."),
    Param("status", f"Derived charger status ({_values(ConnectorStatus)}; any case)."),
    Param(
        "operational_status",
        f"Derived operational status ({_values(OperationalStatus)}; any case).",
    ),
    Param("area_id", "Only chargers of the stations of this area."),
    Param(
        "connected",
        "Only chargers whose station is (true) or is not (false) connected.",
        {"type": "string", "enum": ["true", "false"]},
    ),
    Param("activation", f"The station's activation state ({_values(ActivationState)})."),
    Param("current_type", f"{_values(CurrentType)}."),
    Param(
        "sort",
        f"Sort key ({_values(ChargerSortKey)}); a leading '-' sorts descending. Default: "
        "station (station id, then EVSE id).",
    ),
)
_CHARGER_PAGE_PARAMS: Final = (
    Param("page", "Page number, from 1 (default 1).", {"type": "integer", "minimum": 1}),
    Param(
        "page_size",
        "Chargers per page, 1 to 1000 (default 50).",
        {"type": "integer", "minimum": 1, "maximum": 1000},
    ),
)
_CHARGER_NAMES: Final = frozenset(p.name for p in (*CHARGER_FILTER_PARAMS, *_CHARGER_PAGE_PARAMS))


def charger_query(values: Mapping[str, str], issues: Iterable[Issue] = ()) -> ChargerQuery:
    """A :class:`~evcharge_core.listing.ChargerQuery` from query parameters (422 naming
    every bad one otherwise)."""
    read = QueryReader(values, issues)
    sort, descending = read.sort(ChargerSortKey, "station")
    kwargs: dict[str, Any] = {
        "search": read.text("search"),
        "station_id": read.text("station_id"),
        "status": read.member("status", ConnectorStatus),
        "operational_status": read.member("operational_status", OperationalStatus),
        "area_id": read.text("area_id"),
        "connected": read.boolean("connected"),
        "activation": read.member("activation", ActivationState),
        "current_type": read.member("current_type", CurrentType),
        "sort": sort or ChargerSortKey.STATION,
        "descending": descending,
    }
    read.paging(kwargs)
    return read.build(ChargerQuery, **kwargs)


def charger_item_to_json(station: Station, charger: Charger) -> dict[str, Any]:
    """A charger of the charger list: the charger object with what the list shows of its
    station."""
    item = admin_json.charger_to_json(station, charger)
    item.update(
        {
            "station_name": station.name,
            "area_id": station.area_id,
            "connected": station.connection.connected,
            "activation": station.activation.state.value,
            "max_power_w": max((c.max_power_w for c in charger.connectors), default=None),
        }
    )
    return item


async def list_chargers(request: Request, ctx: AdminContext) -> Response:
    query = charger_query(*split_query(request, _CHARGER_NAMES))
    page = await ctx.service.list_chargers(query)
    return json_response(
        {
            "items": [charger_item_to_json(s, c) for s, c in page.items],
            "page": page.page,
            "page_size": page.page_size,
            "total": page.total,
        }
    )


def _charger_export_query(request: Request) -> ChargerQuery:
    values, issues = split_query(request, _CHARGER_NAMES)
    values.pop("page", None)
    values.pop("page_size", None)
    return charger_query(values, issues)


async def export_chargers_csv(request: Request, ctx: AdminContext) -> Response:
    text = await ctx.service.export_chargers_csv(_charger_export_query(request))
    return _attachment(text, "text/csv", "chargers.csv")


async def export_chargers_json(request: Request, ctx: AdminContext) -> Response:
    query = _charger_export_query(request)
    items = [charger_item_to_json(s, c) async for s, c in ctx.service.iter_chargers(query)]
    return _json_export(items, "chargers.json")


# --- transactions ----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def transaction_to_json(transaction: Transaction) -> dict[str, Any]:
    """A transaction as the API shows it."""
    return {
        "station_id": transaction.station_id,
        "transaction_id": transaction.transaction_id,
        "connector_id": transaction.connector_id,
        "evse_id": transaction.evse_id,
        "id_tag": transaction.id_tag,
        "started_at": _iso(transaction.started_at),
        "meter_start": transaction.meter_start,
        "state": transaction.state.value,
        "stopped_at": _iso(transaction.stopped_at),
        "meter_stop": transaction.meter_stop,
        "stop_reason": transaction.stop_reason,
        "energy_wh": transaction.energy_wh,
        "orphan": transaction.orphan,
    }


TRANSACTION_FILTER_PARAMS: Final = (
    Param(
        "search",
        "Substring of the station id, transaction id or id tag (A-Z matched in any case).",
    ),
    Param("station_id", "Only this station's transactions."),
    Param("state", "active or ended.", {"type": "string", "enum": ["active", "ended"]}),
    Param("area_id", "Only transactions of the stations of this area."),
    Param(
        "since",
        "Only transactions started at or after this instant (ISO 8601 with a time zone; an "
        "orphan stop counts by its stop time).",
        {"type": "string", "format": "date-time"},
    ),
    Param(
        "until",
        "Only transactions started before this instant (ISO 8601 with a time zone).",
        {"type": "string", "format": "date-time"},
    ),
    Param(
        "sort",
        f"Sort key ({_values(TransactionSortKey)}); a leading '-' sorts descending. "
        "Default: -started_at (newest first).",
    ),
)
_TRANSACTION_PAGE_PARAMS: Final = (
    Param("page", "Page number, from 1 (default 1).", {"type": "integer", "minimum": 1}),
    Param(
        "page_size",
        "Transactions per page, 1 to 1000 (default 50).",
        {"type": "integer", "minimum": 1, "maximum": 1000},
    ),
)
_TRANSACTION_NAMES: Final = frozenset(
    p.name for p in (*TRANSACTION_FILTER_PARAMS, *_TRANSACTION_PAGE_PARAMS)
)


def transaction_query(values: Mapping[str, str], issues: Iterable[Issue] = ()) -> TransactionQuery:
    """A :class:`~evcharge_core.ports.TransactionQuery` from query parameters (422 naming
    every bad one otherwise)."""
    read = QueryReader(values, issues)
    sort, descending = read.sort(TransactionSortKey, "-started_at")
    state = None
    if "state" in values:
        try:
            state = TransactionState(values["state"].strip().lower())
        except ValueError:
            read.issues.append(Issue("expected active or ended", field="state"))
    kwargs: dict[str, Any] = {
        "search": read.text("search"),
        "station_id": read.text("station_id"),
        "state": state,
        "area_id": read.text("area_id"),
        "since": read.timestamp("since"),
        "until": read.timestamp("until"),
        "sort": sort or TransactionSortKey.STARTED_AT,
        "descending": descending,
    }
    read.paging(kwargs)
    return read.build(TransactionQuery, **kwargs)


async def list_transactions(request: Request, ctx: AdminContext) -> Response:
    query = transaction_query(*split_query(request, _TRANSACTION_NAMES))
    assert ctx.charging is not None  # create_app always provides one
    page = await ctx.charging.list_transactions(query)
    return json_response(
        {
            "items": [transaction_to_json(t) for t in page.items],
            "page": page.page,
            "page_size": page.page_size,
            "total": page.total,
        }
    )


async def _every_transaction(request: Request, ctx: AdminContext) -> list[Transaction]:
    values, issues = split_query(request, _TRANSACTION_NAMES)
    values.pop("page", None)
    values.pop("page_size", None)
    query = transaction_query(values, issues)
    assert ctx.charging is not None
    return [t async for t in iter_pages(ctx.charging.list_transactions, query)]


async def export_transactions_csv(request: Request, ctx: AdminContext) -> Response:
    text = transactions_to_csv(await _every_transaction(request, ctx))
    return _attachment(text, "text/csv", "transactions.csv")


async def export_transactions_json(request: Request, ctx: AdminContext) -> Response:
    items = [transaction_to_json(t) for t in await _every_transaction(request, ctx)]
    return _json_export(items, "transactions.json")


# --- the tables ------------------------------------------------------------------------------

_IGNORED: Final = "Accepted and ignored: the export has every match."


def _ignored(params: Iterable[Param]) -> tuple[Param, ...]:
    return tuple(Param(p.name, _IGNORED, p.schema) for p in params)


_CSV_NOTE: Final = (
    "Comma-separated, header first; cells a spreadsheet would evaluate as a formula are "
    "prefixed with ' (CSV injection)."
)

EXPORT_ROUTES: Final[tuple[ApiRoute, ...]] = (
    ApiRoute(
        "GET",
        "/api/stations.json",
        export_stations_json,
        "exportStationsJson",
        "Export every matching station as JSON",
        "stations",
        query=(*FILTER_PARAMS, *_ignored(PAGE_PARAMS)),
        replies=(
            Reply(
                200,
                "Every matching station, in list order.",
                {"type": "array", "items": ref("Station")},
            ),
        ),
    ),
)

CHARGER_LIST_ROUTES: Final[tuple[ApiRoute, ...]] = (
    ApiRoute(
        "GET",
        "/api/chargers",
        list_chargers,
        "listChargers",
        "List chargers across stations (paginated, filtered, sorted)",
        "chargers",
        query=(*_CHARGER_PAGE_PARAMS, *CHARGER_FILTER_PARAMS),
        replies=(Reply(200, "One page of chargers.", ref("ChargerPage")),),
    ),
    ApiRoute(
        "GET",
        "/api/chargers.csv",
        export_chargers_csv,
        "exportChargersCsv",
        "Export every matching charger as CSV",
        "chargers",
        description=_CSV_NOTE,
        query=(*CHARGER_FILTER_PARAMS, *_ignored(_CHARGER_PAGE_PARAMS)),
        replies=(Reply(200, "The chargers as CSV.", STRING, "text/csv"),),
    ),
    ApiRoute(
        "GET",
        "/api/chargers.json",
        export_chargers_json,
        "exportChargersJson",
        "Export every matching charger as JSON",
        "chargers",
        query=(*CHARGER_FILTER_PARAMS, *_ignored(_CHARGER_PAGE_PARAMS)),
        replies=(
            Reply(
                200,
                "Every matching charger, in list order.",
                {"type": "array", "items": ref("ChargerListItem")},
            ),
        ),
    ),
)

TRANSACTION_ROUTES: Final[tuple[ApiRoute, ...]] = (
    ApiRoute(
        "GET",
        "/api/transactions",
        list_transactions,
        "listTransactions",
        "List transactions (paginated, filtered, sorted; newest first by default)",
        "transactions",
        query=(*_TRANSACTION_PAGE_PARAMS, *TRANSACTION_FILTER_PARAMS),
        replies=(Reply(200, "One page of transactions.", ref("TransactionPage")),),
    ),
    ApiRoute(
        "GET",
        "/api/transactions.csv",
        export_transactions_csv,
        "exportTransactionsCsv",
        "Export every matching transaction as CSV",
        "transactions",
        description=_CSV_NOTE,
        query=(*TRANSACTION_FILTER_PARAMS, *_ignored(_TRANSACTION_PAGE_PARAMS)),
        replies=(Reply(200, "The transactions as CSV.", STRING, "text/csv"),),
    ),
    ApiRoute(
        "GET",
        "/api/transactions.json",
        export_transactions_json,
        "exportTransactionsJson",
        "Export every matching transaction as JSON",
        "transactions",
        query=(*TRANSACTION_FILTER_PARAMS, *_ignored(_TRANSACTION_PAGE_PARAMS)),
        replies=(
            Reply(
                200,
                "Every matching transaction, in list order.",
                {"type": "array", "items": ref("Transaction")},
            ),
        ),
    ),
)

"""Operator lists beyond the station list: the charger list's query and rules, and the CSV
exports of stations, chargers and transactions.

**Chargers** are listed across stations (:class:`ChargerQuery`). Each item is a
``(station, charger)`` pair, since a charger's status and place depend on its station. The
filters combine with *and*:

* ``search``: case-insensitive (:meth:`str.casefold`) substring of the charger's id, code or
  name, or of its station's id or name;
* ``station_id``; and, from the station, ``area_id``, ``connected`` and ``activation``;
* ``status`` and ``operational_status``: the charger's derived status
  (:func:`~evcharge_core.domain.status.charger_status`) and operational status;
* ``current_type`` (AC or DC).

Sorting (:class:`ChargerSortKey`): ``station`` (station id, then EVSE id: the default),
``code``, ``name`` (code point order), ``status`` (by
:data:`~evcharge_core.domain.status.USABILITY_ORDER`; chargers with no status last in both
directions) and ``max_power_w`` (the charger's most powerful connector; chargers without
connectors last). Ties are broken by station id then EVSE id, ascending in both directions.
:meth:`~evcharge_core.service.StationService.list_chargers` applies these rules to the
stations the repository's station list returns for the station-level filters.

**CSV exports** are comma-separated, CRLF line ends, a header row first, and every text
cell that a spreadsheet would evaluate as a formula (one starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) prefixed with ``'`` (:func:`neutralize_formula`, OWASP's
advice on CSV injection). Timestamps are ISO 8601, booleans ``true``/``false``, missing
values empty.
"""

from __future__ import annotations

import csv
import enum
import io
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Final, TypeVar

import attrs

from .domain.model import Charger, Station
from .domain.status import (
    USABILITY_ORDER,
    charger_operational_status,
    charger_status,
    station_operational_status,
    station_status,
)
from .domain.transactions import Transaction
from .domain.values import ActivationState, ConnectorStatus, CurrentType, OperationalStatus
from .ports import Page

__all__ = [
    "CHARGER_EXPORT_COLUMNS",
    "STATION_EXPORT_COLUMNS",
    "TRANSACTION_EXPORT_COLUMNS",
    "ChargerQuery",
    "ChargerSortKey",
    "charger_matches",
    "charger_page",
    "charger_row",
    "chargers_to_csv",
    "iter_pages",
    "neutralize_formula",
    "sort_chargers",
    "station_row",
    "stations_to_csv",
    "to_csv",
    "transaction_row",
    "transactions_to_csv",
]

T = TypeVar("T")
Q = TypeVar("Q")

_STATUS_RANK: Final = {status: rank for rank, status in enumerate(USABILITY_ORDER)}


class ChargerSortKey(enum.StrEnum):
    """What the charger list can be sorted by; prefix ``-`` for descending in text form."""

    STATION = "station"
    CODE = "code"
    NAME = "name"
    STATUS = "status"
    MAX_POWER = "max_power_w"


def _page_number(_inst: object, _attr: attrs.Attribute[int], value: int) -> None:
    if value < 1:
        raise ValueError(f"page must be 1 or more, got {value}")


def _page_size(_inst: object, _attr: attrs.Attribute[int], value: int) -> None:
    if not 1 <= value <= 1000:
        raise ValueError(f"page size must be between 1 and 1000, got {value}")


@attrs.frozen
class ChargerQuery:
    """A page of the charger list (see the module docstring for each rule)."""

    page: int = attrs.field(default=1, validator=_page_number)
    page_size: int = attrs.field(default=50, validator=_page_size)
    search: str | None = None
    station_id: str | None = None
    status: ConnectorStatus | None = None
    operational_status: OperationalStatus | None = None
    area_id: str | None = None
    connected: bool | None = None
    activation: ActivationState | None = None
    current_type: CurrentType | None = None
    sort: ChargerSortKey = ChargerSortKey.STATION
    descending: bool = False


ChargerItem = tuple[Station, Charger]


def charger_matches(station: Station, charger: Charger, query: ChargerQuery) -> bool:
    """Whether the charger passes every filter and the search of ``query``."""
    checks = (
        query.station_id is None or station.id == query.station_id,
        query.area_id is None or station.area_id == query.area_id,
        query.connected is None or station.connection.connected == query.connected,
        query.activation is None or station.activation.state is query.activation,
        query.current_type is None or charger.current_type is query.current_type,
    )
    if not all(checks):
        return False
    if query.status is not None and charger_status(station, charger) is not query.status:
        return False
    if (
        query.operational_status is not None
        and charger_operational_status(station, charger) is not query.operational_status
    ):
        return False
    if query.search is None:
        return True
    needle = query.search.casefold()
    fields = (charger.id, charger.code, charger.name, station.id, station.name)
    return any(needle in field.casefold() for field in fields)


def _sort_value(station: Station, charger: Charger, key: ChargerSortKey) -> str | int | None:
    if key is ChargerSortKey.CODE:
        return charger.code
    if key is ChargerSortKey.NAME:
        return charger.name
    if key is ChargerSortKey.STATUS:
        status = charger_status(station, charger)
        return None if status is None else _STATUS_RANK[status]
    if key is ChargerSortKey.MAX_POWER:
        return max((c.max_power_w for c in charger.connectors), default=None)
    return station.id


def sort_chargers(
    items: Iterable[ChargerItem], key: ChargerSortKey, *, descending: bool = False
) -> list[ChargerItem]:
    """``items`` in list order: by ``key`` (missing values last in both directions), ties by
    station id then EVSE id, ascending in both directions."""
    by_place = sorted(items, key=lambda item: (item[0].id, item[1].evse_id))
    if key is ChargerSortKey.STATION:
        if not descending:
            return by_place
        # Descending stations, each station's chargers still by ascending EVSE id.
        return sorted(by_place, key=lambda item: item[0].id, reverse=True)
    valued = [(v, item) for item in by_place if (v := _sort_value(*item, key)) is not None]
    missing = [item for item in by_place if _sort_value(*item, key) is None]
    valued.sort(key=lambda pair: pair[0], reverse=descending)  # stable: ties keep place order
    return [item for _, item in valued] + missing


def charger_page(stations: Iterable[Station], query: ChargerQuery) -> Page[ChargerItem]:
    """The page ``query`` asks for out of every charger of ``stations``."""
    selected = sort_chargers(
        (
            (station, charger)
            for station in stations
            for charger in station.chargers
            if charger_matches(station, charger, query)
        ),
        query.sort,
        descending=query.descending,
    )
    start = (query.page - 1) * query.page_size
    return Page(
        items=tuple(selected[start : start + query.page_size]),
        page=query.page,
        page_size=query.page_size,
        total=len(selected),
    )


async def iter_pages(
    fetch: Callable[[Q], Awaitable[Page[T]]], query: Q, page_size: int = 1000
) -> AsyncIterator[T]:
    """Every item of the list ``fetch`` pages through, starting from ``query`` (an attrs
    query with ``page`` and ``page_size``), fetching ``page_size`` items at a time."""
    number = 1
    while True:
        page = await fetch(attrs.evolve(query, page=number, page_size=page_size))  # type: ignore[misc]
        for item in page.items:
            yield item
        if number * page.page_size >= page.total or not page.items:
            return
        number += 1


# --- CSV -------------------------------------------------------------------------------------


def neutralize_formula(value: str) -> str:
    """Make a CSV cell safe to open in a spreadsheet: a cell that starts with ``=``, ``+``,
    ``-``, ``@``, tab or carriage return is prefixed with ``'`` so it is shown as text, not
    evaluated as a formula (OWASP's CSV injection advice)."""
    if value and value[0] in "=+-@\t\r":
        return "'" + value
    return value


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, enum.Enum):
        return neutralize_formula(str(value.value))
    if isinstance(value, str):
        return neutralize_formula(value)
    return value


def to_csv(columns: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A CSV document: ``columns`` as the header, then ``rows`` (see the module docstring
    for how cells are written)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


STATION_EXPORT_COLUMNS: Final = (
    "id",
    "name",
    "code",
    "status",
    "operational_status",
    "activation",
    "activated_at",
    "connected",
    "last_seen",
    "protocol",
    "area_id",
    "manufacturer",
    "serial_number",
    "reported_serial_number",
    "firmware_version",
    "chargers",
    "connectors",
)


def station_row(station: Station) -> list[object]:
    """One station as the values of :data:`STATION_EXPORT_COLUMNS`."""
    return [
        station.id,
        station.name,
        station.code,
        station_status(station),
        station_operational_status(station),
        station.activation.state,
        station.activation.activated_at,
        station.connection.connected,
        station.connection.last_seen,
        station.protocol,
        station.area_id,
        station.manufacturer,
        station.serial_number,
        station.reported.serial_number,
        station.reported.firmware_version,
        len(station.chargers),
        sum(len(c.connectors) for c in station.chargers),
    ]


def stations_to_csv(stations: Iterable[Station]) -> str:
    """Stations as CSV (:data:`STATION_EXPORT_COLUMNS`)."""
    return to_csv(STATION_EXPORT_COLUMNS, (station_row(s) for s in stations))


CHARGER_EXPORT_COLUMNS: Final = (
    "station_id",
    "station_name",
    "id",
    "evse_id",
    "code",
    "name",
    "status",
    "operational_status",
    "connected",
    "activation",
    "area_id",
    "current_type",
    "reservable",
    "roaming",
    "connectors",
    "max_power_w",
)


def charger_row(station: Station, charger: Charger) -> list[object]:
    """One charger as the values of :data:`CHARGER_EXPORT_COLUMNS`."""
    return [
        station.id,
        station.name,
        charger.id,
        charger.evse_id,
        charger.code,
        charger.name,
        charger_status(station, charger),
        charger_operational_status(station, charger),
        station.connection.connected,
        station.activation.state,
        station.area_id,
        charger.current_type,
        charger.reservable,
        charger.roaming,
        len(charger.connectors),
        max((c.max_power_w for c in charger.connectors), default=None),
    ]


def chargers_to_csv(items: Iterable[ChargerItem]) -> str:
    """Chargers as CSV (:data:`CHARGER_EXPORT_COLUMNS`)."""
    return to_csv(CHARGER_EXPORT_COLUMNS, (charger_row(s, c) for s, c in items))


TRANSACTION_EXPORT_COLUMNS: Final = (
    "station_id",
    "transaction_id",
    "connector_id",
    "evse_id",
    "id_tag",
    "state",
    "started_at",
    "stopped_at",
    "meter_start",
    "meter_stop",
    "energy_wh",
    "stop_reason",
    "orphan",
)


def transaction_row(transaction: Transaction) -> list[object]:
    """One transaction as the values of :data:`TRANSACTION_EXPORT_COLUMNS`."""
    t = transaction
    return [
        t.station_id,
        t.transaction_id,
        t.connector_id,
        t.evse_id,
        t.id_tag,
        t.state,
        t.started_at,
        t.stopped_at,
        t.meter_start,
        t.meter_stop,
        t.energy_wh,
        t.stop_reason,
        t.orphan,
    ]


def transactions_to_csv(transactions: Iterable[Transaction]) -> str:
    """Transactions as CSV (:data:`TRANSACTION_EXPORT_COLUMNS`)."""
    return to_csv(TRANSACTION_EXPORT_COLUMNS, (transaction_row(t) for t in transactions))

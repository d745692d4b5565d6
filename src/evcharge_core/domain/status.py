"""Connector status: effective and operational status, and the derived charger and station
status.

The derivation rule ("a group is as usable as its most usable member"):

* A connector's **effective status** is ``Closed`` if it, its charger or its station is
  closed by the operator; otherwise the last status its station reported (``None`` if it
  never reported one).
* Its **operational status** is ``Closed`` for ``Closed``; ``Inoperative`` for
  ``Unavailable`` and ``Faulted``, and also while the station's connector 0 (OCPP 1.6: the
  whole station) reports ``Unavailable`` or ``Faulted``; ``Operative`` otherwise (including a
  connector that never reported: nothing says it is out of order).
* A charger's or station's **status** is the first of :data:`USABILITY_ORDER` held by any of
  its connectors: a station with one ``Available`` and one ``Faulted`` connector is
  ``Available``, because a driver can still charge there. Its **operational status** is
  ``Operative`` if any connector is, else ``Inoperative`` if any is not ``Closed``, else
  ``Closed``. A group with no connectors has status ``None`` and is ``Operative`` unless
  closed itself.

Derived statuses are never stored as truth: they are recomputed from the connectors
(repositories may keep a copy in an indexed column for filtering).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from .model import Charger, Connector, Station
from .values import ConnectorStatus, OperationalStatus

__all__ = [
    "INOPERATIVE_STATUSES",
    "USABILITY_ORDER",
    "charger_operational_status",
    "charger_status",
    "connector_effective_status",
    "connector_operational_status",
    "operational_status_of",
    "station_operational_status",
    "station_status",
]

INOPERATIVE_STATUSES: Final = frozenset({ConnectorStatus.UNAVAILABLE, ConnectorStatus.FAULTED})

USABILITY_ORDER: Final[tuple[ConnectorStatus, ...]] = (
    ConnectorStatus.AVAILABLE,
    ConnectorStatus.PREPARING,
    ConnectorStatus.CHARGING,
    ConnectorStatus.SUSPENDED_EVSE,
    ConnectorStatus.SUSPENDED_EV,
    ConnectorStatus.FINISHING,
    ConnectorStatus.RESERVED,
    ConnectorStatus.UNAVAILABLE,
    ConnectorStatus.FAULTED,
    ConnectorStatus.CLOSED,
)
_RANK: Final = {status: rank for rank, status in enumerate(USABILITY_ORDER)}


def operational_status_of(status: ConnectorStatus | None) -> OperationalStatus:
    """The operational status that a detailed status implies on its own."""
    if status is ConnectorStatus.CLOSED:
        return OperationalStatus.CLOSED
    if status in INOPERATIVE_STATUSES:
        return OperationalStatus.INOPERATIVE
    return OperationalStatus.OPERATIVE


def connector_effective_status(
    station: Station, charger: Charger, connector: Connector
) -> ConnectorStatus | None:
    if station.closed or charger.closed or connector.closed:
        return ConnectorStatus.CLOSED
    return connector.status.status if connector.status is not None else None


def _station_down(station: Station) -> bool:
    record = station.station_status
    return record is not None and record.status in INOPERATIVE_STATUSES


def connector_operational_status(
    station: Station, charger: Charger, connector: Connector
) -> OperationalStatus:
    effective = connector_effective_status(station, charger, connector)
    own = operational_status_of(effective)
    if own is OperationalStatus.OPERATIVE and _station_down(station):
        return OperationalStatus.INOPERATIVE
    return own


def _group_status(statuses: Iterable[ConnectorStatus | None]) -> ConnectorStatus | None:
    known = [s for s in statuses if s is not None]
    return min(known, key=_RANK.__getitem__) if known else None


def _group_operational(statuses: list[OperationalStatus], closed: bool) -> OperationalStatus:
    if closed:
        return OperationalStatus.CLOSED
    if not statuses or OperationalStatus.OPERATIVE in statuses:
        return OperationalStatus.OPERATIVE
    if OperationalStatus.INOPERATIVE in statuses:
        return OperationalStatus.INOPERATIVE
    return OperationalStatus.CLOSED


def charger_status(station: Station, charger: Charger) -> ConnectorStatus | None:
    if station.closed or charger.closed:
        return ConnectorStatus.CLOSED
    return _group_status(
        connector_effective_status(station, charger, c) for c in charger.connectors
    )


def charger_operational_status(station: Station, charger: Charger) -> OperationalStatus:
    return _group_operational(
        [connector_operational_status(station, charger, c) for c in charger.connectors],
        station.closed or charger.closed,
    )


def station_status(station: Station) -> ConnectorStatus | None:
    if station.closed:
        return ConnectorStatus.CLOSED
    return _group_status(
        connector_effective_status(station, ch, c) for ch, c in station.iter_connectors()
    )


def station_operational_status(station: Station) -> OperationalStatus:
    return _group_operational(
        [connector_operational_status(station, ch, c) for ch, c in station.iter_connectors()],
        station.closed,
    )

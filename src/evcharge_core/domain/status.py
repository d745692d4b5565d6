"""Connector status: the state machine of reported statuses, and the derived status of
connectors, chargers and stations.

**States.** A connector's reported status is one of the nine OCPP 1.6 ``ChargePointStatus``
values (:data:`REPORTABLE_STATUSES`; see :class:`~.values.ConnectorStatus` for each one's
meaning), or ``None`` before its station first reports it. ``Closed`` is never reported: the
operator sets it (the ``closed`` flag of a station, charger or connector) and it wins over
whatever the station reports.

**Transitions.** :data:`TRANSITIONS` is the table of OCPP 1.6 edition 2, section 4.9
(StatusNotification), "which status transitions are possible": for each status, the set of
statuses it may go to. A status reported again is not a transition and not an anomaly; nor is
the first report of a connector (there is no previous status to check). A reported
transition outside the table is *still applied*, because the station is the source of truth
about its hardware, and :func:`apply_status_report` emits a
:class:`~.events.StatusAnomaly` so that an operator can look at the station.

**Ordering.** Reports carry the time the status began, and can arrive late or out of order
(a station replays its queue after a reconnection). A report replaces the stored
:class:`~.model.StatusRecord` only if its *key* is greater than the stored record's key:
``(timestamp, rank of status in USABILITY_ORDER, error_code or "", info or "")``. A report
with an older timestamp is ignored and emits a :class:`~.events.StaleStatusReport`; one with
the same timestamp and a key that is not greater is ignored silently (a duplicate, or a
tie broken towards the less usable status). The stored record is therefore the report with
the greatest key, so the final state depends only on the *set* of reports applied, never on
their arrival order. Timestamps are stored in UTC and empty ``error_code``/``info`` strings
as ``None``, so that equal keys mean equal records.

**Connector 0.** An OCPP 1.6 report for connector 0 (``ocpp_id=0``, ``evse_id=None``) is
about the station as a whole and updates :attr:`~.model.Station.station_status`, with the
same ordering and anomaly rules. While it is ``Unavailable`` or ``Faulted`` every connector
of the station is ``Inoperative`` (unless closed), whatever it reported itself.

**OCPP 2.0.1 "Occupied".** A 2.0.1 station reports a connector ``Occupied`` (an EV is
plugged in or a session is under way) and says how charging goes in its transaction events
instead. An occupied report (:attr:`StatusReport.occupied`) is applied as ``Preparing``,
unless the connector is already in one of the :data:`OCCUPIED_STATUSES` the transaction
events set (``Charging``...), which it then confirms at its new timestamp rather than
overwriting: a station asked for its status mid-charge says ``Occupied``, and the connector
stays ``Charging``.

**Unknown connectors** are created by the report that first names them, with the connector
specification :func:`~.mapping.spec_for_connector` picks from the station's import data
(:data:`DEFAULT_SPEC` if it has none). See :func:`apply_status_report` for where they go.

**The derivation rule** ("a group is as usable as its most usable member"):

* A connector's **effective status** is ``Closed`` if it, its charger or its station is
  closed by the operator; otherwise the last status its station reported (``None`` if it
  never reported one). A disconnected station's connectors keep their last status: the
  connection is shown beside it, never instead of it.
* Its **operational status** is ``Closed`` for ``Closed``; ``Inoperative`` for
  ``Unavailable`` and ``Faulted``, and also while the station's connector 0 reports
  ``Unavailable`` or ``Faulted``; ``Operative`` otherwise (including a connector that never
  reported: nothing says it is out of order).
* A connector *contributes* to its charger's and station's status its effective status,
  made no more usable than the station's connector-0 status while that one is down, and
  "unknown" if it never reported (and the station is not down). "Unknown" ranks between the
  usable statuses (``Available`` to ``Reserved``) and ``Unavailable``: a connector that never
  reported is presumed operative.
* A charger's or station's **status** is the most usable contribution of its connectors, by
  :data:`USABILITY_ORDER`: a station with one ``Available`` and one ``Faulted`` connector is
  ``Available``, because a driver can still charge there. It is ``None`` when the most usable
  contribution is "unknown", or when the group has no connectors (then it is the station's
  connector-0 status while that is down). A closed group is ``Closed``.
* A charger's or station's **operational status** is ``Operative`` if any of its connectors
  is, else ``Inoperative`` if any is not ``Closed``, else ``Closed``; with no connectors it is
  ``Operative``, or ``Inoperative`` while the station's connector 0 is down. This always
  equals :func:`operational_status_of` the group's status (``None`` counting as operative),
  so the two columns of a list view never contradict each other.

Derived statuses are never stored as truth: they are recomputed from the connectors
(repositories may keep a copy in an indexed column for filtering).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

import attrs

from .events import ConnectorStatusChanged, Event, StaleStatusReport, StatusAnomaly
from .mapping import spec_for_connector
from .model import Charger, Connector, ConnectorSpec, Station, StatusRecord
from .values import (
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    CurrentType,
    OperationalStatus,
    PowerType,
    Protocol,
    code_from,
)

__all__ = [
    "DEFAULT_SPEC",
    "INOPERATIVE_STATUSES",
    "OCCUPIED_STATUSES",
    "REPORTABLE_STATUSES",
    "TRANSITIONS",
    "USABILITY_ORDER",
    "StatusReport",
    "apply_status_report",
    "charger_operational_status",
    "charger_status",
    "connector_effective_status",
    "connector_operational_status",
    "is_valid_transition",
    "operational_status_of",
    "station_operational_status",
    "station_status",
]

_S = ConnectorStatus

REPORTABLE_STATUSES: Final[tuple[ConnectorStatus, ...]] = (
    _S.AVAILABLE,
    _S.PREPARING,
    _S.CHARGING,
    _S.SUSPENDED_EV,
    _S.SUSPENDED_EVSE,
    _S.FINISHING,
    _S.RESERVED,
    _S.UNAVAILABLE,
    _S.FAULTED,
)
"""The nine statuses a station reports, in the order of the rows and columns of the OCPP 1.6
section 4.9 table (where rows are lettered A to I and columns numbered 1 to 9)."""

TRANSITIONS: Final[Mapping[ConnectorStatus, frozenset[ConnectorStatus]]] = MappingProxyType(
    {
        # A: usage starts (A2), a transaction starts at once (A3-A5), a reservation (A7),
        # ChangeAvailability (A8), a fault (A9). Never straight to Finishing.
        _S.AVAILABLE: frozenset(
            {
                _S.PREPARING,
                _S.CHARGING,
                _S.SUSPENDED_EV,
                _S.SUSPENDED_EVSE,
                _S.RESERVED,
                _S.UNAVAILABLE,
                _S.FAULTED,
            }
        ),
        # B: usage ends or times out (B1), charging starts or is suspended (B3-B5), the
        # transaction ends before energy flowed (B6), a fault (B9).
        _S.PREPARING: frozenset(
            {
                _S.AVAILABLE,
                _S.CHARGING,
                _S.SUSPENDED_EV,
                _S.SUSPENDED_EVSE,
                _S.FINISHING,
                _S.FAULTED,
            }
        ),
        # C: cable unplugged mid-session (C1), suspended (C4, C5), stopped (C6),
        # ChangeAvailability once the transaction ends (C8), a fault (C9).
        _S.CHARGING: frozenset(
            {
                _S.AVAILABLE,
                _S.SUSPENDED_EV,
                _S.SUSPENDED_EVSE,
                _S.FINISHING,
                _S.UNAVAILABLE,
                _S.FAULTED,
            }
        ),
        # D: the EV suspended charging.
        _S.SUSPENDED_EV: frozenset(
            {
                _S.AVAILABLE,
                _S.CHARGING,
                _S.SUSPENDED_EVSE,
                _S.FINISHING,
                _S.UNAVAILABLE,
                _S.FAULTED,
            }
        ),
        # E: the EVSE suspended charging.
        _S.SUSPENDED_EVSE: frozenset(
            {
                _S.AVAILABLE,
                _S.CHARGING,
                _S.SUSPENDED_EV,
                _S.FINISHING,
                _S.UNAVAILABLE,
                _S.FAULTED,
            }
        ),
        # F: cable removed (F1), a new session starts with the same EV (F2).
        _S.FINISHING: frozenset({_S.AVAILABLE, _S.PREPARING, _S.UNAVAILABLE, _S.FAULTED}),
        # G: the reservation expires or is cancelled (G1), its holder arrives (G2).
        _S.RESERVED: frozenset({_S.AVAILABLE, _S.PREPARING, _S.UNAVAILABLE, _S.FAULTED}),
        # H: made available again, possibly with an EV already connected (H1-H5).
        _S.UNAVAILABLE: frozenset(
            {
                _S.AVAILABLE,
                _S.PREPARING,
                _S.CHARGING,
                _S.SUSPENDED_EV,
                _S.SUSPENDED_EVSE,
                _S.FAULTED,
            }
        ),
        # I: the fault is resolved, back to whatever status applies (I1-I8).
        _S.FAULTED: frozenset(
            {
                _S.AVAILABLE,
                _S.PREPARING,
                _S.CHARGING,
                _S.SUSPENDED_EV,
                _S.SUSPENDED_EVSE,
                _S.FINISHING,
                _S.RESERVED,
                _S.UNAVAILABLE,
            }
        ),
    }
)
"""OCPP 1.6 edition 2, section 4.9 (StatusNotification): the transitions a station may
report, as ``{from: {to, ...}}`` over the nine :data:`REPORTABLE_STATUSES`. The same status
again is not listed: it is not a transition. ``Closed`` is operator-only and not in the
table. Rendered, with the specification's cell labels, in ``docs/status.md`` (a test keeps
the two equal)."""

INOPERATIVE_STATUSES: Final = frozenset({_S.UNAVAILABLE, _S.FAULTED})

OCCUPIED_STATUSES: Final = frozenset(
    {_S.PREPARING, _S.CHARGING, _S.SUSPENDED_EV, _S.SUSPENDED_EVSE, _S.FINISHING}
)
"""The statuses OCPP 2.0.1 calls ``Occupied``: an EV is there or a session is on."""

USABILITY_ORDER: Final[tuple[ConnectorStatus, ...]] = (
    _S.AVAILABLE,
    _S.PREPARING,
    _S.CHARGING,
    _S.SUSPENDED_EVSE,
    _S.SUSPENDED_EV,
    _S.FINISHING,
    _S.RESERVED,
    _S.UNAVAILABLE,
    _S.FAULTED,
    _S.CLOSED,
)
"""Most usable first. Decides a group's status, and breaks ties between reports with the
same timestamp (the less usable one wins)."""

_RANK: Final = {status: rank for rank, status in enumerate(USABILITY_ORDER)}
_UNKNOWN_RANK: Final = _RANK[_S.RESERVED] + 0.5
"""Where a connector that never reported ranks: presumed usable, less so than any known
usable status."""

DEFAULT_SPEC: Final = ConnectorSpec(
    standard=ConnectorStandard.IEC_62196_T2,
    format=ConnectorFormat.SOCKET,
    power_type=PowerType.AC_3_PHASE,
    voltage=230,
    amperage=16,
)
"""The specification of a connector created at run time for a station that has no connector
specifications (one created by an operator rather than imported): a Type 2 socket, 230 V
phase voltage, 16 A three-phase (11 kW), the most common public AC charger in Europe. The
operator corrects it in the admin API if it is wrong."""


def is_valid_transition(previous: ConnectorStatus | None, new: ConnectorStatus) -> bool:
    """Whether a station may report ``new`` after ``previous`` (see :data:`TRANSITIONS`).

    The first report (``previous`` is ``None``) and the same status again are always valid.
    ``Closed`` is never a station's status, so a transition from or to it is invalid.
    """
    if previous is None or previous is new:
        return True
    return new in TRANSITIONS.get(previous, frozenset())


# --- reports -------------------------------------------------------------------------------


def _non_negative_int(_inst: object, attr: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{attr.name} must be a whole number, got {value!r}")
    if value < 0:
        raise ValueError(f"{attr.name} must be 0 or more, got {value}")


@attrs.frozen
class StatusReport:
    """What a station said about one connector (a StatusNotification), before it is applied.

    ``ocpp_id`` is the connector ID on the wire. In OCPP 1.6 connectors are numbered across
    the station and ``evse_id`` is ``None``; ``ocpp_id`` 0 is the station as a whole. In OCPP
    2.0.1 ``ocpp_id`` numbers the connector within the EVSE ``evse_id`` (both 1 or more).
    ``timestamp`` is when the status began, as the station says (timezone-aware).
    """

    ocpp_id: int = attrs.field(validator=_non_negative_int)
    status: ConnectorStatus = attrs.field()
    timestamp: datetime = attrs.field()
    evse_id: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_non_negative_int)
    )
    error_code: str | None = None
    info: str | None = None
    occupied: bool = False
    """OCPP 2.0.1 ``Occupied``: ``status`` is then ``Preparing``, and a connector already in
    an occupied status keeps it (see the module docstring)."""

    @status.validator
    def _check_status(self, _attr: attrs.Attribute[ConnectorStatus], value: object) -> None:
        if value not in REPORTABLE_STATUSES:
            raise ValueError(f"a station cannot report the status {value!r}")

    @timestamp.validator
    def _check_timestamp(self, _attr: attrs.Attribute[datetime], value: datetime) -> None:
        if value.utcoffset() is None:
            raise ValueError("timestamp must be a timezone-aware datetime")

    def __attrs_post_init__(self) -> None:
        if self.occupied and self.status is not _S.PREPARING:
            raise ValueError("an occupied report has the status Preparing")
        if self.evse_id is not None and (self.evse_id < 1 or self.ocpp_id < 1):
            raise ValueError(
                "an OCPP 2.0.1 report names an EVSE and a connector, both numbered from 1; "
                f"got evse_id={self.evse_id}, ocpp_id={self.ocpp_id}"
            )

    def record(self) -> StatusRecord:
        """The record this report stores: UTC timestamp, empty strings as ``None``."""
        return StatusRecord(
            status=self.status,
            timestamp=self.timestamp.astimezone(UTC),
            error_code=self.error_code or None,
            info=self.info or None,
        )


def _key(record: StatusRecord) -> tuple[datetime, int, str, str]:
    return (record.timestamp, _RANK[record.status], record.error_code or "", record.info or "")


def _order(
    station: Station, report: StatusReport, new: StatusRecord, current: StatusRecord | None
) -> list[Event] | None:
    """``None`` if ``new`` replaces ``current``; else the events of ignoring it."""
    if current is None or _key(new) > _key(current):
        return None
    if new.timestamp < current.timestamp:
        return [
            StaleStatusReport(
                station_id=station.id,
                ocpp_id=report.ocpp_id,
                reported=new.status,
                timestamp=new.timestamp,
                applied_timestamp=current.timestamp,
                evse_id=report.evse_id,
            )
        ]
    return []


def _anomaly(
    station: Station, report: StatusReport, new: StatusRecord, current: StatusRecord | None
) -> list[Event]:
    previous = current.status if current is not None else None
    if previous is None or is_valid_transition(previous, new.status):
        return []
    return [
        StatusAnomaly(
            station_id=station.id,
            ocpp_id=report.ocpp_id,
            previous=previous,
            reported=new.status,
            timestamp=new.timestamp,
            evse_id=report.evse_id,
        )
    ]


def apply_status_report(
    station: Station, report: StatusReport, *, new_id: Callable[[], str]
) -> tuple[Station, list[Event]]:
    """Apply one status report; return the new station and the events, in this order:
    :class:`~.events.ConnectorStatusChanged` (if the effective status changed), then
    :class:`~.events.StatusAnomaly` (if the transition is outside :data:`TRANSITIONS`); or
    :class:`~.events.StaleStatusReport` alone for an ignored older report.

    * ``ocpp_id`` 0 (``evse_id`` ``None``, any protocol) sets the station's own status.
    * A report to a closed connector (or charger, or station) is recorded, so reopening it
      shows the last report, but emits no ``ConnectorStatusChanged`` while it stays closed.
    * A connector the station does not have yet is created with the specification
      :func:`~.mapping.spec_for_connector` maps from the station's connector specifications
      (:data:`DEFAULT_SPEC` if it has none). The key is the connector ID for OCPP 1.6 (the
      import numbers connectors that way) and the EVSE ID for OCPP 2.0.1 (where every EVSE
      numbers its connectors from 1, so the EVSE is what the import's order describes).
      An OCPP 1.6 connector goes into the station's first charger (lowest ``evse_id``); an
      OCPP 2.0.1 one into the charger with the report's ``evse_id``. A missing charger is
      created (``evse_id`` 1 for OCPP 1.6), named after the station (plus its EVSE ID for
      2.0.1), coded ``{station id}-{evse_id}`` with characters a code cannot hold replaced by
      ``_``. It is DC if its specification's power type is DC; for OCPP 1.6, where one
      charger holds every connector whatever order they report in, if any of the station's
      specifications is (a DC station's AC socket is the extra). ``new_id`` gives the id of the
      new charger first, then of the new connector. New chargers and connectors are inserted
      in ``evse_id`` / ``ocpp_id`` order, so the result does not depend on report order.

    Raises :class:`ValueError` if the report's shape does not fit the station's protocol:
    a connector report with an ``evse_id`` to a station not known to speak OCPP 2.0.1, or
    one without to a station that does (record the negotiated protocol first).
    """
    record = report.record()
    if report.ocpp_id == 0:
        return _apply_to_station(station, report, record)
    speaks_201 = station.protocol is Protocol.OCPP201
    if speaks_201 != (report.evse_id is not None):
        raise ValueError(
            f"station {station.id} speaks {station.protocol or 'an unknown protocol'}; "
            f"a report with evse_id={report.evse_id} does not fit it"
        )
    located = _locate(station, report)
    if located is None:
        return _create_connector(station, report, record, new_id)
    charger_index, connector_index = located
    charger = station.chargers[charger_index]
    connector = charger.connectors[connector_index]
    if (
        report.occupied
        and connector.status is not None
        and connector.status.status in OCCUPIED_STATUSES
    ):
        record = attrs.evolve(record, status=connector.status.status)
    ignored = _order(station, report, record, connector.status)
    if ignored is not None:
        return station, ignored
    new_connector = attrs.evolve(connector, status=record)
    connectors = list(charger.connectors)
    connectors[connector_index] = new_connector
    new_charger = attrs.evolve(charger, connectors=connectors)
    chargers = list(station.chargers)
    chargers[charger_index] = new_charger
    new_station = attrs.evolve(station, chargers=chargers)
    before = connector_effective_status(station, charger, connector)
    after = connector_effective_status(new_station, new_charger, new_connector)
    events = _changed(
        new_station,
        report,
        timestamp=record.timestamp,
        charger=new_charger,
        connector=new_connector,
        before=before,
        after=after,
    )
    return new_station, events + _anomaly(station, report, record, connector.status)


def _changed(
    station: Station,
    report: StatusReport,
    *,
    timestamp: datetime,
    charger: Charger | None,
    connector: Connector | None,
    before: ConnectorStatus | None,
    after: ConnectorStatus | None,
) -> list[Event]:
    if after is None or before is after:
        return []
    return [
        ConnectorStatusChanged(
            station_id=station.id,
            ocpp_id=report.ocpp_id,
            previous=before,
            status=after,
            timestamp=timestamp,
            charger_id=charger.id if charger is not None else None,
            connector_id=connector.id if connector is not None else None,
            evse_id=report.evse_id,
        )
    ]


def _station_effective(station: Station) -> ConnectorStatus | None:
    if station.closed:
        return _S.CLOSED
    return station.station_status.status if station.station_status is not None else None


def _apply_to_station(
    station: Station, report: StatusReport, record: StatusRecord
) -> tuple[Station, list[Event]]:
    current = station.station_status
    ignored = _order(station, report, record, current)
    if ignored is not None:
        return station, ignored
    new_station = attrs.evolve(station, station_status=record)
    before, after = _station_effective(station), _station_effective(new_station)
    events = _changed(
        new_station,
        report,
        timestamp=record.timestamp,
        charger=None,
        connector=None,
        before=before,
        after=after,
    )
    return new_station, events + _anomaly(station, report, record, current)


def _locate(station: Station, report: StatusReport) -> tuple[int, int] | None:
    """Indexes of the charger and connector the report is about, if the station has it."""
    for i, charger in enumerate(station.chargers):
        if report.evse_id is not None and charger.evse_id != report.evse_id:
            continue
        for j, connector in enumerate(charger.connectors):
            if connector.ocpp_id == report.ocpp_id:
                return i, j
    return None


def _charger_code(station_id: str, evse_id: int) -> str:
    return code_from(station_id, f"-{evse_id}")


def _insertion_index(keys: list[int], key: int) -> int:
    """Before the first greater key, else at the end. Keeps a sorted list sorted, and gives
    the same final order whatever order distinct keys are inserted in, sorted list or not."""
    return next((i for i, k in enumerate(keys) if k > key), len(keys))


def _create_connector(
    station: Station, report: StatusReport, record: StatusRecord, new_id: Callable[[], str]
) -> tuple[Station, list[Event]]:
    specs = station.connector_specifications or (DEFAULT_SPEC,)
    if report.evse_id is None:
        spec = spec_for_connector(specs, report.ocpp_id)
        evse_id = min((c.evse_id for c in station.chargers), default=1)
        name = station.name
        dc = any(s.power_type is PowerType.DC for s in specs)
    else:
        spec = spec_for_connector(specs, report.evse_id)
        evse_id = report.evse_id
        name = f"{station.name} {evse_id}"
        dc = spec.power_type is PowerType.DC
    chargers = list(station.chargers)
    index = next((i for i, c in enumerate(chargers) if c.evse_id == evse_id), None)
    if index is None:
        charger = Charger(
            id=new_id(),
            evse_id=evse_id,
            code=_charger_code(station.id, evse_id),
            name=name,
            current_type=CurrentType.DC if dc else CurrentType.AC,
        )
        index = _insertion_index([c.evse_id for c in chargers], evse_id)
        chargers.insert(index, charger)
    charger = chargers[index]
    connector = Connector(
        id=new_id(),
        ocpp_id=report.ocpp_id,
        code=str(report.ocpp_id),
        name=f"Connector {report.ocpp_id}",
        standard=spec.standard,
        format=spec.format,
        power_type=spec.power_type,
        voltage=spec.voltage,
        amperage=spec.amperage,
        status=record,
    )
    connectors = list(charger.connectors)
    connectors.insert(_insertion_index([c.ocpp_id for c in connectors], report.ocpp_id), connector)
    charger = attrs.evolve(charger, connectors=connectors)
    chargers[index] = charger
    new_station = attrs.evolve(station, chargers=chargers)
    after = connector_effective_status(new_station, charger, connector)
    return new_station, _changed(
        new_station,
        report,
        timestamp=record.timestamp,
        charger=charger,
        connector=connector,
        before=None,
        after=after,
    )


# --- derivation ----------------------------------------------------------------------------


def operational_status_of(status: ConnectorStatus | None) -> OperationalStatus:
    """The operational status that a detailed status implies on its own (``None``, never
    reported, is presumed operative)."""
    if status is _S.CLOSED:
        return OperationalStatus.CLOSED
    if status in INOPERATIVE_STATUSES:
        return OperationalStatus.INOPERATIVE
    return OperationalStatus.OPERATIVE


def connector_effective_status(
    station: Station, charger: Charger, connector: Connector
) -> ConnectorStatus | None:
    """``Closed`` if the connector, its charger or its station is closed; else the last
    status the station reported for it (``None`` if none)."""
    if station.closed or charger.closed or connector.closed:
        return _S.CLOSED
    return connector.status.status if connector.status is not None else None


def _station_down(station: Station) -> ConnectorStatus | None:
    """The station's connector-0 status if it is ``Unavailable`` or ``Faulted``."""
    record = station.station_status
    if record is not None and record.status in INOPERATIVE_STATUSES:
        return record.status
    return None


def _contribution(
    station: Station, charger: Charger, connector: Connector
) -> ConnectorStatus | None:
    """What the connector adds to its group's status (``None``: unknown)."""
    effective = connector_effective_status(station, charger, connector)
    down = _station_down(station)
    if effective is _S.CLOSED or down is None:
        return effective
    if effective is None:
        return down
    return max(effective, down, key=_RANK.__getitem__)


def connector_operational_status(
    station: Station, charger: Charger, connector: Connector
) -> OperationalStatus:
    """``Closed``, ``Inoperative`` (own status, or the station's connector 0 is down), or
    ``Operative``."""
    return operational_status_of(_contribution(station, charger, connector))


def _group_status(
    station: Station, contributions: Iterable[ConnectorStatus | None], closed: bool
) -> ConnectorStatus | None:
    if closed:
        return _S.CLOSED
    ranked = [(_UNKNOWN_RANK if s is None else _RANK[s], s) for s in contributions]
    if not ranked:
        return _station_down(station)
    return min(ranked, key=lambda pair: pair[0])[1]


def charger_status(station: Station, charger: Charger) -> ConnectorStatus | None:
    """The most usable status among the charger's connectors (see the module's rule)."""
    return _group_status(
        station,
        (_contribution(station, charger, c) for c in charger.connectors),
        station.closed or charger.closed,
    )


def charger_operational_status(station: Station, charger: Charger) -> OperationalStatus:
    """Operative if any connector is, else Inoperative if any is not closed, else Closed."""
    return operational_status_of(charger_status(station, charger))


def station_status(station: Station) -> ConnectorStatus | None:
    """The most usable status among all the station's connectors (see the module's rule)."""
    return _group_status(
        station,
        (_contribution(station, ch, c) for ch, c in station.iter_connectors()),
        station.closed,
    )


def station_operational_status(station: Station) -> OperationalStatus:
    """Operative if any connector is, else Inoperative if any is not closed, else Closed."""
    return operational_status_of(station_status(station))

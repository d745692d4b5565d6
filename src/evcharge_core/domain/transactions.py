"""Charging sessions (transactions), id tokens and their authorisation. Pure.

Protocol-neutral: the OCPP 1.6 and 2.0.1 handlers translate their messages into the values
here. A transaction is identified by ``(station_id, transaction_id)``: OCPP 1.6 transaction
ids are integers the CSMS allocates (written here as decimal strings), OCPP 2.0.1 ids are
strings the station chooses.

Rules kept here:

* **Authorisation** (:func:`authorize`): an unknown token is ``Invalid``; an ``Accepted``
  token past its expiry date is ``Expired``; otherwise the token's own status.
* **Idempotent start** (:attr:`Transaction.start_key`): a retransmitted StartTransaction
  (same connector, id tag, timestamp and meter start) is the same transaction, and gets the
  same id.
* **Stop** (:func:`stop_transaction`): ends an active transaction once; a stop for a
  transaction already ended returns it unchanged (a retransmission). A stop for an unknown
  transaction is recorded as an *orphan* transaction (:attr:`Transaction.orphan`), never
  dropped.
* **OCPP 2.0.1 events** (:func:`apply_transaction_event`): a transaction is the fold of its
  TransactionEvents. The caller drops an event whose ``seqNo`` it has seen (idempotence);
  the fold is built so that events replayed late or out of order (a station back from
  offline) give the same transaction as in order: only ``Started`` sets the start (time,
  meter start, id token), only ``Ended`` the end, and the latest energy reading is the
  greatest seen (an energy register only grows). An ``Updated`` first creates the
  transaction without a start; an ended transaction whose ``Started`` never arrived is an
  orphan, until it arrives.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Final

import attrs

from .values import ConnectorStatus

__all__ = [
    "Authorization",
    "AuthorizationStatus",
    "IdToken",
    "MeterSample",
    "Transaction",
    "TransactionEventReport",
    "TransactionEventType",
    "TransactionState",
    "apply_transaction_event",
    "authorize",
    "orphan_stop",
    "record_meter_values",
    "start_transaction",
    "stop_transaction",
]


class AuthorizationStatus(enum.StrEnum):
    """Whether an id token may charge (OCPP 1.6 ``AuthorizationStatus`` without
    ``ConcurrentTx``, which is decided per transaction, not stored)."""

    ACCEPTED = "Accepted"
    BLOCKED = "Blocked"
    EXPIRED = "Expired"
    INVALID = "Invalid"
    CONCURRENT_TX = "ConcurrentTx"


@attrs.frozen
class IdToken:
    """A driver's identifier (RFID card UID, app token...) in the authorisation registry."""

    id_token: str = attrs.field()
    type: str = "ISO14443"
    status: AuthorizationStatus = AuthorizationStatus.ACCEPTED
    expiry_date: datetime | None = None
    group_id: str | None = None

    @id_token.validator
    def _check_id(self, _attr: attrs.Attribute[str], value: str) -> None:
        if not 1 <= len(value) <= 36:
            raise ValueError("id token must be 1 to 36 characters (OCPP 2.0.1 IdToken)")


@attrs.frozen
class Authorization:
    """The answer to an authorisation request (OCPP 1.6 ``IdTagInfo``)."""

    status: AuthorizationStatus
    expiry_date: datetime | None = None
    group_id: str | None = None


def authorize(token: IdToken | None, now: datetime) -> Authorization:
    """The authorisation of ``token`` at ``now`` (``None``: not in the registry)."""
    if token is None:
        return Authorization(AuthorizationStatus.INVALID)
    status = token.status
    if (
        status is AuthorizationStatus.ACCEPTED
        and token.expiry_date is not None
        and token.expiry_date <= now
    ):
        status = AuthorizationStatus.EXPIRED
    return Authorization(status, token.expiry_date, token.group_id)


@attrs.frozen
class MeterSample:
    """One sampled value (OCPP ``SampledValue``), numeric, with its context."""

    timestamp: datetime
    value: float
    measurand: str = "Energy.Active.Import.Register"
    unit: str | None = "Wh"
    phase: str | None = None
    context: str | None = None
    location: str | None = None


class TransactionState(enum.StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


@attrs.frozen
class Transaction:
    """A charging session as the CSMS stored it."""

    station_id: str
    transaction_id: str
    connector_id: int
    """OCPP 1.6 connector ID; for 2.0.1 the connector within ``evse_id``."""
    id_tag: str | None
    started_at: datetime | None
    meter_start: int | None
    """Wh."""
    state: TransactionState = TransactionState.ACTIVE
    evse_id: int | None = None
    reservation_id: int | None = None
    authorization: AuthorizationStatus | None = None
    stopped_at: datetime | None = None
    meter_stop: int | None = None
    stop_reason: str | None = None
    stop_id_tag: str | None = None
    last_meter_wh: int | None = None
    """The latest energy register reading seen (start, meter values or stop)."""
    orphan: bool = False
    """A stop arrived for a transaction this CSMS never started: recorded, not dropped."""

    @property
    def start_key(self) -> tuple[int, str | None, datetime | None, int | None]:
        return (self.connector_id, self.id_tag, self.started_at, self.meter_start)

    @property
    def energy_wh(self) -> int | None:
        end = self.meter_stop if self.meter_stop is not None else self.last_meter_wh
        if end is None or self.meter_start is None:
            return None
        return end - self.meter_start


def start_transaction(
    station_id: str,
    transaction_id: str,
    *,
    connector_id: int,
    id_tag: str | None,
    meter_start: int,
    timestamp: datetime,
    authorization: Authorization,
    evse_id: int | None = None,
    reservation_id: int | None = None,
) -> Transaction:
    """A new active transaction (the caller has checked it is not a retransmission)."""
    return Transaction(
        station_id=station_id,
        transaction_id=transaction_id,
        connector_id=connector_id,
        evse_id=evse_id,
        id_tag=id_tag,
        started_at=timestamp,
        meter_start=meter_start,
        reservation_id=reservation_id,
        authorization=authorization.status,
        last_meter_wh=meter_start,
    )


def _energy_reading(samples: Sequence[MeterSample]) -> int | None:
    readings = [
        s for s in samples if s.measurand == "Energy.Active.Import.Register" and s.phase is None
    ]
    if not readings:
        return None
    latest = max(readings, key=lambda s: s.timestamp)
    factor = 1000 if (latest.unit or "Wh") == "kWh" else 1
    return round(latest.value * factor)


def record_meter_values(transaction: Transaction, samples: Sequence[MeterSample]) -> Transaction:
    """The transaction with its latest energy reading updated from ``samples``."""
    reading = _energy_reading(samples)
    if reading is None or transaction.state is TransactionState.ENDED:
        return transaction
    if transaction.last_meter_wh is not None and reading < transaction.last_meter_wh:
        return transaction  # an older sample arriving late: keep the newest
    return attrs.evolve(transaction, last_meter_wh=reading)


def stop_transaction(
    transaction: Transaction,
    *,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None,
    id_tag: str | None,
) -> Transaction:
    """End ``transaction``; a transaction already ended is returned unchanged."""
    if transaction.state is TransactionState.ENDED:
        return transaction
    return attrs.evolve(
        transaction,
        state=TransactionState.ENDED,
        stopped_at=timestamp,
        meter_stop=meter_stop,
        stop_reason=reason,
        stop_id_tag=id_tag,
        last_meter_wh=meter_stop,
    )


def orphan_stop(
    station_id: str,
    transaction_id: str,
    *,
    meter_stop: int,
    timestamp: datetime,
    reason: str | None,
    id_tag: str | None,
) -> Transaction:
    """The record of a stop for a transaction that was never started here."""
    return Transaction(
        station_id=station_id,
        transaction_id=transaction_id,
        connector_id=0,
        id_tag=id_tag,
        started_at=None,
        meter_start=None,
        state=TransactionState.ENDED,
        stopped_at=timestamp,
        meter_stop=meter_stop,
        stop_reason=reason,
        stop_id_tag=id_tag,
        last_meter_wh=meter_stop,
        orphan=True,
    )


# --- OCPP 2.0.1 transaction events -----------------------------------------------------------

ENERGY_REGISTER: Final = "Energy.Active.Import.Register"
DEFAULT_STOP_REASON: Final = "Local"
"""OCPP 2.0.1: a TransactionEvent ``Ended`` without ``stoppedReason`` means ``Local``."""


class TransactionEventType(enum.StrEnum):
    """OCPP 2.0.1 ``TransactionEventEnumType``."""

    STARTED = "Started"
    UPDATED = "Updated"
    ENDED = "Ended"


def _samples(value: Iterable[MeterSample]) -> tuple[MeterSample, ...]:
    return tuple(value)


@attrs.frozen
class TransactionEventReport:
    """What one OCPP 2.0.1 TransactionEvent says, protocol-neutral.

    ``evse_id`` and ``connector_id`` locate it (``None``: not said); ``connector_status``
    is what the event implies about the connector's status (the protocol layer maps the
    charging state onto :class:`~.values.ConnectorStatus`), ``None`` if nothing.
    """

    transaction_id: str
    seq_no: int
    event_type: TransactionEventType
    timestamp: datetime
    trigger_reason: str
    evse_id: int | None = None
    connector_id: int | None = None
    id_token: str | None = None
    stopped_reason: str | None = None
    offline: bool = False
    reservation_id: int | None = None
    remote_start_id: int | None = None
    samples: tuple[MeterSample, ...] = attrs.field(default=(), converter=_samples)
    connector_status: ConnectorStatus | None = None


def _wh(sample: MeterSample) -> int:
    factor = 1000 if (sample.unit or "Wh") == "kWh" else 1
    return round(sample.value * factor)


def _registers(samples: Sequence[MeterSample]) -> list[MeterSample]:
    return [s for s in samples if s.measurand == ENERGY_REGISTER and s.phase is None]


def _reading_with(samples: Sequence[MeterSample], context: str, *, latest: bool) -> int | None:
    """The energy register reading of ``context`` if there is one, else the earliest (or
    ``latest``) reading of any context; ``None`` without readings."""
    registers = _registers(samples)
    if not registers:
        return None
    chosen = [s for s in registers if s.context == context] or registers
    pick = max if latest else min
    return _wh(pick(chosen, key=lambda s: (s.timestamp, s.value)))


def _greatest(*values: int | None) -> int | None:
    known = [v for v in values if v is not None]
    return max(known) if known else None


def apply_transaction_event(
    station_id: str,
    current: Transaction | None,
    event: TransactionEventReport,
    authorization: Authorization | None = None,
) -> Transaction:
    """The transaction after ``event`` (see the module docstring); ``current`` is ``None``
    for a transaction not seen yet. ``authorization`` is that of the event's id token."""
    transaction = current or Transaction(
        station_id=station_id,
        transaction_id=event.transaction_id,
        connector_id=0,
        id_tag=None,
        started_at=None,
        meter_start=None,
        orphan=event.event_type is TransactionEventType.ENDED,
    )
    changes: dict[str, Any] = {}
    if transaction.evse_id is None and event.evse_id is not None:
        changes["evse_id"] = event.evse_id
    if transaction.connector_id == 0 and event.connector_id:
        changes["connector_id"] = event.connector_id
    if transaction.reservation_id is None and event.reservation_id is not None:
        changes["reservation_id"] = event.reservation_id
    started = event.event_type is TransactionEventType.STARTED
    if event.id_token is not None and (started or transaction.id_tag is None):
        changes["id_tag"] = event.id_token
        if authorization is not None:
            changes["authorization"] = authorization.status
    if started:
        changes["started_at"] = event.timestamp
        changes["orphan"] = False
        begin = _reading_with(event.samples, "Transaction.Begin", latest=False)
        if begin is not None:
            changes["meter_start"] = begin
    elif transaction.meter_start is None:
        begins = [s for s in _registers(event.samples) if s.context == "Transaction.Begin"]
        if begins:
            changes["meter_start"] = _wh(min(begins, key=lambda s: (s.timestamp, s.value)))
    readings = [_wh(s) for s in _registers(event.samples)]
    latest = _greatest(transaction.last_meter_wh, *readings)
    if latest is not None and latest != transaction.last_meter_wh:
        changes["last_meter_wh"] = latest
    if event.event_type is TransactionEventType.ENDED and transaction.stopped_at is None:
        changes["state"] = TransactionState.ENDED
        changes["stopped_at"] = event.timestamp
        changes["meter_stop"] = _reading_with(event.samples, "Transaction.End", latest=True)
        changes["stop_reason"] = event.stopped_reason or DEFAULT_STOP_REASON
        changes["stop_id_tag"] = event.id_token
        changes["orphan"] = transaction.started_at is None and not started
    return attrs.evolve(transaction, **changes) if changes else transaction

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
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from datetime import datetime

import attrs

__all__ = [
    "Authorization",
    "AuthorizationStatus",
    "IdToken",
    "MeterSample",
    "Transaction",
    "TransactionState",
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

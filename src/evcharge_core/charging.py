"""What stations tell the CSMS: the application service behind the OCPP handlers.

:class:`ChargingService` is protocol-neutral: the OCPP 1.6 and 2.0.1 handlers translate
their messages into its calls and its results back into their messages; they never reach
storage themselves. Every call runs in one repository transaction and commits **before** it
returns, so whatever the handler confirms to the station is stored (a transaction is
stored before its confirmation is sent). Events are published after the commit.

Id tokens are checked through the :class:`Authorizer` port; the default,
:class:`RegistryAuthorizer`, reads the id token registry of the repository.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from .bus import NullEventSink
from .clock import utc_now
from .domain.events import (
    Event,
    MeterValuesReceived,
    SerialNumberMismatch,
    StationBooted,
    TransactionEnded,
    TransactionStarted,
    TransactionUpdated,
)
from .domain.model import ReportedInfo, Station
from .domain.status import StatusReport, apply_status_report
from .domain.transactions import (
    Authorization,
    AuthorizationStatus,
    IdToken,
    MeterSample,
    Transaction,
    authorize,
    orphan_stop,
    record_meter_values,
    start_transaction,
    stop_transaction,
)
from .domain.values import RegistrationStatus
from .errors import Conflict, NotFound
from .ports import (
    EventSink,
    Page,
    Repository,
    StationNotification,
    TransactionQuery,
)
from .ports import Transaction as UnitOfWork

__all__ = [
    "Authorizer",
    "BootResult",
    "ChargingService",
    "RegistryAuthorizer",
    "registration_status_of",
]


class Authorizer(Protocol):
    """Decides whether an id token may charge. Swap in your own (a roaming hub, a billing
    back end) by passing it to :class:`ChargingService`."""

    async def authorize(self, tx: UnitOfWork, station_id: str, id_token: str) -> Authorization:
        """Called inside the transaction of the message being handled."""
        ...


@attrs.frozen
class RegistryAuthorizer:
    """The default: the repository's id token registry (status and expiry)."""

    clock: Callable[[], datetime] = utc_now

    async def authorize(self, tx: UnitOfWork, station_id: str, id_token: str) -> Authorization:
        return authorize(await tx.id_tokens.get(id_token), self.clock())


@attrs.frozen
class BootResult:
    """The answer to a BootNotification."""

    status: RegistrationStatus
    interval_s: int
    current_time: datetime


def registration_status_of(station: Station | None) -> RegistrationStatus:
    """What a BootNotification from ``station`` is answered: Rejected for a station that no
    longer exists or an operator rejected; Pending while it is inactive (imported, not yet
    activated) or an operator keeps it Pending; else Accepted."""
    if station is None or station.registration_status is RegistrationStatus.REJECTED:
        return RegistrationStatus.REJECTED
    if not station.is_active or station.registration_status is RegistrationStatus.PENDING:
        return RegistrationStatus.PENDING
    return RegistrationStatus.ACCEPTED


class ChargingService:
    """Station-initiated use cases: boot, heartbeat, status, authorisation, transactions,
    meter values and notifications."""

    def __init__(
        self,
        repository: Repository,
        *,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        authorizer: Authorizer | None = None,
        heartbeat_interval_s: int = 300,
        pending_interval_s: int = 60,
        new_id: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.repository = repository
        self.events: EventSink = events if events is not None else NullEventSink()
        self.clock = clock
        self.authorizer: Authorizer = (
            authorizer if authorizer is not None else RegistryAuthorizer(clock)
        )
        self.heartbeat_interval_s = heartbeat_interval_s
        self.pending_interval_s = pending_interval_s
        self.new_id = new_id

    # --- registration ------------------------------------------------------------------------

    async def registration(self, station_id: str) -> RegistrationStatus:
        """The registration status a station's messages are held to right now."""
        async with self.repository.transaction() as tx:
            return registration_status_of(await tx.stations.get(station_id))

    async def boot(self, station_id: str, reported: ReportedInfo) -> BootResult:
        """Store what the station reports about itself and decide its registration."""
        now = self.clock()
        events: list[Event] = []
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            status = registration_status_of(station)
            if station is not None:
                await tx.stations.save(attrs.evolve(station, reported=reported))
                imported, said = station.serial_number, reported.serial_number
                if imported and said and imported != said:
                    events.append(SerialNumberMismatch(station_id, imported, said))
        events.insert(0, StationBooted(station_id, now, status))
        self.events.publish(events)
        interval = (
            self.heartbeat_interval_s
            if status is RegistrationStatus.ACCEPTED
            else self.pending_interval_s
        )
        return BootResult(status, interval, now)

    async def heartbeat(self, station_id: str) -> datetime:
        """The CSMS's time, for the station's clock."""
        return self.clock()

    # --- status ------------------------------------------------------------------------------

    async def status_report(self, station_id: str, report: StatusReport) -> None:
        """Apply a connector status report (see :mod:`evcharge_core.domain.status`)."""
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            if station is None:
                raise NotFound("station", station_id)
            updated, events = apply_status_report(station, report, new_id=self.new_id)
            if updated != station:
                await tx.stations.save(updated)
        self.events.publish(events)

    # --- authorisation and transactions ------------------------------------------------------

    async def authorize(self, station_id: str, id_tag: str) -> Authorization:
        async with self.repository.transaction() as tx:
            return await self.authorizer.authorize(tx, station_id, id_tag)

    async def start_transaction(
        self,
        station_id: str,
        *,
        connector_id: int,
        id_tag: str,
        meter_start: int,
        timestamp: datetime,
        reservation_id: int | None = None,
    ) -> tuple[int, Authorization]:
        """Store a started transaction and return its OCPP 1.6 id with the id tag's
        authorisation. A retransmission (same connector, id tag, timestamp and meter start)
        returns the id it got the first time."""
        events: list[Event] = []
        async with self.repository.transaction() as tx:
            key = (connector_id, id_tag, timestamp, meter_start)
            existing = await tx.transactions.find_started(station_id, key)
            if existing is not None:
                status = existing.authorization or AuthorizationStatus.ACCEPTED
                return int(existing.transaction_id), Authorization(status)
            authorization = await self.authorizer.authorize(tx, station_id, id_tag)
            transaction_id = await tx.transactions.allocate_id()
            transaction = start_transaction(
                station_id,
                str(transaction_id),
                connector_id=connector_id,
                id_tag=id_tag,
                meter_start=meter_start,
                timestamp=timestamp,
                authorization=authorization,
                reservation_id=reservation_id,
            )
            await tx.transactions.save(transaction)
            events.append(
                TransactionStarted(station_id, str(transaction_id), connector_id, id_tag, timestamp)
            )
        self.events.publish(events)
        return transaction_id, authorization

    async def stop_transaction(
        self,
        station_id: str,
        *,
        transaction_id: str,
        meter_stop: int,
        timestamp: datetime,
        reason: str | None = None,
        id_tag: str | None = None,
        samples: Sequence[MeterSample] = (),
    ) -> Authorization | None:
        """End a transaction; one this CSMS never started is recorded as an orphan, never
        dropped. Returns the authorisation of ``id_tag`` when one is given."""
        events: list[Event] = []
        async with self.repository.transaction() as tx:
            existing = await tx.transactions.get(station_id, transaction_id)
            if existing is None:
                ended = orphan_stop(
                    station_id,
                    transaction_id,
                    meter_stop=meter_stop,
                    timestamp=timestamp,
                    reason=reason,
                    id_tag=id_tag,
                )
            else:
                ended = stop_transaction(
                    existing,
                    meter_stop=meter_stop,
                    timestamp=timestamp,
                    reason=reason,
                    id_tag=id_tag,
                )
            if ended != existing:
                await tx.transactions.save(ended)
                events.append(
                    TransactionEnded(
                        station_id, transaction_id, timestamp, ended.energy_wh, ended.orphan
                    )
                )
            if samples:
                connector = ended.connector_id
                await tx.meter_values.add(station_id, connector, transaction_id, samples)
            authorization = (
                await self.authorizer.authorize(tx, station_id, id_tag) if id_tag else None
            )
        self.events.publish(events)
        return authorization

    async def meter_values(
        self,
        station_id: str,
        *,
        connector_id: int,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None:
        """Store sampled values; those of a known transaction update its energy reading."""
        events: list[Event] = [
            MeterValuesReceived(station_id, connector_id, transaction_id, len(samples))
        ]
        async with self.repository.transaction() as tx:
            await tx.meter_values.add(station_id, connector_id, transaction_id, samples)
            if transaction_id is not None:
                current = await tx.transactions.get(station_id, transaction_id)
                if current is not None:
                    updated = record_meter_values(current, samples)
                    if updated != current:
                        await tx.transactions.save(updated)
                        events.append(
                            TransactionUpdated(station_id, transaction_id, updated.energy_wh)
                        )
        self.events.publish(events)

    async def notification(self, station_id: str, action: str, payload: Mapping[str, Any]) -> None:
        """Keep a station-initiated message operators may want to read later (firmware,
        diagnostics and log status, security events, data transfers)."""
        note = StationNotification(
            station_id, action, self.clock(), json.dumps(payload, sort_keys=True, default=str)
        )
        async with self.repository.transaction() as tx:
            await tx.notifications.add(note)

    # --- reads for operators -----------------------------------------------------------------

    async def list_transactions(self, query: TransactionQuery) -> Page[Transaction]:
        async with self.repository.transaction() as tx:
            return await tx.transactions.list(query)

    async def get_transaction(self, station_id: str, transaction_id: str) -> Transaction:
        async with self.repository.transaction() as tx:
            found = await tx.transactions.get(station_id, transaction_id)
        if found is None:
            raise NotFound("transaction", f"{station_id}/{transaction_id}")
        return found

    async def meter_samples(self, station_id: str, transaction_id: str | None) -> list[MeterSample]:
        async with self.repository.transaction() as tx:
            return await tx.meter_values.list(station_id, transaction_id)

    async def notifications(self, station_id: str, limit: int = 100) -> list[StationNotification]:
        if limit < 1:
            raise ValueError(f"limit must be 1 or more, got {limit}")
        async with self.repository.transaction() as tx:
            return await tx.notifications.list(station_id, limit)

    # --- the id token registry ---------------------------------------------------------------

    async def save_id_token(self, token: IdToken) -> None:
        async with self.repository.transaction() as tx:
            await tx.id_tokens.save(token)

    async def get_id_token(self, id_token: str) -> IdToken:
        async with self.repository.transaction() as tx:
            found = await tx.id_tokens.get(id_token)
        if found is None:
            raise NotFound("id token", id_token)
        return found

    async def add_id_token(self, token: IdToken) -> None:
        """Register a new id token; :class:`~evcharge_core.errors.Conflict` if it exists."""
        async with self.repository.transaction() as tx:
            if await tx.id_tokens.get(token.id_token) is not None:
                raise Conflict(f"id token {token.id_token} already exists")
            await tx.id_tokens.save(token)

    async def update_id_token(self, id_token: str, changes: Mapping[str, Any]) -> IdToken:
        """Change the given fields (``type``, ``status``, ``expiry_date``, ``group_id``) of
        a registered id token, in one transaction."""
        async with self.repository.transaction() as tx:
            found = await tx.id_tokens.get(id_token)
            if found is None:
                raise NotFound("id token", id_token)
            updated = attrs.evolve(found, **changes)
            await tx.id_tokens.save(updated)
        return updated

    async def list_id_tokens(self) -> list[IdToken]:
        async with self.repository.transaction() as tx:
            return await tx.id_tokens.list()

    async def delete_id_token(self, id_token: str) -> None:
        async with self.repository.transaction() as tx:
            if not await tx.id_tokens.delete(id_token):
                raise NotFound("id token", id_token)

"""What stations tell the CSMS: the application service behind the OCPP handlers.

:class:`ChargingService` is protocol-neutral: the OCPP 1.6 and 2.0.1 handlers translate
their messages into its calls and its results back into their messages; they never reach
storage themselves. Every call runs in one repository transaction and commits **before** it
returns, so whatever the handler confirms to the station is stored (a transaction is
stored before its confirmation is sent). Events are published after the commit.

Id tokens are checked through the :class:`Authorizer` port; the default,
:class:`RegistryAuthorizer`, reads the id token registry of the repository.

OCPP 2.0.1 adds :meth:`ChargingService.transaction_event` (a TransactionEvent: kept once per
``seqNo``, folded into its transaction, its meter values stored, its charging state applied
to the connector) and the station's device model (:meth:`ChargingService.device_report`,
:meth:`ChargingService.device_model`).
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
from .domain.device_model import DeviceVariable
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
    TransactionEventReport,
    TransactionState,
    apply_transaction_event,
    authorize,
    orphan_stop,
    record_meter_values,
    start_transaction,
    stop_transaction,
)
from .domain.values import Protocol as OcppProtocol
from .domain.values import RegistrationStatus
from .errors import Conflict, NotFound
from .ports import (
    EventSink,
    Page,
    Repository,
    StationNotification,
    TransactionEventRecord,
    TransactionQuery,
)
from .ports import Transaction as UnitOfWork

__all__ = [
    "Authorizer",
    "BootResult",
    "ChargingService",
    "RegistryAuthorizer",
    "connector_of_evse",
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


def connector_of_evse(station: Station, evse_id: int, connector_id: int | None) -> int | None:
    """The OCPP 2.0.1 connector an EVSE-level message is about: ``connector_id`` if given;
    else the EVSE's only connector, or 1 for an EVSE not known yet or without connectors
    (every EVSE numbers its connectors from 1); ``None`` when the EVSE has several and the
    message does not say which."""
    if connector_id:
        return connector_id
    charger = next((c for c in station.chargers if c.evse_id == evse_id), None)
    if charger is None or not charger.connectors:
        return 1
    if len(charger.connectors) == 1:
        return charger.connectors[0].ocpp_id
    return None


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

    async def transaction_event(
        self, station_id: str, event: TransactionEventReport, payload: Mapping[str, Any]
    ) -> Authorization | None:
        """Handle an OCPP 2.0.1 TransactionEvent (``payload``: the message, kept as it
        came); return the authorisation of its id token, if it carries one.

        An event whose ``seqNo`` was seen for this transaction is a retransmission: nothing
        changes (its id token is authorised again, for the answer). Otherwise, in one unit
        of work: the event is kept, folded into its transaction
        (:func:`~evcharge_core.domain.transactions.apply_transaction_event`), its sampled
        values stored (under the EVSE ID), and the connector status its charging state
        implies applied (:func:`connector_of_evse` says which connector; older than the
        connector's last status, it is ignored as any stale report is). Events:
        TransactionStarted for a new transaction (not for an orphan ``Ended``),
        TransactionUpdated when its energy changes, TransactionEnded when it ends,
        MeterValuesReceived, and what the status report emits.
        """
        now = self.clock()
        events: list[Event] = []
        record = TransactionEventRecord(
            station_id=station_id,
            transaction_id=event.transaction_id,
            seq_no=event.seq_no,
            event_type=event.event_type.value,
            timestamp=event.timestamp,
            trigger_reason=event.trigger_reason,
            offline=event.offline,
            received_at=now,
            payload=json.dumps(payload, sort_keys=True, default=str),
        )
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            if station is None:
                raise NotFound("station", station_id)
            authorization = (
                await self.authorizer.authorize(tx, station_id, event.id_token)
                if event.id_token is not None
                else None
            )
            if not await tx.transaction_events.add(record):
                return authorization
            current = await tx.transactions.get(station_id, event.transaction_id)
            updated = apply_transaction_event(station_id, current, event, authorization)
            if updated != current:
                await tx.transactions.save(updated)
            events.extend(_transaction_events(station_id, current, updated, event))
            evse_id = event.evse_id if event.evse_id is not None else updated.evse_id
            if event.samples:
                await tx.meter_values.add(
                    station_id, evse_id or 0, event.transaction_id, event.samples
                )
                events.append(
                    MeterValuesReceived(
                        station_id, evse_id or 0, event.transaction_id, len(event.samples)
                    )
                )
            if (
                event.connector_status is not None
                and evse_id
                and station.protocol is OcppProtocol.OCPP201
            ):
                connector = connector_of_evse(
                    station, evse_id, event.connector_id or updated.connector_id or None
                )
                if connector is not None:
                    report = StatusReport(
                        ocpp_id=connector,
                        status=event.connector_status,
                        timestamp=event.timestamp,
                        evse_id=evse_id,
                    )
                    changed, status_events = apply_status_report(
                        station, report, new_id=self.new_id
                    )
                    if changed != station:
                        await tx.stations.save(changed)
                    events.extend(status_events)
        self.events.publish(events)
        return authorization

    async def device_report(self, station_id: str, variables: Sequence[DeviceVariable]) -> None:
        """Store variables of an OCPP 2.0.1 station's device model (NotifyReport, or what
        a GetVariables read), replacing those with the same key."""
        async with self.repository.transaction() as tx:
            if await tx.stations.get(station_id) is None:
                raise NotFound("station", station_id)
            await tx.device_model.save(station_id, variables)

    async def device_model(self, station_id: str) -> list[DeviceVariable]:
        """The station's device model as stored, by key text (empty for OCPP 1.6 stations
        and 2.0.1 stations that never reported one); :class:`~evcharge_core.errors.NotFound`
        for an unknown station."""
        async with self.repository.transaction() as tx:
            if await tx.stations.get(station_id) is None:
                raise NotFound("station", station_id)
            return await tx.device_model.list(station_id)

    async def transaction_events(
        self, station_id: str, transaction_id: str
    ) -> list[TransactionEventRecord]:
        """An OCPP 2.0.1 transaction's events as they came, by ``seqNo``."""
        async with self.repository.transaction() as tx:
            return await tx.transaction_events.list(station_id, transaction_id)

    async def station(self, station_id: str) -> Station | None:
        """The station as stored now (``None``: no such station)."""
        async with self.repository.transaction() as tx:
            return await tx.stations.get(station_id)

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


def _transaction_events(
    station_id: str,
    before: Transaction | None,
    after: Transaction,
    event: TransactionEventReport,
) -> list[Event]:
    """What changed between two states of a transaction, as events."""
    found: list[Event] = []
    if before is None and not after.orphan:
        found.append(
            TransactionStarted(
                station_id,
                after.transaction_id,
                after.connector_id,
                after.id_tag,
                event.timestamp,
                evse_id=after.evse_id,
            )
        )
    ended_now = after.state is TransactionState.ENDED and (
        before is None or before.state is not TransactionState.ENDED
    )
    if ended_now:
        found.append(
            TransactionEnded(
                station_id, after.transaction_id, event.timestamp, after.energy_wh, after.orphan
            )
        )
    elif before is not None and after.energy_wh != before.energy_wh:
        found.append(TransactionUpdated(station_id, after.transaction_id, after.energy_wh))
    return found

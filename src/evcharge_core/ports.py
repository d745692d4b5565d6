"""Ports: what the application needs from storage and the outside world, as Protocols.

Storage is reached through one :class:`Repository`, whose :meth:`~Repository.transaction`
yields a :class:`Transaction` holding one store per aggregate. Everything written inside one
``async with repository.transaction() as tx:`` block is committed together when the block
ends normally, and nothing of it when it raises::

    async with repository.transaction() as tx:
        station = await tx.stations.get("ST1")
        await tx.stations.save(attrs.evolve(station, name="Depot 1"))

Every adapter (the in-memory one, SQLite, later PostgreSQL, or your own) must pass the
conformance suite in :mod:`evcharge_core.testing`; the rules it checks are in the
docstrings below. The methods are ``async`` so that adapters over network databases need no
different port; adapters over embedded databases may do their work synchronously inside.
"""

from __future__ import annotations

import enum
import string
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Final, Generic, Protocol, TypeVar

import attrs

from .domain.activation import ThrottleState
from .domain.device_model import DeviceVariable
from .domain.events import Event
from .domain.model import Area, Station
from .domain.profiles import ChargingProfile
from .domain.transactions import IdToken, MeterSample, TransactionState
from .domain.transactions import Transaction as ChargingTransaction
from .domain.values import ActivationState, ConnectorStatus, OperationalStatus
from .domain.values import Protocol as OcppProtocol

__all__ = [
    "ActivationAttemptStore",
    "AreaStore",
    "ChargingProfileStore",
    "DeviceModelStore",
    "EventSink",
    "IdTokenStore",
    "MeterValueStore",
    "NotificationStore",
    "Page",
    "Repository",
    "SessionContext",
    "SessionFactory",
    "SortKey",
    "StationNotification",
    "StationQuery",
    "StationSession",
    "StationStore",
    "Transaction",
    "TransactionEventRecord",
    "TransactionEventStore",
    "TransactionQuery",
    "TransactionSortKey",
    "TransactionStore",
    "ascii_fold",
]

T = TypeVar("T")


class SortKey(enum.StrEnum):
    """What a station list can be sorted by; prefix ``-`` for descending in text form."""

    ID = "id"
    NAME = "name"
    CODE = "code"
    STATUS = "status"
    LAST_SEEN = "last_seen"


@attrs.frozen
class StationQuery:
    """A page of the station list.

    ``search`` matches, case-insensitively and as a substring, the station's id, name, code,
    manufacturer, imported serial number and reported serial number. ``status`` and
    ``operational_status`` filter on the derived station status (see
    :mod:`evcharge_core.domain.status`). Sorting is stable: ties are broken by id.
    ``status`` sorts by :data:`~evcharge_core.domain.status.USABILITY_ORDER`, stations with
    no status last; ``last_seen`` puts never-seen stations last.
    """

    page: int = attrs.field(default=1)
    page_size: int = attrs.field(default=50)
    search: str | None = None
    status: ConnectorStatus | None = None
    operational_status: OperationalStatus | None = None
    area_id: str | None = None
    connected: bool | None = None
    activation: ActivationState | None = None
    sort: SortKey = SortKey.ID
    descending: bool = False

    @page.validator
    def _check_page(self, _attr: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"page must be 1 or more, got {value}")

    @page_size.validator
    def _check_page_size(self, _attr: attrs.Attribute[int], value: int) -> None:
        if not 1 <= value <= 1000:
            raise ValueError(f"page size must be between 1 and 1000, got {value}")


@attrs.frozen
class Page(Generic[T]):
    items: Sequence[T]
    page: int
    page_size: int
    total: int


class StationStore(Protocol):
    """Stations, saved and loaded whole (chargers and connectors included).

    Uniqueness, enforced by :meth:`save` with :class:`~evcharge_core.errors.Conflict`:
    station ``code`` among stations; charger ``code`` among all chargers of all stations;
    charger and connector ``id`` among all chargers and connectors.
    """

    async def get(self, station_id: str) -> Station | None: ...

    async def get_many(self, station_ids: Sequence[str]) -> dict[str, Station]:
        """The stations among ``station_ids`` that exist, by id."""
        ...

    async def save(self, station: Station) -> None:
        """Insert or replace the station whole (chargers and connectors it no longer has are
        removed)."""
        ...

    async def save_many(self, stations: Sequence[Station]) -> None:
        """:meth:`save` for many stations; adapters make this fast (one import: 5000)."""
        ...

    async def delete(self, station_id: str) -> bool:
        """Remove the station and everything it owns; ``False`` if there was none."""
        ...

    async def list(self, query: StationQuery) -> Page[Station]: ...

    async def get_by_code(self, code: str) -> Station | None: ...

    async def get_by_charger_id(self, charger_id: str) -> Station | None:
        """The station that owns the charger."""
        ...

    async def get_by_charger_code(self, code: str) -> Station | None: ...

    async def get_by_connector_id(self, connector_id: str) -> Station | None: ...


class AreaStore(Protocol):
    async def get(self, area_id: str) -> Area | None: ...

    async def save(self, area: Area) -> None: ...

    async def delete(self, area_id: str) -> bool: ...

    async def list(self) -> list[Area]:
        """Every area, ordered by name then id."""
        ...


class ChargingProfileStore(Protocol):
    """Charging profiles (:class:`~evcharge_core.domain.profiles.ChargingProfile`), saved and
    loaded whole. Chargers name theirs by
    :attr:`~evcharge_core.domain.model.Charger.charging_profile_id`."""

    async def get(self, profile_id: str) -> ChargingProfile | None: ...

    async def save(self, profile: ChargingProfile) -> None:
        """Insert or replace the profile by id."""
        ...

    async def delete(self, profile_id: str) -> bool:
        """Remove the profile; ``False`` if there was none. Raises
        :class:`~evcharge_core.errors.Conflict` naming a charger, and changes nothing, while a
        charger of a stored station still names it."""
        ...

    async def list(self) -> list[ChargingProfile]:
        """Every profile, ordered by name then id (code point order)."""
        ...


class ActivationAttemptStore(Protocol):
    """Failed activation attempts per station ID (also for IDs that do not exist: the
    throttle must not tell which do)."""

    async def get(self, station_id: str) -> ThrottleState | None: ...

    async def save(self, station_id: str, state: ThrottleState) -> None: ...

    async def clear(self, station_id: str) -> None: ...


class TransactionSortKey(enum.StrEnum):
    """What a transaction list can be sorted by; prefix ``-`` for descending in text form."""

    STARTED_AT = "started_at"
    """The start time; an orphan stop (a stop for a session never started here) sorts by its
    stop time. The default, descending: newest first."""
    ENERGY = "energy_wh"
    """Energy delivered so far (:attr:`~evcharge_core.domain.transactions.Transaction.
    energy_wh`); sessions without a reading come last."""
    STATION = "station_id"
    """Station id (code point order)."""


def ascii_fold(text: str) -> str:
    """How transaction search compares text: ``A-Z`` lowered, every other character as it
    is (as SQLite's ``lower()`` does; id tags are ASCII in OCPP)."""
    return text.translate(_ASCII_LOWER)


_ASCII_LOWER: Final = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _aware(_inst: object, attr: attrs.Attribute[datetime | None], value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{attr.name} must be a timezone-aware datetime")


@attrs.frozen
class TransactionQuery:
    """A page of charging sessions.

    ``search`` matches, as a substring after :func:`ascii_fold`, the station id, the
    transaction id or the id tag. ``area_id`` keeps the sessions of the area's stations (as
    they are now). ``since`` and ``until`` keep the sessions whose list time (the start; an
    orphan stop's stop) is at or after ``since`` and before ``until``. The order is
    ``sort`` (default: newest start first, orphan stops by their stop time); sessions
    without a value for the sort key come last in both directions, and ties are broken by
    station id then transaction id (code point order), ascending in both directions.
    """

    station_id: str | None = None
    state: TransactionState | None = None
    page: int = attrs.field(default=1)
    page_size: int = attrs.field(default=50)
    search: str | None = None
    area_id: str | None = None
    since: datetime | None = attrs.field(default=None, validator=_aware)
    until: datetime | None = attrs.field(default=None, validator=_aware)
    sort: TransactionSortKey = TransactionSortKey.STARTED_AT
    descending: bool = True

    @page.validator
    def _check_page(self, _attr: attrs.Attribute[int], value: int) -> None:
        if value < 1:
            raise ValueError(f"page must be 1 or more, got {value}")

    @page_size.validator
    def _check_page_size(self, _attr: attrs.Attribute[int], value: int) -> None:
        if not 1 <= value <= 1000:
            raise ValueError(f"page size must be between 1 and 1000, got {value}")


class TransactionStore(Protocol):
    """Charging sessions, keyed by ``(station_id, transaction_id)``."""

    async def allocate_id(self) -> int:
        """A new OCPP 1.6 transaction id: positive, increasing, never handed out twice, even
        when the transaction that allocated it rolls back."""
        ...

    async def get(self, station_id: str, transaction_id: str) -> ChargingTransaction | None: ...

    async def find_started(
        self,
        station_id: str,
        start_key: tuple[int, str | None, datetime | None, int | None],
    ) -> ChargingTransaction | None:
        """The non-orphan transaction of ``station_id`` with this
        :attr:`~evcharge_core.domain.transactions.Transaction.start_key` (retransmissions)."""
        ...

    async def save(self, transaction: ChargingTransaction) -> None: ...

    async def list(self, query: TransactionQuery) -> Page[ChargingTransaction]: ...


class IdTokenStore(Protocol):
    """The authorisation registry."""

    async def get(self, id_token: str) -> IdToken | None: ...

    async def save(self, token: IdToken) -> None: ...

    async def delete(self, id_token: str) -> bool: ...

    async def list(self) -> list[IdToken]:
        """Every token, ordered by id token."""
        ...


class MeterValueStore(Protocol):
    """Sampled meter values as stations report them (append only). ``connector_id`` is the
    OCPP 1.6 connector ID, or the OCPP 2.0.1 EVSE ID (2.0.1 meters values per EVSE; 0: the
    station's main meter, in both)."""

    async def add(
        self,
        station_id: str,
        connector_id: int,
        transaction_id: str | None,
        samples: Sequence[MeterSample],
    ) -> None: ...

    async def list(self, station_id: str, transaction_id: str | None) -> list[MeterSample]:
        """The samples of one transaction (or, with ``None``, those outside any), in the
        order they were added."""
        ...


@attrs.frozen
class StationNotification:
    """A station-initiated message kept as it came (firmware, diagnostics and log status,
    security events, data transfers...): what the station said, for operators to read."""

    station_id: str
    action: str
    received_at: datetime
    payload: str
    """The message payload as JSON text."""


class NotificationStore(Protocol):
    async def add(self, notification: StationNotification) -> None: ...

    async def list(self, station_id: str, limit: int = 100) -> list[StationNotification]:
        """The station's most recent notifications, newest first."""
        ...


@attrs.frozen
class TransactionEventRecord:
    """One OCPP 2.0.1 TransactionEvent as it came, kept once per ``(station_id,
    transaction_id, seq_no)``: the idempotence key, and the transaction's history."""

    station_id: str
    transaction_id: str
    seq_no: int
    event_type: str
    """``Started``, ``Updated`` or ``Ended``."""
    timestamp: datetime
    """When the event happened, as the station says."""
    trigger_reason: str
    offline: bool
    received_at: datetime
    payload: str
    """The message payload as JSON text."""


class TransactionEventStore(Protocol):
    """OCPP 2.0.1 transaction events (append only)."""

    async def add(self, event: TransactionEventRecord) -> bool:
        """Keep ``event``; ``False`` (and nothing changes) if one with its ``(station_id,
        transaction_id, seq_no)`` is kept already: a retransmission."""
        ...

    async def list(self, station_id: str, transaction_id: str) -> list[TransactionEventRecord]:
        """The transaction's events by ``seq_no``."""
        ...


class DeviceModelStore(Protocol):
    """OCPP 2.0.1 stations' device models (what NotifyReport and GetVariables reported)."""

    async def save(self, station_id: str, variables: Sequence[DeviceVariable]) -> None:
        """Insert or replace each variable by its key (equal
        :class:`~evcharge_core.domain.device_model.VariableKey`; a later one in
        ``variables`` replaces an earlier one)."""
        ...

    async def list(self, station_id: str) -> list[DeviceVariable]:
        """The station's variables, ordered by the text of their keys
        (:func:`~evcharge_core.domain.device_model.format_key`, code point order)."""
        ...

    async def clear(self, station_id: str) -> int:
        """Forget the station's device model; how many variables it had."""
        ...


class Transaction(Protocol):
    @property
    def stations(self) -> StationStore: ...

    @property
    def areas(self) -> AreaStore: ...

    @property
    def activation_attempts(self) -> ActivationAttemptStore: ...

    @property
    def charging_profiles(self) -> ChargingProfileStore: ...

    @property
    def transactions(self) -> TransactionStore: ...

    @property
    def id_tokens(self) -> IdTokenStore: ...

    @property
    def meter_values(self) -> MeterValueStore: ...

    @property
    def notifications(self) -> NotificationStore: ...

    @property
    def transaction_events(self) -> TransactionEventStore: ...

    @property
    def device_model(self) -> DeviceModelStore: ...


class Repository(Protocol):
    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """A unit of work: committed when the block ends normally, rolled back when it
        raises. Transactions are serialised: one at a time per repository."""
        ...

    async def close(self) -> None:
        """Flush and release the storage; the repository is unusable afterwards."""
        ...


# --- transport -------------------------------------------------------------------------------


@attrs.frozen
class SessionContext:
    """What a session knows of its connection.

    ``station`` is the station as stored when the connection opened; ``send`` sends a text
    frame to the station (use it for CALLs the CSMS initiates); ``close`` closes the
    connection with a code and a reason.
    """

    station: Station
    protocol: OcppProtocol
    subprotocol: str
    send: Callable[[str], Awaitable[None]]
    close: Callable[[int, str], Awaitable[None]]

    @property
    def station_id(self) -> str:
        return self.station.id


class StationSession(Protocol):
    """The per-connection handler the gateway feeds; one instance per websocket.

    :meth:`on_open` is awaited once before the first frame is read. :meth:`on_message` is
    awaited for each text frame, in arrival order, and the next frame is read only once it
    returned: a session that must wait for the station's answer to one of its own CALLs
    (which arrives through :meth:`on_message`) must wait in a task of its own. Its return
    value, if not ``None``, is sent back as a text frame. :meth:`on_close` is awaited once
    when the connection ended, however it ended (including after a failed :meth:`on_open`).
    """

    async def on_open(self) -> None: ...

    async def on_message(self, text: str) -> str | None: ...

    async def on_close(self) -> None: ...


SessionFactory = Callable[[SessionContext], StationSession]
"""Builds the session of a newly opened connection."""


class EventSink(Protocol):
    """Where the application publishes domain events after they are committed."""

    def publish(self, events: Sequence[Event]) -> None: ...

"""Domain events: what changed, as values.

Pure domain functions return them next to the new state; the application service publishes
them (after the change is committed) through the :class:`~evcharge_core.ports.EventSink`
port, where embedding services subscribe.
"""

from __future__ import annotations

from datetime import datetime

import attrs

from .allocation import AllocationState
from .profiles import RateUnit
from .values import ConnectorStatus, RegistrationStatus

__all__ = [
    "ActivationFailed",
    "AllocationChanged",
    "AllocationRejected",
    "AreaChanged",
    "AreaDeleted",
    "BootConfigured",
    "ChargingProfileAssigned",
    "ChargingProfileChanged",
    "ChargingProfileDeleted",
    "ChargingProfileRejected",
    "ChargingProfileSent",
    "ConnectorStatusChanged",
    "Event",
    "MeterValuesReceived",
    "SerialNumberMismatch",
    "StaleStatusReport",
    "StationActivated",
    "StationBooted",
    "StationChanged",
    "StationConnected",
    "StationDeleted",
    "StationDisconnected",
    "StationImported",
    "StatusAnomaly",
    "TransactionEnded",
    "TransactionStarted",
    "TransactionUpdated",
]


@attrs.frozen
class StationChanged:
    """A station (or one of its chargers or connectors) was created or edited by an operator."""

    station_id: str
    created: bool = False


@attrs.frozen
class StationDeleted:
    station_id: str


@attrs.frozen
class StationImported:
    """A station was imported; ``replaced`` when it overrode an inactive one."""

    station_id: str
    replaced: bool = False


@attrs.frozen
class StationActivated:
    station_id: str
    at: datetime


@attrs.frozen
class ActivationFailed:
    """A wrong security code (or unknown ID) was given for ``station_id``."""

    station_id: str
    at: datetime
    failures: int


@attrs.frozen
class AreaChanged:
    area_id: str
    created: bool = False


@attrs.frozen
class AreaDeleted:
    area_id: str


@attrs.frozen
class ChargingProfileChanged:
    """A charging profile was created or edited by an operator."""

    profile_id: str
    created: bool = False


@attrs.frozen
class ChargingProfileDeleted:
    profile_id: str


@attrs.frozen
class ChargingProfileAssigned:
    """A charger's profile changed (``profile_id`` ``None``: it has none any more)."""

    station_id: str
    charger_id: str
    profile_id: str | None
    previous: str | None = None


@attrs.frozen
class ChargingProfileSent:
    """A charger's profile was sent to its station and accepted (``profile_id`` ``None``:
    its former profile was cleared)."""

    station_id: str
    charger_id: str
    profile_id: str | None


@attrs.frozen
class ChargingProfileRejected:
    """A charger's profile did not reach its station: ``error`` says why (the station's
    answer, a CallError, a timeout)."""

    station_id: str
    charger_id: str
    profile_id: str | None
    error: str


@attrs.frozen
class BootConfigured:
    """A station's boot configuration was sent after it connected; ``cleared_profiles``
    when it included ClearChargingProfile (every profile, TxProfiles included)."""

    station_id: str
    cleared_profiles: bool


@attrs.frozen
class AllocationChanged:
    """The balancer put a new limit in force on a connector's transaction (the station
    accepted it). ``previous`` ``None``: it had none from the balancer."""

    area_id: str
    station_id: str
    connector_id: str
    previous: int | None
    limit: int
    unit: RateUnit
    state: AllocationState


@attrs.frozen
class AllocationRejected:
    """A connector's station did not take a new limit (rejected, CallError, timeout, not
    connected): the connector is pinned at its limit in force."""

    area_id: str
    station_id: str
    connector_id: str
    limit: int
    unit: RateUnit
    error: str


@attrs.frozen
class ConnectorStatusChanged:
    """The effective status of a connector changed. ``ocpp_id`` 0 is the station itself."""

    station_id: str
    ocpp_id: int
    previous: ConnectorStatus | None
    status: ConnectorStatus
    timestamp: datetime
    charger_id: str | None = None
    connector_id: str | None = None
    evse_id: int | None = None
    """OCPP 2.0.1: the EVSE ``ocpp_id`` is numbered within; ``None`` for OCPP 1.6."""


@attrs.frozen
class StatusAnomaly:
    """A reported transition outside OCPP 1.6 §4.9's table. It was applied all the same:
    the station is the source of truth."""

    station_id: str
    ocpp_id: int
    previous: ConnectorStatus
    reported: ConnectorStatus
    timestamp: datetime
    evse_id: int | None = None


@attrs.frozen
class StaleStatusReport:
    """A report older than the one already applied; it was ignored."""

    station_id: str
    ocpp_id: int
    reported: ConnectorStatus
    timestamp: datetime
    applied_timestamp: datetime
    evse_id: int | None = None


@attrs.frozen
class StationConnected:
    station_id: str
    at: datetime
    subprotocol: str


@attrs.frozen
class StationDisconnected:
    station_id: str
    at: datetime


@attrs.frozen
class StationBooted:
    """A BootNotification was answered ``status``."""

    station_id: str
    at: datetime
    status: RegistrationStatus


@attrs.frozen
class SerialNumberMismatch:
    """The serial number a station reports differs from the one it was imported with."""

    station_id: str
    imported: str
    reported: str


@attrs.frozen
class TransactionStarted:
    """A transaction was stored for the first time (OCPP 2.0.1: its first TransactionEvent
    other than an orphan ``Ended``; ``at`` is that event's time). ``connector_id`` is the
    OCPP 1.6 connector ID, or for 2.0.1 the connector within ``evse_id`` (0: not said)."""

    station_id: str
    transaction_id: str
    connector_id: int
    id_tag: str | None
    at: datetime
    evse_id: int | None = None


@attrs.frozen
class TransactionUpdated:
    """New meter values for a running transaction."""

    station_id: str
    transaction_id: str
    energy_wh: int | None


@attrs.frozen
class TransactionEnded:
    station_id: str
    transaction_id: str
    at: datetime
    energy_wh: int | None
    orphan: bool = False


@attrs.frozen
class MeterValuesReceived:
    """Sampled values were stored; ``connector_id`` as in
    :class:`~evcharge_core.ports.MeterValueStore` (the EVSE ID for OCPP 2.0.1)."""

    station_id: str
    connector_id: int
    transaction_id: str | None
    samples: int


Event = (
    StationChanged
    | StationDeleted
    | StationImported
    | StationActivated
    | ActivationFailed
    | AreaChanged
    | AreaDeleted
    | ChargingProfileChanged
    | ChargingProfileDeleted
    | ChargingProfileAssigned
    | ChargingProfileSent
    | ChargingProfileRejected
    | BootConfigured
    | AllocationChanged
    | AllocationRejected
    | ConnectorStatusChanged
    | StatusAnomaly
    | StaleStatusReport
    | StationConnected
    | StationDisconnected
    | StationBooted
    | SerialNumberMismatch
    | TransactionStarted
    | TransactionUpdated
    | TransactionEnded
    | MeterValuesReceived
)

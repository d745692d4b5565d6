"""What a simulated OCPP 1.6 charge point decides, without I/O.

:class:`StationModel` holds a charge point's state (connectors, configuration, charging
profiles, local authorisation list, reservations) and decides:

- what to answer each CALL the CSMS sends (:meth:`StationModel.answer`), returned as an
  :class:`Answer`: a response payload or a CallError, plus :data:`Effect` values the I/O layer
  carries out after sending the answer (send a triggered message, reboot, wake the connector
  loops, ...);
- what its own requests carry (``boot_notification``, ``status_notification``,
  ``start_transaction``, ``meter_values``, ...);
- how a connector moves through a charging session (``plug_in``, ``transaction_started``,
  ``advance``, ``finish``, ``unplug``).

A connector's OCPP status is derived from its facts, never stored, so it cannot disagree
with them (:meth:`Connector.status`)::

    phase       operative  reservation  ->  status
    PREPARING   -          -                Preparing
    CHARGING    -          -                Charging / SuspendedEV / SuspendedEVSE
    FINISHING   -          -                Finishing
    IDLE        no         -                Unavailable
    IDLE        yes        yes              Reserved
    IDLE        yes        no               Available

The clock is a parameter (``now``) of every method that needs it.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from .. import __version__
from ._configuration import Configuration
from ._effects import (
    Answer,
    Effect,
    InstallFirmware,
    Reboot,
    SendTriggered,
    StatusMayHaveChanged,
    UploadDiagnostics,
    Wake,
)
from ._meter import Meter, Suspension, Vehicle, sampled_values, station_max_watts
from ._ocppj import CallErrorReply, ErrorCode, PayloadReader, format_datetime
from ._profiles import (
    ChargingProfile,
    InstalledProfile,
    composite_schedule,
    limit_watts,
    parse_profile,
)

__all__ = [
    "TRIGGERABLE_MESSAGES",
    "Answer",
    "Connector",
    "ConnectorPhase",
    "Effect",
    "InstallFirmware",
    "Reboot",
    "Reservation",
    "SendTriggered",
    "StationModel",
    "StatusMayHaveChanged",
    "UploadDiagnostics",
    "Wake",
]

#: The messages TriggerMessage may ask for (OCPP 1.6 ``MessageTrigger``).
TRIGGERABLE_MESSAGES: Final = (
    "BootNotification",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "StatusNotification",
)
_ID_TAG_STATUSES: Final = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
_PURPOSES: Final = ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile")
_SERIAL_MAX: Final = 25


class ConnectorPhase(enum.Enum):
    """Where a connector is in a charging session."""

    #: No vehicle: the connector is Available, Reserved or Unavailable.
    IDLE = "idle"
    #: A vehicle is plugged in or an id tag presented; the transaction has not started.
    PREPARING = "preparing"
    #: A transaction is running (energy may be suspended by the EV or the charge point).
    CHARGING = "charging"
    #: The transaction has stopped; the vehicle is still plugged in.
    FINISHING = "finishing"


@attrs.frozen
class Reservation:
    """A ReserveNow reservation of one connector for one id tag until ``expiry``."""

    reservation_id: int
    id_tag: str
    expiry: datetime
    parent_id_tag: str | None = None


@attrs.define
class Connector:
    """One connector (1..N) and the session on it."""

    connector_id: int
    meter: Meter
    operative: bool = True
    inoperative_scheduled: bool = False
    phase: ConnectorPhase = ConnectorPhase.IDLE
    id_tag: str | None = None
    transaction_id: int | None = None
    transaction_start: datetime | None = None
    meter_start: int = 0
    reservation_id_used: int | None = None
    begin_samples: list[dict[str, Any]] | None = None
    vehicle: Vehicle | None = None
    suspension: Suspension | None = None
    reservation: Reservation | None = None
    remote_id_tag: str | None = None
    stop_reason: str | None = None

    @property
    def status(self) -> str:
        """The OCPP ``ChargePointStatus`` this connector reports."""
        if self.phase is ConnectorPhase.PREPARING:
            return "Preparing"
        if self.phase is ConnectorPhase.CHARGING:
            return self.suspension.value if self.suspension is not None else "Charging"
        if self.phase is ConnectorPhase.FINISHING:
            return "Finishing"
        if not self.operative:
            return "Unavailable"
        return "Reserved" if self.reservation is not None else "Available"

    def free_for(self, id_tag: str) -> bool:
        """Whether a session for ``id_tag`` may start here now."""
        return (
            self.phase is ConnectorPhase.IDLE
            and self.operative
            and self.remote_id_tag is None
            and (self.reservation is None or self.reservation.id_tag == id_tag)
        )


_Handler = Callable[["StationModel", PayloadReader, datetime], Answer]


@attrs.define
class StationModel:
    """A simulated charge point's state and decisions. See the module docstring."""

    station_id: str
    connectors: list[Connector]
    configuration: Configuration
    rng: random.Random
    registration: str | None = None
    operative: bool = True
    inoperative_scheduled: bool = False
    profiles: list[InstalledProfile] = attrs.field(factory=list)
    local_list_version: int = 0
    local_list: dict[str, dict[str, Any]] = attrs.field(factory=dict)
    diagnostics_status: str = "Idle"
    firmware_status: str = "Idle"

    @classmethod
    def create(
        cls,
        station_id: str,
        *,
        connectors: int = 2,
        meter_interval: int = 60,
        password: str | None = None,
        rng: random.Random | None = None,
        max_security_profile: int = 1,
    ) -> StationModel:
        """A freshly installed charge point with ``connectors`` idle connectors."""
        rng = rng if rng is not None else random.Random()  # noqa: S311 - a simulation, not crypto
        return cls(
            station_id=station_id,
            connectors=[Connector(n, Meter.used(rng)) for n in range(1, connectors + 1)],
            configuration=Configuration.create(
                connectors=connectors,
                meter_interval=meter_interval,
                password=password,
                max_security_profile=max_security_profile,
            ),
            rng=rng,
        )

    # --- queries --------------------------------------------------------------------------

    def connector(self, connector_id: int) -> Connector:
        """Connector ``connector_id`` (1..N)."""
        if not 1 <= connector_id <= len(self.connectors):
            raise LookupError(f"no connector {connector_id}")
        return self.connectors[connector_id - 1]

    def _has_connector(self, connector_id: int, *, zero: bool = False) -> bool:
        return (0 if zero else 1) <= connector_id <= len(self.connectors)

    def status_of(self, connector_id: int) -> str:
        """The status to report for a connector; 0 is the charge point as a whole."""
        if connector_id == 0:
            return "Available" if self.operative else "Unavailable"
        return self.connector(connector_id).status

    def statuses(self) -> dict[int, str]:
        """Every connector's status, 0 included."""
        return {n: self.status_of(n) for n in range(len(self.connectors) + 1)}

    @property
    def accepted(self) -> bool:
        """Whether the CSMS accepted the last BootNotification."""
        return self.registration == "Accepted"

    def heartbeat_interval(self) -> int:
        """Seconds between heartbeats (``HeartbeatInterval``; 0 means none)."""
        return self.configuration.integer("HeartbeatInterval")

    def meter_interval(self) -> int:
        """Seconds between meter samples in a transaction (0 means none)."""
        return self.configuration.integer("MeterValueSampleInterval")

    def websocket_ping_interval(self) -> int:
        """Seconds between websocket pings (``WebSocketPingInterval``; 0 means none)."""
        return self.configuration.integer("WebSocketPingInterval")

    @property
    def basic_auth_password(self) -> str | None:
        """The Basic auth password to present on the next connection (``AuthorizationKey``)."""
        return self.configuration.authorization_key

    def transaction_message_retries(self) -> tuple[int, int]:
        """``(TransactionMessageAttempts, TransactionMessageRetryInterval)``."""
        return (
            self.configuration.integer("TransactionMessageAttempts"),
            self.configuration.integer("TransactionMessageRetryInterval"),
        )

    def profile_summaries(self) -> list[dict[str, Any]]:
        """The installed charging profiles, for the report."""
        return [
            {
                "id": item.profile.profile_id,
                "connector_id": item.connector_id,
                "purpose": item.profile.purpose,
                "stack_level": item.profile.stack_level,
            }
            for item in self.profiles
        ]

    def limit_for(self, connector: Connector, now: datetime) -> float | None:
        """The charging profile limit on a connector now, in W (``None``: unlimited)."""
        return limit_watts(
            self.profiles,
            connector.connector_id,
            now,
            transaction_id=connector.transaction_id,
            transaction_start=connector.transaction_start,
        )

    def next_reservation_expiry(self, connector: Connector) -> datetime | None:
        """When the connector's reservation expires, if it has one."""
        return connector.reservation.expiry if connector.reservation is not None else None

    # --- requests the charge point sends --------------------------------------------------

    def boot_notification(self) -> dict[str, Any]:
        """The BootNotification payload."""
        return {
            "chargePointVendor": "evcharge",
            "chargePointModel": "simulator",
            "chargePointSerialNumber": self.station_id[-_SERIAL_MAX:],
            "firmwareVersion": f"evcharge-simulator {__version__}",
            "meterType": "simulated meter",
            "meterSerialNumber": f"M-{self.station_id}"[-_SERIAL_MAX:],
        }

    def status_notification(self, connector_id: int, now: datetime) -> dict[str, Any]:
        """The StatusNotification payload for a connector's present status."""
        return {
            "connectorId": connector_id,
            "errorCode": "NoError",
            "status": self.status_of(connector_id),
            "timestamp": format_datetime(now),
        }

    def meter_values(self, connector_id: int, context: str, now: datetime) -> dict[str, Any]:
        """A MeterValues payload; connector 0 reports the sum of the connectors' meters."""
        measurands = self.configuration.measurands("MeterValuesSampledData")
        vehicle: Vehicle | None = None
        transaction_id: int | None = None
        if connector_id == 0:
            meter = Meter(
                register_wh=sum(c.meter.register_wh for c in self.connectors),
                power_w=sum(c.meter.power_w for c in self.connectors),
                offered_w=station_max_watts() * len(self.connectors),
            )
        else:
            connector = self.connector(connector_id)
            meter, vehicle = connector.meter, connector.vehicle
            if connector.phase is ConnectorPhase.CHARGING:
                transaction_id = connector.transaction_id
        payload: dict[str, Any] = {
            "connectorId": connector_id,
            "meterValue": [
                {
                    "timestamp": format_datetime(now),
                    "sampledValue": sampled_values(measurands, meter, context, self.rng, vehicle),
                }
            ],
        }
        if transaction_id is not None:
            payload["transactionId"] = transaction_id
        return payload

    def start_transaction(self, connector_id: int, now: datetime) -> dict[str, Any]:
        """The StartTransaction payload; remembers the meter start and a used reservation."""
        connector = self.connector(connector_id)
        assert connector.id_tag is not None
        connector.meter_start = connector.meter.register
        payload: dict[str, Any] = {
            "connectorId": connector_id,
            "idTag": connector.id_tag,
            "meterStart": connector.meter_start,
            "timestamp": format_datetime(now),
        }
        reservation = connector.reservation
        connector.reservation_id_used = None
        if reservation is not None and reservation.id_tag == connector.id_tag:
            payload["reservationId"] = reservation.reservation_id
            connector.reservation_id_used = reservation.reservation_id
        measurands = self.configuration.measurands("StopTxnSampledData")
        connector.begin_samples = (
            sampled_values(measurands, connector.meter, "Transaction.Begin", self.rng)
            if measurands
            else None
        )
        return payload

    def stop_transaction(self, connector_id: int, reason: str, now: datetime) -> dict[str, Any]:
        """The StopTransaction payload for the connector's transaction."""
        connector = self.connector(connector_id)
        assert connector.transaction_id is not None
        payload: dict[str, Any] = {
            "transactionId": connector.transaction_id,
            "meterStop": connector.meter.register,
            "timestamp": format_datetime(now),
            "reason": reason,
        }
        if reason == "Local" and connector.id_tag is not None:
            payload["idTag"] = connector.id_tag
        measurands = self.configuration.measurands("StopTxnSampledData")
        if measurands and connector.begin_samples is not None:
            begin_time = connector.transaction_start or now
            payload["transactionData"] = [
                {"timestamp": format_datetime(begin_time), "sampledValue": connector.begin_samples},
                {
                    "timestamp": format_datetime(now),
                    "sampledValue": sampled_values(
                        measurands, connector.meter, "Transaction.End", self.rng, connector.vehicle
                    ),
                },
            ]
        return payload

    # --- the charge point's own life ------------------------------------------------------

    def accept_boot(self, status: str, interval: int) -> None:
        """Take in a BootNotification answer (an Accepted interval sets the heartbeat)."""
        self.registration = status
        if status == "Accepted" and interval > 0:
            self.configuration.set("HeartbeatInterval", str(interval))

    def disconnected(self) -> None:
        """The connection ended: the next one starts with a BootNotification."""
        self.registration = None

    def plug_in(self, connector_id: int, id_tag: str) -> None:
        """A driver plugs in and presents ``id_tag``: Preparing."""
        connector = self.connector(connector_id)
        connector.phase = ConnectorPhase.PREPARING
        connector.id_tag = id_tag
        connector.vehicle = Vehicle.draw(self.rng)
        connector.stop_reason = None

    def transaction_started(self, connector_id: int, transaction_id: int, now: datetime) -> None:
        """The CSMS gave a transaction ID: Charging (a used reservation ends)."""
        connector = self.connector(connector_id)
        connector.transaction_id = transaction_id
        connector.transaction_start = now
        connector.phase = ConnectorPhase.CHARGING
        if connector.reservation_id_used is not None:
            connector.reservation = None
        self.advance(connector_id, 0.0, now)

    def advance(self, connector_id: int, seconds: float, now: datetime) -> None:
        """Let ``seconds`` of charging pass on a connector in a transaction."""
        connector = self.connector(connector_id)
        if connector.phase is not ConnectorPhase.CHARGING or connector.vehicle is None:
            return
        limit = self.limit_for(connector, now)
        connector.suspension = connector.meter.advance(connector.vehicle, seconds, limit, self.rng)

    def finish(self, connector_id: int) -> None:
        """The transaction stopped: Finishing; its TxProfiles end with it."""
        connector = self.connector(connector_id)
        connector.phase = ConnectorPhase.FINISHING
        connector.meter.stop()
        connector.suspension = None
        connector.transaction_id = None
        connector.transaction_start = None
        self.profiles = [
            p
            for p in self.profiles
            if not (p.connector_id == connector_id and p.profile.purpose == "TxProfile")
        ]

    def unplug(self, connector_id: int) -> None:
        """The vehicle leaves (or authorisation failed): the connector is idle again."""
        connector = self.connector(connector_id)
        connector.phase = ConnectorPhase.IDLE
        connector.id_tag = None
        connector.vehicle = None
        connector.stop_reason = None
        connector.begin_samples = None
        connector.meter.stop()
        if connector.inoperative_scheduled:
            connector.operative = False
            connector.inoperative_scheduled = False
        if self.inoperative_scheduled and all(
            c.phase is ConnectorPhase.IDLE for c in self.connectors
        ):
            self.operative = False
            self.inoperative_scheduled = False

    def expire_reservations(self, now: datetime) -> bool:
        """End reservations whose expiry has passed; whether any did."""
        expired = False
        for connector in self.connectors:
            if connector.reservation is not None and connector.reservation.expiry <= now:
                connector.reservation = None
                expired = True
        return expired

    def reboot(self) -> None:
        """Power cycle: sessions, reservations and TxProfiles are gone; availability,
        configuration, the local list and the meters stay."""
        self.registration = None
        for connector in self.connectors:
            if connector.phase is not ConnectorPhase.IDLE:
                self.finish(connector.connector_id)
                self.unplug(connector.connector_id)
            connector.reservation = None
            connector.remote_id_tag = None
        self.profiles = [p for p in self.profiles if p.profile.purpose != "TxProfile"]
        self.diagnostics_status = "Idle"

    # --- answering the CSMS ---------------------------------------------------------------

    def answer(self, action: str, payload: Mapping[str, Any], now: datetime) -> Answer:
        """Decide the answer to a CALL from the CSMS (``NotImplemented`` if unknown)."""
        handler = _HANDLERS.get(action)
        if handler is None:
            return Answer(
                error=CallErrorReply(
                    ErrorCode.NOT_IMPLEMENTED, f"{action} is not implemented by this station"
                )
            )
        try:
            return handler(self, PayloadReader(payload), now)
        except CallErrorReply as error:
            return Answer(error=error)

    def _change_availability(self, reader: PayloadReader, now: datetime) -> Answer:
        connector_id = reader.integer("connectorId")
        operative = reader.choice("type", ("Inoperative", "Operative")) == "Operative"
        if not self._has_connector(connector_id, zero=True):
            return Answer.status("Rejected")
        targets = self.connectors if connector_id == 0 else [self.connector(connector_id)]
        scheduled = False
        for connector in targets:
            if operative:
                connector.operative = True
                connector.inoperative_scheduled = False
            elif connector.phase is ConnectorPhase.IDLE:
                connector.operative = False
                connector.inoperative_scheduled = False
            else:
                connector.inoperative_scheduled = True
                scheduled = True
        if connector_id == 0:
            self.operative = operative or scheduled
            self.inoperative_scheduled = not operative and scheduled
        return Answer.status(
            "Scheduled" if scheduled else "Accepted", StatusMayHaveChanged(), Wake()
        )

    def _remote_start(self, reader: PayloadReader, now: datetime) -> Answer:
        id_tag = reader.string("idTag", 20)
        connector_id = reader.optional_integer("connectorId")
        profile_reader = reader.optional_child("chargingProfile")
        profile = parse_profile(profile_reader) if profile_reader is not None else None
        if not self.accepted or (profile is not None and profile.purpose != "TxProfile"):
            return Answer.status("Rejected")
        if connector_id is not None:
            if not self._has_connector(connector_id):
                return Answer.status("Rejected")
            candidates = [self.connector(connector_id)]
        else:
            candidates = self.connectors
        chosen = next((c for c in candidates if c.free_for(id_tag)), None)
        if chosen is None:
            return Answer.status("Rejected")
        if profile is not None and (
            self._install_profile(chosen.connector_id, profile, now, before_start=True)
            != "Accepted"
        ):
            return Answer.status("Rejected")
        chosen.remote_id_tag = id_tag
        return Answer.status("Accepted", Wake())

    def _remote_stop(self, reader: PayloadReader, now: datetime) -> Answer:
        transaction_id = reader.integer("transactionId")
        for connector in self.connectors:
            if (
                connector.phase is ConnectorPhase.CHARGING
                and connector.transaction_id == transaction_id
            ):
                connector.stop_reason = connector.stop_reason or "Remote"
                return Answer.status("Accepted", Wake())
        return Answer.status("Rejected")

    def _unlock_connector(self, reader: PayloadReader, now: datetime) -> Answer:
        connector_id = reader.integer("connectorId")
        if not self._has_connector(connector_id):
            return Answer.status("NotSupported")
        connector = self.connector(connector_id)
        if connector.phase is ConnectorPhase.CHARGING:
            connector.stop_reason = connector.stop_reason or "UnlockCommand"
        return Answer.status("Unlocked", Wake())

    def _reserve_now(self, reader: PayloadReader, now: datetime) -> Answer:
        connector_id = reader.integer("connectorId")
        expiry = reader.timestamp("expiryDate")
        id_tag = reader.string("idTag", 20)
        parent = reader.optional_string("parentIdTag", 20)
        reservation_id = reader.integer("reservationId")
        if connector_id == 0 and not self.configuration.boolean("ReserveConnectorZeroSupported"):
            return Answer.status("Rejected")
        if not self._has_connector(connector_id) or expiry <= now:
            return Answer.status("Rejected")
        connector = self.connector(connector_id)
        if not connector.operative or not self.operative:
            return Answer.status("Unavailable")
        held = connector.reservation
        if (
            connector.phase is not ConnectorPhase.IDLE
            or connector.remote_id_tag is not None
            or (held is not None and held.reservation_id != reservation_id)
        ):
            return Answer.status("Occupied")
        for other in self.connectors:
            if other.reservation is not None and other.reservation.reservation_id == reservation_id:
                other.reservation = None
        connector.reservation = Reservation(reservation_id, id_tag, expiry, parent)
        return Answer.status("Accepted", StatusMayHaveChanged(), Wake())

    def _cancel_reservation(self, reader: PayloadReader, now: datetime) -> Answer:
        reservation_id = reader.integer("reservationId")
        for connector in self.connectors:
            held = connector.reservation
            if held is not None and held.reservation_id == reservation_id:
                connector.reservation = None
                return Answer.status("Accepted", StatusMayHaveChanged(), Wake())
        return Answer.status("Rejected")

    def _install_profile(  # noqa: PLR0911 - one return per rule
        self,
        connector_id: int,
        profile: ChargingProfile,
        now: datetime,
        *,
        before_start: bool = False,
    ) -> str:
        config = self.configuration
        if not self._has_connector(connector_id, zero=True):
            return "Rejected"
        purpose = profile.purpose
        if purpose == "ChargePointMaxProfile" and connector_id != 0:
            return "Rejected"
        if purpose == "TxProfile" and connector_id == 0:
            return "Rejected"
        if purpose == "TxProfile" and not before_start:
            transaction_id = self.connector(connector_id).transaction_id
            if transaction_id is None or profile.transaction_id not in (None, transaction_id):
                return "Rejected"
        if not 0 <= profile.stack_level <= config.integer("ChargeProfileMaxStackLevel"):
            return "Rejected"
        if len(profile.schedule.periods) > config.integer("ChargingScheduleMaxPeriods"):
            return "Rejected"
        kept = [
            p
            for p in self.profiles
            if p.profile.profile_id != profile.profile_id
            and not (
                p.connector_id == connector_id
                and p.profile.purpose == purpose
                and p.profile.stack_level == profile.stack_level
            )
        ]
        if len(kept) >= config.integer("MaxChargingProfilesInstalled"):
            return "Rejected"
        self.profiles = [*kept, InstalledProfile(connector_id, profile, now)]
        return "Accepted"

    def _set_charging_profile(self, reader: PayloadReader, now: datetime) -> Answer:
        connector_id = reader.integer("connectorId")
        profile = parse_profile(reader.child("csChargingProfiles"))
        return Answer.status(self._install_profile(connector_id, profile, now), Wake())

    def _clear_charging_profile(self, reader: PayloadReader, now: datetime) -> Answer:
        profile_id = reader.optional_integer("id")
        connector_id = reader.optional_integer("connectorId")
        purpose = reader.optional_choice("chargingProfilePurpose", _PURPOSES)
        stack_level = reader.optional_integer("stackLevel")

        def matches(item: InstalledProfile) -> bool:
            if profile_id is not None:
                return item.profile.profile_id == profile_id
            return (
                (connector_id is None or item.connector_id == connector_id)
                and (purpose is None or item.profile.purpose == purpose)
                and (stack_level is None or item.profile.stack_level == stack_level)
            )

        kept = [item for item in self.profiles if not matches(item)]
        cleared = len(kept) < len(self.profiles)
        self.profiles = kept
        return Answer.status("Accepted" if cleared else "Unknown", Wake())

    def _get_composite_schedule(self, reader: PayloadReader, now: datetime) -> Answer:
        connector_id = reader.integer("connectorId")
        duration = reader.integer("duration")
        unit = reader.optional_choice("chargingRateUnit", ("A", "W")) or "W"
        if not self._has_connector(connector_id, zero=True) or duration < 0:
            return Answer.status("Rejected")
        transaction_id: int | None = None
        transaction_start: datetime | None = None
        max_watts = station_max_watts() * len(self.connectors)
        if connector_id > 0:
            connector = self.connector(connector_id)
            transaction_id, transaction_start = (
                connector.transaction_id,
                connector.transaction_start,
            )
            max_watts = station_max_watts()
        schedule = composite_schedule(
            self.profiles,
            connector_id,
            now,
            duration=duration,
            unit=unit,
            max_watts=max_watts,
            transaction_id=transaction_id,
            transaction_start=transaction_start,
        )
        return Answer.result(
            {
                "status": "Accepted",
                "connectorId": connector_id,
                "scheduleStart": format_datetime(now),
                "chargingSchedule": schedule,
            }
        )

    def _get_configuration(self, reader: PayloadReader, now: datetime) -> Answer:
        known, unknown = self.configuration.get(reader.strings("key", 50))
        payload: dict[str, Any] = {"configurationKey": known}
        if unknown:
            payload["unknownKey"] = unknown
        return Answer.result(payload)

    def _change_configuration(self, reader: PayloadReader, now: datetime) -> Answer:
        key = reader.string("key", 50)
        value = reader.string("value", 500)
        status = self.configuration.change(key, value)
        return Answer.status(status, Wake()) if status == "Accepted" else Answer.status(status)

    def _trigger_message(self, reader: PayloadReader, now: datetime) -> Answer:
        message = reader.choice("requestedMessage", TRIGGERABLE_MESSAGES)
        connector_id = reader.optional_integer("connectorId")
        if connector_id is not None and not self._has_connector(connector_id, zero=True):
            return Answer.status("Rejected")
        return Answer.status("Accepted", SendTriggered(message, connector_id))

    def _reset(self, reader: PayloadReader, now: datetime) -> Answer:
        kind = reader.choice("type", ("Hard", "Soft"))
        return Answer.status("Accepted", Reboot(kind))

    def _data_transfer(self, reader: PayloadReader, now: datetime) -> Answer:
        reader.string("vendorId", 255)
        reader.optional_string("messageId", 50)
        reader.optional_string("data")
        return Answer.status("UnknownVendorId")

    def _clear_cache(self, reader: PayloadReader, now: datetime) -> Answer:
        return Answer.status("Accepted")

    def _get_local_list_version(self, reader: PayloadReader, now: datetime) -> Answer:
        enabled = self.configuration.boolean("LocalAuthListEnabled")
        return Answer.result({"listVersion": self.local_list_version if enabled else -1})

    def _send_local_list(self, reader: PayloadReader, now: datetime) -> Answer:
        version = reader.integer("listVersion")
        update = reader.choice("updateType", ("Differential", "Full"))
        entries: dict[str, dict[str, Any] | None] = {}
        for item in reader.objects("localAuthorizationList"):
            id_tag = item.string("idTag", 20)
            tag_info = item.optional_child("idTagInfo")
            if tag_info is not None:
                tag_info.choice("status", _ID_TAG_STATUSES)
                tag_info.optional_timestamp("expiryDate")
                tag_info.optional_string("parentIdTag", 20)
            entries[id_tag] = tag_info.raw() if tag_info is not None else None
        config = self.configuration
        if not config.boolean("LocalAuthListEnabled"):
            return Answer.status("NotSupported")
        if len(entries) > config.integer("SendLocalListMaxLength"):
            return Answer.status("Failed")
        if update == "Full":
            new_list = {tag: info for tag, info in entries.items() if info is not None}
        else:
            if version <= self.local_list_version:
                return Answer.status("VersionMismatch")
            new_list = dict(self.local_list)
            for tag, info in entries.items():
                if info is None:
                    new_list.pop(tag, None)
                else:
                    new_list[tag] = info
        if len(new_list) > config.integer("LocalAuthListMaxLength"):
            return Answer.status("Failed")
        self.local_list, self.local_list_version = new_list, version
        return Answer.status("Accepted")

    def _get_diagnostics(self, reader: PayloadReader, now: datetime) -> Answer:
        reader.string("location")
        reader.optional_integer("retries")
        reader.optional_integer("retryInterval")
        reader.optional_timestamp("startTime")
        reader.optional_timestamp("stopTime")
        file_name = f"{self.station_id}-diagnostics-{now:%Y%m%d%H%M%S}.log"[-255:]
        return Answer.result({"fileName": file_name}, UploadDiagnostics(file_name))

    def _update_firmware(self, reader: PayloadReader, now: datetime) -> Answer:
        reader.string("location")
        retrieve_at = reader.timestamp("retrieveDate")
        reader.optional_integer("retries")
        reader.optional_integer("retryInterval")
        return Answer.result({}, InstallFirmware(retrieve_at))


_HANDLERS: Final[dict[str, _Handler]] = {
    "CancelReservation": StationModel._cancel_reservation,
    "ChangeAvailability": StationModel._change_availability,
    "ChangeConfiguration": StationModel._change_configuration,
    "ClearCache": StationModel._clear_cache,
    "ClearChargingProfile": StationModel._clear_charging_profile,
    "DataTransfer": StationModel._data_transfer,
    "GetCompositeSchedule": StationModel._get_composite_schedule,
    "GetConfiguration": StationModel._get_configuration,
    "GetDiagnostics": StationModel._get_diagnostics,
    "GetLocalListVersion": StationModel._get_local_list_version,
    "RemoteStartTransaction": StationModel._remote_start,
    "RemoteStopTransaction": StationModel._remote_stop,
    "ReserveNow": StationModel._reserve_now,
    "Reset": StationModel._reset,
    "SendLocalList": StationModel._send_local_list,
    "SetChargingProfile": StationModel._set_charging_profile,
    "TriggerMessage": StationModel._trigger_message,
    "UnlockConnector": StationModel._unlock_connector,
    "UpdateFirmware": StationModel._update_firmware,
}

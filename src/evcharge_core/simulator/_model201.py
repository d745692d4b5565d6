"""What a simulated OCPP 2.0.1 charging station decides, without I/O.

:class:`StationModel201` is the OCPP 2.0.1 counterpart of
:class:`~evcharge_core.simulator.StationModel`: it holds a charging station's state (EVSEs,
device model, charging profiles, reservations) and decides

- what to answer each CALL the CSMS sends (:meth:`StationModel201.answer`), as an
  :class:`~evcharge_core.simulator.Answer` with the effects the I/O layer carries out;
- what its own requests carry (``boot_notification``, ``status_notification``,
  ``transaction_started`` / ``transaction_updated`` / ``transaction_ended``,
  ``meter_values``, ``notify_reports``, ...);
- how an EVSE moves through a charging session (``plug_in``, ``authorize``,
  ``start_charging``, ``advance``, ``finish``, ``unplug``).

The station has ``evses`` EVSEs of one connector each (a Type 2 socket, 22 kW). Its
transactions follow ``TxCtrlr.TxStartPoint`` and ``TxStopPoint`` = ``EVConnected,Authorized``:
a transaction starts when the cable is plugged in (or, for a remote start, with the remote
start's ID token) and ends when the driver (or the CSMS) stops it. Transaction IDs are made
by the station (UUIDs from its random generator); ``seqNo`` counts each transaction's
TransactionEvent messages from 0.

The connector's status and the transaction's charging state are derived from the EVSE's
facts, never stored::

    phase       operative  reservation  ->  connectorStatus   chargingState
    PREPARING   -          -                Occupied          EVConnected
    CHARGING    -          -                Occupied          Charging / SuspendedEV / SuspendedEVSE
    FINISHING   -          -                Occupied          EVConnected
    IDLE        no         -                Unavailable       Idle
    IDLE        yes        yes              Reserved          Idle
    IDLE        yes        no               Available         Idle

The clock is a parameter (``now``) of every method that needs it.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Final

import attrs

from .. import __version__
from ..ocpp201._schemas import CSMS_ACTIONS
from ._device_model import (
    ATTRIBUTE_TYPES,
    REPORT_BASES,
    Component,
    DeviceModel,
    Variable,
    parse_component,
    parse_variable,
)
from ._effects import (
    Answer,
    Reboot,
    SendReport,
    SendTriggered,
    StatusMayHaveChanged,
    Wake,
)
from ._meter import Meter, Suspension, Vehicle, sampled_values_201, station_max_watts
from ._model import ConnectorPhase
from ._ocppj import CallErrorReply, ErrorCode, PayloadReader, format_datetime, ocpp201_code
from ._profiles import (
    ChargingProfile,
    InstalledProfile,
    composite_schedule,
    limit_watts,
    parse_profile_201,
)

__all__ = [
    "CSMS_ACTIONS_201",
    "ID_TOKEN_TYPES",
    "REPORT_ITEMS_PER_MESSAGE",
    "STOP_DEAUTHORIZED",
    "STOP_EV_DEPARTED",
    "STOP_LOCAL",
    "STOP_REMOTE",
    "STOP_RESET",
    "TRIGGERABLE_MESSAGES_201",
    "Evse",
    "IdToken",
    "RemoteStart",
    "Reservation201",
    "StationModel201",
    "StopCause",
]

#: The ``IdTokenEnumType`` values.
ID_TOKEN_TYPES: Final = (
    "Central",
    "eMAID",
    "ISO14443",
    "ISO15693",
    "KeyCode",
    "Local",
    "MacAddress",
    "NoAuthorization",
)
#: What TriggerMessage may ask for (``MessageTriggerEnumType``).
_MESSAGE_TRIGGERS: Final = (
    "BootNotification",
    "LogStatusNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "MeterValues",
    "SignChargingStationCertificate",
    "SignV2GCertificate",
    "StatusNotification",
    "TransactionEvent",
    "SignCombinedCertificate",
    "PublishFirmwareStatusNotification",
)
#: The triggered messages the simulated station sends (the others: ``NotImplemented``).
TRIGGERABLE_MESSAGES_201: Final = (
    "BootNotification",
    "FirmwareStatusNotification",
    "Heartbeat",
    "LogStatusNotification",
    "MeterValues",
    "StatusNotification",
    "TransactionEvent",
)
#: Every action OCPP 2.0.1 lets a CSMS send to a charging station. Those the simulated
#: station does not simulate are answered with the CallError ``NotSupported``; unknown
#: actions with ``NotImplemented``. (The specification's list, as the server's schemas
#: module keeps it: the simulator shares the data, never the server's handling.)
CSMS_ACTIONS_201: Final = CSMS_ACTIONS

_PURPOSES: Final = (
    "ChargingStationExternalConstraints",
    "ChargingStationMaxProfile",
    "TxDefaultProfile",
    "TxProfile",
)
_CONNECTOR_TYPES: Final = (
    "cCCS1",
    "cCCS2",
    "cG105",
    "cTesla",
    "cType1",
    "cType2",
    "s309-1P-16A",
    "s309-1P-32A",
    "s309-3P-16A",
    "s309-3P-32A",
    "sBS1361",
    "sCEE-7-7",
    "sType2",
    "sType3",
    "Other1PhMax16A",
    "Other1PhOver16A",
    "Other3Ph",
    "Pan",
    "wInductive",
    "wResonant",
    "Undetermined",
    "Unknown",
)
_CONNECTOR_TYPE: Final = "cType2"
_SERIAL_MAX: Final = 25
#: ``reportData`` items per NotifyReport message.
REPORT_ITEMS_PER_MESSAGE: Final = 20


@attrs.frozen
class IdToken:
    """An OCPP 2.0.1 ``IdTokenType``: the token's value and its type."""

    value: str
    type: str = "ISO14443"

    def to_json(self) -> dict[str, Any]:
        """The ``IdTokenType`` object."""
        return {"idToken": self.value, "type": self.type}

    @classmethod
    def read(cls, reader: PayloadReader) -> IdToken:
        """Read an ``IdTokenType`` object."""
        for info in reader.objects("additionalInfo"):
            info.string("additionalIdToken", 36)
            info.string("type", 50)
        return cls(reader.string("idToken", 36), reader.choice("type", ID_TOKEN_TYPES))


@attrs.frozen
class Reservation201:
    """A ReserveNow reservation of one EVSE for one ID token until ``expiry``."""

    reservation_id: int
    id_token: IdToken
    expiry: datetime
    group_id_token: IdToken | None = None

    def admits(self, token: IdToken) -> bool:
        """Whether ``token`` may use the reserved EVSE."""
        return token.value in (
            self.id_token.value,
            self.group_id_token.value if self.group_id_token is not None else None,
        )


@attrs.frozen
class RemoteStart:
    """A RequestStartTransaction waiting to be carried out on an EVSE."""

    id_token: IdToken
    remote_start_id: int


@attrs.frozen
class StopCause:
    """Why a transaction ends: TransactionEvent's ``triggerReason`` and ``stoppedReason``."""

    trigger_reason: str
    stopped_reason: str


#: The driver stops the session with their token (or the run ends).
STOP_LOCAL: Final = StopCause("StopAuthorized", "Local")
#: RequestStopTransaction.
STOP_REMOTE: Final = StopCause("RemoteStop", "Remote")
#: Reset.
STOP_RESET: Final = StopCause("ResetCommand", "ImmediateReset")
#: The CSMS did not accept the token in a TransactionEvent answer.
STOP_DEAUTHORIZED: Final = StopCause("Deauthorized", "DeAuthorized")
#: The driver unplugged (after a failed authorisation).
STOP_EV_DEPARTED: Final = StopCause("EVDeparted", "EVDisconnected")


@attrs.define
class Evse:
    """One EVSE (1..N), its connector (1) and the session on it."""

    evse_id: int
    meter: Meter
    connector_id: int = 1
    operative: bool = True
    inoperative_scheduled: bool = False
    phase: ConnectorPhase = ConnectorPhase.IDLE
    id_token: IdToken | None = None
    authorized: bool = False
    remote_start_id: int | None = None
    transaction_id: str | None = None
    transaction_start: datetime | None = None
    seq_no: int = 0
    reservation_id_used: int | None = None
    vehicle: Vehicle | None = None
    suspension: Suspension | None = None
    reservation: Reservation201 | None = None
    remote_start: RemoteStart | None = None
    stop: StopCause | None = None

    @property
    def connector_status(self) -> str:
        """The ``ConnectorStatusEnumType`` its connector reports."""
        if self.phase is not ConnectorPhase.IDLE:
            return "Occupied"
        if not self.operative:
            return "Unavailable"
        return "Reserved" if self.reservation is not None else "Available"

    @property
    def charging_state(self) -> str:
        """The ``ChargingStateEnumType`` of its transaction."""
        if self.phase is ConnectorPhase.CHARGING:
            return self.suspension.value if self.suspension is not None else "Charging"
        if self.phase is ConnectorPhase.IDLE:
            return "Idle"
        return "EVConnected"

    @property
    def in_transaction(self) -> bool:
        """Whether a transaction runs here."""
        return self.transaction_id is not None

    def free_for(self, token: IdToken) -> bool:
        """Whether a session for ``token`` may start here now."""
        return (
            self.phase is ConnectorPhase.IDLE
            and self.operative
            and self.remote_start is None
            and (self.reservation is None or self.reservation.admits(token))
        )


_Handler = Callable[["StationModel201", PayloadReader, datetime, int], Answer]


def _rejected(reason: str) -> Answer:
    """``Rejected`` with a ``statusInfo`` reason code (at most 20 characters)."""
    return Answer.result({"status": "Rejected", "statusInfo": {"reasonCode": reason}})


def _iccid(station_id: str) -> str:
    digits = str(uuid.uuid5(uuid.NAMESPACE_URL, station_id).int)
    return ("8949" + digits)[:20]


def _imsi(station_id: str) -> str:
    digits = str(uuid.uuid5(uuid.NAMESPACE_DNS, station_id).int)
    return ("26201" + digits)[:15]


@attrs.define
class StationModel201:
    """A simulated OCPP 2.0.1 charging station's state and decisions (see the module
    docstring)."""

    station_id: str
    evses: list[Evse]
    device: DeviceModel
    rng: random.Random
    registration: str | None = None
    boot_reason: str = "PowerUp"
    operative: bool = True
    inoperative_scheduled: bool = False
    reset_on_idle: bool = False
    profiles: list[InstalledProfile] = attrs.field(factory=list)
    firmware_status: str = "Idle"
    log_status: str = "Idle"
    queued_events: int = 0

    @classmethod
    def create(
        cls,
        station_id: str,
        *,
        evses: int = 2,
        meter_interval: int = 60,
        password: str | None = None,
        rng: random.Random | None = None,
        max_security_profile: int = 1,
    ) -> StationModel201:
        """A freshly installed charging station with ``evses`` idle EVSEs."""
        rng = rng if rng is not None else random.Random()  # noqa: S311 - a simulation, not crypto
        return cls(
            station_id=station_id,
            evses=[Evse(n, Meter.used(rng)) for n in range(1, evses + 1)],
            device=DeviceModel.create(
                station_id,
                evses=evses,
                tx_updated_interval=meter_interval,
                password=password,
                security_profile=max_security_profile if password else 0,
            ),
            rng=rng,
        )

    # --- queries --------------------------------------------------------------------------

    def evse(self, evse_id: int) -> Evse:
        """EVSE ``evse_id`` (1..N)."""
        if not self._has_evse(evse_id):
            raise LookupError(f"no EVSE {evse_id}")
        return self.evses[evse_id - 1]

    def _has_evse(self, evse_id: int, *, zero: bool = False) -> bool:
        return (0 if zero else 1) <= evse_id <= len(self.evses)

    def _has_connector(self, evse_id: int, connector_id: int | None) -> bool:
        return self._has_evse(evse_id) and connector_id in (None, 1)

    def statuses(self) -> dict[tuple[int, int], str]:
        """Every connector's status, by (EVSE ID, connector ID)."""
        return {(e.evse_id, e.connector_id): e.connector_status for e in self.evses}

    @property
    def accepted(self) -> bool:
        """Whether the CSMS accepted the last BootNotification."""
        return self.registration == "Accepted"

    def heartbeat_interval(self) -> int:
        """Seconds between heartbeats (``OCPPCommCtrlr.HeartbeatInterval``; 0: none)."""
        return self.device.integer("OCPPCommCtrlr", "HeartbeatInterval")

    def tx_updated_interval(self) -> int:
        """Seconds between meter samples in a transaction (0 or sampling disabled: none)."""
        if not self.device.boolean("SampledDataCtrlr", "Enabled"):
            return 0
        return self.device.integer("SampledDataCtrlr", "TxUpdatedInterval")

    def aligned_interval(self) -> int:
        """Seconds between clock-aligned meter values (0 or disabled: none)."""
        if not self.device.boolean("AlignedDataCtrlr", "Enabled"):
            return 0
        return self.device.integer("AlignedDataCtrlr", "Interval")

    def websocket_ping_interval(self) -> int:
        """Seconds between websocket pings (0: none)."""
        return self.device.integer("OCPPCommCtrlr", "WebSocketPingInterval")

    @property
    def basic_auth_password(self) -> str | None:
        """The Basic auth password to present on the next connection, if any."""
        return self.device.value("SecurityCtrlr", "BasicAuthPassword") or None

    def transaction_message_retries(self) -> tuple[int, int]:
        """``(attempts, seconds between them)`` for a TransactionEvent the CSMS did not
        answer."""
        attempts = self.device.integer(
            "OCPPCommCtrlr", "MessageAttempts", instance="TransactionEvent"
        )
        interval = self.device.integer(
            "OCPPCommCtrlr", "MessageAttemptInterval", instance="TransactionEvent"
        )
        return attempts, interval

    def limit_for(self, evse: Evse, now: datetime) -> float | None:
        """The charging profile limit on an EVSE now, in W (``None``: unlimited)."""
        return limit_watts(
            self.profiles,
            evse.evse_id,
            now,
            transaction_id=evse.transaction_id,
            transaction_start=evse.transaction_start,
        )

    def next_reservation_expiry(self, evse: Evse) -> datetime | None:
        """When the EVSE's reservation expires, if it has one."""
        return evse.reservation.expiry if evse.reservation is not None else None

    def profile_summaries(self) -> list[dict[str, Any]]:
        """The installed charging profiles, for the report."""
        return [
            {
                "id": item.profile.profile_id,
                "evse_id": item.connector_id,
                "purpose": item.profile.purpose,
                "stack_level": item.profile.stack_level,
            }
            for item in self.profiles
        ]

    def reset_due(self) -> bool:
        """Whether an OnIdle reset waits and no transaction runs any more."""
        return self.reset_on_idle and all(e.phase is ConnectorPhase.IDLE for e in self.evses)

    def transaction_evses(self, evse_id: int | None = None) -> list[Evse]:
        """The EVSEs (all, or ``evse_id``) where a transaction runs."""
        return [e for e in self.evses if e.in_transaction and evse_id in (None, e.evse_id)]

    # --- requests the station sends -------------------------------------------------------

    def boot_notification(self, reason: str | None = None) -> dict[str, Any]:
        """The BootNotification payload (``reason``: the model's boot reason by default)."""
        return {
            "chargingStation": {
                "vendorName": "evcharge",
                "model": "simulator",
                "serialNumber": self.station_id[-_SERIAL_MAX:],
                "firmwareVersion": f"evcharge-simulator {__version__}",
                "modem": {"iccid": _iccid(self.station_id), "imsi": _imsi(self.station_id)},
            },
            "reason": reason or self.boot_reason,
        }

    def status_notification(self, key: tuple[int, int], now: datetime) -> dict[str, Any]:
        """The StatusNotification payload of connector ``key`` = (EVSE ID, connector ID)."""
        evse_id, connector_id = key
        return {
            "timestamp": format_datetime(now),
            "connectorStatus": self.evse(evse_id).connector_status,
            "evseId": evse_id,
            "connectorId": connector_id,
        }

    def _meter_value(
        self, evse: Evse | None, measurands: list[str], context: str, now: datetime
    ) -> list[dict[str, Any]]:
        if evse is None:
            meter = Meter(
                register_wh=sum(e.meter.register_wh for e in self.evses),
                power_w=sum(e.meter.power_w for e in self.evses),
                offered_w=station_max_watts() * len(self.evses),
            )
            vehicle = None
        else:
            meter, vehicle = evse.meter, evse.vehicle
        samples = sampled_values_201(measurands, meter, context, self.rng, vehicle)
        return [{"timestamp": format_datetime(now), "sampledValue": samples}]

    def meter_values(self, evse_id: int, context: str, now: datetime) -> dict[str, Any]:
        """A MeterValues payload with ``AlignedDataCtrlr.Measurands``; EVSE 0 is the whole
        station's meter (the sum of the EVSEs')."""
        evse = None if evse_id == 0 else self.evse(evse_id)
        measurands = self.device.members("AlignedDataCtrlr", "Measurands")
        return {"evseId": evse_id, "meterValue": self._meter_value(evse, measurands, context, now)}

    def _transaction_event(
        self,
        evse: Evse,
        event_type: str,
        trigger_reason: str,
        now: datetime,
        *,
        offline: bool,
    ) -> dict[str, Any]:
        assert evse.transaction_id is not None
        info: dict[str, Any] = {
            "transactionId": evse.transaction_id,
            "chargingState": evse.charging_state,
        }
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": format_datetime(now),
            "triggerReason": trigger_reason,
            "seqNo": evse.seq_no,
            "transactionInfo": info,
        }
        if offline:
            payload["offline"] = True
        evse.seq_no += 1
        return payload

    def _samples(
        self, evse: Evse, variable: str, component: str, context: str, now: datetime
    ) -> list[dict[str, Any]] | None:
        if not self.device.boolean(component, "Enabled"):
            return None
        measurands = self.device.members(component, variable)
        if not measurands:
            return None
        return self._meter_value(evse, measurands, context, now)

    def transaction_started(
        self, evse_id: int, trigger_reason: str, now: datetime, *, offline: bool = False
    ) -> dict[str, Any]:
        """Start a transaction on the EVSE (a new ID, ``seqNo`` 0): the ``Started`` event,
        with the EVSE, the meter at the start, and the ID token when it is already known
        (a remote start)."""
        evse = self.evse(evse_id)
        evse.transaction_id = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        evse.transaction_start = now
        evse.seq_no = 0
        payload = self._transaction_event(evse, "Started", trigger_reason, now, offline=offline)
        payload["evse"] = {"id": evse.evse_id, "connectorId": evse.connector_id}
        if evse.remote_start_id is not None:
            payload["transactionInfo"]["remoteStartId"] = evse.remote_start_id
        if evse.authorized and evse.id_token is not None:
            payload["idToken"] = evse.id_token.to_json()
            self._use_reservation(evse, payload)
        samples = self._samples(
            evse, "TxStartedMeasurands", "SampledDataCtrlr", "Transaction.Begin", now
        )
        if samples:
            payload["meterValue"] = samples
        return payload

    def _use_reservation(self, evse: Evse, payload: dict[str, Any]) -> None:
        reservation = evse.reservation
        if (
            reservation is not None
            and evse.id_token is not None
            and reservation.admits(evse.id_token)
        ):
            payload["reservationId"] = reservation.reservation_id
            evse.reservation_id_used = reservation.reservation_id
            evse.reservation = None

    def transaction_updated(
        self,
        evse_id: int,
        trigger_reason: str,
        now: datetime,
        *,
        offline: bool = False,
        meter_context: str | None = None,
    ) -> dict[str, Any]:
        """An ``Updated`` event. ``Authorized`` carries the ID token; with ``meter_context``
        it carries meter values (``Sample.Clock``: ``AlignedDataCtrlr.Measurands``, else
        ``SampledDataCtrlr.TxUpdatedMeasurands``)."""
        evse = self.evse(evse_id)
        payload = self._transaction_event(evse, "Updated", trigger_reason, now, offline=offline)
        if trigger_reason == "Authorized" and evse.id_token is not None:
            payload["idToken"] = evse.id_token.to_json()
            self._use_reservation(evse, payload)
        if meter_context is not None:
            if meter_context == "Sample.Clock":
                samples = self._samples(evse, "Measurands", "AlignedDataCtrlr", meter_context, now)
            else:
                samples = self._samples(
                    evse, "TxUpdatedMeasurands", "SampledDataCtrlr", meter_context, now
                )
            if samples:
                payload["meterValue"] = samples
        if evse.vehicle is not None and trigger_reason == "ChargingStateChanged":
            payload["numberOfPhasesUsed"] = evse.vehicle.phases
        return payload

    def transaction_ended(
        self, evse_id: int, cause: StopCause, now: datetime, *, offline: bool = False
    ) -> dict[str, Any]:
        """The ``Ended`` event; the transaction is over (the EVSE is Finishing: the vehicle is
        still plugged in)."""
        evse = self.evse(evse_id)
        self.finish_charging(evse_id)
        payload = self._transaction_event(evse, "Ended", cause.trigger_reason, now, offline=offline)
        payload["transactionInfo"]["stoppedReason"] = cause.stopped_reason
        if cause.trigger_reason == "StopAuthorized" and evse.id_token is not None:
            payload["idToken"] = evse.id_token.to_json()
        samples = self._samples(
            evse, "TxEndedMeasurands", "SampledDataCtrlr", "Transaction.End", now
        )
        if samples:
            payload["meterValue"] = samples
        self._end_transaction(evse)
        return payload

    def notify_reports(
        self, request_id: int, report_base: str, now: datetime
    ) -> list[dict[str, Any]]:
        """The NotifyReport payloads answering GetBaseReport ``request_id``, at most
        :data:`REPORT_ITEMS_PER_MESSAGE` items each."""
        self._refresh(now)
        items = self.device.report(report_base)
        chunks = [
            items[i : i + REPORT_ITEMS_PER_MESSAGE]
            for i in range(0, len(items), REPORT_ITEMS_PER_MESSAGE)
        ] or [[]]
        payloads = []
        for seq_no, chunk in enumerate(chunks):
            payload: dict[str, Any] = {
                "requestId": request_id,
                "generatedAt": format_datetime(now),
                "seqNo": seq_no,
                "tbc": seq_no < len(chunks) - 1,
            }
            if chunk:
                payload["reportData"] = chunk
            payloads.append(payload)
        return payloads

    # --- the station's own life -----------------------------------------------------------

    def accept_boot(self, status: str, interval: int) -> None:
        """Take in a BootNotification answer (an Accepted interval sets the heartbeat)."""
        self.registration = status
        if status == "Accepted" and interval > 0:
            self.device.update(
                Component("OCPPCommCtrlr"), Variable("HeartbeatInterval"), str(interval)
            )

    def disconnected(self) -> None:
        """The connection ended. Unlike a 1.6 charge point, an Accepted station does not boot
        again on the next connection of the same power cycle (OCPP 2.0.1 boots on power-up
        and reboots); one that was not yet Accepted does."""
        if not self.accepted:
            self.registration = None

    def registration_lost(self) -> None:
        """The CSMS answered SecurityError: it does not consider the station registered, so
        the station boots again."""
        self.registration = None
        self.boot_reason = "Unknown"

    def plug_in(self, evse_id: int, token: IdToken, *, remote_start_id: int | None = None) -> None:
        """A driver plugs in (for ``token``; authorised already when started remotely)."""
        evse = self.evse(evse_id)
        evse.phase = ConnectorPhase.PREPARING
        evse.id_token = token
        evse.authorized = remote_start_id is not None
        evse.remote_start_id = remote_start_id
        evse.vehicle = Vehicle.draw(self.rng)
        evse.stop = None

    def authorize(self, evse_id: int) -> None:
        """The driver's token was accepted."""
        self.evse(evse_id).authorized = True

    def start_charging(self, evse_id: int, now: datetime) -> None:
        """Energy may flow: Charging (or suspended, as the vehicle and the limits say)."""
        evse = self.evse(evse_id)
        evse.phase = ConnectorPhase.CHARGING
        self.advance(evse_id, 0.0, now)

    def advance(self, evse_id: int, seconds: float, now: datetime) -> None:
        """Let ``seconds`` of charging pass on an EVSE that is charging."""
        evse = self.evse(evse_id)
        if evse.phase is not ConnectorPhase.CHARGING or evse.vehicle is None:
            return
        evse.suspension = evse.meter.advance(
            evse.vehicle, seconds, self.limit_for(evse, now), self.rng
        )

    def finish_charging(self, evse_id: int) -> None:
        """Energy stops flowing; the vehicle stays plugged in (EVConnected)."""
        evse = self.evse(evse_id)
        if evse.phase is not ConnectorPhase.IDLE:
            evse.phase = ConnectorPhase.FINISHING
        evse.meter.stop()
        evse.suspension = None

    def _end_transaction(self, evse: Evse) -> None:
        evse.transaction_id = None
        evse.transaction_start = None
        evse.authorized = False
        evse.remote_start_id = None
        self.profiles = [
            p
            for p in self.profiles
            if not (p.connector_id == evse.evse_id and p.profile.purpose == "TxProfile")
        ]

    def unplug(self, evse_id: int) -> None:
        """The vehicle leaves: the EVSE is idle again."""
        evse = self.evse(evse_id)
        if evse.in_transaction:
            self._end_transaction(evse)
        evse.phase = ConnectorPhase.IDLE
        evse.id_token = None
        evse.vehicle = None
        evse.stop = None
        evse.reservation_id_used = None
        evse.meter.stop()
        evse.suspension = None
        if evse.inoperative_scheduled:
            evse.operative = False
            evse.inoperative_scheduled = False
        if self.inoperative_scheduled and all(e.phase is ConnectorPhase.IDLE for e in self.evses):
            self.operative = False
            self.inoperative_scheduled = False

    def expire_reservations(self, now: datetime) -> list[int]:
        """End the reservations whose expiry has passed; their IDs."""
        expired = []
        for evse in self.evses:
            if evse.reservation is not None and evse.reservation.expiry <= now:
                expired.append(evse.reservation.reservation_id)
                evse.reservation = None
        return expired

    def reboot(self) -> None:
        """Power cycle: sessions, reservations and TxProfiles are gone; availability, the
        device model (with values set ``RebootRequired`` now in force) and the meters stay."""
        self.registration = None
        self.boot_reason = "RemoteReset"
        self.reset_on_idle = False
        for evse in self.evses:
            if evse.phase is not ConnectorPhase.IDLE:
                self.finish_charging(evse.evse_id)
                self.unplug(evse.evse_id)
            evse.reservation = None
            evse.remote_start = None
        self.profiles = [p for p in self.profiles if p.profile.purpose != "TxProfile"]
        self.device.reboot()

    def _refresh(self, now: datetime) -> None:
        """Write the live state into the device model's dynamic variables."""
        update = self.device.update
        station = Component("ChargingStation")
        update(
            station, Variable("AvailabilityState"), "Available" if self.operative else "Unavailable"
        )
        update(station, Variable("Available"), "true" if self.operative else "false")
        for evse in self.evses:
            operative = "true" if evse.operative and self.operative else "false"
            for component in (
                Component("EVSE", evse_id=evse.evse_id),
                Component("Connector", evse_id=evse.evse_id, connector_id=evse.connector_id),
            ):
                update(component, Variable("AvailabilityState"), evse.connector_status)
                update(component, Variable("Available"), operative)
        update(Component("ClockCtrlr"), Variable("DateTime"), format_datetime(now))

    # --- answering the CSMS ---------------------------------------------------------------

    def answer(
        self, action: str, payload: Mapping[str, Any], now: datetime, *, size: int = 0
    ) -> Answer:
        """Decide the answer to a CALL from the CSMS. ``size`` is the CALL frame's length in
        bytes (checked against ``DeviceDataCtrlr.BytesPerMessage``)."""
        handler = _HANDLERS.get(action)
        if handler is None:
            if action in CSMS_ACTIONS_201:
                error = CallErrorReply(
                    ocpp201_code(ErrorCode.NOT_SUPPORTED),
                    f"{action} is not supported by this station",
                )
            else:
                error = CallErrorReply(
                    ocpp201_code(ErrorCode.NOT_IMPLEMENTED), f"{action} is not implemented"
                )
            return Answer(error=error)
        try:
            return handler(self, PayloadReader(payload), now, size)
        except CallErrorReply as error:
            return Answer(error=CallErrorReply(ocpp201_code(error.code), error.description))

    def _check_size(self, action: str, items: int, size: int) -> None:
        most = self.device.integer("DeviceDataCtrlr", "ItemsPerMessage", instance=action)
        if items > most:
            raise CallErrorReply(
                ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION,
                f"{items} items, at most {most} per {action} "
                f"(DeviceDataCtrlr.ItemsPerMessage[{action}])",
            )
        limit = self.device.integer("DeviceDataCtrlr", "BytesPerMessage", instance=action)
        if size > limit:
            raise CallErrorReply(
                ErrorCode.FORMATION_VIOLATION,
                f"{size} bytes, at most {limit} per {action} "
                f"(DeviceDataCtrlr.BytesPerMessage[{action}])",
            )

    def _get_variables(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        requests = [
            (
                parse_component(item.child("component")),
                parse_variable(item.child("variable")),
                item.optional_choice("attributeType", ATTRIBUTE_TYPES),
            )
            for item in reader.objects("getVariableData", required=True)
        ]
        if not requests:
            raise CallErrorReply(
                ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, "getVariableData is empty"
            )
        self._check_size("GetVariables", len(requests), size)
        self._refresh(now)
        results = []
        for component, variable, attribute_type in requests:
            status, value = self.device.get(component, variable, attribute_type)
            result: dict[str, Any] = {
                "attributeStatus": status,
                "component": component.to_json(),
                "variable": variable.to_json(),
            }
            if attribute_type is not None:
                result["attributeType"] = attribute_type
            if value is not None:
                result["attributeValue"] = value
            results.append(result)
        return Answer.result({"getVariableResult": results})

    def _set_variables(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        requests = [
            (
                parse_component(item.child("component")),
                parse_variable(item.child("variable")),
                item.string("attributeValue", 1000),
                item.optional_choice("attributeType", ATTRIBUTE_TYPES),
            )
            for item in reader.objects("setVariableData", required=True)
        ]
        if not requests:
            raise CallErrorReply(
                ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION, "setVariableData is empty"
            )
        self._check_size("SetVariables", len(requests), size)
        results = []
        for component, variable, value, attribute_type in requests:
            status, reason = self.device.set(component, variable, value, attribute_type)
            result: dict[str, Any] = {
                "attributeStatus": status,
                "component": component.to_json(),
                "variable": variable.to_json(),
            }
            if attribute_type is not None:
                result["attributeType"] = attribute_type
            if reason:
                result["attributeStatusInfo"] = {"reasonCode": reason}
            results.append(result)
        return Answer.result({"setVariableResult": results}, Wake())

    def _get_base_report(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        request_id = reader.integer("requestId")
        base = reader.choice("reportBase", REPORT_BASES)
        return Answer.status("Accepted", SendReport(request_id, base))

    def _trigger_message(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        message = reader.choice("requestedMessage", _MESSAGE_TRIGGERS)
        evse = reader.optional_child("evse")
        evse_id = evse.integer("id") if evse is not None else None
        connector_id = evse.optional_integer("connectorId") if evse is not None else None
        if message not in TRIGGERABLE_MESSAGES_201:
            return Answer.status("NotImplemented")
        if evse_id is not None:
            allowed_zero = message == "MeterValues" and connector_id is None
            if not (evse_id == 0 and allowed_zero) and not self._has_connector(
                evse_id, connector_id
            ):
                return _rejected("UnknownEvse")
        if message == "TransactionEvent" and not self.transaction_evses(evse_id):
            return _rejected("NoTransaction")
        return Answer.status("Accepted", SendTriggered(message, connector_id, evse_id))

    def _reset(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        kind = reader.choice("type", ("Immediate", "OnIdle"))
        if reader.optional_integer("evseId") is not None:
            return _rejected("UnsupportedParam")
        if kind == "OnIdle" and any(e.phase is not ConnectorPhase.IDLE for e in self.evses):
            self.reset_on_idle = True
            return Answer.status("Scheduled", Wake())
        return Answer.status("Accepted", Reboot(kind))

    def _request_start(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        token = IdToken.read(reader.child("idToken"))
        remote_start_id = reader.integer("remoteStartId")
        evse_id = reader.optional_integer("evseId")
        group = reader.optional_child("groupIdToken")
        if group is not None:
            IdToken.read(group)
        profile_reader = reader.optional_child("chargingProfile")
        profile = parse_profile_201(profile_reader) if profile_reader is not None else None
        if not self.accepted:
            return _rejected("NotAccepted")
        if profile is not None and (profile.purpose != "TxProfile" or profile.transaction_id):
            return _rejected("InvalidProfile")
        if evse_id is not None:
            if not self._has_evse(evse_id):
                return _rejected("UnknownEvse")
            candidates = [self.evse(evse_id)]
        else:
            candidates = self.evses
        chosen = next((e for e in candidates if self.operative and e.free_for(token)), None)
        if chosen is None:
            return _rejected("Occupied")
        if profile is not None:
            status, reason = self._install_profile(chosen.evse_id, profile, now, before_start=True)
            if status != "Accepted":
                return _rejected(reason)
        chosen.remote_start = RemoteStart(token, remote_start_id)
        return Answer.status("Accepted", Wake())

    def _request_stop(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        transaction_id = reader.string("transactionId", 36)
        for evse in self.evses:
            if evse.transaction_id == transaction_id and evse.phase is not ConnectorPhase.FINISHING:
                evse.stop = evse.stop or STOP_REMOTE
                return Answer.status("Accepted", Wake())
        return _rejected("TxNotFound")

    def _unlock_connector(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        evse_id = reader.integer("evseId")
        connector_id = reader.integer("connectorId")
        if not self._has_connector(evse_id, connector_id):
            return Answer.status("UnknownConnector")
        evse = self.evse(evse_id)
        if evse.in_transaction and evse.authorized:
            return Answer.status("OngoingAuthorizedTransaction")
        return Answer.status("Unlocked")

    def _change_availability(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        operative = reader.choice("operationalStatus", ("Inoperative", "Operative")) == "Operative"
        where = reader.optional_child("evse")
        evse_id = where.integer("id") if where is not None else 0
        connector_id = where.optional_integer("connectorId") if where is not None else None
        whole = evse_id == 0
        if not whole and not self._has_connector(evse_id, connector_id):
            return _rejected("UnknownEvse")
        targets = self.evses if whole else [self.evse(evse_id)]
        scheduled = False
        for evse in targets:
            if operative:
                evse.operative = True
                evse.inoperative_scheduled = False
            elif evse.phase is ConnectorPhase.IDLE:
                evse.operative = False
                evse.inoperative_scheduled = False
            else:
                evse.inoperative_scheduled = True
                scheduled = True
        if whole:
            self.operative = operative or scheduled
            self.inoperative_scheduled = not operative and scheduled
        return Answer.status(
            "Scheduled" if scheduled else "Accepted", StatusMayHaveChanged(), Wake()
        )

    def _reserve_now(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        reservation_id = reader.integer("id")
        expiry = reader.timestamp("expiryDateTime")
        token = IdToken.read(reader.child("idToken"))
        evse_id = reader.optional_integer("evseId")
        connector_type = reader.optional_choice("connectorType", _CONNECTOR_TYPES)
        group_reader = reader.optional_child("groupIdToken")
        group = IdToken.read(group_reader) if group_reader is not None else None
        if evse_id is None:
            return _rejected("NoEvse")  # ReservationCtrlr.NonEvseSpecific is false
        if not self._has_evse(evse_id) or expiry <= now:
            return _rejected("InvalidValue")
        if connector_type not in (None, _CONNECTOR_TYPE, "Unknown"):
            return _rejected("UnsupportedParam")
        evse = self.evse(evse_id)
        if not evse.operative or not self.operative:
            return Answer.status("Unavailable")
        held = evse.reservation
        if (
            evse.phase is not ConnectorPhase.IDLE
            or evse.remote_start is not None
            or (held is not None and held.reservation_id != reservation_id)
        ):
            return Answer.status("Occupied")
        for other in self.evses:
            if other.reservation is not None and other.reservation.reservation_id == reservation_id:
                other.reservation = None
        evse.reservation = Reservation201(reservation_id, token, expiry, group)
        return Answer.status("Accepted", StatusMayHaveChanged(), Wake())

    def _cancel_reservation(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        reservation_id = reader.integer("reservationId")
        for evse in self.evses:
            held = evse.reservation
            if held is not None and held.reservation_id == reservation_id:
                evse.reservation = None
                return Answer.status("Accepted", StatusMayHaveChanged(), Wake())
        return _rejected("UnknownReservation")

    def _install_profile(  # noqa: PLR0911 - one return per rule of K01
        self,
        evse_id: int,
        profile: ChargingProfile,
        now: datetime,
        *,
        before_start: bool = False,
    ) -> tuple[str, str]:
        device = self.device
        purpose = profile.purpose
        if not self._has_evse(evse_id, zero=True):
            return "Rejected", "UnknownEvse"
        if purpose == "ChargingStationExternalConstraints":
            return "Rejected", "InvalidProfile"
        if (purpose == "ChargingStationMaxProfile" and evse_id != 0) or (
            purpose == "TxProfile" and evse_id == 0
        ):
            return "Rejected", "InvalidEvse"
        if purpose == "TxProfile" and not before_start:
            transaction_id = self.evse(evse_id).transaction_id
            if transaction_id is None or profile.transaction_id != transaction_id:
                return "Rejected", "TxNotFound"
        if (
            not 0
            <= profile.stack_level
            <= device.integer("SmartChargingCtrlr", "ProfileStackLevel")
        ):
            return "Rejected", "InvalidStackLevel"
        if len(profile.schedule.periods) > device.integer(
            "SmartChargingCtrlr", "PeriodsPerSchedule"
        ):
            return "Rejected", "InvalidSchedule"
        kept = [
            p
            for p in self.profiles
            if p.profile.profile_id != profile.profile_id
            and not (
                p.connector_id == evse_id
                and p.profile.purpose == purpose
                and p.profile.stack_level == profile.stack_level
            )
        ]
        if len(kept) >= device.integer(
            "SmartChargingCtrlr", "Entries", instance="ChargingProfiles"
        ):
            return "Rejected", "TooManyProfiles"
        self.profiles = [*kept, InstalledProfile(evse_id, profile, now)]
        return "Accepted", ""

    def _set_charging_profile(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        evse_id = reader.integer("evseId")
        profile = parse_profile_201(reader.child("chargingProfile"))
        status, reason = self._install_profile(evse_id, profile, now)
        if status != "Accepted":
            return _rejected(reason)
        return Answer.status(status, Wake())

    def _clear_charging_profile(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        profile_id = reader.optional_integer("chargingProfileId")
        criteria = reader.optional_child("chargingProfileCriteria")
        evse_id = criteria.optional_integer("evseId") if criteria is not None else None
        purpose = (
            criteria.optional_choice("chargingProfilePurpose", _PURPOSES)
            if criteria is not None
            else None
        )
        stack_level = criteria.optional_integer("stackLevel") if criteria is not None else None

        def matches(item: InstalledProfile) -> bool:
            if profile_id is not None:
                return item.profile.profile_id == profile_id
            return (
                (evse_id is None or item.connector_id == evse_id)
                and (purpose is None or item.profile.purpose == purpose)
                and (stack_level is None or item.profile.stack_level == stack_level)
            )

        kept = [item for item in self.profiles if not matches(item)]
        cleared = len(kept) < len(self.profiles)
        self.profiles = kept
        return Answer.status("Accepted" if cleared else "Unknown", Wake())

    def _get_composite_schedule(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        duration = reader.integer("duration")
        unit = reader.optional_choice("chargingRateUnit", ("A", "W")) or "W"
        evse_id = reader.integer("evseId")
        if not self._has_evse(evse_id, zero=True) or duration < 0:
            return _rejected("UnknownEvse" if duration >= 0 else "InvalidValue")
        transaction_id: str | None = None
        transaction_start: datetime | None = None
        max_watts = station_max_watts() * len(self.evses)
        if evse_id > 0:
            evse = self.evse(evse_id)
            transaction_id, transaction_start = evse.transaction_id, evse.transaction_start
            max_watts = station_max_watts()
        schedule = composite_schedule(
            self.profiles,
            evse_id,
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
                "schedule": {
                    "evseId": evse_id,
                    "duration": schedule["duration"],
                    "scheduleStart": schedule["startSchedule"],
                    "chargingRateUnit": unit,
                    "chargingSchedulePeriod": schedule["chargingSchedulePeriod"],
                },
            }
        )

    def _get_transaction_status(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        transaction_id = reader.optional_string("transactionId", 36)
        payload: dict[str, Any] = {"messagesInQueue": self.queued_events > 0}
        if transaction_id is not None:
            payload["ongoingIndicator"] = any(
                e.transaction_id == transaction_id for e in self.evses
            )
        return Answer.result(payload)

    def _data_transfer(self, reader: PayloadReader, now: datetime, size: int) -> Answer:
        reader.string("vendorId", 255)
        reader.optional_string("messageId", 50)
        return Answer.status("UnknownVendorId")


_HANDLERS: Final[dict[str, _Handler]] = {
    "CancelReservation": StationModel201._cancel_reservation,
    "ChangeAvailability": StationModel201._change_availability,
    "ClearChargingProfile": StationModel201._clear_charging_profile,
    "DataTransfer": StationModel201._data_transfer,
    "GetBaseReport": StationModel201._get_base_report,
    "GetCompositeSchedule": StationModel201._get_composite_schedule,
    "GetTransactionStatus": StationModel201._get_transaction_status,
    "GetVariables": StationModel201._get_variables,
    "RequestStartTransaction": StationModel201._request_start,
    "RequestStopTransaction": StationModel201._request_stop,
    "ReserveNow": StationModel201._reserve_now,
    "Reset": StationModel201._reset,
    "SetChargingProfile": StationModel201._set_charging_profile,
    "SetVariables": StationModel201._set_variables,
    "TriggerMessage": StationModel201._trigger_message,
    "UnlockConnector": StationModel201._unlock_connector,
}

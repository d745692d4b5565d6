"""OCPP 2.0.1 payloads to domain values and back. Pure: no I/O, no clock (``now`` is passed).

Requests reach these functions already valid against their schemas; what a schema cannot say
(a timestamp that names no real instant, an EVSE numbered 0 where one must be named) raises
:class:`~evcharge_core._protocol.Refused` with the CallError to answer. Response payloads are
built from typed values; the tests hold every one of them to its schema.

**Statuses** (SPEC §4): a StatusNotification's ``connectorStatus`` maps onto the common
statuses by :data:`CONNECTOR_STATUSES` (``Occupied`` is ``Preparing``, applied as an
occupied report: see :mod:`evcharge_core.domain.status`); a TransactionEvent's
``chargingState`` by :func:`status_of_charging_state`:

==============  ======================================  ===============================
chargingState   during the transaction                  at its ``Ended`` event
==============  ======================================  ===============================
Charging        Charging                                Finishing
SuspendedEV     SuspendedEV                             Finishing
SuspendedEVSE   SuspendedEVSE                           Finishing
EVConnected     Preparing                               Finishing
Idle            nothing (no EV: StatusNotification      nothing
                says whether the connector is free)
(absent)        nothing                                 nothing
==============  ======================================  ===============================
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Final

from .._protocol import Refused
from .._schemas import PROPERTY_CONSTRAINT, Violation
from ..charging import BootResult
from ..domain.device_model import DeviceVariable, VariableKey
from ..domain.model import ReportedInfo
from ..domain.status import StatusReport
from ..domain.transactions import (
    Authorization,
    AuthorizationStatus,
    MeterSample,
    TransactionEventReport,
    TransactionEventType,
)
from ..domain.values import ConnectorStatus

__all__ = [
    "ACCEPTED",
    "CHARGING_STATES",
    "CONNECTOR_STATUSES",
    "MAX_SAMPLE_MAGNITUDE",
    "NO_AUTHORIZATION",
    "boot_response",
    "device_variables",
    "free_vend",
    "id_token_info",
    "meter_evse",
    "meter_samples",
    "ocpp_time",
    "parse_time",
    "reported_info",
    "status_of_charging_state",
    "status_report",
    "transaction_event",
]

logger = logging.getLogger(__name__)

MAX_SAMPLE_MAGNITUDE: Final = 1e15
"""Sampled values beyond this (in their unit) are skipped as readings no meter gives."""

NO_AUTHORIZATION: Final = "NoAuthorization"
"""The ``IdTokenEnumType`` of a station that identified nobody (free vend): answered
Accepted without a look at the registry, and not stored as the transaction's id tag."""

_S = ConnectorStatus

CONNECTOR_STATUSES: Final[Mapping[str, ConnectorStatus]] = MappingProxyType(
    {
        "Available": _S.AVAILABLE,
        "Occupied": _S.PREPARING,
        "Reserved": _S.RESERVED,
        "Unavailable": _S.UNAVAILABLE,
        "Faulted": _S.FAULTED,
    }
)
"""OCPP 2.0.1 ``ConnectorStatusEnumType`` to the common statuses (SPEC §4)."""

CHARGING_STATES: Final[Mapping[str, ConnectorStatus | None]] = MappingProxyType(
    {
        "Charging": _S.CHARGING,
        "SuspendedEV": _S.SUSPENDED_EV,
        "SuspendedEVSE": _S.SUSPENDED_EVSE,
        "EVConnected": _S.PREPARING,
        "Idle": None,
    }
)
"""OCPP 2.0.1 ``ChargingStateEnumType`` to the status it implies during a transaction."""


def _refuse(field: str, description: str) -> Refused:
    return Refused(Violation(PROPERTY_CONSTRAINT, f"{field} {description}", field))


def parse_time(text: str, field: str) -> datetime:
    """An OCPP ``dateTime`` (RFC 3339 with an offset) as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(text.upper())
        if parsed.utcoffset() is None:
            raise _refuse(field, "must carry a time zone offset")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _refuse(field, "is not a valid date and time") from None


def ocpp_time(instant: datetime) -> str:
    """``2026-11-25T09:00:00.000Z``: UTC, milliseconds."""
    utc = instant.astimezone(UTC).isoformat(timespec="milliseconds")
    return utc.removesuffix("+00:00") + "Z"


def _at_least(value: int, field: str, minimum: int) -> int:
    if value < minimum:
        raise _refuse(field, f"must be {minimum} or more")
    return value


# --- BootNotification ------------------------------------------------------------------------


def reported_info(payload: Mapping[str, Any]) -> ReportedInfo:
    """What a BootNotification's ``chargingStation`` reports (modem included)."""
    station = payload["chargingStation"]
    modem = station.get("modem", {})
    return ReportedInfo(
        vendor=station["vendorName"],
        model=station["model"],
        serial_number=station.get("serialNumber"),
        firmware_version=station.get("firmwareVersion"),
        iccid=modem.get("iccid"),
        imsi=modem.get("imsi"),
    )


def boot_response(result: BootResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "currentTime": ocpp_time(result.current_time),
        "interval": result.interval_s,
    }


# --- statuses --------------------------------------------------------------------------------


def status_report(payload: Mapping[str, Any]) -> StatusReport:
    """A StatusNotification as a report about connector ``connectorId`` of EVSE ``evseId``
    (both 1 or more)."""
    status = CONNECTOR_STATUSES[payload["connectorStatus"]]
    return StatusReport(
        ocpp_id=_at_least(payload["connectorId"], "connectorId", 1),
        status=status,
        timestamp=parse_time(payload["timestamp"], "timestamp"),
        evse_id=_at_least(payload["evseId"], "evseId", 1),
        occupied=payload["connectorStatus"] == "Occupied",
    )


def status_of_charging_state(
    charging_state: str | None, event_type: TransactionEventType
) -> ConnectorStatus | None:
    """The connector status a TransactionEvent implies (the table in the module
    docstring); ``None``: it implies nothing."""
    if charging_state is None:
        return None
    during = CHARGING_STATES[charging_state]
    if during is None:
        return None
    return _S.FINISHING if event_type is TransactionEventType.ENDED else during


# --- authorisation ---------------------------------------------------------------------------


def id_token_info(authorization: Authorization) -> dict[str, Any]:
    """OCPP 2.0.1 ``IdTokenInfoType``: the status, the expiry as ``cacheExpiryDateTime``
    and the group as a ``groupIdToken`` of type ``Central``."""
    info: dict[str, Any] = {"status": authorization.status.value}
    if authorization.expiry_date is not None:
        info["cacheExpiryDateTime"] = ocpp_time(authorization.expiry_date)
    if authorization.group_id:
        info["groupIdToken"] = {"idToken": authorization.group_id, "type": "Central"}
    return info


def free_vend(id_token: Mapping[str, Any]) -> bool:
    """Whether an ``IdTokenType`` says nobody was identified (:data:`NO_AUTHORIZATION`)."""
    return bool(id_token.get("type") == NO_AUTHORIZATION)


ACCEPTED: Final = Authorization(AuthorizationStatus.ACCEPTED)


# --- meter values ----------------------------------------------------------------------------


def meter_evse(payload: Mapping[str, Any]) -> int:
    """MeterValues' ``evseId``: 0 (the main meter) or more."""
    return _at_least(payload["evseId"], "evseId", 0)


def _scaled(value: float | int, multiplier: int) -> float | None:
    try:
        scaled = float(value) * 10.0**multiplier
    except OverflowError:
        return None
    if not math.isfinite(scaled) or abs(scaled) > MAX_SAMPLE_MAGNITUDE:
        return None
    return scaled


def meter_samples(
    meter_values: Iterable[Mapping[str, Any]], field: str, station_id: str = "?"
) -> list[MeterSample]:
    """The sampled values of OCPP 2.0.1 ``MeterValueType`` items.

    A value is scaled by its ``unitOfMeasure.multiplier`` (a power of ten) and keeps its
    unit, ``Wh`` by default for energy measurands, none otherwise; the measurand defaults to
    ``Energy.Active.Import.Register``. Values that come out beyond
    :data:`MAX_SAMPLE_MAGNITUDE` or not finite are skipped and logged.
    """
    samples: list[MeterSample] = []
    for i, meter_value in enumerate(meter_values):
        timestamp = parse_time(meter_value["timestamp"], f"{field}[{i}].timestamp")
        for sampled in meter_value["sampledValue"]:
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            unit_of_measure = sampled.get("unitOfMeasure", {})
            value = _scaled(sampled["value"], unit_of_measure.get("multiplier", 0))
            if value is None:
                logger.info(
                    "station %s: sampled value %r skipped (not a usable number)",
                    station_id,
                    sampled["value"],
                )
                continue
            unit = unit_of_measure.get("unit") or ("Wh" if measurand.startswith("Energy") else None)
            samples.append(
                MeterSample(
                    timestamp=timestamp,
                    value=value,
                    measurand=measurand,
                    unit=unit,
                    phase=sampled.get("phase"),
                    context=sampled.get("context"),
                    location=sampled.get("location"),
                )
            )
    return samples


# --- TransactionEvent ------------------------------------------------------------------------


def transaction_event(payload: Mapping[str, Any], station_id: str = "?") -> TransactionEventReport:
    """A TransactionEvent as a protocol-neutral report (its connector status by
    :func:`status_of_charging_state`; a :data:`NO_AUTHORIZATION` token is no token)."""
    info = payload["transactionInfo"]
    event_type = TransactionEventType(payload["eventType"])
    evse = payload.get("evse")
    evse_id = None if evse is None else _at_least(evse["id"], "evse.id", 1)
    connector_id = None
    if evse is not None and "connectorId" in evse:
        connector_id = _at_least(evse["connectorId"], "evse.connectorId", 1)
    id_token = payload.get("idToken")
    return TransactionEventReport(
        transaction_id=info["transactionId"],
        seq_no=_at_least(payload["seqNo"], "seqNo", 0),
        event_type=event_type,
        timestamp=parse_time(payload["timestamp"], "timestamp"),
        trigger_reason=payload["triggerReason"],
        evse_id=evse_id,
        connector_id=connector_id,
        id_token=None if id_token is None or free_vend(id_token) else id_token["idToken"],
        stopped_reason=info.get("stoppedReason"),
        offline=payload.get("offline", False),
        reservation_id=payload.get("reservationId"),
        remote_start_id=info.get("remoteStartId"),
        samples=meter_samples(payload.get("meterValue", ()), "meterValue", station_id),
        connector_status=status_of_charging_state(info.get("chargingState"), event_type),
    )


# --- NotifyReport ----------------------------------------------------------------------------


def _key(data: Mapping[str, Any], attribute: Mapping[str, Any], where: str) -> VariableKey:
    component = data["component"]
    variable = data["variable"]
    evse = component.get("evse", {})
    try:
        return VariableKey(
            component=component["name"],
            variable=variable["name"],
            component_instance=component.get("instance"),
            evse_id=evse.get("id"),
            connector_id=evse.get("connectorId"),
            variable_instance=variable.get("instance"),
            attribute_type=attribute.get("type", "Actual"),
        )
    except (ValueError, TypeError) as error:
        raise _refuse(where, f"does not name a variable: {error}") from None


def _float(value: float | None) -> float | None:
    return None if value is None else float(value)


def device_variables(payload: Mapping[str, Any], now: datetime) -> list[DeviceVariable]:
    """The variables of a NotifyReport part, one per reported attribute (``reportData``
    absent: none), received ``now``. An attribute that leaves out its mutability,
    persistence or constancy has OCPP 2.0.1's defaults: ``ReadWrite``, not persistent, not
    constant."""
    found: list[DeviceVariable] = []
    for i, data in enumerate(payload.get("reportData", ())):
        characteristics = data.get("variableCharacteristics", {})
        for j, attribute in enumerate(data["variableAttribute"]):
            found.append(
                DeviceVariable(
                    key=_key(data, attribute, f"reportData[{i}].variableAttribute[{j}]"),
                    reported_at=now,
                    value=attribute.get("value"),
                    mutability=attribute.get("mutability", "ReadWrite"),
                    persistent=attribute.get("persistent", False),
                    constant=attribute.get("constant", False),
                    data_type=characteristics.get("dataType"),
                    unit=characteristics.get("unit"),
                    min_limit=_float(characteristics.get("minLimit")),
                    max_limit=_float(characteristics.get("maxLimit")),
                    values_list=characteristics.get("valuesList"),
                    supports_monitoring=characteristics.get("supportsMonitoring"),
                )
            )
    return found

"""OCPP 2.0.1 JSON schemas (those the ``ocpp`` package ships), compiled once each, lazily,
with their failures mapped to OCPP-J 2.0.1 CallError codes (see
:mod:`evcharge_core._schemas`: ``TypeConstraintViolation``,
``OccurrenceConstraintViolation``, ``PropertyConstraintViolation``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._schemas import PROPERTY_CONSTRAINT, TYPE_CONSTRAINT, Kind, SchemaSet, Violation

__all__ = [
    "CALL_ERROR_CODES",
    "CSMS_ACTIONS",
    "OCCURRENCE_CONSTRAINT",
    "PROPERTY_CONSTRAINT",
    "SCHEMAS",
    "STATION_ACTIONS",
    "TYPE_CONSTRAINT",
    "Kind",
    "Violation",
    "schema",
    "validate",
]

STATION_ACTIONS: Final = frozenset(
    {
        "Authorize",
        "BootNotification",
        "ClearedChargingLimit",
        "DataTransfer",
        "FirmwareStatusNotification",
        "Get15118EVCertificate",
        "GetCertificateStatus",
        "Heartbeat",
        "LogStatusNotification",
        "MeterValues",
        "NotifyChargingLimit",
        "NotifyCustomerInformation",
        "NotifyDisplayMessages",
        "NotifyEVChargingNeeds",
        "NotifyEVChargingSchedule",
        "NotifyEvent",
        "NotifyMonitoringReport",
        "NotifyReport",
        "PublishFirmwareStatusNotification",
        "ReportChargingProfiles",
        "ReservationStatusUpdate",
        "SecurityEventNotification",
        "SignCertificate",
        "StatusNotification",
        "TransactionEvent",
    }
)
"""The CALLs a charging station sends to the CSMS."""

CSMS_ACTIONS: Final = frozenset(
    {
        "CancelReservation",
        "CertificateSigned",
        "ChangeAvailability",
        "ClearCache",
        "ClearChargingProfile",
        "ClearDisplayMessage",
        "ClearVariableMonitoring",
        "CostUpdated",
        "CustomerInformation",
        "DataTransfer",
        "DeleteCertificate",
        "GetBaseReport",
        "GetChargingProfiles",
        "GetCompositeSchedule",
        "GetDisplayMessages",
        "GetInstalledCertificateIds",
        "GetLocalListVersion",
        "GetLog",
        "GetMonitoringReport",
        "GetReport",
        "GetTransactionStatus",
        "GetVariables",
        "InstallCertificate",
        "PublishFirmware",
        "RequestStartTransaction",
        "RequestStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "SetDisplayMessage",
        "SetMonitoringBase",
        "SetMonitoringLevel",
        "SetNetworkProfile",
        "SetVariableMonitoring",
        "SetVariables",
        "TriggerMessage",
        "UnlockConnector",
        "UnpublishFirmware",
        "UpdateFirmware",
    }
)
"""The CALLs the CSMS sends to a charging station (DataTransfer goes both ways)."""

OCCURRENCE_CONSTRAINT: Final = "OccurrenceConstraintViolation"

CALL_ERROR_CODES: Final = frozenset(
    {
        "FormatViolation",
        "GenericError",
        "InternalError",
        "MessageTypeNotSupported",
        "NotImplemented",
        "NotSupported",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "RpcFrameworkError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)
"""The CallError codes of OCPP-J 2.0.1."""

SCHEMAS: Final = SchemaSet(
    package="ocpp.v201",
    version="2.0.1",
    station_actions=STATION_ACTIONS,
    csms_actions=CSMS_ACTIONS,
    occurrence_code=OCCURRENCE_CONSTRAINT,
    request_suffix="Request",
)
"""The OCPP 2.0.1 schemas (see :class:`~evcharge_core._schemas.SchemaSet`)."""


def schema(action: str, kind: Kind) -> dict[str, Any]:
    """The JSON schema of ``action``'s request or response, as the ``ocpp`` package ships it.
    Raises :class:`KeyError` for an action OCPP 2.0.1 does not define."""
    return SCHEMAS.schema(action, kind)


def validate(action: str, kind: Kind, payload: Mapping[str, Any]) -> Violation | None:
    """Check ``payload`` against ``action``'s ``kind`` schema; ``None`` if it is valid.
    Raises :class:`KeyError` for an action OCPP 2.0.1 does not define."""
    return SCHEMAS.validate(action, kind, payload)

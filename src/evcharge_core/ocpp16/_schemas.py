"""OCPP 1.6 JSON schemas (those the ``ocpp`` package ships, security extension included),
compiled once each, lazily, with fastjsonschema, and their failures mapped to OCPP-J 1.6
CallError codes.

=============================  =============================================================
schema rule broken             CallError code
=============================  =============================================================
``type``                       ``TypeConstraintViolation``
``required``,                  ``OccurenceConstraintViolation`` (OCPP-J 1.6 spells it so)
``additionalProperties``,
``minItems``, ``maxItems``
anything else (``enum``,       ``PropertyConstraintViolation``
``maxLength``, ``format``...)
=============================  =============================================================

Beyond the schemas, every integer must fit 32 bits (OCPP-J 1.6's ``integer``) and every
string must be Unicode text (no unpaired surrogate escape): both ``PropertyConstraint``-
``Violation``. fastjsonschema stops at the first failure, so one violation is reported per
payload.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._schemas import (
    PROPERTY_CONSTRAINT,
    TYPE_CONSTRAINT,
    Kind,
    SchemaSet,
    Violation,
)
from .._schemas import clean as _clean  # noqa: F401 - its tests reach the fast pass here
from .._schemas import locate as _locate  # noqa: F401 - and its locator

__all__ = [
    "CSMS_ACTIONS",
    "OCCURENCE_CONSTRAINT",
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
        "DataTransfer",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StartTransaction",
        "StatusNotification",
        "StopTransaction",
        # security extension
        "LogStatusNotification",
        "SecurityEventNotification",
        "SignCertificate",
        "SignedFirmwareStatusNotification",
    }
)
"""The CALLs a charge point sends to the CSMS."""

CSMS_ACTIONS: Final = frozenset(
    {
        "CancelReservation",
        "ChangeAvailability",
        "ChangeConfiguration",
        "ClearCache",
        "ClearChargingProfile",
        "DataTransfer",
        "GetCompositeSchedule",
        "GetConfiguration",
        "GetDiagnostics",
        "GetLocalListVersion",
        "RemoteStartTransaction",
        "RemoteStopTransaction",
        "ReserveNow",
        "Reset",
        "SendLocalList",
        "SetChargingProfile",
        "TriggerMessage",
        "UnlockConnector",
        "UpdateFirmware",
        # security extension
        "CertificateSigned",
        "DeleteCertificate",
        "ExtendedTriggerMessage",
        "GetInstalledCertificateIds",
        "GetLog",
        "InstallCertificate",
        "SignedUpdateFirmware",
    }
)
"""The CALLs the CSMS sends to a charge point (DataTransfer goes both ways)."""

OCCURENCE_CONSTRAINT: Final = "OccurenceConstraintViolation"

SCHEMAS: Final = SchemaSet(
    package="ocpp.v16",
    version="1.6",
    station_actions=STATION_ACTIONS,
    csms_actions=CSMS_ACTIONS,
    occurrence_code=OCCURENCE_CONSTRAINT,
)
"""The OCPP 1.6 schemas (see :class:`~evcharge_core._schemas.SchemaSet`)."""


def schema(action: str, kind: Kind) -> dict[str, Any]:
    """The JSON schema of ``action``'s request or response, as the ``ocpp`` package ships it.
    Raises :class:`KeyError` for an action OCPP 1.6 does not define."""
    return SCHEMAS.schema(action, kind)


def validate(action: str, kind: Kind, payload: Mapping[str, Any]) -> Violation | None:
    """Check ``payload`` against ``action``'s ``kind`` schema; ``None`` if it is valid.
    Raises :class:`KeyError` for an action OCPP 1.6 does not define."""
    return SCHEMAS.validate(action, kind, payload)

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

import enum
import json
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import Any, Final

import attrs
import fastjsonschema

__all__ = [
    "CSMS_ACTIONS",
    "STATION_ACTIONS",
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

_INT32: Final = (-(2**31), 2**31 - 1)

TYPE_CONSTRAINT: Final = "TypeConstraintViolation"
OCCURENCE_CONSTRAINT: Final = "OccurenceConstraintViolation"
PROPERTY_CONSTRAINT: Final = "PropertyConstraintViolation"

_CODES: Final = {
    "type": TYPE_CONSTRAINT,
    "required": OCCURENCE_CONSTRAINT,
    "additionalProperties": OCCURENCE_CONSTRAINT,
    "minItems": OCCURENCE_CONSTRAINT,
    "maxItems": OCCURENCE_CONSTRAINT,
}


class Kind(enum.Enum):
    """Which of an action's two schemas."""

    REQUEST = "request"
    RESPONSE = "response"


@attrs.frozen
class Violation:
    """Why a payload breaks its schema: the OCPP-J 1.6 CallError ``code``, a
    ``description`` fit to send, and the ``field`` (``meterValue[0].timestamp``; ``None``:
    the payload itself)."""

    code: str
    description: str
    field: str | None = None

    def details(self) -> dict[str, Any]:
        """The CallError's errorDetails."""
        return {} if self.field is None else {"field": self.field}


Validator = Callable[[Any], Any]
_compiled: dict[tuple[str, Kind], Validator] = {}


def schema(action: str, kind: Kind) -> dict[str, Any]:
    """The JSON schema of ``action``'s request or response, as the ``ocpp`` package ships it.
    Raises :class:`KeyError` for an action OCPP 1.6 does not define."""
    if action not in STATION_ACTIONS and action not in CSMS_ACTIONS:
        raise KeyError(action)
    name = action + ("Response" if kind is Kind.RESPONSE else "") + ".json"
    text = resources.files("ocpp.v16").joinpath("schemas", name).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _validator(action: str, kind: Kind) -> Validator:
    key = (action, kind)
    compiled = _compiled.get(key)
    if compiled is None:
        compiled = fastjsonschema.compile(schema(action, kind))
        _compiled[key] = compiled
    return compiled


def _path(name: str) -> str | None:
    """``data.meterValue[0].value`` -> ``meterValue[0].value``; ``data`` -> ``None``."""
    if name == "data":
        return None
    return name.removeprefix("data.") if name.startswith("data.") else name


def _join(path: str | None, key: str) -> str:
    return key if path is None else f"{path}.{key}"


def _from_exception(error: fastjsonschema.JsonSchemaValueException) -> Violation:
    path = _path(error.name or "data")
    rule = error.rule or ""
    code = _CODES.get(rule, PROPERTY_CONSTRAINT)
    definition = error.definition if isinstance(error.definition, dict) else {}
    value = error.value
    if rule == "required" and isinstance(value, dict):
        missing = [k for k in definition.get("required", ()) if k not in value]
        if missing:
            return Violation(
                code, f"{_join(path, missing[0])} is required", _join(path, missing[0])
            )
    if rule == "additionalProperties" and isinstance(value, dict):
        known = definition.get("properties", {})
        extra = [k for k in value if k not in known]
        if extra:
            shown = _join(path, str(extra[0])[:60])
            return Violation(code, f"{shown} is not a property OCPP 1.6 defines here", shown)
    message = str(error.message or "is invalid")
    if message.startswith(error.name or "data"):
        message = message[len(error.name or "data") :].lstrip()
    return Violation(code, f"{path or 'payload'} {message}"[:300], path)


def _scalar_check(value: Any, path: str | None) -> Violation | None:
    where = path or "payload"
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT32[0] <= value <= _INT32[1]:
            return Violation(PROPERTY_CONSTRAINT, f"{where} does not fit a 32-bit integer", path)
    elif isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
        return Violation(PROPERTY_CONSTRAINT, f"{where} is not Unicode text", path)
    return None


def _clean(value: Any) -> bool:
    """Whether every integer in ``value`` fits 32 bits and every string is Unicode text (no
    surrogate, which UTF-8 cannot encode): the fast pass over a payload, which finds nothing
    wrong in nearly every payload; :func:`_extra_checks` then locates what it found."""
    if isinstance(value, str):
        return value.isascii() or _encodable(value)
    if isinstance(value, dict):
        return all(map(_clean, value.values()))
    if isinstance(value, list):
        return all(map(_clean, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return _INT32[0] <= value <= _INT32[1]
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _extra_checks(value: Any, path: str | None) -> Violation | None:
    """32-bit integers and real Unicode strings, anywhere in the payload: the first that is
    not, located."""
    if _clean(value):
        return None
    return _locate(value, path)


def _locate(value: Any, path: str | None) -> Violation | None:
    items: Iterable[tuple[str, Any]]
    if isinstance(value, dict):
        items = ((_join(path, str(k)), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path or ''}[{i}]", v) for i, v in enumerate(value))
    else:
        return _scalar_check(value, path)
    for where, item in items:
        found = _locate(item, where)
        if found is not None:
            return found
    return None


def validate(action: str, kind: Kind, payload: Mapping[str, Any]) -> Violation | None:
    """Check ``payload`` against ``action``'s ``kind`` schema; ``None`` if it is valid.
    Raises :class:`KeyError` for an action OCPP 1.6 does not define."""
    check = _validator(action, kind)
    try:
        check(payload)
    except fastjsonschema.JsonSchemaValueException as error:
        return _from_exception(error)
    return _extra_checks(payload, None)

"""OCPP-J framing for the simulator: JSON text in, typed frames out, and back (no I/O).

OCPP-J carries three message types as JSON arrays::

    [2, "<uniqueId>", "<Action>", {payload}]                      CALL
    [3, "<uniqueId>", {payload}]                                  CALLRESULT
    [4, "<uniqueId>", "<errorCode>", "<description>", {details}]  CALLERROR

:func:`parse_frame` turns text into a :class:`Call`, :class:`CallResult` or
:class:`CallError`, or raises :class:`FrameError` saying what is wrong and, when it could be
read, the message ID (so that a broken CALL can still be answered with a CallError).

:class:`PayloadReader` reads the fields of a CALL payload with the checks the OCPP schemas
make, raising :class:`CallErrorReply` with the OCPP-J error code that names the fault. The
codes are OCPP 1.6's (:class:`ErrorCode`); OCPP 2.0.1 renamed two of them and added two
(:class:`ErrorCode201`), and :func:`ocpp201_code` translates.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

__all__ = [
    "Call",
    "CallError",
    "CallErrorReply",
    "CallResult",
    "ErrorCode",
    "ErrorCode201",
    "Frame",
    "FrameError",
    "MessageType",
    "PayloadReader",
    "encode_call",
    "encode_call_error",
    "encode_call_result",
    "format_datetime",
    "ocpp201_code",
    "parse_frame",
]


class MessageType(enum.IntEnum):
    """The first element of every OCPP-J array."""

    #: A request; the peer must answer it with a CALLRESULT or a CALLERROR.
    CALL = 2
    #: The successful answer to a CALL, carrying the response payload.
    CALLRESULT = 3
    #: The failed answer to a CALL, carrying an error code and a description.
    CALLERROR = 4


class ErrorCode(enum.StrEnum):
    """The CallError codes OCPP-J 1.6 defines (with its spelling, ``Occurence`` included)."""

    #: The action is not known by the receiver.
    NOT_IMPLEMENTED = "NotImplemented"
    #: The action is recognised but not supported by the receiver.
    NOT_SUPPORTED = "NotSupported"
    #: An internal error prevented the receiver from processing the action.
    INTERNAL_ERROR = "InternalError"
    #: The payload for the action is incomplete.
    PROTOCOL_ERROR = "ProtocolError"
    #: A security issue prevented the receiver from completing the action.
    SECURITY_ERROR = "SecurityError"
    #: The payload is syntactically incorrect or does not conform to the action's PDU.
    FORMATION_VIOLATION = "FormationViolation"
    #: A field of the payload holds an invalid value.
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    #: A field of the payload breaks an occurrence constraint.
    OCCURENCE_CONSTRAINT_VIOLATION = "OccurenceConstraintViolation"
    #: A field of the payload breaks a data type constraint.
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"
    #: Any other error.
    GENERIC_ERROR = "GenericError"


class ErrorCode201(enum.StrEnum):
    """The CallError codes OCPP-J 2.0.1 defines (OCPP 2.0.1 part 4, §4.3)."""

    #: The payload for the action is syntactically incorrect (1.6: ``FormationViolation``).
    FORMAT_VIOLATION = "FormatViolation"
    #: Any other error.
    GENERIC_ERROR = "GenericError"
    #: An internal error prevented the receiver from processing the action.
    INTERNAL_ERROR = "InternalError"
    #: A message type number the receiver does not support.
    MESSAGE_TYPE_NOT_SUPPORTED = "MessageTypeNotSupported"
    #: The action is not known by the receiver.
    NOT_IMPLEMENTED = "NotImplemented"
    #: The action is recognised but not supported by the receiver.
    NOT_SUPPORTED = "NotSupported"
    #: A field breaks an occurrence constraint (1.6: ``OccurenceConstraintViolation``).
    OCCURRENCE_CONSTRAINT_VIOLATION = "OccurrenceConstraintViolation"
    #: A field of the payload holds an invalid value.
    PROPERTY_CONSTRAINT_VIOLATION = "PropertyConstraintViolation"
    #: The payload does not conform to the action's PDU structure.
    PROTOCOL_ERROR = "ProtocolError"
    #: The content of the message is not a valid RPC request (the message ID cannot be read).
    RPC_FRAMEWORK_ERROR = "RpcFrameworkError"
    #: A security issue prevented the receiver from completing the action.
    SECURITY_ERROR = "SecurityError"
    #: A field of the payload breaks a data type constraint.
    TYPE_CONSTRAINT_VIOLATION = "TypeConstraintViolation"


_OCPP201_RENAMED = {
    ErrorCode.FORMATION_VIOLATION: ErrorCode201.FORMAT_VIOLATION,
    ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION: ErrorCode201.OCCURRENCE_CONSTRAINT_VIOLATION,
}


def ocpp201_code(code: ErrorCode | ErrorCode201) -> ErrorCode201:
    """The OCPP 2.0.1 spelling of a CallError code (the same code where nothing changed)."""
    if isinstance(code, ErrorCode201):
        return code
    return _OCPP201_RENAMED.get(code) or ErrorCode201(code.value)


@attrs.frozen
class Call:
    """A request: ``[2, unique_id, action, payload]``; ``size`` is the frame's length in bytes
    (0 when it was not read from a frame)."""

    unique_id: str
    action: str
    payload: dict[str, Any]
    size: int = attrs.field(default=0, eq=False)


@attrs.frozen
class CallResult:
    """A successful answer: ``[3, unique_id, payload]``."""

    unique_id: str
    payload: dict[str, Any]


@attrs.frozen
class CallError:
    """A failed answer: ``[4, unique_id, code, description, details]``."""

    unique_id: str
    code: str
    description: str
    details: dict[str, Any] = attrs.field(factory=dict)


Frame = Call | CallResult | CallError


class FrameError(ValueError):
    """A frame that is not valid OCPP-J.

    ``unique_id`` is the message ID when it could be read, and ``is_call`` tells whether the
    frame claimed to be a CALL (only a CALL may be answered with a CallError, except under
    OCPP 2.0.1, which answers an unknown message type too). ``bad_payload`` says that only the
    CALL's payload was wrong (not an object); ``unknown_type`` that the message type number is
    not 2, 3 or 4.
    """

    def __init__(
        self,
        message: str,
        *,
        unique_id: str | None = None,
        is_call: bool = False,
        bad_payload: bool = False,
        unknown_type: bool = False,
    ) -> None:
        super().__init__(message)
        self.unique_id = unique_id
        self.is_call = is_call
        self.bad_payload = bad_payload
        self.unknown_type = unknown_type


class CallErrorReply(Exception):
    """Raised while answering a CALL: the answer is a CALLERROR with this code."""

    def __init__(self, code: ErrorCode | ErrorCode201, description: str) -> None:
        super().__init__(f"{code}: {description}")
        self.code = code
        self.description = description


def parse_frame(text: str | bytes) -> Frame:
    """Read one OCPP-J message; raise :class:`FrameError` if it is not one."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise FrameError(f"not JSON: {error}") from None
    if not isinstance(message, list) or len(message) < 3:
        raise FrameError("not an OCPP-J array of at least 3 elements")
    type_id, unique_id = message[0], message[1]
    if not isinstance(unique_id, str):
        raise FrameError("the message ID is not a string")
    if type_id == MessageType.CALL:
        if len(message) != 4 or not isinstance(message[2], str):
            raise FrameError(
                "a CALL is [2, id, action, payload]", unique_id=unique_id, is_call=True
            )
        if not isinstance(message[3], dict):
            raise FrameError(
                "the payload is not an object", unique_id=unique_id, is_call=True, bad_payload=True
            )
        size = len(text) if isinstance(text, bytes) else len(text.encode())
        return Call(unique_id, message[2], message[3], size)
    if type_id == MessageType.CALLRESULT:
        if len(message) != 3 or not isinstance(message[2], dict):
            raise FrameError("a CALLRESULT is [3, id, payload]", unique_id=unique_id)
        return CallResult(unique_id, message[2])
    if type_id == MessageType.CALLERROR:
        if (
            len(message) not in (4, 5)
            or not isinstance(message[2], str)
            or not isinstance(message[3], str)
        ):
            raise FrameError(
                "a CALLERROR is [4, id, code, description, details]", unique_id=unique_id
            )
        details = message[4] if len(message) == 5 and isinstance(message[4], dict) else {}
        return CallError(unique_id, message[2], message[3], details)
    raise FrameError(f"unknown message type {type_id!r}", unique_id=unique_id, unknown_type=True)


def _dumps(message: list[Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def encode_call(unique_id: str, action: str, payload: Mapping[str, Any]) -> str:
    """``[2, unique_id, action, payload]`` as compact JSON."""
    return _dumps([MessageType.CALL.value, unique_id, action, dict(payload)])


def encode_call_result(unique_id: str, payload: Mapping[str, Any]) -> str:
    """``[3, unique_id, payload]`` as compact JSON."""
    return _dumps([MessageType.CALLRESULT.value, unique_id, dict(payload)])


def encode_call_error(
    unique_id: str, code: str, description: str, details: Mapping[str, Any] | None = None
) -> str:
    """``[4, unique_id, code, description, details]`` as compact JSON."""
    return _dumps([MessageType.CALLERROR.value, unique_id, code, description, dict(details or {})])


def format_datetime(moment: datetime) -> str:
    """An OCPP timestamp: UTC, whole milliseconds, ``Z`` suffix."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class PayloadReader:
    """Typed access to a CALL payload, failing as the OCPP 1.6 schemas would.

    A missing required field raises ``ProtocolError`` ("payload incomplete"), a wrong JSON
    type or an over-long string ``TypeConstraintViolation``, a value outside an enumeration
    ``PropertyConstraintViolation``.
    """

    def __init__(self, payload: Mapping[str, Any], where: str = "") -> None:
        self._payload = payload
        self._where = where

    def raw(self) -> dict[str, Any]:
        """A copy of the object being read."""
        return dict(self._payload)

    def _name(self, name: str) -> str:
        return f"{self._where}.{name}" if self._where else name

    def _get(self, name: str, required: bool) -> Any:
        value = self._payload.get(name)
        if value is None and required:
            raise CallErrorReply(ErrorCode.PROTOCOL_ERROR, f"{self._name(name)} is required")
        return value

    def _type_error(self, name: str, expected: str) -> CallErrorReply:
        return CallErrorReply(
            ErrorCode.TYPE_CONSTRAINT_VIOLATION, f"{self._name(name)} must be {expected}"
        )

    def integer(self, name: str) -> int:
        """A required integer field."""
        value = self.optional_integer(name, required=True)
        assert value is not None
        return value

    def optional_integer(self, name: str, *, required: bool = False) -> int | None:
        """An optional integer field (``None`` when absent)."""
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._type_error(name, "an integer")
        if isinstance(value, float):
            if not value.is_integer():
                raise self._type_error(name, "an integer")
            value = int(value)
        return value

    def optional_number(self, name: str, *, required: bool = False) -> float | None:
        """An optional number field (``None`` when absent)."""
        value = self._get(name, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._type_error(name, "a number")
        return float(value)

    def number(self, name: str) -> float:
        """A required number field."""
        value = self.optional_number(name, required=True)
        assert value is not None
        return value

    def string(self, name: str, max_length: int | None = None) -> str:
        """A required string field."""
        value = self.optional_string(name, max_length, required=True)
        assert value is not None
        return value

    def optional_string(
        self, name: str, max_length: int | None = None, *, required: bool = False
    ) -> str | None:
        """An optional string field, at most ``max_length`` characters."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self._type_error(name, "a string")
        if max_length is not None and len(value) > max_length:
            raise self._type_error(name, f"at most {max_length} characters")
        return value

    def choice(self, name: str, choices: Collection[str]) -> str:
        """A required string field from an enumeration."""
        value = self.optional_choice(name, choices, required=True)
        assert value is not None
        return value

    def optional_choice(
        self, name: str, choices: Collection[str], *, required: bool = False
    ) -> str | None:
        """An optional string field from an enumeration."""
        value = self.optional_string(name, required=required)
        if value is not None and value not in choices:
            raise CallErrorReply(
                ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
                f"{self._name(name)} must be one of {', '.join(sorted(choices))}",
            )
        return value

    def optional_timestamp(self, name: str, *, required: bool = False) -> datetime | None:
        """An optional RFC 3339 date-time field, as an aware datetime (UTC if unzoned)."""
        value = self.optional_string(name, required=required)
        if value is None:
            return None
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            raise self._type_error(name, "an RFC 3339 date-time") from None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)

    def timestamp(self, name: str) -> datetime:
        """A required RFC 3339 date-time field."""
        value = self.optional_timestamp(name, required=True)
        assert value is not None
        return value

    def optional_child(self, name: str, *, required: bool = False) -> PayloadReader | None:
        """An optional object field, as a reader of its own."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self._type_error(name, "an object")
        return PayloadReader(value, self._name(name))

    def child(self, name: str) -> PayloadReader:
        """A required object field."""
        value = self.optional_child(name, required=True)
        assert value is not None
        return value

    def optional_list(self, name: str, *, required: bool = False) -> list[Any] | None:
        """An optional array field (items unchecked)."""
        value = self._get(name, required)
        if value is None:
            return None
        if not isinstance(value, list):
            raise self._type_error(name, "an array")
        return value

    def objects(self, name: str, *, required: bool = False) -> list[PayloadReader]:
        """An array of objects, each as a reader (empty when absent)."""
        items = self.optional_list(name, required=required) or []
        readers = []
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self._type_error(f"{name}[{index}]", "an object")
            readers.append(PayloadReader(item, self._name(f"{name}[{index}]")))
        return readers

    def strings(self, name: str, max_length: int | None = None) -> list[str] | None:
        """An optional array of strings (``None`` when absent)."""
        items = self.optional_list(name)
        if items is None:
            return None
        for index, item in enumerate(items):
            if not isinstance(item, str):
                raise self._type_error(f"{name}[{index}]", "a string")
            if max_length is not None and len(item) > max_length:
                raise self._type_error(f"{name}[{index}]", f"at most {max_length} characters")
        return list(items)

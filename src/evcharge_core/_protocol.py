"""What to do with one text frame a station sent, whatever its OCPP version. Pure:
:func:`receive` reads the frame and decides, the session carries the decision out.

In order, for a frame:

1. Not OCPP-J (see :func:`~evcharge_core.ocppj.parse_frame`): the CallError it names
   (FormationViolation, ProtocolError in 1.6; FormatViolation, MessageTypeNotSupported,
   RpcFrameworkError in 2.0.1) if a CALL's message ID is readable, else nothing. A broken
   CALLRESULT or CALLERROR with a readable ID fails the CALL it answers.
2. A CALLRESULT or CALLERROR: handed to the CALL it answers.
3. A CALL of an action the version does not define: ``NotImplemented``; of one the CSMS
   sends but does not receive (``Reset``...): ``NotSupported``.
4. While the station's registration is not Accepted, any CALL but BootNotification, and but
   those the session says it asked for (``allowed``): ``SecurityError``.
5. A payload that breaks the action's schema: the violation's code (see
   :mod:`evcharge_core._schemas`).
6. Otherwise: a :class:`Request` for the action's handler.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs

from ._schemas import Kind, SchemaSet, Violation
from .charging import ChargingService
from .domain.values import Protocol, RegistrationStatus
from .ocppj import BadFrame, Frame, MessageType, call_error, parse_frame

__all__ = [
    "Allowed",
    "Answer",
    "BrokenResponse",
    "Handled",
    "Handler",
    "Inbound",
    "Refused",
    "Request",
    "Response",
    "receive",
]


@attrs.frozen
class Answer:
    """Send ``text`` (if any) and do nothing else; ``problem`` is for the log. ``code`` is
    the CallError code ``text`` carries, ``action`` the refused CALL's action when it was
    readable (any string the station sent: not necessarily an OCPP action)."""

    text: str | None
    problem: str
    code: str | None = None
    action: str | None = None


@attrs.frozen
class Request:
    """A valid CALL the station may send: run its handler."""

    message_id: str
    action: str
    payload: dict[str, object]


@attrs.frozen
class Response:
    """A CALLRESULT or CALLERROR: hand it to the CALL it answers."""

    frame: Frame


@attrs.frozen
class BrokenResponse:
    """A malformed CALLRESULT or CALLERROR answering ``message_id``."""

    message_id: str
    problem: str


Inbound = Answer | Request | Response | BrokenResponse


class Refused(Exception):
    """A request the schema accepts but the CSMS cannot: answer ``violation`` as a
    CallError (raised by handlers and the payload readers they use)."""

    def __init__(self, violation: Violation) -> None:
        super().__init__(violation.description)
        self.violation = violation


@attrs.frozen
class Handled:
    """A handler's outcome: the response ``payload``, and the station's new
    ``registration`` status when the message decided it (BootNotification)."""

    payload: dict[str, Any]
    registration: RegistrationStatus | None = None


Handler = Callable[[ChargingService, str, Mapping[str, Any]], Awaitable[Handled]]
"""What handles one station-initiated action: (service, station ID, valid payload) to its
:class:`Handled` outcome; may raise :class:`Refused`."""

Allowed = Callable[[str, Mapping[str, Any]], bool]
"""Whether a station whose registration is not Accepted may still send this CALL (action,
payload as received, not yet validated): the messages the CSMS itself asked for."""


def _refuse(message_id: str, action: str, code: str, description: str) -> Answer:
    return Answer(call_error(message_id, code, description), description, code, action)


def _reply_code(reply: str | None) -> str | None:
    """The code of a CallError :func:`~evcharge_core.ocppj.parse_frame` built."""
    if reply is None:
        return None
    code = json.loads(reply)[2]
    return code if isinstance(code, str) else None


def receive(  # noqa: PLR0911 - one return per rule of the module docstring
    text: str,
    registration: RegistrationStatus,
    *,
    protocol: Protocol,
    schemas: SchemaSet,
    allowed: Allowed | None = None,
) -> Inbound:
    """Decide what ``text``, from a station speaking ``protocol`` (whose schemas are
    ``schemas``) and whose registration is ``registration``, calls for (rules in the module
    docstring)."""
    frame = parse_frame(text, protocol)
    if isinstance(frame, BadFrame):
        if (
            frame.message_type in (MessageType.CALL_RESULT, MessageType.CALL_ERROR)
            and frame.message_id is not None
        ):
            return BrokenResponse(frame.message_id, frame.problem)
        return Answer(frame.reply, frame.problem, _reply_code(frame.reply))
    if frame.message_type is not MessageType.CALL:
        return Response(frame)
    action = frame.action or ""
    message_id = frame.message_id
    if action not in schemas.station_actions:
        shown = action[:60]
        if action in schemas.csms_actions:
            return _refuse(
                message_id, action, "NotSupported", f"{shown} is sent by the CSMS, not to it"
            )
        return _refuse(message_id, action, "NotImplemented", f"unknown action {shown!r}")
    payload = dict(frame.payload)
    if (
        registration is not RegistrationStatus.ACCEPTED
        and action != "BootNotification"
        and (allowed is None or not allowed(action, payload))
    ):
        return _refuse(
            message_id,
            action,
            "SecurityError",
            f"registration is {registration.value}: only BootNotification is accepted",
        )
    violation = schemas.validate(action, Kind.REQUEST, payload)
    if violation is not None:
        return Answer(
            call_error(message_id, violation.code, violation.description, violation.details()),
            violation.description,
            violation.code,
            action,
        )
    return Request(message_id, action, payload)

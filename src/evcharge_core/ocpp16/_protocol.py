"""What to do with one text frame a station sent over OCPP 1.6J. Pure: :func:`receive` reads
the frame and decides, the session carries the decision out.

In order, for a frame:

1. Not OCPP-J (see :func:`~evcharge_core.ocppj.parse_frame`): the CallError it names
   (FormationViolation, ProtocolError) if a CALL's message ID is readable, else nothing. A
   broken CALLRESULT or CALLERROR with a readable ID fails the CALL it answers.
2. A CALLRESULT or CALLERROR: handed to the CALL it answers.
3. A CALL of an action OCPP 1.6 does not define: ``NotImplemented``; of one the CSMS sends
   but does not receive (``Reset``...): ``NotSupported``.
4. While the station's registration is not Accepted, any CALL but BootNotification:
   ``SecurityError``.
5. A payload that breaks the action's schema: the violation's code (see
   :mod:`._schemas`).
6. Otherwise: a :class:`Request` for the action's handler.
"""

from __future__ import annotations

import json

import attrs

from ..domain.values import Protocol, RegistrationStatus
from ..ocppj import BadFrame, Frame, MessageType, call_error, parse_frame
from ._schemas import CSMS_ACTIONS, STATION_ACTIONS, Kind, validate

__all__ = ["Answer", "BrokenResponse", "Request", "Response", "receive"]


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


def _refuse(message_id: str, action: str, code: str, description: str) -> Answer:
    return Answer(call_error(message_id, code, description), description, code, action)


def _reply_code(reply: str | None) -> str | None:
    """The code of a CallError :func:`~evcharge_core.ocppj.parse_frame` built."""
    if reply is None:
        return None
    code = json.loads(reply)[2]
    return code if isinstance(code, str) else None


def receive(  # noqa: PLR0911 - one return per rule of the module docstring
    text: str, registration: RegistrationStatus
) -> Inbound:
    """Decide what ``text``, from a station whose registration is ``registration``, calls
    for (rules in the module docstring)."""
    frame = parse_frame(text, Protocol.OCPP16)
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
    if action not in STATION_ACTIONS:
        shown = action[:60]
        if action in CSMS_ACTIONS:
            return _refuse(
                message_id, action, "NotSupported", f"{shown} is sent by the CSMS, not to it"
            )
        return _refuse(message_id, action, "NotImplemented", f"unknown action {shown!r}")
    if registration is not RegistrationStatus.ACCEPTED and action != "BootNotification":
        return _refuse(
            message_id,
            action,
            "SecurityError",
            f"registration is {registration.value}: only BootNotification is accepted",
        )
    payload = dict(frame.payload)
    violation = validate(action, Kind.REQUEST, payload)
    if violation is not None:
        return Answer(
            call_error(message_id, violation.code, violation.description, violation.details()),
            violation.description,
            violation.code,
            action,
        )
    return Request(message_id, action, payload)

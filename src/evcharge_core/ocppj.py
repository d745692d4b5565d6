"""OCPP-J framing, shared by OCPP 1.6 and 2.0.1: reading frames, writing them, and matching
the answers a station sends to the CALLs the CSMS sent it. No networking.

**Frames.** An OCPP-J message is a JSON array whose first element is the message type ID:
``[2, messageId, action, payload]`` (CALL), ``[3, messageId, payload]`` (CALLRESULT),
``[4, messageId, errorCode, errorDescription, errorDetails]`` (CALLERROR).
:func:`parse_frame` reads one into a :class:`Frame`, or a :class:`BadFrame` saying what is
wrong and what, if anything, to answer:

* text that is not JSON: FormationViolation (1.6) / FormatViolation (2.0.1), if a CALL's
  message ID can still be read plainly at its start;
* a JSON value that is not an array with a message type ID: nothing (no ID to answer);
* an unknown message type ID: ``ProtocolError`` (1.6) / ``MessageTypeNotSupported`` (2.0.1,
  which defines that code for exactly this case), if the message ID is readable;
* a CALL of the wrong shape: FormationViolation (1.6), if the message ID is readable. OCPP
  2.0.1 tells the two cases apart: a payload that is not an object is a FormatViolation, any
  other shape (missing or extra elements, an action that is not a string) an
  ``RpcFrameworkError``, the code 2.0.1 defines for "not a valid RPC request"; and a 2.0.1
  CALL whose message ID cannot be read (not a string) is answered ``RpcFrameworkError`` with
  the message ID ``"-1"`` (our choice: the station learns its frame was refused, and no CALL
  of its own can carry that ID by accident of a parse);
* a broken CALLRESULT or CALLERROR: nothing (a CallError answers a request, never a
  response), but :attr:`BadFrame.message_id` lets the caller fail the CALL it answered.

**Pending calls.** :class:`PendingCalls` is the correlation table of the CALLs the CSMS sent
and awaits: message ID to future. A CALLRESULT or CALLERROR resolves the future of its
message ID; one whose ID is not awaited (a late answer to a CALL that timed out, or a
station's bug) is logged and ignored.
"""

from __future__ import annotations

import asyncio
import enum
import json
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .domain.values import Protocol

__all__ = [
    "UNREADABLE_ID",
    "BadFrame",
    "Frame",
    "MessageType",
    "PendingCalls",
    "call_error",
    "call_frame",
    "call_result",
    "format_violation_code",
    "parse_frame",
]

logger = logging.getLogger(__name__)


class MessageType(enum.IntEnum):
    """OCPP-J message type IDs, the first element of every frame."""

    CALL = 2
    CALL_RESULT = 3
    CALL_ERROR = 4


@attrs.frozen
class Frame:
    """A well-formed OCPP-J frame. ``action`` is set for a CALL only; ``payload`` is the
    CALL's or CALLRESULT's payload, or a CALLERROR's details; a CALLERROR's code and
    description are in ``error_code`` and ``error_description``."""

    message_type: MessageType
    message_id: str
    payload: Mapping[str, Any]
    action: str | None = None
    error_code: str | None = None
    error_description: str | None = None


@attrs.frozen
class BadFrame:
    """A frame that is not well-formed OCPP-J.

    ``reply`` is the CallError to send, or ``None`` when nothing must be answered (no
    readable message ID, or the frame was a response); ``problem`` says what is wrong, for
    the log. ``message_type`` and ``message_id`` are set when they could be read: a broken
    CALLRESULT or CALLERROR still tells which CALL it answered.
    """

    problem: str
    reply: str | None = None
    message_type: MessageType | None = None
    message_id: str | None = None


def format_violation_code(protocol: Protocol) -> str:
    """The CallError code for a malformed message: OCPP 1.6 spells it FormationViolation."""
    return "FormationViolation" if protocol is Protocol.OCPP16 else "FormatViolation"


UNREADABLE_ID: Final = "-1"
"""The message ID of an OCPP 2.0.1 CallError answering a CALL whose own ID is unreadable."""

RPC_FRAMEWORK_ERROR: Final = "RpcFrameworkError"


def _unknown_type_code(protocol: Protocol) -> str:
    return "ProtocolError" if protocol is Protocol.OCPP16 else "MessageTypeNotSupported"


def _dumps(message: list[Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def call_error(
    message_id: str, code: str, description: str, details: Mapping[str, Any] | None = None
) -> str:
    """An OCPP-J CALLERROR frame: ``[4, id, code, description, details]``."""
    return _dumps(
        [MessageType.CALL_ERROR.value, message_id, code, description, dict(details or {})]
    )


def call_result(message_id: str, payload: Mapping[str, Any]) -> str:
    """An OCPP-J CALLRESULT frame: ``[3, id, payload]``."""
    return _dumps([MessageType.CALL_RESULT.value, message_id, dict(payload)])


def call_frame(message_id: str, action: str, payload: Mapping[str, Any]) -> str:
    """An OCPP-J CALL frame: ``[2, id, action, payload]``."""
    return _dumps([MessageType.CALL.value, message_id, action, dict(payload)])


# The message ID of a CALL whose JSON is broken, when it can still be read plainly.
_BROKEN_CALL_ID: Final = re.compile(r'\s*\[\s*2\s*,\s*"([^"\\]{1,64})"')


def _shape_ok(message: list[Any], message_type: MessageType) -> bool:
    if message_type is MessageType.CALL:
        return len(message) == 4 and isinstance(message[2], str) and isinstance(message[3], dict)
    if message_type is MessageType.CALL_RESULT:
        return len(message) == 3 and isinstance(message[2], dict)
    return (
        len(message) == 5
        and isinstance(message[2], str)
        and isinstance(message[3], str)
        and isinstance(message[4], dict)
    )


def _bad_json(text: str, violation: str) -> BadFrame:
    match = _BROKEN_CALL_ID.match(text)
    if match is None:
        return BadFrame("not valid JSON; no message ID readable")
    message_id = match.group(1)
    return BadFrame(
        "not valid JSON",
        call_error(message_id, violation, "message is not valid JSON"),
        MessageType.CALL,
        message_id,
    )


def _frame(message: list[Any], message_type: MessageType, message_id: str) -> Frame:
    if message_type is MessageType.CALL:
        return Frame(message_type, message_id, message[3], action=message[2])
    if message_type is MessageType.CALL_RESULT:
        return Frame(message_type, message_id, message[2])
    return Frame(
        message_type, message_id, message[4], error_code=message[2], error_description=message[3]
    )


def parse_frame(text: str, protocol: Protocol) -> Frame | BadFrame:
    """Read one OCPP-J text frame spoken in ``protocol`` (rules in the module docstring)."""
    violation = format_violation_code(protocol)
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        return _bad_json(text, violation)
    if not isinstance(message, list) or not message:
        return BadFrame("not a JSON array with a message type ID")
    message_id = message[1] if len(message) > 1 and isinstance(message[1], str) else None
    type_id = message[0]
    if isinstance(type_id, bool) or type_id not in (2, 3, 4):
        problem = f"unknown message type ID {type_id!r}"[:200]
        code = _unknown_type_code(protocol)
        reply = None if message_id is None else call_error(message_id, code, problem)
        return BadFrame(problem, reply, None, message_id)
    message_type = MessageType(type_id)
    if message_id is None or not _shape_ok(message, message_type):
        problem = f"malformed {message_type.name} frame"
        if message_type is MessageType.CALL:
            reply = _bad_call_reply(message, message_id, protocol)
            return BadFrame(problem, reply, message_type, message_id)
        return BadFrame(problem, None, message_type, message_id)
    return _frame(message, message_type, message_id)


def _bad_call_reply(message: list[Any], message_id: str | None, protocol: Protocol) -> str | None:
    """The CallError answering a CALL of the wrong shape (see the module docstring)."""
    expected = "a CALL is [2, messageId, action, payload]"
    if protocol is Protocol.OCPP16:
        if message_id is None:
            return None
        return call_error(message_id, format_violation_code(protocol), expected)
    if message_id is None:
        return call_error(UNREADABLE_ID, RPC_FRAMEWORK_ERROR, "the message ID cannot be read")
    if len(message) == 4 and isinstance(message[2], str):  # only the payload is wrong
        return call_error(message_id, "FormatViolation", "the payload must be a JSON object")
    return call_error(message_id, RPC_FRAMEWORK_ERROR, expected)


# --- pending calls ---------------------------------------------------------------------------


class PendingCalls:
    """The CALLs sent and awaiting an answer, by message ID (see the module docstring).

    :meth:`open` registers a CALL before it is sent and returns the future its answer will
    resolve; :meth:`resolve` feeds it a CALLRESULT or CALLERROR; :meth:`fail` and
    :meth:`fail_all` end it with an exception (a broken answer, a closed connection);
    :meth:`discard` forgets it (a timeout). ``name`` names the peer in the log.
    """

    def __init__(self, name: str = "") -> None:
        self.name = name
        self._calls: dict[str, tuple[str, asyncio.Future[Frame]]] = {}

    def __len__(self) -> int:
        return len(self._calls)

    def __contains__(self, message_id: object) -> bool:
        return message_id in self._calls

    def open(self, message_id: str, action: str) -> asyncio.Future[Frame]:
        """Await an answer to the CALL ``message_id`` (of ``action``)."""
        if message_id in self._calls:
            raise ValueError(f"a CALL with message ID {message_id!r} is already pending")
        future: asyncio.Future[Frame] = asyncio.get_running_loop().create_future()
        self._calls[message_id] = (action, future)
        return future

    def action(self, message_id: str) -> str | None:
        """The action of the pending CALL ``message_id``, or ``None``."""
        pending = self._calls.get(message_id)
        return None if pending is None else pending[0]

    def resolve(self, frame: Frame) -> bool:
        """Hand a CALLRESULT or CALLERROR to the CALL it answers; ``False`` (and a log line)
        if no CALL with its message ID is pending."""
        pending = self._calls.pop(frame.message_id, None)
        if pending is None:
            logger.info(
                "%s sent a %s for message ID %r, which no CALL awaits; ignored",
                self.name or "peer",
                frame.message_type.name,
                frame.message_id,
            )
            return False
        future = pending[1]
        if not future.done():
            future.set_result(frame)
        return True

    def fail(self, message_id: str, error: BaseException) -> bool:
        """End the pending CALL ``message_id`` with ``error``; ``False`` if there is none."""
        pending = self._calls.pop(message_id, None)
        if pending is None:
            return False
        if not pending[1].done():
            pending[1].set_exception(error)
        return True

    def fail_all(self, error: BaseException) -> None:
        """End every pending CALL with ``error`` (the connection is gone)."""
        calls, self._calls = self._calls, {}
        for _action, future in calls.values():
            if not future.done():
                future.set_exception(error)

    def discard(self, message_id: str) -> None:
        """Stop awaiting ``message_id``; a later answer is then ignored."""
        self._calls.pop(message_id, None)

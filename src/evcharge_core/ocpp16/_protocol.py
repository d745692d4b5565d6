"""What to do with one text frame a station sent over OCPP 1.6J: the rules of
:mod:`evcharge_core._protocol` with the 1.6 schemas and CallError codes. Pure.

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

from .._protocol import Answer, BrokenResponse, Inbound, Request, Response
from .._protocol import receive as _receive
from ..domain.values import Protocol, RegistrationStatus
from ._schemas import SCHEMAS

__all__ = ["Answer", "BrokenResponse", "Inbound", "Request", "Response", "receive"]


def receive(text: str, registration: RegistrationStatus) -> Inbound:
    """Decide what ``text``, from a station whose registration is ``registration``, calls
    for (rules in the module docstring)."""
    return _receive(text, registration, protocol=Protocol.OCPP16, schemas=SCHEMAS)

"""One OCPP 1.6J connection: :class:`Ocpp16Session`, the
:class:`~evcharge_core.adapters.websocket.StationSession` the gateway feeds.

It is :class:`evcharge_core._session.OcppSession` (read its docstring: one station CALL at a
time, the registration gate, CSMS CALLs one in flight, the boot configuration, metrics) with
the OCPP 1.6 schemas (security extension included), the 1.6 handlers
(:mod:`._handlers`), the 1.6 CallError codes, and :class:`~.commands.Ocpp16Commands` as its
:attr:`~Ocpp16Session.commands`. While a 1.6 station is Pending or Rejected, every CALL but
BootNotification is answered ``SecurityError``.
"""

from __future__ import annotations

from typing import ClassVar, Final

from .._session import DEFAULT_CALL_TIMEOUT, OcppSession
from ..charging import ChargingService
from ..domain.values import Protocol
from ..observability import MessageObserver
from ..ports import SessionContext, SessionFactory
from ._handlers import HANDLERS
from ._schemas import SCHEMAS
from .commands import Ocpp16Commands

__all__ = ["DEFAULT_CALL_TIMEOUT", "Ocpp16Session", "session_factory"]

_CALL_ERROR_CODES: Final = frozenset(
    {
        "FormationViolation",
        "GenericError",
        "InternalError",
        "NotImplemented",
        "NotSupported",
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)
"""OCPP 1.6's CallError codes (and the spelling of OccurrenceConstraintViolation that
2.0.1 fixed): the outcomes a station's CallError is counted under; any other is ``(other)``."""


class Ocpp16Session(OcppSession):
    """The OCPP 1.6J side of one station's connection (see the module docstring).
    :attr:`commands` offers the operator commands
    (:class:`~evcharge_core.ocpp16.commands.Ocpp16Commands`) over :meth:`call`."""

    protocol: ClassVar[Protocol] = Protocol.OCPP16
    schemas = SCHEMAS
    handlers = HANDLERS
    call_error_codes = _CALL_ERROR_CODES
    commands: Ocpp16Commands

    def make_commands(self) -> Ocpp16Commands:
        return Ocpp16Commands(self)


def session_factory(
    charging: ChargingService,
    *,
    default_timeout: float = DEFAULT_CALL_TIMEOUT,
    observer: MessageObserver | None = None,
) -> SessionFactory:
    """A gateway ``session_factory`` building an :class:`Ocpp16Session` per connection, each
    telling ``observer`` (default: nobody) about its messages."""

    def build(context: SessionContext) -> Ocpp16Session:
        return Ocpp16Session(context, charging, default_timeout=default_timeout, observer=observer)

    return build

"""OCPP 1.6J: the station-initiated messages, the registration gate, CSMS-initiated calls and
operator commands, for the reference websocket gateway or any transport.

* :class:`Ocpp16Session` (:mod:`.session`): one per connection; plug it into
  :class:`~evcharge_core.adapters.websocket.WebsocketGateway` with :func:`session_factory`.
* :class:`Ocpp16Commands` (:mod:`.commands`): the operator commands in OCPP 1.6, used by
  :class:`~evcharge_core.commands.CommandService`.
* :func:`validate`, :data:`STATION_ACTIONS`, :data:`CSMS_ACTIONS`: the 1.6 JSON schemas (of
  the ``ocpp`` package, security extension included) and their CallError codes.

The pure parts: framing (:mod:`evcharge_core.ocppj`), what to do with a frame
(``_protocol``), payloads to domain values and back (``_messages``); the handlers
(``_handlers``) call :class:`~evcharge_core.charging.ChargingService`. See the OCPP 1.6
guide in the documentation.
"""

from __future__ import annotations

from ._handlers import HANDLERS
from ._schemas import CSMS_ACTIONS, STATION_ACTIONS, Kind, Violation, schema, validate
from .commands import EXTENDED_TRIGGER_MESSAGES, PASSWORD_KEY, Ocpp16Commands
from .session import DEFAULT_CALL_TIMEOUT, Ocpp16Session, session_factory

__all__ = [
    "CSMS_ACTIONS",
    "DEFAULT_CALL_TIMEOUT",
    "EXTENDED_TRIGGER_MESSAGES",
    "HANDLERS",
    "PASSWORD_KEY",
    "STATION_ACTIONS",
    "Kind",
    "Ocpp16Commands",
    "Ocpp16Session",
    "Violation",
    "schema",
    "session_factory",
    "validate",
]

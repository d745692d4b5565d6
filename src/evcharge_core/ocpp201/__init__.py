"""OCPP 2.0.1: the station-initiated messages, the registration gate, CSMS-initiated calls and
operator commands, for the reference websocket gateway or any transport.

* :class:`Ocpp201Session` (:mod:`.session`): one per connection; plug it into
  :class:`~evcharge_core.adapters.websocket.WebsocketGateway` with :func:`session_factory`.
* :class:`Ocpp201Commands` (:mod:`.commands`): the operator commands in OCPP 2.0.1, used by
  :class:`~evcharge_core.commands.CommandService`.
* :func:`validate`, :data:`STATION_ACTIONS`, :data:`CSMS_ACTIONS`: the 2.0.1 JSON schemas (of
  the ``ocpp`` package) and their CallError codes.
* :func:`split`, :class:`MessageLimits`: GetVariables and SetVariables cut to the station's
  ItemsPerMessage and BytesPerMessage.

The pure parts: framing (:mod:`evcharge_core.ocppj`), what to do with a frame
(:mod:`evcharge_core._protocol`), payloads to domain values and back (``_messages``, with the
status mapping), request items and splitting (``_variables``); the handlers (``_handlers``)
call :class:`~evcharge_core.charging.ChargingService`. See the OCPP 2.0.1 guide in the
documentation.
"""

from __future__ import annotations

from ._handlers import HANDLERS
from ._messages import CHARGING_STATES, CONNECTOR_STATUSES, status_of_charging_state
from ._schemas import (
    CALL_ERROR_CODES,
    CSMS_ACTIONS,
    STATION_ACTIONS,
    Kind,
    Violation,
    schema,
    validate,
)
from ._variables import MessageLimits, limits_from, split
from .commands import PASSWORD_KEY, Ocpp201Commands
from .session import DEFAULT_CALL_TIMEOUT, Ocpp201Session, session_factory

__all__ = [
    "CALL_ERROR_CODES",
    "CHARGING_STATES",
    "CONNECTOR_STATUSES",
    "CSMS_ACTIONS",
    "DEFAULT_CALL_TIMEOUT",
    "HANDLERS",
    "PASSWORD_KEY",
    "STATION_ACTIONS",
    "Kind",
    "MessageLimits",
    "Ocpp201Commands",
    "Ocpp201Session",
    "Violation",
    "limits_from",
    "schema",
    "session_factory",
    "split",
    "status_of_charging_state",
    "validate",
]

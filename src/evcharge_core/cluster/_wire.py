"""JSON for what crosses between processes: command requests, answers, errors, events.

Each message is a JSON object. A command is ``{"op": "command", "station": ID, "method":
NAME, "args": [...], "kwargs": {...}}`` where ``NAME`` is a method of
:class:`~evcharge_core.commands.StationCommands`; its answer is ``{"ok": RESULT}`` or
``{"error": KIND, ...}`` with what it takes to raise the same
:class:`~evcharge_core.errors.EvchargeError` on the asking side. Datetimes travel as
``{"$dt": ISO 8601}``. Events are ``{"type": CLASS NAME, "fields": {...}}``, with the
fields as cattrs' JSON converter writes them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

import cattrs.preconf.json

from ..commands import ConfigurationEntry, ConfigurationResult, ReportResult
from ..domain import events as _events
from ..domain.events import Event
from ..errors import (
    CommandTimeout,
    Conflict,
    EvchargeError,
    InvalidInput,
    Issue,
    NotFound,
    StationCallError,
    StationNotConnected,
    StationProtocolError,
)

__all__ = [
    "COMMAND_METHODS",
    "decode_error",
    "decode_event",
    "decode_result",
    "decode_value",
    "dumps",
    "encode_error",
    "encode_event",
    "encode_result",
    "encode_value",
]

COMMAND_METHODS: Final = frozenset(
    {
        "get_configuration",
        "change_configuration",
        "get_base_report",
        "trigger_message",
        "reset",
        "remote_start",
        "remote_stop",
        "unlock",
        "change_availability",
        "reserve_now",
        "cancel_reservation",
        "set_charging_profile",
        "clear_charging_profile",
        "call",
    }
)
"""The :class:`~evcharge_core.commands.StationCommands` methods a process runs for another."""

_converter = cattrs.preconf.json.make_converter()
_EVENT_TYPES: Final[dict[str, type[Any]]] = {
    name: getattr(_events, name) for name in _events.__all__ if name != "Event"
}


def dumps(message: Mapping[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def encode_value(value: Any) -> Any:
    """Arguments as JSON: datetimes tagged, mappings and sequences walked."""
    if isinstance(value, datetime):
        return {"$dt": value.isoformat()}
    if isinstance(value, Mapping):
        return {str(k): encode_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode_value(v) for v in value]
    return value


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and "$dt" in value:
            return datetime.fromisoformat(value["$dt"])
        return {k: decode_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    return value


def encode_result(result: Any) -> dict[str, Any]:
    if isinstance(result, ConfigurationResult):
        return {
            "config": {
                "entries": [list(e) for e in result.entries],
                "unknown_keys": list(result.unknown_keys),
                "rejected": [list(r) for r in result.rejected],
            }
        }
    if isinstance(result, ReportResult):
        return {"report": [result.status, result.request_id]}
    return {"ok": encode_value(result)}


def decode_result(message: Mapping[str, Any]) -> Any:
    if "config" in message:
        c = message["config"]
        return ConfigurationResult(
            tuple(ConfigurationEntry(*e) for e in c["entries"]),
            tuple(c["unknown_keys"]),
            tuple((k, r) for k, r in c["rejected"]),
        )
    if "report" in message:
        status, request_id = message["report"]
        return ReportResult(status, request_id)
    return decode_value(message["ok"])


def encode_error(  # noqa: PLR0911 - one return per kind of error
    error: BaseException, station_id: str, method: str
) -> dict[str, Any]:
    """An error raised by a command, as the asking process will raise it again."""
    if isinstance(error, StationNotConnected):
        return {"error": "not_connected"}
    if isinstance(error, CommandTimeout):
        return {"error": "timeout", "action": error.action, "timeout_s": error.timeout_s}
    if isinstance(error, StationCallError):
        kind = "protocol_error" if isinstance(error, StationProtocolError) else "call_error"
        return {
            "error": kind,
            "action": error.action,
            "code": error.code,
            "description": error.description,
            "details": encode_value(error.details),
        }
    if isinstance(error, InvalidInput):
        return {
            "error": "invalid",
            "issues": [
                {"message": i.message, "line": i.line, "column": i.column, "field": i.field}
                for i in error.issues
            ],
        }
    if isinstance(error, NotFound):
        return {"error": "not_found", "kind": error.kind, "key": error.key}
    if isinstance(error, Conflict):
        return {"error": "conflict", "message": str(error)}
    return {"error": "internal", "message": f"{type(error).__name__}: {error}"}


def decode_error(  # noqa: PLR0911 - one return per kind of error
    message: Mapping[str, Any], station_id: str, method: str
) -> EvchargeError:
    kind = message["error"]
    if kind == "not_connected":
        return StationNotConnected(station_id)
    if kind == "timeout":
        return CommandTimeout(station_id, message["action"], float(message["timeout_s"]))
    if kind in ("call_error", "protocol_error"):
        cls = StationProtocolError if kind == "protocol_error" else StationCallError
        return cls(
            station_id,
            message["action"],
            message["code"],
            message["description"],
            decode_value(message.get("details") or {}),
        )
    if kind == "invalid":
        return InvalidInput([Issue(**i) for i in message["issues"]])
    if kind == "not_found":
        return NotFound(message["kind"], message["key"])
    if kind == "conflict":
        return Conflict(message["message"])
    return StationCallError(station_id, method, "InternalError", str(message.get("message", "")))


def encode_event(event: Event) -> dict[str, Any]:
    fields: dict[str, Any] = _converter.unstructure(event)
    return {"type": type(event).__name__, "fields": fields}


def decode_event(message: Mapping[str, Any]) -> Event | None:
    """The event, or ``None`` for a type this version does not know (a newer process)."""
    cls = _EVENT_TYPES.get(message.get("type", ""))
    if cls is None:
        return None
    event: Event = _converter.structure(message["fields"], cls)
    return event

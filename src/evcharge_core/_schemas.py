"""OCPP JSON schemas, whatever the version: a :class:`SchemaSet` loads the schemas the
``ocpp`` package ships for one OCPP version, compiles each once (lazily, with
fastjsonschema) and maps a payload's first failure to the CallError code that version's
OCPP-J names.

=============================  =============================================================
schema rule broken             CallError code
=============================  =============================================================
``type``                       ``TypeConstraintViolation``
``required``,                  ``OccurenceConstraintViolation`` (OCPP-J 1.6 spells it so),
``additionalProperties``,      ``OccurrenceConstraintViolation`` (OCPP-J 2.0.1)
``minItems``, ``maxItems``
anything else (``enum``,       ``PropertyConstraintViolation``
``maxLength``, ``format``...)
=============================  =============================================================

Beyond the schemas, every integer must fit 32 bits (OCPP-J's ``integer``) and every string
must be Unicode text (no unpaired surrogate escape): both ``PropertyConstraintViolation``.
fastjsonschema stops at the first failure, so one violation is reported per payload.
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
    "PROPERTY_CONSTRAINT",
    "TYPE_CONSTRAINT",
    "Kind",
    "SchemaSet",
    "Violation",
    "clean",
    "locate",
]

_INT32: Final = (-(2**31), 2**31 - 1)

TYPE_CONSTRAINT: Final = "TypeConstraintViolation"
PROPERTY_CONSTRAINT: Final = "PropertyConstraintViolation"
_OCCURRENCE_RULES: Final = frozenset({"required", "additionalProperties", "minItems", "maxItems"})


class Kind(enum.Enum):
    """Which of an action's two schemas."""

    REQUEST = "request"
    RESPONSE = "response"


@attrs.frozen
class Violation:
    """Why a payload breaks its schema: the CallError ``code``, a ``description`` fit to
    send, and the ``field`` (``meterValue[0].timestamp``; ``None``: the payload itself)."""

    code: str
    description: str
    field: str | None = None

    def details(self) -> dict[str, Any]:
        """The CallError's errorDetails."""
        return {} if self.field is None else {"field": self.field}


Validator = Callable[[Any], Any]


def _path(name: str) -> str | None:
    """``data.meterValue[0].value`` -> ``meterValue[0].value``; ``data`` -> ``None``."""
    if name == "data":
        return None
    return name.removeprefix("data.") if name.startswith("data.") else name


def _join(path: str | None, key: str) -> str:
    return key if path is None else f"{path}.{key}"


def _scalar_check(value: Any, path: str | None) -> Violation | None:
    where = path or "payload"
    if isinstance(value, int) and not isinstance(value, bool):
        if not _INT32[0] <= value <= _INT32[1]:
            return Violation(PROPERTY_CONSTRAINT, f"{where} does not fit a 32-bit integer", path)
    elif isinstance(value, str) and any("\ud800" <= c <= "\udfff" for c in value):
        return Violation(PROPERTY_CONSTRAINT, f"{where} is not Unicode text", path)
    return None


def clean(value: Any) -> bool:
    """Whether every integer in ``value`` fits 32 bits and every string is Unicode text (no
    surrogate, which UTF-8 cannot encode): the fast pass over a payload, which finds nothing
    wrong in nearly every payload; :func:`locate` then says where what it found is."""
    if isinstance(value, str):
        return value.isascii() or _encodable(value)
    if isinstance(value, dict):
        return all(map(clean, value.values()))
    if isinstance(value, list):
        return all(map(clean, value))
    if isinstance(value, int) and not isinstance(value, bool):
        return _INT32[0] <= value <= _INT32[1]
    return True


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def locate(value: Any, path: str | None) -> Violation | None:
    """The first integer beyond 32 bits or string that is not Unicode text in ``value``,
    located under ``path``; ``None`` if there is none."""
    items: Iterable[tuple[str, Any]]
    if isinstance(value, dict):
        items = ((_join(path, str(k)), v) for k, v in value.items())
    elif isinstance(value, list):
        items = ((f"{path or ''}[{i}]", v) for i, v in enumerate(value))
    else:
        return _scalar_check(value, path)
    for where, item in items:
        found = locate(item, where)
        if found is not None:
            return found
    return None


class SchemaSet:
    """The request and response schemas of one OCPP version.

    ``package`` is the ``ocpp`` subpackage holding them (``ocpp.v16``, ``ocpp.v201``);
    ``version`` names the version in messages; ``station_actions`` and ``csms_actions`` are
    the CALLs each side sends; ``occurrence_code`` is the version's spelling of
    OccurrenceConstraintViolation; ``response_suffix`` and ``request_suffix`` how the
    package names the files (``Authorize.json`` and ``AuthorizeResponse.json`` for 1.6,
    ``AuthorizeRequest.json`` and ``AuthorizeResponse.json`` for 2.0.1).
    """

    def __init__(
        self,
        *,
        package: str,
        version: str,
        station_actions: frozenset[str],
        csms_actions: frozenset[str],
        occurrence_code: str,
        request_suffix: str = "",
    ) -> None:
        self.package = package
        self.version = version
        self.station_actions = station_actions
        self.csms_actions = csms_actions
        self.occurrence_code = occurrence_code
        self.request_suffix = request_suffix
        self._compiled: dict[tuple[str, Kind], Validator] = {}

    def schema(self, action: str, kind: Kind) -> dict[str, Any]:
        """The JSON schema of ``action``'s request or response, as the ``ocpp`` package
        ships it. Raises :class:`KeyError` for an action the version does not define."""
        if action not in self.station_actions and action not in self.csms_actions:
            raise KeyError(action)
        suffix = "Response" if kind is Kind.RESPONSE else self.request_suffix
        folder = resources.files(self.package).joinpath("schemas")
        text = folder.joinpath(f"{action}{suffix}.json").read_text(encoding="utf-8")
        loaded: dict[str, Any] = json.loads(text)
        return loaded

    def _validator(self, action: str, kind: Kind) -> Validator:
        key = (action, kind)
        compiled = self._compiled.get(key)
        if compiled is None:
            # use_default=False: a payload is checked, never filled in with defaults.
            compiled = fastjsonschema.compile(self.schema(action, kind), use_default=False)
            self._compiled[key] = compiled
        return compiled

    def _code(self, rule: str) -> str:
        if rule == "type":
            return TYPE_CONSTRAINT
        if rule in _OCCURRENCE_RULES:
            return self.occurrence_code
        return PROPERTY_CONSTRAINT

    def _from_exception(self, error: fastjsonschema.JsonSchemaValueException) -> Violation:
        path = _path(error.name or "data")
        rule = error.rule or ""
        code = self._code(rule)
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
                return Violation(
                    code, f"{shown} is not a property OCPP {self.version} defines here", shown
                )
        message = str(error.message or "is invalid")
        if message.startswith(error.name or "data"):
            message = message[len(error.name or "data") :].lstrip()
        return Violation(code, f"{path or 'payload'} {message}"[:300], path)

    def validate(self, action: str, kind: Kind, payload: Mapping[str, Any]) -> Violation | None:
        """Check ``payload`` against ``action``'s ``kind`` schema; ``None`` if it is valid.
        Raises :class:`KeyError` for an action the version does not define."""
        check = self._validator(action, kind)
        try:
            check(payload)
        except fastjsonschema.JsonSchemaValueException as error:
            return self._from_exception(error)
        if clean(payload):
            return None
        return locate(payload, None)

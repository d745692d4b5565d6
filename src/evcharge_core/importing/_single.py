"""The single-station import: one station as a JSON object, checked like a CSV file.

The object (``docs/csv-format.md`` shows an example)::

    {
      "station_id": "ST1010101",            required, 1 to 48 of A-Z a-z 0-9 . _ - * = + | @
      "security_code": "K7P2-9QXM",         required, at most 255 characters
      "manufacturer": "Alfen",              required, at most 255 characters
      "article_number": "NG920-61001",      optional (absent, null or "")
      "serial_number": "ACE0012345",        optional; at most 255 characters, no whitespace
      "connectivity": {"wifi": true, "gsm": false},          JSON booleans, at least one true
      "connector_specifications": [                          at least one, in connector ID order
        {"standard": "Type 2", "format": "Socket", "power_type": "Three-phase AC",
         "voltage": 230, "amperage": 32}
      ]
    }

The values follow the CSV rules exactly (the same parsers and bounds, surrounding whitespace
removed from strings); JSON brings its own types: booleans are ``true``/``false``, voltage
and amperage are integers (``230``, not ``230.0`` or ``"230"``). An unknown field, at any
level, is an error. Errors and warnings are located by ``field``, a dotted path with 0-based
list indexes: ``connector_specifications[1].voltage``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Final, TypeVar

from ..domain.activation import normalize_security_code
from ..domain.model import Connectivity, ConnectorSpec
from ..domain.power import line_to_line_warning
from ..domain.values import (
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
    parse_connector_format,
    parse_connector_standard,
    parse_power_type,
)
from ..errors import Issue
from ._records import (
    AMPERAGE,
    CONNECTIVITY_MESSAGE,
    FORMAT_EXPECTED,
    POWER_TYPE_EXPECTED,
    STANDARD_EXPECTED,
    VOLTAGE,
    Bad,
    ImportBatch,
    StationImport,
    check_optional_text,
    check_serial_number,
    check_station_id,
    check_text,
    decode_utf8,
    guarded,
    json_type,
)

__all__ = ["SINGLE_FIELDS", "SPEC_FIELDS", "parse_single", "parse_single_json"]

T = TypeVar("T")

SINGLE_FIELDS: Final = (
    "station_id",
    "security_code",
    "manufacturer",
    "article_number",
    "serial_number",
    "connectivity",
    "connector_specifications",
)
"""The fields of a single-station import object."""

SPEC_FIELDS: Final = ("standard", "format", "power_type", "voltage", "amperage")
"""The fields of each connector specification."""

_CONNECTIVITY_FIELDS: Final = ("wifi", "gsm")
_ABSENT: Final = object()

_CHECK_STANDARD: Final = guarded(
    parse_connector_standard, f"connector type is missing; {STANDARD_EXPECTED}"
)
_CHECK_FORMAT: Final = guarded(parse_connector_format, f"format is missing; {FORMAT_EXPECTED}")
_CHECK_POWER_TYPE: Final = guarded(
    parse_power_type, f"power type is missing; {POWER_TYPE_EXPECTED}"
)


def parse_single_json(data: bytes | str) -> ImportBatch:
    """Decode a single-station import document and check it with :func:`parse_single`.

    Bytes must be UTF-8 (a BOM is allowed). A JSON syntax error is one error located by
    ``line``, with the column in the message.
    """
    text = decode_utf8(data)
    if isinstance(text, Issue):
        return ImportBatch(errors=(text,))
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as error:
        what = error.msg[:1].lower() + error.msg[1:]
        message = f"invalid JSON at column {error.colno}: {what}"
        return ImportBatch(errors=(Issue(message, line=error.lineno),))
    except (ValueError, RecursionError) as error:  # huge integers, absurd nesting
        return ImportBatch(errors=(Issue(f"invalid JSON: {error}"),))
    return parse_single(obj)


def parse_single(obj: object) -> ImportBatch:
    """Check a decoded single-station import object (see the module docstring).

    Returns a batch with the one station when there is no error, otherwise every error
    found, each located by ``field``. Nothing raises for bad input.
    """
    if not isinstance(obj, Mapping):
        message = f"expected a JSON object with the station's fields, not {json_type(obj)}"
        return ImportBatch(errors=(Issue(message),))
    errors: list[Issue] = []
    warnings: list[Issue] = []

    def text(name: str, check: Callable[[str], T | Bad], *, required: bool = True) -> T | None:
        value = obj.get(name, _ABSENT)
        if value is _ABSENT or value is None:
            if not required:
                return None
            value = ""  # the check's "missing" message
        if not isinstance(value, str):
            errors.append(Issue(f"must be a string, not {json_type(value)}", field=name))
            return None
        result = check(value.strip())
        if isinstance(result, Bad):
            errors.append(Issue(result.message, field=name))
            return None
        return result

    station_id = text("station_id", check_station_id)
    code = text("security_code", lambda t: check_text(normalize_security_code(t), "security code"))
    manufacturer = text("manufacturer", lambda t: check_text(t, "manufacturer"))
    article = text(
        "article_number", lambda t: check_optional_text(t, "article number"), required=False
    )
    serial = text("serial_number", check_serial_number, required=False)
    connectivity = _connectivity(obj.get("connectivity", _ABSENT), errors)
    specs = _specifications(obj.get("connector_specifications", _ABSENT), errors, warnings)
    errors.extend(
        Issue(f"unknown field; the fields are {', '.join(SINGLE_FIELDS)}", field=str(key))
        for key in obj
        if key not in SINGLE_FIELDS
    )
    if errors:
        return ImportBatch(errors=tuple(errors), warnings=tuple(warnings))
    assert station_id is not None
    assert code is not None
    assert manufacturer is not None
    assert connectivity is not None
    station = StationImport(
        station_id, code, manufacturer, article, serial, connectivity, specs, None
    )
    return ImportBatch(stations=(station,), warnings=tuple(warnings))


def _unknown(obj: Mapping[object, object], known: tuple[str, ...], path: str) -> list[Issue]:
    return [
        Issue(f"unknown field; the fields are {', '.join(known)}", field=f"{path}.{key}")
        for key in obj
        if key not in known
    ]


def _connectivity(value: object, errors: list[Issue]) -> Connectivity | None:
    """``{"wifi": bool, "gsm": bool}`` with at least one true."""
    field = "connectivity"
    if value is _ABSENT or value is None:
        message = 'connectivity is missing; expected {"wifi": true/false, "gsm": true/false}'
        errors.append(Issue(message, field=field))
        return None
    if not isinstance(value, Mapping):
        message = f'must be an object {{"wifi": ..., "gsm": ...}}, not {json_type(value)}'
        errors.append(Issue(message, field=field))
        return None
    flags: list[bool] = []
    for name in _CONNECTIVITY_FIELDS:
        flag = value.get(name, _ABSENT)
        if isinstance(flag, bool):
            flags.append(flag)
        elif flag is _ABSENT or flag is None:
            errors.append(
                Issue("value is missing; expected true or false", field=f"{field}.{name}")
            )
        else:
            message = f"must be true or false, not {json_type(flag)}"
            errors.append(Issue(message, field=f"{field}.{name}"))
    errors.extend(_unknown(value, _CONNECTIVITY_FIELDS, field))
    if len(flags) < len(_CONNECTIVITY_FIELDS):
        return None
    wifi, gsm = flags
    if not (wifi or gsm):
        errors.append(Issue(CONNECTIVITY_MESSAGE, field=field))
        return None
    return Connectivity(wifi, gsm)


def _specifications(
    value: object, errors: list[Issue], warnings: list[Issue]
) -> tuple[ConnectorSpec, ...]:
    """The list of connector specifications, at least one, each checked."""
    field = "connector_specifications"
    if value is _ABSENT or value is None:
        message = "connector specifications are missing; expected a list of at least one"
        errors.append(Issue(message, field=field))
        return ()
    if not isinstance(value, list):
        message = f"must be a list of connector specifications, not {json_type(value)}"
        errors.append(Issue(message, field=field))
        return ()
    if not value:
        errors.append(Issue("at least one connector specification is required", field=field))
        return ()
    specs: list[ConnectorSpec] = []
    for index, item in enumerate(value):
        spec = _specification(item, f"{field}[{index}]", errors, warnings)
        if spec is not None:
            specs.append(spec)
    return tuple(specs)


def _specification(
    item: object, path: str, errors: list[Issue], warnings: list[Issue]
) -> ConnectorSpec | None:
    """One ``{"standard", "format", "power_type", "voltage", "amperage"}`` object."""
    if not isinstance(item, Mapping):
        message = f"must be an object with {', '.join(SPEC_FIELDS)}, not {json_type(item)}"
        errors.append(Issue(message, field=path))
        return None
    found = len(errors)

    def enum(name: str, check: Callable[[str], T | Bad]) -> T | None:
        value = item.get(name, _ABSENT)
        if value is _ABSENT or value is None:
            value = ""  # the parser's "missing" message
        if not isinstance(value, str):
            message = f"must be a string, not {json_type(value)}"
            errors.append(Issue(message, field=f"{path}.{name}"))
            return None
        result = check(value.strip())
        if isinstance(result, Bad):
            errors.append(Issue(result.message, field=f"{path}.{name}"))
            return None
        return result

    def number(name: str, check: Callable[[object], int | Bad]) -> int | None:
        value = item.get(name, _ABSENT)
        result = check(None if value is _ABSENT else value)
        if isinstance(result, Bad):
            errors.append(Issue(result.message, field=f"{path}.{name}"))
            return None
        return result

    standard = enum("standard", _CHECK_STANDARD)
    form = enum("format", _CHECK_FORMAT)
    power_type = enum("power_type", _CHECK_POWER_TYPE)
    voltage = number("voltage", VOLTAGE.check_json)
    amperage = number("amperage", AMPERAGE.check_json)
    errors.extend(_unknown(item, SPEC_FIELDS, path))
    if isinstance(power_type, PowerType) and voltage is not None:
        warning = line_to_line_warning(power_type, voltage)
        if warning is not None:
            warnings.append(Issue(warning, field=f"{path}.voltage"))
    if len(errors) > found:
        return None
    assert isinstance(standard, ConnectorStandard)
    assert isinstance(form, ConnectorFormat)
    assert isinstance(power_type, PowerType)
    assert voltage is not None
    assert amperage is not None
    return ConnectorSpec(standard, form, power_type, voltage, amperage)

"""The admin JSON wire format: station, charger, connector and area objects as CONTRACT.md
names them (snake_case), and the validation of create/update bodies.

Output adds what operators read but the model derives (statuses, ``max_power_w``, the
websocket URL) and leaves out what must never leave the process (security code and password
hashes). Input is validated field by field: every problem is collected as an
:class:`~evcharge_core.errors.Issue` naming its field, and unknown fields are errors (a typo
must not be silently ignored). The CLI and the admin HTTP API share this module.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cattrs
import cattrs.preconf.json

from .domain.credentials import parse_password
from .domain.model import (
    Area,
    BootConfiguration,
    Charger,
    Connectivity,
    Connector,
    ConnectorSpec,
    Station,
)
from .domain.profiles import ChargingProfile, format_start
from .domain.status import (
    charger_operational_status,
    charger_status,
    connector_effective_status,
    connector_operational_status,
    station_operational_status,
    station_status,
)
from .domain.values import (
    MAX_AMPERAGE,
    MAX_VOLTAGE,
    MIN_AMPERAGE,
    MIN_VOLTAGE,
    CurrentType,
    PhaseWiring,
    RegistrationStatus,
    parse_code,
    parse_connector_format,
    parse_connector_standard,
    parse_mac,
    parse_power_type,
    parse_protocol,
    parse_serial_number,
    parse_station_id,
)
from .errors import InvalidInput, Issue

__all__ = [
    "AREA_FIELDS",
    "CHARGER_FIELDS",
    "CONNECTOR_FIELDS",
    "STATION_FIELDS",
    "area_to_json",
    "charger_to_json",
    "connector_to_json",
    "iso_time",
    "make_converter",
    "parse_body",
    "profile_to_json",
    "station_to_json",
]


def iso_time(value: datetime | None) -> str | None:
    """An instant as the admin JSON writes it: ISO 8601 in UTC with ``Z``."""
    if value is None:
        return None
    text = value.astimezone(ZoneInfo("UTC")).isoformat()
    return text.replace("+00:00", "Z")


_iso = iso_time


def make_converter() -> cattrs.Converter:
    """The admin JSON converter for the model's small value objects (datetimes as ISO 8601
    UTC strings, enums as their values, frozensets as sorted lists)."""
    converter = cattrs.preconf.json.make_converter()
    converter.register_unstructure_hook(datetime, _iso)
    converter.register_unstructure_hook(frozenset, sorted)
    return converter


_CONVERTER = make_converter()


# --- output ----------------------------------------------------------------------------------


def connector_to_json(station: Station, charger: Charger, connector: Connector) -> dict[str, Any]:
    status = connector_effective_status(station, charger, connector)
    record = connector.status
    return {
        "id": connector.id,
        "ocpp_id": connector.ocpp_id,
        "code": connector.code,
        "name": connector.name,
        "standard": connector.standard.value,
        "format": connector.format.value,
        "power_type": connector.power_type.value,
        "voltage": connector.voltage,
        "amperage": connector.amperage,
        "wattage_limit": connector.wattage_limit,
        "power_factor": connector.power_factor,
        "max_power_w": connector.max_power_w,
        "status": status.value if status is not None else None,
        "status_timestamp": _iso(record.timestamp) if record is not None else None,
        "error_code": record.error_code if record is not None else None,
        "operational_status": connector_operational_status(station, charger, connector).value,
        "closed": connector.closed,
        "custom_fields": dict(connector.custom_fields),
        "phase": connector.phase.value,
    }


def charger_to_json(station: Station, charger: Charger) -> dict[str, Any]:
    status = charger_status(station, charger)
    return {
        "id": charger.id,
        "station_id": station.id,
        "code": charger.code,
        "name": charger.name,
        "physical_address": charger.physical_address,
        "reservable": charger.reservable,
        "roaming": charger.roaming,
        "current_type": charger.current_type.value,
        "charging_profile_id": charger.charging_profile_id,
        "custom_fields": dict(charger.custom_fields),
        "evse_id": charger.evse_id,
        "status": status.value if status is not None else None,
        "operational_status": charger_operational_status(station, charger).value,
        "closed": charger.closed,
        "connectors": [connector_to_json(station, charger, c) for c in charger.connectors],
    }


def _spec_to_json(spec: ConnectorSpec) -> dict[str, Any]:
    out: dict[str, Any] = _CONVERTER.unstructure(spec)
    out["max_power_w"] = spec.max_power_w
    return out


def station_to_json(station: Station, *, websocket_base_url: str) -> dict[str, Any]:
    """The station JSON of CONTRACT.md. ``websocket_base_url`` ends with ``/``."""
    status = station_status(station)
    connection = station.connection
    return {
        "id": station.id,
        "name": station.name,
        "code": station.code,
        "visible": station.visible,
        "physical_address": station.physical_address,
        "protocol": station.protocol.value if station.protocol is not None else None,
        "area_id": station.area_id,
        "boot_configuration": _CONVERTER.unstructure(station.boot_configuration),
        "manufacturer": station.manufacturer,
        "article_number": station.article_number,
        "serial_number": station.serial_number,
        "connectivity": (
            _CONVERTER.unstructure(station.connectivity) if station.connectivity else None
        ),
        "activation": {
            "state": station.activation.state.value,
            "activated_at": _iso(station.activation.activated_at),
        },
        "reported": _CONVERTER.unstructure(station.reported),
        "connection": {
            "connected": connection.connected,
            "connected_since": _iso(connection.connected_since),
            "last_seen": _iso(connection.last_seen),
            "subprotocol": connection.subprotocol.value if connection.subprotocol else None,
        },
        "security_profile": station.security_profile,
        "has_password": station.password_hash is not None,
        "registration_status": station.registration_status.value,
        "operational_status": station_operational_status(station).value,
        "status": status.value if status is not None else None,
        "closed": station.closed,
        "websocket_url": f"{websocket_base_url}{station.id}",
        "connector_specifications": [_spec_to_json(s) for s in station.connector_specifications],
        "chargers": [charger_to_json(station, c) for c in station.chargers],
    }


def area_to_json(area: Area) -> dict[str, Any]:
    out: dict[str, Any] = _CONVERTER.unstructure(area)
    # The generic frozenset[str] is not dispatched to the frozenset hook: sort it here, so
    # that the private group reads the same every time.
    out["private_group"] = sorted(area.private_group)
    return out


def profile_to_json(profile: ChargingProfile) -> dict[str, Any]:
    """A charging profile in the form :func:`~evcharge_core.domain.profiles.parse_profile`
    reads (plus its ``id``): starts as ``"07:00"`` or ``"Mon 07:00"``, ``number_phases``
    only where a period says it."""
    periods: list[dict[str, Any]] = []
    for period in profile.periods:
        item: dict[str, Any] = {
            "start": format_start(profile.recurrence, period.start_s),
            "limit": period.limit,
        }
        if period.number_phases is not None:
            item["number_phases"] = period.number_phases
        periods.append(item)
    return {
        "id": profile.id,
        "name": profile.name,
        "unit": profile.unit.value,
        "recurrence": profile.recurrence.value.lower(),
        "periods": periods,
    }


# --- input -----------------------------------------------------------------------------------

Parser = Callable[[object], object]


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"expected a string, got {_kind(value)}")
    return value


def _nonempty(value: object) -> str:
    text = _text(value).strip()
    if not text:
        raise ValueError("must not be empty")
    return text


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"expected true or false, got {_kind(value)}")
    return value


def _int(low: int, high: int) -> Parser:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a whole number, got {_kind(value)}")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"expected a whole number, got {value}")
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"must be between {low} and {high}, got {number}")
        return number

    return parse


def _float(low: float, high: float) -> Parser:
    def parse(value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {_kind(value)}")
        number = float(value)
        if not (math.isfinite(number) and low <= number <= high):
            raise ValueError(f"must be between {low:g} and {high:g}, got {value}")
        return number

    return parse


def _optional(parser: Parser) -> Parser:
    def parse(value: object) -> object:
        return None if value is None else parser(value)

    return parse


def _via(parse_text: Callable[[str], object]) -> Parser:
    def parse(value: object) -> object:
        return parse_text(_text(value))

    return parse


def _custom_fields(value: object) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError("expected an object of string keys to string values")
    return dict(value)


def _string_set(value: object) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ValueError("expected a list of non-empty strings")
    return frozenset(value)


def _time_zone(value: object) -> str:
    name = _text(value)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {name!r} (use an IANA name such as Europe/Oslo)"
        ) from None
    return name


def _struct(cls: type[Any], fields: Mapping[str, Parser]) -> Parser:
    def parse(value: object) -> object:
        values = _parse_object(value, fields, required=frozenset(fields))
        return cls(**values)

    return parse


def _enum(enum_cls: type[Any]) -> Parser:
    def parse(value: object) -> object:
        text = _text(value)
        try:
            return enum_cls(text)
        except ValueError:
            allowed = ", ".join(m.value for m in enum_cls)
            raise ValueError(f"unknown value {text!r} (use one of {allowed})") from None

    return parse


class _Issues(Exception):
    """Internal carrier of nested issues; never escapes this module."""

    def __init__(self, issues: list[Issue]) -> None:
        self.issues = issues


def _parse_object(
    obj: object, fields: Mapping[str, Parser], *, required: frozenset[str], prefix: str = ""
) -> dict[str, Any]:
    if not isinstance(obj, dict):
        raise _Issues([Issue(f"expected an object, got {_kind(obj)}", field=prefix or None)])
    issues = [Issue("unknown field", field=f"{prefix}{name}") for name in obj if name not in fields]
    issues.extend(
        Issue("is required", field=f"{prefix}{name}") for name in sorted(required - obj.keys())
    )
    values: dict[str, Any] = {}
    for name, raw in obj.items():
        parser = fields.get(name)
        if parser is None:
            continue
        try:
            values[name] = parser(raw)
        except _Issues as nested:
            issues.extend(
                Issue(i.message, field=f"{prefix}{name}.{i.field}" if i.field else name)
                for i in nested.issues
            )
        except (ValueError, TypeError) as exc:
            issues.append(Issue(str(exc), field=f"{prefix}{name}"))
    if issues:
        raise _Issues(issues)
    return values


def parse_body(
    obj: object, fields: Mapping[str, Parser], *, required: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """Validate a create or update body against a field table; raise
    :class:`~evcharge_core.errors.InvalidInput` listing every problem by field."""
    try:
        return _parse_object(obj, fields, required=required)
    except _Issues as exc:
        raise InvalidInput(exc.issues) from None


_BOOT_FIELDS: dict[str, Parser] = {
    "trigger_boot_notification": _bool,
    "trigger_status_notification": _bool,
    "trigger_heartbeat": _bool,
    "clear_charging_profiles": _bool,
}
_CONNECTIVITY_FIELDS: dict[str, Parser] = {"wifi": _bool, "gsm": _bool}


def _boot_configuration(value: object) -> BootConfiguration:
    return BootConfiguration(**_parse_object(value, _BOOT_FIELDS, required=frozenset()))


STATION_FIELDS: Mapping[str, Parser] = {
    "id": _via(parse_station_id),
    "name": _nonempty,
    "code": _via(parse_code),
    "visible": _bool,
    "physical_address": _optional(_via(parse_mac)),
    "protocol": _optional(_via(parse_protocol)),
    "area_id": _optional(_nonempty),
    "boot_configuration": _boot_configuration,
    "security_profile": _int(0, 3),
    "password": _optional(_via(parse_password)),
    "registration_status": _enum(RegistrationStatus),
    "closed": _bool,
    "manufacturer": _optional(_nonempty),
    "article_number": _optional(_nonempty),
    "serial_number": _optional(_via(parse_serial_number)),
    "connectivity": _optional(_struct(Connectivity, _CONNECTIVITY_FIELDS)),
}
"""Fields of ``POST /api/stations`` (``id`` required) and ``PATCH`` (``id`` not allowed).
``boot_configuration`` may be partial on PATCH: the flags given are changed."""

CHARGER_FIELDS: Mapping[str, Parser] = {
    "name": _nonempty,
    "code": _via(parse_code),
    "evse_id": _int(1, 2**31 - 1),
    "physical_address": _optional(_via(parse_mac)),
    "reservable": _bool,
    "roaming": _bool,
    "current_type": _enum(CurrentType),
    "charging_profile_id": _optional(_nonempty),
    "custom_fields": _custom_fields,
    "closed": _bool,
}

CONNECTOR_FIELDS: Mapping[str, Parser] = {
    "ocpp_id": _int(1, 2**31 - 1),
    "code": _via(parse_code),
    "name": _nonempty,
    "standard": _via(parse_connector_standard),
    "format": _via(parse_connector_format),
    "power_type": _via(parse_power_type),
    "voltage": _int(MIN_VOLTAGE, MAX_VOLTAGE),
    "amperage": _int(MIN_AMPERAGE, MAX_AMPERAGE),
    "wattage_limit": _optional(_int(1, 10_000_000)),
    "power_factor": _float(0.0, 1.0),
    "custom_fields": _custom_fields,
    "closed": _bool,
    "phase": _enum(PhaseWiring),
}

AREA_FIELDS: Mapping[str, Parser] = {
    "id": _via(parse_code),
    "name": _nonempty,
    "latitude": _float(-90.0, 90.0),
    "longitude": _float(-180.0, 180.0),
    "address": _optional(_nonempty),
    "output_limit_a": _optional(_int(1, 100_000)),
    "output_limit_w": _optional(_int(1, 100_000_000)),
    "private_group": _string_set,
    "time_zone": _time_zone,
    "phase_voltage": _int(MIN_VOLTAGE, MAX_VOLTAGE),
}

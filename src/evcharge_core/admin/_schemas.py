"""JSON Schemas (draft 2020-12, as OpenAPI 3.1 uses) of the admin API's bodies.

The output schemas describe :mod:`evcharge_core.admin_json`'s objects; the input schemas
its field tables (``STATION_FIELDS``...). Tests compare both with the real objects and
tables, so a field added on one side and not the other fails a test instead of drifting.
Output schemas list every property as required but allow additional ones: clients should
ignore fields they do not know, as CONTRACT.md lets the API add them.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from typing import Any, Final

import attrs

from ..domain.model import ReportedInfo
from ..domain.profiles import MAX_LIMIT, MAX_PERIODS
from ..domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    CurrentType,
    OperationalStatus,
    PhaseWiring,
    PowerType,
    Protocol,
    RegistrationStatus,
)

__all__ = ["SCHEMAS", "nullable", "ref"]

Schema = dict[str, Any]


def ref(name: str) -> Schema:
    """A reference to ``#/components/schemas/{name}``."""
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: Mapping[str, Any]) -> Schema:
    """``schema`` or ``null``."""
    if "type" in schema and "enum" not in schema:
        kind = schema["type"]
        kinds = kind if isinstance(kind, list) else [kind]
        return {**schema, "type": [*kinds, "null"]}
    return {"anyOf": [dict(schema), {"type": "null"}]}


def _enum(members: type[enum.Enum], description: str = "") -> Schema:
    schema: Schema = {"type": "string", "enum": [m.value for m in members]}
    if description:
        schema["description"] = description
    return schema


def _object(
    properties: Mapping[str, Schema],
    *,
    description: str = "",
    required: Iterable[str] | None = None,
    closed: bool = False,
) -> Schema:
    schema: Schema = {"type": "object", "properties": dict(properties)}
    names = list(properties) if required is None else list(required)
    if names:
        schema["required"] = names
    if closed:
        schema["additionalProperties"] = False
    if description:
        schema["description"] = description
    return schema


STRING: Final[Schema] = {"type": "string"}
TEXT: Final[Schema] = {"type": "string", "minLength": 1}
BOOLEAN: Final[Schema] = {"type": "boolean"}
INTEGER: Final[Schema] = {"type": "integer"}
NUMBER: Final[Schema] = {"type": "number"}
TIMESTAMP: Final[Schema] = {"type": "string", "format": "date-time"}
CUSTOM_FIELDS: Final[Schema] = {
    "type": "object",
    "additionalProperties": {"type": "string"},
    "description": "Free-form string fields kept for the operator.",
}
MAC: Final[Schema] = {
    "type": "string",
    "description": "MAC address, stored as AA:BB:CC:DD:EE:FF (other separators accepted).",
}
STATION_ID: Final[Schema] = {
    "type": "string",
    "pattern": r"^[A-Za-z0-9._\-*=+|@]{1,48}$",
    "description": "The station's OCPP identity (1 to 48 of A-Z a-z 0-9 . _ - * = + | @).",
}
CODE: Final[Schema] = {
    "type": "string",
    "minLength": 1,
    "description": "An operator-facing code, unique among its kind.",
}

_STATUS = nullable(_enum(ConnectorStatus))
_OPERATIONAL = _enum(OperationalStatus)

_ISSUE = _object(
    {
        "message": STRING,
        "line": nullable({**INTEGER, "minimum": 1}),
        "column": nullable(STRING),
        "field": nullable(STRING),
        "detail": STRING,
    },
    description=(
        "One located problem: ``line`` (1-based, the CSV header is line 1) and ``column`` "
        "(the header's name) for CSV input, ``field`` (dotted) for JSON input; ``detail`` "
        "renders the location and message as one line."
    ),
)

_PROBLEM = _object(
    {
        "type": {"type": "string", "format": "uri"},
        "title": STRING,
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": STRING,
        "errors": {"type": "array", "items": ref("Issue")},
        "error_count": {"type": "integer", "minimum": 0},
        "warnings": {"type": "array", "items": ref("Issue")},
        "line": INTEGER,
        "column": INTEGER,
        "retry_after_s": NUMBER,
        "code": STRING,
        "description": STRING,
    },
    required=["type", "title", "status", "detail"],
    description=(
        "RFC 9457 problem details. ``errors`` lists located problems where there are "
        "several; imports add ``error_count`` (all errors; ``errors`` holds the first 100) "
        "and ``warnings``; a malformed JSON body adds ``line`` and ``column``; a throttled "
        "activation adds ``retry_after_s``; a station's CallError (502) adds its ``code`` "
        "and ``description``."
    ),
)

_CONNECTOR = _object(
    {
        "id": STRING,
        "ocpp_id": {**INTEGER, "minimum": 1},
        "code": CODE,
        "name": STRING,
        "standard": _enum(ConnectorStandard),
        "format": _enum(ConnectorFormat),
        "power_type": _enum(PowerType),
        "voltage": {**INTEGER, "description": "Phase (line-to-neutral) voltage, V."},
        "amperage": {**INTEGER, "description": "Per-phase current, A."},
        "wattage_limit": nullable(INTEGER),
        "power_factor": {**NUMBER, "minimum": 0, "maximum": 1},
        "max_power_w": {**INTEGER, "description": "Derived maximum power, W."},
        "status": _STATUS,
        "status_timestamp": nullable(TIMESTAMP),
        "error_code": nullable(STRING),
        "operational_status": _OPERATIONAL,
        "closed": BOOLEAN,
        "custom_fields": CUSTOM_FIELDS,
        "phase": _enum(PhaseWiring, "The supply phase a single-phase AC connector is wired to."),
    },
    description="A connector (OCPP connector ID ``ocpp_id``).",
)

_CHARGER = _object(
    {
        "id": STRING,
        "station_id": STATION_ID,
        "code": CODE,
        "name": STRING,
        "physical_address": nullable(MAC),
        "reservable": BOOLEAN,
        "roaming": BOOLEAN,
        "current_type": _enum(CurrentType),
        "charging_profile_id": nullable(STRING),
        "custom_fields": CUSTOM_FIELDS,
        "evse_id": {**INTEGER, "minimum": 1},
        "status": _STATUS,
        "operational_status": _OPERATIONAL,
        "closed": BOOLEAN,
        "connectors": {"type": "array", "items": ref("Connector")},
    },
    description="A charger (an EVSE of its station) with its connectors.",
)

_CONNECTOR_SPECIFICATION = _object(
    {
        "standard": _enum(ConnectorStandard),
        "format": _enum(ConnectorFormat),
        "power_type": _enum(PowerType),
        "voltage": INTEGER,
        "amperage": INTEGER,
        "max_power_w": INTEGER,
    },
    description="An imported connector specification, mapped to connectors by OCPP ID.",
)

_BOOT_CONFIGURATION_FIELDS: Final = (
    "trigger_boot_notification",
    "trigger_status_notification",
    "trigger_heartbeat",
    "clear_charging_profiles",
)

_STATION = _object(
    {
        "id": STATION_ID,
        "name": STRING,
        "code": CODE,
        "visible": BOOLEAN,
        "physical_address": nullable(MAC),
        "protocol": nullable(_enum(Protocol)),
        "area_id": nullable(STRING),
        "boot_configuration": _object(dict.fromkeys(_BOOT_CONFIGURATION_FIELDS, BOOLEAN)),
        "manufacturer": nullable(STRING),
        "article_number": nullable(STRING),
        "serial_number": nullable(STRING),
        "connectivity": nullable(_object({"wifi": BOOLEAN, "gsm": BOOLEAN})),
        "activation": _object(
            {"state": _enum(ActivationState), "activated_at": nullable(TIMESTAMP)}
        ),
        "reported": _object(
            {f.name: nullable(STRING) for f in attrs.fields(ReportedInfo)},
            description="What the station reported about itself (BootNotification...).",
        ),
        "connection": _object(
            {
                "connected": BOOLEAN,
                "connected_since": nullable(TIMESTAMP),
                "last_seen": nullable(TIMESTAMP),
                "subprotocol": nullable(_enum(Protocol)),
            }
        ),
        "security_profile": {"type": "integer", "minimum": 0, "maximum": 3},
        "has_password": BOOLEAN,
        "registration_status": _enum(RegistrationStatus),
        "operational_status": _OPERATIONAL,
        "status": _STATUS,
        "closed": BOOLEAN,
        "websocket_url": {"type": "string", "format": "uri"},
        "connector_specifications": {"type": "array", "items": ref("ConnectorSpecification")},
        "chargers": {"type": "array", "items": ref("Charger")},
    },
    description="A station (CONTRACT.md's station JSON). Passwords and security codes never "
    "appear.",
)

_AREA = _object(
    {
        "id": STRING,
        "name": STRING,
        "latitude": {**NUMBER, "minimum": -90, "maximum": 90},
        "longitude": {**NUMBER, "minimum": -180, "maximum": 180},
        "address": nullable(STRING),
        "output_limit_a": nullable(INTEGER),
        "output_limit_w": nullable(INTEGER),
        "private_group": {"type": "array", "items": STRING, "description": "Driver IDs."},
        "time_zone": {**STRING, "description": "IANA time zone name."},
        "phase_voltage": {**INTEGER, "description": "Supply phase voltage, V (load balancing)."},
    },
    description="An area: a site with a location, shared limits and a private group.",
)

# --- inputs (the field tables of admin_json) -----------------------------------------------

_STATION_INPUT: Final[dict[str, Schema]] = {
    "id": STATION_ID,
    "name": TEXT,
    "code": CODE,
    "visible": BOOLEAN,
    "physical_address": nullable(MAC),
    "protocol": nullable(_enum(Protocol)),
    "area_id": nullable(TEXT),
    "boot_configuration": _object(
        dict.fromkeys(_BOOT_CONFIGURATION_FIELDS, BOOLEAN),
        required=[],
        closed=True,
        description="On PATCH, only the flags given change.",
    ),
    "security_profile": {"type": "integer", "minimum": 0, "maximum": 3},
    "password": nullable(
        {
            "type": "string",
            "minLength": 16,
            "maxLength": 40,
            "writeOnly": True,
            "description": "Write-only; null removes it.",
        }
    ),
    "registration_status": _enum(RegistrationStatus),
    "closed": BOOLEAN,
    "manufacturer": nullable(TEXT),
    "article_number": nullable(TEXT),
    "serial_number": nullable(TEXT),
    "connectivity": nullable(_object({"wifi": BOOLEAN, "gsm": BOOLEAN}, closed=True)),
}

_CHARGER_INPUT: Final[dict[str, Schema]] = {
    "name": TEXT,
    "code": CODE,
    "evse_id": {"type": "integer", "minimum": 1},
    "physical_address": nullable(MAC),
    "reservable": BOOLEAN,
    "roaming": BOOLEAN,
    "current_type": _enum(CurrentType),
    "charging_profile_id": nullable(TEXT),
    "custom_fields": CUSTOM_FIELDS,
    "closed": BOOLEAN,
}

_CONNECTOR_INPUT: Final[dict[str, Schema]] = {
    "ocpp_id": {"type": "integer", "minimum": 1},
    "code": CODE,
    "name": TEXT,
    "standard": STRING,
    "format": STRING,
    "power_type": STRING,
    "voltage": INTEGER,
    "amperage": INTEGER,
    "wattage_limit": nullable({"type": "integer", "minimum": 1}),
    "power_factor": {**NUMBER, "minimum": 0, "maximum": 1},
    "custom_fields": CUSTOM_FIELDS,
    "closed": BOOLEAN,
    "phase": _enum(PhaseWiring),
}

_AREA_INPUT: Final[dict[str, Schema]] = {
    "id": CODE,
    "name": TEXT,
    "latitude": {**NUMBER, "minimum": -90, "maximum": 90},
    "longitude": {**NUMBER, "minimum": -180, "maximum": 180},
    "address": nullable(TEXT),
    "output_limit_a": nullable({"type": "integer", "minimum": 1}),
    "output_limit_w": nullable({"type": "integer", "minimum": 1}),
    "private_group": {"type": "array", "items": TEXT},
    "time_zone": STRING,
    "phase_voltage": {"type": "integer", "minimum": 110, "maximum": 1000},
}


def _without(fields: Mapping[str, Schema], *names: str) -> dict[str, Schema]:
    return {k: v for k, v in fields.items() if k not in names}


_CONNECTOR_NUMBER: Final[Schema] = {
    "type": "integer",
    "minimum": 0,
    "description": "OCPP 1.6 connector ID (0: the whole station); for an OCPP 2.0.1 station "
    "the EVSE ID, or with evse_id the connector within that EVSE.",
}
_EVSE_NUMBER: Final[Schema] = {
    "type": "integer",
    "minimum": 0,
    "description": "OCPP 2.0.1 only: the EVSE; connector_id is then the connector within it.",
}
_ID_TAG: Final[Schema] = {
    "type": "string",
    "minLength": 1,
    "maxLength": 36,
    "description": "At most 20 characters for OCPP 1.6 stations, 36 for OCPP 2.0.1.",
}
_ID_TOKEN_STATUSES: Final = ["Accepted", "Blocked", "Expired", "Invalid"]
_ID_TOKEN_INPUT: Final[dict[str, Schema]] = {
    "id_token": {"type": "string", "minLength": 1, "maxLength": 36},
    "type": {"type": "string", "minLength": 1, "maxLength": 20, "description": "Default ISO14443."},
    "status": {"type": "string", "enum": _ID_TOKEN_STATUSES, "description": "Default Accepted."},
    "expiry_date": nullable({**TIMESTAMP, "description": "ISO 8601 with a time zone."}),
    "group_id": nullable({"type": "string", "minLength": 1, "maxLength": 36}),
}
_STATUS_ANSWER: Final[Schema] = _object(
    {"status": {**STRING, "description": "The station's answer (Accepted, Rejected...)."}}
)

COMMAND_SCHEMAS: Final[dict[str, Schema]] = {
    "CommandStatus": _STATUS_ANSWER,
    "Configuration": _object(
        {
            "configuration": {
                "type": "array",
                "items": _object(
                    {"key": STRING, "value": nullable(STRING), "readonly": nullable(BOOLEAN)}
                ),
            },
            "unknown_keys": {"type": "array", "items": STRING},
            "rejected": {
                "type": "array",
                "items": _object({"key": STRING, "status": STRING}),
                "description": "Keys the station would not read, with its reason (OCPP 2.0.1).",
            },
        },
        description="A live configuration read; readonly is null when the station did not "
        "say (an OCPP 2.0.1 station that reported no device model).",
    ),
    "ConfigurationWrite": _object({"value": STRING}, closed=True),
    "TriggerRequest": _object(
        {"message": TEXT, "connector_id": _CONNECTOR_NUMBER, "evse_id": _EVSE_NUMBER},
        required=["message"],
        closed=True,
    ),
    "ResetRequest": _object(
        {
            "type": {
                "type": "string",
                "enum": ["Soft", "Hard", "OnIdle", "Immediate"],
                "description": "OCPP 2.0.1 stations: Soft is OnIdle, Hard is Immediate.",
            },
            "evse_id": _EVSE_NUMBER,
        },
        required=["type"],
        closed=True,
    ),
    "RemoteStartRequest": _object(
        {
            "id_tag": _ID_TAG,
            "connector_id": {**_CONNECTOR_NUMBER, "minimum": 1},
            "evse_id": _EVSE_NUMBER,
            "qr_payload": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "description": "Instead of connector_id and evse_id: a scanned QR payload "
                "naming a charger (and connector) of this station.",
            },
            "charging_profile": {
                "type": "object",
                "description": "A chargingProfile (camelCase) as the station's protocol writes "
                "it, TxProfile.",
            },
        },
        required=["id_tag"],
        closed=True,
    ),
    "RemoteStopRequest": _object({"transaction_id": {"type": ["integer", "string"]}}, closed=True),
    "UnlockRequest": _object(
        {"connector_id": {**_CONNECTOR_NUMBER, "minimum": 1}, "evse_id": _EVSE_NUMBER},
        required=["connector_id"],
        closed=True,
    ),
    "AvailabilityRequest": _object(
        {
            "connector_id": _CONNECTOR_NUMBER,
            "evse_id": _EVSE_NUMBER,
            "type": {"type": "string", "enum": ["Operative", "Inoperative"]},
        },
        required=["connector_id", "type"],
        closed=True,
    ),
    "ReserveRequest": _object(
        {
            "connector_id": _CONNECTOR_NUMBER,
            "evse_id": _EVSE_NUMBER,
            "id_tag": _ID_TAG,
            "expiry_date": TIMESTAMP,
            "reservation_id": {"type": "integer", "minimum": 1},
            "parent_id_tag": _ID_TAG,
        },
        required=["connector_id", "id_tag", "expiry_date"],
        closed=True,
    ),
    "Reservation": _object(
        {"status": STRING, "reservation_id": INTEGER},
        description="The station's answer and the reservation's ID (to cancel it).",
    ),
    "CancelReservationRequest": _object({"reservation_id": INTEGER}, closed=True),
    "ChargingProfileRequest": _object(
        {
            "connector_id": _CONNECTOR_NUMBER,
            "evse_id": _EVSE_NUMBER,
            "profile": {
                "type": "object",
                "description": "The profile as the station's protocol writes it (OCPP 1.6: "
                "csChargingProfiles; OCPP 2.0.1: chargingProfile; camelCase).",
            },
        },
        required=["connector_id", "profile"],
        closed=True,
    ),
    "BaseReportRequest": _object(
        {
            "report_base": {
                "type": "string",
                "enum": ["ConfigurationInventory", "FullInventory", "SummaryInventory"],
                "description": "Default FullInventory.",
            }
        },
        closed=True,
    ),
    "BaseReport": _object(
        {"status": STRING, "request_id": INTEGER},
        description="The station's answer, and the request ID its NotifyReports carry.",
    ),
    "DeviceVariable": _object(
        {
            "key": {**STRING, "description": "The key text (Component[...].Variable[...])."},
            "component": STRING,
            "component_instance": nullable(STRING),
            "evse_id": nullable(INTEGER),
            "connector_id": nullable(INTEGER),
            "variable": STRING,
            "variable_instance": nullable(STRING),
            "attribute_type": {"type": "string", "enum": ["Actual", "Target", "MinSet", "MaxSet"]},
            "value": nullable(STRING),
            "mutability": nullable(STRING),
            "persistent": nullable(BOOLEAN),
            "constant": nullable(BOOLEAN),
            "data_type": nullable(STRING),
            "unit": nullable(STRING),
            "min_limit": nullable(NUMBER),
            "max_limit": nullable(NUMBER),
            "values_list": nullable(STRING),
            "supports_monitoring": nullable(BOOLEAN),
            "reported_at": TIMESTAMP,
        },
        description="One variable attribute of an OCPP 2.0.1 station's device model.",
    ),
    "DeviceModel": _object(
        {"variables": {"type": "array", "items": ref("DeviceVariable")}},
        description="What the station reported (NotifyReport), ordered by key.",
    ),
    "CallPayload": {
        "type": "object",
        "description": "The OCPP payload, camelCase, as the station's protocol defines it.",
    },
    "IdToken": _object(
        {
            "id_token": STRING,
            "type": STRING,
            "status": {"type": "string", "enum": [*_ID_TOKEN_STATUSES, "ConcurrentTx"]},
            "expiry_date": nullable(TIMESTAMP),
            "group_id": nullable(STRING),
        },
        description="An id token (id tag) of the authorisation registry; dates in UTC.",
    ),
    "IdTokenList": _object({"items": {"type": "array", "items": ref("IdToken")}}),
    "IdTokenCreate": _object(_ID_TOKEN_INPUT, required=["id_token"], closed=True),
    "IdTokenUpdate": _object(_without(_ID_TOKEN_INPUT, "id_token"), required=[], closed=True),
    "Transaction": _object(
        {
            "station_id": STRING,
            "transaction_id": STRING,
            "connector_id": INTEGER,
            "evse_id": nullable(INTEGER),
            "id_tag": nullable(STRING),
            "started_at": nullable(TIMESTAMP),
            "meter_start": nullable(INTEGER),
            "state": {"type": "string", "enum": ["active", "ended"]},
            "stopped_at": nullable(TIMESTAMP),
            "meter_stop": nullable(INTEGER),
            "stop_reason": nullable(STRING),
            "energy_wh": nullable(INTEGER),
            "orphan": BOOLEAN,
        },
        description="A charging session; energies in Wh, dates in UTC.",
    ),
    "TransactionPage": _object(
        {
            "items": {"type": "array", "items": ref("Transaction")},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
            "total": {"type": "integer", "minimum": 0},
        },
        description="One page of transactions, newest first.",
    ),
}
"""The schemas of the live command, id token and transaction routes."""

# --- charging profiles and allocations ---------------------------------------------------------

_START: Final[Schema] = {
    "anyOf": [
        {**STRING, "description": '"07:00" (daily) or "Mon 07:00" (weekly).'},
        {**INTEGER, "minimum": 0, "description": "Seconds into the day or week."},
    ]
}
_PERIOD_INPUT: Final[Schema] = {
    "type": "object",
    "properties": {
        "start": _START,
        "limit": {**INTEGER, "minimum": 0, "maximum": MAX_LIMIT["W"]},
        "number_phases": {**INTEGER, "minimum": 1, "maximum": 3},
    },
    "required": ["start", "limit"],
    "additionalProperties": False,
}
_PROFILE_INPUT: Final[dict[str, Schema]] = {
    "name": {**TEXT, "maxLength": 100},
    "unit": {"type": "string", "enum": ["A", "W"], "description": "Amperes per phase, or W."},
    "recurrence": {"type": "string", "enum": ["daily", "weekly"]},
    "periods": {
        "type": "array",
        "items": _PERIOD_INPUT,
        "minItems": 1,
        "maxItems": MAX_PERIODS,
    },
}

PROFILE_SCHEMAS: Final[dict[str, Schema]] = {
    "ChargingProfile": {
        "type": "object",
        "properties": {
            "id": STRING,
            **_PROFILE_INPUT,
            "periods": {
                "type": "array",
                "items": {
                    **_PERIOD_INPUT,
                    "properties": {**_PERIOD_INPUT["properties"], "start": STRING},
                },
            },
        },
        "required": ["id", "name", "unit", "recurrence", "periods"],
        "description": "A charging profile: a daily or weekly schedule of limits, in the "
        "area's time zone, sorted by start.",
    },
    "ChargingProfileList": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": ref("ChargingProfile")}},
        "required": ["items"],
    },
    "ChargingProfileCreate": {
        "type": "object",
        "properties": {
            "id": {**STRING, "minLength": 1, "description": "Optional: a code (A-Z 0-9 . _ -)."},
            **_PROFILE_INPUT,
        },
        "required": ["name", "unit", "recurrence", "periods"],
        "additionalProperties": False,
    },
    "ChargerChargingProfile": {
        "type": "object",
        "properties": {
            "charger_id": STRING,
            "station_id": STRING,
            "charging_profile_id": nullable(STRING),
            "profile": {"anyOf": [ref("ChargingProfile"), {"type": "null"}]},
            "sent": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {
                            "profile_id": nullable(STRING),
                            "at": TIMESTAMP,
                            "accepted": BOOLEAN,
                            "error": nullable(STRING),
                            "resend_at": nullable(TIMESTAMP),
                        },
                        "required": ["profile_id", "at", "accepted", "error", "resend_at"],
                    },
                    {"type": "null"},
                ],
                "description": "The last attempt to put the profile on the station (null: "
                "none since the server started).",
            },
        },
        "required": ["charger_id", "station_id", "charging_profile_id", "profile", "sent"],
    },
    "Allocation": {
        "type": "object",
        "properties": {
            "connector_id": STRING,
            "station_id": STRING,
            "charger_id": STRING,
            "transaction_id": STRING,
            "limit": {**INTEGER, "description": "Sent to the station, in unit."},
            "unit": {"type": "string", "enum": ["A", "W"]},
            "state": {"type": "string", "enum": ["charging", "paused", "held", "pinned"]},
            "phases": INTEGER,
            "current_a": INTEGER,
            "power_w": INTEGER,
            "in_force": nullable(INTEGER),
            "pinned": BOOLEAN,
        },
        "required": [
            "connector_id",
            "station_id",
            "charger_id",
            "transaction_id",
            "limit",
            "unit",
            "state",
            "phases",
            "current_a",
            "power_w",
            "in_force",
            "pinned",
        ],
    },
    "AreaAllocations": {
        "type": "object",
        "properties": {
            "area_id": STRING,
            "balanced": {**BOOLEAN, "description": "Whether the area has an output limit."},
            "live": {**BOOLEAN, "description": "From the running balancer."},
            "limit": nullable(
                {
                    "type": "object",
                    "properties": {
                        "current_a": nullable(INTEGER),
                        "power_w": nullable(INTEGER),
                    },
                }
            ),
            "computed_at": nullable(TIMESTAMP),
            "phase_current_a": {"type": "array", "items": INTEGER},
            "power_w": INTEGER,
            "paused": INTEGER,
            "next_change": nullable(TIMESTAMP),
            "allocations": {"type": "array", "items": ref("Allocation")},
        },
        "required": [
            "area_id",
            "balanced",
            "live",
            "limit",
            "computed_at",
            "phase_current_a",
            "power_w",
            "paused",
            "next_change",
            "allocations",
        ],
    },
    "ChargingProfileUpdate": {
        "type": "object",
        "properties": _PROFILE_INPUT,
        "additionalProperties": False,
        "description": "The fields to change; ``periods`` replaces them all.",
    },
}
"""The component schemas of the profile routes."""

SCHEMAS: Final[dict[str, Schema]] = {
    **COMMAND_SCHEMAS,
    **PROFILE_SCHEMAS,
    "Problem": _PROBLEM,
    "Issue": _ISSUE,
    "Station": _STATION,
    "Charger": _CHARGER,
    "Connector": _CONNECTOR,
    "ConnectorSpecification": _CONNECTOR_SPECIFICATION,
    "Area": _AREA,
    "StationPage": _object(
        {
            "items": {"type": "array", "items": ref("Station")},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
            "total": {"type": "integer", "minimum": 0},
        },
        description="One page of the station list; ``total`` counts every match.",
    ),
    "AreaList": _object({"items": {"type": "array", "items": ref("Area")}}),
    "ChargerListItem": {
        "allOf": [
            ref("Charger"),
            _object(
                {
                    "station_name": STRING,
                    "area_id": nullable(STRING),
                    "connected": BOOLEAN,
                    "activation": _enum(ActivationState),
                    "max_power_w": nullable(
                        {**INTEGER, "description": "Its most powerful connector's, W."}
                    ),
                }
            ),
        ],
        "description": "A charger of the charger list: the charger, and what the list shows "
        "of its station.",
    },
    "ChargerPage": _object(
        {
            "items": {"type": "array", "items": ref("ChargerListItem")},
            "page": {"type": "integer", "minimum": 1},
            "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
            "total": {"type": "integer", "minimum": 0},
        },
        description="One page of the charger list; ``total`` counts every match.",
    ),
    "QrCode": _object(
        {
            "payload": {**STRING, "description": "The text the QR code holds."},
            "label": {**STRING, "description": "The charger's (and connector's) name."},
            "charger_id": STRING,
            "connector_id": nullable(
                {**STRING, "description": "The connector the code names; null: the charger."}
            ),
            "svg_url": STRING,
            "png_url": STRING,
        }
    ),
    "QrCodeList": _object(
        {"station_id": STATION_ID, "codes": {"type": "array", "items": ref("QrCode")}}
    ),
    "QrTarget": _object(
        {
            "payload": STRING,
            "station_id": STATION_ID,
            "charger": ref("Charger"),
            "connector": nullable(ref("Connector")),
        },
        description="What a QR payload names; connector is null only for an OCPP 2.0.1 EVSE "
        "with several connectors named by its charger code.",
    ),
    "QrRemoteStartRequest": _object(
        {
            "payload": {"type": "string", "minLength": 1, "maxLength": 200},
            "id_tag": {"type": "string", "minLength": 1, "maxLength": 20},
        },
        closed=True,
    ),
    "QrRemoteStartResult": {
        "allOf": [
            ref("QrTarget"),
            _object({"status": {**STRING, "description": "The station's answer."}}),
        ]
    },
    "ChargerMap": _object(
        {
            "type": {"const": "FeatureCollection"},
            "features": {"type": "array", "items": ref("ChargerFeature")},
            "unlocated": {
                **INTEGER,
                "minimum": 0,
                "description": "Chargers the viewer would see but that have no location "
                "(their station has no area).",
            },
        },
        description="GeoJSON (RFC 7946) FeatureCollection of chargers.",
    ),
    "ChargerFeature": _object(
        {
            "type": {"const": "Feature"},
            "id": STRING,
            "geometry": _object(
                {
                    "type": {"const": "Point"},
                    "coordinates": {
                        "type": "array",
                        "items": NUMBER,
                        "minItems": 2,
                        "maxItems": 2,
                        "description": "[longitude, latitude] of the charger's area.",
                    },
                }
            ),
            "properties": _object(
                {
                    "charger_id": STRING,
                    "charger_code": CODE,
                    "name": STRING,
                    "evse_id": INTEGER,
                    "station_id": STATION_ID,
                    "station_name": STRING,
                    "area_id": STRING,
                    "area_name": STRING,
                    "address": nullable(STRING),
                    "status": _STATUS,
                    "operational_status": _OPERATIONAL,
                    "online": {**BOOLEAN, "description": "Whether the station is connected."},
                    "visible": BOOLEAN,
                    "current_type": _enum(CurrentType),
                    "max_power_w": {**INTEGER, "description": "Of the listed connectors, W."},
                    "distance_m": nullable({**NUMBER, "minimum": 0}),
                    "qr_payloads": {"type": "array", "items": STRING},
                    "connectors": {
                        "type": "array",
                        "items": _object(
                            {
                                "id": STRING,
                                "ocpp_id": INTEGER,
                                "code": CODE,
                                "name": STRING,
                                "standard": _enum(ConnectorStandard),
                                "format": _enum(ConnectorFormat),
                                "power_type": _enum(PowerType),
                                "max_power_w": INTEGER,
                                "status": _STATUS,
                                "operational_status": _OPERATIONAL,
                            }
                        ),
                        "description": "The connectors that passed min_power_w (all without).",
                    },
                }
            ),
        },
        description="One charger on the map.",
    ),
    "ImportResult": _object(
        {
            "imported": {"type": "integer", "minimum": 0},
            "station_ids": {"type": "array", "items": STATION_ID},
            "replaced": {"type": "array", "items": STATION_ID},
            "warnings": {"type": "array", "items": ref("Issue")},
        },
        description="A successful import: how many stations, which, which of them replaced "
        "an inactive station of the same ID, and the warnings.",
    ),
    "Disconnected": _object({"disconnected": {"const": True}}),
    "Health": _object({"status": {"const": "ok"}}),
    "ActivationRequest": _object({"security_code": TEXT}, closed=True),
    "StationCreate": _object(_STATION_INPUT, required=["id"], closed=True),
    "StationUpdate": _object(_without(_STATION_INPUT, "id"), required=[], closed=True),
    "ChargerInput": _object(_CHARGER_INPUT, required=[], closed=True),
    "ConnectorInput": _object(
        _CONNECTOR_INPUT,
        required=[],
        closed=True,
        description="On POST, the electrical fields not given come from the station's "
        "connector specification for the connector's OCPP ID.",
    ),
    "AreaCreate": _object(_AREA_INPUT, required=["name", "latitude", "longitude"], closed=True),
    "AreaUpdate": _object(_without(_AREA_INPUT, "id"), required=[], closed=True),
    "SingleStationImport": _object(
        {
            "station_id": STATION_ID,
            "security_code": {"type": "string", "maxLength": 255, "writeOnly": True},
            "manufacturer": {"type": "string", "maxLength": 255},
            "article_number": nullable({"type": "string", "maxLength": 255}),
            "serial_number": nullable({"type": "string", "maxLength": 255}),
            "connectivity": _object({"wifi": BOOLEAN, "gsm": BOOLEAN}, closed=True),
            "connector_specifications": {
                "type": "array",
                "minItems": 1,
                "items": _object(
                    {
                        "standard": {**STRING, "description": "OCPI type or alias."},
                        "format": STRING,
                        "power_type": STRING,
                        "voltage": {**INTEGER, "description": "Phase voltage, V."},
                        "amperage": INTEGER,
                    },
                    closed=True,
                ),
            },
        },
        required=[
            "station_id",
            "security_code",
            "manufacturer",
            "connectivity",
            "connector_specifications",
        ],
        closed=True,
        description="One station to import, checked by the rules of the CSV format guide "
        "(the same values as the CSV columns; errors located by field).",
    ),
}
"""Every component schema of the OpenAPI document, by name."""

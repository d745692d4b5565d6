"""The admin API's live routes (operator commands to connected stations) and the id tokens
operators manage (transactions are listed by :mod:`._lists`).

Commands go through :class:`~evcharge_core.commands.CommandService`; its errors are
answered by the dispatcher: 409 ``not-connected``, 504 ``station-timeout``, 502
``station-call-error`` (with the station's ``code`` and ``description``) or
``station-protocol-error``. Bodies are checked here first, every bad field listed (422).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from urllib.parse import quote

import attrs
from starlette.requests import Request
from starlette.responses import Response

from .. import admin_json
from ..charging import ChargingService
from ..commands import CommandService
from ..domain.device_model import DeviceVariable, format_key
from ..domain.qr import QrTarget
from ..domain.transactions import AuthorizationStatus, IdToken
from ..errors import InvalidInput, Issue, StationNotConnected
from ._http import json_response, read_json_object, split_query
from ._schemas import ref
from ._table import AdminContext, ApiRoute, Body, Param, Reply

__all__ = ["COMMAND_ROUTES", "ID_TOKEN_ROUTES", "resolve_payload"]

Parser = Callable[[object], object]

# --- field parsers ---------------------------------------------------------------------------


def _kind(value: object) -> str:
    return {dict: "an object", list: "a list", bool: "a boolean", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _string(low: int = 1, high: int = 10_000) -> Parser:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError(f"expected a string, got {_kind(value)}")
        if not low <= len(value) <= high:
            raise ValueError(f"must be {low} to {high} characters")
        return value

    return parse


def _integer(low: int, high: int = 2**31 - 1) -> Parser:
    def parse(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"expected a whole number, got {_kind(value)}")
        if not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}, got {value}")
        return value

    return parse


def _choice(*allowed: str) -> Parser:
    def parse(value: object) -> str:
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}, got {value!r}")
        assert isinstance(value, str)
        return value

    return parse


def _timestamp(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date and time, got {_kind(value)}")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"expected an ISO 8601 date and time, got {value!r}") from None
    if moment.utcoffset() is None:
        raise ValueError("must have a time zone (e.g. Z)")
    return moment.astimezone(UTC)


def _json_object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"expected an object, got {_kind(value)}")
    return value


def _transaction_id(value: object) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"expected a whole number or a string, got {_kind(value)}")


def _optional(parser: Parser) -> Parser:
    def parse(value: object) -> object:
        return None if value is None else parser(value)

    return parse


async def _body(
    request: Request, ctx: AdminContext, fields: Mapping[str, Parser], *required: str
) -> dict[str, Any]:
    body = await read_json_object(request, ctx.max_body_size)
    return admin_json.parse_body(body, fields, required=frozenset(required))


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- live commands ---------------------------------------------------------------------------


async def _commands(request: Request, ctx: AdminContext) -> tuple[CommandService, str]:
    station_id: str = request.path_params["station_id"]
    if ctx.commands is None:
        await ctx.service.get_station(station_id)  # 404 for an unknown station
        raise StationNotConnected(station_id)
    return ctx.commands, station_id


def _status(status: str) -> Response:
    return json_response({"status": status})


async def get_configuration(request: Request, ctx: AdminContext) -> Response:
    keys: list[str] = []
    issues: list[Issue] = []
    for name, value in request.query_params.multi_items():
        if name != "key":
            issues.append(Issue("unknown query parameter", field=name))
        elif value:
            keys.append(value)
    if issues:
        raise InvalidInput(list(dict.fromkeys(issues)))
    commands, station_id = await _commands(request, ctx)
    result = await commands.get_configuration(station_id, keys)
    return json_response(
        {
            "configuration": [
                {"key": e.key, "value": e.value, "readonly": e.readonly} for e in result.entries
            ],
            "unknown_keys": list(result.unknown_keys),
            "rejected": [{"key": key, "status": status} for key, status in result.rejected],
        }
    )


async def change_configuration(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, {"value": _string(0)}, "value")
    commands, station_id = await _commands(request, ctx)
    key: str = request.path_params["key"]
    return _status(await commands.change_configuration(station_id, key, values["value"]))


async def rotate_password(request: Request, ctx: AdminContext) -> Response:
    commands, station_id = await _commands(request, ctx)
    return _status(await commands.rotate_password(station_id))


_EVSE: Final = _optional(_integer(0))
"""``evse_id`` (OCPP 2.0.1 only): ``connector_id`` is then the connector within it."""

_TRIGGER: Final = {
    "message": _string(),
    "connector_id": _optional(_integer(0)),
    "evse_id": _EVSE,
}


async def trigger(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, _TRIGGER, "message")
    commands, station_id = await _commands(request, ctx)
    status = await commands.trigger_message(
        station_id, values["message"], values.get("connector_id"), evse_id=values.get("evse_id")
    )
    return _status(status)


_RESET: Final = {"type": _choice("Soft", "Hard", "OnIdle", "Immediate"), "evse_id": _EVSE}


async def reset(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, _RESET, "type")
    commands, station_id = await _commands(request, ctx)
    return _status(await commands.reset(station_id, values["type"], evse_id=values.get("evse_id")))


_REMOTE_START: Final = {
    "id_tag": _string(1, 36),
    "connector_id": _optional(_integer(1)),
    "qr_payload": _optional(_string(1, 200)),
    "evse_id": _EVSE,
    "charging_profile": _optional(_json_object),
}


async def remote_start(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, _REMOTE_START, "id_tag")
    payload = values.get("qr_payload")
    if payload is None:
        commands, station_id = await _commands(request, ctx)
        status = await commands.remote_start(
            station_id,
            values["id_tag"],
            values.get("connector_id"),
            evse_id=values.get("evse_id"),
            charging_profile=values.get("charging_profile"),
        )
        return _status(status)
    station_id = request.path_params["station_id"]
    for other in ("connector_id", "evse_id"):
        if values.get(other) is not None:
            problem = f"give {other} or qr_payload, not both"
            raise InvalidInput([Issue(problem, field="qr_payload")])
    target = await resolve_payload(ctx, payload, field="qr_payload")
    if target.station.id != station_id:
        raise InvalidInput(
            [
                Issue(
                    f"names a charger of station {target.station.id}, not of {station_id}",
                    field="qr_payload",
                )
            ]
        )
    commands, _ = await _commands(request, ctx)
    status = await commands.remote_start_at(
        target, values["id_tag"], charging_profile=values.get("charging_profile")
    )
    return _status(status)


async def resolve_payload(ctx: AdminContext, payload: str, *, field: str) -> QrTarget:
    """:meth:`~evcharge_core.service.StationService.resolve_qr`, its problems located at
    ``field`` of the request body."""
    try:
        return await ctx.service.resolve_qr(payload)
    except InvalidInput as error:
        raise InvalidInput([attrs.evolve(i, field=field) for i in error.issues]) from None


async def remote_stop(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, {"transaction_id": _transaction_id}, "transaction_id")
    commands, station_id = await _commands(request, ctx)
    return _status(await commands.remote_stop(station_id, values["transaction_id"]))


async def unlock(request: Request, ctx: AdminContext) -> Response:
    fields = {"connector_id": _integer(1), "evse_id": _EVSE}
    values = await _body(request, ctx, fields, "connector_id")
    commands, station_id = await _commands(request, ctx)
    status = await commands.unlock(
        station_id, values["connector_id"], evse_id=values.get("evse_id")
    )
    return _status(status)


_AVAILABILITY: Final = {
    "connector_id": _integer(0),
    "evse_id": _EVSE,
    "type": _choice("Operative", "Inoperative"),
}


async def change_availability(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, _AVAILABILITY, "connector_id", "type")
    commands, station_id = await _commands(request, ctx)
    status = await commands.change_availability(
        station_id, values["connector_id"], values["type"], evse_id=values.get("evse_id")
    )
    return _status(status)


_RESERVE: Final = {
    "connector_id": _integer(0),
    "evse_id": _EVSE,
    "id_tag": _string(1, 36),
    "expiry_date": _timestamp,
    "reservation_id": _optional(_integer(1)),
    "parent_id_tag": _optional(_string(1, 36)),
}


async def reserve(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, _RESERVE, "connector_id", "id_tag", "expiry_date")
    commands, station_id = await _commands(request, ctx)
    result = await commands.reserve_now(
        station_id,
        values["connector_id"],
        values["id_tag"],
        values["expiry_date"],
        reservation_id=values.get("reservation_id"),
        parent_id_tag=values.get("parent_id_tag"),
        evse_id=values.get("evse_id"),
    )
    return json_response({"status": result.status, "reservation_id": result.reservation_id})


async def cancel_reservation(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, {"reservation_id": _integer(0)}, "reservation_id")
    commands, station_id = await _commands(request, ctx)
    return _status(await commands.cancel_reservation(station_id, values["reservation_id"]))


_PROFILE: Final = {"connector_id": _integer(0), "evse_id": _EVSE, "profile": _json_object}


async def set_charging_profile(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, _PROFILE, "connector_id", "profile")
    commands, station_id = await _commands(request, ctx)
    status = await commands.set_charging_profile(
        station_id, values["connector_id"], values["profile"], evse_id=values.get("evse_id")
    )
    return _status(status)


_PURPOSES: Final = [
    "ChargePointMaxProfile",
    "ChargingStationMaxProfile",
    "ChargingStationExternalConstraints",
    "TxDefaultProfile",
    "TxProfile",
]

_CLEAR_PARAMS: Final = (
    Param("profile_id", "Only the profile with this ID.", {"type": "integer"}),
    Param(
        "connector_id",
        "Only profiles of this connector (0: the station; OCPP 2.0.1: the EVSE).",
        {"type": "integer"},
    ),
    Param("evse_id", "OCPP 2.0.1: only profiles of this EVSE.", {"type": "integer"}),
    Param(
        "purpose",
        "Only profiles of this purpose (1.6 ChargePointMaxProfile and 2.0.1 "
        "ChargingStationMaxProfile name the same purpose).",
        {"type": "string", "enum": _PURPOSES},
    ),
    Param("stack_level", "Only profiles at this stack level.", {"type": "integer"}),
)


def _whole(text: str) -> int | None:
    sign, digits = (-1, text[1:]) if text.startswith("-") else (1, text)
    return sign * int(digits) if digits.isascii() and digits.isdigit() else None


async def clear_charging_profile(request: Request, ctx: AdminContext) -> Response:
    values, issues = split_query(request, {p.name for p in _CLEAR_PARAMS})
    criteria: dict[str, Any] = {}
    for name, text in values.items():
        if name == "purpose":
            criteria[name] = text
            continue
        number = _whole(text)
        if number is None:
            issues.append(Issue(f"expected a whole number, got {text!r}", field=name))
        criteria[name] = number
    if issues:
        raise InvalidInput(issues)
    commands, station_id = await _commands(request, ctx)
    return _status(await commands.clear_charging_profile(station_id, **criteria))


_BASE_REPORT: Final = {
    "report_base": _choice("ConfigurationInventory", "FullInventory", "SummaryInventory")
}


async def base_report(request: Request, ctx: AdminContext) -> Response:
    values = await _body(request, ctx, _BASE_REPORT)
    commands, station_id = await _commands(request, ctx)
    result = await commands.get_base_report(station_id, values.get("report_base", "FullInventory"))
    return json_response({"status": result.status, "request_id": result.request_id})


def device_variable_to_json(variable: DeviceVariable) -> dict[str, Any]:
    """A device model variable as the API shows it."""
    key = variable.key
    return {
        "key": format_key(key),
        "component": key.component,
        "component_instance": key.component_instance,
        "evse_id": key.evse_id,
        "connector_id": key.connector_id,
        "variable": key.variable,
        "variable_instance": key.variable_instance,
        "attribute_type": key.attribute_type,
        "value": variable.value,
        "mutability": variable.mutability,
        "persistent": variable.persistent,
        "constant": variable.constant,
        "data_type": variable.data_type,
        "unit": variable.unit,
        "min_limit": variable.min_limit,
        "max_limit": variable.max_limit,
        "values_list": variable.values_list,
        "supports_monitoring": variable.supports_monitoring,
        "reported_at": _iso(variable.reported_at),
    }


async def device_model(request: Request, ctx: AdminContext) -> Response:
    station_id: str = request.path_params["station_id"]
    variables = await _charging(ctx).device_model(station_id)
    return json_response({"variables": [device_variable_to_json(v) for v in variables]})


async def raw_call(request: Request, ctx: AdminContext) -> Response:
    payload = await read_json_object(request, ctx.max_body_size)
    commands, station_id = await _commands(request, ctx)
    action: str = request.path_params["action"]
    return json_response(await commands.call(station_id, action, payload))


# --- id tokens -------------------------------------------------------------------------------

_TOKEN_STATUSES: Final = ("Accepted", "Blocked", "Expired", "Invalid")
_ID_TOKEN_FIELDS: Final[dict[str, Parser]] = {
    "id_token": _string(1, 36),
    "type": _string(1, 20),
    "status": _choice(*_TOKEN_STATUSES),
    "expiry_date": _optional(_timestamp),
    "group_id": _optional(_string(1, 36)),
}
ID_TOKEN_FIELDS: Final[Mapping[str, Parser]] = _ID_TOKEN_FIELDS
"""The fields of ``POST /api/id-tokens`` (``id_token`` required) and ``PATCH`` (not it)."""


def _token_values(values: dict[str, Any]) -> dict[str, Any]:
    if "status" in values:
        values["status"] = AuthorizationStatus(values["status"])
    return values


def id_token_to_json(token: IdToken) -> dict[str, Any]:
    """An id token as the API shows it."""
    return {
        "id_token": token.id_token,
        "type": token.type,
        "status": token.status.value,
        "expiry_date": _iso(token.expiry_date),
        "group_id": token.group_id,
    }


def _charging(ctx: AdminContext) -> ChargingService:
    assert ctx.charging is not None  # create_app always provides one
    return ctx.charging


async def list_id_tokens(request: Request, ctx: AdminContext) -> Response:
    tokens = await _charging(ctx).list_id_tokens()
    return json_response({"items": [id_token_to_json(t) for t in tokens]})


async def create_id_token(request: Request, ctx: AdminContext) -> Response:
    values = _token_values(await _body(request, ctx, _ID_TOKEN_FIELDS, "id_token"))
    token = IdToken(**values)
    await _charging(ctx).add_id_token(token)
    root = request.scope.get("root_path", "")
    location = f"{root}/api/id-tokens/{quote(token.id_token, safe='')}"
    return json_response(id_token_to_json(token), 201, {"Location": location})


async def get_id_token(request: Request, ctx: AdminContext) -> Response:
    token = await _charging(ctx).get_id_token(request.path_params["id_token"])
    return json_response(id_token_to_json(token))


async def update_id_token(request: Request, ctx: AdminContext) -> Response:
    fields = {k: v for k, v in _ID_TOKEN_FIELDS.items() if k != "id_token"}
    values = _token_values(await _body(request, ctx, fields))
    token = await _charging(ctx).update_id_token(request.path_params["id_token"], values)
    return json_response(id_token_to_json(token))


async def delete_id_token(request: Request, ctx: AdminContext) -> Response:
    await _charging(ctx).delete_id_token(request.path_params["id_token"])
    return Response(status_code=204)


# --- the tables ------------------------------------------------------------------------------

_LIVE: Final = (409, 502, 504)
_STATUS_REPLY: Final = (Reply(200, "The station's answer.", ref("CommandStatus")),)
_STATION: Final = "/api/stations/{station_id}"


def _command(
    path: str,
    handler: Callable[[Request, AdminContext], Any],
    operation_id: str,
    summary: str,
    body: str | None,
    *,
    method: str = "POST",
    description: str = "",
    replies: tuple[Reply, ...] = _STATUS_REPLY,
    query: tuple[Param, ...] = (),
) -> ApiRoute:
    return ApiRoute(
        method,
        f"{_STATION}{path}",
        handler,
        operation_id,
        summary,
        "commands",
        description=description,
        query=query,
        body=None if body is None else Body(ref(body)),
        replies=replies,
        problems=_LIVE,
    )


COMMAND_ROUTES: Final[tuple[ApiRoute, ...]] = (
    _command(
        "/configuration",
        get_configuration,
        "getConfiguration",
        "Read configuration keys live",
        None,
        method="GET",
        query=(Param("key", "A key to read (repeat for several; none: every key)."),),
        replies=(Reply(200, "What the station reported.", ref("Configuration")),),
    ),
    _command(
        "/configuration/{key}",
        change_configuration,
        "changeConfiguration",
        "Write one configuration key live",
        "ConfigurationWrite",
        method="PUT",
        description="Keys are OCPP 1.6 names or OCPP 2.0.1 Component.Variable keys. A write "
        "of the password key (1.6 AuthorizationKey, 2.0.1 SecurityCtrlr.BasicAuthPassword) "
        "that the station accepts stores the new password.",
    ),
    _command(
        "/rotate-password",
        rotate_password,
        "rotatePassword",
        "Send the station a new random password",
        None,
        description="The password is stored once the station accepts it and never returned.",
    ),
    _command("/trigger", trigger, "triggerMessage", "Trigger a message", "TriggerRequest"),
    _command("/reset", reset, "resetStation", "Reset the station", "ResetRequest"),
    _command(
        "/remote-start",
        remote_start,
        "remoteStart",
        "Start a transaction remotely",
        "RemoteStartRequest",
        description="Give the connector by connector_id (its OCPP id), or by qr_payload: the "
        "text of a QR code of one of the station's chargers, which must resolve to this "
        "station (422 otherwise).",
    ),
    _command("/remote-stop", remote_stop, "remoteStop", "Stop a transaction", "RemoteStopRequest"),
    _command("/unlock", unlock, "unlockConnector", "Unlock a connector", "UnlockRequest"),
    _command(
        "/availability",
        change_availability,
        "changeAvailability",
        "Change a connector's availability",
        "AvailabilityRequest",
    ),
    _command(
        "/reserve",
        reserve,
        "reserveNow",
        "Reserve a connector",
        "ReserveRequest",
        description="Only reservable chargers take reservations (409 otherwise); "
        "reservation_id is drawn at random if not given.",
        replies=(Reply(200, "The station's answer.", ref("Reservation")),),
    ),
    _command(
        "/cancel-reservation",
        cancel_reservation,
        "cancelReservation",
        "Cancel a reservation",
        "CancelReservationRequest",
    ),
    _command(
        "/charging-profile",
        set_charging_profile,
        "setChargingProfile",
        "Send a charging profile",
        "ChargingProfileRequest",
    ),
    _command(
        "/charging-profile",
        clear_charging_profile,
        "clearChargingProfile",
        "Clear charging profiles",
        None,
        method="DELETE",
        description="Clears the profiles matching every criterion given (none: all).",
        query=_CLEAR_PARAMS,
    ),
    _command(
        "/base-report",
        base_report,
        "getBaseReport",
        "Ask an OCPP 2.0.1 station for a base report",
        "BaseReportRequest",
        description="The NotifyReport messages that follow fill the station's device model "
        "(GET /api/stations/{station_id}/device-model). 409 for an OCPP 1.6 station.",
        replies=(Reply(200, "The station's answer.", ref("BaseReport")),),
    ),
    ApiRoute(
        "GET",
        f"{_STATION}/device-model",
        device_model,
        "getDeviceModel",
        "Read an OCPP 2.0.1 station's stored device model",
        "commands",
        description="What the station reported in NotifyReport (and GetVariables), one entry "
        "per variable attribute, ordered by key; empty for OCPP 1.6 stations. Stored, not "
        "live: works while the station is offline.",
        replies=(Reply(200, "The device model.", ref("DeviceModel")),),
    ),
    _command(
        "/call/{action}",
        raw_call,
        "callStation",
        "Send any CSMS-to-station call of the station's protocol",
        "CallPayload",
        description="The payload is validated against the action's schema first (422); "
        "for OCPP 1.6 the security extension's actions are included.",
        replies=(Reply(200, "The station's answer payload.", {"type": "object"}),),
    ),
)

_TOKEN: Final = ref("IdToken")

ID_TOKEN_ROUTES: Final[tuple[ApiRoute, ...]] = (
    ApiRoute(
        "GET",
        "/api/id-tokens",
        list_id_tokens,
        "listIdTokens",
        "List every id token",
        "id-tokens",
        replies=(Reply(200, "The id tokens, by id token.", ref("IdTokenList")),),
    ),
    ApiRoute(
        "POST",
        "/api/id-tokens",
        create_id_token,
        "createIdToken",
        "Register an id token",
        "id-tokens",
        body=Body(ref("IdTokenCreate")),
        replies=(
            Reply(201, "The id token.", _TOKEN, headers={"Location": "The new resource's URL."}),
        ),
        problems=(409,),
    ),
    ApiRoute(
        "GET",
        "/api/id-tokens/{id_token}",
        get_id_token,
        "getIdToken",
        "Get an id token",
        "id-tokens",
        replies=(Reply(200, "The id token.", _TOKEN),),
    ),
    ApiRoute(
        "PATCH",
        "/api/id-tokens/{id_token}",
        update_id_token,
        "updateIdToken",
        "Change the fields given",
        "id-tokens",
        body=Body(ref("IdTokenUpdate")),
        replies=(Reply(200, "The id token as changed.", _TOKEN),),
    ),
    ApiRoute(
        "DELETE",
        "/api/id-tokens/{id_token}",
        delete_id_token,
        "deleteIdToken",
        "Delete an id token",
        "id-tokens",
        replies=(Reply(204, "Deleted."),),
    ),
)

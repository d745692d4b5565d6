"""The admin API's QR code routes: a charger's codes (JSON, SVG, PNG), a station's printable
sheet, resolving a scanned payload, and starting a session from one.

Payload rules: :mod:`evcharge_core.domain.qr`; images: :mod:`evcharge_core.qrcodes`.
"""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from .. import admin_json
from ..domain.model import Station
from ..domain.qr import QrCode
from ..errors import StationNotConnected
from ..qrcodes import DEFAULT_SCALE, MAX_SCALE, qr_png, qr_sheet_svg, qr_svg
from ._http import json_response, query_values, read_json_object, split_query
from ._lists import QueryReader
from ._live import resolve_payload
from ._schemas import ref
from ._table import AdminContext, ApiRoute, Body, Param, Reply

__all__ = ["QR_ROUTES", "qr_code_to_json"]

_SVG: Final = "image/svg+xml"
_CACHE: Final = {"Cache-Control": "no-cache"}
"""Codes change when a charger's or connector's code does: revalidate before reuse."""


def qr_code_to_json(request: Request, code: QrCode) -> dict[str, Any]:
    """One QR code as the API shows it, with the URLs of its images."""
    root = request.scope.get("root_path", "")
    base = f"{root}/api/chargers/{code.charger.id}/qr"
    suffix = "" if code.connector is None else f"?connector={code.connector.id}"
    return {
        "payload": code.payload,
        "label": code.label,
        "charger_id": code.charger.id,
        "connector_id": None if code.connector is None else code.connector.id,
        "svg_url": f"{base}.svg{suffix}",
        "png_url": f"{base}.png{suffix}",
    }


async def charger_codes(request: Request, ctx: AdminContext) -> Response:
    query_values(request, ())
    station, codes = await ctx.service.charger_qr_codes(request.path_params["charger_id"])
    return json_response(_codes_json(request, station, codes))


def _codes_json(request: Request, station: Station, codes: tuple[QrCode, ...]) -> dict[str, Any]:
    return {"station_id": station.id, "codes": [qr_code_to_json(request, c) for c in codes]}


_IMAGE_PARAMS: Final = (
    Param(
        "connector",
        "The connector's ID: required for a charger whose connectors each have a code; for "
        "another charger, its one code whatever connector is given.",
    ),
    Param(
        "scale",
        f"Pixels (PNG) or SVG units per module, 1 to {MAX_SCALE} (default {DEFAULT_SCALE}).",
        {"type": "integer", "minimum": 1, "maximum": MAX_SCALE},
    ),
)
_IMAGE_NAMES: Final = frozenset(p.name for p in _IMAGE_PARAMS)


async def _image_code(request: Request, ctx: AdminContext) -> tuple[QrCode, int]:
    read = QueryReader(*split_query(request, _IMAGE_NAMES))
    scale = read.integer("scale", 1, MAX_SCALE)
    read.build(dict)  # raises every issue found
    code = await ctx.service.charger_qr_code(
        request.path_params["charger_id"], read.text("connector")
    )
    return code, DEFAULT_SCALE if scale is None else scale


async def charger_svg(request: Request, ctx: AdminContext) -> Response:
    code, scale = await _image_code(request, ctx)
    title = f"{code.label}: {code.payload}"
    return Response(qr_svg(code.payload, scale=scale, title=title), media_type=_SVG, headers=_CACHE)


async def charger_png(request: Request, ctx: AdminContext) -> Response:
    code, scale = await _image_code(request, ctx)
    return Response(qr_png(code.payload, scale=scale), media_type="image/png", headers=_CACHE)


async def station_sheet(request: Request, ctx: AdminContext) -> Response:
    query_values(request, ())
    station, codes = await ctx.service.station_qr_codes(request.path_params["station_id"])
    title = f"{station.name} ({station.id})" if station.name != station.id else station.id
    return Response(qr_sheet_svg(title, codes), media_type=_SVG, headers=_CACHE)


async def station_codes(request: Request, ctx: AdminContext) -> Response:
    query_values(request, ())
    station, codes = await ctx.service.station_qr_codes(request.path_params["station_id"])
    return json_response(_codes_json(request, station, codes))


def _target_json(payload: str, target: Any) -> dict[str, Any]:
    station = target.station
    return {
        "payload": payload.strip(),
        "station_id": station.id,
        "charger": admin_json.charger_to_json(station, target.charger),
        "connector": None
        if target.connector is None
        else admin_json.connector_to_json(station, target.charger, target.connector),
    }


async def resolve(request: Request, ctx: AdminContext) -> Response:
    values = query_values(request, {"payload"})
    payload = values.get("payload", "")
    target = await resolve_payload(ctx, payload, field="payload")
    return json_response(_target_json(payload, target))


def _text_field(low: int, high: int) -> Any:
    def parse(value: object) -> str:
        if not isinstance(value, str):
            raise ValueError("expected a string")
        if not low <= len(value) <= high:
            raise ValueError(f"must be {low} to {high} characters")
        return value

    return parse


_START: Final = {"payload": _text_field(1, 200), "id_tag": _text_field(1, 20)}


async def remote_start(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    values = admin_json.parse_body(body, _START, required=frozenset(_START))
    target = await resolve_payload(ctx, values["payload"], field="payload")
    if ctx.commands is None:
        raise StationNotConnected(target.station.id)
    status = await ctx.commands.remote_start_at(target, values["id_tag"])
    result = _target_json(values["payload"], target)
    return json_response({"status": status, **result})


_CODES: Final = (Reply(200, "The QR codes.", ref("QrCodeList")),)
_SVG_REPLY: Final = Reply(200, "An SVG document.", {"type": "string"}, _SVG)

QR_ROUTES: Final[tuple[ApiRoute, ...]] = (
    ApiRoute(
        "GET",
        "/api/chargers/{charger_id}/qr",
        charger_codes,
        "getChargerQrCodes",
        "The charger's QR codes and their payloads",
        "qr-codes",
        description="One code for the charger, or one per connector when its connectors can "
        "be used at once (payload CHARGER_CODE*CONNECTOR_CODE).",
        replies=_CODES,
    ),
    ApiRoute(
        "GET",
        "/api/chargers/{charger_id}/qr.svg",
        charger_svg,
        "getChargerQrSvg",
        "A QR code of the charger as SVG",
        "qr-codes",
        query=_IMAGE_PARAMS,
        replies=(_SVG_REPLY,),
    ),
    ApiRoute(
        "GET",
        "/api/chargers/{charger_id}/qr.png",
        charger_png,
        "getChargerQrPng",
        "A QR code of the charger as PNG",
        "qr-codes",
        query=_IMAGE_PARAMS,
        replies=(Reply(200, "A PNG image.", {"type": "string", "format": "binary"}, "image/png"),),
    ),
    ApiRoute(
        "GET",
        "/api/stations/{station_id}/qr",
        station_codes,
        "getStationQrCodes",
        "Every QR code of the station's chargers",
        "qr-codes",
        replies=_CODES,
    ),
    ApiRoute(
        "GET",
        "/api/stations/{station_id}/qr-sheet.svg",
        station_sheet,
        "getStationQrSheet",
        "A printable A4 sheet of every QR code of the station",
        "qr-codes",
        description="One SVG page: each code labelled with the charger (and connector) name "
        "and its payload.",
        replies=(_SVG_REPLY,),
    ),
    ApiRoute(
        "GET",
        "/api/qr/resolve",
        resolve,
        "resolveQrPayload",
        "The charger and connector a scanned QR payload names",
        "qr-codes",
        description="connector is null only for an OCPP 2.0.1 EVSE with several connectors "
        "named by its charger code (the station uses the one the driver plugs in). A payload "
        "that names no charger and connector is a 422 saying why.",
        query=(Param("payload", "The scanned text.", required=True),),
        replies=(Reply(200, "What the payload names.", ref("QrTarget")),),
    ),
    ApiRoute(
        "POST",
        "/api/qr/remote-start",
        remote_start,
        "remoteStartByQr",
        "Start a session where a scanned QR code points",
        "qr-codes",
        description="Resolves the payload (422 if it names nothing), then sends the station "
        "RemoteStartTransaction for that connector (OCPP 2.0.1: the EVSE).",
        body=Body(ref("QrRemoteStartRequest")),
        replies=(Reply(200, "The station's answer, and where.", ref("QrRemoteStartResult")),),
        problems=(409, 502, 504),
    ),
)

"""The admin API's charging profile and load balancing routes: ``/api/charging-profiles``
(CRUD), a charger's profile and how it was sent (``/api/chargers/{id}/charging-profile``),
an area's allocations (``/api/areas/{id}/allocations``).

A profile's JSON is the form :func:`~evcharge_core.domain.profiles.parse_profile` reads, plus
its ``id`` (:func:`~evcharge_core.admin_json.profile_to_json`); bad input answers 422 with
every problem in ``errors``, located by ``field`` (``periods[1].limit``). Chargers are
assigned a profile through their ``charging_profile_id`` (``PATCH /api/chargers/{id}``).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from .. import admin_json
from ..balancing import allocations_to_json, compute_allocations
from ._http import json_response, read_json_object
from ._schemas import ref
from ._table import AdminContext, ApiRoute, Body, Reply

__all__ = ["PROFILE_ROUTES"]


async def list_profiles(request: Request, ctx: AdminContext) -> Response:
    profiles = await ctx.service.list_profiles()
    return json_response({"items": [admin_json.profile_to_json(p) for p in profiles]})


async def create_profile(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    profile = await ctx.service.create_profile(body)
    root = request.scope.get("root_path", "")
    location = {"Location": f"{root}/api/charging-profiles/{quote(profile.id, safe='')}"}
    return json_response(admin_json.profile_to_json(profile), 201, location)


async def get_profile(request: Request, ctx: AdminContext) -> Response:
    profile = await ctx.service.get_profile(request.path_params["profile_id"])
    return json_response(admin_json.profile_to_json(profile))


async def update_profile(request: Request, ctx: AdminContext) -> Response:
    body = await read_json_object(request, ctx.max_body_size)
    profile = await ctx.service.update_profile(request.path_params["profile_id"], body)
    return json_response(admin_json.profile_to_json(profile))


async def delete_profile(request: Request, ctx: AdminContext) -> Response:
    await ctx.service.delete_profile(request.path_params["profile_id"])
    return Response(status_code=204)


async def area_allocations(request: Request, ctx: AdminContext) -> Response:
    area = await ctx.service.get_area(request.path_params["area_id"])
    view = ctx.balancer.allocations(area.id) if ctx.balancer is not None else None
    live = view is not None
    if view is None:
        view = await compute_allocations(ctx.service.repository, area, ctx.service.clock())
    return json_response({**allocations_to_json(view, area), "live": live})


async def charger_profile(request: Request, ctx: AdminContext) -> Response:
    station, charger = await ctx.service.get_charger(request.path_params["charger_id"])
    profile = None
    if charger.charging_profile_id is not None:
        profiles = {p.id: p for p in await ctx.service.list_profiles()}
        found = profiles.get(charger.charging_profile_id)
        profile = admin_json.profile_to_json(found) if found is not None else None
    status = ctx.profiles.status(charger.id) if ctx.profiles is not None else None
    sent = None
    if status is not None:
        sent = {
            "profile_id": status.profile_id,
            "at": admin_json.iso_time(status.at),
            "accepted": status.accepted,
            "error": status.error,
            "resend_at": admin_json.iso_time(status.resend_at),
        }
    return json_response(
        {
            "charger_id": charger.id,
            "station_id": station.id,
            "charging_profile_id": charger.charging_profile_id,
            "profile": profile,
            "sent": sent,
        }
    )


_PROFILE: Final = ref("ChargingProfile")

PROFILE_ROUTES: Final = (
    ApiRoute(
        "GET",
        "/api/charging-profiles",
        list_profiles,
        "listChargingProfiles",
        "List every charging profile (by name)",
        "charging profiles",
        replies=(Reply(200, "The profiles.", ref("ChargingProfileList")),),
    ),
    ApiRoute(
        "POST",
        "/api/charging-profiles",
        create_profile,
        "createChargingProfile",
        "Create a charging profile",
        "charging profiles",
        description="Errors are located by field (``periods[1].limit``).",
        body=Body(ref("ChargingProfileCreate")),
        replies=(
            Reply(
                201,
                "The profile created.",
                _PROFILE,
                headers={"Location": "The new resource's URL."},
            ),
        ),
        problems=(409,),
    ),
    ApiRoute(
        "GET",
        "/api/charging-profiles/{profile_id}",
        get_profile,
        "getChargingProfile",
        "Get a charging profile",
        "charging profiles",
        replies=(Reply(200, "The profile.", _PROFILE),),
        path_params={"profile_id": "The charging profile's ID."},
    ),
    ApiRoute(
        "PATCH",
        "/api/charging-profiles/{profile_id}",
        update_profile,
        "updateChargingProfile",
        "Change the fields given; the chargers using it are sent it again",
        "charging profiles",
        body=Body(ref("ChargingProfileUpdate")),
        replies=(Reply(200, "The profile as changed.", _PROFILE),),
        path_params={"profile_id": "The charging profile's ID."},
    ),
    ApiRoute(
        "DELETE",
        "/api/charging-profiles/{profile_id}",
        delete_profile,
        "deleteChargingProfile",
        "Delete a charging profile no charger is assigned",
        "charging profiles",
        replies=(Reply(204, "Deleted."),),
        problems=(409,),
        path_params={"profile_id": "The charging profile's ID."},
    ),
    ApiRoute(
        "GET",
        "/api/chargers/{charger_id}/charging-profile",
        charger_profile,
        "getChargerChargingProfile",
        "A charger's charging profile and the last attempt to send it to its station",
        "charging profiles",
        replies=(Reply(200, "The charger's profile.", ref("ChargerChargingProfile")),),
    ),
    ApiRoute(
        "GET",
        "/api/areas/{area_id}/allocations",
        area_allocations,
        "getAreaAllocations",
        "How the area's output limit is shared among its charging connectors",
        "areas",
        description="The running balancer's last computation (``live``); without one yet, "
        "computed from the stored state as if nothing had been sent.",
        replies=(Reply(200, "The allocations.", ref("AreaAllocations")),),
    ),
)

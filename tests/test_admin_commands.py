"""The admin API's live commands, id tokens and transactions, through the reference
server's wiring (:func:`~evcharge_core.serve.build_core` on an in-memory repository, a real
loopback gateway) with an ``ocpp`` package charge point connected."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ocpp.exceptions import NotSupportedError
from ocpp.v16 import call
from websockets.asyncio.client import connect

from evcharge_core.admin import create_app
from evcharge_core.domain.credentials import verify_password

from .ocpp16.harness import Env, make_station, now_text, run, running

TOKEN = "test-token"


@contextlib.asynccontextmanager
async def api(env: Env) -> AsyncIterator[httpx.AsyncClient]:
    core = env.core
    app = create_app(
        core.stations,
        token=TOKEN,
        gateway=core.gateway,
        commands=core.commands,
        charging=core.charging,
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://admin.test",
        headers={"Authorization": f"Bearer {TOKEN}"},
    ) as client:
        yield client


def problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"].endswith("/" + slug)
    return body


def test_configuration_and_commands_reach_the_station() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp, api(env) as client:
            read = await client.get("/api/stations/ST1/configuration")
            assert read.status_code == 200, read.text
            entries = {e["key"]: e for e in read.json()["configuration"]}
            assert entries["HeartbeatInterval"] == {
                "key": "HeartbeatInterval",
                "value": "300",
                "readonly": False,
            }
            some = await client.get(
                "/api/stations/ST1/configuration",
                params=[("key", "HeartbeatInterval"), ("key", "Nope")],
            )
            assert some.json()["unknown_keys"] == ["Nope"]
            assert [e["key"] for e in some.json()["configuration"]] == ["HeartbeatInterval"]

            written = await client.put(
                "/api/stations/ST1/configuration/HeartbeatInterval", json={"value": "600"}
            )
            assert written.json() == {"status": "Accepted"}
            assert cp.configuration["HeartbeatInterval"] == ("600", False)

            trigger = await client.post("/api/stations/ST1/trigger", json={"message": "Heartbeat"})
            assert trigger.json() == {"status": "Accepted"}
            reset = await client.post("/api/stations/ST1/reset", json={"type": "Soft"})
            assert reset.json() == {"status": "Accepted"}
            cp.statuses["RemoteStartTransaction"] = "Rejected"
            start = await client.post(
                "/api/stations/ST1/remote-start", json={"id_tag": "TAG1", "connector_id": 1}
            )
            assert start.json() == {"status": "Rejected"}
            unlock = await client.post("/api/stations/ST1/unlock", json={"connector_id": 1})
            assert unlock.json() == {"status": "Unlocked"}
            avail = await client.post(
                "/api/stations/ST1/availability", json={"connector_id": 0, "type": "Inoperative"}
            )
            assert avail.json() == {"status": "Accepted"}
            profile = {
                "chargingProfileId": 1,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16}],
                },
            }
            sent = await client.post(
                "/api/stations/ST1/charging-profile", json={"connector_id": 1, "profile": profile}
            )
            assert sent.json() == {"status": "Accepted"}
            cleared = await client.delete(
                "/api/stations/ST1/charging-profile", params={"profile_id": "1"}
            )
            assert cleared.json() == {"status": "Accepted"}
            raw = await client.post("/api/stations/ST1/call/GetLocalListVersion", json={})
            assert raw.json() == {"listVersion": 7}
            assert {
                "GetConfiguration",
                "ChangeConfiguration",
                "TriggerMessage",
                "Reset",
                "RemoteStartTransaction",
                "UnlockConnector",
                "ChangeAvailability",
                "SetChargingProfile",
                "ClearChargingProfile",
                "GetLocalListVersion",
            } <= set(cp.actions())

            rotated = await client.post("/api/stations/ST1/rotate-password")
            assert rotated.json() == {"status": "Accepted"}
            password = bytes.fromhex(cp.configuration["AuthorizationKey"][0]).decode()
            assert password not in rotated.text
            stored = await env.load()
            assert stored.password_hash is not None
            assert verify_password(password, stored.password_hash)

    run(test)


def test_bad_bodies_and_raw_calls_are_422_located() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp, api(env) as client:
            reset = await client.post("/api/stations/ST1/reset", json={"type": "Medium", "x": 1})
            fields = {e["field"] for e in problem(reset, 422, "invalid-input")["errors"]}
            assert fields == {"type", "x"}
            raw = await client.post(
                "/api/stations/ST1/call/ChangeAvailability",
                json={"connectorId": "one", "type": "Operative"},
            )
            problem(raw, 422, "invalid-input")
            unknown = await client.post("/api/stations/ST1/call/NoSuchAction", json={})
            problem(unknown, 422, "invalid-input")
            query = await client.get("/api/stations/ST1/configuration", params={"keys": "A"})
            assert problem(query, 422, "invalid-input")["errors"][0]["field"] == "keys"
            assert "ChangeAvailability" not in cp.actions()

    run(test)


def test_not_connected_unknown_call_error_and_timeout() -> None:
    async def test() -> None:
        async with running(make_station(), make_station("ST2")) as env, api(env) as client:
            idle = await client.post("/api/stations/ST2/reset", json={"type": "Hard"})
            problem(idle, 409, "not-connected")
            missing = await client.get("/api/stations/NOPE/configuration")
            problem(missing, 404, "not-found")

            async with env.station() as cp:
                cp.errors["UnlockConnector"] = NotSupportedError("no lock on this one")
                failed = await client.post("/api/stations/ST1/unlock", json={"connector_id": 1})
                body = problem(failed, 502, "station-call-error")
                assert (body["code"], body["description"]) == (
                    "NotSupported",
                    "no lock on this one",
                )

            env.core.commands.timeout = 0.2
            async with connect(env.url("ST2"), subprotocols=["ocpp1.6"]) as ws:
                await env.session("ST2")
                late = await client.post("/api/stations/ST2/reset", json={"type": "Soft"})
                problem(late, 504, "station-timeout")
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert frame[2] == "Reset"

    run(test)


def test_id_tokens_crud_and_authorisation() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp, api(env) as client:
            await cp.boot()
            expiry = (datetime.now(UTC) + timedelta(days=30)).replace(microsecond=0)
            created = await client.post(
                "/api/id-tokens",
                json={"id_token": "TAG1", "expiry_date": expiry.isoformat(), "group_id": "G"},
            )
            assert created.status_code == 201, created.text
            assert created.headers["location"] == "/api/id-tokens/TAG1"
            assert created.json() == {
                "id_token": "TAG1",
                "type": "ISO14443",
                "status": "Accepted",
                "expiry_date": expiry.isoformat().replace("+00:00", "Z"),
                "group_id": "G",
            }
            again = await client.post("/api/id-tokens", json={"id_token": "TAG1"})
            problem(again, 409, "conflict")
            bad = await client.post(
                "/api/id-tokens",
                json={"id_token": "", "status": "Maybe", "expiry_date": "2030-01-01T00:00:00"},
            )
            fields = {e["field"] for e in problem(bad, 422, "invalid-input")["errors"]}
            assert fields == {"id_token", "status", "expiry_date"}

            answer = await cp.call(call.Authorize(id_tag="TAG1"))
            assert answer.id_tag_info["status"] == "Accepted"

            patched = await client.patch("/api/id-tokens/TAG1", json={"status": "Blocked"})
            assert patched.json()["status"] == "Blocked"
            assert (await client.get("/api/id-tokens/TAG1")).json()["status"] == "Blocked"
            answer = await cp.call(call.Authorize(id_tag="TAG1"))
            assert answer.id_tag_info["status"] == "Blocked"

            listing = await client.get("/api/id-tokens")
            assert [t["id_token"] for t in listing.json()["items"]] == ["TAG1"]
            assert (await client.delete("/api/id-tokens/TAG1")).status_code == 204
            problem(await client.get("/api/id-tokens/TAG1"), 404, "not-found")
            problem(await client.delete("/api/id-tokens/TAG1"), 404, "not-found")
            answer = await cp.call(call.Authorize(id_tag="TAG1"))
            assert answer.id_tag_info["status"] == "Invalid"

    run(test)


def test_transactions_are_listed() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp, api(env) as client:
            await cp.boot()
            started = await cp.call(
                call.StartTransaction(
                    connector_id=1, id_tag="TAG1", meter_start=1000, timestamp=now_text()
                )
            )
            page = (await client.get("/api/transactions", params={"station_id": "ST1"})).json()
            assert (page["page"], page["page_size"], page["total"]) == (1, 50, 1)
            item = page["items"][0]
            assert item["transaction_id"] == str(started.transaction_id)
            assert (item["state"], item["meter_start"], item["orphan"]) == ("active", 1000, False)
            await cp.call(
                call.StopTransaction(
                    meter_stop=1500,
                    timestamp=now_text(),
                    transaction_id=started.transaction_id,
                    reason="Local",
                )
            )
            ended = (await client.get("/api/transactions", params={"state": "ended"})).json()
            assert ended["items"][0]["energy_wh"] == 500
            assert ended["items"][0]["stop_reason"] == "Local"
            assert set(ended["items"][0]) == {
                "station_id",
                "transaction_id",
                "connector_id",
                "evse_id",
                "id_tag",
                "started_at",
                "meter_start",
                "state",
                "stopped_at",
                "meter_stop",
                "stop_reason",
                "energy_wh",
                "orphan",
            }
            active = (await client.get("/api/transactions", params={"state": "active"})).json()
            assert active["total"] == 0
            bad = await client.get("/api/transactions", params={"state": "x", "page": "0"})
            problem(bad, 422, "invalid-input")

    run(test)


def test_openapi_covers_the_new_routes() -> None:
    async def test() -> None:
        async with running(make_station()) as env, api(env) as client:
            paths = (await client.get("/openapi.json")).json()["paths"]
            assert {"get"} <= set(paths["/api/stations/{station_id}/configuration"])
            reset = paths["/api/stations/{station_id}/reset"]["post"]
            assert {"409", "422", "502", "504"} <= set(reset["responses"])
            assert set(paths["/api/stations/{station_id}/charging-profile"]) == {
                "post",
                "delete",
            }
            assert set(paths["/api/id-tokens/{id_token}"]) == {"get", "patch", "delete"}
            assert "/api/transactions" in paths

    run(test)

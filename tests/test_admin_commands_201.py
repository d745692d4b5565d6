"""The admin API's live routes and the library's commands for an OCPP 2.0.1 station: the same
routes and calls as for OCPP 1.6 (``tests/test_admin_commands.py``), with an
``ocpp.v201.ChargePoint`` station connected to the reference wiring."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from ocpp.exceptions import NotSupportedError

from evcharge_core.admin import create_app
from evcharge_core.domain.credentials import verify_password
from evcharge_core.domain.model import Charger, Connector
from evcharge_core.domain.transactions import IdToken
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType

from .ocpp16 import harness as harness16
from .ocpp201.harness import Env, make_station, run, running, until

TOKEN = "test-token"


@contextlib.asynccontextmanager
async def api(env: Env | harness16.Env) -> AsyncIterator[httpx.AsyncClient]:
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


def _connector(evse_id: int, ocpp_id: int) -> Connector:
    return Connector(
        id=f"c{evse_id}-{ocpp_id}",
        ocpp_id=ocpp_id,
        code=str(ocpp_id),
        name="C",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=16,
    )


def _charger(evse_id: int, *connectors: int, reservable: bool) -> Charger:
    return Charger(
        id=f"ch{evse_id}",
        evse_id=evse_id,
        code=f"CH{evse_id}",
        name=f"EVSE {evse_id}",
        reservable=reservable,
        connectors=tuple(_connector(evse_id, c) for c in connectors),
    )


def _station() -> Any:
    return make_station(
        chargers=[_charger(1, 1, reservable=True), _charger(2, 1, 2, reservable=False)]
    )


# --- configuration ---------------------------------------------------------------------------


def test_configuration_read_and_write_with_component_variable_keys() -> None:
    async def test() -> None:
        async with running(_station()) as env, env.station() as cp, api(env) as client:
            keys = [
                "OCPPCommCtrlr.HeartbeatInterval",
                "EVSE[evse=1].AvailabilityState",
                "Connector[EVSE=1,connector=1].ConnectorType",
                "SecurityCtrlr.BasicAuthPassword",
                "Nope.Nothing",
            ]
            read = await client.get(
                "/api/stations/ST1/configuration", params=[("key", k) for k in keys]
            )
            assert read.status_code == 200, read.text
            body = read.json()
            assert body["configuration"] == [
                {"key": "OCPPCommCtrlr.HeartbeatInterval", "value": "300", "readonly": None},
                {"key": "EVSE[evse=1].AvailabilityState", "value": "Available", "readonly": None},
                {
                    "key": "Connector[evse=1,connector=1].ConnectorType",
                    "value": "cType2",
                    "readonly": None,
                },
            ]
            assert body["unknown_keys"] == ["Nope.Nothing"]
            assert body["rejected"] == [
                {"key": "SecurityCtrlr.BasicAuthPassword", "status": "Rejected"}
            ]
            # The station takes 2 items per GetVariables: its limits were asked for (one at a
            # time), then the five keys went in three messages.
            sizes = [len(p["get_variable_data"]) for p in cp.payloads("GetVariables")]
            assert sizes == [1, 1, 2, 2, 1]

            # With no key: the whole configuration inventory, from a GetBaseReport.
            everything = (await client.get("/api/stations/ST1/configuration")).json()
            entries = {e["key"]: e for e in everything["configuration"]}
            assert entries["OCPPCommCtrlr.HeartbeatInterval"]["readonly"] is False
            assert entries["DeviceDataCtrlr.ItemsPerMessage[GetVariables]"] == {
                "key": "DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
                "value": "2",
                "readonly": True,
            }
            assert cp.payloads("GetBaseReport")[-1]["report_base"] == "ConfigurationInventory"
            # Now the device model is known, a read says what is read-only.
            again = await client.get(
                "/api/stations/ST1/configuration", params={"key": "OCPPCommCtrlr.HeartbeatInterval"}
            )
            assert again.json()["configuration"][0]["readonly"] is False

            written = await client.put(
                "/api/stations/ST1/configuration/OCPPCommCtrlr.HeartbeatInterval",
                json={"value": "600"},
            )
            assert written.json() == {"status": "Accepted"}
            assert cp.variables["OCPPCommCtrlr.HeartbeatInterval"][0] == "600"
            model = (await client.get("/api/stations/ST1/device-model")).json()["variables"]
            heartbeat = next(v for v in model if v["key"] == "OCPPCommCtrlr.HeartbeatInterval")
            assert heartbeat["value"] == "600"
            refused = await client.put(
                "/api/stations/ST1/configuration/EVSE[evse=1].AvailabilityState",
                json={"value": "Faulted"},
            )
            assert refused.json() == {"status": "Rejected"}
            bad = await client.put(
                "/api/stations/ST1/configuration/HeartbeatInterval", json={"value": "1"}
            )
            assert problem(bad, 422, "invalid-input")["errors"][0]["field"] == "key"

    run(test)


def test_password_rotation_and_password_writes() -> None:
    async def test() -> None:
        async with running(_station()) as env, env.station() as cp, api(env) as client:
            rotated = await client.post("/api/stations/ST1/rotate-password")
            assert rotated.json() == {"status": "Accepted"}
            password = cp.variables["SecurityCtrlr.BasicAuthPassword"][0]
            assert 16 <= len(password) <= 40
            assert password not in rotated.text
            stored = await env.load()
            assert verify_password(password, stored.password_hash)
            # The device model never keeps it.
            model = await env.core.charging.device_model("ST1")
            assert all(v.key.variable != "BasicAuthPassword" for v in model)

            chosen = "Another-password-42"
            written = await client.put(
                "/api/stations/ST1/configuration/securityctrlr.basicauthpassword",
                json={"value": chosen},
            )
            assert written.json() == {"status": "Accepted"}
            assert verify_password(chosen, (await env.load()).password_hash)
            too_short = await client.put(
                "/api/stations/ST1/configuration/SecurityCtrlr.BasicAuthPassword",
                json={"value": "short"},
            )
            problem(too_short, 422, "invalid-input")
            cp.statuses["SetVariables"] = "Rejected"
            assert (await client.post("/api/stations/ST1/rotate-password")).json() == {
                "status": "Rejected"
            }
            assert verify_password(chosen, (await env.load()).password_hash)

    run(test)


# --- the other commands ----------------------------------------------------------------------


def test_commands_reach_the_station_in_ocpp_2_0_1() -> None:
    async def test() -> None:
        async with running(_station()) as env, env.station() as cp, api(env) as client:
            await env.core.charging.save_id_token(IdToken("CARD1", type="ISO14443"))

            async def post(path: str, body: dict[str, Any]) -> Any:
                response = await client.post(f"/api/stations/ST1/{path}", json=body)
                assert response.status_code == 200, response.text
                return response.json()

            assert await post("trigger", {"message": "Heartbeat"}) == {"status": "Accepted"}
            await post("trigger", {"message": "StatusNotification", "connector_id": 2})
            await post("trigger", {"message": "MeterValues", "evse_id": 2, "connector_id": 1})
            assert [p.get("evse") for p in cp.payloads("TriggerMessage")] == [
                None,
                {"id": 2},
                {"id": 2, "connector_id": 1},
            ]
            await post("reset", {"type": "Soft"})
            await post("reset", {"type": "Hard"})
            await post("reset", {"type": "Immediate", "evse_id": 2})
            assert cp.payloads("Reset") == [
                {"type": "OnIdle"},
                {"type": "Immediate"},
                {"type": "Immediate", "evse_id": 2},
            ]
            cp.statuses["RequestStartTransaction"] = "Rejected"
            assert await post("remote-start", {"id_tag": "CARD1", "connector_id": 1}) == {
                "status": "Rejected"
            }
            await post("remote-start", {"id_tag": "APP-USER-7"})
            first, second = cp.payloads("RequestStartTransaction")
            assert first["id_token"] == {"id_token": "CARD1", "type": "ISO14443"}
            assert first["evse_id"] == 1
            assert second["id_token"] == {"id_token": "APP-USER-7", "type": "Central"}
            assert "evse_id" not in second
            assert isinstance(first["remote_start_id"], int)
            await post("remote-stop", {"transaction_id": "tx-201"})
            assert cp.payloads("RequestStopTransaction") == [{"transaction_id": "tx-201"}]

            assert await post("unlock", {"connector_id": 1}) == {"status": "Unlocked"}
            await post("unlock", {"evse_id": 2, "connector_id": 2})
            assert cp.payloads("UnlockConnector") == [
                {"evse_id": 1, "connector_id": 1},
                {"evse_id": 2, "connector_id": 2},
            ]
            several = await client.post("/api/stations/ST1/unlock", json={"connector_id": 2})
            assert "several connectors" in problem(several, 422, "invalid-input")["detail"]

            await post("availability", {"connector_id": 0, "type": "Inoperative"})
            await post("availability", {"connector_id": 2, "type": "Operative"})
            assert cp.payloads("ChangeAvailability") == [
                {"operational_status": "Inoperative"},
                {"operational_status": "Operative", "evse": {"id": 2}},
            ]

            expiry = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
            reserved = await post(
                "reserve", {"connector_id": 1, "id_tag": "CARD1", "expiry_date": expiry}
            )
            assert reserved["status"] == "Accepted"
            [reservation] = cp.payloads("ReserveNow")
            assert (reservation["id"], reservation["evse_id"]) == (reserved["reservation_id"], 1)
            assert reservation["id_token"] == {"id_token": "CARD1", "type": "ISO14443"}
            not_reservable = await client.post(
                "/api/stations/ST1/reserve",
                json={"connector_id": 2, "id_tag": "CARD1", "expiry_date": expiry},
            )
            problem(not_reservable, 409, "conflict")
            cancel = {"reservation_id": reserved["reservation_id"]}
            assert await post("cancel-reservation", cancel) == {"status": "Accepted"}

            profile = {
                "id": 10,
                "stackLevel": 0,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [
                    {
                        "id": 1,
                        "chargingRateUnit": "A",
                        "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 16.0}],
                    }
                ],
            }
            assert await post("charging-profile", {"connector_id": 1, "profile": profile}) == {
                "status": "Accepted"
            }
            assert cp.payloads("SetChargingProfile")[0]["evse_id"] == 1
            cleared = await client.delete(
                "/api/stations/ST1/charging-profile",
                params={"purpose": "ChargePointMaxProfile", "connector_id": "0"},
            )
            assert cleared.json() == {"status": "Accepted"}
            assert cp.payloads("ClearChargingProfile") == [
                {
                    "charging_profile_criteria": {
                        "evse_id": 0,
                        "charging_profile_purpose": "ChargingStationMaxProfile",
                    }
                }
            ]
            raw = await client.post("/api/stations/ST1/call/GetLocalListVersion", json={})
            assert raw.json() == {"versionNumber": 7}
            invalid = await client.post(
                "/api/stations/ST1/call/Reset", json={"type": "Soft"}
            )  # 1.6's word: not 2.0.1's schema
            problem(invalid, 422, "invalid-input")
            one_six = await client.post(
                "/api/stations/ST1/call/RemoteStartTransaction", json={"idTag": "A"}
            )
            problem(one_six, 422, "invalid-input")
            cp.errors["Reset"] = NotSupportedError("not here")
            failed = await client.post("/api/stations/ST1/reset", json={"type": "Soft"})
            assert problem(failed, 502, "station-call-error")["code"] == "NotSupported"

    run(test)


def test_base_report_fills_the_device_model_read_by_the_admin_api() -> None:
    async def test() -> None:
        async with running(_station()) as env, env.station() as cp, api(env) as client:
            assert (await client.get("/api/stations/ST1/device-model")).json() == {"variables": []}
            cp.report_parts = 3
            answer = await client.post("/api/stations/ST1/base-report", json={})
            assert answer.status_code == 200, answer.text
            body = answer.json()
            assert body["status"] == "Accepted"
            await until(lambda: body["request_id"] in cp.reports_sent, "the report")
            assert cp.payloads("GetBaseReport") == [
                {"request_id": body["request_id"], "report_base": "FullInventory"}
            ]
            model = (await client.get("/api/stations/ST1/device-model")).json()["variables"]
            assert [v["key"] for v in model] == sorted(cp.variables)
            connector = next(v for v in model if v["component"] == "Connector")
            assert {k: connector[k] for k in ("evse_id", "connector_id", "variable")} == {
                "evse_id": 1,
                "connector_id": 1,
                "variable": "ConnectorType",
            }
            assert connector["mutability"] == "ReadOnly"
            assert connector["attribute_type"] == "Actual"
            problem(await client.get("/api/stations/NOPE/device-model"), 404, "not-found")
            unknown_base = await client.post(
                "/api/stations/ST1/base-report", json={"report_base": "Everything"}
            )
            problem(unknown_base, 422, "invalid-input")

    run(test)


def test_openapi_lists_the_2_0_1_routes() -> None:
    async def test() -> None:
        async with running(_station()) as env, api(env) as client:
            paths = (await client.get("/openapi.json")).json()["paths"]
            assert "get" in paths["/api/stations/{station_id}/device-model"]
            assert "post" in paths["/api/stations/{station_id}/base-report"]

    run(test)


def test_ocpp_1_6_stations_refuse_what_is_2_0_1_only() -> None:
    async def test() -> None:
        async with (
            harness16.running(harness16.make_station()) as env,
            env.station(),
            api(env) as client,
        ):
            problem(await client.post("/api/stations/ST1/base-report", json={}), 409, "conflict")
            with_evse = await client.post(
                "/api/stations/ST1/unlock", json={"connector_id": 1, "evse_id": 1}
            )
            assert problem(with_evse, 422, "invalid-input")["errors"][0]["field"] == "evse_id"
            assert (await client.get("/api/stations/ST1/device-model")).json() == {"variables": []}

    run(test)

"""Simulated stations over real sockets on 127.0.0.1 against a minimal CSMS built on the
``ocpp`` package (``tests/simulator/csms.py``), independent of evcharge_core's server.

Each test runs its own event loop; every frame a station sends is checked against the
``ocpp`` package's OCPP 1.6 schemas at the end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from ocpp.exceptions import NotImplementedError as OcppNotImplemented
from ocpp.v16 import call, call_result
from websockets.asyncio.server import ServerConnection, serve

from evcharge_core.simulator import (
    ConnectionLost,
    SimulatedStation,
    SimulationConfig,
    refusal_reason,
    run_simulation,
)

from .csms import TestCsms, now, schema_problems

PASSWORD = "first-password-0001"


def fast(url: str, **changes: Any) -> SimulationConfig:
    settings: dict[str, Any] = {
        "connectors": 2,
        "transactions": False,
        "think_time": (0.05, 0.1),
        "charge_time": (30.0, 30.0),
        "unplug_time": (0.05, 0.05),
        "meter_interval": 1,
        "reconnect_delay": (0.05, 0.1),
        "boot_retry": 0.2,
        "reboot_delay": 0.05,
        "shutdown_grace": 2.0,
        "call_timeout": 5.0,
        "seed": 1,
    }
    settings.update(changes)
    return SimulationConfig(url=url, **settings)


@asynccontextmanager
async def running(station: SimulatedStation) -> AsyncIterator[SimulatedStation]:
    task = asyncio.create_task(station.run())
    try:
        yield station
    finally:
        station.stop()
        await asyncio.wait_for(task, 10)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def statuses(csms: TestCsms, connector_id: int) -> list[str]:
    return [
        p["status"] for p in csms.payloads("StatusNotification") if p["connectorId"] == connector_id
    ]


def test_boot_statuses_and_heartbeat() -> None:
    async def test() -> None:
        async with TestCsms(interval=1) as csms:
            station = SimulatedStation("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: "Heartbeat" in csms.actions())
            boot = csms.payloads("BootNotification")[0]
            assert boot["chargePointVendor"] == "evcharge"
            assert boot["chargePointModel"] == "simulator"
            assert boot["chargePointSerialNumber"] == "SIM1"
            assert "firmwareVersion" in boot
            assert csms.actions()[:4] == ["BootNotification"] + ["StatusNotification"] * 3
            assert [statuses(csms, n)[0] for n in (0, 1, 2)] == ["Available"] * 3
            assert csms.handshakes == [("SIM1", 101)]
            assert station.stats.boots == {"Accepted": 1}
            assert station.model.heartbeat_interval() == 1
            assert schema_problems(csms.frames) == []

    run(test)


def test_a_full_transaction_with_meter_values() -> None:
    async def test() -> None:
        async with TestCsms() as csms:
            config = fast(csms.url, connectors=1, transactions=True, charge_time=(1.3, 1.3))
            station = SimulatedStation("SIM1", config)
            async with running(station):
                await csms.wait_for(
                    lambda: (
                        statuses(csms, 1)[-1:] == ["Available"]
                        and "StopTransaction" in csms.actions()
                    )
                )
            assert statuses(csms, 1)[:5] == [
                "Available",
                "Preparing",
                "Charging",
                "Finishing",
                "Available",
            ]
            calls = [a for a in csms.actions() if a != "StatusNotification"]
            assert calls[:3] == ["BootNotification", "Authorize", "StartTransaction"]
            assert csms.payloads("Authorize")[0] == {"idTag": "SIMTAG"}
            start = csms.payloads("StartTransaction")[0]
            assert (start["connectorId"], start["idTag"]) == (1, "SIMTAG")
            values = csms.payloads("MeterValues")
            assert values, "at least one periodic sample in 1.3 s at a 1 s interval"
            sample = values[0]
            assert sample["transactionId"] == 1001
            measured = {
                (v["measurand"], v.get("phase")): v for v in sample["meterValue"][0]["sampledValue"]
            }
            assert set(measured) == {
                ("Energy.Active.Import.Register", None),
                ("Power.Active.Import", None),
                ("Current.Import", "L1"),
                ("Current.Import", "L2"),
                ("Current.Import", "L3"),
            }
            energy = int(measured["Energy.Active.Import.Register", None]["value"])
            power = float(measured["Power.Active.Import", None]["value"])
            assert measured["Energy.Active.Import.Register", None]["unit"] == "Wh"
            assert start["meterStart"] < energy  # it charged for a second at ~3.7-22 kW
            assert 3000 < power < 22100
            stop = csms.payloads("StopTransaction")[0]
            assert stop["transactionId"] == 1001
            assert stop["reason"] == "Local"
            assert stop["meterStop"] >= energy
            assert station.stats.transactions_started == station.stats.transactions_stopped == 1
            assert schema_problems(csms.frames) == []

    run(test)


def test_csms_calls_get_the_right_answers() -> None:
    async def test() -> None:
        async with TestCsms() as csms:
            station = SimulatedStation("SIM1", fast(csms.url, password=PASSWORD))
            csms.passwords["SIM1"] = PASSWORD
            async with running(station):
                await csms.wait_for(lambda: len(statuses(csms, 2)) == 1)
                cp = csms.charge_points["SIM1"]

                got = await cp.call(
                    call.GetConfiguration(key=["HeartbeatInterval", "AuthorizationKey", "Nope"])
                )
                assert got.configuration_key == [
                    {"key": "HeartbeatInterval", "readonly": False, "value": "300"}
                ]
                assert got.unknown_key == ["AuthorizationKey", "Nope"]
                everything = await cp.call(call.GetConfiguration())
                keys = {item["key"]: item for item in everything.configuration_key}
                assert "AuthorizationKey" not in keys
                assert keys["NumberOfConnectors"]["value"] == "2"
                assert keys["MeterValueSampleInterval"]["value"] == "1"
                assert keys["ConnectionTimeOut"]["readonly"] is False

                changes = [
                    ("MeterValueSampleInterval", "5", "Accepted"),
                    ("NumberOfConnectors", "5", "Rejected"),
                    ("Nope", "1", "NotSupported"),
                ]
                for key, value, expected in changes:
                    result = await cp.call(call.ChangeConfiguration(key=key, value=value))
                    assert result.status == expected
                assert station.model.meter_interval() == 5

                before = len(csms.payloads("StatusNotification"))
                result = await cp.call(
                    call.TriggerMessage(requested_message="StatusNotification", connector_id=1)
                )
                assert result.status == "Accepted"
                await csms.wait_for(lambda: len(csms.payloads("StatusNotification")) > before)
                assert csms.payloads("StatusNotification")[-1]["connectorId"] == 1
                for message in (
                    "Heartbeat",
                    "MeterValues",
                    "DiagnosticsStatusNotification",
                    "FirmwareStatusNotification",
                    "BootNotification",
                ):
                    result = await cp.call(call.TriggerMessage(requested_message=message))
                    assert result.status == "Accepted"
                    await csms.wait_for(lambda m=message: m in csms.actions()[-3:])
                bad = await cp.call(
                    call.TriggerMessage(requested_message="Heartbeat", connector_id=7)
                )
                assert bad.status == "Rejected"

                started = await cp.call(
                    call.RemoteStartTransaction(id_tag="REMOTE1", connector_id=2)
                )
                assert started.status == "Accepted"
                await csms.wait_for(lambda: statuses(csms, 2)[-1:] == ["Charging"])
                assert csms.payloads("Authorize")[-1] == {"idTag": "REMOTE1"}
                transaction_id = 1001
                assert csms.payloads("StartTransaction")[-1]["connectorId"] == 2
                busy = await cp.call(call.RemoteStartTransaction(id_tag="X", connector_id=2))
                assert busy.status == "Rejected"
                wrong = await cp.call(call.RemoteStopTransaction(transaction_id=5))
                assert wrong.status == "Rejected"
                stopped = await cp.call(call.RemoteStopTransaction(transaction_id=transaction_id))
                assert stopped.status == "Accepted"
                await csms.wait_for(lambda: statuses(csms, 2)[-1:] == ["Available"])
                assert csms.payloads("StopTransaction")[-1]["reason"] == "Remote"
                assert statuses(csms, 2)[-3:] == ["Charging", "Finishing", "Available"]

                unavailable = await cp.call(
                    call.ChangeAvailability(connector_id=1, type="Inoperative")
                )
                assert unavailable.status == "Accepted"
                await csms.wait_for(lambda: statuses(csms, 1)[-1:] == ["Unavailable"])
                reserve = await cp.call(
                    call.ReserveNow(
                        connector_id=2,
                        expiry_date="2099-01-01T00:00:00Z",
                        id_tag="R",
                        reservation_id=4,
                    )
                )
                assert reserve.status == "Accepted"
                await csms.wait_for(lambda: statuses(csms, 2)[-1:] == ["Reserved"])
                cancel = await cp.call(call.CancelReservation(reservation_id=4))
                assert cancel.status == "Accepted"
                unlock = await cp.call(call.UnlockConnector(connector_id=1))
                assert unlock.status == "Unlocked"
                transfer = await cp.call(call.DataTransfer(vendor_id="acme"))
                assert transfer.status == "UnknownVendorId"
                version = await cp.call(call.GetLocalListVersion())
                assert version.list_version == 0
                composite = await cp.call(call.GetCompositeSchedule(connector_id=1, duration=60))
                assert composite.status == "Accepted"
                diagnostics = await cp.call(call.GetDiagnostics(location="ftp://example.org/"))
                assert diagnostics.file_name.startswith("SIM1-diagnostics-")
                await csms.wait_for(
                    lambda: (
                        {"status": "Uploading"} in csms.payloads("DiagnosticsStatusNotification")
                    )
                )
                firmware = await cp.call(
                    call.UpdateFirmware(location="https://example.org/fw", retrieve_date=now())
                )
                assert firmware == call_result.UpdateFirmware()
                await csms.wait_for(
                    lambda: {"status": "Downloading"} in csms.payloads("FirmwareStatusNotification")
                )
                with pytest.raises(OcppNotImplemented):
                    await cp.call(
                        call.GetLog(
                            log_type="DiagnosticsLog",
                            request_id=1,
                            log={"remoteLocation": "ftp://example.org/"},
                        ),
                        suppress=False,
                    )
            assert station.stats.action("GetLog").errors_sent == 1
            assert schema_problems(csms.frames) == ["CALLERROR NotImplemented for GetLog"]

    run(test)


@pytest.mark.parametrize(("status", "interval"), [("Pending", 1), ("Rejected", 1), ("Pending", 0)])
def test_pending_or_rejected_boots_are_retried(status: str, interval: int) -> None:
    async def test() -> None:
        async with TestCsms(boot_statuses=[status], interval=interval) as csms:
            station = SimulatedStation("SIM1", fast(csms.url, transactions=True))
            async with running(station):
                await csms.wait_for(lambda: len(csms.payloads("BootNotification")) == 1)
                if status == "Pending":  # a Pending station answers the CSMS
                    cp = csms.charge_points["SIM1"]
                    result = await cp.call(call.GetConfiguration(key=["NumberOfConnectors"]))
                    assert result.configuration_key[0]["value"] == "2"
                    assert csms.actions() == ["BootNotification"]
                await csms.wait_for(lambda: len(statuses(csms, 2)) == 1)
            assert station.stats.boots == {status: 1, "Accepted": 1}
            assert csms.actions()[:2] == ["BootNotification", "BootNotification"]
            assert schema_problems(csms.frames) == []

    run(test)


def test_trigger_boot_while_pending() -> None:
    async def test() -> None:
        async with TestCsms(boot_statuses=["Pending"], interval=60) as csms:
            station = SimulatedStation("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: len(csms.payloads("BootNotification")) == 1)
                cp = csms.charge_points["SIM1"]
                result = await cp.call(call.TriggerMessage(requested_message="StatusNotification"))
                assert result.status == "Accepted"
                await csms.wait_for(lambda: len(csms.payloads("StatusNotification")) == 3)
                result = await cp.call(call.TriggerMessage(requested_message="BootNotification"))
                assert result.status == "Accepted"
                await csms.wait_for(lambda: len(csms.payloads("StatusNotification")) == 6)
            assert station.stats.boots == {"Pending": 1, "Accepted": 1}
            assert schema_problems(csms.frames) == []

    run(test)


def test_reconnects_after_the_csms_closes() -> None:
    async def test() -> None:
        async with TestCsms() as csms:
            station = SimulatedStation("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: len(statuses(csms, 2)) == 1)
                await csms.charge_points["SIM1"].ws.close(1001, "going away")
                await csms.wait_for(lambda: len(statuses(csms, 2)) == 2)
            assert station.stats.connections == 2
            assert station.stats.disconnections == 1
            assert station.stats.close_codes == {1001: 1}
            assert csms.actions().count("BootNotification") == 2
            assert schema_problems(csms.frames) == []

    run(test)


def test_new_authorization_key_is_used_on_the_next_connection() -> None:
    async def test() -> None:
        async with TestCsms(passwords={"SIM1": PASSWORD}) as csms:
            station = SimulatedStation("SIM1", fast(csms.url, password=PASSWORD))
            async with running(station):
                await csms.wait_for(lambda: len(statuses(csms, 2)) == 1)
                cp = csms.charge_points["SIM1"]
                new = "second-password-0002"
                result = await cp.call(call.ChangeConfiguration(key="AuthorizationKey", value=new))
                assert result.status == "Accepted"
                csms.passwords["SIM1"] = new
                await cp.ws.close()
                await csms.wait_for(lambda: len(statuses(csms, 2)) == 2)
            assert csms.handshakes == [("SIM1", 101), ("SIM1", 101)]
            assert schema_problems(csms.frames) == []

    run(test)


def test_reset_stops_the_transaction_and_reboots() -> None:
    async def test() -> None:
        async with TestCsms() as csms:
            station = SimulatedStation("SIM1", fast(csms.url, connectors=1))
            async with running(station):
                await csms.wait_for(lambda: len(statuses(csms, 1)) == 1)
                cp = csms.charge_points["SIM1"]
                await cp.call(call.RemoteStartTransaction(id_tag="R"))
                await csms.wait_for(lambda: statuses(csms, 1)[-1:] == ["Charging"])
                result = await cp.call(call.Reset(type="Soft"))
                assert result.status == "Accepted"
                await csms.wait_for(lambda: csms.actions().count("BootNotification") == 2)
                await csms.wait_for(lambda: statuses(csms, 1)[-1:] == ["Available"])
            assert csms.payloads("StopTransaction")[0]["reason"] == "SoftReset"
            assert station.stats.reboots == 1
            assert station.stats.disconnections == 0  # the station closed it
            assert schema_problems(csms.frames) == []

    run(test)


def test_rejected_id_tags() -> None:
    async def test() -> None:
        async with TestCsms(tag_statuses={"SIMTAG": "Invalid", "LATE": "Blocked"}) as csms:
            station = SimulatedStation("SIM1", fast(csms.url, connectors=1, transactions=True))
            async with running(station):
                await csms.wait_for(
                    lambda: statuses(csms, 1)[:3] == ["Available", "Preparing", "Available"]
                )
            assert "StartTransaction" not in csms.actions()
            assert station.stats.id_tags_rejected >= 1
        # accepted by Authorize (AuthorizeRemoteTxRequests off) but not by StartTransaction
        async with TestCsms(tag_statuses={"LATE": "Blocked"}) as csms:
            station = SimulatedStation("SIM2", fast(csms.url, connectors=1))
            station.model.configuration.change("AuthorizeRemoteTxRequests", "false")
            async with running(station):
                await csms.wait_for(lambda: len(statuses(csms, 1)) == 1)
                await csms.charge_points["SIM2"].call(call.RemoteStartTransaction(id_tag="LATE"))
                await csms.wait_for(lambda: "StopTransaction" in csms.actions())
            assert "Authorize" not in csms.actions()
            assert csms.payloads("StopTransaction")[0]["reason"] == "DeAuthorized"
            assert schema_problems(csms.frames) == []

    run(test)


def test_answers_the_csms_while_waiting_for_an_answer() -> None:
    """The CSMS sends a CALL and waits for its answer before answering the station's
    BootNotification: a station that cannot answer while its own CALL is pending would
    deadlock here."""

    async def test() -> None:
        seen: list[Any] = []

        async def csms(ws: ServerConnection) -> None:
            boot = json.loads(await ws.recv())
            seen.append(boot[2])
            await ws.send(json.dumps([2, "csms-1", "GetConfiguration", {"key": ["Nope"]}]))
            answer = json.loads(await ws.recv())
            seen.append(answer)
            await ws.send(
                json.dumps(
                    [
                        3,
                        boot[1],
                        {
                            "status": "Accepted",
                            "currentTime": "2026-01-01T00:00:00Z",
                            "interval": 300,
                        },
                    ]
                )
            )
            async for _ in ws:
                pass

        async with serve(csms, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
            port = next(iter(server.sockets)).getsockname()[1]
            station = SimulatedStation("SIM1", fast(f"ws://127.0.0.1:{port}/"))
            async with running(station):
                async with asyncio.timeout(3):
                    while not station.accepted:
                        await asyncio.sleep(0.01)
        assert seen == [
            "BootNotification",
            [3, "csms-1", {"configurationKey": [], "unknownKey": ["Nope"]}],
        ]
        assert station.stats.boots == {"Accepted": 1}

    run(test)


def test_refusals_are_reported_by_reason() -> None:
    async def test() -> None:
        async with TestCsms(passwords={"SIM2": PASSWORD}) as csms:
            wrong_path = fast(csms.url.replace("/ocpp/", "/nope/x/"), duration=0.4)
            report = await run_simulation(wrong_path)
            assert set(report.to_dict()["refusals"]) == {
                "HTTP 404: not found (unknown station ID or wrong URL path)"
            }
            wrong_password = fast(csms.url, duration=0.4, id_start=2, password="wrong-password-000")
            report = await run_simulation(wrong_password)
            assert set(report.to_dict()["refusals"]) == {
                "HTTP 401: unauthorized (password missing or wrong)"
            }
            assert report.exit_status == 1
            port = int(csms.url.split(":")[2].split("/")[0])
        report = await run_simulation(fast(f"ws://127.0.0.1:{port}/ocpp/", duration=0.3))
        assert list(report.to_dict()["refusals"]) == [
            "connection refused (nothing listening at that address)"
        ]
        assert report.exit_status == 1

    run(test)


def test_refusal_reasons() -> None:
    assert refusal_reason(TimeoutError()) == "timeout opening the connection"
    assert refusal_reason(OSError(101, "Network is unreachable")) == (
        "network error: Network is unreachable"
    )
    assert refusal_reason(ValueError()) == "connection failed: ValueError"


def test_calling_while_disconnected() -> None:
    async def test() -> None:
        station = SimulatedStation("SIM1", fast("ws://127.0.0.1:9/"))
        with pytest.raises(ConnectionLost):
            await station.call("Heartbeat", {})

    run(test)


def test_run_simulation_with_many_stations() -> None:
    async def test() -> None:
        async with TestCsms() as csms:
            config = fast(
                csms.url,
                stations=5,
                transactions=True,
                duration=1.5,
                ramp_up=0.2,
                charge_time=(0.3, 0.5),
            )
            report = await run_simulation(config)
            data = report.to_dict()
            assert data["stations_connected"] == data["stations_accepted"] == 5
            assert data["boots"]["Accepted"] == 5
            assert data["transactions"]["started"] >= 5
            assert data["transactions"]["stopped"] == data["transactions"]["started"]
            assert {sid for sid, _ in csms.handshakes} == {f"SIM{n}" for n in range(1, 6)}
            assert schema_problems(csms.frames) == []
            # every station ended idle: its last status per connector is Available
            for station_id in (f"SIM{n}" for n in range(1, 6)):
                last: dict[int, str] = {}
                for payload in csms.payloads("StatusNotification", station_id):
                    last[payload["connectorId"]] = payload["status"]
                assert set(last.values()) == {"Available"}, (station_id, last)

    run(test)


def test_a_misbehaving_csms() -> None:
    """Broken frames are counted and, when they are CALLs, answered; a CallError to the
    BootNotification makes the station retry it."""

    async def test() -> None:
        answers: list[Any] = []

        async def csms(ws: ServerConnection) -> None:
            first = json.loads(await ws.recv())
            await ws.send(json.dumps([4, first[1], "InternalError", "try later", {}]))
            boot = json.loads(await ws.recv())
            for junk in ("not json", '[2, "c1", "Reset", []]', '[3, "nobody", {}]', '[7, "x"]'):
                await ws.send(junk)
            await ws.send(json.dumps([2, "c2", "Reset", {"type": "Sideways"}]))
            await ws.send(json.dumps([3, boot[1], {"status": "Accepted"}]))  # no interval
            for _ in range(2):
                answers.append(json.loads(await ws.recv()))  # noqa: PERF401 - awaits
            async for _ in ws:
                pass

        async with serve(csms, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
            port = next(iter(server.sockets)).getsockname()[1]
            station = SimulatedStation("SIM1", fast(f"ws://127.0.0.1:{port}/", boot_retry=0.1))
            async with running(station):
                async with asyncio.timeout(3):
                    while len(answers) < 2:
                        await asyncio.sleep(0.01)
        assert answers[0][:3] == [4, "c1", "FormationViolation"]
        assert answers[1][:3] == [4, "c2", "PropertyConstraintViolation"]
        stats = station.stats
        assert stats.call_error_codes == {"InternalError": 1}
        assert stats.action("BootNotification").call_errors == 1
        assert stats.invalid_frames == 3
        assert stats.invalid_responses == 2  # the unknown ID and the boot without interval
        assert stats.action("Reset").errors_sent == 1

    run(test)

"""Simulated OCPP 2.0.1 stations over real sockets on 127.0.0.1 against a minimal CSMS built on
the ``ocpp`` package's ``ocpp.v201.ChargePoint`` (``tests/simulator/csms201.py``), independent
of evcharge_core's server.

Each test runs its own event loop; every frame a station sends is checked against the
``ocpp`` package's OCPP 2.0.1 schemas at the end.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import (
    FormatViolationError,
    NotSupportedError,
    OccurrenceConstraintViolationError,
)
from ocpp.exceptions import SecurityError as OcppSecurityError
from ocpp.v201 import call
from websockets.asyncio.server import ServerConnection, serve

from evcharge_core.simulator import (
    SimulatedStation,
    SimulatedStation201,
    SimulationConfig,
    run_simulation,
    simulated_station,
)

from .csms201 import TestCsms201, schema_problems_201

PASSWORD = "first-password-0001"


def fast(url: str, **changes: Any) -> SimulationConfig:
    settings: dict[str, Any] = {
        "protocol": "ocpp2.0.1",
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
async def running(station: SimulatedStation201) -> AsyncIterator[SimulatedStation201]:
    task = asyncio.create_task(station.run())
    try:
        yield station
    finally:
        station.stop()
        await asyncio.wait_for(task, 10)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(test())


def events(csms: TestCsms201, transaction_id: str | None = None) -> list[tuple[str, str]]:
    """(eventType, triggerReason) of every TransactionEvent (of one transaction)."""
    return [
        (e["eventType"], e["triggerReason"])
        for e in csms.transaction_events()
        if transaction_id in (None, e["transactionInfo"]["transactionId"])
    ]


def later(seconds: float) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def get_data(comp: str, var: str, **extra: Any) -> dict[str, Any]:
    return {"component": {"name": comp}, "variable": {"name": var}, **extra}


def set_data(comp: str, var: str, value: str, instance: str | None = None) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": var}
    if instance is not None:
        variable["instance"] = instance
    return {"component": {"name": comp}, "variable": variable, "attributeValue": value}


def test_the_factory_picks_the_class_and_each_class_checks_the_protocol() -> None:
    config = fast("ws://127.0.0.1:9/")
    assert isinstance(simulated_station("SIM1", config), SimulatedStation201)
    one_six = SimulationConfig(url="ws://127.0.0.1:9/")
    assert isinstance(simulated_station("SIM1", one_six), SimulatedStation)
    with pytest.raises(ValueError, match=r"SimulatedStation speaks ocpp1\.6, not ocpp2\.0\.1"):
        SimulatedStation("SIM1", config)
    with pytest.raises(ValueError, match="use simulated_station"):
        SimulatedStation201("SIM1", one_six)


def test_boot_statuses_and_heartbeat() -> None:
    async def test() -> None:
        async with TestCsms201(interval=1) as csms:
            station = SimulatedStation201("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: "Heartbeat" in csms.actions())
                assert station.accepted
            boot = csms.payloads("BootNotification")[0]
            assert boot["reason"] == "PowerUp"
            charging_station = boot["chargingStation"]
            assert charging_station["vendorName"] == "evcharge"
            assert charging_station["model"] == "simulator"
            assert charging_station["serialNumber"] == "SIM1"
            assert charging_station["firmwareVersion"].startswith("evcharge-simulator ")
            assert len(charging_station["modem"]["iccid"]) == 20
            assert len(charging_station["modem"]["imsi"]) == 15
            assert csms.actions()[:3] == ["BootNotification"] + ["StatusNotification"] * 2
            notifications = csms.payloads("StatusNotification")
            assert [(n["evseId"], n["connectorId"], n["connectorStatus"]) for n in notifications][
                :2
            ] == [(1, 1, "Available"), (2, 1, "Available")]
            assert all(n["timestamp"].endswith("Z") for n in notifications)
            assert csms.handshakes == [("SIM1", 101)]
            assert station.stats.boots == {"Accepted": 1}
            assert station.model.heartbeat_interval() == 1
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_a_full_transaction_with_meter_values() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            config = fast(csms.url, connectors=1, transactions=True, charge_time=(1.3, 1.3))
            station = SimulatedStation201("SIM1", config)
            async with running(station):
                await csms.wait_for(
                    lambda: (
                        csms.statuses(1)[-1:] == ["Available"]
                        and ("Ended", "StopAuthorized") in events(csms)
                    )
                )
            assert csms.statuses(1)[:3] == ["Available", "Occupied", "Available"]
            sent = csms.transaction_events()
            transaction_id = sent[0]["transactionInfo"]["transactionId"]
            assert len(transaction_id) == 36
            mine = [e for e in sent if e["transactionInfo"]["transactionId"] == transaction_id]
            assert [e["seqNo"] for e in mine] == list(range(len(mine)))
            kinds = [(e["eventType"], e["triggerReason"]) for e in mine]
            assert kinds[:3] == [
                ("Started", "CablePluggedIn"),
                ("Updated", "Authorized"),
                ("Updated", "ChargingStateChanged"),
            ]
            assert ("Updated", "MeterValuePeriodic") in kinds
            assert kinds[-1] == ("Ended", "StopAuthorized")
            calls = [a for a in csms.actions() if a != "StatusNotification"]
            assert calls[:3] == ["BootNotification", "TransactionEvent", "Authorize"]
            assert csms.payloads("Authorize")[0] == {
                "idToken": {"idToken": "SIMTAG", "type": "ISO14443"}
            }
            started, authorized, charging = mine[:3]
            assert started["evse"] == {"id": 1, "connectorId": 1}
            assert started["transactionInfo"]["chargingState"] == "EVConnected"
            assert "idToken" not in started
            begin = started["meterValue"][0]["sampledValue"]
            assert [(v["measurand"], v["context"]) for v in begin] == [
                ("Energy.Active.Import.Register", "Transaction.Begin")
            ]
            assert authorized["idToken"] == {"idToken": "SIMTAG", "type": "ISO14443"}
            assert charging["transactionInfo"]["chargingState"] == "Charging"
            assert charging["numberOfPhasesUsed"] in (1, 3)
            periodic = next(e for e in mine if e["triggerReason"] == "MeterValuePeriodic")
            measured = {
                (v["measurand"], v.get("phase")): v
                for v in periodic["meterValue"][0]["sampledValue"]
            }
            assert set(measured) == {
                ("Energy.Active.Import.Register", None),
                ("Power.Active.Import", None),
                ("Current.Import", "L1"),
                ("Current.Import", "L2"),
                ("Current.Import", "L3"),
            }
            energy = measured["Energy.Active.Import.Register", None]
            assert energy["unitOfMeasure"] == {"unit": "Wh"}
            assert begin[0]["value"] < energy["value"]  # a second at 3.7 to 22 kW
            assert 3000 < measured["Power.Active.Import", None]["value"] < 22100
            ended = mine[-1]
            assert ended["transactionInfo"]["stoppedReason"] == "Local"
            assert ended["transactionInfo"]["chargingState"] == "EVConnected"
            assert ended["idToken"] == {"idToken": "SIMTAG", "type": "ISO14443"}
            end = ended["meterValue"][0]["sampledValue"][0]
            assert end["context"] == "Transaction.End"
            assert end["value"] >= energy["value"]
            assert "offline" not in ended
            assert station.stats.transactions_started >= 1
            assert station.stats.transactions_stopped == station.stats.transactions_started
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_device_model_calls() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            station = SimulatedStation201("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(2)) == 1)
                cp = csms.charge_points["SIM1"]
                got = await cp.call(
                    call.GetVariables(
                        get_variable_data=[
                            get_data("OCPPCommCtrlr", "HeartbeatInterval"),
                            get_data("Nope", "HeartbeatInterval"),
                            get_data("OCPPCommCtrlr", "Nope"),
                            get_data("SecurityCtrlr", "BasicAuthPassword"),
                            get_data("OCPPCommCtrlr", "HeartbeatInterval", attributeType="Target"),
                            {
                                "component": {"name": "EVSE", "evse": {"id": 2}},
                                "variable": {"name": "AvailabilityState"},
                            },
                            {
                                "component": {"name": "DeviceDataCtrlr"},
                                "variable": {"name": "ItemsPerMessage", "instance": "GetVariables"},
                            },
                        ]
                    )
                )
                results = [
                    (r["attribute_status"], r.get("attribute_value"))
                    for r in got.get_variable_result
                ]
                assert results == [
                    ("Accepted", "300"),
                    ("UnknownComponent", None),
                    ("UnknownVariable", None),
                    ("Rejected", None),
                    ("NotSupportedAttributeType", None),
                    ("Accepted", "Available"),
                    ("Accepted", "10"),
                ]
                done = await cp.call(
                    call.SetVariables(
                        set_variable_data=[
                            set_data("OCPPCommCtrlr", "HeartbeatInterval", "1"),
                            set_data("SecurityCtrlr", "SecurityProfile", "2"),
                            set_data("SampledDataCtrlr", "TxUpdatedInterval", "soon"),
                            set_data("Nope", "Enabled", "true"),
                            set_data("AuthCtrlr", "Nope", "true"),
                            set_data("OCPPCommCtrlr", "NetworkConfigurationPriority", "1,0"),
                        ]
                    )
                )
                statuses = [
                    (r["attribute_status"], r.get("attribute_status_info", {}).get("reason_code"))
                    for r in done.set_variable_result
                ]
                assert statuses == [
                    ("Accepted", None),
                    ("Rejected", "ReadOnly"),
                    ("Rejected", "InvalidValue"),
                    ("UnknownComponent", None),
                    ("UnknownVariable", None),
                    ("RebootRequired", None),
                ]
                await csms.wait_for(lambda: "Heartbeat" in csms.actions())  # the new interval
                too_many = [get_data("OCPPCommCtrlr", "HeartbeatInterval")] * 11
                with pytest.raises(OccurrenceConstraintViolationError):
                    await cp.call(call.GetVariables(get_variable_data=too_many), suppress=False)
                too_long = [set_data("SecurityCtrlr", "OrganizationName", "x" * 1000)] * 5
                with pytest.raises(FormatViolationError):
                    await cp.call(call.SetVariables(set_variable_data=too_long), suppress=False)
                # the reboot-required value is in force after a reboot
                assert (
                    station.model.device.value("OCPPCommCtrlr", "NetworkConfigurationPriority")
                    == "0"
                )
                await cp.call(call.Reset(type="Immediate"))
                await csms.wait_for(lambda: csms.actions().count("BootNotification") == 2)
                assert (
                    station.model.device.value("OCPPCommCtrlr", "NetworkConfigurationPriority")
                    == "1,0"
                )
            answers = station.stats.answers
            assert answers["GetVariables"] == {
                "Accepted": 3,
                "UnknownComponent": 1,
                "UnknownVariable": 1,
                "Rejected": 1,
                "NotSupportedAttributeType": 1,
            }
            assert answers["SetVariables"]["RebootRequired"] == 1
            assert station.stats.action("GetVariables").errors_sent == 1
            problems = schema_problems_201(csms.frames)
            assert problems == [
                "CALLERROR OccurrenceConstraintViolation for GetVariables",
                "CALLERROR FormatViolation for SetVariables",
            ]
            assert csms.payloads("BootNotification")[1]["reason"] == "RemoteReset"

    run(test)


def test_get_base_report() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            station = SimulatedStation201("SIM1", fast(csms.url, connectors=3))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(3)) == 1)
                cp = csms.charge_points["SIM1"]
                result = await cp.call(
                    call.GetBaseReport(request_id=7, report_base="FullInventory")
                )
                assert result.status == "Accepted"
                await csms.wait_for(
                    lambda: any(not r["tbc"] for r in csms.payloads("NotifyReport"))
                )
                result = await cp.call(
                    call.GetBaseReport(request_id=8, report_base="SummaryInventory")
                )
                await csms.wait_for(
                    lambda: any(
                        r["requestId"] == 8 and not r["tbc"] for r in csms.payloads("NotifyReport")
                    )
                )
                await csms.wait_for(
                    lambda: (
                        station.stats.action("NotifyReport").ok
                        == len(csms.payloads("NotifyReport"))
                    )
                )
            full = [r for r in csms.payloads("NotifyReport") if r["requestId"] == 7]
            assert [r["seqNo"] for r in full] == list(range(len(full)))
            assert [r["tbc"] for r in full] == [True] * (len(full) - 1) + [False]
            assert all(len(r["reportData"]) <= 20 for r in full)
            items = [item for r in full for item in r["reportData"]]
            found = {
                (
                    item["component"]["name"],
                    item["component"].get("evse", {}).get("id"),
                    item["variable"]["name"],
                    item["variable"].get("instance"),
                ): item
                for item in items
            }
            for key in (
                ("DeviceDataCtrlr", None, "ItemsPerMessage", "GetVariables"),
                ("DeviceDataCtrlr", None, "BytesPerMessage", "SetVariables"),
                ("SecurityCtrlr", None, "BasicAuthPassword", None),
                ("OCPPCommCtrlr", None, "HeartbeatInterval", None),
                ("SampledDataCtrlr", None, "TxUpdatedInterval", None),
                ("EVSE", 3, "AvailabilityState", None),
                ("Connector", 3, "ConnectorType", None),
            ):
                assert key in found, key
            password = found["SecurityCtrlr", None, "BasicAuthPassword", None]
            assert password["variableAttribute"] == [
                {"type": "Actual", "mutability": "WriteOnly", "persistent": True, "constant": False}
            ]
            interval = found["OCPPCommCtrlr", None, "HeartbeatInterval", None]
            assert interval["variableAttribute"][0]["value"] == "300"
            assert interval["variableCharacteristics"]["unit"] == "s"
            summary = [r for r in csms.payloads("NotifyReport") if r["requestId"] == 8]
            names = {item["variable"]["name"] for r in summary for item in r["reportData"]}
            assert names == {"AvailabilityState", "Available"}
            assert station.stats.action("NotifyReport").ok == len(full) + len(summary)
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_remote_start_profiles_and_remote_stop() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            station = SimulatedStation201("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(2)) == 1)
                cp = csms.charge_points["SIM1"]
                token = {"idToken": "REMOTE1", "type": "Central"}
                default = {
                    "id": 1,
                    "stackLevel": 0,
                    "chargingProfilePurpose": "TxDefaultProfile",
                    "chargingProfileKind": "Absolute",
                    "chargingSchedule": [
                        {
                            "id": 1,
                            "chargingRateUnit": "W",
                            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 7000}],
                        }
                    ],
                }
                result = await cp.call(call.SetChargingProfile(evse_id=0, charging_profile=default))
                assert result.status == "Accepted"
                result = await cp.call(
                    call.RequestStartTransaction(id_token=token, remote_start_id=42, evse_id=2)
                )
                assert result.status == "Accepted"
                await csms.wait_for(lambda: ("Updated", "ChargingStateChanged") in events(csms))
                started = csms.transaction_events()[0]
                assert (started["eventType"], started["triggerReason"]) == (
                    "Started",
                    "RemoteStart",
                )
                assert started["transactionInfo"]["remoteStartId"] == 42
                assert started["idToken"] == token
                assert started["evse"]["id"] == 2
                assert csms.payloads("Authorize")[0]["idToken"] == token
                transaction_id = started["transactionInfo"]["transactionId"]
                status = await cp.call(call.GetTransactionStatus(transaction_id=transaction_id))
                assert status.ongoing_indicator is True
                unlock = await cp.call(call.UnlockConnector(evse_id=2, connector_id=1))
                assert unlock.status == "OngoingAuthorizedTransaction"
                triggered = await cp.call(
                    call.TriggerMessage(requested_message="TransactionEvent", evse={"id": 2})
                )
                assert triggered.status == "Accepted"
                await csms.wait_for(lambda: ("Updated", "Trigger") in events(csms))
                trigger = next(
                    e for e in csms.transaction_events() if e["triggerReason"] == "Trigger"
                )
                assert trigger["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
                tx_profile = {
                    **default,
                    "id": 2,
                    "chargingProfilePurpose": "TxProfile",
                    "chargingProfileKind": "Relative",
                    "transactionId": transaction_id,
                }
                result = await cp.call(
                    call.SetChargingProfile(evse_id=2, charging_profile=tx_profile)
                )
                assert result.status == "Accepted"
                wrong = {**tx_profile, "transactionId": "not-this-one"}
                result = await cp.call(call.SetChargingProfile(evse_id=2, charging_profile=wrong))
                assert (result.status, result.status_info["reason_code"]) == (
                    "Rejected",
                    "TxNotFound",
                )
                composite = await cp.call(call.GetCompositeSchedule(duration=60, evse_id=2))
                assert composite.status == "Accepted"
                assert composite.schedule["charging_schedule_period"][0]["limit"] == 7000
                assert station.model.limit_for(station.model.evse(2), datetime.now(UTC)) == 7000
                stop = await cp.call(call.RequestStopTransaction(transaction_id=transaction_id))
                assert stop.status == "Accepted"
                await csms.wait_for(lambda: csms.statuses(2)[-1:] == ["Available"])
                unknown = await cp.call(call.RequestStopTransaction(transaction_id=transaction_id))
                assert unknown.status == "Rejected"
            mine = [
                e
                for e in csms.transaction_events()
                if e["transactionInfo"]["transactionId"] == transaction_id
            ]
            assert [e["seqNo"] for e in mine] == list(range(len(mine)))
            ended = mine[-1]
            assert (ended["eventType"], ended["triggerReason"]) == ("Ended", "RemoteStop")
            assert ended["transactionInfo"]["stoppedReason"] == "Remote"
            # the TxProfile ended with the transaction; the default stays and is reported
            assert station.stats.charging_profiles == [
                {"id": 1, "evse_id": 0, "purpose": "TxDefaultProfile", "stack_level": 0}
            ]
            assert station.stats.answers["SetChargingProfile"] == {"Accepted": 2, "Rejected": 1}
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_availability_reservations_triggers_and_the_rest() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            station = SimulatedStation201("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(2)) == 1)
                cp = csms.charge_points["SIM1"]
                result = await cp.call(
                    call.ChangeAvailability(operational_status="Inoperative", evse={"id": 2})
                )
                assert result.status == "Accepted"
                await csms.wait_for(lambda: csms.statuses(2)[-1:] == ["Unavailable"])
                reserve = call.ReserveNow(
                    id=5,
                    expiry_date_time=later(60),
                    id_token={"idToken": "R", "type": "ISO14443"},
                    evse_id=2,
                )
                assert (await cp.call(reserve)).status == "Unavailable"
                await cp.call(
                    call.ChangeAvailability(operational_status="Operative", evse={"id": 2})
                )
                assert (await cp.call(reserve)).status == "Accepted"
                await csms.wait_for(lambda: csms.statuses(2)[-1:] == ["Reserved"])
                assert (
                    await cp.call(call.CancelReservation(reservation_id=5))
                ).status == "Accepted"
                await csms.wait_for(lambda: csms.statuses(2)[-1:] == ["Available"])
                short = call.ReserveNow(
                    id=6,
                    expiry_date_time=later(1),
                    id_token={"idToken": "R", "type": "ISO14443"},
                    evse_id=1,
                )
                assert (await cp.call(short)).status == "Accepted"
                await csms.wait_for(lambda: bool(csms.payloads("ReservationStatusUpdate")))
                assert csms.payloads("ReservationStatusUpdate") == [
                    {"reservationId": 6, "reservationUpdateStatus": "Expired"}
                ]
                await csms.wait_for(lambda: csms.statuses(1)[-2:] == ["Reserved", "Available"])
                triggered = await cp.call(
                    call.TriggerMessage(
                        requested_message="StatusNotification", evse={"id": 1, "connector_id": 1}
                    )
                )
                assert triggered.status == "Accepted"
                for message in (
                    "MeterValues",
                    "Heartbeat",
                    "LogStatusNotification",
                    "FirmwareStatusNotification",
                ):
                    triggered = await cp.call(call.TriggerMessage(requested_message=message))
                    assert triggered.status == "Accepted"
                await csms.wait_for(
                    lambda: (
                        len(csms.payloads("MeterValues")) == 2
                        and "LogStatusNotification" in csms.actions()
                        and "FirmwareStatusNotification" in csms.actions()
                    )
                )
                assert csms.payloads("FirmwareStatusNotification") == [{"status": "Idle"}]
                meter = csms.payloads("MeterValues")[0]
                assert meter["evseId"] == 1
                assert meter["meterValue"][0]["sampledValue"][0]["context"] == "Trigger"
                no_tx = await cp.call(call.TriggerMessage(requested_message="TransactionEvent"))
                assert no_tx.status == "Rejected"
                unsupported = await cp.call(
                    call.TriggerMessage(requested_message="SignChargingStationCertificate")
                )
                assert unsupported.status == "NotImplemented"
                assert (
                    await cp.call(call.UnlockConnector(evse_id=1, connector_id=1))
                ).status == "Unlocked"
                assert (
                    await cp.call(call.UnlockConnector(evse_id=9, connector_id=1))
                ).status == "UnknownConnector"
                assert (
                    await cp.call(call.DataTransfer(vendor_id="acme"))
                ).status == "UnknownVendorId"
                cleared = await cp.call(call.ClearChargingProfile(charging_profile_id=99))
                assert cleared.status == "Unknown"
                with pytest.raises(NotSupportedError):
                    await cp.call(
                        call.GetLog(
                            log={"remoteLocation": "https://example.org/"},
                            log_type="DiagnosticsLog",
                            request_id=1,
                        ),
                        suppress=False,
                    )
            assert station.stats.action("GetLog").errors_sent == 1
            assert schema_problems_201(csms.frames) == ["CALLERROR NotSupported for GetLog"]

    run(test)


def test_reset_stops_the_transaction_and_reboots() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            station = SimulatedStation201("SIM1", fast(csms.url, connectors=1))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(1)) == 1)
                cp = csms.charge_points["SIM1"]
                token = {"idToken": "R", "type": "Central"}
                await cp.call(call.RequestStartTransaction(id_token=token, remote_start_id=1))
                await csms.wait_for(lambda: ("Updated", "ChargingStateChanged") in events(csms))
                result = await cp.call(call.Reset(type="OnIdle"))
                assert result.status == "Scheduled"
                assert station.model.reset_on_idle
                transaction_id = csms.transaction_events()[0]["transactionInfo"]["transactionId"]
                await cp.call(call.RequestStopTransaction(transaction_id=transaction_id))
                await csms.wait_for(lambda: csms.actions().count("BootNotification") == 2)
                # Available, Occupied, Available; after the reboot, Available again
                await csms.wait_for(lambda: station.accepted and len(csms.statuses(1)) == 4)
                cp = csms.charge_points["SIM1"]  # the new connection's
                await cp.call(call.RequestStartTransaction(id_token=token, remote_start_id=2))
                await csms.wait_for(
                    lambda: events(csms).count(("Updated", "ChargingStateChanged")) == 2
                )
                result = await cp.call(call.Reset(type="Immediate"))
                assert result.status == "Accepted"
                await csms.wait_for(lambda: csms.actions().count("BootNotification") == 3)
            reasons = [p["reason"] for p in csms.payloads("BootNotification")]
            assert reasons == ["PowerUp", "RemoteReset", "RemoteReset"]
            ended = [e for e in csms.transaction_events() if e["eventType"] == "Ended"]
            assert [(e["triggerReason"], e["transactionInfo"]["stoppedReason"]) for e in ended] == [
                ("RemoteStop", "Remote"),
                ("ResetCommand", "ImmediateReset"),
            ]
            assert station.stats.reboots == 2
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_a_new_password_is_used_on_the_next_connection_without_booting_again() -> None:
    async def test() -> None:
        async with TestCsms201(passwords={"SIM1": PASSWORD}) as csms:
            station = SimulatedStation201("SIM1", fast(csms.url, password=PASSWORD))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(2)) == 1)
                cp = csms.charge_points["SIM1"]
                new = "second-password-0002"
                result = await cp.call(
                    call.SetVariables(
                        set_variable_data=[
                            set_data("SecurityCtrlr", "BasicAuthPassword", "too-short"),
                            set_data("SecurityCtrlr", "BasicAuthPassword", new),
                        ]
                    )
                )
                assert [r["attribute_status"] for r in result.set_variable_result] == [
                    "Rejected",
                    "Accepted",
                ]
                csms.passwords["SIM1"] = new
                await cp.ws.close()
                await csms.wait_for(lambda: len(csms.statuses(2)) == 2)
            assert csms.handshakes == [("SIM1", 101), ("SIM1", 101)]
            assert csms.actions().count("BootNotification") == 1  # no boot on a reconnection
            assert station.stats.connections == 2
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_a_security_error_makes_the_station_boot_again() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            station = SimulatedStation201("SIM1", fast(csms.url, connectors=1))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(1)) == 1)
                csms.refuse_status_notifications = OcppSecurityError("not registered")
                await csms.charge_points["SIM1"].ws.close()
                await csms.wait_for(lambda: csms.actions().count("BootNotification") == 2)
                await csms.wait_for(lambda: len(csms.statuses(1)) == 3)
            assert [p["reason"] for p in csms.payloads("BootNotification")] == [
                "PowerUp",
                "Unknown",
            ]
            assert station.stats.call_error_codes == {"SecurityError": 1}
            assert schema_problems_201(csms.frames) == []

    run(test)


@pytest.mark.parametrize("status", ["Pending", "Rejected"])
def test_pending_or_rejected_boots_are_retried(status: str) -> None:
    async def test() -> None:
        async with TestCsms201(boot_statuses=[status], interval=1) as csms:
            station = SimulatedStation201("SIM1", fast(csms.url, transactions=True))
            async with running(station):
                await csms.wait_for(lambda: len(csms.payloads("BootNotification")) == 1)
                if status == "Pending":  # a Pending station answers the CSMS and sends a report
                    cp = csms.charge_points["SIM1"]
                    report = await cp.call(
                        call.GetBaseReport(request_id=1, report_base="ConfigurationInventory")
                    )
                    assert report.status == "Accepted"
                    await csms.wait_for(lambda: bool(csms.payloads("NotifyReport")))
                    start = await cp.call(
                        call.RequestStartTransaction(
                            id_token={"idToken": "R", "type": "Central"}, remote_start_id=1
                        )
                    )
                    assert start.status == "Rejected"
                    assert csms.actions() == ["BootNotification"] + ["NotifyReport"] * len(
                        csms.payloads("NotifyReport")
                    )
                await csms.wait_for(lambda: len(csms.statuses(2)) >= 1)
            assert station.stats.boots == {status: 1, "Accepted": 1}
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_trigger_boot_while_pending() -> None:
    async def test() -> None:
        async with TestCsms201(boot_statuses=["Pending"], interval=60) as csms:
            station = SimulatedStation201("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: len(csms.payloads("BootNotification")) == 1)
                cp = csms.charge_points["SIM1"]
                result = await cp.call(call.TriggerMessage(requested_message="BootNotification"))
                assert result.status == "Accepted"
                await csms.wait_for(lambda: len(csms.statuses(2)) == 1)
            assert [p["reason"] for p in csms.payloads("BootNotification")] == [
                "PowerUp",
                "Triggered",
            ]
            assert station.stats.boots == {"Pending": 1, "Accepted": 1}
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_rejected_tokens() -> None:
    async def test() -> None:
        async with TestCsms201(tag_statuses={"SIMTAG": "Invalid"}) as csms:
            station = SimulatedStation201("SIM1", fast(csms.url, connectors=1, transactions=True))
            async with running(station):
                await csms.wait_for(lambda: ("Ended", "EVDeparted") in events(csms))
            assert events(csms)[:2] == [("Started", "CablePluggedIn"), ("Ended", "EVDeparted")]
            ended = csms.transaction_events()[1]
            assert ended["transactionInfo"]["stoppedReason"] == "EVDisconnected"
            assert station.stats.id_tags_rejected >= 1
        # accepted by Authorize (AuthorizeRemoteStart off) but not in the TransactionEvent
        async with TestCsms201(tag_statuses={"LATE": "Blocked"}) as csms:
            station = SimulatedStation201("SIM2", fast(csms.url, connectors=1))
            station.model.device.update(*_key("AuthCtrlr", "AuthorizeRemoteStart"), "false")
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(1)) == 1)
                await csms.charge_points["SIM2"].call(
                    call.RequestStartTransaction(
                        id_token={"idToken": "LATE", "type": "Central"}, remote_start_id=3
                    )
                )
                await csms.wait_for(lambda: ("Ended", "Deauthorized") in events(csms))
            assert "Authorize" not in csms.actions()
            ended = csms.transaction_events()[-1]
            assert ended["transactionInfo"]["stoppedReason"] == "DeAuthorized"
            assert schema_problems_201(csms.frames) == []

    run(test)


def _key(component_name: str, variable_name: str) -> tuple[Any, Any]:
    from evcharge_core.simulator import Component, Variable

    return Component(component_name), Variable(variable_name)


def test_clock_aligned_meter_values() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            station = SimulatedStation201("SIM1", fast(csms.url))
            async with running(station):
                await csms.wait_for(lambda: len(csms.statuses(2)) == 1)
                cp = csms.charge_points["SIM1"]
                result = await cp.call(
                    call.SetVariables(
                        set_variable_data=[set_data("AlignedDataCtrlr", "Interval", "1")]
                    )
                )
                assert result.set_variable_result[0]["attribute_status"] == "Accepted"
                await csms.wait_for(lambda: len(csms.payloads("MeterValues")) >= 4)
            values = csms.payloads("MeterValues")
            assert {v["evseId"] for v in values} == {1, 2}
            sample = values[0]["meterValue"][0]["sampledValue"][0]
            assert (sample["context"], sample["measurand"]) == (
                "Sample.Clock",
                "Energy.Active.Import.Register",
            )
            assert schema_problems_201(csms.frames) == []

    run(test)


def test_run_simulation_with_many_stations() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            config = fast(
                csms.url,
                stations=4,
                transactions=True,
                duration=1.5,
                ramp_up=0.2,
                charge_time=(0.3, 0.5),
            )
            report = await run_simulation(config)
            data = report.to_dict()
            assert data["protocol"] == "ocpp2.0.1"
            assert data["stations_connected"] == data["stations_accepted"] == 4
            assert data["transactions"]["started"] >= 4
            assert data["transactions"]["stopped"] == data["transactions"]["started"]
            assert schema_problems_201(csms.frames) == []
            for station_id in (f"SIM{n}" for n in range(1, 5)):
                last: dict[int, str] = {}
                for payload in csms.payloads("StatusNotification", station_id):
                    last[payload["evseId"]] = payload["connectorStatus"]
                assert set(last.values()) == {"Available"}, (station_id, last)
                by_transaction: dict[str, list[int]] = {}
                for event in csms.transaction_events(station_id):
                    info = event["transactionInfo"]
                    by_transaction.setdefault(info["transactionId"], []).append(event["seqNo"])
                for seq_nos in by_transaction.values():
                    assert seq_nos == list(range(len(seq_nos)))

    run(test)


def test_a_misbehaving_csms() -> None:
    """Broken frames get the OCPP-J 2.0.1 CallErrors; an unknown action NotImplemented."""

    async def test() -> None:
        answers: list[Any] = []

        async def csms(ws: ServerConnection) -> None:
            boot = json.loads(await ws.recv())
            for junk in (
                '[2, "c1", "Reset", []]',
                '[2, "c2", 5, {}]',
                '[7, "c3", {}]',
                '[3, "nobody", {}]',
                '[3, "c7", []]',
            ):
                await ws.send(junk)
            await ws.send(json.dumps([2, "c4", "Reset", {"type": "Sideways"}]))
            await ws.send(json.dumps([2, "c5", "Frobnicate", {}]))
            await ws.send(json.dumps([2, "c6", "GetVariables", {"getVariableData": []}]))
            boot_answer = {
                "status": "Accepted",
                "currentTime": "2026-01-01T00:00:00Z",
                "interval": 300,
            }
            await ws.send(json.dumps([3, boot[1], boot_answer]))
            while len(answers) < 6:
                message = json.loads(await ws.recv())
                if message[0] != 2:
                    answers.append(message)
                else:
                    await ws.send(json.dumps([3, message[1], {}]))
            async for _ in ws:
                pass

        async with serve(csms, "127.0.0.1", 0, subprotocols=["ocpp2.0.1"]) as server:  # type: ignore[list-item]
            port = next(iter(server.sockets)).getsockname()[1]
            station = SimulatedStation201("SIM1", fast(f"ws://127.0.0.1:{port}/"))
            async with running(station):
                async with asyncio.timeout(3):
                    while len(answers) < 6:
                        await asyncio.sleep(0.01)
        assert [a[:3] for a in answers] == [
            [4, "c1", "FormatViolation"],
            [4, "c2", "RpcFrameworkError"],
            [4, "c3", "MessageTypeNotSupported"],
            [4, "c4", "PropertyConstraintViolation"],
            [4, "c5", "NotImplemented"],
            [4, "c6", "OccurrenceConstraintViolation"],
        ]
        assert station.stats.invalid_frames == 4  # the broken CALLRESULT is not answered
        assert station.stats.invalid_responses == 1

    run(test)

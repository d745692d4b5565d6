"""OCPP 1.6J end to end: an ``ocpp`` package charge point against our gateway and
:class:`~evcharge_core.ocpp16.Ocpp16Session`, over real loopback sockets."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import SecurityError
from ocpp.v16 import call
from websockets.asyncio.client import connect

from evcharge_core.domain.model import Activation, ConnectorSpec
from evcharge_core.domain.transactions import AuthorizationStatus, IdToken
from evcharge_core.domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
    RegistrationStatus,
)
from evcharge_core.errors import StationNotConnected

from .harness import (
    SECURITY_CODE,
    Env,
    full_boot_configuration,
    make_station,
    now_text,
    run,
    running,
    until,
)

T2_3PH = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 16
)
CCS = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2_COMBO, ConnectorFormat.CABLE, PowerType.DC, 400, 125
)


async def _import_inactive(env: Env, station_id: str = "ST9") -> None:
    body = {
        "station_id": station_id,
        "security_code": SECURITY_CODE,
        "manufacturer": "Alfen",
        "connectivity": {"wifi": True, "gsm": False},
        "connector_specifications": [
            {
                "standard": "Type 2",
                "format": "Socket",
                "power_type": "Three-phase AC",
                "voltage": 230,
                "amperage": 16,
            }
        ],
    }
    await env.core.stations.import_single(body)
    assert not (await env.load(station_id)).is_active


# --- boot and registration -------------------------------------------------------------------


def test_boot_of_an_active_station_is_accepted_with_the_interval_and_stores_reports() -> None:
    async def test() -> None:
        async with running(make_station(), heartbeat_interval_s=123) as env, env.station() as cp:
            answer = await cp.call(
                call.BootNotification(
                    charge_point_model="M1",
                    charge_point_vendor="V1",
                    charge_point_serial_number="SN-1",
                    firmware_version="1.2.3",
                ),
                suppress=False,
            )
            assert answer.status == "Accepted"
            assert answer.interval == 123
            current = datetime.fromisoformat(answer.current_time)
            assert abs(current - datetime.now(UTC)) < timedelta(seconds=10)
            reported = (await env.load()).reported
            assert (reported.vendor, reported.model) == ("V1", "M1")
            assert reported.serial_number == "SN-1"
            assert reported.firmware_version == "1.2.3"
            heartbeat = await cp.call(call.Heartbeat(), suppress=False)
            assert heartbeat.current_time.endswith("Z")
            session = await env.session()
            assert session.registration is RegistrationStatus.ACCEPTED

    run(test)


def test_imported_inactive_station_is_pending_and_refused_until_activated() -> None:
    async def test() -> None:
        async with running() as env:
            await _import_inactive(env)
            async with env.station("ST9") as cp:
                # Registration is read when the connection opens: refused before any boot.
                with pytest.raises(SecurityError):
                    await cp.call(call.Heartbeat(), suppress=False)
                answer = await cp.boot()
                assert answer.status == "Pending"
                assert answer.interval == env.core.charging.pending_interval_s
                for message in (
                    call.Heartbeat(),
                    call.Authorize(id_tag="TAG"),
                    call.StatusNotification(
                        connector_id=1, error_code="NoError", status="Available"
                    ),
                ):
                    with pytest.raises(SecurityError):
                        await cp.call(message, suppress=False)
                # Nothing the pending station said was applied.
                assert (await env.load("ST9")).chargers == ()

                # Activation while connected: the CSMS triggers a new BootNotification.
                await env.core.stations.activate("ST9", SECURITY_CODE)
                await until(lambda: len(cp.boot_answers) == 2, "a triggered boot")
                assert cp.triggered == ["BootNotification"]
                assert cp.boot_answers[-1].status == "Accepted"
                assert (await env.session("ST9")).registration is RegistrationStatus.ACCEPTED
                heartbeat = await cp.call(call.Heartbeat(), suppress=False)
                assert heartbeat.current_time

    run(test)


def test_station_set_pending_by_an_operator_is_pending() -> None:
    async def test() -> None:
        station = make_station(registration_status=RegistrationStatus.PENDING)
        async with running(station) as env, env.station() as cp:
            assert (await cp.boot()).status == "Pending"
            with pytest.raises(SecurityError):
                await cp.call(call.Heartbeat(), suppress=False)

    run(test)


def test_activation_of_a_station_that_is_not_connected_sends_nothing() -> None:
    async def test() -> None:
        async with running() as env:
            await _import_inactive(env)
            await env.core.stations.activate("ST9", SECURITY_CODE)
            await asyncio.sleep(0.05)
            assert not env.core.commands._tasks

    run(test)


# --- boot configuration ----------------------------------------------------------------------


def test_boot_configuration_is_sent_in_order_after_connection() -> None:
    async def test() -> None:
        station = make_station(
            boot_configuration=full_boot_configuration(), connector_specifications=[T2_3PH]
        )
        async with running(station) as env, env.station() as cp:
            await until(lambda: len(cp.requests) == 4, "four configuration calls")
            assert cp.requests == [
                ("TriggerMessage", {"requested_message": "BootNotification"}),
                ("TriggerMessage", {"requested_message": "StatusNotification"}),
                ("TriggerMessage", {"requested_message": "Heartbeat"}),
                ("ClearChargingProfile", {}),
            ]
            await until(lambda: len(cp.boot_answers) == 1, "the triggered boot")
            assert cp.boot_answers[0].status == "Accepted"

            async def connector_created() -> bool:
                return bool((await env.load()).chargers)

            for _ in range(200):
                if await connector_created():
                    break
                await asyncio.sleep(0.01)
            connector = (await env.load()).chargers[0].connectors[0]
            assert connector.spec == T2_3PH

    run(test)


def test_boot_configuration_goes_on_after_a_refusal_or_call_error() -> None:
    async def test() -> None:
        from ocpp.exceptions import NotSupportedError

        station = make_station(boot_configuration=full_boot_configuration())
        async with running(station) as env, connect(env.url(), subprotocols=["ocpp1.6"]) as ws:
            seen: list[str] = []
            for i in range(4):
                frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
                assert frame[0] == 2
                seen.append(frame[2])
                if i == 0:
                    error = NotSupportedError("no")
                    await ws.send(json.dumps([4, frame[1], error.code, "no", {}]))
                elif i == 1:
                    await ws.send(json.dumps([3, frame[1], {"status": "Rejected"}]))
                elif i == 2:
                    await ws.send(json.dumps([3, frame[1], {"status": 42}]))  # broken
                else:
                    await ws.send(json.dumps([3, frame[1], {"status": "Accepted"}]))
            assert seen == [
                "TriggerMessage",
                "TriggerMessage",
                "TriggerMessage",
                "ClearChargingProfile",
            ]

    run(test)


def test_no_boot_configuration_no_calls() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            await asyncio.sleep(0.05)
            assert cp.requests == []

    run(test)


# --- status, authorisation, transactions, meter values ---------------------------------------


def test_status_notifications_create_connectors_with_the_mapped_specification() -> None:
    async def test() -> None:
        station = make_station(connector_specifications=[T2_3PH, CCS])
        async with running(station) as env, env.station() as cp:
            await cp.boot()
            for connector_id, status in ((2, "Charging"), (1, "Available"), (0, "Available")):
                await cp.call(
                    call.StatusNotification(
                        connector_id=connector_id,
                        error_code="NoError",
                        status=status,
                        timestamp=now_text(),
                    ),
                    suppress=False,
                )
            # No timestamp: now.
            await cp.call(
                call.StatusNotification(
                    connector_id=1, error_code="GroundFailure", status="Faulted", info="earth"
                ),
                suppress=False,
            )
            stored = await env.load()
            connectors = {c.ocpp_id: c for _, c in stored.iter_connectors()}
            assert connectors[1].spec == T2_3PH
            assert connectors[2].spec == CCS
            assert connectors[2].status is not None
            assert connectors[2].status.status.value == "Charging"
            faulted = connectors[1].status
            assert faulted is not None
            assert (faulted.status.value, faulted.error_code, faulted.info) == (
                "Faulted",
                "GroundFailure",
                "earth",
            )
            assert stored.station_status is not None
            assert stored.station_status.error_code is None  # NoError is no error

    run(test)


def test_authorize_reads_the_registry() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            expiry = datetime.now(UTC) + timedelta(days=1)
            await env.core.charging.save_id_token(
                IdToken("GOOD", expiry_date=expiry, group_id="FLEET")
            )
            await env.core.charging.save_id_token(
                IdToken("BLOCKED", status=AuthorizationStatus.BLOCKED)
            )
            good = await cp.call(call.Authorize(id_tag="GOOD"), suppress=False)
            assert good.id_tag_info["status"] == "Accepted"
            assert good.id_tag_info["parent_id_tag"] == "FLEET"
            assert "expiry_date" in good.id_tag_info
            blocked = await cp.call(call.Authorize(id_tag="BLOCKED"), suppress=False)
            assert blocked.id_tag_info == {"status": "Blocked"}
            unknown = await cp.call(call.Authorize(id_tag="NOPE"), suppress=False)
            assert unknown.id_tag_info == {"status": "Invalid"}

    run(test)


def _sampled(value: str, **extra: Any) -> dict[str, Any]:
    return {"value": value, **extra}


def test_transaction_stored_before_confirmation_meter_values_and_stop() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            await env.core.charging.save_id_token(IdToken("TAG1"))
            started_at = "2026-11-25T09:00:00Z"
            start = call.StartTransaction(
                connector_id=1, id_tag="TAG1", meter_start=1000, timestamp=started_at
            )
            answer = await cp.call(start, suppress=False)
            transaction_id = answer.transaction_id
            assert answer.id_tag_info == {"status": "Accepted"}
            # Stored before the confirmation was sent: readable right after it.
            stored = await env.core.charging.get_transaction("ST1", str(transaction_id))
            assert (stored.connector_id, stored.id_tag, stored.meter_start) == (1, "TAG1", 1000)
            # A retransmission gets the same id.
            again = await cp.call(start, suppress=False)
            assert again.transaction_id == transaction_id

            await cp.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=transaction_id,
                    meter_value=[
                        {
                            "timestamp": "2026-11-25T09:10:00Z",
                            "sampledValue": [
                                _sampled("2.5", unit="kWh"),
                                _sampled("7200", measurand="Power.Active.Import", unit="W"),
                                _sampled("not a number", measurand="Voltage", unit="V"),
                                _sampled("DEADBEEF", format="SignedData"),
                            ],
                        }
                    ],
                ),
                suppress=False,
            )
            samples = await env.core.charging.meter_samples("ST1", str(transaction_id))
            assert sorted((s.measurand, s.value, s.unit) for s in samples) == [
                ("Energy.Active.Import.Register", 2.5, "kWh"),
                ("Power.Active.Import", 7200.0, "W"),
            ]
            running_tx = await env.core.charging.get_transaction("ST1", str(transaction_id))
            assert running_tx.energy_wh == 1500  # 2.5 kWh - 1000 Wh

            stop = await cp.call(
                call.StopTransaction(
                    meter_stop=4000,
                    timestamp="2026-11-25T10:00:00Z",
                    transaction_id=transaction_id,
                    reason="Local",
                    id_tag="TAG1",
                    transaction_data=[
                        {
                            "timestamp": "2026-11-25T10:00:00Z",
                            "sampledValue": [{"value": "4000"}],
                        }
                    ],
                ),
                suppress=False,
            )
            assert stop.id_tag_info == {"status": "Accepted"}
            ended = await env.core.charging.get_transaction("ST1", str(transaction_id))
            assert ended.energy_wh == 3000
            assert ended.stop_reason == "Local"

    run(test)


def test_stop_of_an_unknown_transaction_is_answered_and_recorded_as_orphan() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            answer = await cp.call(
                call.StopTransaction(
                    meter_stop=500, timestamp="2026-11-25T10:00:00Z", transaction_id=987654
                ),
                suppress=False,
            )
            assert answer.id_tag_info is None
            orphan = await env.core.charging.get_transaction("ST1", "987654")
            assert orphan.orphan
            assert orphan.meter_stop == 500

    run(test)


def test_data_transfer_and_notifications_are_stored() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            answer = await cp.call(
                call.DataTransfer(vendor_id="com.example", message_id="m", data="{}"),
                suppress=False,
            )
            assert answer.status == "UnknownVendorId"
            await cp.call(call.FirmwareStatusNotification(status="Installed"), suppress=False)
            await cp.call(call.DiagnosticsStatusNotification(status="Idle"), suppress=False)
            await cp.call(
                call.SecurityEventNotification(
                    type="SettingSystemTime", timestamp=now_text(), tech_info=None
                ),
                suppress=False,
            )
            await cp.call(call.LogStatusNotification(status="Idle", request_id=1), suppress=False)
            await cp.call(
                call.SignedFirmwareStatusNotification(status="Installed", request_id=2),
                suppress=False,
            )
            signed = await cp.call(call.SignCertificate(csr="-----BEGIN CSR-----"), suppress=False)
            assert signed.status == "Rejected"
            notes = await env.core.charging.notifications("ST1")
            assert sorted(n.action for n in notes) == [
                "DataTransfer",
                "DiagnosticsStatusNotification",
                "FirmwareStatusNotification",
                "LogStatusNotification",
                "SecurityEventNotification",
                "SignCertificate",
                "SignedFirmwareStatusNotification",
            ]
            transfer = next(n for n in notes if n.action == "DataTransfer")
            assert json.loads(transfer.payload)["vendorId"] == "com.example"

    run(test)


# --- bad input and concurrency ---------------------------------------------------------------


async def _exchange(ws: Any, frame: str) -> list[Any]:
    await ws.send(frame)
    answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert isinstance(answer, list)
    return answer


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ('[2,"1","Heartbeat",', "FormationViolation"),
        ('[2,"1","Heartbeat",[]]', "FormationViolation"),
        ('[9,"1","Heartbeat",{}]', "ProtocolError"),
        ('[2,"1","NoSuchAction",{}]', "NotImplemented"),
        ('[2,"1","Reset",{"type":"Hard"}]', "NotSupported"),
        ('[2,"1","Authorize",{"idTag":5}]', "TypeConstraintViolation"),
        ('[2,"1","Authorize",{}]', "OccurenceConstraintViolation"),
        ('[2,"1","Authorize",{"idTag":"A","x":1}]', "OccurenceConstraintViolation"),
        (
            '[2,"1","Authorize",{"idTag":"ABCDEFGHIJKLMNOPQRSTUVWXYZ"}]',
            "PropertyConstraintViolation",
        ),
        (
            '[2,"1","StatusNotification",{"connectorId":-1,"errorCode":"NoError",'
            '"status":"Available"}]',
            "PropertyConstraintViolation",
        ),
        (
            '[2,"1","StartTransaction",{"connectorId":1,"idTag":"A","meterStart":0,'
            '"timestamp":"2026-02-30T00:00:00Z"}]',
            "PropertyConstraintViolation",
        ),
        (
            '[2,"1","StartTransaction",{"connectorId":0,"idTag":"A","meterStart":0,'
            '"timestamp":"2026-02-03T00:00:00Z"}]',
            "PropertyConstraintViolation",
        ),
        ('[2,"1","MeterValues",{"connectorId":99999999999,"meterValue":[]}]', None),
        ('[2,"1","DataTransfer",{"vendorId":"\\ud800"}]', "PropertyConstraintViolation"),
    ],
)
def test_bad_frames_get_the_call_error_ocpp_j_names(frame: str, code: str | None) -> None:
    async def test() -> None:
        async with (
            running(make_station()) as env,
            connect(env.url(), subprotocols=["ocpp1.6"]) as ws,
        ):
            boot = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
            assert (await _exchange(ws, boot))[0] == 3
            answer = await _exchange(ws, frame)
            assert answer[:2] == [4, "1"]
            if code is not None:
                assert answer[2] == code
            assert "Traceback" not in answer[3]
            # The connection is still usable.
            assert (await _exchange(ws, '[2,"h","Heartbeat",{}]'))[0] == 3

    run(test)


def test_station_call_while_we_await_its_answer_does_not_deadlock() -> None:
    async def test() -> None:
        async with (
            running(make_station()) as env,
            connect(env.url(), subprotocols=["ocpp1.6"]) as ws,
        ):
            boot = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
            assert (await _exchange(ws, boot))[0] == 3
            command = asyncio.create_task(env.core.commands.reset("ST1", "Soft", timeout=5))
            ours = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert ours[2] == "Reset"
            # Before answering, the station sends CALLs of its own: they are answered.
            assert (await _exchange(ws, '[2,"h1","Heartbeat",{}]'))[:2] == [3, "h1"]
            assert (await _exchange(ws, '[2,"h2","Heartbeat",{}]'))[:2] == [3, "h2"]
            # An answer to a CALL nobody awaits is ignored.
            await ws.send('[3,"not-ours",{"status":"Accepted"}]')
            await ws.send(json.dumps([3, ours[1], {"status": "Accepted"}]))
            assert await command == "Accepted"

    run(test)


def test_commands_queue_one_in_flight_per_station() -> None:
    async def test() -> None:
        async with (
            running(make_station()) as env,
            connect(env.url(), subprotocols=["ocpp1.6"]) as ws,
        ):
            await env.session()
            first = asyncio.create_task(env.core.commands.reset("ST1", "Soft", timeout=5))
            second = asyncio.create_task(env.core.commands.reset("ST1", "Hard", timeout=5))
            frame1 = json.loads(await asyncio.wait_for(ws.recv(), 5))
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 0.1)  # the second waits its turn
            await ws.send(json.dumps([3, frame1[1], {"status": "Accepted"}]))
            frame2 = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert (frame1[3], frame2[3]) == ({"type": "Soft"}, {"type": "Hard"})
            await ws.send(json.dumps([3, frame2[1], {"status": "Rejected"}]))
            assert (await first, await second) == ("Accepted", "Rejected")

    run(test)


def test_closing_fails_the_calls_in_flight() -> None:
    async def test() -> None:
        async with running(make_station()) as env:
            async with connect(env.url(), subprotocols=["ocpp1.6"]) as ws:
                session = await env.session()
                command = asyncio.create_task(env.core.commands.reset("ST1", "Soft", timeout=5))
                await asyncio.wait_for(ws.recv(), 5)
            with pytest.raises(StationNotConnected):
                await command
            assert session.closed
            with pytest.raises(StationNotConnected):
                await session.call("Reset", {"type": "Soft"})

    run(test)


def test_registration_read_at_open_for_an_inactive_station() -> None:
    async def test() -> None:
        station = make_station(activation=Activation(ActivationState.INACTIVE))
        async with running(station) as env, env.station():
            session = await env.session()
            assert session.registration is RegistrationStatus.PENDING

    run(test)

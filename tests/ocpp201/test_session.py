"""OCPP 2.0.1 end to end: an ``ocpp.v201.ChargePoint`` station against our gateway and
:class:`~evcharge_core.ocpp201.Ocpp201Session`, over real loopback sockets."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.exceptions import SecurityError
from ocpp.v201 import call
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from evcharge_core.domain.credentials import hash_password
from evcharge_core.domain.device_model import VariableKey
from evcharge_core.domain.events import (
    ConnectorStatusChanged,
    Event,
    TransactionEnded,
    TransactionStarted,
)
from evcharge_core.domain.model import Activation, ConnectorSpec
from evcharge_core.domain.transactions import AuthorizationStatus, IdToken, TransactionState
from evcharge_core.domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    PowerType,
    RegistrationStatus,
)

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

S = ConnectorStatus
DC = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2_COMBO, ConnectorFormat.CABLE, PowerType.DC, 400, 125
)
AC = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 32
)


async def _import_inactive(env: Env, station_id: str = "ST9") -> None:
    body = {
        "station_id": station_id,
        "security_code": SECURITY_CODE,
        "manufacturer": "Alfen",
        "connectivity": {"wifi": True, "gsm": True},
        "connector_specifications": [
            {"standard": "CCS2", "format": "Cable", "power_type": "DC", "voltage": 400,
             "amperage": 125}
        ],
    }  # fmt: skip
    await env.core.stations.import_single(body)
    assert not (await env.load(station_id)).is_active


def _events(env: Env) -> list[Event]:
    seen: list[Event] = []
    env.core.bus.subscribe(seen.append)
    return seen


# --- boot and registration -------------------------------------------------------------------


def test_boot_is_accepted_with_the_interval_and_stores_what_the_station_reports() -> None:
    async def test() -> None:
        async with running(make_station(), heartbeat_interval_s=123) as env, env.station() as cp:
            answer = await cp.boot(
                "V1",
                "M1",
                serial_number="SN-1",
                firmware_version="1.2.3",
                modem={"iccid": "8931", "imsi": "2620"},
            )
            assert (answer.status, answer.interval) == ("Accepted", 123)
            current = datetime.fromisoformat(answer.current_time)
            assert abs(current - datetime.now(UTC)) < timedelta(seconds=10)
            reported = (await env.load()).reported
            assert (reported.vendor, reported.model, reported.serial_number) == ("V1", "M1", "SN-1")
            assert (reported.firmware_version, reported.iccid, reported.imsi) == (
                "1.2.3",
                "8931",
                "2620",
            )
            heartbeat = await cp.call(call.Heartbeat(), suppress=False)
            assert heartbeat.current_time.endswith("Z")
            assert (await env.session()).registration is RegistrationStatus.ACCEPTED

    run(test)


def test_an_imported_station_is_pending_and_refused_until_activated() -> None:
    async def test() -> None:
        async with running() as env:
            await _import_inactive(env)
            async with env.station("ST9") as cp:
                with pytest.raises(SecurityError):
                    await cp.call(call.Heartbeat(), suppress=False)
                answer = await cp.boot()
                assert answer.status == "Pending"
                assert answer.interval == env.core.charging.pending_interval_s
                for message in (
                    call.Heartbeat(),
                    call.Authorize(id_token={"id_token": "TAG", "type": "ISO14443"}),
                    call.StatusNotification(
                        timestamp=now_text(), connector_status="Available", evse_id=1,
                        connector_id=1,
                    ),
                ):  # fmt: skip
                    with pytest.raises(SecurityError):
                        await cp.call(message, suppress=False)
                assert (await env.load("ST9")).chargers == ()
                # The protocol was recorded at the handshake.
                assert (await env.load("ST9")).protocol is not None

                await env.core.stations.activate("ST9", SECURITY_CODE)
                await until(lambda: len(cp.boot_answers) == 2, "a triggered boot")
                assert cp.triggered == ["BootNotification"]
                assert cp.boot_answers[-1].status == "Accepted"
                assert (await env.session("ST9")).registration is RegistrationStatus.ACCEPTED
                await cp.status(1, 1, "Available")
                [(charger, connector)] = list((await env.load("ST9")).iter_connectors())
                assert (charger.evse_id, connector.ocpp_id, connector.spec.power_type) == (
                    1,
                    1,
                    PowerType.DC,
                )

    run(test)


def test_a_station_an_operator_keeps_pending_is_pending() -> None:
    async def test() -> None:
        station = make_station(registration_status=RegistrationStatus.PENDING)
        async with running(station) as env, env.station() as cp:
            assert (await cp.boot()).status == "Pending"
            with pytest.raises(SecurityError):
                await cp.call(call.Heartbeat(), suppress=False)

    run(test)


def test_a_pending_station_may_send_what_the_csms_asked_for() -> None:
    """While Pending, a 2.0.1 station is configured: its report for our GetBaseReport and the
    messages of a TriggerMessage it accepted get through; nothing else does."""

    async def test() -> None:
        station = make_station(registration_status=RegistrationStatus.PENDING)
        async with running(station) as env, env.station() as cp:
            assert (await cp.boot()).status == "Pending"
            result = await env.core.commands.get_base_report("ST1", "ConfigurationInventory")
            assert result.status == "Accepted"
            await until(lambda: result.request_id in cp.reports_sent, "the report")
            model = await env.core.charging.device_model("ST1")
            assert VariableKey("OCPPCommCtrlr", "HeartbeatInterval") in {v.key for v in model}
            # A NotifyReport of a request we never sent is refused.
            with pytest.raises(SecurityError):
                await cp.call(
                    call.NotifyReport(request_id=424242, generated_at=now_text(), seq_no=0),
                    suppress=False,
                )
            with pytest.raises(SecurityError):
                await cp.call(call.Heartbeat(), suppress=False)
            assert await env.core.commands.trigger_message("ST1", "Heartbeat") == "Accepted"
            await until(lambda: "Heartbeat" in cp.triggered, "the trigger")
            heartbeat = await cp.call(call.Heartbeat(), suppress=False)
            assert heartbeat.current_time
            with pytest.raises(SecurityError):
                await cp.status(1, 1, "Available")

    run(test)


# --- boot configuration ----------------------------------------------------------------------


def test_boot_configuration_is_sent_in_order_after_connection() -> None:
    async def test() -> None:
        station = make_station(
            boot_configuration=full_boot_configuration(), connector_specifications=[AC]
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
            for _ in range(200):
                if (await env.load()).chargers:
                    break
                await asyncio.sleep(0.01)
            [(charger, connector)] = list((await env.load()).iter_connectors())
            assert (charger.evse_id, connector.ocpp_id, connector.spec) == (1, 1, AC)

    run(test)


# --- statuses ----------------------------------------------------------------------------


def test_status_per_evse_and_connector_creates_chargers() -> None:
    async def test() -> None:
        station = make_station(connector_specifications=[AC, DC])
        async with running(station) as env, env.station() as cp:
            seen = _events(env)
            await cp.boot()
            await cp.status(2, 1, "Available")
            await cp.status(1, 1, "Occupied")
            await cp.status(1, 2, "Faulted")
            stored = await env.load()
            assert [c.evse_id for c in stored.chargers] == [1, 2]
            assert stored.chargers[1].connectors[0].spec == DC
            statuses = {
                (ch.evse_id, c.ocpp_id): c.status.status
                for ch, c in stored.iter_connectors()
                if c.status is not None
            }
            assert statuses == {(1, 1): S.PREPARING, (1, 2): S.FAULTED, (2, 1): S.AVAILABLE}
            changed = [e for e in seen if isinstance(e, ConnectorStatusChanged)]
            assert {(e.evse_id, e.ocpp_id, e.status) for e in changed} == {
                (2, 1, S.AVAILABLE),
                (1, 1, S.PREPARING),
                (1, 2, S.FAULTED),
            }

    run(test)


# --- authorisation and transactions ----------------------------------------------------------


def _later(seconds: int) -> str:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def _energy(wh: float, context: str | None = None) -> dict[str, Any]:
    sampled: dict[str, Any] = {"value": wh, "measurand": "Energy.Active.Import.Register"}
    if context is not None:
        sampled["context"] = context
    return {"timestamp": now_text(), "sampled_value": [sampled]}


def _event(event_type: str, seq_no: int, state: str | None, **extra: Any) -> call.TransactionEvent:
    info: dict[str, Any] = {"transaction_id": "tx-201"}
    if state is not None:
        info["charging_state"] = state
    info.update(extra.pop("info", {}))
    return call.TransactionEvent(
        event_type=event_type,
        timestamp=extra.pop("timestamp", now_text()),
        trigger_reason=extra.pop("trigger_reason", "ChargingStateChanged"),
        seq_no=seq_no,
        transaction_info=info,
        **extra,
    )


def test_authorize_reads_the_registry() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            expiry = datetime.now(UTC) + timedelta(days=1)
            await env.core.charging.save_id_token(IdToken("GOOD", expiry_date=expiry, group_id="F"))
            await env.core.charging.save_id_token(
                IdToken("BAD", status=AuthorizationStatus.BLOCKED)
            )
            good = await cp.call(
                call.Authorize(id_token={"id_token": "GOOD", "type": "ISO14443"}), suppress=False
            )
            assert good.id_token_info["status"] == "Accepted"
            assert good.id_token_info["group_id_token"] == {"id_token": "F", "type": "Central"}
            assert "cache_expiry_date_time" in good.id_token_info
            bad = await cp.call(
                call.Authorize(id_token={"id_token": "BAD", "type": "ISO14443"}), suppress=False
            )
            assert bad.id_token_info == {"status": "Blocked"}

    run(test)


def test_a_transaction_started_updated_ended_with_meter_values() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            seen = _events(env)
            await cp.boot()
            await env.core.charging.save_id_token(IdToken("TAG1"))
            await cp.status(1, 1, "Occupied")
            started = _event(
                "Started",
                0,
                "Charging",
                trigger_reason="Authorized",
                evse={"id": 1, "connector_id": 1},
                id_token={"id_token": "TAG1", "type": "ISO14443"},
                meter_value=[_energy(1000, "Transaction.Begin")],
            )
            answer = await cp.call(started, suppress=False)
            assert answer.id_token_info == {"status": "Accepted"}
            stored = await env.core.charging.get_transaction("ST1", "tx-201")
            assert (stored.evse_id, stored.connector_id, stored.id_tag, stored.meter_start) == (
                1,
                1,
                "TAG1",
                1000,
            )
            connector = (await env.load()).chargers[0].connectors[0]
            assert connector.status is not None
            assert connector.status.status is S.CHARGING
            # The same seqNo again changes nothing.
            assert (await cp.call(started, suppress=False)).id_token_info == {"status": "Accepted"}

            updated = _event(
                "Updated", 1, "SuspendedEV", trigger_reason="MeterValuePeriodic",
                meter_value=[{"timestamp": now_text(), "sampled_value": [
                    {"value": 2.5, "unit_of_measure": {"unit": "kWh"}},
                    {"value": 7200, "measurand": "Power.Active.Import"},
                ]}],
            )  # fmt: skip
            await cp.call(updated, suppress=False)
            running_tx = await env.core.charging.get_transaction("ST1", "tx-201")
            assert running_tx.energy_wh == 1500
            assert (await env.load()).chargers[0].connectors[0].status.status is S.SUSPENDED_EV

            ended = _event(
                "Ended",
                2,
                "EVConnected",
                trigger_reason="StopAuthorized",
                info={"stopped_reason": "Local"},
                id_token={"id_token": "TAG1", "type": "ISO14443"},
                meter_value=[_energy(4000, "Transaction.End")],
            )
            assert (await cp.call(ended, suppress=False)).id_token_info == {"status": "Accepted"}
            done = await env.core.charging.get_transaction("ST1", "tx-201")
            assert (done.state, done.meter_stop, done.energy_wh, done.stop_reason) == (
                TransactionState.ENDED,
                4000,
                3000,
                "Local",
            )
            assert (await env.load()).chargers[0].connectors[0].status.status is S.FINISHING
            await cp.status(1, 1, "Available", timestamp=_later(5))  # unplugged
            assert (await env.load()).chargers[0].connectors[0].status.status is S.AVAILABLE

            samples = await env.core.charging.meter_samples("ST1", "tx-201")
            assert [(s.measurand, s.value, s.unit) for s in samples] == [
                ("Energy.Active.Import.Register", 1000.0, "Wh"),
                ("Energy.Active.Import.Register", 2.5, "kWh"),
                ("Power.Active.Import", 7200.0, None),
                ("Energy.Active.Import.Register", 4000.0, "Wh"),
            ]
            history = await env.core.charging.transaction_events("ST1", "tx-201")
            assert [(e.seq_no, e.event_type) for e in history] == [
                (0, "Started"),
                (1, "Updated"),
                (2, "Ended"),
            ]
            assert [type(e) for e in seen if isinstance(e, TransactionStarted | TransactionEnded)
                    ] == [TransactionStarted, TransactionEnded]  # fmt: skip

    run(test)


def test_offline_replays_out_of_order_give_the_same_transaction() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            await cp.status(1, 1, "Available")
            base = datetime.now(UTC) - timedelta(hours=2)

            def at(minutes: int) -> str:
                return (base + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

            def offline(kind: str, seq: int, minutes: int, wh: float, state: str) -> Any:
                return _event(
                    kind, seq, state, offline=True, timestamp=at(minutes),
                    evse={"id": 1, "connector_id": 1},
                    meter_value=[{"timestamp": at(minutes), "sampled_value": [
                        {"value": wh, "context": "Transaction.Begin" if seq == 0 else
                         "Sample.Periodic"}]}],
                )  # fmt: skip

            events = [
                offline("Started", 0, 0, 100, "Charging"),
                offline("Updated", 1, 10, 900, "Charging"),
                offline("Ended", 2, 20, 1500, "EVConnected"),
            ]
            for event in (events[2], events[0], events[1], events[0]):
                assert (await cp.call(event, suppress=False)) is not None
            done = await env.core.charging.get_transaction("ST1", "tx-201")
            assert (done.state, done.meter_start, done.energy_wh, done.orphan) == (
                TransactionState.ENDED,
                100,
                1400,
                False,
            )
            # Replayed statuses are older than the connector's Available: ignored.
            connector = (await env.load()).chargers[0].connectors[0]
            assert connector.status is not None
            assert connector.status.status is S.AVAILABLE

    run(test)


def test_meter_values_notify_report_and_notifications_are_stored() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.station() as cp:
            await cp.boot()
            await cp.call(
                call.MeterValues(evse_id=0, meter_value=[_energy(123456)]), suppress=False
            )
            assert [s.value for s in await env.core.charging.meter_samples("ST1", None)] == [
                123456.0
            ]
            await cp.call(
                call.NotifyReport(
                    request_id=5,
                    generated_at=now_text(),
                    seq_no=0,
                    report_data=[
                        {
                            "component": {"name": "EVSE", "evse": {"id": 1}},
                            "variable": {"name": "Power"},
                            "variable_attribute": [
                                {"type": "MaxSet", "value": "22000", "mutability": "ReadOnly"}
                            ],
                            "variable_characteristics": {
                                "unit": "W", "data_type": "decimal", "max_limit": 22000,
                                "supports_monitoring": True,
                            },
                        }
                    ],
                ),
                suppress=False,
            )  # fmt: skip
            [variable] = await env.core.charging.device_model("ST1")
            assert variable.key == VariableKey("EVSE", "Power", evse_id=1, attribute_type="MaxSet")
            assert (variable.value, variable.readonly, variable.max_limit) == ("22000", True, 22000)
            transfer = await cp.call(call.DataTransfer(vendor_id="com.example"), suppress=False)
            assert transfer.status == "UnknownVendorId"
            signed = await cp.call(call.SignCertificate(csr="CSR"), suppress=False)
            assert signed.status == "Rejected"
            await cp.call(
                call.SecurityEventNotification(type="SettingSystemTime", timestamp=now_text()),
                suppress=False,
            )
            await cp.call(
                call.NotifyEvent(
                    generated_at=now_text(),
                    seq_no=0,
                    event_data=[
                        {
                            "event_id": 1,
                            "timestamp": now_text(),
                            "trigger": "Delta",
                            "actual_value": "Faulted",
                            "event_notification_type": "HardWiredNotification",
                            "component": {"name": "Connector"},
                            "variable": {"name": "AvailabilityState"},
                        }
                    ],
                ),
                suppress=False,
            )
            notes = await env.core.charging.notifications("ST1")
            assert sorted(n.action for n in notes) == [
                "DataTransfer",
                "NotifyEvent",
                "SecurityEventNotification",
                "SignCertificate",
            ]
            event = next(n for n in notes if n.action == "NotifyEvent")
            assert json.loads(event.payload)["eventData"][0]["actualValue"] == "Faulted"

    run(test)


# --- bad input -------------------------------------------------------------------------------


async def _exchange(ws: Any, frame: str) -> list[Any]:
    await ws.send(frame)
    answer = json.loads(await asyncio.wait_for(ws.recv(), 5))
    assert isinstance(answer, list)
    return answer


BOOT = json.dumps(
    [2, "b", "BootNotification", {"reason": "PowerUp",
                                  "chargingStation": {"model": "M", "vendorName": "V"}}]
)  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "message_id", "code"),
    [
        ('[2,"1","Heartbeat",', "1", "FormatViolation"),
        ('[2,"1","Heartbeat",[]]', "1", "FormatViolation"),
        ('[2,"1","Heartbeat"]', "1", "RpcFrameworkError"),
        ('[2,1,"Heartbeat",{}]', "-1", "RpcFrameworkError"),
        ('[9,"1","Heartbeat",{}]', "1", "MessageTypeNotSupported"),
        ('[2,"1","NoSuchAction",{}]', "1", "NotImplemented"),
        ('[2,"1","Reset",{"type":"Immediate"}]', "1", "NotSupported"),
        ('[2,"1","Authorize",{"idToken":{"idToken":5,"type":"Local"}}]', "1",
         "TypeConstraintViolation"),
        ('[2,"1","Authorize",{}]', "1", "OccurrenceConstraintViolation"),
        ('[2,"1","Authorize",{"idToken":{"idToken":"A","type":"Local"},"x":1}]', "1",
         "OccurrenceConstraintViolation"),
        ('[2,"1","Authorize",{"idToken":{"idToken":"A","type":"Card"}}]', "1",
         "PropertyConstraintViolation"),
        ('[2,"1","StatusNotification",{"timestamp":"2026-01-01T00:00:00Z",'
         '"connectorStatus":"Available","evseId":0,"connectorId":1}]', "1",
         "PropertyConstraintViolation"),
        ('[2,"1","TransactionEvent",{"eventType":"Started","timestamp":"2026-02-30T00:00:00Z",'
         '"triggerReason":"Authorized","seqNo":0,"transactionInfo":{"transactionId":"t"}}]',
         "1", None),
        ('[2,"1","MeterValues",{"evseId":99999999999,"meterValue":[{"timestamp":'
         '"2026-01-01T00:00:00Z","sampledValue":[{"value":1}]}]}]', "1",
         "PropertyConstraintViolation"),
        ('[2,"1","MeterValues",{"evseId":1,"meterValue":[]}]', "1",
         "OccurrenceConstraintViolation"),
    ],
)  # fmt: skip
def test_bad_frames_get_the_call_error_ocpp_j_2_0_1_names(
    frame: str, message_id: str, code: str | None
) -> None:
    async def test() -> None:
        async with (
            running(make_station()) as env,
            connect(env.url(), subprotocols=["ocpp2.0.1"]) as ws,
        ):
            assert (await _exchange(ws, BOOT))[0] == 3
            answer = await _exchange(ws, frame)
            assert answer[:2] == [4, message_id]
            if code is not None:
                assert answer[2] == code
            assert "Traceback" not in answer[3]
            assert (await _exchange(ws, '[2,"h","Heartbeat",{}]'))[0] == 3

    run(test)


def test_registration_read_at_open_for_an_inactive_station() -> None:
    async def test() -> None:
        station = make_station(activation=Activation(ActivationState.INACTIVE))
        async with running(station) as env, env.station():
            assert (await env.session()).registration is RegistrationStatus.PENDING

    run(test)


# --- security profile 1 ----------------------------------------------------------------------


def test_basic_auth_and_a_rotated_password_take_effect_for_2_0_1_stations() -> None:
    """Security profile 1 for a 2.0.1 station: 401 without the password, in with it; a
    password rotated through SetVariables SecurityCtrlr.BasicAuthPassword is the one the
    station must present on its next connection."""

    def basic(password: str) -> dict[str, str]:
        token = base64.b64encode(f"ST1:{password}".encode()).decode()
        return {"Authorization": f"Basic {token}"}

    first = "first-password-0001"
    station = make_station(security_profile=1, password_hash=hash_password(first, b"s" * 16))

    async def test() -> None:
        async with running(station) as env:
            with pytest.raises(InvalidStatus) as refused:
                async with connect(env.url(), subprotocols=["ocpp2.0.1"]):
                    pass
            assert refused.value.response.status_code == 401
            async with env.station(additional_headers=basic(first)) as cp:
                assert (await cp.boot()).status == "Accepted"
                assert await env.core.commands.rotate_password("ST1") == "Accepted"
                rotated = cp.variables["SecurityCtrlr.BasicAuthPassword"][0]
                [payload] = cp.payloads("SetVariables")[-1:]
                assert payload["set_variable_data"][0]["variable"] == {"name": "BasicAuthPassword"}
            with pytest.raises(InvalidStatus) as old:
                async with connect(
                    env.url(), subprotocols=["ocpp2.0.1"], additional_headers=basic(first)
                ):
                    pass
            assert old.value.response.status_code == 401
            async with env.station(additional_headers=basic(rotated)) as cp:
                assert (await cp.boot()).status == "Accepted"

    run(test)

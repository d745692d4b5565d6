"""What a simulated OCPP 2.0.1 charging station decides (``simulator._model201``), without I/O.

Every request the model builds and every answer it gives is checked against the ``ocpp``
package's OCPP 2.0.1 schemas.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from evcharge_core.simulator import Answer, ConnectorPhase, StationModel201
from evcharge_core.simulator._configuration import SAMPLEABLE_MEASURANDS
from evcharge_core.simulator._device_model import Component, Variable
from evcharge_core.simulator._effects import (
    Reboot,
    SendReport,
    SendTriggered,
    StatusMayHaveChanged,
    Wake,
)
from evcharge_core.simulator._meter import Suspension
from evcharge_core.simulator._model201 import (
    CSMS_ACTIONS_201,
    REPORT_ITEMS_PER_MESSAGE,
    STOP_LOCAL,
    STOP_REMOTE,
    IdToken,
    RemoteStart,
)

from .csms201 import validator_201

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
TOKEN = {"idToken": "R1", "type": "Central"}


def valid(name: str, payload: dict[str, Any]) -> None:
    data = json.loads(json.dumps(payload), parse_float=Decimal)
    errors = [error.message for error in validator_201(name).iter_errors(data)]
    assert errors == [], (name, payload)


def make(evses: int = 2, **kwargs: Any) -> StationModel201:
    model = StationModel201.create("SIM1", evses=evses, rng=random.Random(7), **kwargs)
    model.accept_boot("Accepted", 60)
    return model


def ask(model: StationModel201, action: str, payload: dict[str, Any], size: int = 0) -> Answer:
    """Ask the model; check the request and a CALLRESULT against the schemas."""
    valid(action, payload)
    answer = model.answer(action, payload, T0, size=size)
    if answer.error is None:
        assert answer.payload is not None
        valid(f"{action}Response", answer.payload)
    return answer


def status(model: StationModel201, action: str, payload: dict[str, Any]) -> str:
    answer = ask(model, action, payload)
    assert answer.payload is not None, answer.error
    return str(answer.payload["status"])


def error(model: StationModel201, action: str, payload: dict[str, Any], size: int = 0) -> str:
    answer = model.answer(action, payload, T0, size=size)
    assert answer.error is not None, answer.payload
    return answer.error.code


def start(model: StationModel201, evse_id: int = 1) -> str:
    """A started, authorised, charging transaction on the EVSE; its ID."""
    model.plug_in(evse_id, IdToken("TAG"))
    started = model.transaction_started(evse_id, "CablePluggedIn", T0)
    model.authorize(evse_id)
    model.start_charging(evse_id, T0)
    return str(started["transactionInfo"]["transactionId"])


def profile(profile_id: int = 1, purpose: str = "TxDefaultProfile", **extra: Any) -> dict[str, Any]:
    return {
        "id": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": purpose,
        "chargingProfileKind": "Absolute",
        "chargingSchedule": [
            {
                "id": 1,
                "chargingRateUnit": "A",
                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10}],
            }
        ],
        **extra,
    }


# --- requests the station sends --------------------------------------------------------------


def test_station_requests_are_schema_valid() -> None:
    model = make()
    everything = ",".join(SAMPLEABLE_MEASURANDS)
    for name in ("TxStartedMeasurands", "TxUpdatedMeasurands", "TxEndedMeasurands"):
        assert model.device.set(Component("SampledDataCtrlr"), Variable(name), everything)[0] == (
            "Accepted"
        )
    model.device.set(Component("AlignedDataCtrlr"), Variable("Measurands"), everything)
    for reason in (None, "Triggered", "RemoteReset"):
        boot = model.boot_notification(reason)
        valid("BootNotification", boot)
    assert boot["reason"] == "RemoteReset"
    assert model.boot_notification()["reason"] == "PowerUp"
    for key in model.statuses():
        valid("StatusNotification", model.status_notification(key, T0))
    for evse_id in (0, 1, 2):
        valid("MeterValues", model.meter_values(evse_id, "Sample.Clock", T0))
    model.plug_in(1, IdToken("TAG"))
    events = [model.transaction_started(1, "CablePluggedIn", T0)]
    model.authorize(1)
    events.append(model.transaction_updated(1, "Authorized", T0))
    model.start_charging(1, T0)
    model.advance(1, 60.0, T0 + timedelta(seconds=60))
    for trigger, context in (
        ("ChargingStateChanged", None),
        ("MeterValuePeriodic", "Sample.Periodic"),
        ("MeterValueClock", "Sample.Clock"),
        ("Trigger", "Trigger"),
    ):
        events.append(model.transaction_updated(1, trigger, T0, meter_context=context))
    events.append(model.transaction_ended(1, STOP_LOCAL, T0, offline=True))
    for event in events:
        valid("TransactionEvent", event)
    assert [e["seqNo"] for e in events] == list(range(len(events)))
    assert len({e["transactionInfo"]["transactionId"] for e in events}) == 1
    assert events[-1]["offline"] is True
    assert model.evse(1).phase is ConnectorPhase.FINISHING
    assert model.evse(1).transaction_id is None
    for base in ("FullInventory", "ConfigurationInventory", "SummaryInventory"):
        for report in model.notify_reports(3, base, T0):
            valid("NotifyReport", report)


@settings(max_examples=15, deadline=None)
@given(evses=st.integers(1, 8), base=st.sampled_from(["FullInventory", "ConfigurationInventory"]))
def test_reports_are_split_without_losing_items(evses: int, base: str) -> None:
    model = make(evses)
    reports = model.notify_reports(9, base, T0)
    items = [item for report in reports for item in report.get("reportData", [])]
    assert items == model.device.report(base)
    assert [r["seqNo"] for r in reports] == list(range(len(reports)))
    assert [r["tbc"] for r in reports] == [True] * (len(reports) - 1) + [False]
    assert all(len(r["reportData"]) <= REPORT_ITEMS_PER_MESSAGE for r in reports)
    evse_ids = {i["component"]["evse"]["id"] for i in items if "evse" in i["component"]}
    assert evse_ids == (set(range(1, evses + 1)) if base == "FullInventory" else set())


# --- statuses ---------------------------------------------------------------------------------


def test_status_and_charging_state_follow_the_facts() -> None:
    model = make(1)
    evse = model.evse(1)
    assert (evse.connector_status, evse.charging_state) == ("Available", "Idle")
    model.plug_in(1, IdToken("TAG"))
    assert (evse.connector_status, evse.charging_state) == ("Occupied", "EVConnected")
    model.transaction_started(1, "CablePluggedIn", T0)
    model.start_charging(1, T0)
    assert (evse.connector_status, evse.charging_state) == ("Occupied", "Charging")
    evse.suspension = Suspension.EV
    assert evse.charging_state == "SuspendedEV"
    evse.suspension = Suspension.EVSE
    assert evse.charging_state == "SuspendedEVSE"
    model.transaction_ended(1, STOP_LOCAL, T0)
    assert (evse.connector_status, evse.charging_state) == ("Occupied", "EVConnected")
    model.unplug(1)
    assert (evse.connector_status, evse.charging_state) == ("Available", "Idle")
    with pytest.raises(LookupError):
        model.evse(2)


def test_connection_loss_keeps_the_registration_until_a_reboot() -> None:
    model = make()
    model.disconnected()
    assert model.accepted
    model.registration_lost()
    assert (model.registration, model.boot_reason) == (None, "Unknown")
    model.accept_boot("Pending", 10)
    model.disconnected()
    assert model.registration is None
    assert model.heartbeat_interval() == 60  # a Pending interval is not a heartbeat


# --- answers ----------------------------------------------------------------------------------


def test_unknown_and_unsupported_actions() -> None:
    model = make()
    assert error(model, "Frobnicate", {}) == "NotImplemented"
    for action in sorted(CSMS_ACTIONS_201 - set(_HANDLED)):
        assert error(model, action, {}) == "NotSupported", action


_HANDLED = (
    "CancelReservation",
    "ChangeAvailability",
    "ClearChargingProfile",
    "DataTransfer",
    "GetBaseReport",
    "GetCompositeSchedule",
    "GetTransactionStatus",
    "GetVariables",
    "RequestStartTransaction",
    "RequestStopTransaction",
    "ReserveNow",
    "Reset",
    "SetChargingProfile",
    "SetVariables",
    "TriggerMessage",
    "UnlockConnector",
)


def test_bad_payloads_get_the_ocpp201_call_error_codes() -> None:
    model = make()
    assert error(model, "Reset", {}) == "ProtocolError"
    assert error(model, "Reset", {"type": "Sideways"}) == "PropertyConstraintViolation"
    assert error(model, "UnlockConnector", {"evseId": "1", "connectorId": 1}) == (
        "TypeConstraintViolation"
    )
    assert error(model, "GetVariables", {"getVariableData": []}) == (
        "OccurrenceConstraintViolation"
    )
    empty = profile()
    empty["chargingSchedule"][0]["chargingSchedulePeriod"] = []
    assert error(model, "SetChargingProfile", {"evseId": 0, "chargingProfile": empty}) == (
        "OccurrenceConstraintViolation"
    )
    long_token = {"idToken": {"idToken": "x" * 37, "type": "Central"}, "remoteStartId": 1}
    assert error(model, "RequestStartTransaction", long_token) == "TypeConstraintViolation"


def test_items_and_bytes_per_message() -> None:
    model = make()
    one = {"component": {"name": "OCPPCommCtrlr"}, "variable": {"name": "HeartbeatInterval"}}
    assert ask(model, "GetVariables", {"getVariableData": [one] * 10}, size=4096).error is None
    assert error(model, "GetVariables", {"getVariableData": [one] * 11}) == (
        "OccurrenceConstraintViolation"
    )
    assert error(model, "GetVariables", {"getVariableData": [one]}, size=4097) == (
        "FormatViolation"
    )
    written = {**one, "attributeValue": "30"}
    assert ask(model, "SetVariables", {"setVariableData": [written] * 10}).error is None
    assert error(model, "SetVariables", {"setVariableData": [written] * 11}) == (
        "OccurrenceConstraintViolation"
    )
    assert error(model, "SetVariables", {"setVariableData": [written]}, size=5000) == (
        "FormatViolation"
    )


def test_set_variables_takes_effect() -> None:
    model = make()

    def write(component: str, variable: str, value: str) -> dict[str, Any]:
        data = {
            "component": {"name": component},
            "variable": {"name": variable},
            "attributeValue": value,
        }
        answer = ask(model, "SetVariables", {"setVariableData": [data]})
        assert answer.payload is not None
        assert answer.effects == (Wake(),)
        result: dict[str, Any] = answer.payload["setVariableResult"][0]
        return result

    assert write("OCPPCommCtrlr", "HeartbeatInterval", "45")["attributeStatus"] == "Accepted"
    assert model.heartbeat_interval() == 45
    assert write("SampledDataCtrlr", "TxUpdatedInterval", "15")["attributeStatus"] == "Accepted"
    assert model.tx_updated_interval() == 15
    write("SampledDataCtrlr", "Enabled", "false")
    assert model.tx_updated_interval() == 0
    write("AlignedDataCtrlr", "Interval", "900")
    assert model.aligned_interval() == 900
    write("OCPPCommCtrlr", "WebSocketPingInterval", "20")
    assert model.websocket_ping_interval() == 20
    write("OCPPCommCtrlr", "MessageAttempts", "5")
    result = write("OCPPCommCtrlr", "MessageAttempts", "50")
    assert result["attributeStatus"] == "UnknownVariable"  # the variable has an instance
    assert model.transaction_message_retries() == (3, 60)
    assert model.basic_auth_password is None
    result = write("SecurityCtrlr", "BasicAuthPassword", "a-brand-new-password")
    assert result["attributeStatus"] == "Accepted"
    assert model.basic_auth_password == "a-brand-new-password"
    result = write("SecurityCtrlr", "BasicAuthPassword", "short")
    assert result["attributeStatusInfo"] == {"reasonCode": "ValueTooShort"}


def test_get_variables_reads_the_live_state() -> None:
    model = make()
    start(model, 2)
    data = [
        {
            "component": {"name": "EVSE", "evse": {"id": 2}},
            "variable": {"name": "AvailabilityState"},
        },
        {
            "component": {"name": "Connector", "evse": {"id": 1, "connectorId": 1}},
            "variable": {"name": "AvailabilityState"},
        },
        {"component": {"name": "ClockCtrlr"}, "variable": {"name": "DateTime"}},
        {"component": {"name": "EVSE", "evse": {"id": 3}}, "variable": {"name": "Power"}},
    ]
    answer = ask(model, "GetVariables", {"getVariableData": data})
    assert answer.payload is not None
    results = answer.payload["getVariableResult"]
    assert [r.get("attributeValue") for r in results] == [
        "Occupied",
        "Available",
        "2026-03-01T12:00:00.000Z",
        None,
    ]
    assert results[3]["attributeStatus"] == "UnknownComponent"


def test_get_base_report() -> None:
    model = make()
    answer = ask(model, "GetBaseReport", {"requestId": 4, "reportBase": "SummaryInventory"})
    assert answer.effects == (SendReport(4, "SummaryInventory"),)


def test_trigger_message() -> None:
    model = make()

    def trigger(message: str, evse: dict[str, Any] | None = None) -> Answer:
        payload: dict[str, Any] = {"requestedMessage": message}
        if evse is not None:
            payload["evse"] = evse
        return ask(model, "TriggerMessage", payload)

    answer = trigger("StatusNotification", {"id": 2, "connectorId": 1})
    assert answer.effects == (SendTriggered("StatusNotification", 1, 2),)
    assert trigger("MeterValues", {"id": 0}).effects == (SendTriggered("MeterValues", None, 0),)
    assert trigger("StatusNotification", {"id": 3}).payload == {
        "status": "Rejected",
        "statusInfo": {"reasonCode": "UnknownEvse"},
    }
    assert trigger("StatusNotification", {"id": 1, "connectorId": 2}).payload["status"] == (  # type: ignore[index]
        "Rejected"
    )
    assert trigger("TransactionEvent").payload["status"] == "Rejected"  # type: ignore[index]
    start(model, 1)
    assert trigger("TransactionEvent", {"id": 1}).payload == {"status": "Accepted"}
    assert trigger("TransactionEvent", {"id": 2}).payload["status"] == "Rejected"  # type: ignore[index]
    assert trigger("SignV2GCertificate").payload == {"status": "NotImplemented"}


def test_reset() -> None:
    model = make()
    assert ask(model, "Reset", {"type": "OnIdle"}).effects == (Reboot("OnIdle"),)
    assert status(model, "Reset", {"type": "Immediate", "evseId": 1}) == "Rejected"
    start(model, 1)
    answer = ask(model, "Reset", {"type": "OnIdle"})
    assert (answer.payload, answer.effects) == ({"status": "Scheduled"}, (Wake(),))
    assert model.reset_on_idle
    assert not model.reset_due()
    model.transaction_ended(1, STOP_LOCAL, T0)
    assert not model.reset_due()  # the car is still plugged in
    model.unplug(1)
    assert model.reset_due()
    assert ask(model, "Reset", {"type": "Immediate"}).effects == (Reboot("Immediate"),)


def test_reboot() -> None:
    model = make()
    priority = (Component("OCPPCommCtrlr"), Variable("NetworkConfigurationPriority"))
    assert model.device.set(*priority, "1") == ("RebootRequired", "")
    transaction = start(model, 1)
    ask(model, "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 2}})
    ask(
        model,
        "SetChargingProfile",
        {"evseId": 1, "chargingProfile": profile(2, "TxProfile", transactionId=transaction)},
    )
    ask(model, "SetChargingProfile", {"evseId": 0, "chargingProfile": profile(3)})
    model.reboot()
    assert (model.registration, model.boot_reason) == (None, "RemoteReset")
    assert model.evse(1).phase is ConnectorPhase.IDLE
    assert model.evse(2).connector_status == "Unavailable"  # availability survives a reboot
    assert [p["id"] for p in model.profile_summaries()] == [3]
    assert model.device.value("OCPPCommCtrlr", "NetworkConfigurationPriority") == "1"


def test_request_start_and_stop() -> None:
    model = make()
    answer = ask(model, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 5})
    assert answer.payload == {"status": "Accepted"}
    assert model.evse(1).remote_start == RemoteStart(IdToken("R1", "Central"), 5)
    # EVSE 1 is promised: the next request goes to EVSE 2
    assert status(model, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 6}) == (
        "Accepted"
    )
    assert status(model, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 7}) == (
        "Rejected"
    )
    model.evse(1).remote_start = None
    with_profile = {
        "idToken": TOKEN,
        "remoteStartId": 8,
        "evseId": 1,
        "chargingProfile": profile(4, "TxProfile"),
    }
    assert status(model, "RequestStartTransaction", with_profile) == "Accepted"
    assert model.profile_summaries()[0]["purpose"] == "TxProfile"
    model.evse(1).remote_start = None
    wrong = {**with_profile, "chargingProfile": profile(5)}
    assert status(model, "RequestStartTransaction", wrong) == "Rejected"
    model.plug_in(1, IdToken("R1", "Central"), remote_start_id=8)
    started = model.transaction_started(1, "RemoteStart", T0)
    assert started["idToken"] == TOKEN
    assert started["transactionInfo"]["remoteStartId"] == 8
    transaction_id = started["transactionInfo"]["transactionId"]
    assert status(model, "RequestStopTransaction", {"transactionId": "nope"}) == "Rejected"
    assert status(model, "RequestStopTransaction", {"transactionId": transaction_id}) == (
        "Accepted"
    )
    assert model.evse(1).stop == STOP_REMOTE
    assert ask(model, "GetTransactionStatus", {"transactionId": transaction_id}).payload == {
        "messagesInQueue": False,
        "ongoingIndicator": True,
    }
    model.queued_events = 1
    assert ask(model, "GetTransactionStatus", {}).payload == {"messagesInQueue": True}


def test_request_start_while_not_accepted_or_unavailable() -> None:
    model = make()
    ask(model, "ChangeAvailability", {"operationalStatus": "Inoperative"})
    assert status(model, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 1}) == (
        "Rejected"
    )
    model.registration = "Pending"
    ask(model, "ChangeAvailability", {"operationalStatus": "Operative"})
    assert status(model, "RequestStartTransaction", {"idToken": TOKEN, "remoteStartId": 1}) == (
        "Rejected"
    )


def test_unlock_connector() -> None:
    model = make()
    unlock = {"evseId": 1, "connectorId": 1}
    assert status(model, "UnlockConnector", unlock) == "Unlocked"
    assert status(model, "UnlockConnector", {"evseId": 1, "connectorId": 2}) == "UnknownConnector"
    start(model, 1)
    assert status(model, "UnlockConnector", unlock) == "OngoingAuthorizedTransaction"


def test_change_availability() -> None:
    model = make()
    start(model, 1)
    answer = ask(model, "ChangeAvailability", {"operationalStatus": "Inoperative"})
    assert answer.payload == {"status": "Scheduled"}
    assert answer.effects == (StatusMayHaveChanged(), Wake())
    assert model.statuses() == {(1, 1): "Occupied", (2, 1): "Unavailable"}
    model.transaction_ended(1, STOP_LOCAL, T0)
    model.unplug(1)
    assert model.statuses() == {(1, 1): "Unavailable", (2, 1): "Unavailable"}
    assert not model.operative
    assert status(
        model, "ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 0}}
    ) == ("Accepted")
    assert model.operative
    assert status(
        model, "ChangeAvailability", {"operationalStatus": "Operative", "evse": {"id": 9}}
    ) == ("Rejected")


def test_reservations() -> None:
    model = make()
    reserve = {
        "id": 1,
        "expiryDateTime": "2026-03-01T13:00:00Z",
        "idToken": {"idToken": "R", "type": "ISO14443"},
        "evseId": 2,
    }
    assert status(model, "ReserveNow", {**reserve, "evseId": 9}) == "Rejected"
    assert status(
        model, "ReserveNow", {key: v for key, v in reserve.items() if key != "evseId"}
    ) == ("Rejected")
    assert status(model, "ReserveNow", {**reserve, "expiryDateTime": "2026-03-01T11:00:00Z"}) == (
        "Rejected"
    )
    assert status(model, "ReserveNow", {**reserve, "connectorType": "cCCS2"}) == "Rejected"
    assert status(model, "ReserveNow", reserve) == "Accepted"
    assert model.statuses()[(2, 1)] == "Reserved"
    assert not model.evse(2).free_for(IdToken("OTHER"))
    assert model.evse(2).free_for(IdToken("R"))
    assert status(model, "ReserveNow", {**reserve, "id": 2}) == "Occupied"
    assert status(model, "ReserveNow", {**reserve, "evseId": 1}) == "Accepted"  # moved
    assert model.evse(2).reservation is None
    start(model, 2)
    assert status(model, "ReserveNow", {**reserve, "id": 3, "evseId": 2}) == "Occupied"
    assert status(model, "CancelReservation", {"reservationId": 1}) == "Accepted"
    assert status(model, "CancelReservation", {"reservationId": 1}) == "Rejected"
    ask(model, "ChangeAvailability", {"operationalStatus": "Inoperative", "evse": {"id": 1}})
    assert status(model, "ReserveNow", reserve | {"evseId": 1}) == "Unavailable"


def test_a_reservation_is_used_by_its_token_and_expires() -> None:
    model = make()
    reserve = {
        "id": 8,
        "expiryDateTime": "2026-03-01T13:00:00Z",
        "idToken": {"idToken": "TAG", "type": "ISO14443"},
        "evseId": 1,
        "groupIdToken": {"idToken": "GROUP", "type": "Central"},
    }
    assert status(model, "ReserveNow", reserve) == "Accepted"
    assert model.evse(1).free_for(IdToken("GROUP"))
    model.plug_in(1, IdToken("TAG"))
    model.transaction_started(1, "CablePluggedIn", T0)
    model.authorize(1)
    authorized = model.transaction_updated(1, "Authorized", T0)
    assert authorized["reservationId"] == 8
    assert model.evse(1).reservation is None
    assert status(model, "ReserveNow", {**reserve, "id": 9, "evseId": 2}) == "Accepted"
    assert model.expire_reservations(T0) == []
    assert model.expire_reservations(T0 + timedelta(hours=2)) == [9]


def test_charging_profiles() -> None:
    model = make()

    def install(evse_id: int, data: dict[str, Any]) -> tuple[str, str | None]:
        answer = ask(model, "SetChargingProfile", {"evseId": evse_id, "chargingProfile": data})
        assert answer.payload is not None
        return answer.payload["status"], answer.payload.get("statusInfo", {}).get("reasonCode")

    assert install(0, profile(1, "ChargingStationMaxProfile")) == ("Accepted", None)
    assert install(1, profile(2, "ChargingStationMaxProfile")) == ("Rejected", "InvalidEvse")
    assert install(0, profile(3, "TxProfile", transactionId="x")) == ("Rejected", "InvalidEvse")
    assert install(1, profile(4, "TxProfile", transactionId="x")) == ("Rejected", "TxNotFound")
    assert install(1, profile(5, "ChargingStationExternalConstraints")) == (
        "Rejected",
        "InvalidProfile",
    )
    assert install(9, profile(6)) == ("Rejected", "UnknownEvse")
    assert install(1, profile(7, stackLevel=11)) == ("Rejected", "InvalidStackLevel")
    many = profile(8)
    many["chargingSchedule"][0]["chargingSchedulePeriod"] = [
        {"startPeriod": n * 60, "limit": 10} for n in range(25)
    ]
    assert install(1, many) == ("Rejected", "InvalidSchedule")
    transaction_id = start(model, 1)
    assert install(1, profile(9, "TxProfile")) == ("Rejected", "TxNotFound")
    assert install(1, profile(9, "TxProfile", transactionId=transaction_id)) == ("Accepted", None)
    assert install(2, profile(10)) == ("Accepted", None)
    # the lowest limit of the TxProfile (10 A) and the station maximum (10 A) on 3 phases
    assert model.limit_for(model.evse(1), T0) == pytest.approx(10 * 230 * 3)
    composite = ask(model, "GetCompositeSchedule", {"duration": 300, "evseId": 1})
    assert composite.payload is not None
    assert composite.payload["schedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 6900}
    ]
    assert status(model, "GetCompositeSchedule", {"duration": 300, "evseId": 7}) == "Rejected"
    criteria = {"chargingProfileCriteria": {"evseId": 1, "chargingProfilePurpose": "TxProfile"}}
    assert status(model, "ClearChargingProfile", criteria) == "Accepted"
    assert status(model, "ClearChargingProfile", criteria) == "Unknown"
    assert status(model, "ClearChargingProfile", {"chargingProfileId": 10}) == "Accepted"
    assert [p["id"] for p in model.profile_summaries()] == [1]
    assert status(model, "ClearChargingProfile", {}) == "Accepted"
    assert model.profiles == []
    for n in range(10):
        assert install(0, profile(100 + n, stackLevel=n))[0] == "Accepted"
    assert install(1, profile(200)) == ("Rejected", "TooManyProfiles")


def test_data_transfer() -> None:
    assert status(make(), "DataTransfer", {"vendorId": "acme", "data": [1]}) == "UnknownVendorId"


# --- the transaction lifecycle, as a state machine --------------------------------------------


class TransactionLifecycle(RuleBasedStateMachine):
    """Random walks through plug-in, authorisation, charging, samples, ending and unplugging
    on two EVSEs: every event is schema-valid, each transaction's ``seqNo`` counts from 0
    without gaps, transaction IDs are never reused, and an EVSE is Occupied exactly while
    a vehicle is there."""

    def __init__(self) -> None:
        super().__init__()
        self.model = make(2)
        self.sent: dict[str, list[int]] = {}
        self.finished: set[str] = set()
        self.now = T0

    def _record(self, event: dict[str, Any]) -> None:
        valid("TransactionEvent", event)
        transaction_id = event["transactionInfo"]["transactionId"]
        assert transaction_id not in self.finished
        self.sent.setdefault(transaction_id, []).append(event["seqNo"])
        if event["eventType"] == "Ended":
            self.finished.add(transaction_id)
        else:
            assert (event["eventType"] == "Started") == (len(self.sent[transaction_id]) == 1)

    @rule(evse=st.sampled_from([1, 2]), remote=st.booleans())
    def plug_in(self, evse: int, remote: bool) -> None:
        if self.model.evse(evse).phase is not ConnectorPhase.IDLE:
            return
        self.model.plug_in(evse, IdToken("TAG"), remote_start_id=7 if remote else None)
        trigger = "RemoteStart" if remote else "CablePluggedIn"
        self._record(self.model.transaction_started(evse, trigger, self.now))

    @rule(evse=st.sampled_from([1, 2]))
    def authorize(self, evse: int) -> None:
        state = self.model.evse(evse)
        if state.in_transaction and not state.authorized:
            self.model.authorize(evse)
            self._record(self.model.transaction_updated(evse, "Authorized", self.now))

    @rule(evse=st.sampled_from([1, 2]), seconds=st.floats(0, 3600))
    def charge(self, evse: int, seconds: float) -> None:
        state = self.model.evse(evse)
        if not state.in_transaction:
            return
        self.now += timedelta(seconds=seconds)
        if state.phase is ConnectorPhase.PREPARING:
            self.model.start_charging(evse, self.now)
            self._record(self.model.transaction_updated(evse, "ChargingStateChanged", self.now))
        else:
            self.model.advance(evse, seconds, self.now)
            self._record(
                self.model.transaction_updated(
                    evse, "MeterValuePeriodic", self.now, meter_context="Sample.Periodic"
                )
            )

    @rule(evse=st.sampled_from([1, 2]), offline=st.booleans())
    def end(self, evse: int, offline: bool) -> None:
        if self.model.evse(evse).in_transaction:
            self._record(self.model.transaction_ended(evse, STOP_LOCAL, self.now, offline=offline))

    @rule(evse=st.sampled_from([1, 2]))
    def unplug(self, evse: int) -> None:
        state = self.model.evse(evse)
        if state.in_transaction:
            self._record(self.model.transaction_ended(evse, STOP_LOCAL, self.now))
        self.model.unplug(evse)

    @invariant()
    def seq_numbers_count_from_zero(self) -> None:
        for seq_nos in self.sent.values():
            assert seq_nos == list(range(len(seq_nos)))

    @invariant()
    def occupied_exactly_while_a_vehicle_is_there(self) -> None:
        for evse in self.model.evses:
            assert (evse.connector_status == "Occupied") == (evse.phase is not ConnectorPhase.IDLE)
            if evse.in_transaction:
                assert evse.phase is not ConnectorPhase.IDLE


TestTransactionLifecycle = TransactionLifecycle.TestCase
TestTransactionLifecycle.settings = settings(max_examples=30, stateful_step_count=25, deadline=None)

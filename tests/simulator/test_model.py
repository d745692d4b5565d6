"""What a simulated charge point decides (``simulator._model``), without any I/O.

Every answer is also checked against the ``ocpp`` package's response schema.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from evcharge_core.simulator import ConnectorPhase, StationModel
from evcharge_core.simulator._meter import Suspension
from evcharge_core.simulator._model import (
    Answer,
    InstallFirmware,
    Reboot,
    SendTriggered,
    StatusMayHaveChanged,
    UploadDiagnostics,
    Wake,
)

from .csms import validator

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def valid(name: str, payload: dict[str, Any]) -> None:
    data = json.loads(json.dumps(payload), parse_float=Decimal)
    errors = [error.message for error in validator(name).iter_errors(data)]
    assert errors == [], (name, payload)


def make(**kwargs: Any) -> StationModel:
    model = StationModel.create("SIM1", rng=random.Random(7), **kwargs)
    model.accept_boot("Accepted", 60)
    return model


def ask(model: StationModel, action: str, payload: dict[str, Any] | None = None) -> Answer:
    """Ask the model; check the request and a CALLRESULT against the schemas."""
    payload = payload or {}
    answer = model.answer(action, payload, T0)
    if answer.error is None:
        assert answer.payload is not None
        valid(f"{action}Response", answer.payload)
    return answer


def status(model: StationModel, action: str, payload: dict[str, Any] | None = None) -> str:
    answer = ask(model, action, payload)
    assert answer.payload is not None, answer.error
    return str(answer.payload["status"])


def start(model: StationModel, connector_id: int = 1, transaction_id: int = 7) -> None:
    model.plug_in(connector_id, "TAG")
    model.start_transaction(connector_id, T0)
    model.transaction_started(connector_id, transaction_id, T0)


def tx_profile(profile_id: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "chargingProfileId": profile_id,
        "stackLevel": 0,
        "chargingProfilePurpose": "TxProfile",
        "chargingProfileKind": "Relative",
        "chargingSchedule": {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.5}],
        },
        **extra,
    }


# --- requests the station sends --------------------------------------------------------------


def test_station_requests_are_schema_valid() -> None:
    model = make(connectors=2)
    model.configuration.change(
        "MeterValuesSampledData",
        "Energy.Active.Import.Register,Power.Active.Import,"
        "Current.Import,Voltage,SoC,Power.Offered,Current.Offered",
    )
    model.configuration.change("StopTxnSampledData", "Energy.Active.Import.Register")
    boot = model.boot_notification()
    valid("BootNotification", boot)
    assert (boot["chargePointVendor"], boot["chargePointModel"]) == ("evcharge", "simulator")
    for connector_id in (0, 1, 2):
        valid("StatusNotification", model.status_notification(connector_id, T0))
    model.plug_in(1, "TAG")
    started = model.start_transaction(1, T0)
    valid("StartTransaction", started)
    model.transaction_started(1, 99, T0)
    model.advance(1, 60.0, T0 + timedelta(seconds=60))
    values = model.meter_values(1, "Sample.Periodic", T0)
    valid("MeterValues", values)
    assert values["transactionId"] == 99
    valid("MeterValues", model.meter_values(0, "Trigger", T0))
    valid("MeterValues", model.meter_values(2, "Trigger", T0))
    stop = model.stop_transaction(1, "Local", T0 + timedelta(seconds=60))
    valid("StopTransaction", stop)
    assert stop["meterStop"] >= started["meterStart"]
    assert stop["idTag"] == "TAG"
    assert [d["sampledValue"][0]["context"] for d in stop["transactionData"]] == [
        "Transaction.Begin",
        "Transaction.End",
    ]
    assert "idTag" not in model.stop_transaction(1, "Remote", T0)


# --- statuses ---------------------------------------------------------------------------------


def test_status_follows_the_facts() -> None:
    model = make(connectors=1)
    connector = model.connector(1)
    assert model.statuses() == {0: "Available", 1: "Available"}
    model.plug_in(1, "TAG")
    assert connector.status == "Preparing"
    model.transaction_started(1, 5, T0)
    assert connector.phase is ConnectorPhase.CHARGING
    assert connector.status == "Charging"
    connector.suspension = Suspension.EV
    assert connector.status == "SuspendedEV"
    connector.suspension = Suspension.EVSE
    assert connector.status == "SuspendedEVSE"
    model.finish(1)
    assert connector.status == "Finishing"
    assert connector.transaction_id is None
    model.unplug(1)
    assert connector.status == "Available"
    with pytest.raises(LookupError):
        model.connector(2)


# --- answers ----------------------------------------------------------------------------------


def test_unknown_actions_are_not_implemented() -> None:
    answer = make().answer("GetLog", {}, T0)
    assert answer.error is not None
    assert answer.error.code == "NotImplemented"


def test_bad_payloads_get_the_matching_call_error() -> None:
    model = make()
    assert model.answer("Reset", {}, T0).error.code == "ProtocolError"  # type: ignore[union-attr]
    answer = model.answer("Reset", {"type": "Sideways"}, T0)
    assert answer.error is not None
    assert answer.error.code == "PropertyConstraintViolation"
    answer = model.answer("UnlockConnector", {"connectorId": "1"}, T0)
    assert answer.error is not None
    assert answer.error.code == "TypeConstraintViolation"


def test_get_and_change_configuration() -> None:
    model = make()
    answer = ask(model, "GetConfiguration", {"key": ["HeartbeatInterval", "Foo"]})
    assert answer.payload == {
        "configurationKey": [{"key": "HeartbeatInterval", "readonly": False, "value": "60"}],
        "unknownKey": ["Foo"],
    }
    assert "unknownKey" not in ask(model, "GetConfiguration").payload  # type: ignore[operator]
    answer = ask(model, "ChangeConfiguration", {"key": "HeartbeatInterval", "value": "10"})
    assert answer.payload == {"status": "Accepted"}
    assert answer.effects == (Wake(),)
    assert model.heartbeat_interval() == 10
    assert status(model, "ChangeConfiguration", {"key": "NumberOfConnectors", "value": "3"}) == (
        "Rejected"
    )
    assert status(model, "ChangeConfiguration", {"key": "Foo", "value": "3"}) == "NotSupported"


def test_trigger_message() -> None:
    model = make(connectors=2)
    answer = ask(
        model, "TriggerMessage", {"requestedMessage": "StatusNotification", "connectorId": 2}
    )
    assert answer.payload == {"status": "Accepted"}
    assert answer.effects == (SendTriggered("StatusNotification", 2),)
    assert (
        status(model, "TriggerMessage", {"requestedMessage": "MeterValues", "connectorId": 3})
        == "Rejected"
    )


def test_reset_and_reboot() -> None:
    model = make()
    answer = ask(model, "Reset", {"type": "Soft"})
    assert answer.effects == (Reboot("Soft"),)
    start(model)
    model.connector(2).reservation = None
    ask(model, "ChangeAvailability", {"connectorId": 2, "type": "Inoperative"})
    model.reboot()
    assert model.registration is None
    assert model.connector(1).phase is ConnectorPhase.IDLE
    assert model.connector(2).status == "Unavailable"  # availability survives a reboot


def test_remote_start_and_stop() -> None:
    model = make(connectors=2)
    answer = ask(model, "RemoteStartTransaction", {"idTag": "R1"})
    assert answer.payload == {"status": "Accepted"}
    assert model.connector(1).remote_id_tag == "R1"
    # connector 1 is promised to R1: the next request goes to connector 2
    assert status(model, "RemoteStartTransaction", {"idTag": "R2"}) == "Accepted"
    assert model.connector(2).remote_id_tag == "R2"
    assert status(model, "RemoteStartTransaction", {"idTag": "R3"}) == "Rejected"
    assert status(model, "RemoteStartTransaction", {"idTag": "R3", "connectorId": 9}) == "Rejected"
    model.connector(1).remote_id_tag = None
    start(model, 1, transaction_id=41)
    assert status(model, "RemoteStopTransaction", {"transactionId": 40}) == "Rejected"
    assert status(model, "RemoteStopTransaction", {"transactionId": 41}) == "Accepted"
    assert model.connector(1).stop_reason == "Remote"


def test_remote_start_with_a_profile_and_while_pending() -> None:
    model = make(connectors=1)
    wrong = tx_profile(chargingProfilePurpose="TxDefaultProfile")
    assert status(model, "RemoteStartTransaction", {"idTag": "R", "chargingProfile": wrong}) == (
        "Rejected"
    )
    assert (
        status(
            model,
            "RemoteStartTransaction",
            {"idTag": "R", "connectorId": 1, "chargingProfile": tx_profile()},
        )
        == "Accepted"
    )
    assert [p.profile.purpose for p in model.profiles] == ["TxProfile"]
    pending = make()
    pending.accept_boot("Pending", 10)
    assert status(pending, "RemoteStartTransaction", {"idTag": "R"}) == "Rejected"


def test_unlock_connector() -> None:
    model = make(connectors=1)
    assert status(model, "UnlockConnector", {"connectorId": 2}) == "NotSupported"
    assert status(model, "UnlockConnector", {"connectorId": 1}) == "Unlocked"
    start(model)
    assert status(model, "UnlockConnector", {"connectorId": 1}) == "Unlocked"
    assert model.connector(1).stop_reason == "UnlockCommand"


def test_change_availability() -> None:
    model = make(connectors=2)
    assert status(model, "ChangeAvailability", {"connectorId": 3, "type": "Inoperative"}) == (
        "Rejected"
    )
    answer = ask(model, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert answer.payload == {"status": "Accepted"}
    assert StatusMayHaveChanged() in answer.effects
    assert model.statuses() == {0: "Available", 1: "Unavailable", 2: "Available"}
    start(model, 2)
    assert status(model, "ChangeAvailability", {"connectorId": 0, "type": "Inoperative"}) == (
        "Scheduled"
    )
    assert model.statuses() == {0: "Available", 1: "Unavailable", 2: "Charging"}
    model.finish(2)
    model.unplug(2)
    assert model.statuses() == {0: "Unavailable", 1: "Unavailable", 2: "Unavailable"}
    assert status(model, "ChangeAvailability", {"connectorId": 0, "type": "Operative"}) == (
        "Accepted"
    )
    assert set(model.statuses().values()) == {"Available"}


def test_reservations() -> None:
    model = make(connectors=2)
    later = (T0 + timedelta(minutes=10)).isoformat()
    reserve = {"connectorId": 1, "expiryDate": later, "idTag": "R", "reservationId": 1}
    assert status(model, "ReserveNow", {**reserve, "connectorId": 0}) == "Rejected"
    assert status(model, "ReserveNow", {**reserve, "expiryDate": T0.isoformat()}) == "Rejected"
    assert status(model, "ReserveNow", reserve) == "Accepted"
    assert model.status_of(1) == "Reserved"
    assert status(model, "ReserveNow", {**reserve, "reservationId": 2}) == "Occupied"
    assert not model.connector(1).free_for("OTHER")
    assert model.connector(1).free_for("R")
    assert status(model, "RemoteStartTransaction", {"idTag": "OTHER", "connectorId": 1}) == (
        "Rejected"
    )
    # the same reservation ID moves to connector 2
    assert status(model, "ReserveNow", {**reserve, "connectorId": 2}) == "Accepted"
    assert model.connector(1).reservation is None
    assert status(model, "CancelReservation", {"reservationId": 5}) == "Rejected"
    assert status(model, "CancelReservation", {"reservationId": 1}) == "Accepted"
    assert model.status_of(2) == "Available"
    ask(model, "ChangeAvailability", {"connectorId": 1, "type": "Inoperative"})
    assert status(model, "ReserveNow", reserve) == "Unavailable"
    start(model, 2)
    assert status(model, "ReserveNow", {**reserve, "connectorId": 2}) == "Occupied"


def test_reservation_expiry_and_use() -> None:
    model = make(connectors=1)
    expiry = T0 + timedelta(minutes=1)
    ask(
        model,
        "ReserveNow",
        {"connectorId": 1, "expiryDate": expiry.isoformat(), "idTag": "TAG", "reservationId": 3},
    )
    assert model.next_reservation_expiry(model.connector(1)) == expiry
    assert not model.expire_reservations(T0)
    model.plug_in(1, "TAG")
    assert model.start_transaction(1, T0)["reservationId"] == 3
    model.transaction_started(1, 1, T0)
    assert model.connector(1).reservation is None
    other = make(connectors=1)
    ask(
        other,
        "ReserveNow",
        {"connectorId": 1, "expiryDate": expiry.isoformat(), "idTag": "TAG", "reservationId": 3},
    )
    assert other.expire_reservations(expiry)
    assert other.status_of(1) == "Available"


def test_charging_profiles() -> None:
    model = make(connectors=2)
    default = {**tx_profile(1), "chargingProfilePurpose": "TxDefaultProfile"}
    assert status(
        model, "SetChargingProfile", {"connectorId": 3, "csChargingProfiles": default}
    ) == ("Rejected")
    assert status(
        model, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": default}
    ) == ("Accepted")
    maximum = {**tx_profile(2), "chargingProfilePurpose": "ChargePointMaxProfile"}
    assert status(
        model, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": maximum}
    ) == ("Rejected")
    assert status(
        model, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": tx_profile(3)}
    ) == (
        "Rejected"  # no transaction
    )
    start(model, 1, transaction_id=8)
    assert status(
        model, "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": tx_profile(3)}
    ) == ("Rejected")
    assert (
        status(
            model,
            "SetChargingProfile",
            {"connectorId": 1, "csChargingProfiles": tx_profile(3, transactionId=9)},
        )
        == "Rejected"
    )
    assert status(
        model, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": tx_profile(3)}
    ) == ("Accepted")
    deep = {**tx_profile(4), "stackLevel": 11}
    assert status(model, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": deep}) == (
        "Rejected"
    )
    assert model.limit_for(model.connector(1), T0) == 10.5 * 230 * 3
    composite = ask(
        model, "GetCompositeSchedule", {"connectorId": 1, "duration": 600, "chargingRateUnit": "A"}
    )
    assert composite.payload is not None
    assert composite.payload["chargingSchedule"]["chargingSchedulePeriod"] == [
        {"startPeriod": 0, "limit": 10.5}
    ]
    assert status(model, "GetCompositeSchedule", {"connectorId": 5, "duration": 60}) == "Rejected"
    ask(model, "GetCompositeSchedule", {"connectorId": 0, "duration": 60})
    # a transaction's end removes its TxProfiles
    model.finish(1)
    assert [p.profile.profile_id for p in model.profiles] == [1]
    assert status(model, "ClearChargingProfile", {"id": 99}) == "Unknown"
    assert status(
        model, "ClearChargingProfile", {"chargingProfilePurpose": "TxDefaultProfile"}
    ) == ("Accepted")
    assert model.profiles == []


def test_profiles_replace_each_other_and_are_bounded() -> None:
    model = make(connectors=1)

    def default(profile_id: int, stack_level: int) -> dict[str, Any]:
        return {
            **tx_profile(profile_id),
            "chargingProfilePurpose": "TxDefaultProfile",
            "stackLevel": stack_level,
        }

    for profile_id in range(1, 11):
        assert (
            status(
                model,
                "SetChargingProfile",
                {"connectorId": 1, "csChargingProfiles": default(profile_id, profile_id - 1)},
            )
            == "Accepted"
        )
    # same ID, or same connector + purpose + stack level: replaced
    assert (
        status(model, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": default(1, 9)})
        == "Accepted"
    )
    assert len(model.profiles) == 9
    assert (
        status(
            model, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": default(20, 0)}
        )
        == "Accepted"
    )
    assert (
        status(
            model, "SetChargingProfile", {"connectorId": 1, "csChargingProfiles": default(21, 10)}
        )
        == "Rejected"
    )


def test_local_list() -> None:
    model = make()
    assert ask(model, "GetLocalListVersion").payload == {"listVersion": 0}
    full = {
        "listVersion": 3,
        "updateType": "Full",
        "localAuthorizationList": [
            {"idTag": "A", "idTagInfo": {"status": "Accepted"}},
            {"idTag": "B"},
        ],
    }
    assert status(model, "SendLocalList", full) == "Accepted"
    assert set(model.local_list) == {"A"}
    diff = {
        "listVersion": 3,
        "updateType": "Differential",
        "localAuthorizationList": [
            {"idTag": "A"},
            {"idTag": "C", "idTagInfo": {"status": "Blocked"}},
        ],
    }
    assert status(model, "SendLocalList", diff) == "VersionMismatch"
    assert status(model, "SendLocalList", {**diff, "listVersion": 4}) == "Accepted"
    assert set(model.local_list) == {"C"}
    assert ask(model, "GetLocalListVersion").payload == {"listVersion": 4}
    too_many = {
        "listVersion": 5,
        "updateType": "Full",
        "localAuthorizationList": [{"idTag": f"T{n}"} for n in range(101)],
    }
    assert status(model, "SendLocalList", too_many) == "Failed"
    model.configuration.change("LocalAuthListEnabled", "false")
    assert status(model, "SendLocalList", full) == "NotSupported"
    assert ask(model, "GetLocalListVersion").payload == {"listVersion": -1}


def test_other_answers() -> None:
    model = make()
    assert (
        status(model, "DataTransfer", {"vendorId": "acme", "messageId": "x"}) == "UnknownVendorId"
    )
    assert status(model, "ClearCache") == "Accepted"
    diagnostics = ask(model, "GetDiagnostics", {"location": "ftp://example.org/"})
    assert diagnostics.payload is not None
    name = diagnostics.payload["fileName"]
    assert diagnostics.effects == (UploadDiagnostics(name),)
    firmware = ask(
        model,
        "UpdateFirmware",
        {"location": "https://example.org/fw", "retrieveDate": T0.isoformat()},
    )
    assert firmware.payload == {}
    assert firmware.effects == (InstallFirmware(T0),)

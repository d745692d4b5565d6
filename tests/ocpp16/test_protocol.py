"""What to do with a frame (:func:`evcharge_core.ocpp16._protocol.receive`), for every
registration status and every action."""

from __future__ import annotations

import json

import pytest

from evcharge_core.domain.values import RegistrationStatus
from evcharge_core.ocpp16 import CSMS_ACTIONS, STATION_ACTIONS
from evcharge_core.ocpp16._protocol import Answer, BrokenResponse, Request, Response, receive

VALID = {
    "Authorize": {"idTag": "A"},
    "BootNotification": {"chargePointVendor": "V", "chargePointModel": "M"},
    "DataTransfer": {"vendorId": "v"},
    "DiagnosticsStatusNotification": {"status": "Idle"},
    "FirmwareStatusNotification": {"status": "Idle"},
    "Heartbeat": {},
    "MeterValues": {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}],
    },
    "StartTransaction": {
        "connectorId": 1,
        "idTag": "A",
        "meterStart": 0,
        "timestamp": "2026-01-01T00:00:00Z",
    },
    "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Available"},
    "StopTransaction": {"transactionId": 1, "meterStop": 1, "timestamp": "2026-01-01T00:00:00Z"},
    "LogStatusNotification": {"status": "Idle"},
    "SecurityEventNotification": {"type": "X", "timestamp": "2026-01-01T00:00:00Z"},
    "SignCertificate": {"csr": "CSR"},
    "SignedFirmwareStatusNotification": {"status": "Idle"},
}


def test_valid_examples_cover_every_station_action() -> None:
    assert set(VALID) == STATION_ACTIONS


def _code(answer: object) -> str:
    assert isinstance(answer, Answer)
    assert answer.text is not None
    return str(json.loads(answer.text)[2])


@pytest.mark.parametrize("registration", list(RegistrationStatus))
@pytest.mark.parametrize("action", sorted(STATION_ACTIONS))
def test_registration_gate(registration: RegistrationStatus, action: str) -> None:
    frame = json.dumps([2, "m1", action, VALID[action]])
    decided = receive(frame, registration)
    if registration is RegistrationStatus.ACCEPTED or action == "BootNotification":
        assert decided == Request("m1", action, VALID[action])
    else:
        assert _code(decided) == "SecurityError"
    # A payload that breaks the schema is refused, whatever the registration.
    broken = receive(json.dumps([2, "m2", action, {**VALID[action], "zzz": 1}]), registration)
    expected = "OccurenceConstraintViolation"
    if registration is not RegistrationStatus.ACCEPTED and action != "BootNotification":
        expected = "SecurityError"
    assert _code(broken) == expected


@pytest.mark.parametrize("action", sorted(CSMS_ACTIONS - STATION_ACTIONS))
def test_csms_actions_sent_by_a_station_are_not_supported(action: str) -> None:
    decided = receive(json.dumps([2, "m", action, {}]), RegistrationStatus.ACCEPTED)
    assert _code(decided) == "NotSupported"


def test_unknown_action_is_not_implemented_even_while_pending() -> None:
    decided = receive('[2,"m","Coffee",{}]', RegistrationStatus.PENDING)
    assert _code(decided) == "NotImplemented"


def test_responses_and_broken_responses() -> None:
    ok = receive('[3,"a",{"status":"Accepted"}]', RegistrationStatus.PENDING)
    assert isinstance(ok, Response)
    assert ok.frame.payload == {"status": "Accepted"}
    error = receive('[4,"a","NotSupported","no",{}]', RegistrationStatus.REJECTED)
    assert isinstance(error, Response)
    assert isinstance(receive('[3,"a","x"]', RegistrationStatus.ACCEPTED), BrokenResponse)
    assert isinstance(receive('[4,"a"]', RegistrationStatus.ACCEPTED), BrokenResponse)


@pytest.mark.parametrize(
    "text",
    ["", "null", "[]", "{}", '"text"', "[3]", "[4, 1]", "[2]", "[2, 5, 'x', {}]", "\x00"],
)
def test_frames_without_a_readable_id_get_no_answer(text: str) -> None:
    decided = receive(text, RegistrationStatus.ACCEPTED)
    assert isinstance(decided, Answer)
    assert decided.text is None
    assert decided.problem

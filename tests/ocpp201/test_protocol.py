"""What to do with an OCPP 2.0.1 frame (:func:`evcharge_core._protocol.receive` with the
2.0.1 schemas), for every registration status and every action."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evcharge_core._protocol import Answer, BrokenResponse, Inbound, Request, Response, receive
from evcharge_core.domain.values import Protocol, RegistrationStatus
from evcharge_core.ocpp201 import CSMS_ACTIONS, STATION_ACTIONS
from evcharge_core.ocpp201._schemas import SCHEMAS

from .examples import VALID


def decide(text: str, registration: RegistrationStatus, allowed: Any = None) -> Inbound:
    return receive(text, registration, protocol=Protocol.OCPP201, schemas=SCHEMAS, allowed=allowed)


def _code(answer: object) -> str:
    assert isinstance(answer, Answer)
    assert answer.text is not None
    return str(json.loads(answer.text)[2])


def test_valid_examples_cover_every_station_action() -> None:
    assert set(VALID) == STATION_ACTIONS


@pytest.mark.parametrize("registration", list(RegistrationStatus))
@pytest.mark.parametrize("action", sorted(STATION_ACTIONS))
def test_registration_gate(registration: RegistrationStatus, action: str) -> None:
    frame = json.dumps([2, "m1", action, VALID[action]])
    decided = decide(frame, registration)
    if registration is RegistrationStatus.ACCEPTED or action == "BootNotification":
        assert decided == Request("m1", action, VALID[action])
    else:
        assert _code(decided) == "SecurityError"
    broken = decide(json.dumps([2, "m2", action, {**VALID[action], "zzz": 1}]), registration)
    expected = "OccurrenceConstraintViolation"
    if registration is not RegistrationStatus.ACCEPTED and action != "BootNotification":
        expected = "SecurityError"
    assert _code(broken) == expected


def test_what_the_session_allows_passes_the_gate_and_is_still_validated() -> None:
    def allowed(action: str, payload: Any) -> bool:
        return action == "NotifyReport" and payload.get("requestId") == 1

    report = VALID["NotifyReport"]
    assert decide(json.dumps([2, "r", "NotifyReport", report]), RegistrationStatus.PENDING,
                  allowed) == Request("r", "NotifyReport", report)  # fmt: skip
    other = {**report, "requestId": 2}
    assert _code(decide(json.dumps([2, "r", "NotifyReport", other]), RegistrationStatus.PENDING,
                        allowed)) == "SecurityError"  # fmt: skip
    broken = {**report, "seqNo": "zero"}
    answer = decide(json.dumps([2, "r", "NotifyReport", broken]), RegistrationStatus.PENDING,
                    allowed)  # fmt: skip
    assert _code(answer) == "TypeConstraintViolation"


@pytest.mark.parametrize("action", sorted(CSMS_ACTIONS - STATION_ACTIONS))
def test_csms_actions_sent_by_a_station_are_not_supported(action: str) -> None:
    assert _code(decide(json.dumps([2, "m", action, {}]), RegistrationStatus.ACCEPTED)) == (
        "NotSupported"
    )


def test_unknown_action_is_not_implemented_even_while_pending() -> None:
    assert _code(decide('[2,"m","Coffee",{}]', RegistrationStatus.PENDING)) == "NotImplemented"


@pytest.mark.parametrize(
    ("text", "message_id", "code"),
    [
        ('[2,"m","Heartbeat",', "m", "FormatViolation"),
        ('[2,"m","Heartbeat",[]]', "m", "FormatViolation"),
        ('[2,"m","Heartbeat"]', "m", "RpcFrameworkError"),
        ('[2,"m",7,{}]', "m", "RpcFrameworkError"),
        ('[2,"m","Heartbeat",{},1]', "m", "RpcFrameworkError"),
        ('[2, 5, "Heartbeat", {}]', "-1", "RpcFrameworkError"),
        ("[2]", "-1", "RpcFrameworkError"),
        ('[5,"m","Heartbeat",{}]', "m", "MessageTypeNotSupported"),
        ('[6,"m","Heartbeat",{}]', "m", "MessageTypeNotSupported"),
    ],
)
def test_bad_frames_get_the_2_0_1_codes(text: str, message_id: str, code: str) -> None:
    decided = decide(text, RegistrationStatus.ACCEPTED)
    assert isinstance(decided, Answer)
    assert decided.text is not None
    answer = json.loads(decided.text)
    assert answer[:3] == [4, message_id, code]
    assert decided.code == code


def test_responses_and_broken_responses() -> None:
    ok = decide('[3,"a",{"status":"Accepted"}]', RegistrationStatus.PENDING)
    assert isinstance(ok, Response)
    assert isinstance(decide('[4,"a","NotSupported","no",{}]', RegistrationStatus.REJECTED),
                      Response)  # fmt: skip
    assert isinstance(decide('[3,"a","x"]', RegistrationStatus.ACCEPTED), BrokenResponse)


@pytest.mark.parametrize("text", ["", "null", "[]", "{}", '"text"', "[3]", "[4, 1]", "\x00"])
def test_frames_without_a_readable_id_get_no_answer(text: str) -> None:
    decided = decide(text, RegistrationStatus.ACCEPTED)
    assert isinstance(decided, Answer)
    assert decided.text is None

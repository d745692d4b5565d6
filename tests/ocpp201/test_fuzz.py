"""Hypothesis fuzz of inbound OCPP 2.0.1 frames over one real connection to a running server
(a thread of its own, SQLite storage): every frame with a readable message ID gets exactly
one answer, a CallError with an OCPP-J 2.0.1 code or a CALLRESULT valid against the
action's response schema; the connection stays open; the stored stations stay loadable and
another station is untouched.

After each frame a Heartbeat probe with a fresh message ID is sent: the answers that arrive
before the probe's are the frame's (nothing else sends to this station).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from hypothesis import given
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from evcharge_core.domain.model import ConnectorSpec, Station
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType, Protocol
from evcharge_core.ocpp201 import CALL_ERROR_CODES, CSMS_ACTIONS, STATION_ACTIONS, Kind, schema

from ..ocpp16.test_fuzz import (
    Server,
    _exchange,
    _expects_answer,
    from_schema,
    fuzz,
    json_values,
    mutated,
    raw_texts,
)

SPEC = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 16
)
OTHER = Station(
    id="OTHER201",
    name="Other",
    code="OTHER201",
    protocol=Protocol.OCPP201,
    connector_specifications=[SPEC],
)
BOOT = {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("fuzz201") / "fuzz.db")
    running.run(
        running._store(
            Station(id="ST201", name="ST201", code="ST201", protocol=Protocol.OCPP201),
            Station(id="VALID201", name="V", code="VALID201", protocol=Protocol.OCPP201),
            OTHER,
        )
    )
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def station(server: Server) -> Iterator[ClientConnection]:
    url = f"ws://127.0.0.1:{server.core.gateway.port}/ocpp/ST201"
    with connect(url, subprotocols=["ocpp2.0.1"], open_timeout=5, ping_interval=None) as ws:
        ws.send(json.dumps([2, "boot", "BootNotification", BOOT]))
        assert json.loads(ws.recv(timeout=5))[0] == 3
        yield ws


# --- strategies ------------------------------------------------------------------------------

ACTIONS = sorted(STATION_ACTIONS | CSMS_ACTIONS)
some_action = st.one_of(
    *[st.sampled_from(sorted(STATION_ACTIONS))] * 3, st.sampled_from(sorted(CSMS_ACTIONS))
)


@st.composite
def action_frames(draw: st.DrawFn) -> str:
    action = draw(some_action)
    request = schema(action, Kind.REQUEST)
    payload = draw(from_schema(request, request))
    if draw(st.booleans()):
        payload = draw(mutated(payload))
    message_id = draw(st.text(min_size=1, max_size=36))
    return json.dumps([2, message_id, action, payload])


frame_shapes = st.one_of(
    json_values,
    st.lists(json_values, max_size=6),
    st.tuples(
        st.sampled_from([2, 3, 4, 5, 6, 0, -1, True, 2.0, "2", None]),
        st.text(max_size=10) | json_values,
    ).map(list),
    st.tuples(
        st.sampled_from([2, 3, 4]),
        st.text(max_size=10) | st.integers(),
        st.sampled_from([*ACTIONS, "", "Nope"]) | json_values,
        json_values,
    ).map(list),
).map(json.dumps)


# --- the property ----------------------------------------------------------------------------


def _check(ws: ClientConnection, text: str) -> None:
    expected, message = _expects_answer(text)
    answers = _exchange(ws, text)
    if not expected:
        assert all(a[0] == 4 for a in answers), answers  # at most a CallError, never more
        assert len(answers) <= 1
        for answer in answers:
            assert answer[2] in CALL_ERROR_CODES
        return
    assert len(answers) == 1, answers
    (answer,) = answers
    assert answer[1] == message[1]
    if answer[0] == 4:
        assert len(answer) == 5
        assert answer[2] in CALL_ERROR_CODES
        assert answer[2] != "InternalError", answer  # that would be our bug
        assert isinstance(answer[3], str)
        assert "Traceback" not in answer[3]
        assert isinstance(answer[4], dict)
        return
    assert answer[0] == 3
    action = message[2]
    assert action in STATION_ACTIONS
    jsonschema.Draft6Validator(
        schema(action, Kind.RESPONSE), format_checker=jsonschema.FormatChecker()
    ).validate(answer[2])


@fuzz(1000)
@given(action_frames())
def test_frames_of_every_action(station: ClientConnection, text: str) -> None:
    _check(station, text)


@fuzz(400)
@given(frame_shapes)
def test_random_json_frames(station: ClientConnection, text: str) -> None:
    _check(station, text)


@fuzz(200)
@given(raw_texts)
def test_raw_text_frames(station: ClientConnection, text: str) -> None:
    _check(station, text)


def test_every_station_action_was_answered_with_a_result(server: Server) -> None:
    """The fuzz reached the handlers: a valid frame of every action gets a CALLRESULT."""
    from .examples import VALID

    url = f"ws://127.0.0.1:{server.core.gateway.port}/ocpp/VALID201"
    with connect(url, subprotocols=["ocpp2.0.1"], open_timeout=5, ping_interval=None) as ws:
        for action, payload in sorted(VALID.items()):
            answers = _exchange(ws, json.dumps([2, f"v-{action}", action, payload]))
            assert [a[0] for a in answers] == [3], (action, answers)


def test_store_is_undamaged_after_the_fuzz(server: Server, station: ClientConnection) -> None:
    _check(station, '[2,"last","Heartbeat",{}]')
    fuzzed = server.load("ST201")
    assert fuzzed is not None
    assert fuzzed.connection.connected
    assert server.load("OTHER201") == OTHER
    device_model: list[Any] = server.run(server.core.charging.device_model("ST201"))
    assert all(variable.key.component for variable in device_model)
    url = f"ws://127.0.0.1:{server.core.gateway.port}/ocpp/OTHER201"
    with connect(url, subprotocols=["ocpp2.0.1"], open_timeout=5, ping_interval=None) as other:
        assert _exchange(other, '[2,"h","Heartbeat",{}]')[0][:2] == [3, "h"]

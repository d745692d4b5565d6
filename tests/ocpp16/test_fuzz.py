"""Hypothesis fuzz of inbound OCPP 1.6 frames over one real connection to a running server
(a thread of its own, SQLite storage): every frame with a readable message ID gets exactly
one answer, a CallError or a CALLRESULT valid against the action's response schema; the
connection stays open; the stored stations stay loadable and another station is untouched.

After each frame a Heartbeat probe with a fresh message ID is sent: the answers that arrive
before the probe's are the frame's (nothing else sends to this station).
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Coroutine, Iterator
from datetime import UTC, timedelta, timezone
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from evcharge_core.bootstrap import open_repository
from evcharge_core.domain.model import ConnectorSpec, Station
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType
from evcharge_core.ocpp16 import CSMS_ACTIONS, STATION_ACTIONS, Kind, schema
from evcharge_core.ports import Repository
from evcharge_core.serve import Core, build_core

T = TypeVar("T")

CALL_ERROR_CODES = {
    "NotImplemented",
    "NotSupported",
    "InternalError",
    "ProtocolError",
    "SecurityError",
    "FormationViolation",
    "PropertyConstraintViolation",
    "OccurenceConstraintViolation",
    "TypeConstraintViolation",
    "GenericError",
}

SPEC = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 16
)
OTHER = Station(id="OTHER", name="Other", code="OTHER", connector_specifications=[SPEC])


class Server:
    """The reference wiring on SQLite, in an event loop on a thread of its own."""

    def __init__(self, db: Path) -> None:
        self.db = db
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.repository: Repository = self.run(open_repository(str(db)))
        self.run(self._store(Station(id="ST1", name="ST1", code="ST1"), OTHER))
        self.core: Core = build_core(self.repository)
        # websockets draws keepalive ping payloads from the global ``random`` module in the
        # server's thread; a ping during a draw makes hypothesis fail the test as using
        # ``random`` in a strategy. Nothing here needs keepalive.
        self.core.gateway.ping_interval = None
        self.run(self.core.gateway.start("127.0.0.1", 0))

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(30)

    async def _store(self, *stations: Station) -> None:
        async with self.repository.transaction() as tx:
            await tx.stations.save_many(stations)

    async def _load(self, station_id: str) -> Station | None:
        async with self.repository.transaction() as tx:
            return await tx.stations.get(station_id)

    def load(self, station_id: str) -> Station | None:
        return self.run(self._load(station_id))

    def close(self) -> None:
        self.run(self.core.gateway.close())
        self.run(self.core.commands.aclose())
        self.run(self.repository.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("fuzz") / "fuzz.db")
    try:
        yield running
    finally:
        running.close()


@pytest.fixture(scope="module")
def station(server: Server) -> Iterator[ClientConnection]:
    url = f"ws://127.0.0.1:{server.core.gateway.port}/ocpp/ST1"
    with connect(url, subprotocols=["ocpp1.6"], open_timeout=5, ping_interval=None) as ws:
        boot = {"chargePointVendor": "V", "chargePointModel": "M"}
        ws.send(json.dumps([2, "boot", "BootNotification", boot]))
        assert json.loads(ws.recv(timeout=5))[0] == 3
        yield ws


# --- strategies ------------------------------------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
offsets = st.integers(min_value=-23 * 60, max_value=23 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
timestamps = st.datetimes(timezones=offsets).map(lambda d: d.isoformat()) | st.datetimes(
    timezones=st.just(UTC)
).map(lambda d: d.isoformat().replace("+00:00", "Z"))


def from_schema(  # noqa: PLR0911 - one return per JSON schema type
    node: dict[str, Any], root: dict[str, Any]
) -> st.SearchStrategy[Any]:
    """Values valid against a (draft 4/6) schema node; a small generator of our own."""
    if "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        return from_schema(root["definitions"][name], root)
    if "enum" in node:
        return st.sampled_from(node["enum"])
    kind = node.get("type")
    if kind == "string":
        if node.get("format") == "date-time":
            return timestamps
        return st.text(max_size=min(node.get("maxLength", 30), 30))
    if kind == "integer":
        return st.integers(min_value=-5, max_value=2**31 - 1) | st.integers(-3, 3)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False, width=32)
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        items = from_schema(node.get("items", {}), root)
        low = node.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=max(low, 3))
    if kind == "object" or "properties" in node:
        properties = node.get("properties", {})
        required = set(node.get("required", ()))
        return st.fixed_dictionaries(
            {k: from_schema(v, root) for k, v in properties.items() if k in required},
            optional={k: from_schema(v, root) for k, v in properties.items() if k not in required},
        )
    return json_values


@st.composite
def mutated(draw: st.DrawFn, payload: dict[str, Any]) -> dict[str, Any]:
    """A valid payload with one thing broken: a value of a wrong type, a key dropped or
    added, somewhere in the tree."""
    paths: list[tuple[dict[str, Any], str]] = []

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                paths.append((value, key))
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(payload)
    how = draw(st.sampled_from(["replace", "drop", "add"]))
    if how == "add" or not paths:
        payload[draw(st.text(min_size=1, max_size=10))] = draw(json_values)
        return payload
    parent, key = draw(st.sampled_from(paths))
    if how == "drop":
        del parent[key]
    else:
        parent[key] = draw(json_values)
    return payload


ACTIONS = sorted(STATION_ACTIONS | CSMS_ACTIONS)
# Three in four frames carry an action the station sends: those reach the handlers.
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
        st.sampled_from([2, 3, 4, 5, 0, -1, True, 2.0, "2", None]),
        st.text(max_size=10) | json_values,
    ).map(list),
    st.tuples(
        st.sampled_from([2, 3, 4]),
        st.text(max_size=10),
        st.sampled_from([*ACTIONS, "", "Nope"]) | json_values,
        json_values,
    ).map(list),
).map(json.dumps)

raw_texts = st.text(max_size=60) | st.sampled_from(
    ['[2,"x","Heartbeat",', '[2,"y"', "[2,", '[3,"z",', "nul", '[2,"a","Heartbeat",{}]]']
)


# --- the property ----------------------------------------------------------------------------


def _expects_answer(text: str) -> tuple[bool, Any]:
    try:
        message = json.loads(text)
    except ValueError:
        return False, None
    if not isinstance(message, list) or len(message) < 2 or not isinstance(message[1], str):
        return False, message
    kind = message[0]
    is_response = not isinstance(kind, bool) and kind in (3, 4)
    return not is_response, message


def _exchange(ws: ClientConnection, text: str) -> list[list[Any]]:
    ws.send(text)
    probe = f"probe-{uuid.uuid4()}"
    ws.send(json.dumps([2, probe, "Heartbeat", {}]))
    answers: list[list[Any]] = []
    while True:
        answer = json.loads(ws.recv(timeout=10))
        assert isinstance(answer, list)
        if answer[1] == probe:
            assert answer[0] == 3, answer  # the connection still serves
            return answers
        answers.append(answer)


def _check(ws: ClientConnection, text: str) -> None:
    expected, message = _expects_answer(text)
    answers = _exchange(ws, text)
    if not expected:
        assert all(a[0] == 4 for a in answers), answers  # at most a CallError, never more
        assert len(answers) <= 1
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
    jsonschema.Draft4Validator(
        schema(action, Kind.RESPONSE), format_checker=jsonschema.FormatChecker()
    ).validate(answer[2])


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


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


def test_store_is_undamaged_after_the_fuzz(server: Server, station: ClientConnection) -> None:
    _check(station, '[2,"last","Heartbeat",{}]')
    fuzzed = server.load("ST1")
    assert fuzzed is not None
    assert fuzzed.connection.connected
    assert server.load("OTHER") == OTHER
    # A second connection to the store's other station works as ever.
    url = f"ws://127.0.0.1:{server.core.gateway.port}/ocpp/OTHER"
    with connect(url, subprotocols=["ocpp1.6"], open_timeout=5, ping_interval=None) as other:
        assert _exchange(other, '[2,"h","Heartbeat",{}]')[0][:2] == [3, "h"]

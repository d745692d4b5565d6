"""OCPP-J framing and payload reading (``simulator._ocppj``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from evcharge_core.simulator._ocppj import (
    Call,
    CallError,
    CallErrorReply,
    CallResult,
    ErrorCode,
    ErrorCode201,
    FrameError,
    PayloadReader,
    encode_call,
    encode_call_error,
    encode_call_result,
    format_datetime,
    ocpp201_code,
    parse_frame,
)


def test_round_trips() -> None:
    assert parse_frame(encode_call("1", "Heartbeat", {})) == Call("1", "Heartbeat", {})
    assert parse_frame(encode_call_result("2", {"a": 1})) == CallResult("2", {"a": 1})
    assert parse_frame(encode_call_error("3", "NotImplemented", "no")) == CallError(
        "3", "NotImplemented", "no", {}
    )
    assert parse_frame(b'[4,"4","GenericError","x"]') == CallError("4", "GenericError", "x")


def test_encoding_is_compact_json_arrays() -> None:
    assert encode_call("1", "Authorize", {"idTag": "Ä"}) == '[2,"1","Authorize",{"idTag":"Ä"}]'
    assert json.loads(encode_call_error("9", "X", "y", {"k": 1})) == [4, "9", "X", "y", {"k": 1}]


@pytest.mark.parametrize(
    ("text", "unique_id", "is_call"),
    [
        ("not json", None, False),
        ('{"a": 1}', None, False),
        ('[2, 5, "Heartbeat", {}]', None, False),
        ('[2, "7", "Heartbeat"]', "7", True),
        ('[2, "7", "Heartbeat", []]', "7", True),
        ('[3, "8", []]', "8", False),
        ('[4, "9", 1, "x"]', "9", False),
        ('[5, "10", {}]', "10", False),
    ],
)
def test_bad_frames_say_what_they_could_read(
    text: str, unique_id: str | None, is_call: bool
) -> None:
    with pytest.raises(FrameError) as caught:
        parse_frame(text)
    assert caught.value.unique_id == unique_id
    assert caught.value.is_call is is_call


def test_format_datetime_is_utc_milliseconds() -> None:
    moment = datetime(2026, 1, 2, 4, 5, 6, 789_999, tzinfo=timezone(timedelta(hours=1)))
    assert format_datetime(moment) == "2026-01-02T03:05:06.789Z"


def _code(call: object) -> ErrorCode:
    with pytest.raises(CallErrorReply) as caught:
        call()  # type: ignore[operator]
    return caught.value.code


def test_reader_checks_like_the_schemas() -> None:
    reader = PayloadReader(
        {
            "n": 3,
            "f": 2.0,
            "half": 2.5,
            "flag": True,
            "s": "abc",
            "when": "2026-01-01T00:00:00Z",
            "naive": "2026-01-01T00:00:00",
            "bad_when": "yesterday",
            "obj": {"x": 1},
            "items": [{"x": 1}, 2],
            "names": ["a", 1],
        }
    )
    assert reader.integer("n") == 3
    assert reader.integer("f") == 2
    assert reader.number("half") == 2.5
    assert reader.string("s", 3) == "abc"
    assert reader.choice("s", ("abc",)) == "abc"
    assert reader.timestamp("when") == datetime(2026, 1, 1, tzinfo=UTC)
    assert reader.timestamp("naive") == datetime(2026, 1, 1, tzinfo=UTC)
    assert reader.child("obj").integer("x") == 1
    assert reader.optional_integer("missing") is None
    assert reader.strings("missing") is None
    assert reader.objects("missing") == []
    assert _code(lambda: reader.integer("missing")) is ErrorCode.PROTOCOL_ERROR
    assert _code(lambda: reader.integer("half")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.integer("flag")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.number("s")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.string("s", 2)) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.string("n")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.choice("s", ("x",))) is ErrorCode.PROPERTY_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.timestamp("bad_when")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.child("s")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.objects("items")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.objects("s")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    assert _code(lambda: reader.strings("names")) is ErrorCode.TYPE_CONSTRAINT_VIOLATION
    with pytest.raises(CallErrorReply, match=r"obj\.y is required"):
        reader.child("obj").integer("y")


def test_ocpp201_names_of_the_error_codes() -> None:
    assert ocpp201_code(ErrorCode.FORMATION_VIOLATION) == ErrorCode201.FORMAT_VIOLATION
    assert ocpp201_code(ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION) == (
        ErrorCode201.OCCURRENCE_CONSTRAINT_VIOLATION
    )
    assert ocpp201_code(ErrorCode201.RPC_FRAMEWORK_ERROR) == ErrorCode201.RPC_FRAMEWORK_ERROR
    renamed = {ErrorCode.FORMATION_VIOLATION, ErrorCode.OCCURENCE_CONSTRAINT_VIOLATION}
    for code in set(ErrorCode) - renamed:
        assert ocpp201_code(code).value == code.value


def test_frames_say_why_they_are_broken_and_calls_their_size() -> None:
    text = '[2,"1","Heartbeat",{"a":"Ä"}]'
    frame = parse_frame(text)
    assert isinstance(frame, Call)
    assert frame.size == len(text.encode()) == len(text) + 1
    assert parse_frame(text.encode()).size == frame.size  # type: ignore[union-attr]
    with pytest.raises(FrameError) as caught:
        parse_frame('[2, "7", "Heartbeat", []]')
    assert (caught.value.bad_payload, caught.value.unknown_type) == (True, False)
    with pytest.raises(FrameError) as caught:
        parse_frame('[2, "7", 5, {}]')
    assert (caught.value.bad_payload, caught.value.unknown_type) == (False, False)
    with pytest.raises(FrameError) as caught:
        parse_frame('[5, "10", {}]')
    assert (caught.value.is_call, caught.value.unknown_type) == (False, True)

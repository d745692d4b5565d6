"""OCPP-J framing and the pending-call table (:mod:`evcharge_core.ocppj`)."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from evcharge_core.domain.values import Protocol
from evcharge_core.ocppj import (
    BadFrame,
    Frame,
    MessageType,
    PendingCalls,
    call_error,
    call_frame,
    call_result,
    parse_frame,
)


def test_writers_are_compact_json() -> None:
    assert call_frame("1", "Reset", {"type": "Hard"}) == '[2,"1","Reset",{"type":"Hard"}]'
    assert call_result("1", {}) == '[3,"1",{}]'
    assert call_error("1", "X", "y") == '[4,"1","X","y",{}]'


def test_frames_round_trip() -> None:
    for text in (call_frame("a", "Heartbeat", {}), call_result("b", {"x": 1})):
        frame = parse_frame(text, Protocol.OCPP16)
        assert isinstance(frame, Frame)
    error = parse_frame(call_error("c", "NotSupported", "no", {"k": 1}), Protocol.OCPP16)
    assert error == Frame(MessageType.CALL_ERROR, "c", {"k": 1}, None, "NotSupported", "no")


@pytest.mark.parametrize(
    ("text", "message_type", "message_id", "answered"),
    [
        ('[3,"r1"]', MessageType.CALL_RESULT, "r1", False),
        ('[4,"r2","X"]', MessageType.CALL_ERROR, "r2", False),
        ('[2,"c1","Heartbeat"]', MessageType.CALL, "c1", True),
        ('[2,"c2",', MessageType.CALL, "c2", True),
        ('[7,"u1"]', None, "u1", True),
        ("[3, 5]", MessageType.CALL_RESULT, None, False),
        ("{}", None, None, False),
    ],
)
def test_bad_frames_keep_what_could_be_read(
    text: str, message_type: MessageType | None, message_id: str | None, answered: bool
) -> None:
    bad = parse_frame(text, Protocol.OCPP16)
    assert isinstance(bad, BadFrame)
    assert (bad.message_type, bad.message_id) == (message_type, message_id)
    assert (bad.reply is not None) == answered
    if bad.reply is not None:
        assert json.loads(bad.reply)[1] == message_id


def test_pending_calls_match_answers_by_id(caplog: pytest.LogCaptureFixture) -> None:
    async def test() -> None:
        pending = PendingCalls("station ST1")
        first = pending.open("1", "Reset")
        second = pending.open("2", "UnlockConnector")
        assert len(pending) == 2
        assert pending.action("2") == "UnlockConnector"
        assert "1" in pending
        with pytest.raises(ValueError, match="already pending"):
            pending.open("1", "Reset")
        answer = Frame(MessageType.CALL_RESULT, "2", {"status": "Unlocked"})
        assert pending.resolve(answer)
        assert await second == answer
        assert not first.done()
        with caplog.at_level(logging.INFO, logger="evcharge_core.ocppj"):
            assert not pending.resolve(Frame(MessageType.CALL_RESULT, "zzz", {}))
        assert "zzz" in caplog.text
        assert pending.fail("1", RuntimeError("broken"))
        with pytest.raises(RuntimeError):
            await first
        assert not pending.fail("1", RuntimeError("again"))
        third = pending.open("3", "Reset")
        pending.discard("3")
        assert not pending.resolve(Frame(MessageType.CALL_RESULT, "3", {}))
        assert not third.done()
        fourth = pending.open("4", "Reset")
        pending.fail_all(ConnectionError("gone"))
        with pytest.raises(ConnectionError):
            await fourth
        assert len(pending) == 0

    asyncio.run(test())

"""GetVariables / SetVariables items and their splitting by the station's ItemsPerMessage and
BytesPerMessage: a pure function, property-tested."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from evcharge_core.domain.device_model import DeviceVariable, VariableKey
from evcharge_core.ocpp201 import Kind, MessageLimits, limits_from, split, validate
from evcharge_core.ocpp201._variables import (
    MESSAGE_ID_LENGTH,
    frame_size,
    get_item,
    key_of_result,
    set_item,
)
from evcharge_core.ocppj import call_frame
from evcharge_core.testing.strategies import variable_keys

T0 = datetime(2026, 3, 1, tzinfo=UTC)
ACTIONS = st.sampled_from(["GetVariables", "SetVariables"])
FIELDS = {"GetVariables": "getVariableData", "SetVariables": "setVariableData"}


@st.composite
def items(draw: st.DrawFn, action: str) -> list[dict[str, Any]]:
    keys = draw(st.lists(variable_keys(), max_size=12))
    if action == "GetVariables":
        return [get_item(k) for k in keys]
    return [set_item(k, draw(st.text(max_size=30))) for k in keys]


limits = st.builds(
    MessageLimits,
    items_per_message=st.none() | st.integers(1, 5),
    bytes_per_message=st.none() | st.integers(100, 2000),
)


def real_size(action: str, chunk: list[Any]) -> int:
    """The size of the frame as it is sent, with the longest message ID."""
    frame = call_frame("m" * MESSAGE_ID_LENGTH, action, {FIELDS[action]: chunk})
    return len(frame.encode("utf-8"))


@given(ACTIONS.flatmap(lambda a: st.tuples(st.just(a), items(a), limits)))
def test_split_keeps_every_item_in_order_within_the_limits(
    case: tuple[str, list[dict[str, Any]], MessageLimits],
) -> None:
    action, all_items, limit = case
    try:
        chunks = split(action, all_items, limit)
    except ValueError:
        too_big = [i for i in all_items if real_size(action, [i]) > (limit.bytes_per_message or 0)]
        assert limit.bytes_per_message is not None
        assert too_big
        return
    assert [item for chunk in chunks for item in chunk] == all_items
    for chunk in chunks:
        assert chunk
        assert frame_size(action, chunk) == real_size(action, chunk)
        if limit.items_per_message is not None:
            assert len(chunk) <= limit.items_per_message
        if limit.bytes_per_message is not None:
            assert real_size(action, chunk) <= limit.bytes_per_message
    # The fewest chunks, in order: the next chunk's first item would not fit the one before.
    for before, after in itertools.pairwise(chunks):
        grown = [*before, after[0]]
        too_many = limit.items_per_message is not None and len(grown) > limit.items_per_message
        too_big = (
            limit.bytes_per_message is not None
            and real_size(action, grown) > limit.bytes_per_message
        )
        assert too_many or too_big


@given(ACTIONS.flatmap(lambda a: st.tuples(st.just(a), items(a))))
def test_without_limits_one_message(case: tuple[str, list[dict[str, Any]]]) -> None:
    action, all_items = case
    assume(all_items)
    assert split(action, all_items, MessageLimits()) == [all_items]


@settings(deadline=None)  # the first example compiles the schemas
@given(ACTIONS.flatmap(lambda a: st.tuples(st.just(a), items(a))))
def test_chunks_are_valid_requests(case: tuple[str, list[dict[str, Any]]]) -> None:
    action, all_items = case
    for chunk in split(action, all_items, MessageLimits(items_per_message=3)):
        assert validate(action, Kind.REQUEST, {FIELDS[action]: chunk}) is None


def test_an_item_too_big_for_any_message_is_an_error() -> None:
    item = set_item(VariableKey("A", "b"), "x" * 500)
    with pytest.raises(ValueError, match="BytesPerMessage of 200"):
        split("SetVariables", [item], MessageLimits(bytes_per_message=200))


def test_nothing_to_split() -> None:
    assert split("GetVariables", [], MessageLimits(1, 100)) == []


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="1 or more"):
        MessageLimits(items_per_message=0)


@given(variable_keys())
def test_items_and_results_name_the_same_key(key: VariableKey) -> None:
    result = {**get_item(key), "attributeStatus": "Accepted"}
    assert key_of_result(result) == key
    assert set_item(key, "v")["attributeValue"] == "v"


def _limit(name: str, action: str, value: str, attribute: str = "Actual") -> DeviceVariable:
    key = VariableKey("DeviceDataCtrlr", name, variable_instance=action, attribute_type=attribute)
    return DeviceVariable(key, T0, value)


def test_limits_from_a_device_model() -> None:
    model = [
        _limit("ItemsPerMessage", "GetVariables", "4"),
        _limit("BytesPerMessage", "GetVariables", " 8000 "),
        _limit("ItemsPerMessage", "SetVariables", "two"),
        _limit("BytesPerMessage", "SetVariables", "0"),
        _limit("ItemsPerMessage", "SetVariables", "9", attribute="MaxSet"),
    ]
    assert limits_from(model, "GetVariables") == MessageLimits(4, 8000)
    assert limits_from(model, "SetVariables") == MessageLimits()
    assert not limits_from([], "GetVariables").known

"""Device model keys: the text form round-trips, and says what is wrong with bad text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.device_model import (
    DeviceVariable,
    VariableKey,
    find_variable,
    format_key,
    parse_key,
)
from evcharge_core.testing.strategies import variable_keys

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@given(variable_keys())
def test_every_key_round_trips(key: VariableKey) -> None:
    text = format_key(key)
    assert parse_key(text) == key
    assert str(key) == text


@given(variable_keys())
def test_canonical_text_is_a_fixed_point(key: VariableKey) -> None:
    text = format_key(key)
    assert format_key(parse_key(text)) == text


@given(st.text(max_size=40))
def test_any_text_parses_or_raises_value_error(text: str) -> None:
    try:
        key = parse_key(text)
    except ValueError as error:
        message = str(error)
        assert message
        return
    assert parse_key(format_key(key)) == key


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("OCPPCommCtrlr.HeartbeatInterval", VariableKey("OCPPCommCtrlr", "HeartbeatInterval")),
        (
            "DeviceDataCtrlr.ItemsPerMessage[GetVariables]",
            VariableKey("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetVariables"),
        ),
        ("TxCtrlr[Main].X", VariableKey("TxCtrlr", "X", component_instance="Main")),
        ("EVSE[evse=1].AvailabilityState", VariableKey("EVSE", "AvailabilityState", evse_id=1)),
        (
            "Connector[evse=1,connector=2].ConnectorType",
            VariableKey("Connector", "ConnectorType", evse_id=1, connector_id=2),
        ),
        (
            "C[i,evse=0].V[j]:MaxSet",
            VariableKey("C", "V", "i", 0, None, "j", "MaxSet"),
        ),
        ("A%2EB.C%3AD", VariableKey("A.B", "C:D")),
    ],
)
def test_documented_forms(text: str, key: VariableKey) -> None:
    assert parse_key(text) == key
    assert format_key(key) == text


def test_qualifiers_in_any_order_and_case_read_the_same() -> None:
    assert parse_key("C[connector=2,EVSE=1,i].V") == VariableKey("C", "V", "i", 1, 2)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("HeartbeatInterval", "Component.Variable"),
        (".V", "component"),
        ("C.", "variable"),
        ("C.V:Desired", "attribute"),
        ("C[evse=x].V", "whole number"),
        ("C[connector=1].V", "within an EVSE"),
        ("C[a,b].V", "one instance"),
        ("C[evse=1,evse=2].V", "repeated"),
        ("C[colour=red].V", "unknown"),
        ("C[x]y.V", "NAME"),
        ("C[x.V", "Component.Variable"),
        ("C." + "V" * 51, "1 to 50"),
    ],
)
def test_bad_keys_say_what_is_wrong(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_key(text)


def test_same_variable_ignores_case_and_attribute() -> None:
    key = VariableKey("OCPPCommCtrlr", "HeartbeatInterval")
    other = VariableKey("ocppcommctrlr", "heartbeatinterval", attribute_type="Target")
    assert key.same_variable(other)
    assert not key.matches(other)
    assert not key.same_variable(VariableKey("OCPPCommCtrlr", "HeartbeatInterval", evse_id=1))


def test_find_variable_and_readonly() -> None:
    variables = [
        DeviceVariable(VariableKey("A", "x"), T0, "1", mutability="ReadOnly"),
        DeviceVariable(VariableKey("A", "y"), T0, "2"),
    ]
    found = find_variable(variables, VariableKey("a", "X"))
    assert found is variables[0]
    assert found.readonly is True
    assert variables[1].readonly is None
    assert find_variable(variables, VariableKey("A", "z")) is None


def test_reported_at_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone"):
        DeviceVariable(VariableKey("A", "x"), datetime(2026, 1, 1))

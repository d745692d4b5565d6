"""The simulated OCPP 2.0.1 station's device model (``simulator._device_model``)."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from evcharge_core.simulator._device_model import (
    Component,
    DataType,
    DeviceModel,
    Mutability,
    Variable,
    VariableSpec,
    parse_component,
    parse_variable,
)
from evcharge_core.simulator._ocppj import PayloadReader


def model(evses: int = 2, **kwargs: Any) -> DeviceModel:
    return DeviceModel.create("SIM1", evses=evses, **kwargs)


HEARTBEAT = (Component("OCPPCommCtrlr"), Variable("HeartbeatInterval"))
PASSWORD = (Component("SecurityCtrlr"), Variable("BasicAuthPassword"))
MEASURANDS = (Component("SampledDataCtrlr"), Variable("TxUpdatedMeasurands"))
PRIORITY = (Component("OCPPCommCtrlr"), Variable("NetworkConfigurationPriority"))
WRITABLE = [spec for spec in model().specs.values() if spec.mutability is not Mutability.READ_ONLY]


def test_factory_values() -> None:
    device = model(3, heartbeat_interval=120, tx_updated_interval=15, password="p" * 16)
    assert device.integer("OCPPCommCtrlr", "HeartbeatInterval") == 120
    assert device.integer("SampledDataCtrlr", "TxUpdatedInterval") == 15
    assert device.value("SecurityCtrlr", "Identity") == "SIM1"
    assert device.value("SecurityCtrlr", "BasicAuthPassword") == "p" * 16
    assert device.integer("DeviceDataCtrlr", "ItemsPerMessage", instance="GetVariables") == 10
    assert device.members("TxCtrlr", "TxStartPoint") == ["EVConnected", "Authorized"]
    assert device.boolean("AuthCtrlr", "AuthorizeRemoteStart")
    evses = {c.evse_id for c in device.components if c.evse_id is not None}
    assert evses == {1, 2, 3}
    assert Component("Connector", evse_id=3, connector_id=1) in device.components
    with pytest.raises(KeyError):
        device.update(Component("Nope"), Variable("Nope"), "1")


def test_get_rules() -> None:
    device = model()
    assert device.get(*HEARTBEAT) == ("Accepted", "300")
    assert device.get(*HEARTBEAT, "Actual") == ("Accepted", "300")
    assert device.get(*HEARTBEAT, "MaxSet") == ("NotSupportedAttributeType", None)
    assert device.get(Component("Nope"), Variable("HeartbeatInterval")) == (
        "UnknownComponent",
        None,
    )
    assert device.get(Component("OCPPCommCtrlr", evse_id=1), Variable("HeartbeatInterval"))[0] == (
        "UnknownComponent"
    )
    assert device.get(Component("OCPPCommCtrlr"), Variable("Nope")) == ("UnknownVariable", None)
    assert device.get(*PASSWORD) == ("Rejected", None)


def test_set_rules() -> None:
    device = model()
    assert device.set(*HEARTBEAT, "60") == ("Accepted", "")
    assert device.set(*HEARTBEAT, "-1") == ("Rejected", "ValueOutOfRange")
    assert device.set(*HEARTBEAT, "1.5") == ("Rejected", "InvalidValue")
    assert device.set(*HEARTBEAT, "60", "Target") == ("NotSupportedAttributeType", "")
    assert device.set(Component("Nope"), Variable("X"), "1") == ("UnknownComponent", "")
    assert device.set(Component("OCPPCommCtrlr"), Variable("X"), "1") == ("UnknownVariable", "")
    assert device.set(Component("SecurityCtrlr"), Variable("SecurityProfile"), "1") == (
        "Rejected",
        "ReadOnly",
    )
    assert device.set(Component("SecurityCtrlr"), Variable("OrganizationName"), "x" * 51) == (
        "Rejected",
        "ValueTooLarge",
    )
    assert device.set(
        Component("SmartChargingCtrlr"), Variable("LimitChangeSignificance"), "nan"
    ) == (
        "Rejected",
        "InvalidValue",
    )
    assert device.set(Component("AuthCtrlr"), Variable("LocalPreAuthorize"), "TRUE") == (
        "Accepted",
        "",
    )
    assert device.value("AuthCtrlr", "LocalPreAuthorize") == "true"
    assert device.set(Component("AuthCtrlr"), Variable("LocalPreAuthorize"), "yes")[0] == "Rejected"
    assert device.set(Component("ClockCtrlr"), Variable("TimeSource"), "")[0] == "Rejected"
    assert device.set(Component("ClockCtrlr"), Variable("TimeSource"), "NTP,Heartbeat") == (
        "Accepted",
        "",
    )
    assert device.set(*MEASURANDS, "SoC,SoC")[0] == "Rejected"
    assert device.set(*MEASURANDS, "") == ("Accepted", "")
    assert device.members("SampledDataCtrlr", "TxUpdatedMeasurands") == []
    assert device.set(*PASSWORD, "x" * 15) == ("Rejected", "ValueTooShort")
    assert device.set(*PASSWORD, "x" * 41) == ("Rejected", "ValueTooLarge")
    assert device.set(*PASSWORD, "x" * 16) == ("Accepted", "")
    too_big = "x" * 1001
    assert device.set(Component("SecurityCtrlr"), Variable("OrganizationName"), too_big) == (
        "Rejected",
        "ValueTooLarge",
    )


def test_reboot_required_values_wait_for_the_reboot() -> None:
    device = model()
    assert device.set(*PRIORITY, "1,0") == ("RebootRequired", "")
    assert device.get(*PRIORITY) == ("Accepted", "0")
    device.reboot()
    assert device.get(*PRIORITY) == ("Accepted", "1,0")
    assert device.pending == {}


@given(st.integers(-(10**12), 10**12), st.sampled_from(["", "+", "0"]))
def test_integers_are_accepted_in_range_and_normalised(number: int, prefix: str) -> None:
    assume(not (prefix == "+" and number < 0))
    device = model()
    text = f"{prefix}{number}" if number >= 0 else str(number)
    status, _ = device.set(*HEARTBEAT, text)
    assert status == ("Accepted" if number >= 0 else "Rejected")
    if number >= 0:
        assert device.get(*HEARTBEAT) == ("Accepted", str(number))


def _valid_value(spec: VariableSpec) -> st.SearchStrategy[str]:
    kind = spec.data_type
    low = int(spec.min_limit) if spec.min_limit is not None else 0
    if kind is DataType.INTEGER:
        high = int(spec.max_limit) if spec.max_limit is not None else 10**6
        return st.integers(low, high).map(str)
    if kind is DataType.DECIMAL:
        high = spec.max_limit if spec.max_limit is not None else 10.0**6
        return st.floats(low, high, allow_nan=False).map(repr)
    if kind is DataType.BOOLEAN:
        return st.sampled_from(["true", "false"])
    if kind is DataType.OPTION_LIST:
        return st.sampled_from(spec.values_list)
    if kind in (DataType.MEMBER_LIST, DataType.SEQUENCE_LIST):
        least = 1 if kind is DataType.SEQUENCE_LIST else 0
        items = st.lists(st.sampled_from(spec.values_list), min_size=least, unique=True)
        return items.map(",".join)
    longest = int(spec.max_limit) if spec.max_limit is not None else 100
    alphabet = string.ascii_letters + string.digits + "-_.:/ éü"
    return st.text(alphabet, min_size=spec.min_length, max_size=longest)


@given(st.data())
def test_any_valid_value_of_a_writable_variable_is_taken_and_read_back(data: st.DataObject) -> None:
    spec = data.draw(st.sampled_from(WRITABLE))
    value = data.draw(_valid_value(spec))
    device = model()
    status, reason = device.set(spec.component, spec.variable, value)
    assert (status, reason) == ("RebootRequired" if spec.reboot_required else "Accepted", "")
    if spec.reboot_required:
        device.reboot()
    stored = device.values[(spec.component, spec.variable)]
    assert spec.check(stored) == (stored, "")  # normalised values stay valid
    if spec.mutability is Mutability.WRITE_ONLY:
        assert device.get(spec.component, spec.variable) == ("Rejected", None)
    else:
        assert device.get(spec.component, spec.variable) == ("Accepted", stored)


@given(st.lists(st.text(min_size=1, max_size=30), min_size=1, max_size=4))
def test_a_member_list_with_an_unknown_item_is_rejected(items: list[str]) -> None:
    device = model()
    assume(
        any(
            item.strip() and item.strip() not in device.specs[MEASURANDS].values_list
            for item in items
        )
    )
    assume(all("," not in item for item in items))
    assert device.set(*MEASURANDS, ",".join(items)) == ("Rejected", "InvalidValue")


def test_reports() -> None:
    device = model(2)
    full = device.report("FullInventory")
    assert len(full) == len(device.specs)
    configuration = device.report("ConfigurationInventory")
    assert len(configuration) == len(WRITABLE)
    assert {item["variableAttribute"][0]["mutability"] for item in configuration} == {
        "ReadWrite",
        "WriteOnly",
    }
    summary = device.report("SummaryInventory")
    assert {(i["component"]["name"], i["variable"]["name"]) for i in summary} == {
        (name, variable)
        for name in ("ChargingStation", "EVSE", "Connector")
        for variable in ("AvailabilityState", "Available")
    }
    password = next(i for i in full if i["variable"]["name"] == "BasicAuthPassword")
    assert "value" not in password["variableAttribute"][0]
    measurands = next(i for i in full if i["variable"]["name"] == "TxUpdatedMeasurands")
    characteristics = measurands["variableCharacteristics"]
    assert characteristics["dataType"] == "MemberList"
    assert "Energy.Active.Import.Register" in characteristics["valuesList"]
    connector = next(i for i in full if i["component"]["name"] == "Connector")
    assert connector["component"]["evse"] == {"id": 1, "connectorId": 1}


def test_parsing_components_and_variables() -> None:
    reader = PayloadReader({"name": "EVSE", "instance": "a", "evse": {"id": 2, "connectorId": 1}})
    parsed = parse_component(reader)
    assert parsed == Component("EVSE", "a", 2, 1)
    assert parsed.to_json() == {
        "name": "EVSE",
        "instance": "a",
        "evse": {"id": 2, "connectorId": 1},
    }
    assert str(parsed) == "EVSE[a]@2.1"
    variable = parse_variable(
        PayloadReader({"name": "ItemsPerMessage", "instance": "GetVariables"})
    )
    assert str(variable) == "ItemsPerMessage[GetVariables]"
    assert variable.to_json() == {"name": "ItemsPerMessage", "instance": "GetVariables"}
    assert str(Component("OCPPCommCtrlr")) == "OCPPCommCtrlr"

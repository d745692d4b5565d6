"""The OCPP 1.6 schemas and the CallError codes their failures map to."""

from __future__ import annotations

from importlib import resources

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.ocpp16 import (
    CSMS_ACTIONS,
    STATION_ACTIONS,
    Kind,
    Violation,
    _schemas,
    schema,
    validate,
)


def test_action_sets_cover_every_schema_the_ocpp_package_ships() -> None:
    folder = resources.files("ocpp.v16").joinpath("schemas")
    requests = {p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")}
    requests = {name for name in requests if not name.endswith("Response")}
    assert requests == STATION_ACTIONS | CSMS_ACTIONS
    assert {"DataTransfer"} == STATION_ACTIONS & CSMS_ACTIONS


@pytest.mark.parametrize("action", sorted(STATION_ACTIONS | CSMS_ACTIONS))
@pytest.mark.parametrize("kind", list(Kind))
def test_every_schema_compiles(action: str, kind: Kind) -> None:
    assert schema(action, kind)["type"] == "object"
    validate(action, kind, {})  # compiles; {} may or may not be valid


def test_unknown_action() -> None:
    with pytest.raises(KeyError):
        validate("Coffee", Kind.REQUEST, {})


STATUS = {"connectorId": 1, "errorCode": "NoError", "status": "Available"}


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        (STATUS, None),
        (
            {**STATUS, "connectorId": "1"},
            Violation("TypeConstraintViolation", "connectorId must be integer", "connectorId"),
        ),
        (
            {**STATUS, "connectorId": True},
            Violation("TypeConstraintViolation", "connectorId must be integer", "connectorId"),
        ),
        (
            {"connectorId": 1, "status": "Available"},
            Violation("OccurenceConstraintViolation", "errorCode is required", "errorCode"),
        ),
        (
            {**STATUS, "colour": "red"},
            Violation(
                "OccurenceConstraintViolation",
                "colour is not a property OCPP 1.6 defines here",
                "colour",
            ),
        ),
        ({**STATUS, "status": "Asleep"}, "PropertyConstraintViolation"),
        ({**STATUS, "info": "x" * 51}, "PropertyConstraintViolation"),
        ({**STATUS, "timestamp": "yesterday"}, "PropertyConstraintViolation"),
        (
            {**STATUS, "connectorId": 2**31},
            Violation(
                "PropertyConstraintViolation",
                "connectorId does not fit a 32-bit integer",
                "connectorId",
            ),
        ),
        ({**STATUS, "connectorId": -(2**31)}, None),
        (
            {**STATUS, "vendorId": "a\udc00"},
            Violation("PropertyConstraintViolation", "vendorId is not Unicode text", "vendorId"),
        ),
    ],
)
def test_violations_map_to_ocpp_j_codes(payload: dict[str, object], expected: object) -> None:
    found = validate("StatusNotification", Kind.REQUEST, payload)
    if expected is None or isinstance(expected, Violation):
        assert found == expected
    else:
        assert found is not None
        assert found.code == expected


def test_nested_fields_are_located() -> None:
    payload = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": []}],
    }
    found = validate("MeterValues", Kind.REQUEST, payload)
    assert found is not None
    assert found.code == "OccurenceConstraintViolation"
    assert found.field == "meterValue[0].sampledValue"
    assert found.details() == {"field": "meterValue[0].sampledValue"}
    deep = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": 3}]}],
    }
    found = validate("MeterValues", Kind.REQUEST, deep)
    assert found is not None
    assert (found.code, found.field) == (
        "TypeConstraintViolation",
        "meterValue[0].sampledValue[0].value",
    )
    huge = {
        "connectorId": 1,
        "meterValue": [{"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "1"}]}],
        "transactionId": 2**33,
    }
    found = validate("MeterValues", Kind.REQUEST, huge)
    assert found is not None
    assert found.field == "transactionId"


def test_security_extension_schemas_with_references() -> None:
    assert (
        validate("ExtendedTriggerMessage", Kind.REQUEST, {"requestedMessage": "Heartbeat"}) is None
    )
    found = validate("ExtendedTriggerMessage", Kind.REQUEST, {"requestedMessage": "Coffee"})
    assert found is not None
    assert found.code == "PropertyConstraintViolation"
    assert Violation("X", "y").details() == {}


_edgy_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**33), max_value=2**33)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
    | st.text(alphabet=st.characters(min_codepoint=0xD7F0, max_codepoint=0xE010), max_size=4)
)
_edgy_values = st.recursive(
    _edgy_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=10,
)


@given(_edgy_values)
def test_the_fast_pass_finds_exactly_what_the_located_check_finds(value: object) -> None:
    """Out-of-range integers and surrogates, anywhere: the fast pass that every payload
    goes through agrees with the pass that names the field."""
    assert _schemas._clean(value) == (_schemas._locate(value, None) is None)

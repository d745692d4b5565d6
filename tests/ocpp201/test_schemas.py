"""The OCPP 2.0.1 schemas and the CallError codes their failures map to."""

from __future__ import annotations

from importlib import resources

import pytest

from evcharge_core.ocpp201 import CSMS_ACTIONS, STATION_ACTIONS, Kind, schema, validate


def test_action_sets_cover_every_schema_the_ocpp_package_ships() -> None:
    folder = resources.files("ocpp.v201").joinpath("schemas")
    names = {p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json")}
    requests = {n.removesuffix("Request") for n in names if n.endswith("Request")}
    responses = {n.removesuffix("Response") for n in names if n.endswith("Response")}
    assert requests == responses == STATION_ACTIONS | CSMS_ACTIONS
    assert {"DataTransfer"} == STATION_ACTIONS & CSMS_ACTIONS


@pytest.mark.parametrize("action", sorted(STATION_ACTIONS | CSMS_ACTIONS))
@pytest.mark.parametrize("kind", list(Kind))
def test_every_schema_compiles(action: str, kind: Kind) -> None:
    assert schema(action, kind)["type"] == "object"
    validate(action, kind, {})


def test_unknown_action() -> None:
    with pytest.raises(KeyError):
        validate("Coffee", Kind.REQUEST, {})


@pytest.mark.parametrize(
    ("payload", "code", "field"),
    [
        ({}, "OccurrenceConstraintViolation", "idToken"),
        ({"idToken": {"idToken": "A", "type": "ISO14443"}, "x": 1},
         "OccurrenceConstraintViolation", "x"),
        ({"idToken": {"idToken": 5, "type": "ISO14443"}}, "TypeConstraintViolation", None),
        ({"idToken": {"idToken": "A", "type": "Card"}}, "PropertyConstraintViolation", None),
        ({"idToken": {"idToken": "A" * 37, "type": "Local"}}, "PropertyConstraintViolation", None),
        ({"idToken": {"idToken": "\ud800", "type": "Local"}}, "PropertyConstraintViolation",
         "idToken.idToken"),
    ],
)  # fmt: skip
def test_violations_get_the_2_0_1_codes(
    payload: dict[str, object], code: str, field: str | None
) -> None:
    violation = validate("Authorize", Kind.REQUEST, payload)
    assert violation is not None
    assert violation.code == code
    if field is not None:
        assert violation.field == field
    assert violation.description


def test_integers_beyond_32_bits_break_the_schema() -> None:
    violation = validate("NotifyDisplayMessages", Kind.REQUEST, {"requestId": 2**31})
    assert violation is not None
    assert (violation.code, violation.field) == ("PropertyConstraintViolation", "requestId")

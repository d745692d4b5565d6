"""The single-station import: field-located errors, the same rules as the CSV."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given

from evcharge_core.domain.model import Connectivity, ConnectorSpec
from evcharge_core.domain.power import line_to_line_warning
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType
from evcharge_core.errors import Issue
from evcharge_core.importing import (
    CSV_COLUMNS,
    ImportBatch,
    StationImport,
    parse_csv,
    parse_single,
    parse_single_json,
)

from .strategies import station_imports, write_csv


def body(**changes: Any) -> dict[str, Any]:
    """A valid single-import object with top-level fields replaced (``None`` removes one)."""
    base: dict[str, Any] = {
        "station_id": "HPC-A9-07",
        "security_code": "T3ZP-8KVR",
        "manufacturer": "Alpitronic",
        "article_number": "HYC150",
        "serial_number": "HYC150-2207-0133",
        "connectivity": {"wifi": True, "gsm": True},
        "connector_specifications": [
            {
                "standard": "CCS2",
                "format": "Cable",
                "power_type": "DC",
                "voltage": 920,
                "amperage": 200,
            },
            {
                "standard": "CHAdeMO",
                "format": "Cable",
                "power_type": "DC",
                "voltage": 500,
                "amperage": 125,
            },
        ],
    }
    for key, value in changes.items():
        if value is None:
            base.pop(key)
        else:
            base[key] = value
    return base


def spec(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "standard": "Type 2",
        "format": "Socket",
        "power_type": "Three-phase AC",
        "voltage": 230,
        "amperage": 32,
    }
    base.update(changes)
    return base


def fields(batch: ImportBatch) -> list[str | None]:
    return [e.field for e in batch.errors]


def test_a_valid_object_gives_one_station() -> None:
    batch = parse_single(body())
    assert batch.ok
    assert batch.warnings == ()
    assert batch.stations == (
        StationImport(
            station_id="HPC-A9-07",
            security_code="T3ZP-8KVR",
            manufacturer="Alpitronic",
            article_number="HYC150",
            serial_number="HYC150-2207-0133",
            connectivity=Connectivity(wifi=True, gsm=True),
            connector_specifications=(
                ConnectorSpec(
                    ConnectorStandard.IEC_62196_T2_COMBO,
                    ConnectorFormat.CABLE,
                    PowerType.DC,
                    920,
                    200,
                ),
                ConnectorSpec(
                    ConnectorStandard.CHADEMO, ConnectorFormat.CABLE, PowerType.DC, 500, 125
                ),
            ),
            line=None,
        ),
    )


def test_json_text_and_bytes_are_accepted() -> None:
    text = json.dumps(body())
    assert parse_single_json(text) == parse_single(body())
    assert parse_single_json(b"\xef\xbb\xbf" + text.encode()) == parse_single(body())


@given(station_imports())
def test_round_trip(station: StationImport) -> None:
    obj = {
        "station_id": station.station_id,
        "security_code": station.security_code,
        "manufacturer": station.manufacturer,
        "article_number": station.article_number,
        "serial_number": station.serial_number,
        "connectivity": {"wifi": station.connectivity.wifi, "gsm": station.connectivity.gsm},
        "connector_specifications": [
            {
                "standard": s.standard.value,
                "format": s.format.value,
                "power_type": s.power_type.value,
                "voltage": s.voltage,
                "amperage": s.amperage,
            }
            for s in station.connector_specifications
        ],
    }
    batch = parse_single_json(json.dumps(obj))
    assert batch.errors == ()
    assert batch.stations == (station,)


def test_optional_fields_may_be_absent_null_or_empty() -> None:
    for value in (None, ""):
        obj = body(article_number=value, serial_number=value)
        if value is not None:
            assert "article_number" in obj
        station = parse_single(obj).stations[0]
        assert (station.article_number, station.serial_number) == (None, None)
    obj = body()
    obj["article_number"] = None
    assert parse_single(obj).stations[0].article_number is None


def test_required_fields_are_named_when_missing() -> None:
    obj = body(
        station_id=None,
        security_code=None,
        manufacturer=None,
        connectivity=None,
        connector_specifications=None,
    )
    batch = parse_single(obj)
    assert [str(e) for e in batch.errors] == [
        'field "station_id": station ID is missing; '
        "expected 1 to 48 letters, digits or . _ - * = + | @",
        'field "security_code": security code is missing',
        'field "manufacturer": manufacturer is missing',
        'field "connectivity": connectivity is missing; '
        'expected {"wifi": true/false, "gsm": true/false}',
        'field "connector_specifications": connector specifications are missing; '
        "expected a list of at least one",
    ]
    assert batch.stations == ()


def test_errors_are_located_by_field_with_list_indexes() -> None:
    specs = [spec(), spec(voltage=5000, format="Plug"), spec(amperage=0)]
    batch = parse_single(body(connector_specifications=specs, serial_number="AB 12"))
    assert fields(batch) == [
        "serial_number",
        "connector_specifications[1].format",
        "connector_specifications[1].voltage",
        "connector_specifications[2].amperage",
    ]
    assert batch.errors[2].message.startswith("voltage 5000 is out of range")


def test_unknown_fields_are_errors_at_every_level() -> None:
    obj = body(
        comment="north car park",
        connectivity={"wifi": True, "gsm": False, "ethernet": True},
        connector_specifications=[spec(power_kw=22)],
    )
    batch = parse_single(obj)
    assert fields(batch) == [
        "connectivity.ethernet",
        "connector_specifications[0].power_kw",
        "comment",
    ]
    assert batch.errors[2].message == (
        "unknown field; the fields are station_id, security_code, manufacturer, "
        "article_number, serial_number, connectivity, connector_specifications"
    )


def test_wrong_json_types_are_named() -> None:
    obj = body(
        station_id=1010101,
        connectivity={"wifi": "yes", "gsm": 0},
        connector_specifications=[spec(voltage="230", amperage=16.0, standard=2), "Type 2"],
    )
    batch = parse_single(obj)
    assert [str(e) for e in batch.errors] == [
        'field "station_id": must be a string, not a number',
        'field "connectivity.wifi": must be true or false, not a string',
        'field "connectivity.gsm": must be true or false, not a number',
        'field "connector_specifications[0].standard": must be a string, not a number',
        'field "connector_specifications[0].voltage": voltage must be a number, not a string; '
        "expected a whole number of volts (phase voltage) from 110 to 1000",
        'field "connector_specifications[0].amperage": amperage 16.0 is not a whole number; '
        "expected a whole number of amperes from 1 to 500",
        'field "connector_specifications[1]": must be an object with standard, format, '
        "power_type, voltage, amperage, not a string",
    ]


def test_booleans_are_not_numbers() -> None:
    batch = parse_single(body(connector_specifications=[spec(voltage=True)]))
    assert fields(batch) == ["connector_specifications[0].voltage"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({}, "connectivity.wifi"),
        ({"wifi": None, "gsm": True}, "connectivity.wifi"),
        ("wifi", "connectivity"),
        ({"wifi": False, "gsm": False}, "connectivity"),
    ],
)
def test_connectivity_rules(value: object, message: str) -> None:
    batch = parse_single(body(connectivity=value))
    assert batch.errors[0].field == message


def test_neither_wifi_nor_gsm_is_the_csv_message() -> None:
    batch = parse_single(body(connectivity={"wifi": False, "gsm": False}))
    assert batch.errors == (
        Issue(
            "neither Wi-Fi nor GSM is supported; at least one must be true "
            "(choose Wi-Fi for Ethernet stations)",
            field="connectivity",
        ),
    )


@pytest.mark.parametrize("value", [[], {}, "Type 2"])
def test_at_least_one_connector_specification(value: object) -> None:
    batch = parse_single(body(connector_specifications=value))
    assert fields(batch) == ["connector_specifications"]


def test_a_missing_specification_value_is_named() -> None:
    item = spec()
    del item["power_type"]
    del item["voltage"]
    batch = parse_single(body(connector_specifications=[item]))
    assert [str(e) for e in batch.errors] == [
        'field "connector_specifications[0].power_type": power type is missing; '
        "expected Single-phase AC, Three-phase AC or DC",
        'field "connector_specifications[0].voltage": voltage is missing; '
        "expected a whole number of volts (phase voltage) from 110 to 1000",
    ]


def test_a_line_to_line_voltage_gets_a_located_warning() -> None:
    batch = parse_single(body(connector_specifications=[spec(), spec(voltage=400)]))
    assert batch.ok
    assert batch.warnings == (
        Issue(
            line_to_line_warning(PowerType.AC_3_PHASE, 400) or "",
            field="connector_specifications[1].voltage",
        ),
    )


def test_whitespace_around_strings_is_removed() -> None:
    batch = parse_single(body(station_id=" HPC-A9-07 ", security_code="T3ZP-8KVR\n"))
    assert batch.stations == parse_single(body()).stations


def test_the_top_level_must_be_an_object() -> None:
    for obj in ([body()], "HPC-A9-07", None):
        batch = parse_single(obj)
        assert len(batch.errors) == 1
        assert batch.errors[0].message.startswith(
            "expected a JSON object with the station's fields"
        )


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (
            '{\n  "station_id": "ST1",\n  "manufacturer" "Alfen"\n}',
            3,
            "invalid JSON at column 18: ",
        ),
        ("", 1, "invalid JSON at column 1: expecting value"),
        ('{"station_id": "ST1",}', 1, "invalid JSON at column 22: "),
    ],
)
def test_json_syntax_errors_have_line_and_column(text: str, line: int, message: str) -> None:
    batch = parse_single_json(text)
    assert len(batch.errors) == 1
    error = batch.errors[0]
    assert error.line == line
    assert error.message.startswith(message)
    assert str(error).startswith(f"line {line}: invalid JSON at column ")


def test_absurd_json_is_an_error_not_a_crash() -> None:
    for text in ("[" * 100_000 + "]" * 100_000, "1" * 10_000):
        batch = parse_single_json(text)
        assert len(batch.errors) == 1
        assert batch.errors[0].message.startswith("invalid JSON")


def test_non_utf8_json_is_located() -> None:
    data = json.dumps(body(manufacturer="Évolution"), ensure_ascii=False).encode("latin-1")
    batch = parse_single_json(data)
    assert len(batch.errors) == 1
    assert batch.errors[0].message.startswith("the file is not UTF-8")
    assert batch.errors[0].line == 1


# --- the same validation as the CSV --------------------------------------------------------------

CSV_FIELD = {
    "Station ID": "station_id",
    "Security code": "security_code",
    "Manufacturer": "manufacturer",
    "Article number": "article_number",
    "Serial number": "serial_number",
    "Connector type": "standard",
    "Format": "format",
    "Power type": "power_type",
}


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("Station ID", "ST:1"),
        ("Station ID", "A" * 49),
        ("Security code", ""),
        ("Manufacturer", "M" * 256),
        ("Article number", "A" * 256),
        ("Serial number", "AB C"),
        ("Serial number", "S" * 256),
        ("Connector type", "Type 99"),
        ("Format", "Plug"),
        ("Power type", "AC"),
    ],
)
def test_the_same_value_gets_the_same_message_in_both_imports(column: str, value: str) -> None:
    row = {
        "Station ID": "ST1",
        "Security code": "K7P2-9QXM",
        "Manufacturer": "Alfen",
        "Article number": "",
        "Wi-Fi supported": "yes",
        "GSM supported": "no",
        "Connector type": "Type 2",
        "Format": "Socket",
        "Power type": "Three-phase AC",
        "Voltage": "230",
        "Amperage": "16",
        "Serial number": "",
        column: value,
    }
    (csv_error,) = parse_csv(write_csv(CSV_COLUMNS, [row])).errors
    name = CSV_FIELD[column]
    if name in ("standard", "format", "power_type"):
        obj = body(connector_specifications=[spec(**{name: value})])
        name = f"connector_specifications[0].{name}"
    else:
        obj = body(**{name: value})
    (single_error,) = parse_single(obj).errors
    assert single_error == Issue(csv_error.message, field=name)


@pytest.mark.parametrize(
    ("name", "value"), [("voltage", 5000), ("voltage", 109), ("amperage", 501)]
)
def test_numbers_get_the_same_message_in_both_imports(name: str, value: int) -> None:
    (error,) = parse_single(body(connector_specifications=[spec(**{name: value})])).errors
    csv_row = ";".join(
        ["ST1", "K", "Alfen", "", "yes", "no", "Type 2", "Socket", "Three-phase AC"]
        + ([str(value), "16"] if name == "voltage" else ["230", str(value)])
        + [""]
    )
    (csv_error,) = parse_csv(";".join(CSV_COLUMNS) + "\n" + csv_row).errors
    assert error.message == csv_error.message

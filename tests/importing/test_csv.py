"""The CSV bulk import: every rule of SPEC §5 "CSV import", with examples and properties."""

from __future__ import annotations

import random
from pathlib import Path

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge_core import importing
from evcharge_core.domain.model import Connectivity, ConnectorSpec
from evcharge_core.domain.power import line_to_line_warning
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType
from evcharge_core.errors import Issue
from evcharge_core.importing import (
    CSV_COLUMNS,
    MAX_CSV_ROWS,
    ImportBatch,
    StationImport,
    _csv,
    _plan,
    _records,
    _single,
    parse_csv,
)

from .strategies import (
    BAD_VALUES,
    FALSE_SPELLINGS,
    TRUE_SPELLINGS,
    CsvFile,
    csv_files,
    write_csv,
)

HEADER = ";".join(CSV_COLUMNS)
EXAMPLE = Path(__file__).parents[2] / "examples" / "stations.csv"


def row(**values: str) -> dict[str, str]:
    """A valid data row, with some values replaced (keys are column names, spaces as ``_``)."""
    base = {
        "Station ID": "ST1",
        "Security code": "K7P2-9QXM",
        "Manufacturer": "Alfen",
        "Article number": "NG920-61001",
        "Wi-Fi supported": "yes",
        "GSM supported": "no",
        "Connector type": "Type 2",
        "Format": "Socket",
        "Power type": "Three-phase AC",
        "Voltage": "230",
        "Amperage": "16",
        "Serial number": "ACE0012345",
    }
    for key, value in values.items():
        column = {"Wi_Fi_supported": "Wi-Fi supported"}.get(key, key.replace("_", " "))
        assert column in base, column
        base[column] = value
    return base


def csv_text(*rows: dict[str, str]) -> str:
    return write_csv(CSV_COLUMNS, rows)


def only_error(batch: ImportBatch) -> Issue:
    assert len(batch.errors) == 1, batch.errors
    return batch.errors[0]


T2_3PH_16 = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 16
)


# --- the public surface --------------------------------------------------------------------------


def test_all_is_the_union_of_the_modules_all() -> None:
    modules = (_csv, _plan, _records, _single)
    assert set(importing.__all__) == {name for m in modules for name in m.__all__}
    for name in importing.__all__:
        assert getattr(importing, name) is not None


def test_a_valid_row_gives_a_station() -> None:
    batch = parse_csv(csv_text(row()))
    assert batch.ok
    assert batch.errors == ()
    assert batch.warnings == ()
    assert batch.stations == (
        StationImport(
            station_id="ST1",
            security_code="K7P2-9QXM",
            manufacturer="Alfen",
            article_number="NG920-61001",
            serial_number="ACE0012345",
            connectivity=Connectivity(wifi=True, gsm=False),
            connector_specifications=(T2_3PH_16,),
            line=2,
        ),
    )


def test_the_example_file_imports_without_errors_or_warnings() -> None:
    batch = parse_csv(EXAMPLE.read_bytes())
    assert batch.errors == ()
    assert batch.warnings == ()
    assert [s.station_id for s in batch.stations] == [
        "ST1010101",
        "ST1001011",
        "WB-GARAGE-17",
        "ZAP-ETH-3318",
        "HPC-A9-07",
        "KEBA-P30-0042",
    ]
    hpc = batch.stations[4]
    assert hpc.line == 6
    assert [(s.standard, s.power_type, s.max_power_w) for s in hpc.connector_specifications] == [
        (ConnectorStandard.IEC_62196_T2_COMBO, PowerType.DC, 184_000),
        (ConnectorStandard.CHADEMO, PowerType.DC, 62_500),
        (ConnectorStandard.IEC_62196_T2, PowerType.AC_3_PHASE, 22_080),
    ]
    assert batch.stations[0].connector_specifications[0].max_power_w == 11_040
    assert batch.stations[2].serial_number is None
    assert batch.stations[5].article_number is None
    assert batch.stations[5].connectivity == Connectivity(wifi=False, gsm=True)


# --- properties ----------------------------------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(csv_files())
def test_round_trip(file: CsvFile) -> None:
    batch = parse_csv(file.text().encode())
    assert batch.errors == ()
    assert batch.stations == file.stations


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(shuffle_header=False), st.sampled_from(["\r\n", "\r"]))
def test_round_trip_with_other_line_endings(file: CsvFile, newline: str) -> None:
    batch = parse_csv(file.text(newline=newline))
    assert batch.errors == ()
    assert batch.stations == file.stations


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(csv_files(), st.data())
def test_one_corrupted_cell_gives_exactly_one_error_there(
    file: CsvFile, data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(file.rows) - 1), label="row")
    column = data.draw(st.sampled_from(CSV_COLUMNS), label="column")
    bad = data.draw(st.sampled_from(BAD_VALUES[column]), label="value")
    rows = list(file.rows)
    rows[index] = {**rows[index], column: bad}

    batch = parse_csv(file.text(rows).encode())

    error = only_error(batch)
    assert (error.line, error.column) == (file.line_of(index), column)
    assert error.message
    assert error.message[0].islower() or not error.message[0].isalpha()
    assert str(error).startswith(f'line {file.line_of(index)}, column "{column}": ')
    # Every other station is imported unchanged. The corrupted row's station is not, unless
    # its Station ID was corrupted: then the row belongs to no station, and the station's
    # other rows (if any) still make one.
    sid = file.rows[index]["Station ID"]
    others = [s for s in batch.stations if s.station_id != sid]
    assert others == [s for s in file.stations if s.station_id != sid]
    if column != "Station ID":
        assert len(others) == len(batch.stations)


# --- file level ----------------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf", "\ufeff"])
def test_a_byte_order_mark_is_allowed(data: bytes | str) -> None:
    text = csv_text(row())
    batch = parse_csv(data + text.encode() if isinstance(data, bytes) else data + text)
    assert batch.ok
    assert batch.stations[0].station_id == "ST1"


@pytest.mark.parametrize("data", [b"", "", "\n\n", "  \r\n", b"\xef\xbb\xbf", b"\xef\xbb\xbf\n"])
def test_an_empty_file_is_an_error(data: bytes | str) -> None:
    error = only_error(parse_csv(data))
    assert error.line is None
    assert error.message.startswith("the file is empty; expected the header row Station ID;")


def test_bytes_that_are_not_utf8_give_one_error_with_their_place() -> None:
    text = csv_text(row(), row(Station_ID="ST2", Manufacturer="Schneider Électrique"))
    data = text.encode("latin-1")
    offset = data.index(b"\xc9")
    batch = parse_csv(data)
    assert batch.errors == (
        Issue(
            f"the file is not UTF-8: byte 0xC9 at offset {offset} cannot be decoded; "
            "save the file as UTF-8",
            line=3,
        ),
    )
    assert batch.stations == ()


def test_the_offset_of_a_bad_byte_counts_the_bom() -> None:
    data = b"\xef\xbb\xbf" + HEADER.encode() + b"\nST\xff"
    error = only_error(parse_csv(data))
    assert error.line == 2
    offset = data.index(b"\xff")
    assert f"at offset {offset} " in error.message


def test_utf16_is_named() -> None:
    error = only_error(parse_csv(csv_text(row()).encode("utf-16")))
    assert "UTF-16" in error.message


def test_ten_megabytes_of_random_bytes_give_one_located_error() -> None:
    data = random.Random(4).randbytes(10_000_000)
    batch = parse_csv(data)
    error = only_error(batch)
    assert error.line is not None
    assert error.message.startswith("the file is not UTF-8")


def test_ten_megabytes_of_random_text_give_located_errors_without_crashing() -> None:
    rng = random.Random(5)
    alphabet = 'abcXYZ019 ;,"\n\r\t.-'
    noise = "".join(rng.choices(alphabet, k=10_000_000))
    for text in (noise, HEADER + "\n" + noise):
        batch = parse_csv(text)
        assert not batch.ok
        assert all(e.line is not None for e in batch.errors)


def test_at_most_5001_rows_including_the_header() -> None:
    rows = [row(Station_ID=f"ST{i}") for i in range(MAX_CSV_ROWS - 1)]
    assert len(parse_csv(csv_text(*rows)).stations) == 5000

    too_many = csv_text(*rows, row(Station_ID="ST-LAST"))
    batch = parse_csv(too_many)
    assert batch.errors == (
        Issue(
            "the file has more than 5001 rows (header included); "
            "split it into files of at most 5000 station rows",
            line=5002,
        ),
    )
    assert batch.stations == ()


def test_too_many_rows_stop_before_any_row_is_checked() -> None:
    garbage = HEADER + "\n" + "x;y\n" * 100_000
    batch = parse_csv(garbage)
    assert len(batch.errors) == 1
    assert batch.errors[0].line == 5002


def test_blank_trailing_lines_and_separator_only_rows_are_ignored() -> None:
    text = csv_text(row()) + "\n\n;;;;;;;;;;;\n   \n\n"
    batch = parse_csv(text)
    assert batch.ok
    assert len(batch.stations) == 1


def test_a_blank_row_in_the_middle_is_skipped_but_keeps_the_line_count() -> None:
    text = (
        csv_text(row())
        + "\n"
        + write_csv(CSV_COLUMNS, [row(Station_ID="ST2", Voltage="x")]).split("\n", 1)[1]
    )
    batch = parse_csv(text)
    error = only_error(batch)
    assert (error.line, error.column) == (4, "Voltage")


# --- header --------------------------------------------------------------------------------------


def header_errors(header: list[str]) -> list[str]:
    batch = parse_csv(";".join(header) + "\n")
    assert all(e.line == 1 for e in batch.errors)
    return [str(e) for e in batch.errors]


def test_columns_may_come_in_any_order() -> None:
    columns = list(reversed(CSV_COLUMNS))
    batch = parse_csv(write_csv(columns, [row()]))
    assert batch.ok
    assert batch.stations[0].connector_specifications == (T2_3PH_16,)


def test_a_missing_column_is_named() -> None:
    header = [c for c in CSV_COLUMNS if c != "Amperage"]
    assert header_errors(header) == [
        'line 1, column "Amperage": missing column; the header must name all twelve columns'
    ]


def test_a_differently_cased_column_gets_did_you_mean() -> None:
    header = ["station id" if c == "Station ID" else c for c in CSV_COLUMNS]
    assert header_errors(header) == [
        'line 1, column "Station ID": missing column; column 1 is "station id": '
        'did you mean "Station ID"? (headers are case sensitive)'
    ]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("WiFi supported", "Wi-Fi supported"),
        ("Wi-Fi Supported", "Wi-Fi supported"),
        ("Securty code", "Security code"),
        ("Serial no", "Serial number"),
        ("Voltge", "Voltage"),
        ("Connector-type", "Connector type"),
    ],
)
def test_a_misspelt_column_gets_did_you_mean(written: str, meant: str) -> None:
    header = [written if c == meant else c for c in CSV_COLUMNS]
    (message,) = header_errors(header)
    assert message.startswith(f'line 1, column "{meant}": missing column; ')
    assert f'"{written}": did you mean "{meant}"?' in message


def test_an_unknown_column_is_an_error_but_the_rows_are_still_checked() -> None:
    header = [*CSV_COLUMNS, "Comment"]
    rows = [{**row(), "Comment": "north car park"}, {**row(Voltage="5"), "Comment": ""}]
    batch = parse_csv(write_csv(header, rows))
    assert [(e.line, e.column) for e in batch.errors] == [(1, "Comment"), (3, "Voltage")]
    assert batch.errors[0].message.startswith("unknown column; the columns are Station ID;")


def test_a_repeated_column_is_an_error_and_stops_the_rows() -> None:
    header = [*CSV_COLUMNS, "Voltage"]
    batch = parse_csv(";".join(header) + "\n" + "garbage\n")
    assert [str(e) for e in batch.errors] == [
        'line 1, column "Voltage": column appears 2 times (columns 10, 13); keep one'
    ]


def test_several_header_problems_are_all_reported_in_column_order() -> None:
    header = ["station ID", "Security code", "Maker", *CSV_COLUMNS[3:11]]
    messages = header_errors(header)
    assert messages == [
        'line 1, column "Station ID": missing column; column 1 is "station ID": '
        'did you mean "Station ID"? (headers are case sensitive)',
        'line 1, column "Maker": unknown column; the columns are ' + HEADER,
        'line 1, column "Manufacturer": missing column; the header must name all twelve columns',
        'line 1, column "Serial number": missing column; the header must name all twelve columns',
    ]


def test_trailing_separators_in_the_header_are_ignored() -> None:
    text = HEADER + ";;\n" + ";".join(row().values()) + "\n"
    assert parse_csv(text).ok


@pytest.mark.parametrize(("separator", "kind"), [(",", "comma"), ("\t", "tab")])
def test_a_comma_or_tab_separated_header_is_named(separator: str, kind: str) -> None:
    text = separator.join(CSV_COLUMNS) + "\n" + separator.join(row().values()) + "\n"
    assert parse_csv(text).errors == (
        Issue(
            f'the header looks {kind}-separated; values must be separated by ";": {HEADER}', line=1
        ),
    )


def test_a_one_column_header_lists_the_missing_ones() -> None:
    batch = parse_csv("Station ID\n")
    assert [e.column for e in batch.errors] == list(CSV_COLUMNS[1:])


def test_a_file_without_a_header_row_says_so() -> None:
    text = ";".join(row().values()) + "\n"
    assert parse_csv(text).errors == (
        Issue(f"line 1 is not the header row; expected {HEADER}", line=1),
    )


# --- rows ----------------------------------------------------------------------------------------


def test_a_row_with_the_wrong_number_of_values_names_its_line() -> None:
    text = csv_text(row()) + "ST2;K;Alfen\n" + csv_text(row(Station_ID="ST3")).split("\n", 1)[1]
    batch = parse_csv(text)
    assert batch.errors == (
        Issue('the row has 3 values; expected 12, one per header column, separated by ";"', line=3),
    )
    assert [s.station_id for s in batch.stations] == ["ST1", "ST3"]


def test_a_comma_separated_row_gets_a_hint() -> None:
    text = HEADER + "\n" + ",".join(row().values()) + "\n"
    error = only_error(parse_csv(text))
    assert error.line == 2
    assert "(they look comma-separated)" in error.message


def test_trailing_empty_cells_are_ignored() -> None:
    text = HEADER + "\n" + ";".join(row().values()) + ";;\n"
    assert parse_csv(text).ok


def test_values_lose_surrounding_whitespace() -> None:
    padded = {column: f"  {value} " for column, value in row().items()}
    batch = parse_csv(csv_text(padded))
    assert batch.ok
    assert batch.stations == parse_csv(csv_text(row())).stations


def test_quoted_values_may_hold_separators_quotes_and_newlines() -> None:
    text = (
        HEADER + "\n"
        'ST1;"K7P2;9QXM";"Alfen ""ICU""";"NG920\n61001";yes;no;'
        "Type 2;Socket;Three-phase AC;230;16;\n"
        "ST2;K;Alfen;;yes;no;Type 2;Socket;Three-phase AC;230;x;\n"
    )
    batch = parse_csv(text)
    assert batch.stations[0].security_code == "K7P2;9QXM"
    assert batch.stations[0].manufacturer == 'Alfen "ICU"'
    assert batch.stations[0].article_number == "NG920\n61001"
    # The quoted newline makes the next row start on line 4.
    error = only_error(batch)
    assert (error.line, error.column) == (4, "Amperage")


def test_an_unclosed_quote_is_located() -> None:
    text = csv_text(row()) + 'ST2;"K7P2;Alfen;;yes;no;Type 2;Socket;Three-phase AC;230;16;\n'
    batch = parse_csv(text)
    assert batch.errors == (
        Issue(
            "cannot read the row: a quoted value that starts on this line is never closed", line=3
        ),
    )
    assert [s.station_id for s in batch.stations] == ["ST1"]


def test_a_bad_closing_quote_is_located() -> None:
    text = csv_text(row()) + 'ST2;"K7P2"X;Alfen;;yes;no;Type 2;Socket;Three-phase AC;230;16;\n'
    error = only_error(parse_csv(text))
    assert error.line == 3
    assert error.message.startswith('cannot read the row: a closing quote must be followed by ";"')


def test_an_unreadable_first_row_is_the_only_error() -> None:
    assert parse_csv('"Station ID;Security code\n').errors == (
        Issue(
            "cannot read the row: a quoted value that starts on this line is never closed", line=1
        ),
    )


def test_a_huge_value_is_located() -> None:
    text = csv_text(row()) + "ST2;" + "x" * 200_000 + "\n"
    batch = parse_csv(text)
    error = only_error(batch)
    assert error.line == 3
    assert error.message.startswith("cannot read the row: a value is longer than ")
    assert [s.station_id for s in batch.stations] == ["ST1"]


def test_too_many_rows_are_counted_as_lines_with_quoted_values() -> None:
    rows = [row(Station_ID=f"ST{i}", Manufacturer='"Alfen"') for i in range(MAX_CSV_ROWS)]
    error = only_error(parse_csv(csv_text(*rows)))
    assert error.line == 5002


def test_an_empty_first_line_is_an_empty_header() -> None:
    error = only_error(parse_csv("\n" + csv_text(row())))
    assert error == Issue(f"the header row is empty; expected {HEADER}", line=1)


def test_utf16_without_bom_is_suspected() -> None:
    error = only_error(parse_csv(csv_text(row()).encode("utf-16-le")))
    assert error == Issue(
        "the file contains NUL characters (is it UTF-16?); save it as UTF-8", line=1
    )


def test_article_and_serial_number_are_optional() -> None:
    batch = parse_csv(csv_text(row(Article_number="", Serial_number="")))
    assert batch.ok
    assert batch.stations[0].article_number is None
    assert batch.stations[0].serial_number is None


@pytest.mark.parametrize(
    "column",
    [
        "Station ID",
        "Security code",
        "Manufacturer",
        "Wi-Fi supported",
        "GSM supported",
        "Connector type",
        "Format",
        "Power type",
        "Voltage",
        "Amperage",
    ],
)
def test_every_other_value_is_mandatory(column: str) -> None:
    values = row()
    values[column] = ""
    error = only_error(parse_csv(csv_text(values)))
    assert (error.line, error.column) == (2, column)
    assert "missing" in error.message


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("Voltage", "5000", "voltage 5000 is out of range; expected a whole number of volts"),
        ("Voltage", "109", "voltage 109 is out of range"),
        ("Voltage", "-230", "voltage -230 is out of range"),
        ("Voltage", "230.5", "voltage '230.5' is not a whole number"),
        ("Voltage", "230,0", "voltage '230,0' is not a whole number"),
        ("Voltage", "abc", "voltage 'abc' is not a number"),
        ("Voltage", "230V", "voltage '230V' is not a number"),
        ("Amperage", "16.0", "amperage '16.0' is not a whole number"),
        (
            "Amperage",
            "501",
            "amperage 501 is out of range; expected a whole number of amperes from 1 to 500",
        ),
        ("Amperage", "0", "amperage 0 is out of range"),
        ("Serial number", "ACE 001", "serial number must not contain whitespace"),
        ("Serial number", "S" * 256, "serial number is 256 characters long; at most 255 allowed"),
        ("Manufacturer", "M" * 256, "manufacturer is 256 characters long; at most 255 allowed"),
        ("Station ID", "ST:1", "station ID contains ':'"),
        ("Wi-Fi supported", "maybe", "'maybe' is not a boolean (use true/false, yes/no or 1/0)"),
        ("Connector type", "Type 9", "unknown connector type 'Type 9'"),
        ("Format", "Plug", "unknown format 'Plug' (use Socket or Cable)"),
        ("Power type", "AC", "unknown power type 'AC'"),
    ],
)
def test_bad_values_are_named(column: str, value: str, message: str) -> None:
    values = row()
    values[column] = value
    error = only_error(parse_csv(csv_text(values)))
    assert (error.line, error.column) == (2, column)
    assert error.message.startswith(message)


@pytest.mark.parametrize(("voltage", "amperage"), [("110", "1"), ("1000", "500"), ("0230", "016")])
def test_bounds_are_inclusive(voltage: str, amperage: str) -> None:
    batch = parse_csv(csv_text(row(Power_type="DC", Voltage=voltage, Amperage=amperage)))
    assert batch.ok
    spec = batch.stations[0].connector_specifications[0]
    assert (spec.voltage, spec.amperage) == (int(voltage), int(amperage))


@pytest.mark.parametrize("spelling", [*TRUE_SPELLINGS, "tRuE", "yEs"])
def test_every_spelling_of_true_is_accepted(spelling: str) -> None:
    batch = parse_csv(csv_text(row(Wi_Fi_supported=spelling, GSM_supported=spelling)))
    assert batch.stations[0].connectivity == Connectivity(wifi=True, gsm=True)


@pytest.mark.parametrize("spelling", [*FALSE_SPELLINGS, "fAlSe", "nO"])
def test_every_spelling_of_false_is_accepted(spelling: str) -> None:
    batch = parse_csv(csv_text(row(Wi_Fi_supported="1", GSM_supported=spelling)))
    assert batch.stations[0].connectivity == Connectivity(wifi=True, gsm=False)


def test_an_ethernet_station_says_wifi() -> None:
    batch = parse_csv(csv_text(row(Wi_Fi_supported="yes", GSM_supported="no")))
    assert batch.ok


def test_neither_wifi_nor_gsm_is_an_error_at_wifi() -> None:
    error = only_error(parse_csv(csv_text(row(Wi_Fi_supported="no", GSM_supported="0"))))
    assert (error.line, error.column) == (2, "Wi-Fi supported")
    assert error.message == (
        "neither Wi-Fi nor GSM is supported; at least one must be true "
        "(choose Wi-Fi for Ethernet stations)"
    )


def test_all_errors_are_reported_in_line_order() -> None:
    rows = [row(Station_ID=f"ST{i}", Voltage="5" if i % 2 else "230") for i in range(300)]
    rows[10]["Format"] = "Plug"
    batch = parse_csv(csv_text(*rows))
    assert len(batch.errors) == 151
    lines = [(e.line or 0) for e in batch.errors]
    assert lines == sorted(lines)
    assert (batch.errors[5].line, batch.errors[5].column) == (12, "Format")
    assert len(batch.stations) == 149


def test_errors_in_one_line_follow_the_file_column_order() -> None:
    columns = list(reversed(CSV_COLUMNS))
    batch = parse_csv(write_csv(columns, [row(Voltage="x", Station_ID="a:b", Format="")]))
    assert [e.column for e in batch.errors] == ["Voltage", "Format", "Station ID"]


# --- several rows per station --------------------------------------------------------------------


def test_rows_with_one_station_id_are_one_station_in_row_order() -> None:
    batch = parse_csv(
        csv_text(
            row(
                Connector_type="CCS2",
                Format="Cable",
                Power_type="DC",
                Voltage="920",
                Amperage="200",
            ),
            row(Station_ID="ST2"),
            row(
                Connector_type="CHAdeMO",
                Format="Cable",
                Power_type="DC",
                Voltage="500",
                Amperage="125",
            ),
            row(Wi_Fi_supported="TRUE", GSM_supported="0"),
        )
    )
    assert batch.ok
    first, second = batch.stations
    assert (first.station_id, first.line, second.station_id, second.line) == ("ST1", 2, "ST2", 3)
    assert [s.standard for s in first.connector_specifications] == [
        ConnectorStandard.IEC_62196_T2_COMBO,
        ConnectorStandard.CHADEMO,
        ConnectorStandard.IEC_62196_T2,
    ]


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        (
            "Manufacturer",
            "ABB",
            '"ABB" differs from "Alfen" on line 2, the first row of station ST1',
        ),
        ("Article number", "", 'empty differs from "NG920-61001" on line 2'),
        ("Wi-Fi supported", "no", '"no" differs from "yes" on line 2'),
        ("GSM supported", "yes", '"yes" differs from "no" on line 2'),
        ("Serial number", "ACE0012399", '"ACE0012399" differs from "ACE0012345" on line 2'),
        (
            "Security code",
            "K7P2-0000",
            "differs from the value on line 2, the first row of station ST1",
        ),
    ],
)
def test_a_station_value_that_differs_from_the_first_row_is_an_error(
    column: str, value: str, message: str
) -> None:
    later = row(Power_type="DC", Voltage="400")
    later[column] = value
    batch = parse_csv(csv_text(row(), row(Station_ID="ST2"), later))
    error = only_error(batch)
    assert (error.line, error.column) == (4, column)
    assert error.message.startswith(message)
    assert error.message.endswith("; the rows of one station must agree on its station values")
    assert "K7P2" not in error.message  # security codes are never echoed
    assert [s.station_id for s in batch.stations] == ["ST2"]


def test_every_differing_station_value_is_reported() -> None:
    later = row(Manufacturer="ABB", Serial_number="X1")
    batch = parse_csv(csv_text(row(), later))
    assert [(e.line, e.column) for e in batch.errors] == [(3, "Manufacturer"), (3, "Serial number")]


def test_station_values_are_compared_as_parsed() -> None:
    batch = parse_csv(csv_text(row(), row(Wi_Fi_supported="TRUE", GSM_supported="0")))
    assert batch.ok


# --- warnings ------------------------------------------------------------------------------------


def test_a_line_to_line_voltage_gets_a_warning() -> None:
    batch = parse_csv(
        csv_text(
            row(Voltage="400"),
            row(Station_ID="ST2", Voltage="345"),
            row(Station_ID="ST3", Power_type="DC", Voltage="400"),
            row(Station_ID="ST4", Power_type="Single-phase AC", Voltage="400"),
            row(Station_ID="ST5", Voltage="346"),
        )
    )
    assert batch.ok
    assert [(w.line, w.column) for w in batch.warnings] == [(2, "Voltage"), (6, "Voltage")]
    assert batch.warnings[0].message == line_to_line_warning(PowerType.AC_3_PHASE, 400)
    assert batch.stations[0].connector_specifications[0].voltage == 400


def test_the_batch_is_frozen() -> None:
    batch = parse_csv(csv_text(row()))
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        batch.errors = ()  # type: ignore[misc]

"""Parsers of user text: accepted forms, normal forms, and error messages (SPEC §2, §5)."""

from __future__ import annotations

import re
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.values import (
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
    Protocol,
    code_from,
    parse_bool,
    parse_code,
    parse_connector_format,
    parse_connector_standard,
    parse_mac,
    parse_power_type,
    parse_protocol,
    parse_serial_number,
    parse_station_id,
)

STATION_ID_ALPHABET = string.ascii_letters + string.digits + "._-*=+|@"
CODE_ALPHABET = string.ascii_letters + string.digits + "._-"


def mixed_case(text: str) -> st.SearchStrategy[str]:
    return st.tuples(*(st.sampled_from([c.lower(), c.upper()]) for c in text)).map("".join)


# --- station IDs and codes -------------------------------------------------------------------


@given(st.text(STATION_ID_ALPHABET, min_size=1, max_size=48))
def test_station_id_alphabet_is_accepted_as_is(text: str) -> None:
    assert parse_station_id(text) == text


@given(st.text(STATION_ID_ALPHABET, min_size=49, max_size=80))
def test_station_id_longer_than_48_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match=rf"{len(text)} characters long; at most 48"):
        parse_station_id(text)


@given(
    st.text(STATION_ID_ALPHABET, max_size=10),
    st.characters().filter(lambda c: c not in STATION_ID_ALPHABET),
    st.text(STATION_ID_ALPHABET, max_size=10),
)
def test_station_id_names_the_bad_character(before: str, bad: str, after: str) -> None:
    with pytest.raises(ValueError, match="contains") as info:
        parse_station_id(before + bad + after)
    assert repr(bad) in str(info.value)
    assert "allowed are letters, digits" in str(info.value)


@pytest.mark.parametrize("text", ["CP:1", "ocpp/CP1", "CP 1", "Zürich1", "CP\n"])
def test_station_id_refuses_url_breakers(text: str) -> None:
    with pytest.raises(ValueError, match="station ID contains"):
        parse_station_id(text)


def test_station_id_empty() -> None:
    with pytest.raises(ValueError, match="station ID is empty"):
        parse_station_id("")


@given(st.text(CODE_ALPHABET, min_size=1, max_size=64))
def test_code_alphabet(text: str) -> None:
    assert parse_code(text) == text


@pytest.mark.parametrize("text", ["a*b", "a b", "x" * 65, "ä", "a=b"])
def test_code_refused(text: str) -> None:
    with pytest.raises(ValueError, match="1 to 64 letters, digits"):
        parse_code(text)
    with pytest.raises(ValueError, match="code is empty"):
        parse_code("")


# --- MAC addresses ---------------------------------------------------------------------------


@given(st.binary(min_size=6, max_size=6), st.data())
def test_mac_notations_are_normalised(raw: bytes, data: st.DataObject) -> None:
    normal = ":".join(f"{b:02X}" for b in raw)
    hex_digits = raw.hex()
    pairs = [hex_digits[i : i + 2] for i in range(0, 12, 2)]
    notation = data.draw(
        st.sampled_from(
            [
                ":".join(pairs),
                "-".join(pairs),
                ".".join(hex_digits[i : i + 4] for i in range(0, 12, 4)),
                hex_digits,
                f"  {':'.join(pairs)} ",
            ]
        )
    )
    cased = data.draw(mixed_case(notation))
    assert parse_mac(cased) == normal
    assert parse_mac(normal) == normal


@pytest.mark.parametrize(
    "text", ["", "AA:BB:CC:DD:EE", "AA:BB:CC:DD:EE:FF:00", "GG:BB:CC:DD:EE:FF", "AABBCCDDEEF"]
)
def test_mac_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a MAC address \(expected AA:BB:CC:DD:EE:FF\)"):
        parse_mac(text)


# --- serial numbers --------------------------------------------------------------------------


@given(st.text(string.ascii_letters + string.digits + "-/#", min_size=1, max_size=255))
def test_serial_number_accepted(text: str) -> None:
    assert parse_serial_number(text) == text


def test_serial_number_refused() -> None:
    with pytest.raises(ValueError, match="256 characters long; at most 255"):
        parse_serial_number("S" * 256)
    for text in ("SN 1", "SN\t1", "SN1\n"):
        with pytest.raises(ValueError, match="whitespace"):
            parse_serial_number(text)
    with pytest.raises(ValueError, match="empty"):
        parse_serial_number("")


# --- booleans --------------------------------------------------------------------------------


@given(st.data(), st.sampled_from([("true", True), ("yes", True), ("1", True)]))
def test_bool_true_in_any_case(data: st.DataObject, word: tuple[str, bool]) -> None:
    assert parse_bool(data.draw(mixed_case(word[0]))) is True


@given(st.data(), st.sampled_from(["false", "no", "0"]))
def test_bool_false_in_any_case(data: st.DataObject, word: str) -> None:
    assert parse_bool(" " + data.draw(mixed_case(word)) + " ") is False


@pytest.mark.parametrize("text", ["", "y", "n", "on", "off", "2", "truee", "nein"])
def test_bool_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"is not a boolean \(use true/false, yes/no or 1/0\)"):
        parse_bool(text)


# --- connector standards, formats, power types -----------------------------------------------


@given(st.sampled_from(ConnectorStandard), st.data())
def test_every_standard_by_its_ocpi_name(member: ConnectorStandard, data: st.DataObject) -> None:
    assert parse_connector_standard(member.value) is member
    assert parse_connector_standard(data.draw(mixed_case(member.value))) is member


@pytest.mark.parametrize(
    ("alias", "member"),
    [
        ("Type 2", ConnectorStandard.IEC_62196_T2),
        ("type2", ConnectorStandard.IEC_62196_T2),
        ("TYPE-2", ConnectorStandard.IEC_62196_T2),
        ("Mennekes", ConnectorStandard.IEC_62196_T2),
        ("Type 1", ConnectorStandard.IEC_62196_T1),
        ("J1772", ConnectorStandard.IEC_62196_T1),
        ("CCS2", ConnectorStandard.IEC_62196_T2_COMBO),
        ("CCS", ConnectorStandard.IEC_62196_T2_COMBO),
        ("Combo 2", ConnectorStandard.IEC_62196_T2_COMBO),
        ("CCS1", ConnectorStandard.IEC_62196_T1_COMBO),
        ("CHAdeMO", ConnectorStandard.CHADEMO),
        ("chademo", ConnectorStandard.CHADEMO),
        ("GB/T DC", ConnectorStandard.GBT_DC),
        ("Schuko", ConnectorStandard.DOMESTIC_F),
        ("NACS", ConnectorStandard.SAE_J3400),
        (" IEC 62196 T2 ", ConnectorStandard.IEC_62196_T2),
    ],
)
def test_standard_aliases(alias: str, member: ConnectorStandard) -> None:
    assert parse_connector_standard(alias) is member


@pytest.mark.parametrize("text", ["", "Type 4", "CCS3", "Tesla Supercharger"])
def test_standard_refused(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"unknown connector type {text!r}")) as info:
        parse_connector_standard(text)
    assert "IEC_62196_T2" in str(info.value)


@pytest.mark.parametrize(
    ("text", "member"),
    [
        ("SOCKET", ConnectorFormat.SOCKET),
        ("socket", ConnectorFormat.SOCKET),
        (" Cable ", ConnectorFormat.CABLE),
    ],
)
def test_formats(text: str, member: ConnectorFormat) -> None:
    assert parse_connector_format(text) is member


def test_format_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown format 'plug' \(use Socket or Cable\)"):
        parse_connector_format("plug")


@pytest.mark.parametrize(
    ("text", "member"),
    [
        ("AC_1_PHASE", PowerType.AC_1_PHASE),
        ("AC_3_PHASE", PowerType.AC_3_PHASE),
        ("DC", PowerType.DC),
        ("dc", PowerType.DC),
        ("Single-phase AC", PowerType.AC_1_PHASE),
        ("single phase ac", PowerType.AC_1_PHASE),
        ("Three-phase AC", PowerType.AC_3_PHASE),
        ("THREE-PHASE AC", PowerType.AC_3_PHASE),
        ("ac 3 phase", PowerType.AC_3_PHASE),
    ],
)
def test_power_types(text: str, member: PowerType) -> None:
    assert parse_power_type(text) is member


@pytest.mark.parametrize("text", ["", "AC", "two-phase AC", "AC_2_PHASE"])
def test_power_type_refused(text: str) -> None:
    with pytest.raises(ValueError, match="use Single-phase AC, Three-phase AC or DC"):
        parse_power_type(text)


# --- protocols -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "member"),
    [
        ("ocpp1.6", Protocol.OCPP16),
        ("1.6", Protocol.OCPP16),
        ("OCPP1.6J", Protocol.OCPP16),
        ("ocpp2.0.1", Protocol.OCPP201),
        ("2.0.1", Protocol.OCPP201),
        ("2.0", Protocol.OCPP201),
        ("OCPP 2.0", Protocol.OCPP201),
        (" ocpp2.0.1 ", Protocol.OCPP201),
    ],
)
def test_protocols(text: str, member: Protocol) -> None:
    assert parse_protocol(text) is member


@pytest.mark.parametrize("text", ["", "1.5", "2.1", "ocpp2", "ocpp1.6s"])
def test_protocol_refused(text: str) -> None:
    with pytest.raises(ValueError, match=r"unknown protocol .* \(use ocpp1\.6 or ocpp2\.0\.1\)"):
        parse_protocol(text)


def test_protocol_values_are_the_websocket_subprotocols() -> None:
    assert [p.value for p in Protocol] == ["ocpp1.6", "ocpp2.0.1"]


@given(
    text=st.text(min_size=1, max_size=100),
    suffix=st.sampled_from(["", "-1", "-12345"]),
)
def test_code_from_always_gives_a_valid_code_within_64_characters(text: str, suffix: str) -> None:
    code = code_from(text, suffix)
    assert parse_code(code) == code
    assert len(code) <= 64
    assert code.endswith(suffix)
    kept = code.removesuffix(suffix)
    # Allowed characters are kept in place; every other one became "_".
    for original, made in zip(text, kept, strict=False):
        assert made == (original if parse_code_ok(original) else "_")


def parse_code_ok(char: str) -> bool:
    try:
        parse_code(char)
    except ValueError:
        return False
    return True


def test_code_from_station_ids() -> None:
    assert code_from("ST1010101") == "ST1010101"
    assert code_from("CP@1*2", "-1") == "CP_1_2-1"
    assert code_from("A" * 70, "-3") == "A" * 62 + "-3"

"""QR code payloads: building them per SPEC §2 and resolving a scanned one back."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from evcharge_core.domain.model import Charger, Connector, Station
from evcharge_core.domain.qr import (
    SEPARATOR,
    QrPayload,
    QrPayloadError,
    charger_qr_codes,
    connectors_usable_at_once,
    parse_payload,
    qr_code_for,
    resolve,
)
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType, Protocol
from evcharge_core.testing import strategies as gen


def _connector(n: int, code: str | None = None) -> Connector:
    return Connector(
        id=f"k{n}",
        ocpp_id=n,
        code=code or str(n),
        name=f"Connector {n}",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=16,
    )


def _station(protocol: Protocol | None, *connectors: Connector) -> Station:
    charger = Charger(id="c1", evse_id=1, code="DEPOT-1", name="Depot", connectors=connectors)
    return Station(id="ST1", name="ST1", code="ST1", protocol=protocol, chargers=(charger,))


def test_payload_is_the_charger_code_for_one_connector() -> None:
    station = _station(Protocol.OCPP16, _connector(1))
    (code,) = charger_qr_codes(station, station.chargers[0])
    assert code.payload == "DEPOT-1"
    assert code.connector == station.chargers[0].connectors[0]
    assert code.label == "Depot"


def test_payload_names_the_connector_when_several_can_be_used_at_once() -> None:
    for protocol in (Protocol.OCPP16, None):
        station = _station(protocol, _connector(1, "L"), _connector(2, "R"))
        charger = station.chargers[0]
        assert connectors_usable_at_once(station, charger)
        codes = charger_qr_codes(station, charger)
        assert [c.payload for c in codes] == ["DEPOT-1*L", "DEPOT-1*R"]
        assert [c.connector for c in codes] == list(charger.connectors)
        assert codes[1].label == "Depot, Connector 2"


def test_an_ocpp201_evse_has_one_code_for_its_connectors() -> None:
    station = _station(Protocol.OCPP201, _connector(1), _connector(2))
    charger = station.chargers[0]
    assert not connectors_usable_at_once(station, charger)
    (code,) = charger_qr_codes(station, charger)
    assert (code.payload, code.connector) == ("DEPOT-1", None)
    target = resolve(station, parse_payload(code.payload))
    assert (target.charger, target.connector) == (charger, None)
    # A per-connector sticker (printed while the protocol was unknown) still resolves.
    assert resolve(station, parse_payload("DEPOT-1*2")).connector == charger.connectors[1]


def test_qr_code_for_a_connector() -> None:
    station = _station(Protocol.OCPP16, _connector(1), _connector(2))
    charger = station.chargers[0]
    assert qr_code_for(station, charger, charger.connectors[1]).payload == "DEPOT-1*2"
    with pytest.raises(ValueError, match="name the connector"):
        qr_code_for(station, charger, None)
    with pytest.raises(ValueError, match="not a connector of charger"):
        qr_code_for(station, charger, _connector(9))
    single = _station(Protocol.OCPP16, _connector(1))
    only = single.chargers[0]
    assert qr_code_for(single, only, None).payload == "DEPOT-1"
    assert qr_code_for(single, only, only.connectors[0]).payload == "DEPOT-1"


def test_parse_payload() -> None:
    assert parse_payload("DEPOT-1") == QrPayload("DEPOT-1")
    assert parse_payload("  DEPOT-1*2\r\n") == QrPayload("DEPOT-1", "2")
    assert str(QrPayload("A", "B")) == f"A{SEPARATOR}B"
    for text, message in (
        ("", "empty"),
        ("   ", "empty"),
        ("DEPOT 1", "QR payload 'DEPOT 1' is not a code"),
        ("*2", "charger code '' is not a code"),
        ("DEPOT-1*", "connector code '' is not a code"),
        ("A*B*C", "connector code 'B\\*C' is not a code"),
        ("https://example.com/x", "not a code"),
    ):
        with pytest.raises(QrPayloadError, match=message):
            parse_payload(text)


def test_resolve_errors() -> None:
    two = _station(Protocol.OCPP16, _connector(1), _connector(2))
    with pytest.raises(QrPayloadError, match="no charger with code 'OTHER'"):
        resolve(two, QrPayload("OTHER"))
    with pytest.raises(QrPayloadError, match="has no connector with code '7'"):
        resolve(two, QrPayload("DEPOT-1", "7"))
    with pytest.raises(QrPayloadError, match=r"must name one, as DEPOT-1\*CONNECTOR_CODE"):
        resolve(two, QrPayload("DEPOT-1"))
    with pytest.raises(QrPayloadError, match="has no connectors"):
        resolve(_station(Protocol.OCPP16), QrPayload("DEPOT-1"))
    twins = _station(Protocol.OCPP16, _connector(1, "X"), _connector(2, "X"))
    with pytest.raises(QrPayloadError, match="2 connectors with code 'X'"):
        resolve(twins, QrPayload("DEPOT-1", "X"))


def _with_protocol(station: Station, protocol: Protocol | None) -> Station:
    """The station under another protocol, if its connector numbering allows it."""
    try:
        return attrs.evolve(station, protocol=protocol)
    except ValueError:
        return station


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(gen.stations(kind="operator"), st.sampled_from([None, *Protocol]))
def test_every_payload_resolves_back_to_what_it_was_made_for(
    station: Station, protocol: Protocol | None
) -> None:
    """Round trip: each QR code's payload parses, and resolves to its own charger and
    connector; payloads are distinct within the station."""
    station = _with_protocol(station, protocol)
    payloads: list[str] = []
    for charger in station.chargers:
        codes = charger_qr_codes(station, charger)
        assert codes
        for code in codes:
            assert code.payload == code.payload.strip()
            parsed = parse_payload(code.payload)
            assert str(parsed) == code.payload
            if not charger.connectors:
                with pytest.raises(QrPayloadError):
                    resolve(station, parsed)
                continue
            target = resolve(station, parsed)
            assert (target.station, target.charger, target.connector) == (
                station,
                charger,
                code.connector,
            )
            payloads.append(code.payload)
        for connector in charger.connectors:
            explicit = QrPayload(charger.code, connector.code)
            assert resolve(station, parse_payload(f" {explicit}\n")).connector == connector
    assert len(payloads) == len(set(payloads))


@given(st.text(max_size=20))
def test_parse_payload_never_fails_otherwise(text: str) -> None:
    """Any text either parses into valid codes or raises QrPayloadError, nothing else."""
    try:
        parsed = parse_payload(text)
    except QrPayloadError as error:
        message = str(error)
    else:
        assert SEPARATOR not in parsed.charger_code
        assert str(parsed) == text.strip()
        return
    assert message


@given(gen.codes(), gen.codes())
def test_codes_joined_by_the_separator_split_back(charger: str, connector: str) -> None:
    assume(SEPARATOR not in charger + connector)
    assert parse_payload(f"{charger}{SEPARATOR}{connector}") == QrPayload(charger, connector)

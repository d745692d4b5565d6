"""The rules that need stored stations: override only while inactive; building the Station."""

from __future__ import annotations

from datetime import UTC, datetime

import attrs
import pytest
from hypothesis import given

from evcharge_core.domain.model import (
    Activation,
    BootConfiguration,
    Charger,
    Connectivity,
    ConnectorSpec,
    ReportedInfo,
    Station,
)
from evcharge_core.domain.values import (
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
    Protocol,
    parse_code,
)
from evcharge_core.errors import Conflict, Issue
from evcharge_core.importing import (
    ImportBatch,
    StationImport,
    check_batch,
    check_existing,
    parse_csv,
    station_code,
    to_station,
)

from .strategies import station_imports

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INACTIVE = Activation(ActivationState.INACTIVE, None)
SPEC = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, PowerType.AC_3_PHASE, 230, 16
)


def imported(station_id: str = "ST1", line: int | None = 2) -> StationImport:
    return StationImport(
        station_id=station_id,
        security_code="K7P2-9QXM",
        manufacturer="Alfen",
        article_number="NG920-61001",
        serial_number="ACE0012345",
        connectivity=Connectivity(wifi=True, gsm=False),
        connector_specifications=(SPEC,),
        line=line,
    )


def stored(station_id: str = "ST1", *, active: bool) -> Station:
    """A station an operator has worked on: named, placed, configured, with a charger."""
    return Station(
        id=station_id,
        name="Car park north",
        code="CPN-01",
        visible=False,
        area_id="area-7",
        protocol=Protocol.OCPP16,
        boot_configuration=BootConfiguration(trigger_heartbeat=True),
        security_profile=1,
        security_code_hash="old-hash",
        manufacturer="Old maker",
        article_number=None,
        serial_number="OLD1",
        connectivity=Connectivity(wifi=False, gsm=True),
        connector_specifications=(attrs.evolve(SPEC, amperage=32),),
        activation=Activation(ActivationState.ACTIVE, NOW) if active else INACTIVE,
        reported=ReportedInfo(vendor="Alfen", firmware_version="6.1"),
        chargers=(Charger(id="c1", evse_id=1, code="CPN-01-1", name="Left"),),
    )


# --- check_existing ------------------------------------------------------------------------------


def test_new_and_inactive_stations_may_be_imported() -> None:
    existing = {"ST2": stored("ST2", active=False)}
    assert check_existing([imported("ST1"), imported("ST2", line=3)], existing) == []


def test_an_active_station_is_an_error_at_its_line() -> None:
    existing = {"ST2": stored("ST2", active=True), "ST3": stored("ST3", active=False)}
    batch = ImportBatch(stations=(imported("ST1"), imported("ST2", line=3), imported("ST3", 5)))
    assert check_existing(batch, existing) == [
        Issue(
            "station ST2 is already active; only inactive stations can be overridden by an import",
            line=3,
            column="Station ID",
        )
    ]


def test_an_active_station_is_an_error_at_the_field_of_a_single_import() -> None:
    existing = {"ST1": stored(active=True)}
    assert check_existing([imported(line=None)], existing) == [
        Issue(
            "station ST1 is already active; only inactive stations can be overridden by an import",
            field="station_id",
        )
    ]


def test_check_batch_merges_the_errors_in_line_order() -> None:
    text = (
        "Station ID;Security code;Manufacturer;Article number;Wi-Fi supported;GSM supported;"
        "Connector type;Format;Power type;Voltage;Amperage;Serial number\n"
        "ST1;K;Alfen;;yes;no;Type 2;Socket;DC;230;16;\n"
        "ST2;K;Alfen;;yes;no;Type 2;Socket;DC;5;16;\n"
        "ST3;K;Alfen;;yes;no;Type 2;Socket;DC;230;16;\n"
    )
    batch = parse_csv(text)
    existing = {"ST1": stored("ST1", active=True), "ST3": stored("ST3", active=True)}
    merged = check_batch(batch, existing)
    assert [(e.line, e.column) for e in merged.errors] == [
        (2, "Station ID"),
        (3, "Voltage"),
        (4, "Station ID"),
    ]
    assert merged.stations == batch.stations
    assert check_batch(batch, {}) is batch


# --- to_station ----------------------------------------------------------------------------------


def test_a_new_station_is_inactive_and_named_after_its_id() -> None:
    station = to_station(imported(), security_code_hash="h$1")
    assert station == Station(
        id="ST1",
        name="ST1",
        code="ST1",
        protocol=None,
        security_profile=0,
        activation=INACTIVE,
        security_code_hash="h$1",
        manufacturer="Alfen",
        article_number="NG920-61001",
        serial_number="ACE0012345",
        connectivity=Connectivity(wifi=True, gsm=False),
        connector_specifications=(SPEC,),
    )
    assert not station.is_active
    assert station.chargers == ()
    assert station.visible


@pytest.mark.parametrize(
    ("station_id", "code"),
    [("ST1010101", "ST1010101"), ("a.b_c-d", "a.b_c-d"), ("ST*1=2+3|4@5", "ST_1_2_3_4_5")],
)
def test_the_code_is_the_id_with_other_characters_replaced(station_id: str, code: str) -> None:
    assert station_code(station_id) == code
    assert to_station(imported(station_id), security_code_hash="h").code == code


def test_overriding_an_inactive_station_keeps_what_the_operator_set() -> None:
    before = stored(active=False)
    after = to_station(imported(), security_code_hash="new-hash", existing=before)
    assert after == attrs.evolve(
        before,
        security_code_hash="new-hash",
        manufacturer="Alfen",
        article_number="NG920-61001",
        serial_number="ACE0012345",
        connectivity=Connectivity(wifi=True, gsm=False),
        connector_specifications=(SPEC,),
    )
    assert (after.name, after.code, after.area_id, after.visible) == (
        "Car park north",
        "CPN-01",
        "area-7",
        False,
    )
    assert after.chargers == before.chargers
    assert after.reported == before.reported
    assert after.activation == INACTIVE


def test_overriding_an_active_station_is_refused() -> None:
    with pytest.raises(Conflict, match="station ST1 is already active"):
        to_station(imported(), security_code_hash="h", existing=stored(active=True))


def test_overriding_another_station_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="cannot override station ST2 with ST1"):
        to_station(imported(), security_code_hash="h", existing=stored("ST2", active=False))


@given(station_imports(line=2))
def test_every_valid_import_makes_a_valid_station(station_import: StationImport) -> None:
    station = to_station(station_import, security_code_hash="h")
    assert station.id == station_import.station_id
    assert parse_code(station.code) == station.code
    assert station.connector_specifications == station_import.connector_specifications
    assert station.connectivity == station_import.connectivity
    assert (station.manufacturer, station.article_number, station.serial_number) == (
        station_import.manufacturer,
        station_import.article_number,
        station_import.serial_number,
    )
    assert not station.is_active

"""The model validates itself at construction (SPEC §2)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.model import (
    Activation,
    Area,
    Charger,
    Connection,
    Connectivity,
    Connector,
    ConnectorSpec,
    Station,
    StatusRecord,
)
from evcharge_core.domain.values import (
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    PowerType,
    Protocol,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def spec(**changes: Any) -> ConnectorSpec:
    fields: dict[str, Any] = {
        "standard": ConnectorStandard.IEC_62196_T2,
        "format": ConnectorFormat.SOCKET,
        "power_type": PowerType.AC_3_PHASE,
        "voltage": 230,
        "amperage": 16,
    }
    return ConnectorSpec(**(fields | changes))


def connector(ocpp_id: int = 1, **changes: Any) -> Connector:
    fields: dict[str, Any] = {
        "id": f"c{ocpp_id}",
        "ocpp_id": ocpp_id,
        "code": str(ocpp_id),
        "name": f"Connector {ocpp_id}",
        "standard": ConnectorStandard.IEC_62196_T2,
        "format": ConnectorFormat.SOCKET,
        "power_type": PowerType.AC_3_PHASE,
        "voltage": 230,
        "amperage": 16,
    }
    return Connector(**(fields | changes))


def charger(evse_id: int, *connectors: Connector) -> Charger:
    return Charger(
        id=f"ch{evse_id}", evse_id=evse_id, code=f"cp-{evse_id}", name="C", connectors=connectors
    )


def station(*chargers: Charger, **changes: Any) -> Station:
    fields: dict[str, Any] = {"id": "CP-1", "name": "Depot", "code": "cp1", "chargers": chargers}
    return Station(**(fields | changes))


# --- electrical bounds -----------------------------------------------------------------------


@given(st.integers(110, 1000), st.integers(1, 500))
def test_bounds_accept(voltage: int, amperage: int) -> None:
    assert spec(voltage=voltage, amperage=amperage).voltage == voltage
    assert connector(voltage=voltage, amperage=amperage).amperage == amperage


@pytest.mark.parametrize("voltage", [109, 1001, 0, -230])
def test_voltage_out_of_range(voltage: int) -> None:
    with pytest.raises(ValueError, match=f"voltage must be between 110 and 1000, got {voltage}"):
        spec(voltage=voltage)
    with pytest.raises(ValueError, match="voltage must be between 110 and 1000"):
        connector(voltage=voltage)


@pytest.mark.parametrize("amperage", [0, 501, -16])
def test_amperage_out_of_range(amperage: int) -> None:
    with pytest.raises(ValueError, match=f"amperage must be between 1 and 500, got {amperage}"):
        spec(amperage=amperage)
    with pytest.raises(ValueError, match="amperage must be between 1 and 500"):
        connector(amperage=amperage)


@pytest.mark.parametrize("value", [True, 230.0, "230", None])
def test_voltage_must_be_a_whole_number(value: object) -> None:
    with pytest.raises(TypeError, match="voltage must be a whole number"):
        spec(voltage=value)


@given(st.floats(0.0, 1.0))
def test_power_factor_in_range(value: float) -> None:
    assert connector(power_factor=value).power_factor == value


@pytest.mark.parametrize("value", [-0.01, 1.01, 2.0, float("nan")])
def test_power_factor_out_of_range(value: float) -> None:
    with pytest.raises(ValueError, match="power factor must be between 0 and 1"):
        connector(power_factor=value)


@pytest.mark.parametrize("value", [0, -1, True])
def test_wattage_limit_must_be_positive(value: int) -> None:
    with pytest.raises(ValueError, match="wattage limit must be a positive number of watts"):
        connector(wattage_limit=value)
    assert connector(wattage_limit=1).wattage_limit == 1


def test_connector_ids_and_codes() -> None:
    with pytest.raises(ValueError, match="ocpp_id must be between 1"):
        connector(0)
    with pytest.raises(ValueError, match="1 to 64 letters"):
        connector(code="a b")
    assert connector(custom_fields={"k": "v"}).custom_fields == {"k": "v"}


def test_spec_of_a_connector() -> None:
    assert connector().spec == spec()
    assert spec().max_power_w == 11_040


# --- stations and chargers -------------------------------------------------------------------


def test_duplicate_evse_ids() -> None:
    with pytest.raises(ValueError, match="station CP-1: two chargers with EVSE ID 2"):
        station(charger(2), charger(2))


@pytest.mark.parametrize("protocol", [None, Protocol.OCPP16])
def test_ocpp16_connector_ids_are_unique_across_the_station(protocol: Protocol | None) -> None:
    with pytest.raises(ValueError, match="two connectors with OCPP ID 1"):
        station(charger(1, connector(1)), charger(2, connector(1)), protocol=protocol)
    with pytest.raises(ValueError, match="two connectors with OCPP ID 3"):
        station(charger(1, connector(3), connector(3)), protocol=protocol)
    assert len(station(charger(1, connector(1)), charger(2, connector(2))).chargers) == 2


def test_ocpp201_connector_ids_are_unique_within_the_evse() -> None:
    s = station(charger(1, connector(1)), charger(2, connector(1)), protocol=Protocol.OCPP201)
    assert [c.ocpp_id for _, c in s.iter_connectors()] == [1, 1]
    with pytest.raises(ValueError, match="two connectors with OCPP ID 1"):
        station(charger(1, connector(1), connector(1)), protocol=Protocol.OCPP201)


def test_evse_id_at_least_one() -> None:
    with pytest.raises(ValueError, match="evse_id must be between 1"):
        charger(0)


def test_collections_become_tuples() -> None:
    s = station(*[charger(1, *[connector(1)])], connector_specifications=[spec()])
    assert isinstance(s.chargers, tuple)
    assert isinstance(s.chargers[0].connectors, tuple)
    assert s.connector_specifications == (spec(),)
    assert s.charger_by_id("ch1") is s.chargers[0]
    assert s.charger_by_id("nope") is None
    assert s.chargers[0].connector_by_ocpp_id(1) is s.chargers[0].connectors[0]
    assert s.chargers[0].connector_by_ocpp_id(2) is None


def test_station_fields_in_normal_form() -> None:
    with pytest.raises(ValueError, match="station ID contains ':'"):
        station(id="CP:1")
    with pytest.raises(ValueError, match="'AA:BB:CC:DD:EE:FF'"):
        station(physical_address="aa-bb-cc-dd-ee-ff")
    assert station(physical_address="AA:BB:CC:DD:EE:FF").physical_address == "AA:BB:CC:DD:EE:FF"
    with pytest.raises(ValueError, match="whitespace"):
        station(serial_number="SN 1")
    with pytest.raises(ValueError, match="security_profile must be between 0 and 3"):
        station(security_profile=4)
    with pytest.raises(ValueError, match="code is empty"):
        station(code="")


def test_new_station_defaults() -> None:
    s = station()
    assert s.visible
    assert s.is_active
    assert s.protocol is None
    assert not s.closed
    b = s.boot_configuration
    assert attrs.astuple(b) == (False, False, False, False)


@pytest.mark.parametrize(("wifi", "gsm"), [(True, False), (False, True), (True, True)])
def test_connectivity_at_least_one(wifi: bool, gsm: bool) -> None:
    assert Connectivity(wifi, gsm) == Connectivity(wifi=wifi, gsm=gsm)


def test_connectivity_none_refused() -> None:
    with pytest.raises(ValueError, match="at least one of Wi-Fi and GSM"):
        Connectivity(wifi=False, gsm=False)


def test_timestamps_must_be_aware() -> None:
    naive = datetime(2026, 3, 1)
    with pytest.raises(ValueError, match="timestamp must be a timezone-aware datetime"):
        StatusRecord(ConnectorStatus.AVAILABLE, naive)
    with pytest.raises(ValueError, match="last_seen must be a timezone-aware"):
        Connection(last_seen=naive)
    with pytest.raises(ValueError, match="activated_at must be a timezone-aware"):
        Activation(activated_at=naive)
    assert StatusRecord(ConnectorStatus.AVAILABLE, T0).timestamp == T0


def test_values_are_frozen() -> None:
    s = station()
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        s.name = "Other"  # type: ignore[misc]


# --- areas -----------------------------------------------------------------------------------


@given(st.floats(-90, 90), st.floats(-180, 180))
def test_area_coordinates_in_range(latitude: float, longitude: float) -> None:
    area = Area(id="a", name="A", latitude=latitude, longitude=longitude)
    assert (area.latitude, area.longitude) == (latitude, longitude)


@pytest.mark.parametrize(("latitude", "longitude"), [(90.1, 0.0), (-91.0, 0.0), (0.0, 180.5)])
def test_area_coordinates_out_of_range(latitude: float, longitude: float) -> None:
    with pytest.raises(ValueError, match="must be between"):
        Area(id="a", name="A", latitude=latitude, longitude=longitude)


def test_area_private_group_is_a_frozenset() -> None:
    area = Area(id="a", name="A", latitude=0, longitude=0, private_group=["d1", "d1", "d2"])  # type: ignore[arg-type]
    assert area.private_group == frozenset({"d1", "d2"})

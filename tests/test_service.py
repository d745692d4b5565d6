"""The application service over both repositories: import, activation, CRUD, export."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import Coroutine, Sequence
from itertools import count
from typing import Any, TypeVar

import pytest

from evcharge_core.domain.events import (
    ActivationFailed,
    Event,
    StationActivated,
    StationChanged,
    StationImported,
)
from evcharge_core.domain.values import ActivationState, ConnectorStandard, PowerType
from evcharge_core.errors import (
    ActivationMismatch,
    ActivationThrottled,
    AlreadyActivated,
    Conflict,
    ImportRejected,
    InvalidInput,
    NotFound,
)
from evcharge_core.ports import Repository, StationQuery
from evcharge_core.service import StationService, neutralize_formula

from .conftest import EXAMPLES, FakeClock

T = TypeVar("T")

HEADER = (
    "Station ID;Security code;Manufacturer;Article number;Wi-Fi supported;GSM supported;"
    "Connector type;Format;Power type;Voltage;Amperage;Serial number"
)
CSV = "\n".join(
    [
        HEADER,
        "ST1010101;K7P2-9QXM;Alfen;ART-1;yes;no;Type 2;Socket;Three-phase AC;230;16;SN1",
        "ST1001011;M3X8-2LQA;Alfen;;true;true;CCS2;Cable;DC;400;125;",
        "ST1001011;M3X8-2LQA;Alfen;;true;true;CHAdeMO;Cable;DC;400;125;",
    ]
)


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


class Recorder:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def publish(self, events: Sequence[Event]) -> None:
        self.events.extend(events)


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def service(repository: Repository, clock: FakeClock, recorder: Recorder) -> StationService:
    ids = count(1)
    return StationService(repository, events=recorder, clock=clock, new_id=lambda: f"id{next(ids)}")


def test_csv_import_stores_inactive_stations_with_their_specifications(
    service: StationService, recorder: Recorder
) -> None:
    report = run(service.import_csv(CSV))
    assert report.imported == ("ST1010101", "ST1001011")
    assert report.replaced == ()
    dc = run(service.get_station("ST1001011"))
    assert dc.activation.state is ActivationState.INACTIVE
    assert [s.standard for s in dc.connector_specifications] == [
        ConnectorStandard.IEC_62196_T2_COMBO,
        ConnectorStandard.CHADEMO,
    ]
    assert dc.security_code_hash is not None
    assert "M3X8" not in dc.security_code_hash
    assert {type(e) for e in recorder.events} == {StationImported}


def test_example_file_imports(service: StationService) -> None:
    report = run(service.import_csv((EXAMPLES / "stations.csv").read_bytes()))
    assert report.imported
    assert report.warnings == ()


def test_a_file_with_errors_imports_nothing(service: StationService) -> None:
    bad = CSV + "\nST9;CODE;Alfen;;no;no;Type 2;Socket;Three-phase AC;230;16;"
    with pytest.raises(ImportRejected) as info:
        run(service.import_csv(bad))
    assert info.value.error_count == 1
    assert info.value.issues[0].line == 5
    assert run(service.list_stations(StationQuery())).total == 0


def test_reimport_overrides_inactive_but_not_active_stations(service: StationService) -> None:
    run(service.import_csv(CSV))
    run(service.update_station("ST1010101", {"name": "Depot"}))
    changed = CSV.replace("Alfen;ART-1", "Zaptec;ART-2")
    report = run(service.import_csv(changed))
    assert "ST1010101" in report.replaced
    station = run(service.get_station("ST1010101"))
    assert station.manufacturer == "Zaptec"
    assert station.name == "Depot"  # operator-set fields survive an override
    run(service.activate("ST1010101", "K7P2-9QXM"))
    both_changed = changed.replace("Alfen", "Easee")
    with pytest.raises(ImportRejected) as info:
        run(service.import_csv(both_changed))
    assert [(i.line, i.column) for i in info.value.issues] == [(2, "Station ID")]
    # All or nothing: the inactive station in the same file was not overridden either.
    assert run(service.get_station("ST1001011")).manufacturer == "Alfen"


def test_single_import(service: StationService) -> None:
    body = {
        "station_id": "ST42",
        "security_code": "ABCD-1234",
        "manufacturer": "Easee",
        "connectivity": {"wifi": True, "gsm": False},
        "connector_specifications": [
            {
                "standard": "Type 2",
                "format": "Socket",
                "power_type": "Single-phase AC",
                "voltage": 230,
                "amperage": 32,
            }
        ],
    }
    assert run(service.import_single(body)).imported == ("ST42",)
    assert run(service.import_single_json(json.dumps(body))).replaced == ("ST42",)
    spec = run(service.get_station("ST42")).connector_specifications[0]
    assert spec.power_type is PowerType.AC_1_PHASE


def test_activation(service: StationService, recorder: Recorder, clock: FakeClock) -> None:
    run(service.import_csv(CSV))
    station = run(service.activate("ST1010101", " K7P2-9QXM "))
    assert station.activation.state is ActivationState.ACTIVE
    assert station.activation.activated_at == clock.now
    assert run(service.get_station("ST1010101")).is_active
    assert isinstance(recorder.events[-1], StationActivated)
    with pytest.raises(AlreadyActivated):
        run(service.activate("ST1010101", "K7P2-9QXM"))


def test_mismatch_is_the_same_for_unknown_ids_and_wrong_codes(service: StationService) -> None:
    run(service.import_csv(CSV))
    with pytest.raises(ActivationMismatch) as unknown:
        run(service.activate("ST0000000", "K7P2-9QXM"))
    with pytest.raises(ActivationMismatch) as wrong:
        run(service.activate("ST1010101", "WRONG"))
    assert str(unknown.value) == str(wrong.value)


def test_both_activation_fields_are_required(service: StationService) -> None:
    with pytest.raises(InvalidInput) as info:
        run(service.activate(" ", ""))
    assert [i.field for i in info.value.issues] == ["station_id", "security_code"]


def test_repeated_failures_are_throttled_per_station_and_recorded(
    service: StationService, recorder: Recorder, clock: FakeClock
) -> None:
    run(service.import_csv(CSV))
    for _ in range(service.throttle.free_attempts + 1):
        with pytest.raises(ActivationMismatch):
            run(service.activate("ST1010101", "WRONG"))
    failures = [e for e in recorder.events if isinstance(e, ActivationFailed)]
    assert failures[-1].failures == service.throttle.free_attempts + 1
    # Locked now, even with the right code; other stations are not affected.
    with pytest.raises(ActivationThrottled):
        run(service.activate("ST1010101", "K7P2-9QXM"))
    run(service.activate("ST1001011", "M3X8-2LQA"))
    clock.advance(service.throttle.base_lockout.total_seconds())
    assert run(service.activate("ST1010101", "K7P2-9QXM")).is_active


def test_create_station_defaults_and_password(service: StationService) -> None:
    station = run(service.create_station({"id": "CP@1", "password": "a" * 16}))
    assert station.is_active
    assert station.name == "CP@1"
    assert station.code == "CP_1"
    assert station.security_profile == 1
    assert station.password_hash is not None
    rendered = json.dumps(service.station_json(station))
    assert "password" not in rendered.replace("has_password", "")
    with pytest.raises(Conflict):
        run(service.create_station({"id": "CP@1"}))


def test_create_station_reports_every_bad_field(service: StationService) -> None:
    with pytest.raises(InvalidInput) as info:
        run(
            service.create_station(
                {"id": "bad/id", "visible": "yes", "protocol": "ocpp9", "colour": "red"}
            )
        )
    assert sorted(i.field or "" for i in info.value.issues) == [
        "colour",
        "id",
        "protocol",
        "visible",
    ]


def test_update_station_patches_only_given_fields(service: StationService) -> None:
    run(service.create_station({"id": "ST1", "name": "One"}))
    run(service.update_station("ST1", {"boot_configuration": {"trigger_heartbeat": True}}))
    station = run(
        service.update_station("ST1", {"boot_configuration": {"clear_charging_profiles": True}})
    )
    assert station.name == "One"
    assert station.boot_configuration.trigger_heartbeat
    assert station.boot_configuration.clear_charging_profiles
    assert not station.boot_configuration.trigger_boot_notification
    with pytest.raises(InvalidInput) as info:
        run(service.update_station("ST1", {"id": "ST2"}))
    assert info.value.issues[0].field == "id"
    with pytest.raises(InvalidInput) as info:
        run(service.update_station("ST1", {"area_id": "nowhere"}))
    assert info.value.issues[0].field == "area_id"
    with pytest.raises(NotFound):
        run(service.update_station("ST404", {"name": "x"}))


def test_chargers_and_connectors(service: StationService) -> None:
    run(service.import_csv(CSV))
    station, charger = run(service.create_charger("ST1001011", {}))
    assert (charger.evse_id, charger.code, charger.name) == (1, "ST1001011-1", "ST1001011")
    _, first = run(service.create_connector(charger.id, {}))
    _, second = run(service.create_connector(charger.id, {"wattage_limit": 50000}))
    # Connector IDs 1 and 2 get the imported specifications in order.
    assert (first.ocpp_id, first.standard) == (1, ConnectorStandard.IEC_62196_T2_COMBO)
    assert (second.ocpp_id, second.standard) == (2, ConnectorStandard.CHADEMO)
    assert second.max_power_w == 50000
    _, renamed = run(service.update_connector(first.id, {"name": "CCS"}))
    assert renamed.name == "CCS"
    station = run(service.delete_connector(second.id))
    assert [c.id for _, c in station.iter_connectors()] == [first.id]
    with pytest.raises(NotFound):
        run(service.get_connector(second.id))
    _, charger = run(service.update_charger(charger.id, {"reservable": True}))
    assert charger.reservable
    run(service.delete_charger(charger.id))
    with pytest.raises(NotFound):
        run(service.get_charger(charger.id))


def test_generated_charger_codes_are_unique_across_stations(service: StationService) -> None:
    run(service.create_station({"id": "A", "code": "X"}))
    run(service.create_station({"id": "B", "code": "Y"}))
    _, taken = run(service.create_charger("A", {"code": "Y-1"}))
    _, generated = run(service.create_charger("B", {}))
    assert taken.code == "Y-1"
    assert generated.code == "Y-1-2"
    with pytest.raises(Conflict):
        run(service.create_charger("B", {"code": "Y-1"}))


def test_connector_without_specification_needs_its_fields(service: StationService) -> None:
    run(service.create_station({"id": "A"}))
    _, charger = run(service.create_charger("A", {}))
    with pytest.raises(InvalidInput) as info:
        run(service.create_connector(charger.id, {"standard": "Type 2"}))
    assert sorted(i.field or "" for i in info.value.issues) == [
        "amperage",
        "format",
        "power_type",
        "voltage",
    ]


def test_areas(service: StationService) -> None:
    area = run(
        service.create_area({"id": "oslo", "name": "Oslo", "latitude": 59.91, "longitude": 10.75})
    )
    run(service.create_station({"id": "A", "area_id": "oslo"}))
    assert run(service.update_area("oslo", {"output_limit_a": 32})).output_limit_a == 32
    assert [a.id for a in run(service.list_areas())] == [area.id]
    with pytest.raises(Conflict):
        run(service.delete_area("oslo"))
    run(service.delete_station("A"))
    run(service.delete_area("oslo"))
    with pytest.raises(NotFound):
        run(service.get_area("oslo"))
    with pytest.raises(InvalidInput) as info:
        run(service.create_area({"name": "x", "latitude": 91, "longitude": 0, "time_zone": "Mars"}))
    assert sorted(i.field or "" for i in info.value.issues) == ["latitude", "time_zone"]


def test_list_filters_and_pages(service: StationService) -> None:
    run(service.import_csv(CSV))
    run(service.create_station({"id": "OP1", "name": "Operator one"}))
    run(service.activate("ST1010101", "K7P2-9QXM"))
    active = run(service.list_stations(StationQuery(activation=ActivationState.ACTIVE)))
    assert sorted(s.id for s in active.items) == ["OP1", "ST1010101"]
    page = run(service.list_stations(StationQuery(page=2, page_size=2)))
    assert (page.total, len(page.items)) == (3, 1)
    found = run(service.list_stations(StationQuery(search="operator")))
    assert [s.id for s in found.items] == ["OP1"]


def test_export_csv_neutralises_formulas(service: StationService) -> None:
    run(service.create_station({"id": "=1+2", "name": '=HYPERLINK("http://x")'}))
    run(service.create_station({"id": "plain", "name": "Plain"}))
    rows = list(csv.reader(io.StringIO(run(service.export_csv(StationQuery())))))
    assert rows[0][:3] == ["id", "name", "code"]
    by_id = {row[0]: row for row in rows[1:]}
    assert by_id["'=1+2"][1] == '\'=HYPERLINK("http://x")'
    assert by_id["plain"][1] == "Plain"


def test_export_json_lists_every_station(service: StationService) -> None:
    for i in range(3):
        run(service.create_station({"id": f"S{i}"}))
    items = json.loads(run(service.export_json(StationQuery(page_size=1))))
    assert [i["id"] for i in items] == ["S0", "S1", "S2"]
    assert items[0]["websocket_url"] == "ws://localhost:9000/ocpp/S0"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("=1", "'=1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@a", "'@a"),
        ("\tx", "'\tx"),
        ("a=1", "a=1"),
        ("", ""),
    ],
)
def test_neutralize_formula(value: str, expected: str) -> None:
    assert neutralize_formula(value) == expected


def test_events_only_after_commit(service: StationService, recorder: Recorder) -> None:
    run(service.create_station({"id": "A"}))
    with pytest.raises(Conflict):
        run(service.create_station({"id": "A"}))
    assert recorder.events == [StationChanged("A", created=True)]


# --- QR codes, the map, connector codes ------------------------------------------------------

_SPEC = {
    "standard": "Type 2",
    "format": "Socket",
    "power_type": "AC_3_PHASE",
    "voltage": 230,
    "amperage": 16,
}


def _charger_with(service: StationService, station_id: str, count: int, **station: Any) -> str:
    run(service.create_station({"id": station_id, **station}))
    _, charger = run(service.create_charger(station_id, {"code": f"{station_id}-C"}))
    for _ in range(count):
        run(service.create_connector(charger.id, dict(_SPEC)))
    return charger.id


def test_connector_codes_are_unique_within_their_charger(service: StationService) -> None:
    charger_id = _charger_with(service, "A", 1)
    _, first = run(service.get_charger(charger_id))
    run(service.update_connector(first.connectors[0].id, {"code": "2"}))
    _, second = run(service.create_connector(charger_id, dict(_SPEC)))  # OCPP id 2, code taken
    assert (second.ocpp_id, second.code) == (2, "2-2")
    with pytest.raises(Conflict, match="already has a connector with code '2'"):
        run(service.create_connector(charger_id, {**_SPEC, "code": "2"}))
    with pytest.raises(Conflict):
        run(service.update_connector(second.id, {"code": "2"}))
    run(service.update_connector(second.id, {"code": "2-2", "name": "same code is fine"}))


def test_qr_codes_and_resolution(service: StationService) -> None:
    single = _charger_with(service, "S", 1)
    double = _charger_with(service, "D", 2, protocol="ocpp1.6")
    _, codes = run(service.charger_qr_codes(single))
    assert [c.payload for c in codes] == ["S-C"]
    _, codes = run(service.charger_qr_codes(double))
    assert [c.payload for c in codes] == ["D-C*1", "D-C*2"]
    station, every = run(service.station_qr_codes("D"))
    assert (station.id, [c.payload for c in every]) == ("D", ["D-C*1", "D-C*2"])

    second = codes[1].connector
    assert second is not None
    assert run(service.charger_qr_code(double, second.id)).payload == "D-C*2"
    assert run(service.charger_qr_code(single)).payload == "S-C"
    with pytest.raises(InvalidInput, match="name the connector"):
        run(service.charger_qr_code(double))
    with pytest.raises(InvalidInput, match="has no connector"):
        run(service.charger_qr_code(single, second.id))
    with pytest.raises(NotFound):
        run(service.charger_qr_code("nope"))

    target = run(service.resolve_qr(" D-C*2\n"))
    assert (target.station.id, target.charger.id, target.connector) == ("D", double, second)
    assert run(service.resolve_qr("S-C")).connector is not None
    for payload, message in (
        ("", "empty"),
        ("NOPE", "no charger with code 'NOPE'"),
        ("D-C", "must name one"),
        ("D-C*9", "no connector with code '9'"),
        ("a b", "not a code"),
    ):
        with pytest.raises(InvalidInput, match=message) as info:
            run(service.resolve_qr(payload))
        assert info.value.issues[0].field == "payload"


def test_map_places_filters_and_hides(service: StationService) -> None:
    run(service.create_area({"id": "near", "name": "Near", "latitude": 52.52, "longitude": 13.405}))
    run(service.create_area({"id": "far", "name": "Far", "latitude": 48.137, "longitude": 11.576}))
    run(
        service.create_area(
            {"id": "club", "name": "Club", "latitude": 52.53, "longitude": 13.40,
             "private_group": ["alice", "fleet"]}
        )
    )  # fmt: skip
    _charger_with(service, "N", 1, area_id="near")
    _charger_with(service, "F", 1, area_id="far")
    _charger_with(service, "H", 1, area_id="club", visible=False)
    _charger_with(service, "X", 1)  # no area: no location
    run(service.import_csv(CSV))  # inactive stations: no chargers, never on a driver's map

    def ids(**kwargs: Any) -> list[str]:
        from evcharge_core.domain.charger_map import MapQuery

        result = run(service.map_chargers(MapQuery(**kwargs)))
        return [e.station.id for e in result.entries]

    berlin = {"latitude": 52.52, "longitude": 13.40}
    assert ids(**berlin) == ["N", "F"]
    assert ids(**berlin, driver_id="alice") == ["N", "H", "F"]
    assert ids(**berlin, driver_id="bob") == ["N", "F"]
    assert ids(**berlin, operator_view=True) == ["N", "H", "F"]
    assert ids(**berlin, min_power_w=11_041) == []
    assert ids(area_id="far") == ["F"]

    from evcharge_core.charging import ChargingService
    from evcharge_core.domain.charger_map import MapQuery
    from evcharge_core.domain.transactions import IdToken

    run(ChargingService(service.repository).add_id_token(IdToken("CARD-9", group_id="fleet")))
    assert ids(**berlin, driver_id="CARD-9") == ["N", "H", "F"]  # via the token's group
    result = run(service.map_chargers(MapQuery(operator_view=True)))
    assert result.unlocated == 1

"""Charging profiles through the library (StationService), the admin API and the CLI: CRUD,
located errors, assignment to chargers, the conflict of deleting an assigned profile."""

from __future__ import annotations

import asyncio
import json
import warnings
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.admin import SCHEMAS, create_app
from evcharge_core.bus import LocalEventBus
from evcharge_core.domain.events import (
    ChargingProfileAssigned,
    ChargingProfileChanged,
    ChargingProfileDeleted,
    Event,
)
from evcharge_core.domain.profiles import RateUnit, Recurrence
from evcharge_core.errors import Conflict, InvalidInput, NotFound
from evcharge_core.service import StationService

from .test_cli import evcharge, ok

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

T = TypeVar("T")
TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
DAY_NIGHT: dict[str, Any] = {
    "name": "Day/night",
    "unit": "W",
    "recurrence": "daily",
    "periods": [{"start": "07:00", "limit": 10000}, {"start": "22:00", "limit": 20000}],
}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def _valid(name: str, instance: object) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
    jsonschema.Draft202012Validator(schema).validate(instance)


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def service(events: list[Event]) -> StationService:
    bus = LocalEventBus()
    bus.subscribe(events.append)
    return StationService(InMemoryRepository(), events=bus)


# --- the library -----------------------------------------------------------------------------


def test_profile_crud_in_the_library(service: StationService, events: list[Event]) -> None:
    created = run(service.create_profile({**DAY_NIGHT, "id": "day-night"}))
    assert created.id == "day-night"
    assert created.unit is RateUnit.WATTS
    assert [p.start_s for p in created.periods] == [7 * 3600, 22 * 3600]
    assert run(service.get_profile("day-night")) == created
    generated = run(service.create_profile({**DAY_NIGHT, "name": "Another"}))
    assert generated.id != created.id
    assert [p.name for p in run(service.list_profiles())] == ["Another", "Day/night"]
    # PATCH semantics: fields not given stay; periods given replace them all
    renamed = run(service.update_profile("day-night", {"name": "Nights"}))
    assert renamed.periods == created.periods
    weekly = run(service.update_profile("day-night", {"recurrence": "weekly"}))
    assert weekly.recurrence is Recurrence.WEEKLY
    assert weekly.periods == created.periods  # same seconds: Monday's hours
    run(service.delete_profile(generated.id))
    with pytest.raises(NotFound):
        run(service.get_profile(generated.id))
    with pytest.raises(Conflict, match="already exists"):
        run(service.create_profile({**DAY_NIGHT, "id": "day-night"}))
    assert events == [
        ChargingProfileChanged("day-night", created=True),
        ChargingProfileChanged(generated.id, created=True),
        ChargingProfileChanged("day-night"),
        ChargingProfileChanged("day-night"),
        ChargingProfileDeleted(generated.id),
    ]


def test_profile_errors_are_all_located(service: StationService) -> None:
    with pytest.raises(InvalidInput) as caught:
        run(
            service.create_profile(
                {
                    "id": "not a code",
                    "name": "x",
                    "unit": "kW",
                    "recurrence": "daily",
                    "periods": [{"start": "25:00", "limit": 1}],
                }
            )
        )
    assert [i.field for i in caught.value.issues] == ["id", "unit", "periods[0].start"]
    run(service.create_profile({**DAY_NIGHT, "id": "p"}))
    with pytest.raises(InvalidInput) as caught:
        run(service.update_profile("p", {"periods": [{"start": "07:00", "limit": 1.5}]}))
    assert [str(i) for i in caught.value.issues] == [
        'field "periods[0].limit": must be a whole number of watts, got 1.5'
    ]
    assert run(service.get_profile("p")).periods[0].limit == 10000  # unchanged


def test_assigning_a_profile_to_a_charger(service: StationService, events: list[Event]) -> None:
    run(service.create_profile({**DAY_NIGHT, "id": "day-night"}))
    run(service.create_station({"id": "ST1"}))
    with pytest.raises(InvalidInput) as caught:
        run(service.create_charger("ST1", {"charging_profile_id": "nope"}))
    assert caught.value.issues[0].field == "charging_profile_id"
    _, charger = run(service.create_charger("ST1", {"charging_profile_id": "day-night"}))
    assert ChargingProfileAssigned("ST1", charger.id, "day-night") in events
    with pytest.raises(Conflict, match=charger.id):
        run(service.delete_profile("day-night"))
    with pytest.raises(InvalidInput):
        run(service.update_charger(charger.id, {"charging_profile_id": "nope"}))
    events.clear()
    run(service.update_charger(charger.id, {"charging_profile_id": None}))
    assert ChargingProfileAssigned("ST1", charger.id, None, previous="day-night") in events
    run(service.update_charger(charger.id, {"name": "Left"}))  # no profile change: no event
    assert sum(isinstance(e, ChargingProfileAssigned) for e in events) == 1
    run(service.delete_profile("day-night"))


# --- the admin API ---------------------------------------------------------------------------


@pytest.fixture
def client(service: StationService) -> Iterator[TestClient]:
    with TestClient(create_app(service, token=TOKEN), headers=AUTH) as test_client:
        yield test_client


def test_profile_crud_over_the_api(client: TestClient) -> None:
    created = client.post("/api/charging-profiles", json={**DAY_NIGHT, "id": "day-night"})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/charging-profiles/day-night"
    body = created.json()
    _valid("ChargingProfile", body)
    assert body == {"id": "day-night", **DAY_NIGHT}
    listed = client.get("/api/charging-profiles").json()
    _valid("ChargingProfileList", listed)
    assert [p["id"] for p in listed["items"]] == ["day-night"]
    patched = client.patch(
        "/api/charging-profiles/day-night",
        json={"periods": [{"start": "22:00", "limit": 16, "number_phases": 1}], "unit": "A"},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["periods"] == [{"start": "22:00", "limit": 16, "number_phases": 1}]
    assert client.get("/api/charging-profiles/day-night").json() == patched.json()
    # assignment through the charger
    assert client.post("/api/stations", json={"id": "ST1"}).status_code == 201
    charger = client.post("/api/stations/ST1/chargers", json={}).json()
    bad = client.patch(f"/api/chargers/{charger['id']}", json={"charging_profile_id": "nope"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "charging_profile_id"
    assigned = client.patch(
        f"/api/chargers/{charger['id']}", json={"charging_profile_id": "day-night"}
    )
    assert assigned.json()["charging_profile_id"] == "day-night"
    view = client.get(f"/api/chargers/{charger['id']}/charging-profile").json()
    _valid("ChargerChargingProfile", view)
    assert view["profile"]["id"] == "day-night"
    assert view["sent"] is None  # no sender in this app
    busy = client.delete("/api/charging-profiles/day-night")
    assert busy.status_code == 409
    assert charger["id"] in busy.json()["detail"]
    client.patch(f"/api/chargers/{charger['id']}", json={"charging_profile_id": None})
    assert client.delete("/api/charging-profiles/day-night").status_code == 204
    assert client.get("/api/charging-profiles/day-night").status_code == 404


def test_profile_errors_over_the_api_are_rfc9457_with_located_errors(client: TestClient) -> None:
    response = client.post(
        "/api/charging-profiles",
        json={
            "name": "",
            "unit": "W",
            "recurrence": "daily",
            "periods": [{"start": "07:00", "limit": 1.5}, {"start": "7:00", "limit": 1}],
            "colour": "red",
        },
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    _valid("Problem", problem)
    fields = [e["field"] for e in problem["errors"]]
    assert fields == ["name", "periods[0].limit", "colour"]


def test_allocations_of_an_area_without_limit_or_sessions(client: TestClient) -> None:
    client.post("/api/areas", json={"id": "depot", "name": "Depot", "latitude": 0, "longitude": 0})
    view = client.get("/api/areas/depot/allocations").json()
    _valid("AreaAllocations", view)
    assert view["balanced"] is False
    client.patch("/api/areas/depot", json={"output_limit_a": 32})
    view = client.get("/api/areas/depot/allocations").json()
    _valid("AreaAllocations", view)
    assert (view["balanced"], view["live"], view["allocations"]) == (True, False, [])
    assert view["limit"] == {"current_a": 32, "power_w": None}
    assert client.get("/api/areas/nowhere/allocations").status_code == 404


# --- the CLI ---------------------------------------------------------------------------------


def test_profiles_through_the_cli(tmp_path: Path) -> None:
    db = tmp_path / "cli.db"
    created = json.loads(
        ok(
            evcharge(
                "profiles",
                "create",
                "--id",
                "day-night",
                "--name",
                "Day/night",
                "--unit",
                "W",
                "--recurrence",
                "daily",
                "--period",
                "22:00=20000",
                "--period",
                "07:00=10000/3",
                db=db,
            )
        )
    )
    assert created["periods"] == [
        {"start": "07:00", "limit": 10000, "number_phases": 3},
        {"start": "22:00", "limit": 20000},
    ]
    from_file = tmp_path / "p.json"
    from_file.write_text(json.dumps({**DAY_NIGHT, "name": "From a file"}))
    other = json.loads(ok(evcharge("profiles", "create", "--file", str(from_file), db=db)))
    assert other["name"] == "From a file"
    listed = json.loads(ok(evcharge("profiles", "list", db=db)))
    assert [p["name"] for p in listed] == ["Day/night", "From a file"]
    updated = json.loads(
        ok(evcharge("profiles", "update", "day-night", "--period", "00:00=11000", db=db))
    )
    assert updated["periods"] == [{"start": "00:00", "limit": 11000}]
    assert json.loads(ok(evcharge("profiles", "show", "day-night", db=db))) == updated
    bad = evcharge("profiles", "update", "day-night", "--unit", "kW", "--period", "25:00=1", db=db)
    assert bad.returncode == 1
    assert bad.stderr.splitlines() == [
        'field "unit": \'kW\' is not valid; expected "A" or "W"',
        "field \"periods[0].start\": '25:00' is not a time of day (00:00 to 23:59:59)",
    ]
    ok(evcharge("stations", "create", "ST1", db=db))
    charger = json.loads(
        ok(evcharge("chargers", "create", "ST1", "--set", "charging_profile_id=day-night", db=db))
    )
    assert charger["charging_profile_id"] == "day-night"
    busy = evcharge("profiles", "delete", "day-night", db=db)
    assert busy.returncode == 1
    assert busy.stderr.startswith("error: charging profile 'day-night' is assigned to charger")
    assert ok(evcharge("profiles", "delete", other["id"], db=db)).startswith("deleted")
    missing = evcharge("profiles", "show", "nope", db=db)
    assert missing.returncode == 1
    assert missing.stderr == "error: charging profile 'nope' not found\n"


def test_area_allocations_through_the_cli(tmp_path: Path) -> None:
    """Computed from the stored sessions, as a balancer that has sent nothing would."""
    from datetime import UTC, datetime

    from evcharge_core.adapters.sqlite import SQLiteRepository
    from evcharge_core.domain.model import Area, Charger, Connector, Station
    from evcharge_core.domain.transactions import Transaction
    from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType

    db = tmp_path / "cli.db"

    def station(station_id: str) -> Station:
        connector = Connector(
            id=f"{station_id}-k1", ocpp_id=1, code="K1", name="K1",
            standard=ConnectorStandard.IEC_62196_T2, format=ConnectorFormat.SOCKET,
            power_type=PowerType.AC_3_PHASE, voltage=230, amperage=32,
        )  # fmt: skip
        charger = Charger(
            id=f"{station_id}-ch", evse_id=1, code=station_id, name=station_id,
            connectors=(connector,),
        )  # fmt: skip
        return Station(
            id=station_id, name=station_id, code=station_id, area_id="depot", chargers=[charger]
        )

    async def seed() -> None:
        repository = await SQLiteRepository.open(db)
        async with repository.transaction() as tx:
            await tx.areas.save(
                Area(id="depot", name="Depot", latitude=0, longitude=0, output_limit_a=40)
            )
            await tx.stations.save_many([station("A"), station("B")])
            for n, station_id in enumerate(("A", "B")):
                await tx.transactions.save(
                    Transaction(
                        station_id=station_id,
                        transaction_id=str(n + 1),
                        connector_id=1,
                        id_tag="TAG",
                        started_at=datetime(2026, 6, 1, 16, n, tzinfo=UTC),
                        meter_start=0,
                    )
                )
        await repository.close()

    run(seed())
    shown = json.loads(ok(evcharge("areas", "allocations", "depot", db=db)))
    _valid("AreaAllocations", {**shown, "live": False})
    assert [(a["connector_id"], a["limit"], a["state"]) for a in shown["allocations"]] == [
        ("A-k1", 20, "charging"),
        ("B-k1", 20, "charging"),
    ]
    assert shown["phase_current_a"] == [40, 40, 40]


def test_phase_wiring_and_phase_voltage_over_the_api(client: TestClient) -> None:
    area = client.post(
        "/api/areas", json={"id": "depot", "name": "Depot", "latitude": 0, "longitude": 0}
    ).json()
    assert area["phase_voltage"] == 230
    changed = client.patch("/api/areas/depot", json={"phase_voltage": 240})
    assert changed.json()["phase_voltage"] == 240
    _valid("Area", changed.json())
    assert client.patch("/api/areas/depot", json={"phase_voltage": 5}).status_code == 422
    client.post("/api/stations", json={"id": "ST1"})
    charger = client.post("/api/stations/ST1/chargers", json={}).json()
    body = {
        "standard": "IEC_62196_T2", "format": "SOCKET", "power_type": "AC_1_PHASE",
        "voltage": 230, "amperage": 32, "phase": "L2",
    }  # fmt: skip
    connector = client.post(f"/api/chargers/{charger['id']}/connectors", json=body)
    assert connector.status_code == 201, connector.text
    assert connector.json()["phase"] == "L2"
    _valid("Connector", connector.json())
    bad = client.patch(f"/api/connectors/{connector.json()['id']}", json={"phase": "L4"})
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "phase"

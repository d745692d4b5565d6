"""The admin API's operator surface: charger and transaction lists with their exports, the
station JSON export, QR codes and the map, through Starlette's TestClient."""

from __future__ import annotations

import asyncio
import csv
import io
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from xml.etree import ElementTree

import httpx
import jsonschema
import pytest

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.admin import PROBLEM_TYPE_BASE, SCHEMAS, create_app
from evcharge_core.charging import ChargingService
from evcharge_core.domain.transactions import Authorization, AuthorizationStatus
from evcharge_core.qrcodes import qr_matrix
from evcharge_core.service import StationService

from .conftest import FakeClock
from .test_qrcodes import _modules_of, _png_pixels, _with_quiet_zone

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # the test client's dependencies' import-time warnings
    from starlette.testclient import TestClient

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
T0 = datetime(2026, 3, 1, 8, tzinfo=UTC)


@pytest.fixture
def service(clock: FakeClock) -> StationService:
    return StationService(InMemoryRepository(), clock=clock)


@pytest.fixture
def charging(service: StationService) -> ChargingService:
    return ChargingService(service.repository)


@pytest.fixture
def client(service: StationService, charging: ChargingService) -> Iterator[TestClient]:
    app = create_app(service, token=TOKEN, charging=charging)
    with TestClient(app, headers=AUTH) as test_client:
        yield test_client


def _valid(name: str, instance: object) -> None:
    schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
    jsonschema.Draft202012Validator(schema).validate(instance)


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + slug
    _valid("Problem", body)
    return body


def _ok(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


SPEC = {"standard": "Type 2", "format": "SOCKET", "power_type": "AC_3_PHASE", "voltage": 230}


def _seed(client: TestClient) -> dict[str, str]:
    """Two areas, three stations, chargers with 1, 2 and 1 connectors; charger ids by code."""
    _ok(
        client.post(
            "/api/areas",
            json={
                "id": "near",
                "name": "Near",
                "latitude": 52.52,
                "longitude": 13.405,
                "address": "Alexanderplatz 1",
            },
        )
    )
    club = {"id": "club", "name": "Club", "latitude": 52.53, "longitude": 13.40}
    _ok(client.post("/api/areas", json={**club, "private_group": ["alice"]}))
    _ok(
        client.post(
            "/api/stations",
            json={"id": "ST1", "name": "Depot", "area_id": "near", "protocol": "ocpp1.6"},
        )
    )
    _ok(
        client.post(
            "/api/stations",
            json={"id": "ST2", "name": "=cmd()", "area_id": "club", "visible": False},
        )
    )
    _ok(client.post("/api/stations", json={"id": "ST3", "name": "Nowhere"}))  # fmt: skip
    ids: dict[str, str] = {}
    chargers = (
        ("ST1", "DEP-1", (32,)),
        ("ST1", "DEP-2", (16, 8)),
        ("ST2", "CLUB-1", (16,)),
        ("ST3", "NOW-1", (16,)),
    )
    for station, code, amperages in chargers:
        charger = _ok(client.post(f"/api/stations/{station}/chargers", json={"code": code}))
        ids[code] = charger["id"]
        for amperage in amperages:
            _ok(client.post(f"/api/chargers/{charger['id']}/connectors",
                            json={**SPEC, "amperage": amperage}))  # fmt: skip
    return ids


# --- lists and exports -----------------------------------------------------------------------


def test_charger_list_pages_filters_and_sorts(client: TestClient) -> None:
    _seed(client)
    page = _ok(client.get("/api/chargers", params={"page_size": 2}))
    _valid("ChargerPage", page)
    assert [c["code"] for c in page["items"]] == ["DEP-1", "DEP-2"]
    assert (page["page"], page["page_size"], page["total"]) == (1, 2, 4)
    first = page["items"][0]
    assert (first["station_id"], first["station_name"], first["area_id"]) == (
        "ST1",
        "Depot",
        "near",
    )
    assert (first["connected"], first["activation"], first["max_power_w"]) == (
        False,
        "active",
        22080,
    )

    def codes(**params: str) -> list[str]:
        return [c["code"] for c in _ok(client.get("/api/chargers", params=params))["items"]]

    assert codes(page="2", page_size="3") == ["NOW-1"]
    assert codes(search="club") == ["CLUB-1"]
    assert codes(search="depot") == ["DEP-1", "DEP-2"]  # the station's name
    assert codes(station_id="ST3") == ["NOW-1"]
    assert codes(area_id="club") == ["CLUB-1"]
    assert codes(connected="true") == []
    assert codes(activation="ACTIVE", operational_status="operative") == [
        "DEP-1", "DEP-2", "CLUB-1", "NOW-1"]  # fmt: skip
    assert codes(current_type="dc") == []
    assert codes(sort="-max_power_w") == ["DEP-1", "DEP-2", "CLUB-1", "NOW-1"]
    assert codes(sort="-station") == ["NOW-1", "CLUB-1", "DEP-1", "DEP-2"]
    assert codes(sort="-code") == ["NOW-1", "DEP-2", "DEP-1", "CLUB-1"]
    assert codes(status="Available") == []

    bad = client.get("/api/chargers?page=0&page_size=abc&sort=colour&status=x&connected=maybe&x=1")
    fields = {e["field"] for e in _problem(bad, 422, "invalid-input")["errors"]}
    assert fields == {"page", "page_size", "sort", "status", "connected", "x"}


def test_charger_exports(client: TestClient) -> None:
    _seed(client)
    response = client.get("/api/chargers.csv", params={"page_size": 1, "sort": "code"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert 'filename="chargers.csv"' in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["code"] for r in rows] == ["CLUB-1", "DEP-1", "DEP-2", "NOW-1"]
    assert rows[0]["station_name"] == "'=cmd()"  # formula neutralised
    exported = _ok(client.get("/api/chargers.json", params={"area_id": "near"}))
    _valid("ChargerListItem", exported[0])
    assert [c["code"] for c in exported] == ["DEP-1", "DEP-2"]
    _problem(client.get("/api/chargers.csv", params={"sort": "nope"}), 422, "invalid-input")


def test_station_json_export(client: TestClient) -> None:
    _seed(client)
    response = client.get("/api/stations.json", params={"sort": "-id", "page_size": 1})
    assert 'filename="stations.json"' in response.headers["content-disposition"]
    stations = _ok(response)
    assert [s["id"] for s in stations] == ["ST3", "ST2", "ST1"]
    for station in stations:
        _valid("Station", station)
    assert [s["id"] for s in _ok(client.get("/api/stations.json?area_id=near"))] == ["ST1"]
    _problem(client.get("/api/stations.json?connected=perhaps"), 422, "invalid-input")


def _sessions(charging: ChargingService) -> None:
    async def start(station: str, tag: str, at: datetime, meter: int) -> int:
        number, _ = await charging.start_transaction(
            station, connector_id=1, id_tag=tag, meter_start=meter, timestamp=at
        )
        return number

    async def scenario() -> None:
        first = await start("ST1", "CARD-a", T0, 0)
        await start("ST2", "=evil", T0 + timedelta(hours=1), 100)
        await start("ST1", "card-B", T0 + timedelta(hours=2), 1000)
        await charging.stop_transaction("ST1", transaction_id=str(first), meter_stop=7000,
                                        timestamp=T0 + timedelta(minutes=30))  # fmt: skip

    asyncio.run(scenario())


def test_transaction_list_filters_sorts_and_exports(
    client: TestClient, charging: ChargingService
) -> None:
    _seed(client)
    _sessions(charging)

    def tags(**params: str) -> list[str]:
        page = _ok(client.get("/api/transactions", params=params))
        _valid("TransactionPage", page)
        return [t["id_tag"] for t in page["items"]]

    assert tags() == ["card-B", "=evil", "CARD-a"]  # newest first
    assert tags(sort="started_at") == ["CARD-a", "=evil", "card-B"]
    assert tags(search="CARD") == ["card-B", "CARD-a"]
    assert tags(area_id="near") == ["card-B", "CARD-a"]
    assert tags(state="ended") == ["CARD-a"]
    assert tags(sort="-energy_wh") == ["CARD-a", "card-B", "=evil"]
    assert tags(since="2026-03-01T08:30:00Z", until="2026-03-01T10:00:00+00:00") == ["=evil"]
    assert tags(page="2", page_size="2") == ["CARD-a"]

    bad = client.get("/api/transactions?since=yesterday&until=2026-03-01T10:00:00&sort=x&state=y")
    fields = {e["field"] for e in _problem(bad, 422, "invalid-input")["errors"]}
    assert fields == {"since", "until", "sort", "state"}

    text = client.get("/api/transactions.csv", params={"sort": "station_id"}).text
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["id_tag"] for r in rows] == ["CARD-a", "card-B", "'=evil"]
    assert rows[0]["energy_wh"] == "7000"
    exported = _ok(client.get("/api/transactions.json", params={"state": "active"}))
    assert [t["id_tag"] for t in exported] == ["card-B", "=evil"]
    _valid("Transaction", exported[0])


# --- QR codes --------------------------------------------------------------------------------


def test_charger_qr_codes(client: TestClient) -> None:
    ids = _seed(client)
    single = _ok(client.get(f"/api/chargers/{ids['DEP-1']}/qr"))
    _valid("QrCodeList", single)
    assert [c["payload"] for c in single["codes"]] == ["DEP-1"]
    assert single["codes"][0]["connector_id"] is not None
    double = _ok(client.get(f"/api/chargers/{ids['DEP-2']}/qr"))
    assert [c["payload"] for c in double["codes"]] == ["DEP-2*2", "DEP-2*3"]
    second = double["codes"][1]
    assert (
        second["svg_url"]
        == f"/api/chargers/{ids['DEP-2']}/qr.svg?connector={second['connector_id']}"
    )

    svg = client.get(second["svg_url"])
    assert svg.status_code == 200, svg.text
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(svg.text)
    assert root.findtext("{http://www.w3.org/2000/svg}title").endswith(": DEP-2*3")  # type: ignore[union-attr]

    png = client.get(f"/api/chargers/{ids['DEP-2']}/qr.png",
                     params={"connector": second["connector_id"], "scale": "3"})  # fmt: skip
    assert png.headers["content-type"] == "image/png"
    pixels = _png_pixels(png.content)
    assert _modules_of(pixels, 3) == _with_quiet_zone(qr_matrix("DEP-2*3"))
    assert client.get(f"/api/chargers/{ids['DEP-1']}/qr.png").content.startswith(b"\x89PNG")

    _problem(client.get(f"/api/chargers/{ids['DEP-2']}/qr.svg"), 422, "invalid-input")
    bad = client.get(f"/api/chargers/{ids['DEP-1']}/qr.png", params={"scale": "0", "x": "1"})
    assert {e["field"] for e in _problem(bad, 422, "invalid-input")["errors"]} == {"scale", "x"}
    wrong = client.get(f"/api/chargers/{ids['DEP-1']}/qr.svg", params={"connector": "nope"})
    assert _problem(wrong, 422, "invalid-input")["errors"][0]["field"] == "connector"
    _problem(client.get("/api/chargers/nope/qr.svg"), 404, "not-found")


def test_station_qr_sheet_and_list(client: TestClient) -> None:
    _seed(client)
    codes = _ok(client.get("/api/stations/ST1/qr"))
    assert [c["payload"] for c in codes["codes"]] == ["DEP-1", "DEP-2*2", "DEP-2*3"]
    sheet = client.get("/api/stations/ST1/qr-sheet.svg")
    assert sheet.headers["content-type"].startswith("image/svg+xml")
    root = ElementTree.fromstring(sheet.text)
    payloads = [g.get("data-payload") for g in root.iter("{http://www.w3.org/2000/svg}g")
                if g.get("data-payload")]  # fmt: skip
    assert payloads == ["DEP-1", "DEP-2*2", "DEP-2*3"]
    assert "Depot (ST1)" in sheet.text
    _problem(client.get("/api/stations/NOPE/qr-sheet.svg"), 404, "not-found")


def test_qr_resolution_and_remote_start_without_a_gateway(client: TestClient) -> None:
    ids = _seed(client)
    target = _ok(client.get("/api/qr/resolve", params={"payload": "DEP-2*3\n"}))
    _valid("QrTarget", target)
    assert (target["payload"], target["station_id"]) == ("DEP-2*3", "ST1")
    assert (target["charger"]["id"], target["connector"]["code"]) == (ids["DEP-2"], "3")
    for payload, message in (("DEP-2", "must name one"), ("GONE", "no charger"), ("", "empty")):
        body = _problem(client.get("/api/qr/resolve", params={"payload": payload}), 422,
                        "invalid-input")  # fmt: skip
        assert message in body["errors"][0]["message"]
        assert body["errors"][0]["field"] == "payload"

    start = client.post("/api/qr/remote-start", json={"payload": "DEP-1", "id_tag": "CARD"})
    _problem(start, 409, "not-connected")
    bad = client.post("/api/qr/remote-start", json={"payload": "DEP-1"})
    assert _problem(bad, 422, "invalid-input")["errors"][0]["field"] == "id_tag"
    wrong = client.post(
        "/api/stations/ST2/remote-start", json={"id_tag": "T", "qr_payload": "DEP-1"}
    )
    assert "names a charger of station ST1" in _problem(wrong, 422, "invalid-input")["detail"]
    both = client.post("/api/stations/ST1/remote-start",
                       json={"id_tag": "T", "qr_payload": "DEP-1", "connector_id": 1})  # fmt: skip
    assert _problem(both, 422, "invalid-input")["errors"][0]["field"] == "qr_payload"


# --- the map ---------------------------------------------------------------------------------


def test_map_geojson(client: TestClient) -> None:
    _seed(client)
    response = client.get("/api/map/chargers", params={"lat": "52.52", "lon": "13.40"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    document = response.json()
    _valid("ChargerMap", document)
    assert document["type"] == "FeatureCollection"
    assert document["unlocated"] == 1  # ST3 has no area
    features = document["features"]
    assert [f["properties"]["charger_code"] for f in features] == ["DEP-1", "DEP-2"]
    first = features[0]
    assert first["geometry"] == {"type": "Point", "coordinates": [13.405, 52.52]}
    assert 335 < first["properties"]["distance_m"] < 342
    assert first["properties"]["address"] == "Alexanderplatz 1"
    assert first["properties"]["qr_payloads"] == ["DEP-1"]
    assert first["properties"]["online"] is False

    def codes(**params: str) -> list[str]:
        body = _ok(client.get("/api/map/chargers", params=params))
        return [f["properties"]["charger_code"] for f in body["features"]]

    assert codes(lat="52.52", lon="13.40", driver_id="alice") == ["DEP-1", "DEP-2", "CLUB-1"]
    assert codes(view="operator", lat="52.52", lon="13.40") == ["DEP-1", "DEP-2", "CLUB-1"]
    assert codes(min_power_w="11041") == ["DEP-1"]
    filtered = _ok(client.get("/api/map/chargers", params={"min_power_w": "11040"}))
    dep2 = filtered["features"][1]["properties"]
    assert [c["max_power_w"] for c in dep2["connectors"]] == [11040]  # the 8 A one left out
    assert codes(lat="52.52", lon="13.40", radius_m="500") == ["DEP-1", "DEP-2"]
    assert codes(limit="1") == ["DEP-1"]

    bad = client.get("/api/map/chargers", params={"lat": "91", "lon": "0"})
    assert _problem(bad, 422, "invalid-input")["errors"][0]["field"] == "lat"
    bad = client.get("/api/map/chargers", params={"lat": "1"})
    assert "both latitude and longitude" in _problem(bad, 422, "invalid-input")["detail"]
    bad = client.get("/api/map/chargers?lon=x&min_power_w=-5&view=admin&limit=0")
    fields = {e["field"] for e in _problem(bad, 422, "invalid-input")["errors"]}
    assert fields == {"lon", "min_power_w", "view", "limit"}
    bad = client.get("/api/map/chargers", params={"radius_m": "10"})
    assert _problem(bad, 422, "invalid-input")["errors"][0]["field"] == "radius_m"


def test_openapi_describes_the_operator_routes(client: TestClient) -> None:
    paths = _ok(client.get("/openapi.json"))["paths"]
    for path in ("/api/chargers", "/api/chargers.csv", "/api/chargers.json", "/api/stations.json",
                 "/api/transactions.csv", "/api/transactions.json", "/api/map/chargers",
                 "/api/chargers/{charger_id}/qr.svg", "/api/chargers/{charger_id}/qr.png",
                 "/api/stations/{station_id}/qr-sheet.svg", "/api/qr/resolve"):  # fmt: skip
        assert "get" in paths[path], path
    assert "post" in paths["/api/qr/remote-start"]
    names = {p["name"] for p in paths["/api/map/chargers"]["get"]["parameters"]}
    assert {"lat", "lon", "min_power_w", "driver_id"} <= names
    names = {p["name"] for p in paths["/api/transactions"]["get"]["parameters"]}
    assert {"search", "area_id", "since", "until", "sort", "page", "page_size"} <= names


def test_id_tokens_authorise_through_the_registry(
    client: TestClient, charging: ChargingService
) -> None:
    """Status, expiry and group set through the API are what authorisation answers."""
    later, past = "2099-01-01T00:00:00Z", "2020-01-01T00:00:00Z"
    _ok(client.post("/api/id-tokens", json={"id_token": "CARD", "expiry_date": later}))
    _ok(client.patch("/api/id-tokens/CARD", json={"group_id": "fleet"}))
    answer = asyncio.run(charging.authorize("ST1", "CARD"))
    assert answer == Authorization(
        AuthorizationStatus.ACCEPTED, datetime(2099, 1, 1, tzinfo=UTC), "fleet"
    )
    _ok(client.patch("/api/id-tokens/CARD", json={"expiry_date": past}))
    assert asyncio.run(charging.authorize("ST1", "CARD")).status is AuthorizationStatus.EXPIRED
    _ok(client.patch("/api/id-tokens/CARD", json={"status": "Blocked", "expiry_date": None}))
    assert asyncio.run(charging.authorize("ST1", "CARD")).status is AuthorizationStatus.BLOCKED
    assert asyncio.run(charging.authorize("ST1", "OTHER")).status is AuthorizationStatus.INVALID


def test_query_reader_locates_a_query_objects_own_error() -> None:
    from evcharge_core.admin import QueryReader
    from evcharge_core.errors import InvalidInput
    from evcharge_core.listing import ChargerQuery

    with pytest.raises(InvalidInput) as info:
        QueryReader({}).build(ChargerQuery, page=1, page_size=5000)
    assert [(i.field, i.message) for i in info.value.issues] == [
        ("page_size", "page size must be between 1 and 1000, got 5000")
    ]
    with pytest.raises(InvalidInput) as info:
        QueryReader({}).build(ChargerQuery, page=0)
    assert info.value.issues[0].field == "page"
    reader = QueryReader({"n": "x"})
    assert reader.integer("n") is None
    with pytest.raises(InvalidInput) as info:
        reader.build(dict)
    assert info.value.issues[0].field == "n"

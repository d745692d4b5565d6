"""The admin HTTP API through Starlette's TestClient: routes, errors, OpenAPI, metrics."""

from __future__ import annotations

import asyncio
import csv
import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import pytest
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from evcharge_core import admin_json
from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.admin import (
    DEFAULT_ROUTES,
    PROBLEM_TYPE_BASE,
    SCHEMAS,
    AdminContext,
    ApiRoute,
    Reply,
    create_app,
)
from evcharge_core.errors import StorageError
from evcharge_core.service import StationService

from .conftest import EXAMPLES, FakeClock

with warnings.catch_warnings():
    # Import-time deprecations of the test client's dependencies are not ours: Starlette 1.x
    # prefers the httpx2 package to httpx, older Starlette uses an alias newer anyio retired.
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

TOKEN = "test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CSV_HEADER = (
    "Station ID;Security code;Manufacturer;Article number;Wi-Fi supported;GSM supported;"
    "Connector type;Format;Power type;Voltage;Amperage;Serial number"
)


class FakeGateway:
    """A gateway with a fixed set of connected stations."""

    def __init__(self, connected: set[str]) -> None:
        self.connected = connected
        self.closed: list[str] = []

    def connected_station_ids(self) -> frozenset[str]:
        return frozenset(self.connected)

    async def disconnect(self, station_id: str) -> bool:
        if station_id not in self.connected:
            return False
        self.connected.discard(station_id)
        self.closed.append(station_id)
        return True


@pytest.fixture
def service(clock: FakeClock) -> StationService:
    return StationService(
        InMemoryRepository(), clock=clock, websocket_base_url="ws://csms.test:9000/ocpp/"
    )


@pytest.fixture
def client(service: StationService) -> Iterator[TestClient]:
    with TestClient(create_app(service, token=TOKEN), headers=AUTH) as test_client:
        yield test_client


@pytest.fixture
def anonymous(service: StationService) -> TestClient:
    return TestClient(create_app(service, token=TOKEN))


def _validator(name: str) -> jsonschema.Draft202012Validator:
    """A validator of the component ``name`` with every component reachable by $ref."""
    schema = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": SCHEMAS}}
    return jsonschema.Draft202012Validator(schema)


def _valid(name: str, instance: object) -> None:
    _validator(name).validate(instance)


def _problem(response: httpx.Response, status: int, slug: str) -> dict[str, Any]:
    """Check that ``response`` is the RFC 9457 problem ``slug`` with ``status``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == PROBLEM_TYPE_BASE + slug
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    assert "Traceback" not in response.text
    _valid("Problem", body)
    return body


def _csv(*rows: str) -> bytes:
    return "\n".join((CSV_HEADER, *rows)).encode() + b"\n"


def _row(station_id: str, code: str = "CODE-1", voltage: str = "230") -> str:
    return f"{station_id};{code};Alfen;;yes;no;Type 2;Socket;Three-phase AC;{voltage};16;"


def _import(client: TestClient, data: bytes) -> httpx.Response:
    return client.post("/api/stations/import", content=data, headers={"Content-Type": "text/csv"})


def _connector_body() -> dict[str, Any]:
    return {
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "voltage": 230,
        "amperage": 16,
    }


# --- authentication --------------------------------------------------------------------------


def test_api_routes_need_the_bearer_token(anonymous: TestClient) -> None:
    missing = anonymous.get("/api/stations")
    body = _problem(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    assert "Authorization" in body["detail"]

    wrong = anonymous.get("/api/stations", headers={"Authorization": "Bearer nope"})
    _problem(wrong, 401, "unauthorized")
    assert 'error="invalid_token"' in wrong.headers["www-authenticate"]
    basic = anonymous.get("/api/stations", headers={"Authorization": f"Basic {TOKEN}"})
    _problem(basic, 401, "unauthorized")
    # A token that only starts like the right one is wrong too.
    longer = anonymous.get("/api/stations", headers={"Authorization": f"Bearer {TOKEN}x"})
    _problem(longer, 401, "unauthorized")

    _problem(anonymous.get("/openapi.json"), 401, "unauthorized")
    _problem(anonymous.post("/api/stations", json={"id": "X"}), 401, "unauthorized")
    # Routes that do not exist are not revealed without the token.
    _problem(anonymous.get("/api/nothing-here"), 401, "unauthorized")
    _problem(anonymous.put("/api/stations"), 401, "unauthorized")

    ok = anonymous.get("/api/stations", headers={"Authorization": f"bearer  {TOKEN}"})
    assert ok.status_code == 200


def test_health_and_metrics_need_no_token(anonymous: TestClient) -> None:
    health = anonymous.get("/healthz")
    assert health.status_code == 200
    assert health.json() == {"status": "ok"}
    assert anonymous.get("/metrics").status_code == 200
    assert anonymous.head("/healthz").status_code == 200


def test_create_app_refuses_an_empty_token_and_duplicate_routes(service: StationService) -> None:
    with pytest.raises(ValueError, match="token"):
        create_app(service, token="")
    with pytest.raises(ValueError, match="two routes"):
        create_app(service, token=TOKEN, routes=(*DEFAULT_ROUTES, DEFAULT_ROUTES[0]))


# --- HTTP-level errors -----------------------------------------------------------------------


def test_unknown_route_and_method_are_problems(client: TestClient) -> None:
    body = _problem(client.get("/api/nothing-here"), 404, "not-found")
    assert "/api/nothing-here" in body["detail"]
    # No redirect for a trailing slash.
    _problem(client.get("/api/stations/", follow_redirects=False), 404, "not-found")
    response = client.put("/api/stations/ST1")
    _problem(response, 405, "method-not-allowed")
    assert set(response.headers["allow"].replace(" ", "").split(",")) >= {
        "GET",
        "PATCH",
        "DELETE",
    }


def test_malformed_json_is_400_located(client: TestClient) -> None:
    response = client.post(
        "/api/stations",
        content=b'{\n  "id": "ST1",\n  "name": \n}',
        headers={"Content-Type": "application/json"},
    )
    body = _problem(response, 400, "malformed-body")
    assert (body["line"], body["column"]) == (4, 1)
    assert "line 4, column 1" in body["detail"]

    for bad, words in [
        (b'{"id": NaN}', "NaN"),
        (b'{"id": "A", "id": "B"}', "more than once"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b"", "line 1, column 1"),
    ]:
        response = client.post(
            "/api/stations", content=bad, headers={"Content-Type": "application/json"}
        )
        assert words in _problem(response, 400, "malformed-body")["detail"]


def test_wrong_content_type_is_415_and_non_object_is_422(client: TestClient) -> None:
    response = client.post("/api/stations", content=b"id=ST1")
    _problem(response, 415, "unsupported-media-type")
    response = client.post("/api/stations", content=b"{}", headers={"Content-Type": "text/plain"})
    _problem(response, 415, "unsupported-media-type")
    # application/*+json is JSON too.
    response = client.patch(
        "/api/areas/nowhere",
        content=b"{}",
        headers={"Content-Type": "application/merge-patch+json"},
    )
    _problem(response, 404, "not-found")
    body = _problem(client.post("/api/stations", json=[1, 2]), 422, "invalid-input")
    assert "JSON object" in body["errors"][0]["message"]
    csv_as_json = client.post(
        "/api/stations/import", content=b"{}", headers={"Content-Type": "application/json"}
    )
    _problem(csv_as_json, 415, "unsupported-media-type")


def test_bodies_over_the_limit_are_413(service: StationService) -> None:
    client = TestClient(create_app(service, token=TOKEN, max_body_size=64), headers=AUTH)
    response = client.post("/api/stations", json={"id": "ST1", "name": "x" * 100})
    _problem(response, 413, "payload-too-large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted while read
        yield b'{"id": "ST1", '
        yield b'"name": "' + b"x" * 100 + b'"}'

    response = client.post(
        "/api/stations", content=chunks(), headers={"Content-Type": "application/json"}
    )
    _problem(response, 413, "payload-too-large")


def _boom_route(error: Exception) -> ApiRoute:
    async def boom(request: Request, ctx: AdminContext) -> Response:
        raise error

    return ApiRoute("GET", "/api/boom", boom, "boom", "Fails", "tests")


def test_a_bug_is_a_logged_500_problem_without_traceback(
    service: StationService, caplog: pytest.LogCaptureFixture
) -> None:
    routes = (*DEFAULT_ROUTES, _boom_route(RuntimeError("secret internals")))
    client = TestClient(create_app(service, token=TOKEN, routes=routes), headers=AUTH)
    with caplog.at_level(logging.ERROR, logger="evcharge_core.admin"):
        response = client.get("/api/boom")
    body = _problem(response, 500, "internal-error")
    assert "secret internals" not in response.text
    assert "logged" in body["detail"]
    assert any("secret internals" in (r.exc_text or "") for r in caplog.records)


def test_storage_error_is_503(service: StationService, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(station_id: str) -> None:
        raise StorageError("disk I/O error")

    monkeypatch.setattr(service, "get_station", broken)
    client = TestClient(create_app(service, token=TOKEN), headers=AUTH)
    body = _problem(client.get("/api/stations/ST1"), 503, "storage-unavailable")
    assert "disk I/O error" in body["detail"]


# --- stations --------------------------------------------------------------------------------


def test_station_crud(client: TestClient) -> None:
    created = client.post(
        "/api/stations",
        json={"id": "ST1", "name": "Depot 1", "password": "p" * 16, "protocol": "ocpp1.6"},
    )
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/api/stations/ST1"
    station = created.json()
    _valid("Station", station)
    assert station["name"] == "Depot 1"
    assert station["has_password"] is True
    assert station["security_profile"] == 1
    assert station["websocket_url"] == "ws://csms.test:9000/ocpp/ST1"
    assert "p" * 16 not in created.text
    assert '"password"' not in created.text
    assert "security_code" not in created.text

    _problem(client.post("/api/stations", json={"id": "ST1"}), 409, "conflict")
    assert client.get("/api/stations/ST1").json() == station

    patched = client.patch(
        "/api/stations/ST1",
        json={"name": "Depot One", "boot_configuration": {"trigger_heartbeat": True}},
    )
    assert patched.status_code == 200, patched.text
    after = patched.json()
    assert after["name"] == "Depot One"
    assert after["protocol"] == "ocpp1.6"  # untouched fields stay
    assert after["boot_configuration"] == {
        "trigger_boot_notification": False,
        "trigger_status_notification": False,
        "trigger_heartbeat": True,
        "clear_charging_profiles": False,
    }
    assert client.patch("/api/stations/ST1", json={}).json() == after
    removed = client.patch("/api/stations/ST1", json={"password": None}).json()
    assert removed["has_password"] is False

    deleted = client.delete("/api/stations/ST1")
    assert deleted.status_code == 204
    assert deleted.content == b""
    _problem(client.get("/api/stations/ST1"), 404, "not-found")
    _problem(client.delete("/api/stations/ST1"), 404, "not-found")
    _problem(client.patch("/api/stations/ST1", json={"name": "x"}), 404, "not-found")


def test_invalid_station_bodies_list_every_problem_by_field(client: TestClient) -> None:
    body = _problem(
        client.post(
            "/api/stations",
            json={"name": "", "visible": "yes", "security_profile": 7, "colour": "red"},
        ),
        422,
        "invalid-input",
    )
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"id", "name", "visible", "security_profile", "colour"}
    for error in body["errors"]:
        assert error["detail"] == f'field "{error["field"]}": {error["message"]}'
        assert error["line"] is None
        assert error["column"] is None
    client.post("/api/stations", json={"id": "ST1"})
    body = _problem(
        client.patch("/api/stations/ST1", json={"id": "ST2", "area_id": "nowhere"}),
        422,
        "invalid-input",
    )
    assert {e["field"] for e in body["errors"]} == {"id"}
    body = _problem(
        client.patch("/api/stations/ST1", json={"area_id": "nowhere"}), 422, "invalid-input"
    )
    assert body["errors"][0]["field"] == "area_id"


# --- chargers and connectors -----------------------------------------------------------------


def test_charger_and_connector_crud(client: TestClient) -> None:
    client.post("/api/stations", json={"id": "ST1", "code": "DEPOT"})
    created = client.post("/api/stations/ST1/chargers", json={"reservable": True})
    assert created.status_code == 201, created.text
    charger = created.json()
    _valid("Charger", charger)
    assert (charger["station_id"], charger["code"], charger["evse_id"]) == ("ST1", "DEPOT-1", 1)
    assert created.headers["location"] == f"/api/chargers/{charger['id']}"
    assert client.get(f"/api/chargers/{charger['id']}").json() == charger
    patched = client.patch(f"/api/chargers/{charger['id']}", json={"name": "Left"}).json()
    assert (patched["name"], patched["reservable"]) == ("Left", True)

    made = client.post(f"/api/chargers/{charger['id']}/connectors", json=_connector_body())
    assert made.status_code == 201, made.text
    connector = made.json()
    _valid("Connector", connector)
    assert (connector["ocpp_id"], connector["max_power_w"]) == (1, 11040)
    assert made.headers["location"] == f"/api/connectors/{connector['id']}"
    assert client.get(f"/api/connectors/{connector['id']}").json() == connector
    changed = client.patch(f"/api/connectors/{connector['id']}", json={"amperage": 32}).json()
    assert (changed["amperage"], changed["voltage"]) == (32, 230)
    station = client.get("/api/stations/ST1").json()
    assert station["chargers"][0]["connectors"][0]["amperage"] == 32

    missing = _problem(
        client.post(f"/api/chargers/{charger['id']}/connectors", json={}), 422, "invalid-input"
    )
    assert {e["field"] for e in missing["errors"]} == {
        "standard",
        "format",
        "power_type",
        "voltage",
        "amperage",
    }

    assert client.delete(f"/api/connectors/{connector['id']}").status_code == 204
    _problem(client.get(f"/api/connectors/{connector['id']}"), 404, "not-found")
    assert client.delete(f"/api/chargers/{charger['id']}").status_code == 204
    _problem(client.get(f"/api/chargers/{charger['id']}"), 404, "not-found")
    assert client.get("/api/stations/ST1").json()["chargers"] == []

    _problem(client.post("/api/stations/NOPE/chargers", json={}), 404, "not-found")
    _problem(client.post("/api/chargers/nope/connectors", json=_connector_body()), 404, "not-found")
    _problem(client.patch("/api/connectors/nope", json={}), 404, "not-found")
    _problem(client.delete("/api/chargers/nope"), 404, "not-found")


# --- areas -----------------------------------------------------------------------------------


def test_area_crud(client: TestClient) -> None:
    created = client.post(
        "/api/areas",
        json={"id": "oslo", "name": "Oslo", "latitude": 59.9, "longitude": 10.7},
    )
    assert created.status_code == 201, created.text
    area = created.json()
    _valid("Area", area)
    assert created.headers["location"] == "/api/areas/oslo"
    assert area["private_group"] == []
    _problem(
        client.post("/api/areas", json={"id": "oslo", "name": "x", "latitude": 0, "longitude": 0}),
        409,
        "conflict",
    )
    listed = client.get("/api/areas").json()
    _valid("AreaList", listed)
    assert listed == {"items": [area]}
    assert client.get("/api/areas/oslo").json() == area
    patched = client.patch("/api/areas/oslo", json={"private_group": ["d1"]}).json()
    assert (patched["private_group"], patched["name"]) == (["d1"], "Oslo")
    body = _problem(client.patch("/api/areas/oslo", json={"latitude": 91}), 422, "invalid-input")
    assert body["errors"][0]["field"] == "latitude"

    client.post("/api/stations", json={"id": "ST1", "area_id": "oslo"})
    _problem(client.delete("/api/areas/oslo"), 409, "conflict")
    client.delete("/api/stations/ST1")
    assert client.delete("/api/areas/oslo").status_code == 204
    _problem(client.get("/api/areas/oslo"), 404, "not-found")


# --- the list and the export -----------------------------------------------------------------


def _seed(client: TestClient) -> None:
    client.post("/api/areas", json={"id": "a1", "name": "A", "latitude": 0, "longitude": 0})
    for n in range(1, 6):
        client.post(
            "/api/stations",
            json={"id": f"ST{n}", "name": f"Station {n}", "area_id": "a1" if n % 2 else None},
        )
    assert _import(client, _csv(_row("NEW1"))).status_code == 200


def test_list_paginates_filters_and_sorts(client: TestClient) -> None:
    _seed(client)
    page = client.get("/api/stations", params={"page": 2, "page_size": 2}).json()
    _valid("StationPage", page)
    assert [s["id"] for s in page["items"]] == ["ST2", "ST3"]  # NEW1, ST1 on page 1
    assert (page["page"], page["page_size"], page["total"]) == (2, 2, 6)
    default = client.get("/api/stations").json()
    assert (default["page"], default["page_size"], default["total"]) == (1, 50, 6)
    assert client.get("/api/stations", params={"page": 9}).json()["items"] == []

    def ids(**params: str) -> list[str]:
        response = client.get("/api/stations", params=params)
        assert response.status_code == 200, response.text
        return [s["id"] for s in response.json()["items"]]

    assert ids(sort="-id") == ["ST5", "ST4", "ST3", "ST2", "ST1", "NEW1"]
    assert ids(search="station 3") == ["ST3"]
    assert ids(area_id="a1") == ["ST1", "ST3", "ST5"]
    assert ids(activation="inactive") == ["NEW1"]
    assert ids(activation="INACTIVE", sort="name") == ["NEW1"]
    assert ids(connected="false", area_id="a1", sort="-name") == ["ST5", "ST3", "ST1"]
    assert ids(connected="true") == []
    assert ids(operational_status="operative", search="ST1") == ["ST1"]
    assert ids(status="Available") == []


def test_list_rejects_bad_parameters_all_at_once(client: TestClient) -> None:
    response = client.get(
        "/api/stations?page=zero&page_size=5000&status=Sleeping&sort=colour&connected=maybe"
        "&colour=red&search=a&search=b"
    )
    body = _problem(response, 422, "invalid-input")
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"page", "status", "sort", "connected", "colour", "search"}
    body = _problem(client.get("/api/stations?page_size=5000"), 422, "invalid-input")
    assert body["errors"][0]["field"] == "page_size"
    body = _problem(client.get("/api/stations?page=0"), 422, "invalid-input")
    assert body["errors"][0]["field"] == "page"


def test_csv_export_has_every_match_with_formulas_neutralised(client: TestClient) -> None:
    _seed(client)
    client.post("/api/stations", json={"id": "EVIL", "name": '=HYPERLINK("http://x")'})
    response = client.get("/api/stations.csv", params={"page_size": 1, "sort": "-id"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["id"] for r in rows] == ["ST5", "ST4", "ST3", "ST2", "ST1", "NEW1", "EVIL"]
    assert rows[-1]["name"] == '\'=HYPERLINK("http://x")'
    filtered = client.get("/api/stations.csv", params={"activation": "inactive"})
    assert [r["id"] for r in csv.DictReader(io.StringIO(filtered.text))] == ["NEW1"]
    _problem(client.get("/api/stations.csv", params={"status": "nope"}), 422, "invalid-input")


# --- imports ---------------------------------------------------------------------------------


def test_csv_import(client: TestClient) -> None:
    data = (EXAMPLES / "stations.csv").read_bytes()
    response = _import(client, data)
    assert response.status_code == 200, response.text
    result = response.json()
    _valid("ImportResult", result)
    assert result["imported"] == len(result["station_ids"]) == 6  # 8 rows, 6 stations
    assert result["replaced"] == []
    station = client.get("/api/stations/ST1010101").json()
    assert station["activation"]["state"] == "inactive"
    # Importing again replaces the inactive stations.
    assert _import(client, data).json()["replaced"] == result["station_ids"]


def test_csv_import_warnings(client: TestClient) -> None:
    result = _import(client, _csv(_row("W1", voltage="400"))).json()
    assert result["imported"] == 1
    (warning,) = result["warnings"]
    assert warning["line"] == 2
    assert warning["column"] == "Voltage"
    assert warning["detail"].startswith('line 2, column "Voltage": ')


def test_csv_import_errors_are_located_and_counted(client: TestClient) -> None:
    rows = [_row(f"S{n}", voltage="9999") for n in range(150)]
    body = _problem(_import(client, _csv(_row("OK1"), *rows)), 422, "import-rejected")
    assert body["error_count"] == 150
    assert len(body["errors"]) == 100
    first = body["errors"][0]
    assert (first["line"], first["column"], first["field"]) == (3, "Voltage", None)
    assert first["detail"].startswith('line 3, column "Voltage": ')
    assert "150" in body["detail"]
    assert "nothing was imported" in body["detail"]
    # All or nothing.
    _problem(client.get("/api/stations/OK1"), 404, "not-found")

    one = _problem(_import(client, _csv("X;;;;;;;;;;;")), 422, "import-rejected")
    assert one["error_count"] == len(one["errors"])
    assert one["errors"][0]["line"] == 2

    empty = _problem(_import(client, b""), 422, "import-rejected")
    assert empty["error_count"] >= 1


def test_single_import(client: TestClient) -> None:
    body = {
        "station_id": "ST42",
        "security_code": "ABCD-1234",
        "manufacturer": "Alfen",
        "connectivity": {"wifi": True, "gsm": False},
        "connector_specifications": [
            {
                "standard": "Type 2",
                "format": "Socket",
                "power_type": "Three-phase AC",
                "voltage": 230,
                "amperage": 32,
            }
        ],
    }
    _valid("SingleStationImport", body)
    response = client.post("/api/stations/import-single", json=body)
    assert response.status_code == 200, response.text
    assert response.json()["station_ids"] == ["ST42"]
    assert response.json()["imported"] == 1

    bad = {**body, "connectivity": {"wifi": False, "gsm": False}, "extra": 1}
    problem = _problem(client.post("/api/stations/import-single", json=bad), 422, "import-rejected")
    assert {e["field"] for e in problem["errors"]} >= {"extra"}
    assert problem["error_count"] == len(problem["errors"])
    assert all(e["line"] is None for e in problem["errors"])
    malformed = client.post(
        "/api/stations/import-single",
        content=b'{"station_id": "ST1",,}',
        headers={"Content-Type": "application/json"},
    )
    assert _problem(malformed, 400, "malformed-body")["column"] == 22


# --- activation ------------------------------------------------------------------------------


def test_activation(client: TestClient) -> None:
    _import(client, _csv(_row("ACT1", code="SECRET-1")))
    wrong = client.post("/api/stations/ACT1/activate", json={"security_code": "nope"})
    _problem(wrong, 422, "activation-mismatch")
    unknown = client.post("/api/stations/NOPE/activate", json={"security_code": "nope"})
    # Unknown station and wrong code are indistinguishable on purpose.
    assert _problem(unknown, 422, "activation-mismatch")["detail"] == wrong.json()["detail"]
    body = _problem(client.post("/api/stations/ACT1/activate", json={}), 422, "invalid-input")
    assert body["errors"][0]["field"] == "security_code"
    body = _problem(
        client.post("/api/stations/ACT1/activate", json={"security_code": " "}),
        422,
        "invalid-input",
    )
    assert body["errors"][0]["field"] == "security_code"

    done = client.post("/api/stations/ACT1/activate", json={"security_code": "SECRET-1"})
    assert done.status_code == 200, done.text
    _valid("Station", done.json())
    assert done.json()["activation"]["state"] == "active"
    assert done.json()["activation"]["activated_at"] == "2026-11-25T09:00:00Z"
    again = client.post("/api/stations/ACT1/activate", json={"security_code": "SECRET-1"})
    _problem(again, 409, "already-activated")


def test_activation_is_throttled_with_retry_after(client: TestClient) -> None:
    _import(client, _csv(_row("ACT2", code="SECRET-2")))
    statuses = [
        client.post("/api/stations/ACT2/activate", json={"security_code": "bad"}).status_code
        for _ in range(6)
    ]
    assert statuses == [422] * 6
    throttled = client.post("/api/stations/ACT2/activate", json={"security_code": "SECRET-2"})
    body = _problem(throttled, 429, "activation-throttled")
    assert throttled.headers["retry-after"] == "30"
    assert body["retry_after_s"] == 30


# --- disconnect ------------------------------------------------------------------------------


def test_disconnect_without_a_gateway_is_409(client: TestClient) -> None:
    client.post("/api/stations", json={"id": "ST1"})
    _problem(client.post("/api/stations/ST1/disconnect"), 409, "not-connected")
    _problem(client.post("/api/stations/NOPE/disconnect"), 404, "not-found")


def test_disconnect_through_the_gateway(service: StationService) -> None:
    gateway = FakeGateway({"ST1"})
    client = TestClient(create_app(service, token=TOKEN, gateway=gateway), headers=AUTH)
    client.post("/api/stations", json={"id": "ST1"})
    client.post("/api/stations", json={"id": "ST2"})
    response = client.post("/api/stations/ST1/disconnect")
    assert response.status_code == 200
    assert response.json() == {"disconnected": True}
    _valid("Disconnected", response.json())
    assert gateway.closed == ["ST1"]
    _problem(client.post("/api/stations/ST1/disconnect"), 409, "not-connected")
    _problem(client.post("/api/stations/ST2/disconnect"), 409, "not-connected")


# --- OpenAPI ---------------------------------------------------------------------------------


CONSOLE_OPERATIONS = {("/", "GET"), ("/console/{path:path}", "GET")}


def _served_operations(app: Starlette) -> set[tuple[str, str]]:
    served: set[tuple[str, str]] = set()
    for route in app.routes:
        assert isinstance(route, Route)
        served |= {(route.path, m) for m in route.methods or () if m != "HEAD"}
    return served


def test_openapi_describes_exactly_the_served_routes(service: StationService) -> None:
    extra = ApiRoute(
        "GET",
        "/api/extra/{thing}",
        _boom_route(RuntimeError()).handler,
        "extra",
        "An added group",
        "tests",
        replies=(Reply(200, "ok"),),
    )
    for routes in (DEFAULT_ROUTES, (*DEFAULT_ROUTES, extra)):
        app = create_app(service, token=TOKEN, routes=routes)
        document = TestClient(app, headers=AUTH).get("/openapi.json").json()
        described = {
            (path, method.upper())
            for path, operations in document["paths"].items()
            for method in operations
        }
        served = _served_operations(app)
        # The web console's page and files are served beside the API, not part of it.
        assert served >= CONSOLE_OPERATIONS
        assert described == served - CONSOLE_OPERATIONS
        assert described == {(r.path, r.method) for r in routes}


def test_openapi_document_is_well_formed(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)
    operation_ids = [op["operationId"] for ops in document["paths"].values() for op in ops.values()]
    assert len(operation_ids) == len(set(operation_ids))
    refs = set(_refs(document["paths"])) | set(_refs(document["components"]))
    assert {r.removeprefix("#/components/schemas/") for r in refs} <= set(SCHEMAS)

    get_station = document["paths"]["/api/stations/{station_id}"]["get"]
    assert get_station["parameters"][0]["in"] == "path"
    assert {"200", "401", "404", "500"} <= set(get_station["responses"])
    problem = get_station["responses"]["404"]["content"]["application/problem+json"]
    assert problem["schema"] == {"$ref": "#/components/schemas/Problem"}
    listing = document["paths"]["/api/stations"]["get"]
    assert {p["name"] for p in listing["parameters"]} == {
        "page",
        "page_size",
        "search",
        "status",
        "operational_status",
        "area_id",
        "connected",
        "activation",
        "sort",
    }
    assert document["paths"]["/healthz"]["get"]["security"] == []
    assert "security" not in get_station  # the document-wide bearer requirement applies
    importing = document["paths"]["/api/stations/import"]["post"]
    assert "text/csv" in importing["requestBody"]["content"]
    activate = document["paths"]["/api/stations/{station_id}/activate"]["post"]
    assert {"409", "422", "429"} <= set(activate["responses"])


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def test_schemas_match_the_admin_json_objects(client: TestClient) -> None:
    """The output schemas name exactly the fields the API sends; the input schemas exactly
    the fields admin_json accepts."""
    client.post("/api/stations", json={"id": "ST1", "connectivity": {"wifi": True, "gsm": False}})
    charger = client.post("/api/stations/ST1/chargers", json={}).json()
    client.post(f"/api/chargers/{charger['id']}/connectors", json=_connector_body())
    station = client.get("/api/stations/ST1").json()
    _valid("Station", station)

    def properties(name: str, *path: str) -> set[str]:
        schema: Any = SCHEMAS[name]
        for step in path:
            schema = schema["properties"][step]
            schema = next((s for s in schema.get("anyOf", []) if "properties" in s), schema)
        return set(schema["properties"])

    assert properties("Station") == set(station)
    for nested in ("activation", "reported", "connection", "boot_configuration", "connectivity"):
        assert properties("Station", nested) == set(station[nested]), nested
    assert properties("Charger") == set(station["chargers"][0])
    assert properties("Connector") == set(station["chargers"][0]["connectors"][0])
    area = client.post("/api/areas", json={"name": "A", "latitude": 0, "longitude": 0}).json()
    assert properties("Area") == set(area)

    assert properties("StationCreate") == set(admin_json.STATION_FIELDS)
    assert properties("StationUpdate") == set(admin_json.STATION_FIELDS) - {"id"}
    assert properties("ChargerInput") == set(admin_json.CHARGER_FIELDS)
    assert properties("ConnectorInput") == set(admin_json.CONNECTOR_FIELDS)
    assert properties("AreaCreate") == set(admin_json.AREA_FIELDS)
    assert properties("AreaUpdate") == set(admin_json.AREA_FIELDS) - {"id"}


# --- metrics ---------------------------------------------------------------------------------


def _samples(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics(service: StationService) -> None:
    gateway = FakeGateway({"ST1", "ST2"})
    app = create_app(service, token=TOKEN, gateway=gateway)
    client = TestClient(app, headers=AUTH)
    client.post("/api/stations", json={"id": "ST1"})
    _import(client, _csv(_row("NEW1"), _row("NEW2")))
    client.get("/api/stations/NOPE")
    client.get("/api/stations/NOPE")
    client.get("/api/nothing-here")
    TestClient(app).get("/api/stations")

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = _samples(response.text)
    assert samples["evcharge_connected_stations"] == 2
    assert samples['evcharge_stations{activation="active"}'] == 1
    assert samples['evcharge_stations{activation="inactive"}'] == 2
    route = "/api/stations/{station_id}"
    assert (
        samples[f'evcharge_admin_requests_total{{method="GET",route="{route}",status="404"}}'] == 2
    )
    assert (
        samples['evcharge_admin_requests_total{method="POST",route="/api/stations",status="201"}']
        == 1
    )
    assert (
        samples['evcharge_admin_requests_total{method="GET",route="unmatched",status="404"}'] == 1
    )
    assert (
        samples['evcharge_admin_requests_total{method="GET",route="/api/stations",status="401"}']
        == 1
    )
    count = 'evcharge_admin_request_seconds_count{method="GET",route="/api/stations/{station_id}"}'
    assert samples[count] == 2
    assert "TYPE evcharge_admin_request_seconds histogram" in response.text


def test_metrics_registry_per_app_and_exposed(service: StationService) -> None:
    first = create_app(service, token=TOKEN)
    second = create_app(service, token=TOKEN)  # no clash over metric names
    assert first.state.metrics is not second.state.metrics
    assert isinstance(first.state.metrics, CollectorRegistry)
    registry = CollectorRegistry()
    app = create_app(service, token=TOKEN, metrics=registry)
    assert app.state.metrics is registry
    assert registry.get_sample_value("evcharge_connected_stations") == 0


def test_metrics_without_gateway_count_stored_connections(service: StationService) -> None:
    client = TestClient(create_app(service, token=TOKEN))
    samples = _samples(client.get("/metrics").text)
    assert samples["evcharge_connected_stations"] == 0


# --- embedding -------------------------------------------------------------------------------


def test_mounted_in_another_starlette_app(service: StationService) -> None:
    outer = Starlette(routes=[Mount("/evcharge", app=create_app(service, token=TOKEN))])
    client = TestClient(outer, headers=AUTH)
    created = client.post("/evcharge/api/stations", json={"id": "ST1"})
    assert created.status_code == 201, created.text
    assert created.headers["location"] == "/evcharge/api/stations/ST1"
    assert client.get("/evcharge/api/stations/ST1").json()["id"] == "ST1"
    assert client.get("/evcharge/healthz").status_code == 200
    document = client.get("/evcharge/openapi.json").json()
    assert document["servers"] == [{"url": "/evcharge"}]
    _problem(client.get("/evcharge/api/nothing"), 404, "not-found")


def test_head_is_served_for_get_routes(client: TestClient) -> None:
    client.post("/api/stations", json={"id": "ST1"})
    assert client.head("/api/stations/ST1").status_code == 200


def test_concurrent_requests_share_one_service(service: StationService) -> None:
    """The app is a plain ASGI callable: drive it with httpx's ASGI transport too."""

    async def scenario() -> list[int]:
        transport = httpx.ASGITransport(app=create_app(service, token=TOKEN))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://admin", headers=AUTH
        ) as http:
            responses = await asyncio.gather(
                *(http.post("/api/stations", json={"id": f"C{n}"}) for n in range(10))
            )
            listed = await http.get("/api/stations", params={"page_size": 100})
        assert listed.json()["total"] == 10
        return [r.status_code for r in responses]

    assert asyncio.run(scenario()) == [201] * 10

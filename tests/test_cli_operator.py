"""The ``evcharge`` CLI's operator commands, run in-process on a SQLite file: charger and
transaction lists, id tokens, areas' limits and groups, QR codes and the map."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from xml.etree import ElementTree

import pytest

from evcharge_core.bootstrap import open_repository
from evcharge_core.charging import ChargingService
from evcharge_core.cli import main

from .test_qrcodes import _modules_of, _png_pixels, _with_quiet_zone


def cli(db: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main([*args, "--db", str(db)], out=out, err=err, stdin=io.StringIO())
    return status, out.getvalue(), err.getvalue()


def ok(db: Path, *args: str) -> str:
    status, out, err = cli(db, *args)
    assert status == 0, err
    return out


def fails(db: Path, *args: str) -> str:
    status, out, err = cli(db, *args)
    assert status == 1, out
    assert "Traceback" not in err
    return err


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "cli.db"
    spec = [
        "--set",
        "standard=Type 2",
        "--set",
        "format=SOCKET",
        "--set",
        "power_type=DC",
        "--set",
        "voltage=400",
    ]
    ok(
        path,
        "areas",
        "create",
        "--id",
        "near",
        "--name",
        "Near",
        "--latitude",
        "52.52",
        "--longitude",
        "13.405",
        "--output-limit-a",
        "63",
        "--private-group",
        "alice, bob",
    )
    ok(
        path,
        "stations",
        "create",
        "ST1",
        "--name",
        "Depot",
        "--area",
        "near",
        "--protocol",
        "ocpp1.6",
    )
    ok(
        path,
        "stations",
        "create",
        "ST2",
        "--name",
        "=cmd",
        "--set",
        "visible=false",
        "--area",
        "near",
    )
    for station, code, amperages in (
        ("ST1", "DEP-1", ["125"]),
        ("ST1", "DEP-2", ["32", "50"]),
        ("ST2", "HID-1", ["16"]),
    ):
        charger = json.loads(ok(path, "chargers", "create", station, "--code", code))
        for amperage in amperages:
            ok(path, "connectors", "create", charger["id"], *spec, "--set", f"amperage={amperage}")
    return path


def test_areas_take_limits_private_group_and_time_zone(db: Path) -> None:
    area = json.loads(ok(db, "areas", "show", "near"))
    assert (area["output_limit_a"], area["private_group"]) == (63, ["alice", "bob"])
    changed = json.loads(
        ok(
            db,
            "areas",
            "update",
            "near",
            "--output-limit-w",
            "40000",
            "--private-group",
            "",
            "--time-zone",
            "Europe/Berlin",
        )
    )
    assert (changed["output_limit_w"], changed["private_group"]) == (40000, [])
    assert changed["time_zone"] == "Europe/Berlin"
    assert 'field "time_zone"' in fails(db, "areas", "update", "near", "--time-zone", "Mars/Base")


def test_chargers_list_table_csv_json_and_filters(db: Path) -> None:
    table = ok(db, "chargers", "list")
    lines = table.splitlines()
    assert lines[0].split()[:4] == ["ID", "CODE", "NAME", "STATION"]
    assert [line.split()[1] for line in lines[1:-1]] == ["DEP-1", "DEP-2", "HID-1"]
    assert lines[-1] == "page 1 of 1, 3 charger(s)"
    rows = list(csv.DictReader(io.StringIO(ok(db, "chargers", "list", "--format", "csv"))))
    assert [r["code"] for r in rows] == ["DEP-1", "DEP-2", "HID-1"]
    assert rows[2]["station_name"] == "'=cmd"
    assert rows[0]["max_power_w"] == "50000"
    listing = json.loads(ok(db, "chargers", "list", "ST1", "--format", "json", "--sort=-code"))
    assert [c["code"] for c in listing["items"]] == ["DEP-2", "DEP-1"]
    assert listing["total"] == 2
    page = json.loads(
        ok(
            db,
            "chargers",
            "list",
            "--format",
            "json",
            "--page-size",
            "1",
            "--page",
            "2",
            "--sort",
            "max_power_w",
        )
    )
    assert ([c["code"] for c in page["items"]], page["total"]) == (["DEP-2"], 3)
    found = json.loads(ok(db, "chargers", "list", "--format", "json", "--search", "hid"))
    assert [c["code"] for c in found["items"]] == ["HID-1"]
    none = json.loads(
        ok(
            db,
            "chargers",
            "list",
            "--format",
            "json",
            "--connected",
            "true",
            "--current-type",
            "AC",
            "--operational-status",
            "operative",
        )
    )
    assert none["items"] == []
    errors = fails(db, "chargers", "list", "--status", "Sleeping", "--sort", "colour")
    assert "--status: unknown value 'Sleeping'" in errors
    assert "--sort: unknown value 'colour'" in errors
    assert "page size must be between" in fails(db, "chargers", "list", "--page-size", "0")


def test_stations_list_filters(db: Path) -> None:
    def ids(*options: str) -> list[str]:
        listing = json.loads(ok(db, "stations", "list", "--format", "json", *options))
        return [s["id"] for s in listing["items"]]

    assert ids("--operational-status", "Operative", "--connected", "false") == ["ST1", "ST2"]
    assert ids("--activation", "inactive") == []
    assert ids("--area", "near", "--sort=-name") == ["ST1", "ST2"]  # "Depot" > "=cmd"
    assert ids("--search", "depot") == ["ST1"]


def test_qr_codes_sheet_and_resolution(db: Path, tmp_path: Path) -> None:
    charger = json.loads(ok(db, "chargers", "list", "ST1", "--format", "json"))["items"][1]
    text = ok(db, "chargers", "qr", charger["id"])
    assert [line.split("\t")[0] for line in text.splitlines()] == ["DEP-2*2", "DEP-2*3"]
    connector = charger["connectors"][1]["id"]
    png_path = tmp_path / "code.png"
    ok(
        db,
        "chargers",
        "qr",
        charger["id"],
        "--connector",
        connector,
        "--format",
        "png",
        "--scale",
        "2",
        "-o",
        str(png_path),
    )
    from evcharge_core.qrcodes import qr_matrix

    pixels = _png_pixels(png_path.read_bytes())
    assert _modules_of(pixels, 2) == _with_quiet_zone(qr_matrix("DEP-2*3"))
    svg = ok(db, "chargers", "qr", charger["id"], "--connector", connector, "--format", "svg")
    assert ElementTree.fromstring(svg).tag.endswith("svg")
    assert "name the connector" in fails(db, "chargers", "qr", charger["id"], "--format", "svg")
    assert "scale must be" in fails(
        db,
        "chargers",
        "qr",
        charger["id"],
        "--connector",
        connector,
        "--format",
        "png",
        "--scale",
        "0",
    )

    sheet_path = tmp_path / "sheet.svg"
    ok(db, "stations", "qr-sheet", "ST1", "-o", str(sheet_path))
    root = ElementTree.parse(sheet_path).getroot()
    payloads = [
        g.get("data-payload")
        for g in root.iter("{http://www.w3.org/2000/svg}g")
        if g.get("data-payload")
    ]
    assert payloads == ["DEP-1", "DEP-2*2", "DEP-2*3"]

    target = json.loads(ok(db, "qr", "resolve", "DEP-2*3"))
    assert (target["station_id"], target["connector"]["id"]) == ("ST1", connector)
    assert 'field "payload": charger DEP-2 has 2 connectors' in fails(db, "qr", "resolve", "DEP-2")
    assert "no charger with code 'X'" in fails(db, "qr", "resolve", "X")
    assert "cannot write" in fails(
        db, "stations", "qr-sheet", "ST1", "-o", str(tmp_path / "no" / "x")
    )


def test_map(db: Path) -> None:
    table = ok(db, "map", "--lat", "52.52", "--lon", "13.40")
    lines = table.splitlines()
    assert [line.split()[0] for line in lines[1:-1]] == ["DEP-1", "DEP-2"]  # ST2 is invisible
    assert lines[-1] == "2 charger(s)"
    document = json.loads(
        ok(
            db,
            "map",
            "--format",
            "geojson",
            "--driver",
            "alice",
            "--min-power-w",
            "50000",
            "--lat",
            "52.52",
            "--lon",
            "13.40",
        )
    )
    assert [f["properties"]["charger_code"] for f in document["features"]] == ["DEP-1"]
    assert document["features"][0]["properties"]["distance_m"] == pytest.approx(338.3, abs=0.5)
    everything = json.loads(ok(db, "map", "--format", "geojson", "--view", "operator"))
    assert len(everything["features"]) == 3
    assert "both latitude and longitude" in fails(db, "map", "--lat", "1")


def test_transactions_list(db: Path) -> None:
    async def record() -> None:
        repository = await open_repository(str(db))
        try:
            charging = ChargingService(repository)
            t0 = datetime(2026, 2, 1, tzinfo=UTC)
            for n, (station, tag) in enumerate((("ST1", "A-1"), ("ST2", "+b"), ("ST1", "c"))):
                await charging.start_transaction(
                    station,
                    connector_id=1,
                    id_tag=tag,
                    meter_start=n * 10,
                    timestamp=t0 + timedelta(hours=n),
                )
        finally:
            await repository.close()

    asyncio.run(record())
    table = ok(db, "transactions", "list")
    assert [line.split()[3] for line in table.splitlines()[1:-1]] == ["c", "+b", "A-1"]
    assert table.splitlines()[-1] == "page 1 of 1, 3 transaction(s)"
    rows = list(
        csv.DictReader(
            io.StringIO(ok(db, "transactions", "list", "--format", "csv", "--sort", "started_at"))
        )
    )
    assert [r["id_tag"] for r in rows] == ["A-1", "'+b", "c"]
    found = json.loads(
        ok(
            db,
            "transactions",
            "list",
            "--format",
            "json",
            "--station",
            "ST1",
            "--search",
            "a-",
            "--since",
            "2026-02-01T00:00:00+00:00",
        )
    )
    assert [t["id_tag"] for t in found["items"]] == ["A-1"]
    errors = fails(db, "transactions", "list", "--since", "then", "--until", "2026-01-01T00:00")
    assert "--since: expected an ISO 8601" in errors
    assert "--until: give a time zone" in errors


def test_id_tokens(db: Path) -> None:
    created = json.loads(
        ok(
            db,
            "id-tokens",
            "create",
            "CARD-1",
            "--group-id",
            "fleet",
            "--expiry-date",
            "2099-01-01T00:00:00Z",
        )
    )
    assert created == {
        "id_token": "CARD-1",
        "type": "ISO14443",
        "status": "Accepted",
        "expiry_date": "2099-01-01T00:00:00Z",
        "group_id": "fleet",
    }
    assert "already exists" in fails(db, "id-tokens", "create", "CARD-1")
    blocked = json.loads(
        ok(db, "id-tokens", "update", "CARD-1", "--status", "Blocked", "--expiry-date", "")
    )
    assert (blocked["status"], blocked["expiry_date"]) == ("Blocked", None)
    ok(db, "id-tokens", "create", "CARD-2", "--type", "Central")
    table = ok(db, "id-tokens", "list")
    assert [line.split()[0] for line in table.splitlines()[1:-1]] == ["CARD-1", "CARD-2"]
    listing = json.loads(ok(db, "id-tokens", "list", "--format", "json"))
    assert [t["type"] for t in listing["items"]] == ["ISO14443", "Central"]
    assert json.loads(ok(db, "id-tokens", "show", "CARD-2"))["status"] == "Accepted"
    assert 'field "expiry_date"' in fails(
        db, "id-tokens", "update", "CARD-2", "--expiry-date", "soon"
    )
    assert "36 characters" in fails(db, "id-tokens", "create", "X" * 40)
    assert ok(db, "id-tokens", "delete", "CARD-2") == "deleted id token CARD-2\n"
    assert "id token 'CARD-2' not found" in fails(db, "id-tokens", "show", "CARD-2")

"""The ``evcharge`` CLI through real subprocesses: outputs and exit codes of CONTRACT.md."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import EXAMPLES

HEADER = (
    "Station ID;Security code;Manufacturer;Article number;Wi-Fi supported;GSM supported;"
    "Connector type;Format;Power type;Voltage;Amperage;Serial number"
)
ROW = "ST{n};CODE-{n};Alfen;;yes;no;Type 2;Socket;Three-phase AC;230;16;SN{n}"

STATION_KEYS = {
    "id",
    "name",
    "code",
    "visible",
    "physical_address",
    "protocol",
    "area_id",
    "boot_configuration",
    "manufacturer",
    "article_number",
    "serial_number",
    "connectivity",
    "activation",
    "reported",
    "connection",
    "security_profile",
    "registration_status",
    "operational_status",
    "status",
    "websocket_url",
    "connector_specifications",
    "chargers",
}


def evcharge(
    *args: str,
    db: Path | str | None,
    cwd: Path | None = None,
    stdin: str | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "EVCHARGE_DB"}
    full_env.update(env or {})
    db_args = ["--db", str(db)] if db is not None else []
    return subprocess.run(
        [sys.executable, "-m", "evcharge_core", *args, *db_args],
        capture_output=True,
        text=True,
        input=stdin,
        cwd=cwd,
        env=full_env,
        timeout=60,
        check=False,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "cli.db"


def write_csv(tmp_path: Path, *rows: str) -> Path:
    path = tmp_path / "stations.csv"
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_import_activate_list_show_export(tmp_path: Path, db: Path) -> None:
    example = EXAMPLES / "stations.csv"
    out = ok(evcharge("import-stations", str(example), db=db))
    count = int(out.split()[1])
    assert out == f"imported {count} stations\n"
    first = ok(evcharge("stations", "list", "--format", "json", db=db))
    listed = json.loads(first)
    assert listed["total"] == count
    station_id = listed["items"][0]["id"]
    code = next(
        line.split(";")[1]
        for line in example.read_text(encoding="utf-8-sig").splitlines()[1:]
        if line.startswith(station_id + ";")
    )
    assert ok(evcharge("activate", station_id, "--security-code", code, db=db)) == (
        f"activated {station_id}\n"
    )
    shown = json.loads(ok(evcharge("stations", "show", station_id, db=db)))
    assert shown.keys() >= STATION_KEYS
    assert shown["activation"]["state"] == "active"
    assert "security_code" not in json.dumps(shown)
    table = ok(evcharge("stations", "list", db=db))
    assert table.splitlines()[0].split()[:2] == ["ID", "NAME"]
    assert f"{count} station(s)" in table
    exported = ok(evcharge("stations", "list", "--format", "csv", db=db))
    assert exported.splitlines()[0].startswith("id,name,code,status")
    assert len(exported.splitlines()) == count + 1
    active = ok(
        evcharge(
            "stations", "list", "--format", "json", "--page", "1", "--activation", "active", db=db
        )
    )
    assert [s["id"] for s in json.loads(active)["items"]] == [station_id]


def test_import_errors_are_located_and_counted(tmp_path: Path, db: Path) -> None:
    bad = write_csv(
        tmp_path,
        ROW.format(n=1),
        ROW.format(n=2).replace(";230;", ";5000;"),
        ROW.format(n=3).replace(";yes;no;", ";no;no;"),
    )
    result = evcharge("import-stations", str(bad), db=db)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith('line 3, column "Voltage": ')
    assert lines[1].startswith('line 4, column "Wi-Fi supported": ')
    assert lines[-1] == "2 errors in total"
    assert "Traceback" not in result.stderr
    assert json.loads(ok(evcharge("stations", "list", "--format", "json", db=db)))["total"] == 0


def test_at_most_100_errors_are_shown(tmp_path: Path, db: Path) -> None:
    rows = [ROW.format(n=n).replace(";16;", ";0;") for n in range(150)]
    result = evcharge("import-stations", str(write_csv(tmp_path, *rows)), db=db)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 101
    assert lines[-1] == "150 errors in total"


def test_warnings_do_not_fail_the_import(tmp_path: Path, db: Path) -> None:
    path = write_csv(tmp_path, ROW.format(n=1).replace(";230;", ";400;"))
    result = evcharge("import-stations", str(path), db=db)
    assert result.returncode == 0
    assert result.stdout == "imported 1 station\n"
    assert result.stderr.startswith('warning: line 2, column "Voltage": ')
    assert "230 V" in result.stderr


def test_missing_file_is_a_clear_error(tmp_path: Path, db: Path) -> None:
    result = evcharge("import-stations", str(tmp_path / "nope.csv"), db=db)
    assert result.returncode == 1
    assert result.stderr.startswith("cannot read ")
    assert "Traceback" not in result.stderr


def test_single_import_from_stdin_and_file(tmp_path: Path, db: Path) -> None:
    body = {
        "station_id": "ST42",
        "security_code": "ABCD-1234",
        "manufacturer": "Easee",
        "connectivity": {"wifi": True, "gsm": True},
        "connector_specifications": [
            {
                "standard": "IEC_62196_T2",
                "format": "SOCKET",
                "power_type": "AC_3_PHASE",
                "voltage": 230,
                "amperage": 32,
            }
        ],
    }
    assert ok(evcharge("import-station", "-", db=db, stdin=json.dumps(body))) == ("imported ST42\n")
    body["connector_specifications"][0]["voltage"] = 5  # type: ignore[index]
    path = tmp_path / "one.json"
    path.write_text(json.dumps(body))
    result = evcharge("import-station", str(path), db=db)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0].startswith('field "connector_specifications[0].voltage": ')
    broken = evcharge("import-station", "-", db=db, stdin='{"station_id": ')
    assert broken.returncode == 1
    assert broken.stderr.startswith("line 1")


def test_activation_failures_are_one_line(tmp_path: Path, db: Path) -> None:
    ok(evcharge("import-stations", str(write_csv(tmp_path, ROW.format(n=1))), db=db))
    wrong = evcharge("activate", "ST1", "--security-code", "nope", db=db)
    unknown = evcharge("activate", "ST9", "--security-code", "CODE-1", db=db)
    assert wrong.returncode == unknown.returncode == 1
    assert wrong.stderr == unknown.stderr
    assert len(wrong.stderr.splitlines()) == 1
    ok(evcharge("activate", "ST1", "--security-code", "CODE-1", db=db))
    again = evcharge("activate", "ST1", "--security-code", "CODE-1", db=db)
    assert again.returncode == 1
    assert "already activated" in again.stderr


def test_database_selection(tmp_path: Path) -> None:
    # Default: evcharge.db in the working directory.
    ok(evcharge("stations", "create", "A", db=None, cwd=tmp_path))
    assert (tmp_path / "evcharge.db").exists()
    # EVCHARGE_DB, and --db wins over it.
    env_db = tmp_path / "env.db"
    ok(evcharge("stations", "create", "B", db=None, cwd=tmp_path, env={"EVCHARGE_DB": str(env_db)}))
    listed = ok(
        evcharge(
            "stations",
            "list",
            "--format",
            "json",
            db=None,
            cwd=tmp_path,
            env={"EVCHARGE_DB": f"sqlite:///{env_db}"},
        )
    )
    assert [s["id"] for s in json.loads(listed)["items"]] == ["B"]
    memory = evcharge("stations", "list", "--format", "json", db="memory://")
    assert json.loads(ok(memory))["total"] == 0


def test_unusable_database_is_a_clear_error_and_unchanged(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database" * 100)
    before = garbage.read_bytes()
    result = evcharge("stations", "list", db=garbage)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ")
    assert "Traceback" not in result.stderr
    assert garbage.read_bytes() == before
    scheme = evcharge("stations", "list", db="mysql://x")
    assert scheme.returncode == 1
    assert "unsupported database URL" in scheme.stderr


def test_crud_through_the_cli(db: Path) -> None:
    area = json.loads(
        ok(
            evcharge(
                "areas",
                "create",
                "--id",
                "oslo",
                "--name",
                "Oslo",
                "--latitude",
                "59.9",
                "--longitude",
                "10.7",
                db=db,
            )
        )
    )
    assert area["id"] == "oslo"
    created = json.loads(
        ok(
            evcharge(
                "stations",
                "create",
                "ST1",
                "--name",
                "Depot",
                "--area",
                "oslo",
                "--set",
                "boot_configuration.trigger_heartbeat=true",
                db=db,
            )
        )
    )
    assert created["boot_configuration"]["trigger_heartbeat"] is True
    assert created["area_id"] == "oslo"
    updated = json.loads(ok(evcharge("stations", "update", "ST1", "--set", "visible=false", db=db)))
    assert updated["visible"] is False
    charger = json.loads(ok(evcharge("chargers", "create", "ST1", "--name", "Left", db=db)))
    connector = json.loads(
        ok(
            evcharge(
                "connectors",
                "create",
                charger["id"],
                "--set",
                "standard=CCS2",
                "--set",
                "format=CABLE",
                "--set",
                "power_type=DC",
                "--set",
                "voltage=400",
                "--set",
                "amperage=200",
                db=db,
            )
        )
    )
    assert connector["max_power_w"] == 80000
    shown = json.loads(ok(evcharge("stations", "show", "ST1", db=db)))
    assert shown["chargers"][0]["connectors"][0]["id"] == connector["id"]
    bad = evcharge("stations", "update", "ST1", "--set", "security_profile=7", db=db)
    assert bad.returncode == 1
    assert bad.stderr.startswith('field "security_profile": ')
    assert ok(evcharge("connectors", "delete", connector["id"], db=db)).startswith("deleted")
    assert ok(evcharge("chargers", "delete", charger["id"], db=db)).startswith("deleted")
    busy = evcharge("areas", "delete", "oslo", db=db)
    assert busy.returncode == 1
    assert ok(evcharge("stations", "delete", "ST1", db=db)) == "deleted station ST1\n"
    assert ok(evcharge("areas", "delete", "oslo", db=db)) == "deleted area oslo\n"
    missing = evcharge("stations", "show", "ST1", db=db)
    assert missing.returncode == 1
    assert missing.stderr == "error: station 'ST1' not found\n"


def test_usage_errors_exit_2(db: Path) -> None:
    assert evcharge("no-such-command", db=db).returncode == 2
    bad_status = evcharge("stations", "list", "--status", "Sleeping", db=db)
    assert bad_status.returncode == 1
    assert "--status" in bad_status.stderr


def test_import_activate_and_list_on_postgresql(tmp_path: Path, postgres_db: str) -> None:
    """``--db postgresql://...``: the same commands, the same outputs, data kept between
    runs (each command is a process of its own); ``EVCHARGE_DB`` selects it too."""
    assert ok(evcharge("import-stations", str(EXAMPLES / "stations.csv"), db=postgres_db)) == (
        "imported 6 stations\n"
    )
    activated = evcharge("activate", "ST1010101", "--security-code", "K7P2-9QXM", db=postgres_db)
    assert ok(activated) == "activated ST1010101\n"
    listed = json.loads(
        ok(evcharge("stations", "list", "--format", "json", "--page-size", "100", db=None,
                    env={"EVCHARGE_DB": postgres_db}))
    )  # fmt: skip
    items = listed["items"] if isinstance(listed, dict) else listed
    assert len(items) == 6
    by_id = {item["id"]: item for item in items}
    assert by_id["ST1010101"]["activation"]["state"] == "active"
    shown = json.loads(ok(evcharge("stations", "show", "ST1010101", db=postgres_db)))
    assert set(shown) >= STATION_KEYS
    assert shown["activation"]["state"] == "active"
    searched = ok(evcharge("stations", "list", "--format", "csv", "--search", "st10101",
                           db=postgres_db))  # fmt: skip
    assert "ST1010101" in searched


def test_an_unreachable_postgresql_database_is_one_line_without_the_password() -> None:
    result = evcharge("stations", "list", db="postgresql://me:hunter2@127.0.0.1:1/evcharge")
    assert result.returncode == 1
    assert "hunter2" not in result.stderr
    assert result.stderr.startswith("error: postgresql://me:***@127.0.0.1:1/evcharge: cannot")
    assert len(result.stderr.splitlines()) == 1

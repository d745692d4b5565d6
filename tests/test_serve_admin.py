"""The admin API in the reference server: flags, token, URLs, and a real process end to end."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from evcharge_core.serve import ENV_ADMIN_TOKEN, admin_token, build_parser, run

from .conftest import EXAMPLES

ENDPOINT = "OCPP websocket endpoint: "
ADMIN = "Admin API: "
GENERATED = "Admin API token (generated, shown once): "


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("EVCHARGE_DB", None)
    env.pop(ENV_ADMIN_TOKEN, None)
    env.update(extra)
    return env


# --- a real process --------------------------------------------------------------------------


async def _serve_process(db: Path, *flags: str) -> tuple[int, str, str]:
    """Start the server, import stations and read one through the admin API, SIGTERM it;
    its exit status, stdout and stderr."""
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "evcharge_core.serve", "--db", str(db)),
        *("--host", "127.0.0.1", "--port", "0", "--admin-port", "0", *flags),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    assert process.stdout is not None
    assert process.stderr is not None
    lines: list[str] = []
    try:

        async def line() -> str:
            assert process.stdout is not None
            text = (await asyncio.wait_for(process.stdout.readline(), timeout=20)).decode()
            lines.append(text)
            return text.rstrip("\n")

        endpoint = await line()
        assert endpoint.startswith(ENDPOINT), endpoint
        template = endpoint.removeprefix(ENDPOINT)
        admin = await line()
        assert admin.startswith(ADMIN), admin
        api = admin.removeprefix(ADMIN)
        assert api.startswith("http://127.0.0.1:")
        assert api.endswith("/api/")
        if "--admin-token" in flags:
            token = flags[flags.index("--admin-token") + 1]
        else:
            generated = await line()
            assert generated.startswith(GENERATED), generated
            token = generated.removeprefix(GENERATED)
            assert len(token) >= 32
        auth = {"Authorization": f"Bearer {token}"}

        async with httpx.AsyncClient(base_url=api.removesuffix("api/"), timeout=10) as http:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/api/stations")).status_code == 401
            imported = await http.post(
                "/api/stations/import",
                content=(EXAMPLES / "stations.csv").read_bytes(),
                headers={**auth, "Content-Type": "text/csv"},
            )
            assert imported.status_code == 200, imported.text
            assert imported.json()["imported"] == 6
            station = await http.get("/api/stations/ST1010101", headers=auth)
            assert station.status_code == 200, station.text
            body = station.json()
            assert body["activation"]["state"] == "inactive"
            assert body["websocket_url"] == template.format(station_id="ST1010101")
            metrics = await http.get("/metrics")
            assert 'evcharge_stations{activation="inactive"} 6.0' in metrics.text

        process.send_signal(signal.SIGTERM)
        status = await asyncio.wait_for(process.wait(), timeout=15)
        rest = (await process.stdout.read()).decode()
        stderr = (await process.stderr.read()).decode()
        return status, "".join(lines) + rest, stderr
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


def test_serve_runs_the_admin_api_end_to_end(tmp_path: Path) -> None:
    status, stdout, stderr = asyncio.run(
        _serve_process(tmp_path / "x.db", "--admin-token", "e2e-token")
    )
    assert status == 0, stderr
    assert "Traceback" not in stderr
    assert "e2e-token" not in stdout + stderr  # a given token is never printed
    assert GENERATED not in stdout


def test_serve_generates_and_prints_a_token_once(tmp_path: Path) -> None:
    status, stdout, stderr = asyncio.run(_serve_process(tmp_path / "x.db"))
    assert status == 0, stderr
    token = next(
        line.removeprefix(GENERATED) for line in stdout.splitlines() if line.startswith(GENERATED)
    )
    assert (stdout + stderr).count(token) == 1


# --- in process ------------------------------------------------------------------------------


async def _in_process(
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    check: Callable[[dict[str, str]], Awaitable[None]],
) -> tuple[int, str, str]:
    """Run the server in this loop until its admin line is printed, ``check`` the printed
    lines (by prefix), stop it; its exit status, stdout and stderr."""
    stop = asyncio.Event()
    server = asyncio.create_task(run(build_parser().parse_args(argv), stop))
    out = err = ""
    for _ in range(1000):
        captured = capsys.readouterr()
        out += captured.out
        err += captured.err
        if ADMIN in out or server.done():
            break
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)
    out += capsys.readouterr().out
    if not server.done():
        printed = {
            prefix: line.removeprefix(prefix)
            for line in out.splitlines()
            for prefix in (ENDPOINT, ADMIN, GENERATED)
            if line.startswith(prefix)
        }
        try:
            await check(printed)
        finally:
            stop.set()
    status = await asyncio.wait_for(server, timeout=15)
    captured = capsys.readouterr()
    return status, out + captured.out, err + captured.err


async def _get_station(printed: dict[str, str], token: str, body: dict[str, Any]) -> Any:
    base = printed[ADMIN].removesuffix("api/")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as http:
        created = await http.post("/api/stations", json=body)
        assert created.status_code == 201, created.text
        return created.json()


def test_token_from_the_environment_and_public_url(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_ADMIN_TOKEN, "env-token")
    argv = [
        *("--db", "memory://", "--host", "127.0.0.1", "--port", "0", "--admin-port", "0"),
        *("--public-url", "wss://csms.example.com/ocpp"),
    ]

    async def check(printed: dict[str, str]) -> None:
        assert GENERATED not in printed
        station = await _get_station(printed, "env-token", {"id": "ST1"})
        assert station["websocket_url"] == "wss://csms.example.com/ocpp/ST1"

    status, out, err = asyncio.run(_in_process(capsys, argv, check))
    assert status == 0, err
    assert "env-token" not in out + err


def test_wildcard_host_gives_stations_the_host_name(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", "memory://", "--host", "0.0.0.0", "--port", "0", "--admin-port", "0"]
    argv += ["--admin-token", "t"]

    async def check(printed: dict[str, str]) -> None:
        port = printed[ENDPOINT].split(":")[2].split("/")[0]
        station = await _get_station(printed, "t", {"id": "ST1"})
        assert station["websocket_url"] == f"ws://{socket.gethostname()}:{port}/ocpp/ST1"

    status, _, err = asyncio.run(_in_process(capsys, argv, check))
    assert status == 0, err


def test_admin_port_in_use_is_one_line_and_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["--db", "memory://", "--host", "127.0.0.1", "--port", "0"]
        argv += ["--admin-port", str(port)]

        async def check(printed: dict[str, str]) -> None:  # pragma: no cover - never runs
            raise AssertionError(printed)

        status, out, err = asyncio.run(_in_process(capsys, argv, check))
    assert status == 1
    assert out == ""
    errors = [line for line in err.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1
    assert str(port) in errors[0]
    assert "admin" in errors[0]


def test_parser_admin_flags() -> None:
    args = build_parser().parse_args([])
    assert (args.admin_host, args.admin_port, args.admin_token, args.public_url) == (
        "127.0.0.1",
        8080,
        None,
        None,
    )
    args = build_parser().parse_args(["--public-url", "wss://h.example/ocpp", "--admin-port", "0"])
    assert (args.public_url, args.admin_port) == ("wss://h.example/ocpp/", 0)
    for bad in (["--admin-token", " "], ["--public-url", "http://h/"], ["--public-url", "ws://"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(bad)


def test_admin_token_resolution() -> None:
    assert admin_token("cli", {ENV_ADMIN_TOKEN: "env"}) == ("cli", False)
    assert admin_token(None, {ENV_ADMIN_TOKEN: "env"}) == ("env", False)
    token, generated = admin_token(None, {ENV_ADMIN_TOKEN: "  "})
    assert generated
    assert token != admin_token(None, {})[0]

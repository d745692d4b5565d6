"""``python -m evcharge_core.simulate`` (``simulator._cli``), in a subprocess and in-process."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys

import pytest

from evcharge_core.simulator._cli import build_parser, main

from .csms import TestCsms, schema_problems
from .csms201 import TestCsms201, schema_problems_201

FAST = ["--think-time", "0.1:0.2", "--charge-time", "0.4:0.6", "--meter-interval", "1"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def simulate(*args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "evcharge_core.simulate",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), 30)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def test_subprocess_json_summary() -> None:
    async def test() -> None:
        async with TestCsms() as csms:
            status, out, err = await simulate(
                "--url",
                csms.url,
                "--stations",
                "2",
                "--duration",
                "2",
                "--json",
                "--seed",
                "3",
                *FAST,
            )
            assert status == 0, err
            report = json.loads(out)
            assert report["stations"] == 2
            assert report["stations_connected"] == 2
            assert report["boots"] == {"Accepted": 2, "Pending": 0, "Rejected": 0}
            assert report["transactions"]["started"] >= 2
            assert report["transactions"]["started"] == report["transactions"]["stopped"]
            assert report["actions"]["BootNotification"]["ok"] == 2
            assert report["refusals"] == {}
            assert {sid for sid, _ in csms.handshakes} == {"SIM1", "SIM2"}
            assert schema_problems(csms.frames) == []

    asyncio.run(test())


def test_subprocess_ocpp201_json_summary() -> None:
    async def test() -> None:
        async with TestCsms201() as csms:
            status, out, err = await simulate(
                "--url",
                csms.url,
                "--protocol",
                "ocpp2.0.1",
                "--stations",
                "2",
                "--connectors",
                "1",
                "--duration",
                "2",
                "--json",
                "--seed",
                "3",
                *FAST,
            )
            assert status == 0, err
            report = json.loads(out)
            assert report["protocol"] == "ocpp2.0.1"
            assert report["stations_connected"] == report["stations_accepted"] == 2
            assert report["transactions"]["started"] >= 2
            assert report["transactions"]["started"] == report["transactions"]["stopped"]
            assert report["actions"]["TransactionEvent"]["ok"] >= 8
            assert {sid for sid, _ in csms.handshakes} == {"SIM1", "SIM2"}
            assert schema_problems_201(csms.frames) == []

    asyncio.run(test())


def test_subprocess_stops_cleanly_on_ctrl_c() -> None:
    async def test() -> None:
        async with TestCsms() as csms:
            process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "evcharge_core.simulate",
                "--url",
                csms.url,
                "--id-prefix",
                "CP",
                "--id-start",
                "7",
                "--connectors",
                "1",
                "--no-transactions",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            await csms.wait_for(lambda: len(csms.payloads("StatusNotification")) == 2, 20)
            process.send_signal(signal.SIGINT)
            stdout, stderr = await asyncio.wait_for(process.communicate(), 20)
            assert process.returncode == 0, stderr
            assert "against " + csms.url + " until Ctrl-C" in stderr.decode()
            text = stdout.decode()
            assert text.startswith("Simulated 1 station(s) against ")
            assert "  stations connected: 1/1, accepted: 1/1" in text
            assert csms.handshakes == [("CP7", 101)]

    asyncio.run(test())


def test_nothing_to_connect_to(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"ws://127.0.0.1:{free_port()}/ocpp/"
    assert main(["--url", url, "--duration", "0.3", "--json"]) == 1
    captured = capsys.readouterr()
    report = json.loads(captured.out)
    assert report["stations_connected"] == 0
    assert list(report["refusals"]) == ["connection refused (nothing listening at that address)"]
    assert "error: no station could connect" in captured.err
    assert main(["--url", url, "--duration", "0.2"]) == 1
    assert "connection refusals:" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["--url", "http://x/"],
        ["--url", "ws://x/", "--stations", "0"],
        ["--url", "ws://x/", "--protocol", "ocpp2.1"],
        ["--url", "ws://x/", "--id-tag", "x" * 21],
        ["--url", "ws://x/", "--think-time", "5:1"],
        ["--url", "ws://x/", "--think-time", "1:2:3"],
        ["--url", "ws://x/", "--charge-time", "-1"],
    ],
)
def test_usage_errors(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(args)
    assert caught.value.code == 2
    assert "usage:" in capsys.readouterr().err


def test_defaults() -> None:
    args = build_parser().parse_args(["--url", "ws://x/"])
    assert (args.stations, args.id_prefix, args.id_start, args.connectors) == (1, "SIM", 1, 2)
    assert (args.protocol, args.transactions, args.duration, args.json) == (
        "ocpp1.6",
        True,
        None,
        False,
    )
    assert build_parser().parse_args(["--url", "u", "--no-transactions"]).transactions is False

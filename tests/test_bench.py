"""The benchmark scripts under ``bench/``: their frames are valid OCPP, their servers answer
them, and their OCPP 1.6 paths run end to end (the figures themselves are not checked: the
scripts print them for a person to judge).

The OCPP 2.0.1 paths against our own server are run by hand once the server speaks 2.0.1
(see docs/benchmarks.md); against the baseline they are tested here.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest

from .simulator.csms import validator
from .simulator.csms201 import validator_201

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.fixture(scope="module")
def bench() -> Iterator[dict[str, ModuleType]]:
    sys.path.insert(0, str(BENCH))
    try:
        yield {name: importlib.import_module(name) for name in ("ocpp_load", "ocpp_handlers")}
    finally:
        sys.path.remove(str(BENCH))


def _problems(protocol: str, frame: bytes) -> list[str]:
    message = json.loads(frame, parse_float=Decimal)
    assert message[0] == 2
    schema = validator(message[2]) if protocol == "ocpp1.6" else validator_201(message[2])
    return [error.message for error in schema.iter_errors(message[3])]


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_the_load_frames_are_schema_valid(bench: dict[str, ModuleType], protocol: str) -> None:
    load = bench["ocpp_load"]
    assert _problems(protocol, load.BOOT_FRAMES[protocol]) == []
    frames = load.FRAMES[protocol]
    assert tuple(frames) == load.ACTIONS
    for template in frames.values():
        assert _problems(protocol, template.render(7)) == [], template.action
    status = frames["StatusNotification"]
    assert status.timed is (protocol == "ocpp2.0.1")
    if status.timed:  # a fresh timestamp per message, never the same frame twice
        stamp = json.loads(status.render(7))[3]["timestamp"]
        assert stamp.endswith("Z")
        assert len(stamp) == len("2026-01-01T00:00:00.000Z")


@pytest.mark.parametrize("protocol", ["ocpp1.6", "ocpp2.0.1"])
def test_the_baseline_server_answers_the_load_client(
    bench: dict[str, ModuleType], protocol: str
) -> None:
    load = bench["ocpp_load"]
    frames = [load.FRAMES[protocol][action] for action in load.ACTIONS]
    run = load.run_one("baseline", 3, frames, 1.0, 10, protocol=protocol)
    assert (run.server, run.protocol, run.connected) == ("baseline", protocol, 3)
    assert run.boot == {"Accepted": 3}
    assert run.results > 0
    assert (run.call_errors, run.mismatched, run.unfinished) == (0, 0, 0)
    assert run.round_trips == run.results


def test_our_server_answers_the_ocpp16_load_client(bench: dict[str, ModuleType]) -> None:
    load = bench["ocpp_load"]
    frames = [load.FRAMES["ocpp1.6"][action] for action in load.ACTIONS]
    run = load.run_one("ours", 2, frames, 1.0, 10, protocol="ocpp1.6")
    assert run.connected == 2
    assert run.boot == {"Accepted": 2}
    assert run.results > 0
    assert (run.call_errors, run.mismatched) == (0, 0)


def test_the_load_client_options(
    bench: dict[str, ModuleType], capsys: pytest.CaptureFixture[str]
) -> None:
    parser = bench["ocpp_load"].build_parser()
    assert parser.parse_args([]).protocol == "ocpp1.6"
    assert parser.parse_args(["--protocol", "ocpp2.0.1"]).protocol == "ocpp2.0.1"
    with pytest.raises(SystemExit):
        parser.parse_args(["--protocol", "ocpp2.1"])
    assert "invalid choice" in capsys.readouterr().err


def test_the_handlers_bench_runs_ocpp16_sessions(
    bench: dict[str, ModuleType], tmp_path: Path
) -> None:
    handlers = bench["ocpp_handlers"]
    figures = asyncio.run(
        handlers._measure(str(tmp_path / "bench.db"), 3, 2, 1, handlers.MIXES, protocol="ocpp1.6")
    )
    assert set(figures) == set(handlers.MIXES)
    assert all(
        len(cpu) == len(wall) == 1 and cpu[0] > 0 and wall[0] > 0 for cpu, wall in figures.values()
    )

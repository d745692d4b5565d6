"""``bench/cluster.py`` runs end to end, small (its figures are for a person to judge)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests import postgres
from tests.cluster.harness import require_nats

BENCH = Path(__file__).resolve().parent.parent.parent / "bench"


@pytest.fixture(scope="module")
def cluster_bench() -> Iterator[ModuleType]:
    sys.path.insert(0, str(BENCH))
    try:
        yield importlib.import_module("cluster")
    finally:
        sys.path.remove(str(BENCH))


@pytest.mark.parametrize("bus", ["postgres", "nats"])
def test_round_trips_per_bus(cluster_bench: ModuleType, bus: str) -> None:
    postgres.require_server()
    bus_url = require_nats() if bus == "nats" else bus
    trips = cluster_bench.command_round_trips(postgres.ADMIN_URL, bus_url, 3)
    assert [t.path for t in trips] == ["library, routed", "admin API, routed", "admin API, local"]
    assert all(t.bus == bus and t.commands == 3 and t.p50_ms > 0 for t in trips)


def test_the_load_over_two_processes(cluster_bench: ModuleType) -> None:
    postgres.require_server()
    run = cluster_bench.load_run("postgres", "postgres", 2, postgres.ADMIN_URL, count=4, duration=1)
    assert (run.processes, run.connected, run.errors) == (2, 4, 0)
    assert run.round_trips_per_s > 0

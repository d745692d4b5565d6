"""The reference server's cluster flags: ``--bus``, ``--node-id``, ``--lease-ttl``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from evcharge_core.cluster import MIGRATIONS
from evcharge_core.serve import build_parser, run
from tests import postgres


@pytest.fixture
def db_url() -> Iterator[str]:
    url = postgres.create_database("evcharge_flags")
    yield url
    postgres.drop_database(url)


def test_flags_and_their_defaults() -> None:
    args = build_parser().parse_args([])
    assert (args.bus, args.node_id, args.lease_ttl) == (None, None, 30)
    args = build_parser().parse_args(
        ["--bus", "nats://10.0.0.5:4222", "--node-id", "gw1", "--lease-ttl", "12"]
    )
    assert (args.bus, args.node_id, args.lease_ttl) == ("nats://10.0.0.5:4222", "gw1", 12)
    for wrong in (["--bus", "redis://x"], ["--lease-ttl", "0"]):
        with pytest.raises(SystemExit):
            build_parser().parse_args(wrong)


def test_a_bus_needs_postgresql(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = build_parser().parse_args(
        ["--db", str(tmp_path / "x.db"), "--bus", "postgres", "--port", "0", "--admin-port", "0"]
    )
    assert asyncio.run(run(args, asyncio.Event())) == 1
    assert "need a PostgreSQL database" in capsys.readouterr().err


async def _serve_briefly(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    stop = asyncio.Event()
    server = asyncio.create_task(run(build_parser().parse_args(args), stop))
    output = ""
    for _ in range(3000):
        output += capsys.readouterr().out
        if "Web console" in output or server.done():
            break
        await asyncio.sleep(0.01)
    stop.set()
    assert await asyncio.wait_for(server, 30) == 0
    return output


def test_postgresql_defaults_to_the_postgres_bus(
    db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--db", db_url, "--host", "127.0.0.1", "--port", "0", "--admin-port", "0"]
    output = asyncio.run(_serve_briefly([*common, "--node-id", "gw7"], capsys))
    assert "Cluster: node gw7, bus postgres" in output
    with psycopg.connect(db_url) as conn:
        row = conn.execute("SELECT max(version) FROM evcharge_cluster_migrations").fetchone()
    assert row == (len(MIGRATIONS),)
    output = asyncio.run(_serve_briefly([*common, "--bus", "local"], capsys))
    assert "Cluster:" not in output

"""Shared fixtures: a repository of each kind, and a fixed clock; and the Hypothesis
profile of the suite."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from evcharge_core.ports import Repository

EXAMPLES = Path(__file__).parent.parent / "examples"

# No timed assertions (speed is measured by the scripts under bench/): Hypothesis's deadline
# and its "input generation is slow" health check fail on how busy the machine is, not on
# the code (seen on a 2-core machine shared with other jobs, under coverage). Tests that set
# their own settings inherit this profile for what they leave unset.
settings.register_profile("evcharge", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("evcharge")


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(params=["memory", "sqlite"])
def repository(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Repository]:
    from evcharge_core.bootstrap import open_repository

    url = "memory://" if request.param == "memory" else str(tmp_path / "test.db")
    repo = asyncio.run(open_repository(url))
    yield repo
    asyncio.run(repo.close())


@pytest.fixture
def postgres_db() -> Iterator[str]:
    """The URL of a new, empty database on the test PostgreSQL server, dropped after the
    test (which skips when no server is reachable: see ``tests/postgres.py``)."""
    from .postgres import create_database, drop_database

    url = create_database()
    try:
        yield url
    finally:
        drop_database(url)

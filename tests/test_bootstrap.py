"""Wiring: which adapter a database URL opens, and how a URL is shown."""

from __future__ import annotations

import asyncio
import sys

import pytest

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.bootstrap import display_db_url, open_repository, resolve_db_url
from evcharge_core.errors import StorageError


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://u:secret@h:5/db", "postgresql://u:***@h:5/db"),
        ("postgres://u@h/db", "postgres://u@h/db"),
        ("postgresql://h/db?password=secret&sslmode=require",
         "postgresql://h/db?password=***&sslmode=require"),
        ("postgresql://u:p%40ss@h/db", "postgresql://u:***@h/db"),
        ("postgresql://u:pw@[::1]:5432/db", "postgresql://u:***@[::1]:5432/db"),
        ("postgresql:///db", "postgresql:///db"),
        ("evcharge.db", "evcharge.db"),
        ("sqlite:///data/x.db", "sqlite:///data/x.db"),
        ("memory://", "memory://"),
    ],
)  # fmt: skip
def test_display_db_url_masks_only_the_password(url: str, shown: str) -> None:
    assert display_db_url(url) == shown


def test_resolve_db_url_prefers_the_command_line_then_the_environment() -> None:
    assert resolve_db_url("a.db", {"EVCHARGE_DB": "b.db"}) == "a.db"
    assert resolve_db_url(None, {"EVCHARGE_DB": "postgresql://h/db"}) == "postgresql://h/db"
    assert resolve_db_url(None, {}) == "evcharge.db"


def test_unknown_schemes_name_the_ones_there_are() -> None:
    with pytest.raises(StorageError, match="postgresql://"):
        asyncio.run(open_repository("mysql://h/db"))


def test_memory_url_opens_the_in_memory_repository() -> None:
    assert isinstance(asyncio.run(open_repository("memory://")), InMemoryRepository)


def test_postgresql_without_the_extra_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "evcharge_core.adapters.postgres", None)
    with pytest.raises(StorageError, match=r"pip install 'evcharge-core\[postgres\]'"):
        asyncio.run(open_repository("postgresql://u:pw@127.0.0.1/db"))

"""The services' default clock. The domain never reads a clock: time is passed in, and
the services take a ``clock`` callable so tests and embedders can replace this one."""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["utc_now"]


def utc_now() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(UTC)

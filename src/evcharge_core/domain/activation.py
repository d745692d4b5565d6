"""Security-code activation of imported stations.

* Codes are stored only as a salted PBKDF2-HMAC-SHA256 hash, in a self-describing string
  ``pbkdf2_sha256$ITERATIONS$SALT$HASH`` (base64), so the cost can be raised later without
  invalidating stored codes. The salt is passed in: the domain draws no randomness.
* Verification compares in constant time, and an unknown station ID costs the same work as a
  known one and raises the same :class:`~evcharge_core.errors.ActivationMismatch`: the error
  does not tell which IDs exist. An active station with the *right* code gives
  :class:`~evcharge_core.errors.AlreadyActivated`; with a wrong one, a mismatch.
* Failures are counted per station ID (known or not) by :class:`ThrottlePolicy`; past the
  free attempts, each further failure locks the ID for a doubling delay.

Why so few PBKDF2 iterations by default (see ``docs/activation.md``): a security code guards
against activating the wrong station by mistake, and online guessing is stopped by the
throttle; the hash only slows an attacker who already has the database. An import of 5000
stations must hash 5000 codes well inside 0.2 s, which bounds the cost per code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime, timedelta
from typing import Final

import attrs

from ..errors import ActivationMismatch, ActivationThrottled, AlreadyActivated
from .events import StationActivated
from .model import Activation, Station
from .values import ActivationState

__all__ = [
    "DEFAULT_ITERATIONS",
    "SALT_BYTES",
    "SecurityCodeHasher",
    "ThrottlePolicy",
    "ThrottleState",
    "activate",
    "normalize_security_code",
]

SALT_BYTES: Final = 16
DEFAULT_ITERATIONS: Final = 100
_SCHEME: Final = "pbkdf2_sha256"
# Verified against when the station is unknown, so that both paths cost one PBKDF2 run.
_DUMMY_SALT: Final = b"\x00" * SALT_BYTES


def normalize_security_code(code: str) -> str:
    """Codes are compared exactly, less surrounding whitespace (a copy-paste habit)."""
    return code.strip()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@attrs.frozen
class SecurityCodeHasher:
    """Hashes and verifies security codes with PBKDF2-HMAC-SHA256."""

    iterations: int = DEFAULT_ITERATIONS

    def hash(self, code: str, salt: bytes) -> str:
        if len(salt) < SALT_BYTES:
            raise ValueError(f"salt must be at least {SALT_BYTES} bytes")
        digest = hashlib.pbkdf2_hmac(
            "sha256", normalize_security_code(code).encode(), salt, self.iterations
        )
        return f"{_SCHEME}${self.iterations}${_b64(salt)}${_b64(digest)}"

    def verify(self, code: str, encoded: str | None) -> bool:
        """Whether ``code`` matches ``encoded``; ``None`` (no code stored) never matches but
        costs the same."""
        scheme, iterations, salt, expected = self._parse(encoded)
        digest = hashlib.pbkdf2_hmac(
            "sha256", normalize_security_code(code).encode(), salt, iterations
        )
        return hmac.compare_digest(digest, expected) and scheme == _SCHEME

    def _parse(self, encoded: str | None) -> tuple[str, int, bytes, bytes]:
        try:
            assert encoded is not None
            scheme, iterations, salt, digest = encoded.split("$")
            return scheme, int(iterations), base64.b64decode(salt), base64.b64decode(digest)
        except (AssertionError, ValueError):
            # Unknown station or unreadable hash: do the same work, then fail.
            return "", self.iterations, _DUMMY_SALT, b""


@attrs.frozen
class ThrottleState:
    """Failed attempts for one station ID."""

    failures: int
    last_failure_at: datetime
    locked_until: datetime | None = None


@attrs.frozen
class ThrottlePolicy:
    """``free_attempts`` failures are allowed; each one after that locks the station ID for
    ``base_lockout`` doubled per extra failure, at most ``max_lockout``. Counting starts
    over after ``reset_after`` without failures, and on success."""

    free_attempts: int = 5
    base_lockout: timedelta = timedelta(seconds=30)
    max_lockout: timedelta = timedelta(hours=1)
    reset_after: timedelta = timedelta(hours=1)

    def retry_after(self, state: ThrottleState | None, now: datetime) -> float | None:
        """Seconds until the next attempt is allowed, or ``None`` if allowed now."""
        if state is None or state.locked_until is None or now >= state.locked_until:
            return None
        return (state.locked_until - now).total_seconds()

    def record_failure(self, state: ThrottleState | None, now: datetime) -> ThrottleState:
        failures = 1
        if state is not None and now - state.last_failure_at < self.reset_after:
            failures = state.failures + 1
        locked_until = None
        extra = failures - self.free_attempts
        if extra > 0:
            lockout = min(self.base_lockout * (2 ** min(extra - 1, 20)), self.max_lockout)
            locked_until = now + lockout
        return ThrottleState(failures, now, locked_until)


def activate(
    station: Station | None,
    security_code: str,
    now: datetime,
    *,
    hasher: SecurityCodeHasher,
    throttle: ThrottlePolicy,
    attempts: ThrottleState | None,
) -> tuple[Station, StationActivated]:
    """Activate ``station`` with ``security_code``.

    Raises :class:`ActivationThrottled` while the ID is locked (before any hashing),
    :class:`ActivationMismatch` for an unknown station or a wrong code, and
    :class:`AlreadyActivated` for an active station given its right code. The caller records
    a failure with :meth:`ThrottlePolicy.record_failure` on a mismatch.
    """
    retry = throttle.retry_after(attempts, now)
    if retry is not None:
        raise ActivationThrottled(retry)
    stored = station.security_code_hash if station is not None else None
    if not hasher.verify(security_code, stored) or station is None:
        raise ActivationMismatch
    if station.activation.state is ActivationState.ACTIVE:
        raise AlreadyActivated(station.id)
    activated = attrs.evolve(station, activation=Activation(ActivationState.ACTIVE, now))
    return activated, StationActivated(station.id, now)

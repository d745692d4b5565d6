"""Activation: hashing, constant-shape failures, throttling (SPEC §5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.activation import (
    SALT_BYTES,
    SecurityCodeHasher,
    ThrottlePolicy,
    ThrottleState,
    activate,
)
from evcharge_core.domain.model import Activation, Station
from evcharge_core.domain.values import ActivationState
from evcharge_core.errors import ActivationMismatch, ActivationThrottled, AlreadyActivated

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SALT = bytes(range(SALT_BYTES))
HASHER = SecurityCodeHasher(iterations=10)
POLICY = ThrottlePolicy()


def imported(code: str = "K7P2-9QXM") -> Station:
    return Station(
        id="ST1010101",
        name="ST1010101",
        code="ST1010101",
        security_code_hash=HASHER.hash(code, SALT),
        activation=Activation(ActivationState.INACTIVE, None),
    )


def run(station: Station | None, code: str, attempts: ThrottleState | None = None) -> Station:
    activated, event = activate(
        station, code, NOW, hasher=HASHER, throttle=POLICY, attempts=attempts
    )
    assert event.station_id == activated.id
    assert event.at == NOW
    return activated


@given(code=st.text(min_size=1, max_size=40).filter(str.strip))
def test_hash_verifies_only_the_same_code(code: str) -> None:
    encoded = HASHER.hash(code, SALT)
    assert HASHER.verify(code, encoded)
    assert not HASHER.verify(code + "x", encoded)


def test_hash_is_salted_and_self_describing() -> None:
    first = HASHER.hash("K7P2-9QXM", SALT)
    second = HASHER.hash("K7P2-9QXM", bytes(reversed(SALT)))
    assert first != second
    assert "K7P2" not in first
    assert first.startswith("pbkdf2_sha256$10$")
    # A hash made with another cost still verifies: the cost is read from the string.
    assert SecurityCodeHasher(iterations=99).verify("K7P2-9QXM", first)


def test_surrounding_whitespace_is_ignored() -> None:
    assert HASHER.verify("  K7P2-9QXM\n", HASHER.hash("K7P2-9QXM", SALT))


@pytest.mark.parametrize("stored", [None, "", "garbage", "pbkdf2_sha256$x$y$z"])
def test_missing_or_unreadable_hash_never_matches(stored: str | None) -> None:
    assert not HASHER.verify("anything", stored)


def test_short_salt_is_refused() -> None:
    with pytest.raises(ValueError, match="salt"):
        HASHER.hash("code", b"short")


def test_right_code_activates() -> None:
    station = run(imported(), "K7P2-9QXM")
    assert station.activation == Activation(ActivationState.ACTIVE, NOW)


def test_unknown_id_and_wrong_code_give_the_same_error() -> None:
    with pytest.raises(ActivationMismatch) as unknown:
        run(None, "K7P2-9QXM")
    with pytest.raises(ActivationMismatch) as wrong:
        run(imported(), "WRONG")
    assert str(unknown.value) == str(wrong.value)


def test_station_without_code_cannot_be_activated() -> None:
    with pytest.raises(ActivationMismatch):
        run(attrs.evolve(imported(), security_code_hash=None), "")


def test_active_station_with_right_code_is_already_activated() -> None:
    active = run(imported(), "K7P2-9QXM")
    with pytest.raises(AlreadyActivated, match="ST1010101"):
        run(active, "K7P2-9QXM")


def test_active_station_with_wrong_code_is_a_mismatch() -> None:
    # Saying "already activated" here would tell a prober that the ID exists.
    active = run(imported(), "K7P2-9QXM")
    with pytest.raises(ActivationMismatch):
        run(active, "WRONG")


def test_locked_station_is_throttled_before_the_code_is_checked() -> None:
    locked = ThrottleState(9, NOW, NOW + timedelta(seconds=90))
    with pytest.raises(ActivationThrottled) as info:
        run(imported(), "K7P2-9QXM", attempts=locked)
    assert info.value.retry_after_s == 90
    assert "90 s" in str(info.value)


def test_free_attempts_then_doubling_lockout() -> None:
    state: ThrottleState | None = None
    for _ in range(POLICY.free_attempts):
        state = POLICY.record_failure(state, NOW)
        assert POLICY.retry_after(state, NOW) is None
    lockouts = []
    for _ in range(3):
        state = POLICY.record_failure(state, NOW)
        retry = POLICY.retry_after(state, NOW)
        assert retry is not None
        lockouts.append(retry)
    assert lockouts == [30, 60, 120]
    assert state is not None
    assert POLICY.retry_after(state, NOW + timedelta(seconds=120)) is None


def test_lockout_is_capped() -> None:
    state = ThrottleState(1000, NOW)
    state = POLICY.record_failure(state, NOW)
    assert POLICY.retry_after(state, NOW) == POLICY.max_lockout.total_seconds()


def test_counting_starts_over_after_a_quiet_hour() -> None:
    state = ThrottleState(50, NOW - POLICY.reset_after)
    assert POLICY.record_failure(state, NOW).failures == 1


@given(
    gaps=st.lists(st.integers(min_value=0, max_value=7200), min_size=1, max_size=30),
)
def test_lockout_never_exceeds_the_cap_and_failures_grow_within_the_window(
    gaps: list[int],
) -> None:
    state: ThrottleState | None = None
    now = NOW
    for gap in gaps:
        now += timedelta(seconds=gap)
        previous = state
        state = POLICY.record_failure(state, now)
        retry = POLICY.retry_after(state, now) or 0.0
        assert 0 <= retry <= POLICY.max_lockout.total_seconds()
        if previous is not None and gap < POLICY.reset_after.total_seconds():
            assert state.failures == previous.failures + 1
        else:
            assert state.failures == 1

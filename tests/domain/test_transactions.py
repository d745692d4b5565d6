"""Transactions and authorisation: pure rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.transactions import (
    Authorization,
    AuthorizationStatus,
    IdToken,
    MeterSample,
    TransactionState,
    authorize,
    orphan_stop,
    record_meter_values,
    start_transaction,
    stop_transaction,
)

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def started(meter_start: int = 1000):
    return start_transaction(
        "ST1",
        "7",
        connector_id=1,
        id_tag="TAG",
        meter_start=meter_start,
        timestamp=NOW,
        authorization=Authorization(AuthorizationStatus.ACCEPTED),
    )


def test_unknown_token_is_invalid() -> None:
    assert authorize(None, NOW).status is AuthorizationStatus.INVALID


@pytest.mark.parametrize("status", list(AuthorizationStatus))
def test_token_status_is_kept_before_expiry(status: AuthorizationStatus) -> None:
    token = IdToken("TAG", status=status, expiry_date=NOW + timedelta(days=1), group_id="G")
    assert authorize(token, NOW) == Authorization(status, token.expiry_date, "G")


def test_accepted_token_past_its_expiry_is_expired() -> None:
    token = IdToken("TAG", expiry_date=NOW)
    assert authorize(token, NOW).status is AuthorizationStatus.EXPIRED
    blocked = IdToken("TAG", status=AuthorizationStatus.BLOCKED, expiry_date=NOW)
    assert authorize(blocked, NOW).status is AuthorizationStatus.BLOCKED


@pytest.mark.parametrize("bad", ["", "x" * 37])
def test_id_token_length(bad: str) -> None:
    with pytest.raises(ValueError, match="1 to 36"):
        IdToken(bad)


def test_start_and_stop() -> None:
    transaction = started()
    assert transaction.state is TransactionState.ACTIVE
    assert transaction.start_key == (1, "TAG", NOW, 1000)
    ended = stop_transaction(
        transaction,
        meter_stop=4500,
        timestamp=NOW + timedelta(hours=1),
        reason="Local",
        id_tag=None,
    )
    assert ended.state is TransactionState.ENDED
    assert ended.energy_wh == 3500
    # A retransmitted stop changes nothing.
    again = stop_transaction(ended, meter_stop=9999, timestamp=NOW, reason=None, id_tag=None)
    assert again == ended


def test_orphan_stop_is_recorded() -> None:
    orphan = orphan_stop("ST1", "99", meter_stop=10, timestamp=NOW, reason="Other", id_tag="T")
    assert orphan.orphan
    assert orphan.state is TransactionState.ENDED
    assert orphan.energy_wh is None


@given(
    readings=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(1000, 100_000)), min_size=1, max_size=20
    )
)
def test_meter_values_keep_the_highest_register_reading(readings: list[tuple[int, int]]) -> None:
    transaction = started(meter_start=1000)
    for offset, value in readings:
        samples = [MeterSample(NOW + timedelta(seconds=offset), float(value))]
        transaction = record_meter_values(transaction, samples)
    assert transaction.last_meter_wh == max(1000, *(v for _, v in readings))


def test_meter_values_in_kwh_and_per_phase() -> None:
    transaction = started(meter_start=1000)
    per_phase = MeterSample(NOW, 9.0, unit="kWh", phase="L1")
    total = MeterSample(NOW, 2.5, unit="kWh")
    power = MeterSample(NOW, 7000.0, measurand="Power.Active.Import", unit="W")
    updated = record_meter_values(transaction, [per_phase, total, power])
    assert updated.last_meter_wh == 2500
    assert record_meter_values(transaction, [power]) == transaction

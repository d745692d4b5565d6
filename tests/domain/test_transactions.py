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
    TransactionEventReport,
    TransactionEventType,
    TransactionState,
    apply_transaction_event,
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


# --- OCPP 2.0.1 transaction events -----------------------------------------------------------

E = TransactionEventType


def _energy(wh: int, minutes: int, context: str | None = None) -> MeterSample:
    return MeterSample(NOW + timedelta(minutes=minutes), float(wh), context=context)


def _event(
    event_type: TransactionEventType,
    seq_no: int,
    minutes: int,
    *samples: MeterSample,
    **extra: object,
) -> TransactionEventReport:
    return TransactionEventReport(
        transaction_id="tx-1",
        seq_no=seq_no,
        event_type=event_type,
        timestamp=NOW + timedelta(minutes=minutes),
        trigger_reason="MeterValuePeriodic",
        evse_id=1,
        connector_id=1,
        samples=samples,
        **extra,
    )


def _fold(events: list[TransactionEventReport]):
    current = None
    for event in events:
        current = apply_transaction_event("ST1", current, event)
    return current


def test_a_session_started_updated_ended() -> None:
    accepted = Authorization(AuthorizationStatus.ACCEPTED)
    begun = apply_transaction_event(
        "ST1",
        None,
        _event(E.STARTED, 0, 0, _energy(1000, 0, "Transaction.Begin"), id_token="TAG"),
        accepted,
    )
    assert (begun.state, begun.started_at, begun.meter_start, begun.id_tag) == (
        TransactionState.ACTIVE,
        NOW,
        1000,
        "TAG",
    )
    assert (begun.evse_id, begun.connector_id, begun.authorization) == (1, 1, accepted.status)
    updated = apply_transaction_event("ST1", begun, _event(E.UPDATED, 1, 10, _energy(2500, 10)))
    assert updated.energy_wh == 1500
    ended = apply_transaction_event(
        "ST1",
        updated,
        _event(E.ENDED, 2, 20, _energy(4000, 20, "Transaction.End"), stopped_reason="EVGone"),
    )
    assert (ended.state, ended.stopped_at, ended.meter_stop, ended.stop_reason) == (
        TransactionState.ENDED,
        NOW + timedelta(minutes=20),
        4000,
        "EVGone",
    )
    assert ended.energy_wh == 3000
    assert not ended.orphan


def test_ended_without_reason_is_local_and_a_second_end_changes_nothing() -> None:
    ended = _fold([_event(E.STARTED, 0, 0), _event(E.ENDED, 1, 5)])
    assert ended.stop_reason == "Local"
    assert ended.meter_stop is None
    assert apply_transaction_event("ST1", ended, _event(E.ENDED, 2, 9)) == ended


def test_updated_first_has_no_start_and_ended_first_is_an_orphan_until_started() -> None:
    updated = _fold([_event(E.UPDATED, 3, 3, _energy(500, 3))])
    assert (updated.state, updated.started_at, updated.orphan) == (
        TransactionState.ACTIVE,
        None,
        False,
    )
    orphan = _fold([_event(E.ENDED, 5, 9)])
    assert (orphan.state, orphan.orphan) == (TransactionState.ENDED, True)
    started = apply_transaction_event("ST1", orphan, _event(E.STARTED, 0, 0, id_token="T"))
    assert (started.orphan, started.started_at, started.id_tag) == (False, NOW, "T")


def test_the_started_token_wins_and_others_fill_in() -> None:
    late_token = _fold([_event(E.STARTED, 0, 0), _event(E.UPDATED, 1, 1, id_token="LATE")])
    assert late_token.id_tag == "LATE"
    started_token = _fold(
        [_event(E.UPDATED, 1, 1, id_token="OTHER"), _event(E.STARTED, 0, 0, id_token="FIRST")]
    )
    assert started_token.id_tag == "FIRST"


@st.composite
def session_events(draw: st.DrawFn) -> list[TransactionEventReport]:
    """A session's events as a station sends them (readings only grow), any subset."""
    meter = draw(st.integers(0, 10_000))
    events = [_event(E.STARTED, 0, 0, _energy(meter, 0, "Transaction.Begin"), id_token="TAG")]
    for seq_no in range(1, draw(st.integers(0, 4)) + 1):
        meter += draw(st.integers(0, 5_000))
        events.append(_event(E.UPDATED, seq_no, seq_no, _energy(meter, seq_no)))
    end = len(events)
    meter += draw(st.integers(0, 5_000))
    readings = draw(st.sampled_from([[], [_energy(meter, end, "Transaction.End")]]))
    events.append(_event(E.ENDED, end, end, *readings))
    return draw(st.lists(st.sampled_from(events), min_size=1, unique_by=lambda e: e.seq_no))


@given(session_events(), st.randoms(use_true_random=False))
def test_arrival_order_does_not_matter(events: list[TransactionEventReport], rnd) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    in_order = _fold(sorted(events, key=lambda e: e.seq_no))
    assert _fold(shuffled) == in_order


@given(session_events(), st.data())
def test_applying_an_event_again_changes_nothing(
    events: list[TransactionEventReport], data: st.DataObject
) -> None:
    folded = _fold(events)
    again = data.draw(st.sampled_from(events))
    assert apply_transaction_event("ST1", folded, again) == folded

"""The connector status state machine and the derivation rule (SPEC §4)."""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from evcharge_core.domain.events import (
    ConnectorStatusChanged,
    Event,
    StaleStatusReport,
    StatusAnomaly,
)
from evcharge_core.domain.model import Charger, Connector, ConnectorSpec, Station, StatusRecord
from evcharge_core.domain.status import (
    DEFAULT_SPEC,
    REPORTABLE_STATUSES,
    TRANSITIONS,
    USABILITY_ORDER,
    StatusReport,
    apply_status_report,
    charger_operational_status,
    charger_status,
    connector_effective_status,
    connector_operational_status,
    is_valid_transition,
    operational_status_of,
    station_operational_status,
    station_status,
)
from evcharge_core.domain.values import (
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    CurrentType,
    OperationalStatus,
    PowerType,
    Protocol,
    parse_code,
)
from evcharge_core.testing.strategies import stations

S = ConnectorStatus
OP = OperationalStatus
T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
AC = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2, ConnectorFormat.CABLE, PowerType.AC_1_PHASE, 230, 32
)
DC = ConnectorSpec(
    ConnectorStandard.IEC_62196_T2_COMBO, ConnectorFormat.CABLE, PowerType.DC, 800, 200
)
DOCS_STATUS = Path(__file__).resolve().parents[2] / "docs" / "status.md"


# --- helpers ---------------------------------------------------------------------------------


def ids(prefix: str = "new") -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter)}"


def no_ids() -> str:
    raise AssertionError("no object should have been created")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record(status: ConnectorStatus, minutes: float = 0) -> StatusRecord:
    return StatusRecord(status, at(minutes))


def connector(
    ocpp_id: int, status: ConnectorStatus | None = None, *, closed: bool = False
) -> Connector:
    return Connector(
        id=f"c{ocpp_id}",
        ocpp_id=ocpp_id,
        code=str(ocpp_id),
        name=f"Connector {ocpp_id}",
        standard=AC.standard,
        format=AC.format,
        power_type=AC.power_type,
        voltage=AC.voltage,
        amperage=AC.amperage,
        status=record(status) if status is not None else None,
        closed=closed,
    )


def charger(evse_id: int, *connectors: Connector, closed: bool = False) -> Charger:
    return Charger(
        id=f"ch{evse_id}",
        evse_id=evse_id,
        code=f"cp1-{evse_id}",
        name=f"Charger {evse_id}",
        connectors=connectors,
        closed=closed,
    )


def station(
    *chargers: Charger,
    protocol: Protocol | None = Protocol.OCPP16,
    specs: Iterable[ConnectorSpec] = (),
    station_status: ConnectorStatus | None = None,
    closed: bool = False,
) -> Station:
    return Station(
        id="CP-1",
        name="Depot",
        code="cp1",
        protocol=protocol,
        connector_specifications=tuple(specs),
        chargers=chargers,
        station_status=record(station_status) if station_status is not None else None,
        closed=closed,
    )


def report(
    ocpp_id: int,
    status: ConnectorStatus,
    minutes: float = 1,
    *,
    evse_id: int | None = None,
    error_code: str | None = None,
    info: str | None = None,
) -> StatusReport:
    return StatusReport(
        ocpp_id=ocpp_id,
        status=status,
        timestamp=at(minutes),
        evse_id=evse_id,
        error_code=error_code,
        info=info,
    )


def only_connector(s: Station) -> tuple[Charger, Connector]:
    [(ch, c)] = list(s.iter_connectors())
    return ch, c


def of_type(events: list[Event], kind: type[object]) -> list[Event]:
    return [e for e in events if isinstance(e, kind)]


def key(rec: StatusRecord) -> tuple[datetime, int, str, str]:
    """The ordering key, written out independently of the implementation."""
    return (rec.timestamp, USABILITY_ORDER.index(rec.status), rec.error_code or "", rec.info or "")


# --- the table -------------------------------------------------------------------------------

# OCPP 1.6 edition 2, section 4.9, written out once more as (row, allowed columns) so that a
# typo in TRANSITIONS cannot also be a typo here.
SPEC_ROWS = {
    "Available": "Preparing Charging SuspendedEV SuspendedEVSE Reserved Unavailable Faulted",
    "Preparing": "Available Charging SuspendedEV SuspendedEVSE Finishing Faulted",
    "Charging": "Available SuspendedEV SuspendedEVSE Finishing Unavailable Faulted",
    "SuspendedEV": "Available Charging SuspendedEVSE Finishing Unavailable Faulted",
    "SuspendedEVSE": "Available Charging SuspendedEV Finishing Unavailable Faulted",
    "Finishing": "Available Preparing Unavailable Faulted",
    "Reserved": "Available Preparing Unavailable Faulted",
    "Unavailable": "Available Preparing Charging SuspendedEV SuspendedEVSE Faulted",
    "Faulted": "Available Preparing Charging SuspendedEV SuspendedEVSE Finishing Reserved "
    "Unavailable",
}


def test_transitions_are_the_ocpp16_table() -> None:
    assert set(TRANSITIONS) == set(REPORTABLE_STATUSES) == set(S) - {S.CLOSED}
    assert {prev.value: {s.value for s in targets} for prev, targets in TRANSITIONS.items()} == {
        prev: set(row.split()) for prev, row in SPEC_ROWS.items()
    }
    for prev, targets in TRANSITIONS.items():
        assert prev not in targets
        assert S.CLOSED not in targets
    assert TRANSITIONS[S.FAULTED] == frozenset(REPORTABLE_STATUSES) - {S.FAULTED}


def test_transitions_cannot_be_mutated() -> None:
    with pytest.raises(TypeError):
        TRANSITIONS[S.AVAILABLE] = frozenset()  # type: ignore[index]


@pytest.mark.parametrize("previous", [*REPORTABLE_STATUSES, None])
@pytest.mark.parametrize("new", REPORTABLE_STATUSES)
def test_is_valid_transition(previous: ConnectorStatus | None, new: ConnectorStatus) -> None:
    expected = previous is None or previous is new or new in TRANSITIONS[previous]
    assert is_valid_transition(previous, new) is expected


@pytest.mark.parametrize("status", REPORTABLE_STATUSES)
def test_closed_is_not_a_station_transition(status: ConnectorStatus) -> None:
    assert not is_valid_transition(S.CLOSED, status)
    assert not is_valid_transition(status, S.CLOSED)
    assert is_valid_transition(S.CLOSED, S.CLOSED)


@pytest.mark.parametrize("previous", [None, *REPORTABLE_STATUSES])
@pytest.mark.parametrize("new", REPORTABLE_STATUSES)
def test_every_connector_transition(previous: ConnectorStatus | None, new: ConnectorStatus) -> None:
    """Walk the 9x9 table plus the first report: applied always, anomaly iff off-table."""
    before = station(charger(1, connector(1, previous)))
    after, events = apply_status_report(before, report(1, new), new_id=no_ids)

    _, c = only_connector(after)
    assert c.status == StatusRecord(new, at(1))
    off_table = previous is not None and previous is not new and new not in TRANSITIONS[previous]
    anomalies = of_type(events, StatusAnomaly)
    if off_table:
        assert previous is not None
        assert anomalies == [StatusAnomaly("CP-1", 1, previous, new, at(1))]
    else:
        assert anomalies == []
    changes = of_type(events, ConnectorStatusChanged)
    if previous is new:
        assert changes == []
    else:
        assert changes == [ConnectorStatusChanged("CP-1", 1, previous, new, at(1), "ch1", "c1")]
    assert events == changes + anomalies


@pytest.mark.parametrize("previous", [None, *REPORTABLE_STATUSES])
@pytest.mark.parametrize("new", REPORTABLE_STATUSES)
def test_every_station_transition(previous: ConnectorStatus | None, new: ConnectorStatus) -> None:
    """Connector 0 follows the same table."""
    before = station(charger(1, connector(1, S.AVAILABLE)), station_status=previous)
    after, events = apply_status_report(before, report(0, new), new_id=no_ids)

    assert after.station_status == StatusRecord(new, at(1))
    assert after.chargers == before.chargers
    off_table = previous is not None and previous is not new and new not in TRANSITIONS[previous]
    assert bool(of_type(events, StatusAnomaly)) is off_table
    expected_change = (
        [] if previous is new else [ConnectorStatusChanged("CP-1", 0, previous, new, at(1))]
    )
    assert of_type(events, ConnectorStatusChanged) == expected_change


# --- reports ---------------------------------------------------------------------------------


def test_report_validation() -> None:
    with pytest.raises(ValueError, match="cannot report"):
        report(1, S.CLOSED)
    with pytest.raises(ValueError, match="timezone-aware"):
        StatusReport(1, S.AVAILABLE, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="0 or more"):
        report(-1, S.AVAILABLE)
    with pytest.raises(TypeError, match="whole number"):
        report(True, S.AVAILABLE)  # noqa: FBT003
    with pytest.raises(ValueError, match="numbered from 1"):
        report(1, S.AVAILABLE, evse_id=0)
    with pytest.raises(ValueError, match="numbered from 1"):
        report(0, S.AVAILABLE, evse_id=1)
    assert report(0, S.FAULTED).ocpp_id == 0


def test_report_record_is_normalised() -> None:
    plus_two = timezone(timedelta(hours=2))
    rep = StatusReport(1, S.FAULTED, datetime(2026, 3, 1, 14, 0, tzinfo=plus_two), None, "", "")
    rec = rep.record()
    assert rec == StatusRecord(S.FAULTED, T0, None, None)
    assert rec.timestamp.tzinfo is UTC


# --- ordering --------------------------------------------------------------------------------


def test_older_report_is_ignored_and_reported_stale() -> None:
    before = station(charger(1, connector(1)))
    s, _ = apply_status_report(before, report(1, S.CHARGING, 10), new_id=no_ids)
    after, events = apply_status_report(s, report(1, S.AVAILABLE, 5), new_id=no_ids)
    assert after == s
    assert events == [StaleStatusReport("CP-1", 1, S.AVAILABLE, at(5), at(10))]


def test_stale_station_report() -> None:
    s = station(station_status=S.UNAVAILABLE)
    after, events = apply_status_report(s, report(0, S.AVAILABLE, -1), new_id=no_ids)
    assert after == s
    assert events == [StaleStatusReport("CP-1", 0, S.AVAILABLE, at(-1), T0)]


def test_same_timestamp_less_usable_wins_silently() -> None:
    s = station(charger(1, connector(1)))
    s, _ = apply_status_report(s, report(1, S.AVAILABLE, 3), new_id=no_ids)
    s, events = apply_status_report(s, report(1, S.FAULTED, 3), new_id=no_ids)
    assert only_connector(s)[1].status == StatusRecord(S.FAULTED, at(3))
    assert of_type(events, ConnectorStatusChanged)
    after, events = apply_status_report(s, report(1, S.AVAILABLE, 3), new_id=no_ids)
    assert (after, events) == (s, [])


def test_duplicate_report_changes_nothing() -> None:
    s = station(charger(1, connector(1)))
    rep = report(1, S.FAULTED, 3, error_code="GroundFailure", info="RCD")
    s, _ = apply_status_report(s, rep, new_id=no_ids)
    assert apply_status_report(s, rep, new_id=no_ids) == (s, [])


def test_newer_error_code_on_same_status_is_recorded_without_change_event() -> None:
    s = station(charger(1, connector(1, S.FAULTED)))
    after, events = apply_status_report(
        s, report(1, S.FAULTED, 1, error_code="OverVoltage"), new_id=no_ids
    )
    assert only_connector(after)[1].status == StatusRecord(S.FAULTED, at(1), "OverVoltage")
    assert events == []


def test_same_instant_in_another_time_zone_is_the_same_report() -> None:
    s = station(charger(1, connector(1)))
    s, _ = apply_status_report(s, report(1, S.CHARGING, 0), new_id=no_ids)
    later = StatusReport(1, S.CHARGING, T0.astimezone(timezone(timedelta(hours=-5))))
    assert apply_status_report(s, later, new_id=no_ids) == (s, [])


def normalised(s: Station) -> Station:
    """The station with charger and connector ids replaced by their OCPP numbering: ids come
    from ``new_id`` in arrival order, everything else must not depend on it."""
    return attrs.evolve(
        s,
        chargers=[
            attrs.evolve(
                ch,
                id=f"evse-{ch.evse_id}",
                connectors=[attrs.evolve(c, id=f"{ch.evse_id}/{c.ocpp_id}") for c in ch.connectors],
            )
            for ch in s.chargers
        ],
    )


TIME_ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-7))])


@st.composite
def reports_for(draw: st.DrawFn, s: Station, max_size: int = 12) -> list[StatusReport]:
    """Reports that fit the station's protocol, naming known and unknown connectors, with
    timestamps and statuses drawn from small pools so that ties happen."""
    moment = st.builds(
        lambda m, tz: (T0 + timedelta(minutes=m)).astimezone(tz), st.integers(0, 4), TIME_ZONES
    )
    known = sorted({(ch.evse_id, c.ocpp_id) for ch, c in s.iter_connectors()})
    if s.protocol is Protocol.OCPP201:
        evse = st.sampled_from(sorted({1, 2, *(e for e, _ in known)}))
        address = st.tuples(evse, st.integers(1, 2)) | st.sampled_from(known or [(1, 1)])
    else:
        numbers = st.integers(0, 3) | st.sampled_from([o for _, o in known] or [0])
        address = st.tuples(st.none(), numbers)
    one = st.builds(
        lambda addr, status, ts, code, info: StatusReport(
            ocpp_id=addr[1],
            status=status,
            timestamp=ts,
            evse_id=addr[0],
            error_code=code,
            info=info,
        ),
        address,
        st.sampled_from(REPORTABLE_STATUSES),
        moment,
        st.sampled_from([None, "", "NoError", "OtherError"]),
        st.sampled_from([None, "", "x"]),
    )
    return draw(st.lists(one, max_size=max_size))


def apply_all(s: Station, reports: Iterable[StatusReport]) -> tuple[Station, list[Event]]:
    events: list[Event] = []
    new_id = ids()
    for rep in reports:
        s, more = apply_status_report(s, rep, new_id=new_id)
        events.extend(more)
    return s, events


@given(st.data())
def test_final_state_depends_only_on_the_set_of_reports(data: st.DataObject) -> None:
    s = data.draw(stations(max_chargers=2, max_connectors=2))
    reports = data.draw(reports_for(s))
    shuffled = data.draw(st.permutations(reports))
    first, _ = apply_all(s, reports)
    second, _ = apply_all(s, shuffled)
    assert normalised(first) == normalised(second)


@given(st.data())
def test_stored_record_is_the_greatest_report(data: st.DataObject) -> None:
    s = data.draw(stations(max_chargers=2, max_connectors=2))
    reports = data.draw(reports_for(s))
    final, _ = apply_all(s, reports)

    def expected(initial: StatusRecord | None, sent: list[StatusRecord]) -> StatusRecord | None:
        candidates = [r for r in [initial, *sent] if r is not None]
        return max(candidates, key=key) if candidates else None

    station_reports = [r.record() for r in reports if r.ocpp_id == 0]
    assert final.station_status == expected(s.station_status, station_reports)
    initial = {(ch.evse_id, c.ocpp_id): c.status for ch, c in s.iter_connectors()}
    first_evse = min((ch.evse_id for ch in s.chargers), default=1)
    for ch, c in final.iter_connectors():
        sent = [
            r.record()
            for r in reports
            if r.ocpp_id == c.ocpp_id and (r.evse_id is None or r.evse_id == ch.evse_id)
        ]
        if (ch.evse_id, c.ocpp_id) not in initial and s.protocol is not Protocol.OCPP201:
            assert ch.evse_id == first_evse
        assert c.status == expected(initial.get((ch.evse_id, c.ocpp_id)), sent)


# --- connector 0 -----------------------------------------------------------------------------


@given(st.data())
def test_station_down_makes_every_connector_inoperative(data: st.DataObject) -> None:
    s = data.draw(stations(max_chargers=2, max_connectors=2))
    new_id = ids()
    for rep in data.draw(reports_for(s)):
        s, _ = apply_status_report(s, rep, new_id=new_id)
        down = s.station_status is not None and s.station_status.status in {
            S.UNAVAILABLE,
            S.FAULTED,
        }
        for ch, c in s.iter_connectors():
            effective = connector_effective_status(s, ch, c)
            own = connector_operational_status(s, ch, c)
            if effective is S.CLOSED:
                assert own is OP.CLOSED
            elif down:
                assert own is OP.INOPERATIVE
            else:
                assert own is operational_status_of(effective)
        if down:
            assert station_operational_status(s) is not OP.OPERATIVE
            assert all(charger_operational_status(s, ch) is not OP.OPERATIVE for ch in s.chargers)


def test_connector_zero_down_and_up_again() -> None:
    s = station(charger(1, connector(1, S.AVAILABLE), connector(2, S.CHARGING)))
    assert station_operational_status(s) is OP.OPERATIVE
    s, events = apply_status_report(s, report(0, S.FAULTED, 1), new_id=no_ids)
    assert events == [ConnectorStatusChanged("CP-1", 0, None, S.FAULTED, at(1))]
    assert [connector_operational_status(s, *pair) for pair in s.iter_connectors()] == [
        OP.INOPERATIVE,
        OP.INOPERATIVE,
    ]
    # Their own detailed statuses are kept; the station shows why it is down.
    assert [connector_effective_status(s, *pair) for pair in s.iter_connectors()] == [
        S.AVAILABLE,
        S.CHARGING,
    ]
    assert station_status(s) is S.FAULTED
    assert (station_operational_status(s), charger_status(s, s.chargers[0])) == (
        OP.INOPERATIVE,
        S.FAULTED,
    )
    s, _ = apply_status_report(s, report(0, S.AVAILABLE, 2), new_id=no_ids)
    assert station_operational_status(s) is OP.OPERATIVE
    assert station_status(s) is S.AVAILABLE


def test_station_without_connectors_follows_connector_zero() -> None:
    empty = station()
    assert (station_status(empty), station_operational_status(empty)) == (None, OP.OPERATIVE)
    for down in (S.UNAVAILABLE, S.FAULTED):
        s = station(charger(1), station_status=down)
        assert station_status(s) is down
        assert station_operational_status(s) is OP.INOPERATIVE
        assert charger_status(s, s.chargers[0]) is down
        assert charger_operational_status(s, s.chargers[0]) is OP.INOPERATIVE
    up = station(station_status=S.AVAILABLE)
    assert (station_status(up), station_operational_status(up)) == (None, OP.OPERATIVE)


# --- the derivation rule ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "expected", "operational"),
    [
        ((S.AVAILABLE, S.FAULTED), S.AVAILABLE, OP.OPERATIVE),
        ((S.FAULTED, S.CHARGING, S.RESERVED), S.CHARGING, OP.OPERATIVE),
        ((S.SUSPENDED_EV, S.SUSPENDED_EVSE), S.SUSPENDED_EVSE, OP.OPERATIVE),
        ((S.FAULTED, S.UNAVAILABLE), S.UNAVAILABLE, OP.INOPERATIVE),
        ((S.FAULTED,), S.FAULTED, OP.INOPERATIVE),
        ((S.FINISHING, S.RESERVED), S.FINISHING, OP.OPERATIVE),
        # A connector that never reported is presumed operative, less usable than any known
        # usable status: nothing can be said about the group's detailed status.
        ((None, S.FAULTED), None, OP.OPERATIVE),
        ((None, S.RESERVED), S.RESERVED, OP.OPERATIVE),
        ((None, None), None, OP.OPERATIVE),
    ],
)
def test_group_status_is_the_most_usable(
    statuses: tuple[ConnectorStatus | None, ...],
    expected: ConnectorStatus | None,
    operational: OperationalStatus,
) -> None:
    conns = [connector(i, st_) for i, st_ in enumerate(statuses, 1)]
    s = station(charger(1, *conns[:1]), charger(2, *conns[1:]))
    assert station_status(s) is expected
    assert station_operational_status(s) is operational
    assert charger_status(s, s.chargers[0]) is statuses[0]


def test_operational_status_of() -> None:
    assert operational_status_of(None) is OP.OPERATIVE
    assert operational_status_of(S.CLOSED) is OP.CLOSED
    for status in REPORTABLE_STATUSES:
        inoperative = status in {S.UNAVAILABLE, S.FAULTED}
        assert operational_status_of(status) is (OP.INOPERATIVE if inoperative else OP.OPERATIVE)


def test_closed_wins() -> None:
    s = station(
        charger(1, connector(1, S.FAULTED, closed=True), connector(2, S.AVAILABLE)),
        charger(3, connector(3, S.CHARGING), closed=True),
    )
    ch1, ch3 = s.chargers
    c1, _ = ch1.connectors
    assert connector_effective_status(s, ch1, c1) is S.CLOSED
    assert connector_operational_status(s, ch1, c1) is OP.CLOSED
    assert connector_effective_status(s, ch3, ch3.connectors[0]) is S.CLOSED
    assert (charger_status(s, ch3), charger_operational_status(s, ch3)) == (S.CLOSED, OP.CLOSED)
    assert (charger_status(s, ch1), charger_operational_status(s, ch1)) == (
        S.AVAILABLE,
        OP.OPERATIVE,
    )
    only_closed = attrs.evolve(s, chargers=[attrs.evolve(ch1, connectors=[c1]), ch3])
    assert station_status(only_closed) is S.CLOSED
    assert station_operational_status(only_closed) is OP.CLOSED
    whole = attrs.evolve(s, closed=True, station_status=record(S.FAULTED))
    assert station_status(whole) is S.CLOSED
    assert station_operational_status(whole) is OP.CLOSED
    assert all(
        connector_operational_status(whole, *pair) is OP.CLOSED for pair in whole.iter_connectors()
    )
    # Closed wins over a down station too.
    down = attrs.evolve(only_closed, station_status=record(S.UNAVAILABLE))
    assert connector_operational_status(down, down.chargers[0], c1) is OP.CLOSED
    assert station_operational_status(down) is OP.CLOSED


def test_offline_keeps_last_status() -> None:
    from evcharge_core.domain.model import Connection

    online = station(
        charger(1, connector(1, S.CHARGING), connector(2, S.FAULTED)),
        station_status=S.AVAILABLE,
    )
    online = attrs.evolve(online, connection=Connection(connected=True, connected_since=T0))
    offline = attrs.evolve(online, connection=Connection(connected=False, last_seen=at(5)))
    for s in (online, offline):
        assert [connector_effective_status(s, *p) for p in s.iter_connectors()] == [
            S.CHARGING,
            S.FAULTED,
        ]
        assert (station_status(s), station_operational_status(s)) == (S.CHARGING, OP.OPERATIVE)


# --- closed connectors -----------------------------------------------------------------------


def test_report_to_closed_connector_is_recorded_silently() -> None:
    s = station(charger(1, connector(1, S.AVAILABLE, closed=True)))
    s, events = apply_status_report(s, report(1, S.CHARGING, 1), new_id=no_ids)
    assert events == []
    s, events = apply_status_report(s, report(1, S.RESERVED, 2), new_id=no_ids)
    assert events == [StatusAnomaly("CP-1", 1, S.CHARGING, S.RESERVED, at(2))]
    ch, c = only_connector(s)
    assert c.status == StatusRecord(S.RESERVED, at(2))
    assert connector_effective_status(s, ch, c) is S.CLOSED
    reopened = attrs.evolve(ch, connectors=[attrs.evolve(c, closed=False)])
    assert connector_effective_status(s, reopened, reopened.connectors[0]) is S.RESERVED


def test_report_to_closed_station_is_recorded_silently() -> None:
    s = station(charger(1, connector(1, S.AVAILABLE)), closed=True)
    s, events = apply_status_report(s, report(0, S.FAULTED, 1), new_id=no_ids)
    s, more = apply_status_report(s, report(1, S.FAULTED, 1), new_id=no_ids)
    assert events + more == []
    assert s.station_status == StatusRecord(S.FAULTED, at(1))
    assert only_connector(s)[1].status == StatusRecord(S.FAULTED, at(1))


# --- connectors first seen at run time ---------------------------------------------------------


def test_ocpp16_first_connector_creates_charger_and_connector_with_default_spec() -> None:
    s = Station(id="AB*C=1@x", name="Depot", code="cp1", protocol=None)
    after, events = apply_status_report(s, report(3, S.PREPARING), new_id=ids())
    [ch] = after.chargers
    assert ch == Charger(
        id="new-1",
        evse_id=1,
        code="AB_C_1_x-1",
        name="Depot",
        current_type=CurrentType.AC,
        connectors=ch.connectors,
    )
    [c] = ch.connectors
    assert c == Connector(
        id="new-2",
        ocpp_id=3,
        code="3",
        name="Connector 3",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=16,
        status=StatusRecord(S.PREPARING, at(1)),
    )
    assert c.spec == DEFAULT_SPEC
    assert c.max_power_w == 11_040
    assert c.wattage_limit is None
    assert events == [
        ConnectorStatusChanged("AB*C=1@x", 3, None, S.PREPARING, at(1), "new-1", "new-2")
    ]


@pytest.mark.parametrize(("ocpp_id", "spec"), [(1, AC), (2, DC), (3, AC), (7, AC)])
def test_ocpp16_connectors_get_the_spec_mapped_by_connector_id(
    ocpp_id: int, spec: ConnectorSpec
) -> None:
    s = station(protocol=Protocol.OCPP16, specs=[AC, DC])
    after, _ = apply_status_report(s, report(ocpp_id, S.AVAILABLE), new_id=ids())
    ch, c = only_connector(after)
    assert c.spec == spec
    # One charger holds every connector of a 1.6 station: DC if any specification is.
    assert ch.current_type is CurrentType.DC


@pytest.mark.parametrize(
    ("specs", "current_type"),
    [
        ([AC], CurrentType.AC),
        ([AC, AC], CurrentType.AC),
        ([], CurrentType.AC),
        ([DC], CurrentType.DC),
    ],
)
def test_ocpp16_charger_current_type(specs: list[ConnectorSpec], current_type: CurrentType) -> None:
    after, _ = apply_status_report(station(specs=specs), report(2, S.AVAILABLE), new_id=ids())
    assert after.chargers[0].current_type is current_type


def test_ocpp16_new_connector_goes_into_the_first_charger_in_order() -> None:
    s = station(charger(5, connector(4, S.AVAILABLE)), charger(2, connector(2), connector(6)))
    after, events = apply_status_report(s, report(3, S.AVAILABLE), new_id=ids("x"))
    assert [ch.evse_id for ch in after.chargers] == [5, 2]
    assert [c.ocpp_id for c in after.chargers[1].connectors] == [2, 3, 6]
    assert after.chargers[0] == s.chargers[0]
    assert events == [ConnectorStatusChanged("CP-1", 3, None, S.AVAILABLE, at(1), "ch2", "x-1")]


def test_ocpp201_connector_creates_its_evse() -> None:
    s = station(
        charger(1, connector(1)),
        charger(3, connector(1)),
        protocol=Protocol.OCPP201,
        specs=[AC, DC, AC],
    )
    new_id = ids()
    after, events = apply_status_report(s, report(2, S.AVAILABLE, evse_id=2), new_id=new_id)
    assert [ch.evse_id for ch in after.chargers] == [1, 2, 3]
    ch = after.chargers[1]
    assert (ch.id, ch.code, ch.name, ch.current_type) == (
        "new-1",
        "CP-1-2",
        "Depot 2",
        CurrentType.DC,
    )
    [c] = ch.connectors
    assert (c.id, c.ocpp_id, c.code, c.name, c.spec) == ("new-2", 2, "2", "Connector 2", DC)
    assert events == [
        ConnectorStatusChanged("CP-1", 2, None, S.AVAILABLE, at(1), "new-1", "new-2", evse_id=2)
    ]
    # A second connector of an existing EVSE: the spec follows the EVSE ID, no new charger.
    again, _ = apply_status_report(after, report(1, S.FAULTED, evse_id=2), new_id=new_id)
    assert [c.ocpp_id for c in again.chargers[1].connectors] == [1, 2]
    assert again.chargers[1].connectors[0].id == "new-3"
    assert again.chargers[1].connectors[0].spec == DC
    # Same connector ID in another EVSE is another connector.
    third, _ = apply_status_report(again, report(1, S.CHARGING, 2, evse_id=3), new_id=no_ids)
    assert third.chargers[2].connectors[0].status == StatusRecord(S.CHARGING, at(2))
    assert third.chargers[0] == s.chargers[0]


def test_ocpp201_evse_beyond_the_specs_gets_the_first() -> None:
    s = station(protocol=Protocol.OCPP201, specs=[DC, AC])
    after, _ = apply_status_report(s, report(1, S.AVAILABLE, evse_id=9), new_id=ids())
    assert only_connector(after)[1].spec == DC


def test_generated_charger_code_is_a_valid_code() -> None:
    long_id = "@" * 48
    s = Station(id=long_id, name="Long", code="long", protocol=Protocol.OCPP201)
    after, _ = apply_status_report(s, report(1, S.AVAILABLE, evse_id=2**31 - 1), new_id=ids())
    code = after.chargers[0].code
    assert parse_code(code) == code
    assert len(code) <= 64
    assert code.endswith(f"-{2**31 - 1}")


def test_new_connector_in_closed_charger_is_closed() -> None:
    s = station(charger(1, closed=True))
    after, events = apply_status_report(s, report(1, S.AVAILABLE), new_id=ids())
    _, c = only_connector(after)
    assert c.status == StatusRecord(S.AVAILABLE, at(1))
    assert events == [ConnectorStatusChanged("CP-1", 1, None, S.CLOSED, at(1), "ch1", "new-1")]


@pytest.mark.parametrize("protocol", [None, Protocol.OCPP16])
def test_ocpp201_report_to_ocpp16_station_is_refused(protocol: Protocol | None) -> None:
    with pytest.raises(ValueError, match="evse_id=1"):
        apply_status_report(
            station(protocol=protocol), report(1, S.AVAILABLE, evse_id=1), new_id=no_ids
        )


def test_ocpp16_report_to_ocpp201_station_is_refused() -> None:
    s = station(protocol=Protocol.OCPP201)
    with pytest.raises(ValueError, match=r"ocpp2\.0\.1"):
        apply_status_report(s, report(1, S.AVAILABLE), new_id=no_ids)
    # Connector 0 is the station, whatever its protocol.
    after, _ = apply_status_report(s, report(0, S.UNAVAILABLE), new_id=no_ids)
    assert after.station_status == StatusRecord(S.UNAVAILABLE, at(1))


# --- the state machine, at random ------------------------------------------------------------


class StatusMachine(RuleBasedStateMachine):
    """Random reports, closes and reopens on a small OCPP 1.6 station."""

    def __init__(self) -> None:
        super().__init__()
        self.station = station(charger(2, connector(2)), specs=[AC, DC])
        self.new_id = ids()
        self.sent: dict[int, list[StatusRecord]] = {}

    def pairs(self) -> Iterator[tuple[Charger, Connector]]:
        return self.station.iter_connectors()

    def effective(self) -> dict[int, ConnectorStatus | None]:
        s = self.station
        result = {c.ocpp_id: connector_effective_status(s, ch, c) for ch, c in self.pairs()}
        if s.closed:
            result[0] = S.CLOSED
        elif s.station_status is not None:
            result[0] = s.station_status.status
        return result

    def stored(self, ocpp_id: int) -> StatusRecord | None:
        if ocpp_id == 0:
            return self.station.station_status
        return next((c.status for _, c in self.pairs() if c.ocpp_id == ocpp_id), None)

    @rule(
        ocpp_id=st.integers(0, 3),
        status=st.sampled_from(REPORTABLE_STATUSES),
        minute=st.integers(0, 6),
        error_code=st.sampled_from([None, "NoError", "OtherError"]),
    )
    def report(
        self, ocpp_id: int, status: ConnectorStatus, minute: int, error_code: str | None
    ) -> None:
        rep = report(ocpp_id, status, minute, error_code=error_code)
        previous_record = self.stored(ocpp_id)
        before = self.effective()
        self.station, events = apply_status_report(self.station, rep, new_id=self.new_id)
        self.sent.setdefault(ocpp_id, []).append(rep.record())
        after = self.effective()

        applied = previous_record is None or key(rep.record()) > key(previous_record)
        changes = of_type(events, ConnectorStatusChanged)
        if before.get(ocpp_id) == after.get(ocpp_id):
            assert changes == []
        else:
            assert applied
            [change] = changes
            assert isinstance(change, ConnectorStatusChanged)
            assert (change.ocpp_id, change.previous, change.status) == (
                ocpp_id,
                before.get(ocpp_id),
                after[ocpp_id],
            )
        stale = of_type(events, StaleStatusReport)
        assert bool(stale) is (
            previous_record is not None and rep.record().timestamp < previous_record.timestamp
        )
        anomalies = of_type(events, StatusAnomaly)
        assert bool(anomalies) is (
            applied
            and previous_record is not None
            and not is_valid_transition(previous_record.status, status)
        )

    def toggle_connector(self, ocpp_id: int, closed: bool) -> None:
        self.station = attrs.evolve(
            self.station,
            chargers=[
                attrs.evolve(
                    ch,
                    connectors=[
                        attrs.evolve(c, closed=closed) if c.ocpp_id == ocpp_id else c
                        for c in ch.connectors
                    ],
                )
                for ch in self.station.chargers
            ],
        )

    @rule(ocpp_id=st.integers(1, 3))
    def close_connector(self, ocpp_id: int) -> None:
        self.toggle_connector(ocpp_id, closed=True)

    @rule(ocpp_id=st.integers(1, 3))
    def reopen_connector(self, ocpp_id: int) -> None:
        self.toggle_connector(ocpp_id, closed=False)

    @precondition(lambda self: bool(self.station.chargers))
    @rule(closed=st.booleans())
    def close_or_reopen_charger(self, closed: bool) -> None:
        first, *rest = self.station.chargers
        self.station = attrs.evolve(
            self.station, chargers=[attrs.evolve(first, closed=closed), *rest]
        )

    @rule(closed=st.booleans())
    def close_or_reopen_station(self, closed: bool) -> None:
        self.station = attrs.evolve(self.station, closed=closed)

    @invariant()
    def effective_status_is_closed_iff_closed(self) -> None:
        s = self.station
        for ch, c in self.pairs():
            closed = s.closed or ch.closed or c.closed
            assert (connector_effective_status(s, ch, c) is S.CLOSED) is closed
            if not closed:
                assert connector_effective_status(s, ch, c) == (
                    c.status.status if c.status else None
                )

    @invariant()
    def stored_record_is_the_greatest_report(self) -> None:
        for ocpp_id, sent in self.sent.items():
            assert self.stored(ocpp_id) == max(sent, key=key)
        assert self.station.station_status == (
            max(self.sent[0], key=key) if 0 in self.sent else None
        )

    @invariant()
    def derived_statuses_agree(self) -> None:
        s = self.station
        own = [connector_operational_status(s, ch, c) for ch, c in self.pairs()]
        if s.closed:
            expected = OP.CLOSED
        elif OP.OPERATIVE in own:
            expected = OP.OPERATIVE
        elif OP.INOPERATIVE in own:
            expected = OP.INOPERATIVE
        elif own:
            expected = OP.CLOSED
        else:
            down = s.station_status is not None and s.station_status.status in {
                S.UNAVAILABLE,
                S.FAULTED,
            }
            expected = OP.INOPERATIVE if down else OP.OPERATIVE
        assert station_operational_status(s) is expected
        assert operational_status_of(station_status(s)) is expected
        for ch in s.chargers:
            assert operational_status_of(charger_status(s, ch)) is charger_operational_status(s, ch)
        # The station is as usable as its most usable charger.
        ranks = {status: rank for rank, status in enumerate(USABILITY_ORDER)}
        if not s.closed and all(c.status is not None for _, c in self.pairs()) and s.chargers:
            known = [charger_status(s, ch) for ch in s.chargers if ch.connectors]
            if known:
                assert station_status(s) is min(known, key=lambda x: ranks[x])  # type: ignore[index]


TestStatusMachine = StatusMachine.TestCase


# --- the docs --------------------------------------------------------------------------------


def docs_table() -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The transition table of docs/status.md: column names and (row name, cells)."""
    lines = DOCS_STATUS.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| From "))
    table: list[list[str]] = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    header, _rule, *rows = table
    columns = [re.sub(r"\s*\(\d\)$", "", name) for name in header[1:]]
    return columns, [(re.sub(r"^\*\*[A-I]\*\*\s*", "", row[0]), row[1:]) for row in rows]


def test_docs_table_is_the_transitions_table() -> None:
    columns, rows = docs_table()
    order = [s.value for s in REPORTABLE_STATUSES]
    assert columns == order
    assert [name for name, _ in rows] == order
    for row_index, (name, cells) in enumerate(rows):
        previous = S(name)
        assert len(cells) == len(columns)
        for column_index, cell in enumerate(cells):
            new = S(columns[column_index])
            label = f"{'ABCDEFGHI'[row_index]}{column_index + 1}"
            if new is previous:
                assert cell == "\N{EN DASH}", (name, columns[column_index])
            elif new in TRANSITIONS[previous]:
                assert cell == label, (name, columns[column_index])
            else:
                assert cell == "", (name, columns[column_index])


# --- OCPP 2.0.1 Occupied ---------------------------------------------------------------------


def occupied(minutes: float, evse_id: int = 1) -> StatusReport:
    return StatusReport(1, S.PREPARING, at(minutes), evse_id=evse_id, occupied=True)


def test_occupied_report_needs_the_preparing_status() -> None:
    with pytest.raises(ValueError, match="Preparing"):
        StatusReport(1, S.AVAILABLE, T0, evse_id=1, occupied=True)


@pytest.mark.parametrize("current", [None, S.AVAILABLE, S.RESERVED, S.UNAVAILABLE, S.FAULTED])
def test_occupied_is_preparing_unless_already_occupied(current: ConnectorStatus | None) -> None:
    s = station(charger(1, connector(1, current)), protocol=Protocol.OCPP201)
    after, _ = apply_status_report(s, occupied(1), new_id=no_ids)
    assert only_connector(after)[1].status == StatusRecord(S.PREPARING, at(1))


@pytest.mark.parametrize(
    "current", [S.PREPARING, S.CHARGING, S.SUSPENDED_EV, S.SUSPENDED_EVSE, S.FINISHING]
)
def test_occupied_confirms_an_occupied_status(current: ConnectorStatus) -> None:
    s = station(charger(1, connector(1, current)), protocol=Protocol.OCPP201)
    after, events = apply_status_report(s, occupied(1), new_id=no_ids)
    assert only_connector(after)[1].status == StatusRecord(current, at(1))
    assert events == []


def test_occupied_for_a_new_connector_creates_it_preparing() -> None:
    s = station(protocol=Protocol.OCPP201)
    after, _ = apply_status_report(s, occupied(1, evse_id=2), new_id=ids())
    [(ch, c)] = list(after.iter_connectors())
    assert (ch.evse_id, c.ocpp_id, c.status) == (2, 1, StatusRecord(S.PREPARING, at(1)))

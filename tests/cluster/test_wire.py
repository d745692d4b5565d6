"""What crosses between processes comes back as it left: command arguments and results,
every error of the command model, and events."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.cluster._wire import (
    decode_error,
    decode_event,
    decode_result,
    decode_value,
    encode_error,
    encode_event,
    encode_result,
    encode_value,
)
from evcharge_core.commands import ConfigurationEntry, ConfigurationResult, ReportResult
from evcharge_core.domain.events import (
    ConnectorStatusChanged,
    StationBooted,
    StationConnected,
    TransactionEnded,
)
from evcharge_core.domain.values import ConnectorStatus, RegistrationStatus
from evcharge_core.errors import (
    CommandTimeout,
    Conflict,
    InvalidInput,
    Issue,
    NotFound,
    StationCallError,
    StationNotConnected,
    StationProtocolError,
)

NOW = datetime(2026, 12, 7, 3, 0, tzinfo=UTC)


def _through_json(value: object) -> object:
    return json.loads(json.dumps(value))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text().filter(lambda k: k != "$dt"), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(json_values)
def test_values_round_trip(value: object) -> None:
    assert decode_value(_through_json(encode_value(value))) == value


def test_datetimes_in_arguments_round_trip() -> None:
    args = [1, "TAG", NOW, {"expiry": NOW}]
    assert decode_value(_through_json(encode_value(args))) == args


@pytest.mark.parametrize(
    "result",
    [
        "Accepted",
        {"status": "Accepted", "data": [1, 2]},
        ConfigurationResult(
            (ConfigurationEntry("A", "1", readonly=True), ConfigurationEntry("B", None, None)),
            ("C",),
            (("D", "Rejected"),),
        ),
        ReportResult("Accepted", 7),
    ],
)
def test_results_round_trip(result: object) -> None:
    assert decode_result(_through_json(encode_result(result))) == result


@pytest.mark.parametrize(
    "error",
    [
        StationNotConnected("S1"),
        CommandTimeout("S1", "Reset", 2.5),
        StationCallError("S1", "Reset", "NotSupported", "no", {"a": 1}),
        StationProtocolError("S1", "Reset", "TypeConstraintViolation", "bad", {"payload": 1}),
        InvalidInput([Issue("too long", field="key"), Issue("bad", line=2, column="C")]),
        NotFound("station", "S1"),
        Conflict("not for 1.6"),
    ],
)
def test_errors_round_trip(error: Exception) -> None:
    back = decode_error(_through_json(encode_error(error, "S1", "reset")), "S1", "reset")
    assert type(back) is type(error)
    assert str(back) == str(error)
    assert vars(back) == vars(error)


def test_an_unexpected_error_is_an_internal_call_error() -> None:
    message = _through_json(encode_error(RuntimeError("boom"), "S1", "reset"))
    back = decode_error(message, "S1", "reset")
    assert isinstance(back, StationCallError)
    assert back.code == "InternalError"
    assert "boom" in back.description


@pytest.mark.parametrize(
    "event",
    [
        StationConnected("S1", NOW, "ocpp1.6"),
        StationBooted("S1", NOW, RegistrationStatus.ACCEPTED),
        ConnectorStatusChanged("S1", 1, None, ConnectorStatus.CHARGING, NOW, evse_id=1),
        TransactionEnded("S1", "42", NOW, 1200, orphan=True),
    ],
)
def test_events_round_trip(event: object) -> None:
    assert decode_event(_through_json(encode_event(event))) == event  # type: ignore[arg-type]


def test_an_unknown_event_type_is_skipped() -> None:
    assert decode_event({"type": "FromTheFuture", "fields": {}}) is None

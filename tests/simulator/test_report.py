"""The run's report (``simulator._report``)."""

from __future__ import annotations

import json

from evcharge_core.simulator import Report, StationStats
from evcharge_core.simulator._report import answer_statuses


def stats(station_id: str, *, connected: bool = True) -> StationStats:
    result = StationStats(station_id)
    if connected:
        result.connections = 2
        result.disconnections = 1
        result.close_codes[1006] += 1
        result.boots["Accepted"] += 1
        result.boots["Pending"] += 1
        result.transactions_started = 3
        result.transactions_stopped = 2
        boot = result.action("BootNotification")
        boot.sent, boot.ok = 2, 2
        get = result.action("GetConfiguration")
        get.received, get.answered = 1, 1
        result.action("Foo").received = 1
        result.action("Foo").errors_sent = 1
        heartbeat = result.action("Heartbeat")
        heartbeat.sent, heartbeat.call_errors = 1, 1
        result.call_error_codes["SecurityError"] += 1
    else:
        result.refusals["HTTP 404: not found (unknown station ID or wrong URL path)"] += 3
    return result


def test_sums_over_stations() -> None:
    report = Report.collect(
        "ws://h/", 12.34567, [stats("A"), stats("B"), stats("C", connected=False)]
    )
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["stations"] == 3
    assert data["stations_connected"] == 2
    assert data["stations_accepted"] == 2
    assert data["duration"] == 12.346
    assert data["connections"] == 4
    assert data["close_codes"] == {"1006": 2}
    assert data["boots"] == {"Accepted": 2, "Pending": 2, "Rejected": 0}
    assert data["transactions"] == {"started": 6, "stopped": 4, "id_tags_rejected": 0}
    assert data["refusals"] == {"HTTP 404: not found (unknown station ID or wrong URL path)": 3}
    assert data["calls_answered"] == 4
    assert data["call_errors_received"] == {"SecurityError": 2}
    assert list(data["actions"]) == ["BootNotification", "Foo", "GetConfiguration", "Heartbeat"]
    assert data["actions"]["BootNotification"] == {
        "sent": 4,
        "ok": 4,
        "call_errors": 0,
        "timeouts": 0,
        "received": 0,
        "answered": 0,
        "errors_sent": 0,
    }
    assert report.exit_status == 0


def test_nobody_connected_is_a_failure() -> None:
    assert Report.collect("ws://h/", 1.0, [stats("A", connected=False)]).exit_status == 1


def test_render() -> None:
    text = Report.collect("ws://h/", 2.0, [stats("A"), stats("C", connected=False)]).render()
    lines = text.splitlines()
    assert lines[0] == "Simulated 2 station(s) against ws://h/ for 2.0 s"
    assert "  stations connected: 1/2, accepted: 1/2" in lines
    assert "  boots: 1 Accepted, 1 Pending, 0 Rejected" in lines
    assert "         3  HTTP 404: not found (unknown station ID or wrong URL path)" in lines
    assert "  CallErrors received: 1 SecurityError" in lines
    header = next(line for line in lines if line.startswith("Action"))
    assert header.split() == [
        "Action",
        "sent",
        "ok",
        "CallError",
        "timeout",
        "received",
        "answered",
        "CallError",
        "sent",
    ]
    assert next(line for line in lines if line.startswith("BootNotification")).split() == [
        "BootNotification",
        "2",
        "2",
        "0",
        "0",
        "0",
        "0",
        "0",
    ]
    assert lines[-1].split() == ["total", "3", "2", "1", "0", "2", "1", "1"]


def test_answers_and_charging_profiles() -> None:
    first, second = stats("A"), stats("B")
    first.count_answer("SetVariables", ["Accepted", "Rejected", "Accepted"])
    first.count_answer("Reset", ["Accepted"])
    first.count_answer("NotifyReport", [])
    second.count_answer("SetVariables", ["RebootRequired"])
    second.charging_profiles = [
        {"id": 1, "evse_id": 0, "purpose": "ChargingStationMaxProfile", "stack_level": 0},
        {"id": 2, "evse_id": 1, "purpose": "TxDefaultProfile", "stack_level": 1},
    ]
    report = Report.collect("ws://h/", 1.0, [first, second], protocol="ocpp2.0.1")
    data = report.to_dict()
    assert data["protocol"] == "ocpp2.0.1"
    assert data["answers"] == {
        "Reset": {"Accepted": 1},
        "SetVariables": {"Accepted": 2, "RebootRequired": 1, "Rejected": 1},
    }
    assert data["charging_profiles"] == {"B": second.charging_profiles}
    lines = report.render().splitlines()
    assert lines[1] == "  protocol: ocpp2.0.1"
    assert "    SetVariables: 2 Accepted, 1 RebootRequired, 1 Rejected" in lines
    assert (
        "  charging profiles installed at the end: 2 on 1 station(s) "
        "(1 ChargingStationMaxProfile, 1 TxDefaultProfile)"
    ) in lines


def test_answer_statuses() -> None:
    assert answer_statuses({"status": "Accepted", "statusInfo": {"reasonCode": "x"}}) == [
        "Accepted"
    ]
    assert answer_statuses(
        {"getVariableResult": [{"attributeStatus": "Accepted"}, {"attributeStatus": "Rejected"}]}
    ) == ["Accepted", "Rejected"]
    assert answer_statuses({"setVariableResult": [{"attributeStatus": "RebootRequired"}]}) == [
        "RebootRequired"
    ]
    assert answer_statuses({"configurationKey": []}) == []
    assert answer_statuses({}) == []

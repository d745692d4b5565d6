""":class:`~evcharge_core.ocpp201.Ocpp201Session` fed by hand, without sockets: the report
waiters, the message limits when the station will not say them, and the Pending gate's
allowances."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.adapters.websocket import SessionContext
from evcharge_core.charging import ChargingService
from evcharge_core.domain.device_model import DeviceVariable, VariableKey
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol, RegistrationStatus
from evcharge_core.ocpp201 import MessageLimits, Ocpp201Session, session_factory

from ..ocpp16.test_session_unit import Link
from .examples import VALID

T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


async def _session(
    registration: RegistrationStatus = RegistrationStatus.ACCEPTED,
) -> tuple[Ocpp201Session, Link, ChargingService]:
    station = Station(
        id="ST1",
        name="ST1",
        code="ST1",
        protocol=Protocol.OCPP201,
        registration_status=registration,
    )
    repository = InMemoryRepository()
    async with repository.transaction() as tx:
        await tx.stations.save(station)
    link = Link()
    context = SessionContext(station, Protocol.OCPP201, "ocpp2.0.1", link.send, link.close)
    charging = ChargingService(repository, clock=lambda: T0)
    session = session_factory(charging, default_timeout=5)(context)
    assert isinstance(session, Ocpp201Session)
    await session.on_open()
    return session, link, charging


def _report(request_id: int, seq_no: int, name: str, *, tbc: bool = False) -> str:
    payload = json.loads(json.dumps(VALID["NotifyReport"]))
    payload.update(requestId=request_id, seqNo=seq_no, tbc=tbc)
    payload["reportData"][0]["variable"]["name"] = name
    return json.dumps([2, f"r{seq_no}", "NotifyReport", payload])


def test_a_report_is_gathered_until_its_last_part() -> None:
    async def test() -> None:
        session, _, charging = await _session()
        report = session.expect_report(7)
        for seq_no, (tbc, name) in enumerate([(True, "A"), (True, "B"), (False, "C")]):
            assert not report.done()
            answer = json.loads(await session.on_message(_report(7, seq_no, name, tbc=tbc)) or "")
            assert answer[0] == 3
        data = await report
        assert [item["variable"]["name"] for item in data] == ["A", "B", "C"]
        # Reports of other requests do not feed it; all were stored.
        await session.on_message(_report(8, 0, "D"))
        assert len(await charging.device_model("ST1")) == 4
        other = session.expect_report(9)
        await session.on_close()
        assert other.cancelled()

    asyncio.run(test())


def test_limits_unknown_when_the_station_will_not_say() -> None:
    async def test() -> None:
        session, link, _ = await _session()
        asked = asyncio.create_task(session.message_limits("SetVariables", 5))
        for _ in range(2):
            frame = await link.next_sent()
            assert frame[2] == "GetVariables"
            assert len(frame[3]["getVariableData"]) == 1
            await session.on_message(json.dumps([4, frame[1], "NotSupported", "no", {}]))
        assert await asked == MessageLimits()
        # Asked once: the next read does not ask again.
        assert await session.message_limits("SetVariables", 5) == MessageLimits()
        assert len(link.sent) == 2

    asyncio.run(test())


def test_limits_come_from_the_stored_device_model_first() -> None:
    async def test() -> None:
        session, link, charging = await _session()
        key = VariableKey("DeviceDataCtrlr", "ItemsPerMessage", variable_instance="GetVariables")
        await charging.device_report("ST1", [DeviceVariable(key, T0, "3")])
        assert await session.message_limits("GetVariables", 5) == MessageLimits(3, None)
        assert link.sent == []

    asyncio.run(test())


def test_pending_allowances_are_what_this_connection_asked_for() -> None:
    async def test() -> None:
        session, link, _ = await _session(RegistrationStatus.PENDING)
        assert session.registration is RegistrationStatus.PENDING
        refused = json.loads(await session.on_message(_report(5, 0, "A")) or "")
        assert refused[2] == "SecurityError"

        async def answer_next(payload: dict[str, Any]) -> None:
            frame = await link.next_sent()
            await session.on_message(json.dumps([3, frame[1], payload]))

        responder = asyncio.create_task(answer_next({"status": "Accepted"}))
        await session.call("GetBaseReport", {"requestId": 5, "reportBase": "FullInventory"})
        await responder
        allowed = json.loads(await session.on_message(_report(5, 0, "A")) or "")
        assert allowed[0] == 3
        heartbeat = '[2,"h","Heartbeat",{}]'
        assert json.loads(await session.on_message(heartbeat) or "")[2] == "SecurityError"
        responder = asyncio.create_task(answer_next({"status": "Rejected"}))
        await session.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        await responder
        assert json.loads(await session.on_message(heartbeat) or "")[2] == "SecurityError"
        responder = asyncio.create_task(answer_next({"status": "Accepted"}))
        await session.call("TriggerMessage", {"requestedMessage": "Heartbeat"})
        await responder
        assert json.loads(await session.on_message(heartbeat) or "")[0] == 3

    asyncio.run(test())

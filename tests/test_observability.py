"""Metrics of OCPP messages and operator commands: what the OCPP 1.6 session and
:class:`~evcharge_core.commands.CommandService` tell their observer, the Prometheus observer
in the admin app's ``/metrics``, and the reference server's wiring."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.adapters.websocket import SessionContext
from evcharge_core.admin import create_app
from evcharge_core.charging import ChargingService
from evcharge_core.commands import CommandService
from evcharge_core.domain.model import Station
from evcharge_core.domain.values import Protocol
from evcharge_core.errors import CommandTimeout, StationCallError, StationNotConnected
from evcharge_core.observability import MessageObserver, NullObserver, PrometheusObserver
from evcharge_core.ocpp16 import Ocpp16Session, session_factory
from evcharge_core.serve import build_core
from evcharge_core.service import StationService

from .test_serve_admin import ADMIN, _in_process

TOKEN = "metrics-token"


class Recorder:
    """A :class:`MessageObserver` that remembers every call, durations apart."""

    def __init__(self) -> None:
        self.inbound_calls: list[tuple[str, str]] = []
        self.outbound_calls: list[tuple[str, str]] = []
        self.commands: list[str] = []
        self.seconds: list[float] = []

    def inbound(self, action: str, outcome: str, seconds: float) -> None:
        self.inbound_calls.append((action, outcome))
        self.seconds.append(seconds)

    def outbound(self, action: str, outcome: str, seconds: float) -> None:
        self.outbound_calls.append((action, outcome))
        self.seconds.append(seconds)

    def command(self, command: str, seconds: float) -> None:
        self.commands.append(command)
        self.seconds.append(seconds)


class Link:
    """The session's side of a fake connection: the frames it sent."""

    def __init__(self) -> None:
        self.sent: list[list[Any]] = []
        self.sent_event = asyncio.Event()

    async def send(self, text: str) -> None:
        self.sent.append(json.loads(text))
        self.sent_event.set()

    async def close(self, code: int, reason: str) -> None:
        pass

    async def next_sent(self) -> list[Any]:
        await asyncio.wait_for(self.sent_event.wait(), 5)
        self.sent_event.clear()
        return self.sent[-1]


class Sessions:
    """The gateway as :class:`CommandService` sees it: one live session."""

    def __init__(self, session: Ocpp16Session) -> None:
        self.live = session

    def session(self, station_id: str) -> object | None:
        return self.live if station_id == self.live.station_id else None

    async def disconnect(self, station_id: str) -> bool:
        return False


async def _session(observer: MessageObserver) -> tuple[Ocpp16Session, Link]:
    station = Station(id="ST1", name="ST1", code="ST1")
    repository = InMemoryRepository()
    async with repository.transaction() as tx:
        await tx.stations.save(station)
    link = Link()
    context = SessionContext(station, Protocol.OCPP16, "ocpp1.6", link.send, link.close)
    session = session_factory(ChargingService(repository), observer=observer)(context)
    assert isinstance(session, Ocpp16Session)
    await session.on_open()
    return session, link


def _code(answer: str | None) -> str:
    frame = json.loads(answer or "")
    assert frame[0] == 4, frame
    code = frame[2]
    assert isinstance(code, str)
    return code


# --- inbound -----------------------------------------------------------------------------------


def test_inbound_ok_and_call_error_outcomes() -> None:
    async def test() -> None:
        recorder = Recorder()
        session, _ = await _session(recorder)
        answer = json.loads(await session.on_message('[2,"1","Heartbeat",{}]') or "")
        assert answer[0] == 3
        bad_status = '[2,"2","StatusNotification",{"connectorId":"one"}]'
        violation = _code(await session.on_message(bad_status))
        refused = _code(await session.on_message('[2,"3","Reset",{"type":"Soft"}]'))
        assert refused == "NotSupported"
        assert recorder.inbound_calls == [
            ("Heartbeat", "ok"),
            ("StatusNotification", violation),
            ("Reset", "NotSupported"),
        ]
        assert violation.endswith("Violation")
        assert all(seconds >= 0 for seconds in recorder.seconds)

    asyncio.run(test())


def test_a_handler_failure_is_counted_with_its_call_error_code() -> None:
    async def test() -> None:
        recorder = Recorder()
        session, _ = await _session(recorder)

        async def broken(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("boom")

        session.charging.heartbeat = broken  # type: ignore[method-assign]
        assert _code(await session.on_message('[2,"1","Heartbeat",{}]')) == "InternalError"
        assert recorder.inbound_calls == [("Heartbeat", "InternalError")]

    asyncio.run(test())


def test_unknown_actions_and_garbage_share_one_label() -> None:
    async def test() -> None:
        recorder = Recorder()
        session, _ = await _session(recorder)
        garbage = "x" * 500
        frame = json.dumps([2, "1", garbage, {}])
        assert _code(await session.on_message(frame)) == "NotImplemented"
        assert _code(await session.on_message('[2,"2","FooBar",{}]')) == "NotImplemented"
        assert await session.on_message("not json at all") is None
        assert _code(await session.on_message('[2,"3"]')) == "FormationViolation"
        assert recorder.inbound_calls == [
            ("(unknown)", "NotImplemented"),
            ("(unknown)", "NotImplemented"),
            ("(unknown)", "(unanswered)"),
            ("(unknown)", "FormationViolation"),
        ]

    asyncio.run(test())


# --- outbound and commands -------------------------------------------------------------------


def test_command_answered_ok_is_counted_outbound_and_timed() -> None:
    async def test() -> None:
        recorder = Recorder()
        session, link = await _session(recorder)
        commands = CommandService(Sessions(session), observer=recorder)
        sent = asyncio.create_task(commands.reset("ST1", "Soft", timeout=5))
        frame = await link.next_sent()
        assert frame[2] == "Reset"
        assert await session.on_message(json.dumps([3, frame[1], {"status": "Accepted"}])) is None
        assert await sent == "Accepted"
        assert recorder.outbound_calls == [("Reset", "ok")]
        assert recorder.commands == ["reset"]
        assert recorder.inbound_calls == []  # answers are not inbound messages

    asyncio.run(test())


def test_command_timeout_is_counted_outbound_and_timed() -> None:
    async def test() -> None:
        recorder = Recorder()
        session, _ = await _session(recorder)
        commands = CommandService(Sessions(session), observer=recorder)
        with pytest.raises(CommandTimeout):
            await commands.unlock("ST1", 1, timeout=0.01)
        assert recorder.outbound_calls == [("UnlockConnector", "timeout")]
        assert recorder.commands == ["unlock"]

    asyncio.run(test())


def test_call_errors_and_disconnection_outbound() -> None:
    async def test() -> None:
        recorder = Recorder()
        session, link = await _session(recorder)
        commands = CommandService(Sessions(session), observer=recorder)
        for code in ("NotSupported", "SomethingTheStationMadeUp"):
            sent = asyncio.create_task(commands.reset("ST1", "Hard", timeout=5))
            frame = await link.next_sent()
            await session.on_message(json.dumps([4, frame[1], code, "", {}]))
            with pytest.raises(StationCallError):
                await sent
        sent = asyncio.create_task(commands.reset("ST1", "Hard", timeout=5))
        await link.next_sent()
        await session.on_close()
        with pytest.raises(StationNotConnected):
            await sent
        assert recorder.outbound_calls == [
            ("Reset", "NotSupported"),
            ("Reset", "(other)"),
            ("Reset", "disconnected"),
        ]
        with pytest.raises(StationNotConnected):  # nothing sent: not counted outbound
            await session.call("Reset", {"type": "Hard"})
        assert len(recorder.outbound_calls) == 3
        assert recorder.commands == ["reset"] * 3

    asyncio.run(test())


def test_observers_are_optional() -> None:
    async def test() -> None:
        session, _ = await _session(NullObserver())
        assert json.loads(await session.on_message('[2,"1","Heartbeat",{}]') or "")[0] == 3
        assert isinstance(CommandService(Sessions(session)).observer, NullObserver)
        assert isinstance(build_core(InMemoryRepository()).commands.observer, NullObserver)

    asyncio.run(test())


# --- Prometheus --------------------------------------------------------------------------------


def _samples(text: str) -> dict[str, float]:
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            samples[name] = float(value)
    return samples


def test_metrics_route_shows_the_prometheus_observer() -> None:
    registry = CollectorRegistry()
    observer = PrometheusObserver(registry)
    app = create_app(StationService(InMemoryRepository()), token=TOKEN, metrics=registry)

    async def exchange() -> str:
        session, _ = await _session(observer)
        await session.on_message('[2,"1","Heartbeat",{}]')
        await session.on_message('[2,"2","Heartbeat",{}]')
        await session.on_message('[2,"3","NoSuchThing",{}]')
        with pytest.raises(CommandTimeout):
            await CommandService(Sessions(session), observer=observer).reset(
                "ST1", "Soft", timeout=0.01
            )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin") as http:
            return (await http.get("/metrics")).text

    text = asyncio.run(exchange())
    samples = _samples(text)
    messages = "evcharge_ocpp_messages_total"
    assert samples[f'{messages}{{action="Heartbeat",direction="inbound",outcome="ok"}}'] == 2
    unknown = f'{messages}{{action="(unknown)",direction="inbound",outcome="NotImplemented"}}'
    assert samples[unknown] == 1
    assert samples[f'{messages}{{action="Reset",direction="outbound",outcome="timeout"}}'] == 1
    seconds = "evcharge_ocpp_message_seconds_count"
    assert samples[f'{seconds}{{action="Heartbeat",direction="inbound"}}'] == 2
    assert samples[f'{seconds}{{action="Reset",direction="outbound"}}'] == 1
    assert samples['evcharge_command_seconds_count{command="reset"}'] == 1
    assert "# TYPE evcharge_ocpp_message_seconds histogram" in text


def test_reference_server_metrics_show_commands(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--db", "memory://", "--host", "127.0.0.1", "--port", "0", "--admin-port", "0"]
    argv += ["--admin-token", TOKEN]

    async def check(printed: dict[str, str]) -> None:
        base = printed[ADMIN].removesuffix("api/")
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with httpx.AsyncClient(base_url=base, headers=auth, timeout=10) as http:
            assert (await http.post("/api/stations", json={"id": "ST1"})).status_code == 201
            reset = await http.post("/api/stations/ST1/reset", json={"type": "Soft"})
            assert reset.status_code == 409, reset.text  # not connected, but timed
            text = (await http.get("/metrics")).text
        assert "# TYPE evcharge_ocpp_messages_total counter" in text
        assert _samples(text)['evcharge_command_seconds_count{command="reset"}'] == 1

    status, _, err = asyncio.run(_in_process(capsys, argv, check))
    assert status == 0, err

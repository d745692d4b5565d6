"""The websocket gateway over real sockets on 127.0.0.1, and the connection service it calls.

Each test runs its own event loop (``asyncio.run``) with an in-memory repository and a
gateway listening on a free port.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from evcharge_core.adapters.memory import InMemoryRepository
from evcharge_core.adapters.websocket import (
    REPLACED_REASON,
    BadFrame,
    Frame,
    MessageType,
    NotImplementedSession,
    SessionContext,
    WebsocketGateway,
    call_error,
    parse_frame,
)
from evcharge_core.connections import ConnectionService
from evcharge_core.domain.credentials import hash_password
from evcharge_core.domain.model import Connection, Station
from evcharge_core.domain.values import Protocol
from evcharge_core.errors import NotFound, StorageError
from evcharge_core.ports import Repository, StationQuery, Transaction

PASSWORD = "correct-horse-battery"
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_station(station_id: str = "ST1", **changes: Any) -> Station:
    code = "".join(c if c.isalnum() else "-" for c in station_id)
    return Station(id=station_id, name=station_id, code=code, **changes)


async def store(repository: Repository, *stations: Station) -> None:
    async with repository.transaction() as tx:
        await tx.stations.save_many(stations)


async def load(repository: Repository, station_id: str = "ST1") -> Station:
    async with repository.transaction() as tx:
        station = await tx.stations.get(station_id)
    assert station is not None
    return station


@attrs.define
class Env:
    repository: InMemoryRepository
    clock: Clock
    connections: ConnectionService
    gateway: WebsocketGateway

    def url(self, path: str = "/ocpp/ST1") -> str:
        return f"ws://127.0.0.1:{self.gateway.port}{path}"

    def connect(
        self, path: str = "/ocpp/ST1", subprotocols: list[str] | None = None, **kwargs: Any
    ) -> connect:
        offered: Any = ["ocpp1.6"] if subprotocols is None else subprotocols
        return connect(self.url(path), subprotocols=offered, open_timeout=5, **kwargs)

    async def until_disconnected(self, station_id: str = "ST1") -> Station:
        """Wait until the gateway stored the end of the station's connection."""
        for _ in range(200):
            if station_id not in self.gateway.connected_station_ids():
                station = await load(self.repository, station_id)
                if not station.connection.connected:
                    return station
            await asyncio.sleep(0.01)
        raise AssertionError(f"{station_id} still connected")


@asynccontextmanager
async def running(*stations: Station, **gateway_options: Any) -> AsyncIterator[Env]:
    repository = InMemoryRepository()
    await store(repository, *stations)
    clock = Clock()
    connections = ConnectionService(repository, clock=clock)
    gateway = WebsocketGateway(connections, **gateway_options)
    async with gateway.serve("127.0.0.1", 0):
        yield Env(repository, clock, connections, gateway)


def run(test: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(test(), timeout=20))


async def refused(
    opening: AbstractAsyncContextManager[ClientConnection],
) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as info:
        async with opening:
            pass
    return info.value


async def call(ws: ClientConnection, frame: str | bytes) -> list[Any]:
    await ws.send(frame)
    answer = await asyncio.wait_for(ws.recv(), timeout=5)
    assert isinstance(answer, str)
    result: list[Any] = json.loads(answer)
    return result


# --- handshake -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/ocpp/NOPE",  # unknown station
        "/ocpp/CLOSED",  # closed by the operator
        "/other/ST1",  # wrong prefix
        "/ST1",
        "/ocpp/",  # empty id
        "/ocpp/ST1/",  # empty last segment
        "/ocpp/bad%3Aid",  # ':' is not allowed in a station id
        "/ocpp/ST%2F1",  # neither is an encoded '/'
        "/ocpp/%FF%FE",  # not UTF-8
    ],
)
def test_refused_with_404_and_no_websocket(path: str) -> None:
    async def test() -> None:
        async with running(make_station(), make_station("CLOSED", closed=True)) as env:
            error = await refused(env.connect(path))
            assert error.response.status_code == 404
            assert env.gateway.connected_station_ids() == frozenset()
            assert not (await load(env.repository)).connection.connected
            assert not (await load(env.repository, "CLOSED")).connection.connected

    run(test)


def test_station_id_is_the_last_segment_percent_decoded_query_ignored() -> None:
    async def test() -> None:
        async with running(make_station("A*B=C+D|E@F.G_H-I")) as env:
            path = "/ocpp/site7/A%2AB%3DC%2BD%7CE%40F.G_H-I?token=x"
            async with env.connect(path) as ws:
                assert ws.subprotocol == "ocpp1.6"
                assert env.gateway.connected_station_ids() == {"A*B=C+D|E@F.G_H-I"}

    run(test)


def test_configured_subprotocol_is_selected_else_400() -> None:
    async def test() -> None:
        async with running(make_station(protocol=Protocol.OCPP16)) as env:
            async with env.connect(subprotocols=["ocpp2.0.1", "ocpp1.6"]) as ws:
                assert ws.subprotocol == "ocpp1.6"
            error = await refused(env.connect(subprotocols=["ocpp2.0.1"]))
            assert error.response.status_code == 400
            assert b"offer ocpp1.6" in error.response.body
            error = await refused(env.connect(subprotocols=[]))
            assert error.response.status_code == 400

    run(test)


def test_subprotocol_token_is_echoed_as_offered() -> None:
    async def test() -> None:
        async with (
            running(make_station(protocol=Protocol.OCPP16)) as env,
            env.connect(subprotocols=["OCPP1.6"]) as ws,
        ):
            assert ws.subprotocol == "OCPP1.6"

    run(test)


def test_unset_protocol_records_the_newest_offered() -> None:
    async def test() -> None:
        async with running(make_station(protocol=None)) as env:
            async with env.connect(subprotocols=["ocpp1.6", "ocpp2.0.1"]) as ws:
                assert ws.subprotocol == "ocpp2.0.1"
                stored = await load(env.repository)
                assert stored.protocol is Protocol.OCPP201
                assert stored.connection.subprotocol is Protocol.OCPP201
            # Recorded: from now on the station must offer 2.0.1.
            await env.until_disconnected()
            error = await refused(env.connect(subprotocols=["ocpp1.6"]))
            assert error.response.status_code == 400

    run(test)


def test_basic_auth_401_then_success() -> None:
    station = make_station(
        security_profile=1, password_hash=hash_password(PASSWORD, b"0123456789abcdef")
    )

    async def test() -> None:
        async with running(station) as env:
            error = await refused(env.connect())
            assert error.response.status_code == 401
            assert error.response.headers["WWW-Authenticate"].startswith("Basic realm=")
            wrong = env.url().replace("ws://", "ws://ST1:wrong-password-wrong@")
            error = await refused(connect(wrong, subprotocols=["ocpp1.6"]))
            assert error.response.status_code == 401
            error = await refused(env.connect(additional_headers={"Authorization": "Basic !!"}))
            assert error.response.status_code == 401
            right = env.url().replace("ws://", f"ws://ST1:{PASSWORD}@")
            async with connect(right, subprotocols=["ocpp1.6"]) as ws:
                assert ws.subprotocol == "ocpp1.6"
                assert (await load(env.repository)).connection.connected

    run(test)


def test_profile_2_over_plain_ws_is_403() -> None:
    station = make_station(
        security_profile=2, password_hash=hash_password(PASSWORD, b"0123456789abcdef")
    )

    async def test() -> None:
        async with running(station) as env:
            right = env.url().replace("ws://", f"ws://ST1:{PASSWORD}@")
            error = await refused(connect(right, subprotocols=["ocpp1.6"]))
            assert error.response.status_code == 403

    run(test)


def test_malformed_subprotocol_header_is_400() -> None:
    async def test() -> None:
        async with running(make_station()) as env:
            opening = env.connect(
                subprotocols=[], additional_headers={"Sec-WebSocket-Protocol": "ocpp1.6,,;"}
            )
            error = await refused(opening)
            assert error.response.status_code == 400

    run(test)


class BrokenRepository:
    """A repository whose storage is gone."""

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        raise StorageError("disk on fire")

    async def close(self) -> None:
        pass


def test_storage_failure_during_the_handshake_is_503() -> None:
    async def test() -> None:
        gateway = WebsocketGateway(ConnectionService(BrokenRepository()))
        async with gateway.serve("127.0.0.1", 0):
            url = f"ws://127.0.0.1:{gateway.port}/ocpp/ST1"
            error = await refused(connect(url, subprotocols=["ocpp1.6"]))
            assert error.response.status_code == 503

    run(test)


# --- connection state ------------------------------------------------------------------------


def test_connected_then_disconnected_is_stored() -> None:
    async def test() -> None:
        async with running(make_station()) as env:
            async with env.connect() as ws:
                assert env.gateway.connected_station_ids() == {"ST1"}
                assert (await load(env.repository)).connection == Connection(
                    connected=True, connected_since=T0, last_seen=T0, subprotocol=Protocol.OCPP16
                )
                env.clock.advance(5)
                await call(ws, '[2,"1","Heartbeat",{}]')
            stored = await env.until_disconnected()
            # last_seen is the last frame's instant even though the throttle skipped its write
            assert stored.connection == Connection(
                connected=False,
                connected_since=None,
                last_seen=T0 + timedelta(seconds=5),
                subprotocol=Protocol.OCPP16,
            )
            assert env.gateway.connected_station_ids() == frozenset()

    run(test)


def test_second_connection_replaces_the_first() -> None:
    async def test() -> None:
        async with running(make_station()) as env:
            async with env.connect() as first:
                env.clock.advance(10)
                async with env.connect() as second:
                    with pytest.raises(ConnectionClosed):
                        await asyncio.wait_for(first.recv(), timeout=5)
                    assert first.close_code == 1000
                    assert first.close_reason == REPLACED_REASON
                    assert env.gateway.connected_station_ids() == {"ST1"}
                    # The first one's end did not mark the station disconnected.
                    await asyncio.sleep(0.05)
                    stored = await load(env.repository)
                    assert stored.connection.connected
                    assert stored.connection.connected_since == T0 + timedelta(seconds=10)
                    answer = await call(second, '[2,"7","Heartbeat",{}]')
                    assert answer[:3] == [4, "7", "NotImplemented"]
            await env.until_disconnected()

    run(test)


def test_close_says_going_away_and_stores_every_disconnection() -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        await store(repository, make_station("A"), make_station("B"))
        gateway = WebsocketGateway(ConnectionService(repository))
        await gateway.start("127.0.0.1", 0)
        base = f"ws://127.0.0.1:{gateway.port}/ocpp/"
        async with (
            connect(base + "A", subprotocols=["ocpp1.6"]) as a,
            connect(base + "B", subprotocols=["ocpp1.6"]) as b,
        ):
            await gateway.close()
            for ws in (a, b):
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1001
        for station_id in "AB":
            assert not (await load(repository, station_id)).connection.connected
        await gateway.close()  # idempotent

    run(test)


def test_disconnect_closes_the_station_connection() -> None:
    async def test() -> None:
        async with running(make_station()) as env:
            assert not await env.gateway.disconnect("ST1")
            async with env.connect() as ws:
                assert await env.gateway.disconnect("ST1")
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1000
            await env.until_disconnected()

    run(test)


def test_station_deleted_between_handshake_and_open_is_closed() -> None:
    async def test() -> None:
        async with running(make_station()) as env:

            async def delete_first(station_id: str, *args: Any, **kwargs: Any) -> Station:
                async with env.repository.transaction() as tx:
                    await tx.stations.delete(station_id)
                raise NotFound("station", station_id)

            env.connections.connected = delete_first  # type: ignore[method-assign]
            async with env.connect() as ws:
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1008

    run(test)


# --- frames ----------------------------------------------------------------------------------


def test_call_is_answered_not_implemented() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.connect() as ws:
            answer = await call(ws, '[2,"abc-1","BootNotification",{"chargePointVendor":"X"}]')
            assert answer == [
                4,
                "abc-1",
                "NotImplemented",
                "BootNotification is not implemented yet",
                {},
            ]

    run(test)


@pytest.mark.parametrize(
    ("protocol", "frame", "code"),
    [
        (Protocol.OCPP16, '[2,"m1","Heartbeat",{', "FormationViolation"),
        (Protocol.OCPP201, '[2,"m1","Heartbeat",{', "FormatViolation"),
        (Protocol.OCPP16, '[2,"m1","Heartbeat"]', "FormationViolation"),
        (Protocol.OCPP16, '[2,"m1",7,{}]', "FormationViolation"),
        (Protocol.OCPP16, '[2,"m1","Heartbeat",[]]', "FormationViolation"),
        (Protocol.OCPP16, '[9,"m1","Heartbeat",{}]', "ProtocolError"),
        (Protocol.OCPP201, '[9,"m1","Heartbeat",{}]', "MessageTypeNotSupported"),
        (Protocol.OCPP16, '["2","m1","Heartbeat",{}]', "ProtocolError"),
    ],
)
def test_malformed_frames_with_a_readable_id_get_a_call_error(
    protocol: Protocol, frame: str, code: str
) -> None:
    async def test() -> None:
        async with (
            running(make_station(protocol=protocol)) as env,
            env.connect(subprotocols=[protocol.value]) as ws,
        ):
            answer = await call(ws, frame)
            assert answer[:3] == [4, "m1", code]
            assert isinstance(answer[3], str)
            assert answer[4] == {}
            # The connection stays up.
            assert (await call(ws, '[2,"m2","Heartbeat",{}]'))[:2] == [4, "m2"]

    run(test)


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        "{",
        '{"a": 1}',
        "[]",
        "[2]",
        '[2, 17, "Heartbeat", {}]',
        '[3,"x",{}]',  # a CALLRESULT nobody waits for
        '[4,"x","GenericError","",{}]',
        '[3,"x"]',  # a broken CALLRESULT is logged, never answered
        "[" * 60_000,  # too deep for the JSON parser
        "",
    ],
)
def test_frames_without_a_readable_call_id_are_ignored(frame: str) -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.connect(max_size=None) as ws:
            await ws.send(frame)
            # The next answer is the one to the next CALL: nothing was sent in between.
            assert (await call(ws, '[2,"next","Heartbeat",{}]'))[:2] == [4, "next"]

    run(test)


def test_binary_frames_are_refused_politely() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.connect() as ws:
            answer = await call(ws, b'[2,"b1","Heartbeat",{}]')
            assert answer[:3] == [4, "b1", "FormationViolation"]
            assert "text frames" in answer[3]
            answer = await call(ws, b'[2,"b2","Heartbeat"')
            assert answer[:3] == [4, "b2", "FormationViolation"]
            await ws.send(b"\xff\x00 binary junk")
            assert (await call(ws, '[2,"next","Heartbeat",{}]'))[:2] == [4, "next"]

    run(test)


def test_oversized_message_closes_with_1009_and_stores_disconnection() -> None:
    async def test() -> None:
        async with running(make_station(), max_message_size=1024) as env:
            async with env.connect() as ws:
                await ws.send('[2,"big","DataTransfer",{"data":"' + "x" * 2048 + '"}]')
                with pytest.raises(ConnectionClosed):
                    await ws.recv()
                assert ws.close_code == 1009
            await env.until_disconnected()

    run(test)


def test_frames_update_last_seen_throttled() -> None:
    async def test() -> None:
        async with running(make_station()) as env, env.connect() as ws:
            env.clock.advance(30)
            await call(ws, '[2,"1","Heartbeat",{}]')
            assert (await load(env.repository)).connection.last_seen == T0  # throttled
            env.clock.advance(31)
            await call(ws, '[2,"2","Heartbeat",{}]')
            assert (await load(env.repository)).connection.last_seen == T0 + timedelta(seconds=61)

    run(test)


# --- sessions --------------------------------------------------------------------------------


class RecordingSession:
    """A session that echoes, to show the transport calls the plug-in as documented."""

    log: list[str] = []  # noqa: RUF012 - shared on purpose: the test reads it afterwards

    def __init__(self, context: SessionContext) -> None:
        self.context = context

    async def on_open(self) -> None:
        self.log.append(f"open {self.context.station_id} {self.context.protocol}")
        await self.context.send('[2,"csms-1","TriggerMessage",{"requestedMessage":"Heartbeat"}]')

    async def on_message(self, text: str) -> str | None:
        self.log.append(f"message {text}")
        if "boom" in text:
            raise RuntimeError("boom")
        return None if text.startswith("[3") else f"echo {text}"

    async def on_close(self) -> None:
        self.log.append("close")


def test_session_factory_plugs_in_and_failures_become_internal_error() -> None:
    async def test() -> None:
        RecordingSession.log.clear()
        async with running(make_station(), session_factory=RecordingSession) as env:
            async with env.connect() as ws:
                assert json.loads(await ws.recv())[:3] == [2, "csms-1", "TriggerMessage"]
                await ws.send('[3,"csms-1",{"status":"Accepted"}]')
                assert await call_text(ws, "hello") == "echo hello"
                answer = await call(ws, '[2,"m9","boom",{}]')
                assert answer[:3] == [4, "m9", "InternalError"]
                await ws.send('[2,"boom2"')  # raises too, but is no readable CALL: no answer
                assert await call_text(ws, "still here") == "echo still here"
            await env.until_disconnected()
        assert RecordingSession.log[0] == "open ST1 ocpp1.6"
        assert RecordingSession.log[1] == 'message [3,"csms-1",{"status":"Accepted"}]'
        assert RecordingSession.log[-1] == "close"

    run(test)


async def call_text(ws: ClientConnection, text: str) -> str:
    await ws.send(text)
    answer = await asyncio.wait_for(ws.recv(), timeout=5)
    assert isinstance(answer, str)
    return answer


# --- OCPP-J framing, pure --------------------------------------------------------------------


def test_parse_frame_reads_each_message_type() -> None:
    assert parse_frame('[2,"1","Authorize",{"idTag":"A"}]', Protocol.OCPP16) == Frame(
        MessageType.CALL, "1", {"idTag": "A"}, action="Authorize"
    )
    assert parse_frame('[3,"1",{"x":1}]', Protocol.OCPP16) == Frame(
        MessageType.CALL_RESULT, "1", {"x": 1}
    )
    assert parse_frame('[4,"1","GenericError","d",{"k":"v"}]', Protocol.OCPP201) == Frame(
        MessageType.CALL_ERROR, "1", {"k": "v"}, error_code="GenericError", error_description="d"
    )
    bad = parse_frame('[true,"1"]', Protocol.OCPP16)
    assert isinstance(bad, BadFrame)
    assert bad.reply is not None
    assert json.loads(bad.reply)[2] == "ProtocolError"


def test_call_error_is_compact_json() -> None:
    assert call_error("1", "NotImplemented", "no") == '[4,"1","NotImplemented","no",{}]'
    assert call_error("1", "X", "y", {"a": 1}) == '[4,"1","X","y",{"a":1}]'


def test_default_session_ignores_call_results() -> None:
    async def test() -> None:
        context = SessionContext(make_station(), Protocol.OCPP16, "ocpp1.6", _nothing, _nothing2)
        session = NotImplementedSession(context)
        await session.on_open()
        assert await session.on_message('[3,"1",{}]') is None
        assert await session.on_message('[4,"1","GenericError","",{}]') is None
        await session.on_close()

    run(test)


async def _nothing(_text: str) -> None:
    return None


async def _nothing2(_code: int, _reason: str) -> None:
    return None


# --- the connection service ------------------------------------------------------------------


def test_connection_service_life_cycle() -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        await store(repository, make_station(protocol=None))
        clock = Clock()
        service = ConnectionService(repository, clock=clock)
        decision = await service.check_handshake("ST1", ["ocpp1.6"], None, tls=False)
        assert decision.__class__.__name__ == "Accept"
        station = await service.connected("ST1", Protocol.OCPP16, record_protocol=True)
        assert station.protocol is Protocol.OCPP16
        assert station == await load(repository)
        clock.advance(59)
        assert not await service.seen("ST1")
        clock.advance(1)
        assert await service.seen("ST1")
        assert (await load(repository)).connection.last_seen == T0 + timedelta(seconds=60)
        clock.advance(10)
        assert not await service.seen("ST1")
        stored = await service.disconnected("ST1")
        assert stored is not None
        assert stored.connection == Connection(
            connected=False,
            connected_since=None,
            last_seen=T0 + timedelta(seconds=70),
            subprotocol=Protocol.OCPP16,
        )
        assert stored == await load(repository)

    run(test)


def test_connection_service_on_missing_stations() -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        service = ConnectionService(repository)
        refusal = await service.check_handshake("NOPE", ["ocpp1.6"], None, tls=False)
        assert getattr(refusal, "status", None) == 404
        with pytest.raises(NotFound):
            await service.connected("NOPE", Protocol.OCPP16, record_protocol=False)
        assert not await service.seen("NOPE")
        assert await service.disconnected("NOPE") is None

    run(test)


def test_record_protocol_does_not_override_an_operator_choice() -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        await store(repository, make_station(protocol=Protocol.OCPP16))
        service = ConnectionService(repository)
        station = await service.connected("ST1", Protocol.OCPP201, record_protocol=True)
        assert station.protocol is Protocol.OCPP16

    run(test)


@pytest.fixture
def many_connected() -> list[Station]:
    connection = Connection(connected=True, connected_since=T0, last_seen=T0)
    return [make_station(f"S{i:04}", connection=connection) for i in range(1203)]


def test_reset_connections_marks_every_station_disconnected(many_connected: list[Station]) -> None:
    async def test() -> None:
        repository = InMemoryRepository()
        await store(repository, *many_connected, make_station("IDLE"))
        service = ConnectionService(repository)
        assert await service.reset_connections() == 1203
        async with repository.transaction() as tx:
            page = await tx.stations.list(StationQuery(connected=True))
            assert page.total == 0
            sample = await tx.stations.get("S0042")
        assert sample is not None
        assert sample.connection == Connection(connected=False, last_seen=T0)
        assert await service.reset_connections() == 0

    run(test)


class FakeSSLObject:
    def __init__(self, cert: dict[str, Any]) -> None:
        self.cert = cert

    def getpeercert(self) -> dict[str, Any]:
        return self.cert


@pytest.mark.parametrize(
    ("cert", "cn"),
    [
        ({}, None),
        ({"subject": ((("countryName", "DE"),), (("commonName", "ST1"),))}, "ST1"),
        ({"subject": ((("organizationName", "X"),),)}, None),
        ({"subject": "garbage"}, None),
    ],
)
def test_client_certificate_cn(cert: dict[str, Any], cn: str | None) -> None:
    from evcharge_core.adapters.websocket import _client_cert_cn

    assert _client_cert_cn(None) is None
    assert _client_cert_cn(FakeSSLObject(cert)) == cn  # type: ignore[arg-type]

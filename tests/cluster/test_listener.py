"""The PostgreSQL bus's listening connection, dropped without a word (a firewall or NAT
forgetting an idle connection): the listener must notice and listen again, or the node
would hear nothing more, for good."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import pytest

from evcharge_core.cluster import LeaseStore, PostgresTransport
from evcharge_core.errors import StorageError
from tests import postgres
from tests.cluster.harness import until


@pytest.fixture
def db_url() -> Iterator[str]:
    url = postgres.create_database("evcharge_listener")
    yield url
    postgres.drop_database(url)


class Blackhole:
    """A TCP proxy to the database whose open connections can be frozen: nothing passes
    any more either way, and neither end is told (as after a firewall forgot them)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.frozen: set[asyncio.StreamWriter] = set()
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    def freeze(self) -> None:
        self.frozen |= self._open

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self._open |= {writer, up_writer}
        await asyncio.gather(
            self._pipe(reader, up_writer, writer),
            self._pipe(up_reader, writer, writer),
            return_exceptions=True,
        )

    async def _pipe(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, key: asyncio.StreamWriter
    ) -> None:
        while data := await reader.read(65536):
            if key in self.frozen:
                continue  # swallowed
            writer.write(data)
            await writer.drain()

    async def close(self) -> None:
        for writer in self._open:
            writer.close()
        if self._server is not None:
            self._server.close()


class Heard:
    def __init__(self) -> None:
        self.broadcasts: list[str] = []

    async def on_request(self, body: str) -> str:
        return body

    def on_message(self, body: str) -> None:
        pass

    def on_broadcast(self, body: str) -> None:
        self.broadcasts.append(body)


def test_a_listening_connection_dropped_silently_is_replaced(db_url: str) -> None:
    async def go() -> None:
        parts = urlsplit(db_url)
        proxy = Blackhole(parts.hostname or "127.0.0.1", parts.port or 5432)
        await proxy.start()
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = (userinfo + "@" if userinfo else "") + f"127.0.0.1:{proxy.port}"
        proxied = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
        leases = await LeaseStore.open(db_url, "a")  # sends go straight to the database
        transport = PostgresTransport(proxied, leases)
        transport.check_interval = 0.2
        transport.check_timeout = 0.5
        heard = Heard()
        try:
            await transport.start("a", heard)
            proxy.freeze()

            async def hears() -> bool:
                await leases.notify("evcharge_events", '{"k": "evt", "b": "hello"}')
                await asyncio.sleep(0.1)
                return "hello" in heard.broadcasts

            await until(hears, what="the listener to listen again")
        finally:
            await transport.close()
            await leases.close()
            with contextlib.suppress(Exception):
                await proxy.close()

    asyncio.run(go())


def test_a_listener_that_cannot_start_stops_trying(db_url: str) -> None:
    """start() gives up on a database it cannot LISTEN on; nothing keeps trying behind."""

    async def go() -> None:
        leases = await LeaseStore.open(db_url, "a")
        parts = urlsplit(db_url)
        missing = urlunsplit(
            (parts.scheme, parts.netloc, parts.path + "_missing", parts.query, parts.fragment)
        )
        transport = PostgresTransport(missing, leases)
        try:
            with pytest.raises(StorageError, match="LISTEN"):
                await transport.start("a", Heard())
            listener = transport._listener
            assert listener is not None
            assert listener.done()  # not connecting again every 5 s for ever
        finally:
            await transport.close()
            await leases.close()

    asyncio.run(go())

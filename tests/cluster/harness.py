"""Helpers of the cluster tests: the NATS server, raw stations, a TCP load balancer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

NATS_URL = os.environ.get("EVCHARGE_TEST_NATS", "nats://127.0.0.1:4222")


def require_nats() -> str:
    """The NATS URL; skip without a server (fail under ``EVCHARGE_REQUIRE_POSTGRES``, set in
    CI, where NATS always runs too)."""
    host, _, port = NATS_URL.removeprefix("nats://").partition(":")
    try:
        socket.create_connection((host, int(port or 4222)), timeout=3).close()
    except OSError as exc:
        message = f"no NATS server at {NATS_URL} ({exc}); start one or set EVCHARGE_TEST_NATS"
        if os.environ.get("EVCHARGE_REQUIRE_POSTGRES"):
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return NATS_URL


async def until(condition: Callable[[], Any], *, what: str, limit: float = 60.0) -> None:
    """Wait until ``condition()`` (sync or async) is true; fail after ``limit`` seconds
    (a bound against hanging, not a timing assertion)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        if loop.time() > deadline:
            raise AssertionError(f"still waiting for {what} after {limit:g} s")
        await asyncio.sleep(0.05)


class RawStation:
    """A websocket client speaking OCPP 1.6 by hand: it answers every CALL from the CSMS
    with ``answer(action, payload)`` (a payload, a ``(code, description)`` CallError, or
    ``None``: no answer at all)."""

    def __init__(
        self,
        url: str,
        answer: Callable[[str, dict[str, Any]], dict[str, Any] | tuple[str, str] | None],
    ) -> None:
        self.url = url
        self.answer = answer
        self.ws: ClientConnection | None = None
        self.closed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RawStation:
        self.ws = await connect(self.url, subprotocols=["ocpp1.6"])  # type: ignore[list-item]
        self._task = asyncio.get_running_loop().create_task(self._serve())
        return self

    async def _serve(self) -> None:
        assert self.ws is not None
        try:
            async for text in self.ws:
                frame = json.loads(text)
                if frame[0] != 2:
                    continue
                reply = self.answer(frame[2], frame[3])
                if reply is None:
                    continue
                if isinstance(reply, tuple):
                    await self.ws.send(json.dumps([4, frame[1], reply[0], reply[1], {}]))
                else:
                    await self.ws.send(json.dumps([3, frame[1], reply]))
        except Exception:
            pass
        finally:
            self.closed.set()

    async def __aexit__(self, *exc: object) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)


class Balancer:
    """A round-robin TCP load balancer on loopback, as HAProxy in ``mode tcp`` does: each
    new connection goes to the next backend that accepts it."""

    def __init__(self, backends: Sequence[tuple[str, int]]) -> None:
        self.backends = list(backends)
        self._next = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = None
        for _ in range(len(self.backends)):
            host, port = self.backends[self._next % len(self.backends)]
            self._next += 1
            try:
                upstream = await asyncio.open_connection(host, port)
                break
            except OSError:
                continue
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        self._writers.update((writer, up_writer))
        await asyncio.gather(
            self._pipe(reader, up_writer), self._pipe(up_reader, writer), return_exceptions=True
        )

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in self._writers:
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)


@contextlib.asynccontextmanager
async def balancer(backends: Sequence[tuple[str, int]]) -> AsyncIterator[Balancer]:
    lb = Balancer(backends)
    await lb.start()
    try:
        yield lb
    finally:
        await lb.close()

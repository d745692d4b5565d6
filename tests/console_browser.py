"""What the console's browser tests (and the screenshot script, ``docs/console_screenshots.py``)
share: the reference server in a subprocess, a simulated station in a thread, and Debian's
Chromium driven by Playwright.

Playwright drives the system browser (``/usr/bin/chromium``, or ``$EVCHARGE_CHROMIUM``):
``playwright install`` is never run, since it downloads a browser of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import random
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from evcharge_core.simulator import SimulatedStation, SimulationConfig

CHROMIUM = os.environ.get("EVCHARGE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
"""Flags for a machine without a display or internet: without the background-networking
ones, Chromium keeps trying (and failing) to reach Google's services."""

TOKEN = "console-browser-token"


class Server:
    """``python -m evcharge_core.serve`` on free loopback ports, with a SQLite database in
    ``directory``; its OCPP endpoint and the console's URL as it printed them."""

    def __init__(self, directory: Path, *flags: str) -> None:
        self.directory = directory
        self.log = directory / "server.log"
        env = dict(os.environ)
        env.pop("EVCHARGE_DB", None)
        env.pop("EVCHARGE_ADMIN_TOKEN", None)
        self._stderr: IO[str] = self.log.open("w")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "evcharge_core.serve",
                "--db",
                str(directory / "console.db"),
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--admin-port",
                "0",
                "--admin-token",
                TOKEN,
                *flags,
            ],
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            stdin=subprocess.DEVNULL,
            text=True,
            env=env,
        )
        lines: queue.Queue[str] = queue.Queue()
        self._reader = threading.Thread(target=self._read, args=(lines,), daemon=True)
        self._reader.start()
        printed: dict[str, str] = {}
        try:
            while "Web console" not in printed:
                line = lines.get(timeout=60)
                name, _, value = line.partition(": ")
                printed[name] = value.strip()
        except queue.Empty:
            self.stop()
            raise RuntimeError(f"the server did not start: {self.log.read_text()}") from None
        self.ocpp_url = printed["OCPP websocket endpoint"].removesuffix("{station_id}")
        self.url = printed["Web console"]
        assert self.url == printed["Admin API"].removesuffix("api/")

    def _read(self, lines: queue.Queue[str]) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            lines.put(line)

    def stop(self) -> None:
        """SIGTERM, as an operator's Ctrl-C; killed if it does not stop in time."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._stderr.close()
        if self.process.stdout is not None:
            self.process.stdout.close()


class StationThread:
    """A simulated OCPP 1.6 station (two connectors, no sessions of its own: remote starts
    only) in a thread with its own event loop. After a disconnect it waits 30 to 60 s
    before reconnecting, so that the console can be seen showing it offline."""

    def __init__(self, ocpp_url: str, station_id: str) -> None:
        self.config = SimulationConfig(
            url=ocpp_url,
            connectors=2,
            transactions=False,
            reconnect_delay=(60.0, 60.0),
            meter_interval=5,
            charge_time=(600.0, 600.0),
        )
        self.station_id = station_id
        self.station: SimulatedStation | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> StationThread:
        self._thread.start()
        if not self._ready.wait(timeout=10):
            raise RuntimeError("the simulated station did not start")
        return self

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.station = SimulatedStation(self.station_id, self.config, rng=random.Random(5))
        self._ready.set()
        await self.station.run(self._stop)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            with contextlib.suppress(RuntimeError):  # the loop closed already
                self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)


PRINT_STUB = """
window.__printed = 0;
window.print = () => { window.__printed += 1; };
"""
"""Installed before the console's scripts: counts print() calls instead of opening the
print dialog (the print stylesheet is checked with print media emulation)."""


@contextlib.contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright browser: Debian's Chromium, headless, with a fresh user data directory
    (Playwright makes a temporary one per launch)."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        raise RuntimeError(
            f"no Chromium at {CHROMIUM}: install Debian's (apt-get install -y chromium) or "
            "set EVCHARGE_CHROMIUM"
        )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=list(CHROMIUM_ARGS)
        )
        try:
            yield browser
        finally:
            browser.close()

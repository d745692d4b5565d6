"""Run many simulated stations at once: :func:`run_simulation`."""

from __future__ import annotations

import asyncio
import logging
import random

from ._config import SimulationConfig
from ._report import Report
from ._station import SimulatedStation

__all__ = ["make_stations", "run_simulation"]

logger = logging.getLogger("evcharge_core.simulator")


def make_stations(config: SimulationConfig) -> list[SimulatedStation]:
    """One :class:`SimulatedStation` per station ID, each with its own random generator
    (seeded from ``config.seed`` and the station ID when a seed is given)."""
    stations = []
    for station_id in config.station_ids():
        seeded = config.seed is not None
        rng = random.Random(f"{config.seed}:{station_id}") if seeded else None  # noqa: S311
        stations.append(SimulatedStation(station_id, config, rng=rng))
    return stations


async def _start(station: SimulatedStation, delay: float, stop: asyncio.Event) -> None:
    if delay > 0:
        try:
            await asyncio.wait_for(stop.wait(), delay)
        except TimeoutError:
            pass
        else:
            return
    await station.run(stop)


async def run_simulation(
    config: SimulationConfig,
    *,
    stop: asyncio.Event | None = None,
    stations: list[SimulatedStation] | None = None,
) -> Report:
    """Simulate ``config.stations`` stations until ``config.duration`` passes or ``stop`` is
    set, then stop them cleanly and report what they saw.

    ``stations`` may be given (from :func:`make_stations`) to look at them while they run.
    Cancelling the call cancels the stations at once (no clean stop).
    """
    loop = asyncio.get_running_loop()
    stop = stop if stop is not None else asyncio.Event()
    stations = stations if stations is not None else make_stations(config)
    started = loop.time()
    count = len(stations)
    tasks = [
        asyncio.create_task(_start(station, config.ramp_up * index / count, stop))
        for index, station in enumerate(stations)
    ]
    try:
        try:
            await asyncio.wait_for(stop.wait(), config.duration)
        except TimeoutError:
            stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        for task in tasks:
            task.cancel()
    for station, result in zip(stations, results, strict=True):
        if isinstance(result, BaseException):
            logger.error("%s: failed", station.station_id, exc_info=result)
    return Report.collect(config.url, loop.time() - started, (s.stats for s in stations))

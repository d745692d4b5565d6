"""Run many simulated stations at once: :func:`run_simulation`."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from ._config import SimulationConfig
from ._report import Report
from ._station import SimulatedStation, StationBase, _utcnow
from ._station201 import SimulatedStation201

__all__ = ["make_stations", "run_simulation", "simulated_station"]

logger = logging.getLogger("evcharge_core.simulator")


def simulated_station(
    station_id: str,
    config: SimulationConfig,
    *,
    rng: random.Random | None = None,
    clock: Callable[[], datetime] = _utcnow,
) -> SimulatedStation | SimulatedStation201:
    """A simulated station speaking ``config.protocol``: a :class:`SimulatedStation` for
    ``ocpp1.6``, a :class:`SimulatedStation201` for ``ocpp2.0.1``."""
    if config.protocol == SimulatedStation201.protocol:
        return SimulatedStation201(station_id, config, rng=rng, clock=clock)
    return SimulatedStation(station_id, config, rng=rng, clock=clock)


def make_stations(config: SimulationConfig) -> list[SimulatedStation | SimulatedStation201]:
    """One station per station ID (see :func:`simulated_station`), each with its own random
    generator (seeded from ``config.seed`` and the station ID when a seed is given)."""
    stations = []
    for station_id in config.station_ids():
        seeded = config.seed is not None
        rng = random.Random(f"{config.seed}:{station_id}") if seeded else None  # noqa: S311
        stations.append(simulated_station(station_id, config, rng=rng))
    return stations


async def _start(station: StationBase[Any], delay: float, stop: asyncio.Event) -> None:
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
    stations: Sequence[StationBase[Any]] | None = None,
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
    return Report.collect(
        config.url, loop.time() - started, (s.stats for s in stations), protocol=config.protocol
    )

"""Demo mode: ``python -m evcharge_core.serve --demo``.

A newcomer gets a live system within seconds: :func:`seed_demo` stores demo areas, stations,
chargers, connectors and id tokens, and :class:`Demo` runs simulated OCPP 1.6J stations
(:mod:`evcharge_core.simulator`) in the server's own process, connected to its own OCPP
endpoint, with drivers arriving, charging and leaving on their own.

**What is seeded** (:data:`DEMO_AREAS`, :func:`demo_stations`, :data:`DEMO_ID_TOKENS`):

* three areas in Oslo: two public sites and a private depot whose private group is the
  driver ``fleet-driver`` and the id token group ``FLEET``;
* four active OCPP 1.6 stations ``DEMO-1`` .. ``DEMO-4`` with two connectors each (OCPP
  connector ids 1 and 2, as the simulated stations report them), laid out so every QR code
  rule shows: ``DEMO-1`` has one charger with two connectors (a QR code per connector),
  ``DEMO-2`` two single-connector chargers, ``DEMO-3`` a DC fast charger (CCS2 and
  CHAdeMO, 50 kW), ``DEMO-4`` an invisible station in the private depot;
* id tokens: ``SIMTAG`` (what simulated drivers present), ``DEMO-CARD``, ``FLEET-CARD``
  (group ``FLEET``) and a blocked ``DEMO-BLOCKED``.

Seeding is idempotent: what exists already (by id) is left as it is, whatever an operator
changed since, so a second start neither duplicates nor fails, and a demo database can be
reused. The seeded ids are fixed (``demo-...``), so they are easy to spot and delete.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Final

import attrs

from .charging import ChargingService
from .domain.model import Area, BootConfiguration, Charger, Connector, Station
from .domain.transactions import AuthorizationStatus, IdToken
from .domain.values import ConnectorFormat, ConnectorStandard, CurrentType, PowerType, Protocol
from .service import StationService
from .simulator import (
    Report,
    SimulatedStation,
    SimulatedStation201,
    SimulationConfig,
    make_stations,
    run_simulation,
)

__all__ = [
    "DEMO_AREAS",
    "DEMO_ID_TOKENS",
    "DEMO_STATION_PREFIX",
    "Demo",
    "DemoSeed",
    "demo_stations",
    "seed_demo",
]

logger = logging.getLogger("evcharge_core.demo")

DEMO_STATION_PREFIX: Final = "DEMO-"
DEMO_STATION_COUNT: Final = 4
_CONNECTORS_PER_STATION: Final = 2

DEMO_AREAS: Final = (
    Area(
        id="demo-oslo-centre",
        name="Oslo Centre",
        latitude=59.9127,
        longitude=10.7461,
        address="Rådhusplassen 1, 0037 Oslo",
        output_limit_a=125,
        time_zone="Europe/Oslo",
    ),
    Area(
        id="demo-bjorvika",
        name="Bjørvika",
        latitude=59.9075,
        longitude=10.7531,
        address="Operagata 1, 0150 Oslo",
        time_zone="Europe/Oslo",
    ),
    Area(
        id="demo-fleet-depot",
        name="Fleet depot (private)",
        latitude=59.9290,
        longitude=10.7890,
        # mypy's attrs plugin types the frozenset converter's argument with an unbound
        # type variable; the value is a frozenset of strings.
        private_group=frozenset({"fleet-driver", "FLEET"}),  # type: ignore[arg-type]
        time_zone="Europe/Oslo",
    ),
)

DEMO_ID_TOKENS: Final = (
    IdToken("SIMTAG"),
    IdToken("DEMO-CARD"),
    IdToken("FLEET-CARD", group_id="FLEET"),
    IdToken("DEMO-BLOCKED", status=AuthorizationStatus.BLOCKED),
)


def _connector(  # noqa: PLR0917 - one argument per column of the table in demo_stations
    station: str,
    ocpp_id: int,
    standard: ConnectorStandard,
    power_type: PowerType,
    voltage: int,
    amperage: int,
    *,
    fmt: ConnectorFormat = ConnectorFormat.SOCKET,
) -> Connector:
    return Connector(
        id=f"demo-{station.lower()}-k{ocpp_id}",
        ocpp_id=ocpp_id,
        code=str(ocpp_id),
        name=f"{standard.value} {ocpp_id}",
        standard=standard,
        format=fmt,
        power_type=power_type,
        voltage=voltage,
        amperage=amperage,
    )


def _charger(
    station: str,
    evse_id: int,
    name: str,
    connectors: Sequence[Connector],
    current_type: CurrentType = CurrentType.AC,
) -> Charger:
    return Charger(
        id=f"demo-{station.lower()}-c{evse_id}",
        evse_id=evse_id,
        code=f"{station}-{evse_id}",
        name=name,
        current_type=current_type,
        reservable=True,
        connectors=tuple(connectors),
    )


def demo_stations() -> tuple[Station, ...]:
    """The demo stations (see the module docstring), each as an operator would create it."""
    t2 = ConnectorStandard.IEC_62196_T2
    three, dc = PowerType.AC_3_PHASE, PowerType.DC
    cable = ConnectorFormat.CABLE

    def station(number: int, name: str, area: str, chargers: Sequence[Charger]) -> Station:
        station_id = f"{DEMO_STATION_PREFIX}{number}"
        return Station(
            id=station_id,
            name=name,
            code=station_id,
            protocol=Protocol.OCPP16,
            area_id=area,
            boot_configuration=BootConfiguration(trigger_status_notification=True),
            chargers=tuple(chargers),
        )

    return (
        station(1, "City Hall", "demo-oslo-centre", [
            _charger("DEMO-1", 1, "City Hall twin", [
                _connector("DEMO-1", 1, t2, three, 230, 16),
                _connector("DEMO-1", 2, t2, three, 230, 32),
            ]),
        ]),
        station(2, "Opera", "demo-bjorvika", [
            _charger("DEMO-2", 1, "Opera left", [_connector("DEMO-2", 1, t2, three, 230, 16)]),
            _charger("DEMO-2", 2, "Opera right", [_connector("DEMO-2", 2, t2, three, 230, 32)]),
        ]),
        station(3, "Harbour fast charger", "demo-bjorvika", [
            _charger("DEMO-3", 1, "Harbour DC", [
                _connector("DEMO-3", 1, ConnectorStandard.IEC_62196_T2_COMBO, dc, 400, 125,
                           fmt=cable),
                _connector("DEMO-3", 2, ConnectorStandard.CHADEMO, dc, 400, 125, fmt=cable),
            ], CurrentType.DC),
        ]),
        attrs.evolve(
            station(4, "Fleet depot", "demo-fleet-depot", [
                _charger("DEMO-4", 1, "Depot bay 1", [_connector("DEMO-4", 1, t2, three, 230, 16)]),
                _charger("DEMO-4", 2, "Depot bay 2", [_connector("DEMO-4", 2, t2, three, 230, 16)]),
            ]),
            visible=False,
        ),
    )  # fmt: skip


@attrs.frozen
class DemoSeed:
    """What :func:`seed_demo` stored this time (ids); empty on a second run."""

    areas: tuple[str, ...]
    stations: tuple[str, ...]
    id_tokens: tuple[str, ...]


async def seed_demo(stations: StationService, charging: ChargingService) -> DemoSeed:
    """Store the demo data that is missing (by id), in one transaction; see the module
    docstring. Returns what was added."""
    added_areas: list[str] = []
    added_stations: list[Station] = []
    added_tokens: list[str] = []
    async with stations.repository.transaction() as tx:
        for area in DEMO_AREAS:
            if await tx.areas.get(area.id) is None:
                await tx.areas.save(area)
                added_areas.append(area.id)
        wanted = demo_stations()
        existing = await tx.stations.get_many([s.id for s in wanted])
        added_stations = [s for s in wanted if s.id not in existing]
        await tx.stations.save_many(added_stations)
        for token in DEMO_ID_TOKENS:
            if await tx.id_tokens.get(token.id_token) is None:
                await tx.id_tokens.save(token)
                added_tokens.append(token.id_token)
    return DemoSeed(tuple(added_areas), tuple(s.id for s in added_stations), tuple(added_tokens))


def demo_config(url: str) -> SimulationConfig:
    """The simulation of the demo stations against ``url`` (the server's OCPP endpoint):
    drivers arrive every 5 to 40 s per connector and charge for 20 to 120 s, with meter
    values every 10 s, so that a console shows sessions coming and going at once."""
    return SimulationConfig(
        url=url,
        stations=DEMO_STATION_COUNT,
        id_prefix=DEMO_STATION_PREFIX,
        id_start=1,
        connectors=_CONNECTORS_PER_STATION,
        think_time=(5.0, 40.0),
        charge_time=(20.0, 120.0),
        unplug_time=(2.0, 8.0),
        meter_interval=10,
        reconnect_delay=(0.5, 5.0),
        shutdown_grace=2.0,
        ramp_up=1.0,
    )


class Demo:
    """The simulated demo stations, running in the current event loop until :meth:`stop`."""

    def __init__(self, url: str) -> None:
        self.config = demo_config(url)
        self.stations: list[SimulatedStation | SimulatedStation201] = make_stations(self.config)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[Report] | None = None

    def start(self) -> None:
        """Start the stations (they connect, boot and charge on their own)."""
        self._task = asyncio.create_task(
            run_simulation(self.config, stop=self._stop, stations=self.stations)
        )

    async def stop(self) -> None:
        """Stop the stations: running sessions are stopped, connections closed cleanly."""
        if self._task is None:
            return
        self._stop.set()
        with contextlib.suppress(Exception):
            report = await asyncio.wait_for(
                asyncio.shield(self._task), self.config.shutdown_grace + 5
            )
            logger.info("demo stations stopped: %s", report.render().splitlines()[0])
        if not self._task.done():
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

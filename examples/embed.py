"""Embedding evcharge_core in your own asyncio service: a runnable example.

Wires the core on an in-memory repository, subscribes to its events, serves OCPP on a free
port, lets one simulated station boot and charge for a few seconds, reads its configuration
through the operator command API, and shuts down. Run it with::

    python examples/embed.py
"""

from __future__ import annotations

import asyncio

from evcharge_core.bootstrap import open_repository
from evcharge_core.domain.events import Event
from evcharge_core.domain.transactions import IdToken
from evcharge_core.serve import build_core
from evcharge_core.simulator import SimulationConfig, run_simulation


async def main() -> None:
    repository = await open_repository("memory://")  # or a path, or your own adapter
    core = build_core(repository, heartbeat_interval_s=60)

    def on_event(event: Event) -> None:  # called synchronously; schedule async work yourself
        print("event:", type(event).__name__, getattr(event, "station_id", ""))

    unsubscribe = core.bus.subscribe(on_event)
    await core.stations.create_station({"id": "DEPOT-1", "protocol": "ocpp1.6"})
    await core.charging.save_id_token(IdToken("SIMTAG"))  # the simulator's default id tag

    await core.gateway.start("127.0.0.1", 0)
    url = f"ws://127.0.0.1:{core.gateway.port}/ocpp/"
    config = SimulationConfig(
        url=url,
        stations=1,
        id_prefix="DEPOT-",
        id_start=1,
        duration=6.0,
        meter_interval=1,
        think_time=(0.5, 1.0),
        charge_time=(2.0, 3.0),
    )
    simulation = asyncio.create_task(run_simulation(config))

    await asyncio.sleep(2)  # let it boot and report
    result = await core.commands.get_configuration("DEPOT-1", ["HeartbeatInterval"])
    print("configuration:", [(e.key, e.value) for e in result.entries])

    report = await simulation
    print("simulator report:", report.to_dict()["transactions"])
    unsubscribe()
    await core.gateway.close()
    await core.commands.aclose()
    await repository.close()


if __name__ == "__main__":
    asyncio.run(main())

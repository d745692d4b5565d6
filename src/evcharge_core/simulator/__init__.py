"""A station simulator: OCPP 1.6J charge points and OCPP 2.0.1 charging stations to point at
any CSMS.

Run it as ``python -m evcharge_core.simulate --url ws://HOST:PORT/ocpp/ --stations N``
(see :mod:`evcharge_core.simulate`), or from Python::

    import asyncio
    from evcharge_core.simulator import SimulationConfig, run_simulation

    config = SimulationConfig(url="ws://127.0.0.1:9000/ocpp/", stations=10, duration=60)
    report = asyncio.run(run_simulation(config))
    print(report.render())

The layers, as elsewhere in evcharge_core: :class:`StationModel` (OCPP 1.6) and
:class:`StationModel201` (OCPP 2.0.1, with its :class:`DeviceModel`) decide what a station
answers and sends (no I/O); :class:`SimulatedStation` and :class:`SimulatedStation201` carry
it over a websocket (:func:`simulated_station` picks the one ``config.protocol`` names);
:func:`run_simulation` runs many and collects a :class:`Report`.

Errors a station's own CALLs raise (from :meth:`SimulatedStation.call`)::

    EvchargeError
    └── StationCallError
        ├── ConnectionLost (ConnectionError)   not connected, or closed before the answer
        ├── CallTimeout (TimeoutError)         no answer within call_timeout
        ├── CallFailed                         the CSMS answered a CALLERROR (code, description)
        └── InvalidResponse (ValueError)       the answer lacks what the response must carry
"""

from __future__ import annotations

from ._config import SUPPORTED_PROTOCOLS, SimulationConfig
from ._configuration import Configuration
from ._device_model import Component, DeviceModel, Variable
from ._effects import Answer
from ._model import Connector, ConnectorPhase, StationModel
from ._model201 import Evse, IdToken, StationModel201
from ._ocppj import Call, CallError, CallResult, ErrorCode, ErrorCode201, FrameError, parse_frame
from ._report import ActionCounts, Report, StationStats
from ._run import make_stations, run_simulation, simulated_station
from ._station import (
    CallFailed,
    CallTimeout,
    ConnectionLost,
    InvalidResponse,
    SimulatedStation,
    StationBase,
    StationCallError,
    refusal_reason,
)
from ._station201 import SimulatedStation201

__all__ = [
    "SUPPORTED_PROTOCOLS",
    "ActionCounts",
    "Answer",
    "Call",
    "CallError",
    "CallFailed",
    "CallResult",
    "CallTimeout",
    "Component",
    "Configuration",
    "ConnectionLost",
    "Connector",
    "ConnectorPhase",
    "DeviceModel",
    "ErrorCode",
    "ErrorCode201",
    "Evse",
    "FrameError",
    "IdToken",
    "InvalidResponse",
    "Report",
    "SimulatedStation",
    "SimulatedStation201",
    "SimulationConfig",
    "StationBase",
    "StationCallError",
    "StationModel",
    "StationModel201",
    "StationStats",
    "Variable",
    "make_stations",
    "parse_frame",
    "refusal_reason",
    "run_simulation",
    "simulated_station",
]

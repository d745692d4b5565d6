"""A station simulator: OCPP 1.6J charge points to point at any CSMS.

Run it as ``python -m evcharge_core.simulate --url ws://HOST:PORT/ocpp/ --stations N``
(see :mod:`evcharge_core.simulate`), or from Python::

    import asyncio
    from evcharge_core.simulator import SimulationConfig, run_simulation

    config = SimulationConfig(url="ws://127.0.0.1:9000/ocpp/", stations=10, duration=60)
    report = asyncio.run(run_simulation(config))
    print(report.render())

The layers, as elsewhere in evcharge_core: :class:`StationModel` decides what a charge point
answers and sends (no I/O); :class:`SimulatedStation` carries it over a websocket;
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
from ._model import Answer, Connector, ConnectorPhase, StationModel
from ._ocppj import Call, CallError, CallResult, ErrorCode, FrameError, parse_frame
from ._report import ActionCounts, Report, StationStats
from ._run import make_stations, run_simulation
from ._station import (
    CallFailed,
    CallTimeout,
    ConnectionLost,
    InvalidResponse,
    SimulatedStation,
    StationCallError,
    refusal_reason,
)

__all__ = [
    "SUPPORTED_PROTOCOLS",
    "ActionCounts",
    "Answer",
    "Call",
    "CallError",
    "CallFailed",
    "CallResult",
    "CallTimeout",
    "Configuration",
    "ConnectionLost",
    "Connector",
    "ConnectorPhase",
    "ErrorCode",
    "FrameError",
    "InvalidResponse",
    "Report",
    "SimulatedStation",
    "SimulationConfig",
    "StationCallError",
    "StationModel",
    "StationStats",
    "make_stations",
    "parse_frame",
    "refusal_reason",
    "run_simulation",
]

"""``python -m evcharge_core.simulate``: simulated OCPP 1.6J or 2.0.1 stations against any CSMS.

Usage::

    python -m evcharge_core.simulate --url ws://HOST:PORT/ocpp/ --stations N [--id-prefix SIM]
        [--id-start 1] [--protocol ocpp1.6|ocpp2.0.1] [--connectors 2] [--password PW]
        [--duration SECONDS] [--transactions/--no-transactions] [--meter-interval S]
        [--id-tag TAG] [--seed N] [--json]

The logic lives in :mod:`evcharge_core.simulator`; this module is only the entry point.
"""

from __future__ import annotations

import sys

from .simulator._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())

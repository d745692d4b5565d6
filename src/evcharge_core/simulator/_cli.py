"""``python -m evcharge_core.simulate``: simulated OCPP 1.6J or 2.0.1 stations against any CSMS.

Exit status: 0 if at least one station connected, 1 if none ever could, 2 for a usage error.
The report goes to stdout (a table, or JSON with ``--json``); progress and logs to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import signal
import sys
from collections.abc import Sequence

from ._config import SUPPORTED_PROTOCOLS, SimulationConfig
from ._report import Report
from ._run import run_simulation

__all__ = ["build_parser", "main"]


def _seconds(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {text}")
    return value


def _seconds_range(text: str) -> tuple[float, float]:
    parts = text.split(":")
    if len(parts) > 2:
        raise argparse.ArgumentTypeError(f"expected S or LOW:HIGH, not {text!r}")
    low = _seconds(parts[0])
    high = _seconds(parts[-1])
    if high < low:
        raise argparse.ArgumentTypeError(f"LOW must not exceed HIGH: {text!r}")
    return (low, high)


def build_parser() -> argparse.ArgumentParser:
    """The command's argument parser."""
    parser = argparse.ArgumentParser(
        prog="python -m evcharge_core.simulate",
        description=(
            "Simulate OCPP 1.6J or OCPP 2.0.1 charging stations against a CSMS and report what "
            "they saw."
        ),
    )
    add = parser.add_argument
    add(
        "--url",
        required=True,
        help="the CSMS's OCPP endpoint, e.g. ws://HOST:PORT/ocpp/ (each station appends its ID)",
    )
    add("--stations", type=int, default=1, metavar="N", help="how many stations (default: 1)")
    add("--id-prefix", default="SIM", help="station ID prefix (default: SIM)")
    add(
        "--id-start",
        type=int,
        default=1,
        metavar="N",
        help="number of the first station (default: 1)",
    )
    add(
        "--protocol",
        default="ocpp1.6",
        choices=SUPPORTED_PROTOCOLS,
        help="the OCPP version, as its websocket subprotocol (default: ocpp1.6)",
    )
    add(
        "--connectors",
        type=int,
        default=2,
        metavar="N",
        help="connectors per station (ocpp2.0.1: EVSEs of one connector each; default: 2)",
    )
    add("--password", help="HTTP Basic auth password (user: the station ID)")
    add(
        "--duration",
        type=float,
        metavar="SECONDS",
        help="stop after this many seconds (default: run until Ctrl-C)",
    )
    add(
        "--transactions",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let drivers start charging sessions by themselves (default: yes)",
    )
    add(
        "--meter-interval",
        type=int,
        default=30,
        metavar="S",
        help="seconds between meter samples in a transaction: the initial "
        "MeterValueSampleInterval (ocpp1.6) or SampledDataCtrlr.TxUpdatedInterval (ocpp2.0.1) "
        "(default: 30; 0: no samples)",
    )
    add(
        "--id-tag",
        default="SIMTAG",
        metavar="TAG",
        help="the id tag (ocpp2.0.1: ISO14443 ID token) drivers present (default: SIMTAG)",
    )
    add("--seed", type=int, metavar="N", help="seed the random choices (reproducible runs)")
    add(
        "--think-time",
        type=_seconds_range,
        default=(10.0, 60.0),
        metavar="LOW:HIGH",
        help="idle seconds before a driver arrives (default: 10:60)",
    )
    add(
        "--charge-time",
        type=_seconds_range,
        default=(60.0, 300.0),
        metavar="LOW:HIGH",
        help="seconds a driver charges (default: 60:300)",
    )
    add(
        "--ramp-up",
        type=_seconds,
        default=0.0,
        metavar="S",
        help="spread the first connections over S seconds (default: 0)",
    )
    add("--json", action="store_true", help="print the report as JSON")
    add(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log connections (-v) and every frame (-vv) to stderr",
    )
    return parser


async def _simulate(config: SimulationConfig) -> Report:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)

    def interrupted() -> None:
        print("stopping: closing the stations' transactions and connections...", file=sys.stderr)
        stop.set()
        for sig in signals:  # a second Ctrl-C interrupts at once
            loop.remove_signal_handler(sig)

    installed = []
    for sig in signals:
        try:
            loop.add_signal_handler(sig, interrupted)
        except (NotImplementedError, RuntimeError):  # pragma: no cover - Windows, threads
            continue
        installed.append(sig)
    try:
        return await run_simulation(config, stop=stop)
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = SimulationConfig(
            url=args.url,
            stations=args.stations,
            id_prefix=args.id_prefix,
            id_start=args.id_start,
            protocol=args.protocol,
            connectors=args.connectors,
            password=args.password,
            duration=args.duration,
            transactions=args.transactions,
            meter_interval=args.meter_interval,
            id_tag=args.id_tag,
            seed=args.seed,
            think_time=args.think_time,
            charge_time=args.charge_time,
            ramp_up=args.ramp_up,
        )
    except ValueError as error:
        parser.error(str(error))
    level = {0: logging.WARNING, 1: logging.INFO}.get(args.verbose, logging.DEBUG)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(message)s")
    if not args.json:
        until = f"for {config.duration:g} s" if config.duration else "until Ctrl-C"
        print(
            f"simulating {config.stations} station(s) against {config.url} {until}",
            file=sys.stderr,
        )
    try:
        report = asyncio.run(_simulate(config))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(report.render())
    if report.exit_status:
        print("error: no station could connect", file=sys.stderr)
    return report.exit_status

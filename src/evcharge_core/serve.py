"""``python -m evcharge_core.serve``: the reference server.

Usage (this slice)::

    python -m evcharge_core.serve [--db URL] [--host 0.0.0.0] [--port 9000]
                                  [--heartbeat-interval 300]

It opens the database (``--db``, else ``EVCHARGE_DB``, else ``evcharge.db``; the schema is
created or migrated), marks every station disconnected (a crashed process leaves stations
stored as connected), starts the OCPP websocket gateway and prints::

    OCPP websocket endpoint: ws://HOST:PORT/ocpp/{station_id}

(the port actually bound, so ``--port 0`` picks a free one). It runs until SIGINT or
SIGTERM, then closes every station's websocket with code 1001 ("going away"), stores each
station as disconnected, closes (flushes) the database and exits 0. A database that cannot
be opened, or a port that cannot be bound, is reported as one line on stderr and exit 1.
Logs (connections, refusals, bad frames) go to stderr.

``--heartbeat-interval`` (seconds, default 300) is accepted now and used by the OCPP
handlers, which answer BootNotification with it; they are the next piece of work. The other
flags of CONTRACT.md's "Reference server" come with later work: ``--admin-host``,
``--admin-port`` and ``--admin-token`` with the admin HTTP API, ``--tls-cert``,
``--tls-key`` and ``--tls-client-ca`` with TLS (security profiles 2 and 3), and ``--demo``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Final

from .adapters.websocket import WebsocketGateway
from .bootstrap import open_repository, resolve_db_url
from .connections import ConnectionService
from .errors import StorageError

__all__ = ["build_parser", "main", "run"]

logger = logging.getLogger("evcharge_core.serve")

DEFAULT_HOST: Final = "0.0.0.0"  # noqa: S104 - stations reach the server over the network


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more, got {value}")
    return value


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be between 0 and 65535, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    """The command line of the reference server."""
    parser = argparse.ArgumentParser(
        prog="python -m evcharge_core.serve",
        description="Run the evcharge_core reference server (OCPP websocket endpoint).",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database: a path, sqlite:///PATH or memory:// (default: $EVCHARGE_DB, "
        "else evcharge.db)",
    )
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help="address to listen on (default: 0.0.0.0)",
    )
    parser.add_argument(
        "--port", type=_port, default=9000, help="OCPP websocket port (default: 9000; 0: any)"
    )
    parser.add_argument(
        "--heartbeat-interval",
        type=_positive_int,
        default=300,
        metavar="SECONDS",
        help="heartbeat interval given to stations at boot (default: 300)",
    )
    return parser


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Run the server until ``stop`` is set (default: until SIGINT or SIGTERM)."""
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    url = resolve_db_url(args.db, os.environ)
    try:
        repository = await open_repository(url)
    except StorageError as error:
        print(f"error: cannot open the database {url}: {error}", file=sys.stderr, flush=True)
        return 1
    try:
        connections = ConnectionService(repository)
        await connections.reset_connections()
        gateway = WebsocketGateway(connections)
        try:
            await gateway.start(args.host, args.port)
        except OSError as error:
            print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
            return 1
        try:
            endpoint = f"ws://{_url_host(args.host)}:{gateway.port}{gateway.path_prefix}"
            print(f"OCPP websocket endpoint: {endpoint}{{station_id}}", flush=True)
            await stop.wait()
            logger.info("shutting down")
        finally:
            await gateway.close()
    except StorageError as error:
        print(f"error: database {url}: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        await repository.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the server, return the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # websockets logs every opened and refused connection at INFO; ours say more.
    logging.getLogger("websockets").setLevel(logging.WARNING)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())

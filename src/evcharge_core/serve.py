"""``python -m evcharge_core.serve``: the reference server.

Usage (this slice)::

    python -m evcharge_core.serve [--db URL] [--host 0.0.0.0] [--port 9000]
                                  [--admin-host 127.0.0.1] [--admin-port 8080]
                                  [--admin-token TOKEN] [--public-url URL]
                                  [--heartbeat-interval 300]
                                  [--bus postgres|nats://HOST:PORT|local]
                                  [--node-id ID] [--lease-ttl 30]

It opens the database (``--db``, else ``EVCHARGE_DB``, else ``evcharge.db``: a path or
``sqlite:///PATH``, ``memory://``, or ``postgresql://...`` with the ``postgres`` extra; the
schema is created or migrated), marks stations disconnected (a crashed process leaves stations
stored as connected), starts the OCPP websocket gateway and the admin HTTP API (in the same
event loop) and prints::

    OCPP websocket endpoint: ws://HOST:PORT/ocpp/{station_id}
    Admin API: http://ADMIN_HOST:ADMIN_PORT/api/

(the ports actually bound, so ``--port 0`` and ``--admin-port 0`` pick free ones), and last
``Web console: http://ADMIN_HOST:ADMIN_PORT/`` (the operator console). The admin
token is ``--admin-token``, else ``EVCHARGE_ADMIN_TOKEN``; if neither is set, a random one is
generated and printed once, on a third line ``Admin API token (generated, shown once):
TOKEN``. It is never logged. The admin API listens on 127.0.0.1 unless told otherwise.

``--public-url`` is the websocket base URL stations are given (the station JSON's
``websocket_url`` is it followed by the station ID), for a server behind a proxy or a name.
Without it: ``ws://HOST:PORT/ocpp/`` of the real endpoint, where a wildcard ``--host``
(``0.0.0.0``, ``::``) is replaced by this machine's host name, as 0.0.0.0 is no address a
station can reach.

It runs until SIGINT or SIGTERM, then stops the admin API, closes every station's websocket
with code 1001 ("going away"), stores each station as disconnected, closes (flushes) the
database and exits 0. A database that cannot be opened, or a port that cannot be bound, is
reported as one line on stderr and exit 1. Logs (connections, refusals, bad frames, admin
API failures) go to stderr.

``--heartbeat-interval`` (seconds, default 300) is the interval an accepted station's
BootNotification is answered with. Stations speaking OCPP 1.6 are served by
:class:`~evcharge_core.ocpp16.Ocpp16Session`, those speaking OCPP 2.0.1 by
:class:`~evcharge_core.ocpp201.Ocpp201Session`; :func:`build_core` wires the services and
the operator commands (:class:`~evcharge_core.commands.CommandService`) around one event
bus. The admin API's ``/metrics`` also shows the OCPP messages and operator commands (a
:class:`~evcharge_core.observability.PrometheusObserver` in the app's registry). The other
flags of
CONTRACT.md's "Reference server" are all here: ``--demo`` seeds demo data (if missing) and
runs simulated stations in the same process (see :mod:`evcharge_core.demo`), and prints a
``Demo: ...`` line after the URLs.

With ``--tls-cert PEM --tls-key PEM`` (repeatable, in pairs) the endpoint is ``wss://``,
TLS 1.2 or newer; ``--tls-client-ca PEM`` makes it ask every station for a client
certificate and verify one that is shown (see :mod:`evcharge_core.tls`).

**Several processes** (see :mod:`evcharge_core.cluster` and docs/deployment.md) share one
PostgreSQL database: ``--bus`` is how they reach each other, ``postgres`` (LISTEN/NOTIFY on
that database, the default when ``--db`` is PostgreSQL) or ``nats://HOST:PORT``; ``local``
runs one process alone, as on SQLite (the default there; SQLite cannot be shared).
``--node-id`` names the process (default ``HOSTNAME-PID``) and ``--lease-ttl`` is how long a
dead process's station leases live. A ``Cluster: node ID, bus NAME`` line is printed after
the URLs. At start-up only the stations no live lease holds are marked disconnected.

**Garbage collection.** The server process tunes Python's cyclic garbage collector (see
:func:`tune_gc`): with the defaults, 1000 busy stations cost it a fifth of its CPU time and
pauses of up to 0.3 s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import secrets
import signal
import socket
import ssl
import sys
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Final
from urllib.parse import urlsplit

import attrs
import uvicorn
from prometheus_client import CollectorRegistry

from .adapters.websocket import (
    NotImplementedSession,
    SessionContext,
    StationSession,
    WebsocketGateway,
)
from .balancing import BALANCER_ROLE, Balancer, ProfileSender
from .bootstrap import display_db_url, open_repository, resolve_db_url
from .bus import LocalEventBus
from .charging import ChargingService
from .commands import CommandService
from .connections import ConnectionService
from .domain.values import Protocol
from .errors import StorageError
from .observability import MessageObserver, PrometheusObserver
from .ports import Repository
from .service import StationService
from .tls import TLSConfigError, server_context

if TYPE_CHECKING:
    from .admin._table import Gateway
    from .cluster import ClusterNode
    from .demo import Demo

__all__ = ["Core", "build_core", "build_parser", "main", "run"]

logger = logging.getLogger("evcharge_core.serve")

DEFAULT_HOST: Final = "0.0.0.0"  # noqa: S104 - stations reach the server over the network
DEFAULT_ADMIN_HOST: Final = "127.0.0.1"
ENV_ADMIN_TOKEN: Final = "EVCHARGE_ADMIN_TOKEN"  # noqa: S105 - a variable name, not a secret
_WILDCARD_HOSTS: Final = frozenset({"0.0.0.0", "::", ""})  # noqa: S104 - compared, not bound


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


def _token(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("the admin token must not be empty")
    return text


def _websocket_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in ("ws", "wss") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"expected a ws:// or wss:// URL, got {text!r}")
    return text if text.endswith("/") else text + "/"


def build_parser() -> argparse.ArgumentParser:
    """The command line of the reference server."""
    parser = argparse.ArgumentParser(
        prog="python -m evcharge_core.serve",
        description="Run the evcharge_core reference server (OCPP websocket endpoint).",
    )
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database: a path, sqlite:///PATH, memory:// or postgresql://... (default: "
        "$EVCHARGE_DB, else evcharge.db)",
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
    parser.add_argument(
        "--admin-host",
        default=DEFAULT_ADMIN_HOST,
        help="address of the admin HTTP API (default: 127.0.0.1)",
    )
    parser.add_argument(
        "--admin-port",
        type=_port,
        default=8080,
        help="admin HTTP API port (default: 8080; 0: any)",
    )
    parser.add_argument(
        "--admin-token",
        type=_token,
        metavar="TOKEN",
        help=f"bearer token of the admin API (default: ${ENV_ADMIN_TOKEN}, else a random "
        "one, printed once)",
    )
    parser.add_argument(
        "--tls-cert",
        action="append",
        default=[],
        metavar="PEM",
        help="certificate chain for wss:// (give --tls-cert/--tls-key once per pair, e.g. "
        "an ECDSA and an RSA one)",
    )
    parser.add_argument(
        "--tls-key", action="append", default=[], metavar="PEM", help="the certificate's key"
    )
    parser.add_argument(
        "--tls-client-ca",
        metavar="PEM",
        help="CA that station client certificates are verified against (security profile 3)",
    )
    parser.add_argument(
        "--demo",
        action="store_true",
        help="seed demo areas, stations, chargers and id tokens (if missing) and run "
        "simulated OCPP 1.6 stations against this server, with charging sessions",
    )
    parser.add_argument(
        "--public-url",
        type=_websocket_url,
        metavar="URL",
        help="websocket base URL given to stations, e.g. wss://csms.example.com/ocpp/ "
        "(default: ws://HOST:PORT/ocpp/ of the endpoint, a wildcard HOST replaced by this "
        "machine's name)",
    )
    parser.add_argument(
        "--bus",
        type=_bus,
        metavar="BUS",
        help="how several server processes on one PostgreSQL database reach each other: "
        "postgres (LISTEN/NOTIFY), nats://HOST:PORT, or local (one process only; the "
        "default unless --db is PostgreSQL, where it is postgres)",
    )
    parser.add_argument(
        "--node-id",
        metavar="ID",
        help="this process's name among the server processes (default: HOSTNAME-PID)",
    )
    parser.add_argument(
        "--lease-ttl",
        type=_positive_int,
        default=30,
        metavar="SECONDS",
        help="station leases of a process that died expire after this long (default: 30)",
    )
    return parser


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def admin_token(cli_value: str | None, environ: Mapping[str, str]) -> tuple[str, bool]:
    """The admin token from the command line, else the environment, else a new random one;
    and whether it was generated."""
    given = cli_value or environ.get(ENV_ADMIN_TOKEN, "").strip()
    if given:
        return given, False
    return secrets.token_urlsafe(32), True


def _listen(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host``:``port`` (raises ``OSError``)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, _, _, _, address = infos[0]
    return socket.create_server(address, family=family)


class _AdminServer(uvicorn.Server):
    """uvicorn without signal handling of its own: :func:`run` handles SIGINT and SIGTERM
    for the whole server and stops this one with ``should_exit``."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@attrs.frozen
class Core:
    """The server's services wired together: what an embedding service (or the admin API)
    reaches. The gateway is built but not started."""

    repository: Repository
    bus: LocalEventBus
    stations: StationService
    charging: ChargingService
    connections: ConnectionService
    gateway: WebsocketGateway
    commands: CommandService
    profiles: ProfileSender
    balancer: Balancer
    live: Gateway | None = None
    """Where the admin API disconnects and counts stations (default: :attr:`gateway`); in a
    cluster, the sessions that also reach other processes."""


def build_core(
    repository: Repository,
    *,
    heartbeat_interval_s: int = 300,
    observer: MessageObserver | None = None,
    cluster: ClusterNode | None = None,
) -> Core:
    """Wire the services around ``repository``: one event bus that every service publishes
    to; OCPP 1.6 and 2.0.1 sessions on the gateway, chosen by the negotiated subprotocol;
    operator commands that also follow activations on the bus. ``observer`` (default:
    none) is told about OCPP messages and operator commands, for metrics. With ``cluster``
    (a :class:`~evcharge_core.cluster.ClusterNode`) the bus, the connections (station
    leases) and the commands' routing are the cluster's."""
    from . import ocpp16, ocpp201

    bus = cluster.events if cluster is not None else LocalEventBus()
    stations = StationService(repository, events=bus)
    charging = ChargingService(repository, events=bus, heartbeat_interval_s=heartbeat_interval_s)
    connections = (
        cluster.connection_service(repository)
        if cluster is not None
        else ConnectionService(repository, events=bus)
    )
    factories = {
        Protocol.OCPP16: ocpp16.session_factory(charging, observer=observer),
        Protocol.OCPP201: ocpp201.session_factory(charging, observer=observer),
    }

    def sessions(context: SessionContext) -> StationSession:
        factory = factories.get(context.protocol)
        return NotImplementedSession(context) if factory is None else factory(context)

    gateway = WebsocketGateway(connections, session_factory=sessions)
    live = cluster.sessions(gateway) if cluster is not None else None
    commands = CommandService(live or gateway, stations, observer=observer)
    bus.subscribe(commands.on_event)
    # Charging profiles and load balancing (issue 6): both follow the bus; the balancer
    # works on every area with an output limit and leaves the others alone.
    profiles = ProfileSender(repository, commands, events=bus)
    bus.subscribe(profiles.on_event)
    # In a cluster every process sees every event; one process at a time balances (the
    # cluster's "balancer" role), so that no station is sent a limit twice. Profiles go out
    # from the process holding the station's websocket (ProfileSender skips the others).
    balancer = Balancer(repository, commands, events=bus, active=cluster is None)
    bus.subscribe(balancer.on_event)
    if cluster is not None:
        cluster.hold_role(BALANCER_ROLE, balancer.set_active)
    return Core(
        repository,
        bus,
        stations,
        charging,
        connections,
        gateway,
        commands,
        profiles,
        balancer,
        live,
    )


def _tls_context(args: argparse.Namespace) -> ssl.SSLContext | None:
    """The OCPP endpoint's TLS context from the ``--tls-*`` flags, or ``None`` for ws://."""
    if len(args.tls_cert) != len(args.tls_key):
        raise TLSConfigError("give --tls-cert and --tls-key the same number of times, in pairs")
    if not args.tls_cert:
        if args.tls_client_ca:
            raise TLSConfigError("--tls-client-ca needs --tls-cert and --tls-key")
        return None
    return server_context(list(zip(args.tls_cert, args.tls_key, strict=True)), args.tls_client_ca)


async def run(args: argparse.Namespace, stop: asyncio.Event | None = None) -> int:
    """Run the server until ``stop`` is set (default: until SIGINT or SIGTERM)."""
    loop = asyncio.get_running_loop()
    if stop is None:
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
    try:
        tls_context = _tls_context(args)
    except TLSConfigError as error:
        print(f"error: {error}", file=sys.stderr, flush=True)
        return 1
    if args.demo and tls_context is not None:
        print(
            "error: --demo runs its simulated stations over ws://; leave out --tls-cert",
            file=sys.stderr,
            flush=True,
        )
        return 1
    url = resolve_db_url(args.db, os.environ)
    try:
        repository = await open_repository(url)
    except StorageError as error:
        print(
            f"error: cannot open the database {display_db_url(url)}: {error}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    cluster = None
    try:
        cluster = await _open_cluster(args, url)
        metrics = CollectorRegistry()  # the admin API's, with the OCPP metrics in it
        core = build_core(
            repository,
            heartbeat_interval_s=args.heartbeat_interval,
            observer=PrometheusObserver(metrics),
            cluster=cluster,
        )
        await core.connections.reset_connections()
        gateway = core.gateway
        try:
            await gateway.start(args.host, args.port, ssl=tls_context)
        except OSError as error:
            print(f"error: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
            return 1
        demo = None
        try:
            scheme = "wss" if tls_context is not None else "ws"
            notes = _cluster_notes(cluster)
            if args.demo:
                demo, note = await _start_demo(args, core, gateway)
                notes.append(note)
            return await _serve_admin(
                args, repository, gateway, stop, core, scheme=scheme, metrics=metrics, notes=notes
            )
        finally:
            if demo is not None:
                await demo.stop()
            await gateway.close()
            await core.commands.aclose()
            await core.profiles.aclose()
            await core.balancer.aclose()
    except StorageError as error:
        print(f"error: database {display_db_url(url)}: {error}", file=sys.stderr, flush=True)
        return 1
    finally:
        if cluster is not None:
            await cluster.aclose()
        await repository.close()


async def _open_cluster(args: argparse.Namespace, url: str) -> ClusterNode | None:
    """The started cluster node ``--bus`` asks for, or ``None`` for one process alone."""
    from .bootstrap import POSTGRES_SCHEMES

    bus = args.bus or ("postgres" if url.startswith(POSTGRES_SCHEMES) else "local")
    if bus == "local":
        return None
    from .cluster import open_cluster

    node = await open_cluster(url, bus, node_id=args.node_id, lease_ttl=float(args.lease_ttl))
    try:
        await node.start()
    except BaseException:
        await node.aclose()
        raise
    return node


def _cluster_notes(cluster: ClusterNode | None) -> list[str]:
    if cluster is None:
        return []
    return [f"Cluster: node {cluster.node_id}, bus {cluster.transport.name}"]


def _bus(text: str) -> str:
    if text in ("local", "postgres") or text.startswith(("nats://", "tls://")):
        return text
    raise argparse.ArgumentTypeError(f"expected local, postgres or nats://HOST:PORT, got {text!r}")


async def _start_demo(
    args: argparse.Namespace, core: Core, gateway: WebsocketGateway
) -> tuple[Demo, str]:
    """Seed the demo data and start the simulated stations on the server's own endpoint
    (plain ``ws://``; on loopback when the server listens on every address); the demo and
    the line to print about it."""
    from .demo import Demo, seed_demo

    seeded = await seed_demo(core.stations, core.charging)
    host = "127.0.0.1" if args.host in _WILDCARD_HOSTS else args.host
    url = f"ws://{_url_host(host)}:{gateway.port}{gateway.path_prefix}"
    demo = Demo(url)
    demo.start()
    added = len(seeded.stations)
    note = (
        f"Demo: {len(demo.stations)} simulated stations ({demo.stations[0].station_id} .. "
        f"{demo.stations[-1].station_id}) connecting to {url}"
        + (f"; seeded {added} stations" if added else "")
    )
    return demo, note


async def _serve_admin(
    args: argparse.Namespace,
    repository: Repository,
    gateway: WebsocketGateway,
    stop: asyncio.Event,
    core: Core,
    *,
    scheme: str = "ws",
    metrics: CollectorRegistry | None = None,
    notes: Sequence[str] = (),
) -> int:
    """Run the admin API beside the started gateway (listening for ``scheme``: ``ws`` or
    ``wss``) until ``stop`` is set; its metrics go to ``metrics`` (default: a registry of
    its own)."""
    from .admin import create_app

    try:
        admin_socket = _listen(args.admin_host, args.admin_port)
    except OSError as error:
        print(
            f"error: cannot listen on {args.admin_host}:{args.admin_port} (admin API): {error}",
            file=sys.stderr,
            flush=True,
        )
        return 1
    endpoint = f"{scheme}://{_url_host(args.host)}:{gateway.port}{gateway.path_prefix}"
    public_host = socket.gethostname() if args.host in _WILDCARD_HOSTS else args.host
    public_url = args.public_url or (
        f"{scheme}://{_url_host(public_host)}:{gateway.port}{gateway.path_prefix}"
    )
    token, generated = admin_token(args.admin_token, os.environ)
    service = StationService(repository, websocket_base_url=public_url, events=core.bus)
    app = create_app(
        service,
        token=token,
        gateway=core.live or gateway,
        metrics=metrics,
        commands=core.commands,
        charging=core.charging,
        balancer=core.balancer,
        profiles=core.profiles,
    )
    config = uvicorn.Config(
        app,
        lifespan="off",
        ws="none",  # the admin API has no websocket routes
        log_level="warning",
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=5,
    )
    server = _AdminServer(config)
    admin_port = admin_socket.getsockname()[1]
    serving = asyncio.create_task(server.serve(sockets=[admin_socket]))
    try:
        print(f"OCPP websocket endpoint: {endpoint}{{station_id}}", flush=True)
        print(f"Admin API: http://{_url_host(args.admin_host)}:{admin_port}/api/", flush=True)
        if generated:
            print(f"Admin API token (generated, shown once): {token}", flush=True)
        for note in notes:
            print(note, flush=True)
        print(f"Web console: http://{_url_host(args.admin_host)}:{admin_port}/", flush=True)
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait({stopping, serving}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if serving.done():
            failure = serving.exception() if not serving.cancelled() else None
            why = f": {failure!r}" if failure is not None else ""
            print(f"error: the admin API stopped unexpectedly{why}", file=sys.stderr, flush=True)
            return 1
        logger.info("shutting down")
        return 0
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await serving
        admin_socket.close()


GC_THRESHOLDS: Final = (10_000, 10, 10)
"""The cyclic garbage collector's thresholds in the server process (Python's: 700, 10, 10)."""


def tune_gc() -> None:
    """Set the cyclic garbage collector up for a long-running server with many connections.

    Each connection keeps objects alive for a while (the station's last stored state, the
    websocket's buffers, the frame being answered), so at Python's default thresholds most
    young objects survive a young collection and are promoted, and the old generation,
    holding every connection's objects, is scanned in full every few seconds. Measured with
    ``bench/ocpp_load.py`` at 1000 stations: 2.6 s of every 15 s of CPU in the collector
    and pauses of 0.2 to 0.3 s (which every waiting station feels as latency). With the
    first generation at 10 000 objects and what exists at start-up (modules, the
    application's wiring) frozen out of the collector's scans: about 1.2 s and pauses of
    0.15 s at most, for 25 % more round trips per second. Embedding services that serve
    many stations may want the same in their own process.
    """
    gc.set_threshold(*GC_THRESHOLDS)
    gc.freeze()


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: ``sys.argv[1:]``), run the server, return the exit status."""
    args = build_parser().parse_args(argv)
    tune_gc()
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

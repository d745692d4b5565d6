"""Several gateway processes on one PostgreSQL database (SPEC §9).

Each process is a *node*: it holds a lease on every station connected to it
(:class:`LeaseStore`, :class:`LeasedConnectionService`), finds the node holding any other
station through those leases, and reaches it over a message engine (:class:`Transport`:
PostgreSQL ``LISTEN``/``NOTIFY`` or NATS), so that an operator command issued on any node
reaches the station (:class:`RoutedSessions`) and every node's event subscribers see every
station's events (:class:`ClusterEventBus`).

The reference server wires it with ``--bus`` (see :mod:`evcharge_core.serve`); an embedding
service does what it does::

    node = await open_cluster(db_url, "postgres")
    core = build_core(repository, cluster=node)
    await node.start()
    await core.connections.reset_connections()
    ...
    await core.gateway.close()
    await node.aclose()

The cluster's tables have their own migrations (:mod:`evcharge_core.cluster._schema`),
apart from the repository's.
"""

from __future__ import annotations

from ._leases import DEFAULT_LEASE_TTL, Lease, LeasedConnectionService, LeaseStore
from ._node import (
    ROUTING_MARGIN,
    ClusterEventBus,
    ClusterNode,
    RemoteCommands,
    RoutedSessions,
    default_node_id,
    open_cluster,
)
from ._schema import MIGRATIONS
from ._transport import (
    Inbox,
    MemoryHub,
    MemoryTransport,
    NatsTransport,
    PostgresTransport,
    Transport,
    Unreachable,
)

__all__ = [
    "DEFAULT_LEASE_TTL",
    "MIGRATIONS",
    "ROUTING_MARGIN",
    "ClusterEventBus",
    "ClusterNode",
    "Inbox",
    "Lease",
    "LeaseStore",
    "LeasedConnectionService",
    "MemoryHub",
    "MemoryTransport",
    "NatsTransport",
    "PostgresTransport",
    "RemoteCommands",
    "RoutedSessions",
    "Transport",
    "Unreachable",
    "default_node_id",
    "open_cluster",
]

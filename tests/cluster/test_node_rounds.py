"""A node's background rounds survive what happens during them: a role asked for while a
round of claims runs, an unexpected error in a round, stations whose sockets close slowly."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any, cast

from evcharge_core.cluster import ClusterNode, LeaseStore, MemoryHub
from tests.cluster.harness import until


class FakeLeases:
    """The parts of a :class:`LeaseStore` a node's rounds use, in memory."""

    ttl = 30.0

    def __init__(self) -> None:
        self.claims: list[str] = []
        self.during_claim: list[Any] = []
        self.lost: set[str] = set()

    async def claim_role(self, role: str) -> bool:
        self.claims.append(role)
        while self.during_claim:
            self.during_claim.pop(0)()
        return True

    async def release_role(self, role: str) -> None:
        pass

    async def renew(self, station_ids: Iterable[str]) -> set[str]:
        return set(station_ids) & self.lost

    async def close(self) -> None:
        pass


class FakeConnections:
    def __init__(self, held: dict[str, int]) -> None:
        self._held = dict(held)
        self.swept = 0

    def held(self) -> dict[str, int]:
        return dict(self._held)

    def still_held(self, station_id: str, generation: int) -> bool:
        return self._held.get(station_id) == generation

    def forget(self, station_id: str) -> None:
        self._held.pop(station_id, None)

    async def sweep(self) -> int:
        self.swept += 1
        return 0

    async def confirm_recent(self) -> int:
        return 0


class SlowGateway:
    """Closing a socket waits for the station's closing handshake: here, until released."""

    def __init__(self) -> None:
        self.closing: list[str] = []
        self.release = asyncio.Event()

    async def disconnect(self, station_id: str, *, reason: str = "") -> bool:
        self.closing.append(station_id)
        await self.release.wait()
        return True


def _node(leases: FakeLeases, renew_interval: float = 10.0) -> ClusterNode:
    return ClusterNode(
        "a",
        cast(LeaseStore, leases),
        MemoryHub().transport(),
        renew_interval=renew_interval,
    )


def test_a_role_asked_for_during_a_round_of_claims() -> None:
    async def go() -> None:
        leases = FakeLeases()
        node = _node(leases)
        await node.start()
        try:
            seen: dict[str, list[bool]] = {"first": [], "second": []}
            node.hold_role("first", seen["first"].append)
            await until(lambda: node.roles_held == {"first"}, what="the first role")
            # another part of the service asks for a role while a round is claiming
            leases.during_claim.append(lambda: node.hold_role("second", seen["second"].append))
            await node.claim_roles()
            await until(lambda: node.roles_held == {"first", "second"}, what="both roles")
            assert seen == {"first": [True], "second": [True]}
        finally:
            await node.aclose()

    asyncio.run(go())


def test_an_unexpected_error_in_a_round_does_not_stop_the_renewals() -> None:
    async def go() -> None:
        leases = FakeLeases()
        node = _node(leases, renew_interval=0.01)
        failures = 0

        async def broken_renew() -> None:
            nonlocal failures
            failures += 1
            raise RuntimeError("a bug in one round")

        node.renew = broken_renew  # type: ignore[method-assign]
        node.hold_role("balancer", lambda held: None)
        await node.start()
        try:
            await until(lambda: failures >= 3, what="rounds after a failed one")
            assert node._renewer is not None
            assert not node._renewer.done()
            assert leases.claims.count("balancer") >= 3  # the role is still renewed
        finally:
            await node.aclose()

    asyncio.run(go())


def test_a_slow_close_of_a_lost_station_does_not_hold_up_the_round() -> None:
    """The round goes on (other stations' leases, the sweep, the roles) while the sockets of
    the stations it lost close."""

    async def go() -> None:
        leases = FakeLeases()
        leases.lost = {"S1", "S2"}
        node = _node(leases)
        connections = FakeConnections({"S1": 1, "S2": 2, "S3": 3})
        gateway = SlowGateway()
        node.connections = cast(Any, connections)
        node.gateway = cast(Any, gateway)
        await node.start()
        try:
            round_ = asyncio.get_running_loop().create_task(node.renew())
            await until(round_.done, what="the renewal round to end")
            round_.result()
            assert connections.swept == 1
            assert connections.held() == {"S3": 3}  # not renewed any more
            await until(lambda: sorted(gateway.closing) == ["S1", "S2"], what="both closes")
            gateway.release.set()
        finally:
            await node.aclose()

    asyncio.run(go())

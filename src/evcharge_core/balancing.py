"""Charging profiles and load balancing at run time: the services around the pure domain.

Two application services follow the event bus, beside
:class:`~evcharge_core.charging.ChargingService`, one of each per process:

:class:`ProfileSender` sends each charger's charging profile
(:mod:`evcharge_core.domain.profiles`) to its station, as
:func:`~evcharge_core.smart_charging.charger_profile_purpose` says, through
:meth:`CommandService.set_charging_profile
<evcharge_core.commands.CommandService.set_charging_profile>`: when a charger is assigned a
profile (or none: the former one is cleared), when a profile changes, when a station
connects (or, if its boot configuration clears its profiles, once that is done), when an
operator's change to the station moves it (a charger added or deleted changes the purpose,
another area the time zone), and again at the zone's next change of UTC offset
(:attr:`ProfileRequest.resend_at
<evcharge_core.smart_charging.ProfileRequest.resend_at>`). Each outcome is kept per charger
(:meth:`ProfileSender.status`) and published as
:class:`~evcharge_core.domain.events.ChargingProfileSent` or
:class:`~evcharge_core.domain.events.ChargingProfileRejected`.

:class:`Balancer` shares each area's output limit among its connectors that have a
transaction (:func:`~evcharge_core.domain.allocation.allocate`), and pushes each changed
allocation to its station as a TxProfile: the decreases first, waiting for their answers,
then the increases. It recomputes an area on transaction start and end, connector status
changes, meter values, area and profile changes, a station's (re)connection or boot
configuration, and at the next period boundary of a charger profile in use. Computations of
one area run one at a time; events arriving meanwhile cause one more run, not one each. A
station that rejects a limit or does not answer pins its connector at the limit in force
(:class:`~evcharge_core.domain.events.AllocationRejected`); pinned connectors are tried again
when their station reconnects or after :attr:`Balancer.retry_after_s`. Allocations are kept
in memory, not stored: after a restart, the first computation sends every connector its
limit.

**Fixed OCPP ids** (so that sending again replaces): charging profile id
:data:`STATION_MAX_PROFILE_ID` for a station maximum, :data:`TX_DEFAULT_PROFILE_ID_BASE` +
connector ID (1.6) or EVSE ID (2.0.1) for a TxDefaultProfile, both at stack level
:data:`CHARGER_STACK_LEVEL`; :data:`TX_PROFILE_ID_BASE` + connector or EVSE ID for the
balancer's TxProfiles, at stack level :data:`TX_STACK_LEVEL`.

:func:`compute_allocations` is the balancer's computation without its memory (nothing in
force, nothing pinned): what ``evcharge areas allocations`` shows from the stored state.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import time
from collections.abc import Callable, Coroutine, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from .clock import utc_now
from .commands import CommandService
from .domain.allocation import (
    AllocationState,
    AreaAllocation,
    AreaLimit,
    ConnectorLoad,
    Phase,
    allocate,
    allocation_changes,
)
from .domain.events import (
    AllocationChanged,
    AllocationRejected,
    AreaChanged,
    AreaDeleted,
    BootConfigured,
    ChargingProfileAssigned,
    ChargingProfileChanged,
    ChargingProfileRejected,
    ChargingProfileSent,
    ConnectorStatusChanged,
    Event,
    MeterValuesReceived,
    StationChanged,
    StationConnected,
    StationDeleted,
    TransactionEnded,
    TransactionStarted,
)
from .domain.model import Area, Charger, Connector, Station
from .domain.profiles import ChargingProfile, next_limit_change, profile_limit_at
from .domain.transactions import MeterSample, TransactionState
from .domain.transactions import Transaction as ChargingTransaction
from .domain.values import ConnectorStatus, PowerType, Protocol
from .errors import EvchargeError
from .ports import EventSink, Repository, StationQuery, TransactionQuery
from .ports import Transaction as UnitOfWork
from .smart_charging import (
    ProfilePurpose,
    ProfileRequest,
    charger_profile_purpose,
    ocpp16_charger_profile,
    ocpp16_tx_profile,
    ocpp201_charger_profile,
    ocpp201_tx_profile,
)

__all__ = [
    "BALANCER_ROLE",
    "CHARGER_STACK_LEVEL",
    "STATION_MAX_PROFILE_ID",
    "TX_DEFAULT_PROFILE_ID_BASE",
    "TX_PROFILE_ID_BASE",
    "TX_STACK_LEVEL",
    "AreaView",
    "Balancer",
    "ProfileSendStatus",
    "ProfileSender",
    "Target",
    "allocations_to_json",
    "area_limit",
    "compute_allocations",
    "observed_draw",
]

logger = logging.getLogger(__name__)

STATION_MAX_PROFILE_ID: Final = 1
TX_DEFAULT_PROFILE_ID_BASE: Final = 1000
TX_PROFILE_ID_BASE: Final = 2000
CHARGER_STACK_LEVEL: Final = 0
TX_STACK_LEVEL: Final = 1

_PAGE: Final = 1000


def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown time zone %r: using UTC", name)
        return UTC


def area_limit(area: Area) -> AreaLimit | None:
    """The area's output limit as the allocator takes it; ``None``: no limit, no balancing."""
    if area.output_limit_a is None and area.output_limit_w is None:
        return None
    return AreaLimit(
        current_a=area.output_limit_a,
        power_w=area.output_limit_w,
        phase_voltage=area.phase_voltage,
    )


BALANCER_ROLE: Final = "balancer"
"""The cluster role (:meth:`evcharge_core.cluster.ClusterNode.hold_role`) of the process
that balances every area when several gateway processes share a database."""


# --- reading an area -------------------------------------------------------------------------


@attrs.frozen
class Target:
    """Where a connector's TxProfile goes: its station and transaction."""

    station_id: str
    protocol: Protocol | None
    charger_id: str
    connector_ocpp_id: int
    """The OCPP 1.6 connector ID (2.0.1: the connector within the EVSE)."""
    evse_id: int
    transaction_id: str


@attrs.frozen
class AreaView:
    """One computation of an area: the allocation, where each connector's limit goes, and
    what is in force on the stations after sending (connector ID to limit)."""

    area_id: str
    limit: AreaLimit
    allocation: AreaAllocation
    targets: Mapping[str, Target]
    computed_at: datetime
    in_force: Mapping[str, int] = attrs.field(factory=dict)
    pinned: frozenset[str] = frozenset()
    next_change: datetime | None = None
    """The next period boundary of a charger profile in use: the area is recomputed then."""
    compute_s: float = 0.0
    """How long reading the area and allocating took (seconds)."""


_PHASE_BY_PREFIX: Final = {"L1": Phase.L1, "L2": Phase.L2, "L3": Phase.L3}
_DC: Final = PowerType.DC
_AC_3_PHASE: Final = PowerType.AC_3_PHASE


def observed_draw(
    samples: Sequence[MeterSample], power_type: PowerType, wired: Phase = Phase.L1
) -> tuple[float | None, PowerType, Phase]:
    """What the latest meter values of a session say it draws, in the allocation's unit:
    the highest phase's ``Current.Import`` (A) for AC, ``Power.Active.Import`` (W) for DC;
    ``None`` when they say nothing. A three-phase connector whose latest per-phase currents
    show one phase above 1 A and the others below is balanced as single-phase on it;
    otherwise the phase is ``wired``, the one a single-phase connector is wired to."""
    dc = power_type is _DC
    measurand = "Power.Active.Import" if dc else "Current.Import"
    relevant = [s for s in samples if s.measurand == measurand]
    if not relevant:
        return None, power_type, wired
    latest = max(s.timestamp for s in relevant)
    now = [s for s in relevant if s.timestamp == latest]
    if dc:
        watts = [s.value * (1000 if (s.unit or "").lower() == "kw" else 1) for s in now]
        return max(watts), power_type, Phase.L1
    highest = max(s.value for s in now)
    if power_type is _AC_3_PHASE:
        by_phase: dict[Phase, float] = {}
        for sample in now:
            phase = _PHASE_BY_PREFIX.get((sample.phase or "")[:2])
            if phase is not None:
                by_phase[phase] = max(by_phase.get(phase, 0.0), sample.value)
        if len(by_phase) == 3:
            drawing = [phase for phase, value in by_phase.items() if value > 1.0]
            if len(drawing) == 1:
                return highest, PowerType.AC_1_PHASE, drawing[0]
    return highest, power_type, wired


def _session_connector(
    station: Station, session: ChargingTransaction
) -> tuple[Charger, Connector] | None:
    if station.protocol is Protocol.OCPP201:
        charger = next((c for c in station.chargers if c.evse_id == session.evse_id), None)
        if charger is None or not charger.connectors:
            return None
        connector = charger.connector_by_ocpp_id(session.connector_id) or charger.connectors[0]
        return charger, connector
    for charger, connector in station.iter_connectors():
        if connector.ocpp_id == session.connector_id:
            return charger, connector
    return None


async def _area_stations(tx: UnitOfWork, area_id: str) -> dict[str, Station]:
    stations: dict[str, Station] = {}
    page = 1
    while True:
        found = await tx.stations.list(StationQuery(area_id=area_id, page=page, page_size=_PAGE))
        stations.update((s.id, s) for s in found.items)
        if page * _PAGE >= found.total:
            return stations
        page += 1


async def _active_sessions(tx: UnitOfWork, area_id: str) -> list[ChargingTransaction]:
    sessions: list[ChargingTransaction] = []
    page = 1
    while True:
        query = TransactionQuery(
            area_id=area_id, state=TransactionState.ACTIVE, page=page, page_size=_PAGE
        )
        listed = await tx.transactions.list(query)
        sessions.extend(listed.items)
        if page * _PAGE >= listed.total:
            return sessions
        page += 1


_DRAW_MEASURANDS: Final = ("Current.Import", "Power.Active.Import")

_SessionKey = tuple[str, str]


def _latest_samples(samples: Sequence[MeterSample]) -> list[MeterSample]:
    """What :func:`observed_draw` reads of a session's samples: for each measurand it
    reads, the samples of the latest timestamp."""
    latest: list[MeterSample] = []
    for measurand in _DRAW_MEASURANDS:
        relevant = [s for s in samples if s.measurand == measurand]
        if relevant:
            newest = max(s.timestamp for s in relevant)
            latest.extend(s for s in relevant if s.timestamp == newest)
    return latest


class _DrawCache:
    """An area's sessions' latest meter values (:func:`_latest_samples`), each valid while
    its stamp is: the balancer stamps a session anew at each MeterValuesReceived for it,
    and every session at an explicit :meth:`Balancer.recompute`. A session's samples grow
    all along, so reading them all at every computation (that is, at every meter value in
    the area) would cost the whole history of every session each time."""

    def __init__(self, stamp: Callable[[_SessionKey], object]) -> None:
        self.stamp = stamp
        self.entries: dict[_SessionKey, tuple[object, list[MeterSample]]] = {}

    def get(self, key: _SessionKey) -> list[MeterSample] | None:
        entry = self.entries.get(key)
        return entry[1] if entry is not None and entry[0] == self.stamp(key) else None

    def keep(self, keys: Iterable[_SessionKey]) -> None:
        """Forget the sessions not in ``keys`` (ended, or gone from the area)."""
        kept = set(keys)
        for key in [k for k in self.entries if k not in kept]:
            del self.entries[key]


async def _session_samples(
    tx: UnitOfWork, session: ChargingTransaction, draws: _DrawCache | None
) -> list[MeterSample]:
    key = (session.station_id, session.transaction_id)
    cached = draws.get(key) if draws is not None else None
    if cached is not None:
        return cached
    stamp = draws.stamp(key) if draws is not None else None  # before reading: a newer
    # MeterValuesReceived while reading leaves the entry stale, so it is read again
    samples = _latest_samples(await tx.meter_values.list(*key))
    if draws is not None:
        draws.entries[key] = (stamp, samples)
    return samples


async def _read_area(
    repository: Repository,
    area: Area,
    limit: AreaLimit,
    now: datetime,
    *,
    in_force: Mapping[str, int],
    pinned: Iterable[str],
    draws: _DrawCache | None = None,
) -> AreaView:
    started = time.perf_counter()
    zone = _zone(area.time_zone)
    pinned_ids = frozenset(pinned)
    loads: list[ConnectorLoad] = []
    targets: dict[str, Target] = {}
    profiles: dict[str, ChargingProfile | None] = {}
    next_change: datetime | None = None
    async with repository.transaction() as tx:
        stations = await _area_stations(tx, area.id)
        sessions = await _active_sessions(tx, area.id)
        for session in sessions:
            station = stations.get(session.station_id)
            held = _session_connector(station, session) if station is not None else None
            if station is None or held is None:
                continue
            charger, connector = held
            if connector.id in targets:  # two open sessions on one connector: the latest
                continue
            profile_limit = None
            profile_id = charger.charging_profile_id
            if profile_id is not None:
                if profile_id not in profiles:
                    profiles[profile_id] = await tx.charging_profiles.get(profile_id)
                profile = profiles[profile_id]
                if profile is not None:
                    profile_limit = profile_limit_at(profile, now, zone)
                    change = next_limit_change(profile, zone, now)
                    if change is not None and (next_change is None or change < next_change):
                        next_change = change
            samples = await _session_samples(tx, session, draws)
            wired = Phase[connector.phase.value]
            observed, power_type, phase = observed_draw(samples, connector.power_type, wired)
            status = connector.status.status if connector.status is not None else None
            started_at = session.started_at or now
            previous = in_force.get(connector.id)
            if previous is None and connector.id in pinned_ids:
                # it never took a limit: its station may let it draw its whole rating
                previous = connector.max_power_w if power_type is _DC else connector.amperage
            loads.append(
                ConnectorLoad(
                    connector_id=connector.id,
                    arrival=int(started_at.timestamp() * 1_000_000),
                    power_type=power_type,
                    voltage=connector.voltage,
                    amperage=connector.amperage,
                    wattage_limit=connector.wattage_limit,
                    phase=phase,
                    profile_limit=profile_limit,
                    observed=observed,
                    suspended_ev=status is ConnectorStatus.SUSPENDED_EV,
                    previous=previous,
                    pinned=connector.id in pinned_ids,
                )
            )
            targets[connector.id] = Target(
                station.id,
                station.protocol,
                charger.id,
                connector.ocpp_id,
                charger.evse_id,
                session.transaction_id,
            )
    if draws is not None:
        draws.keep((s.station_id, s.transaction_id) for s in sessions)
    allocation = allocate(limit, loads)
    return AreaView(
        area.id,
        limit,
        allocation,
        targets,
        now,
        in_force={k: v for k, v in in_force.items() if k in targets},
        pinned=frozenset(k for k in pinned_ids if k in targets),
        next_change=next_change,
        compute_s=time.perf_counter() - started,
    )


async def compute_allocations(repository: Repository, area: Area, now: datetime) -> AreaView | None:
    """The area's allocation from the stored state at ``now``, as a balancer that has sent
    nothing yet would compute it; ``None`` if the area has no output limit."""
    limit = area_limit(area)
    if limit is None:
        return None
    return await _read_area(repository, area, limit, now, in_force={}, pinned=())


def allocations_to_json(view: AreaView | None, area: Area | None = None) -> dict[str, Any]:
    """The allocations JSON of the admin API and the CLI (``GET
    /api/areas/{area_id}/allocations``)."""
    if view is None:
        return {
            "area_id": area.id if area is not None else None,
            "balanced": False,
            "limit": None,
            "computed_at": None,
            "phase_current_a": [0, 0, 0],
            "power_w": 0,
            "paused": 0,
            "next_change": None,
            "allocations": [],
        }
    items = []
    for allocation in view.allocation:
        target = view.targets[allocation.connector_id]
        items.append(
            {
                "connector_id": allocation.connector_id,
                "station_id": target.station_id,
                "charger_id": target.charger_id,
                "transaction_id": target.transaction_id,
                "limit": allocation.limit,
                "unit": allocation.unit.value,
                "state": allocation.state.value,
                "phases": allocation.phases,
                "current_a": allocation.current_a,
                "power_w": allocation.power_w,
                "in_force": view.in_force.get(allocation.connector_id),
                "pinned": allocation.connector_id in view.pinned,
            }
        )
    return {
        "area_id": view.area_id,
        "balanced": True,
        "limit": {"current_a": view.limit.current_a, "power_w": view.limit.power_w},
        "computed_at": view.computed_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "phase_current_a": list(view.allocation.phase_current_a),
        "power_w": view.allocation.power_w,
        "paused": sum(1 for a in view.allocation if a.state is AllocationState.PAUSED),
        "next_change": (
            view.next_change.astimezone(UTC).isoformat().replace("+00:00", "Z")
            if view.next_change is not None
            else None
        ),
        "allocations": items,
    }


# --- background work -------------------------------------------------------------------------


class _Tasks:
    """Background tasks and timers of one service, cancelled together."""

    def __init__(self) -> None:
        self.tasks: set[asyncio.Task[Any]] = set()
        self.timers: dict[object, asyncio.TimerHandle] = {}
        self.closed = False

    def spawn(self, work: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # published outside the event loop: nothing can be sent
            work.close()
            return None
        if self.closed:
            work.close()
            return None
        task = loop.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("background work failed", exc_info=task.exception())

    def at(self, key: object, when: datetime, now: datetime, action: Callable[[], None]) -> None:
        """Run ``action`` at ``when`` (replacing the timer of ``key``)."""
        self.after(key, (when - now).total_seconds(), action)

    def after(self, key: object, delay_s: float, action: Callable[[], None]) -> None:
        """Run ``action`` in ``delay_s`` seconds (replacing the timer of ``key``)."""
        self.cancel(key)
        if self.closed or not math.isfinite(delay_s):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self.timers[key] = loop.call_later(max(0.0, delay_s), self._fire, key, action)

    def _fire(self, key: object, action: Callable[[], None]) -> None:
        self.timers.pop(key, None)
        action()

    def cancel(self, key: object) -> None:
        timer = self.timers.pop(key, None)
        if timer is not None:
            timer.cancel()

    def cancel_all(self) -> list[asyncio.Task[Any]]:
        """Cancel every timer and task, and take no more; the tasks still to finish."""
        self.closed = True
        for timer in self.timers.values():
            timer.cancel()
        self.timers.clear()
        pending = [t for t in self.tasks if not t.done()]
        for task in pending:
            task.cancel()
        return pending

    async def aclose(self) -> None:
        pending = self.cancel_all()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def _set_profile(
    commands: CommandService, station: Station | Target, payload: Mapping[str, Any]
) -> str | None:
    """Send a SetChargingProfile payload built by :mod:`evcharge_core.smart_charging`;
    ``None`` if accepted, else why not."""
    station_id = station.id if isinstance(station, Station) else station.station_id
    try:
        if "evseId" in payload:
            evse = payload["evseId"]
            status = await commands.set_charging_profile(
                station_id, evse, payload["chargingProfile"], evse_id=evse
            )
        else:
            status = await commands.set_charging_profile(
                station_id, payload["connectorId"], payload["csChargingProfiles"]
            )
    except EvchargeError as error:
        return str(error) or type(error).__name__
    return None if status == "Accepted" else f"the station answered {status}"


# --- charger profiles ------------------------------------------------------------------------


@attrs.frozen
class ProfileSendStatus:
    """The last attempt to put a charger's profile on its station."""

    charger_id: str
    profile_id: str | None
    at: datetime
    accepted: bool
    error: str | None = None
    resend_at: datetime | None = None


@attrs.frozen
class _Placed:
    """What a charger's profile was last put on its station as: the OCPP profile ids (they
    follow from the charger's purpose) and the time zone its schedule was anchored in."""

    station_id: str
    profile_ids: tuple[int, ...]
    zone: str


class ProfileSender:
    """Sends chargers' charging profiles to their stations (see the module docstring).
    Subscribe :meth:`on_event` to the event bus.

    An operator's change to a station (:class:`~evcharge_core.domain.events.StationChanged`)
    can change how a profile must be put on it: a second charger turns a lone charger's
    station maximum into a TxDefaultProfile (and deleting it, the reverse), another area
    may have another time zone. The sender remembers where each profile went and, for a
    connected station, clears the ids no longer right and sends the profile again."""

    def __init__(
        self,
        repository: Repository,
        commands: CommandService,
        *,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        retry_after_s: float = 60.0,
    ) -> None:
        from .bus import NullEventSink

        self.repository = repository
        self.commands = commands
        self.events: EventSink = events if events is not None else NullEventSink()
        self.clock = clock
        self.retry_after_s = retry_after_s
        """How long after a send the station did not take it is tried again; doubled at
        each failure in a row, up to an hour."""
        self._statuses: dict[str, ProfileSendStatus] = {}
        self._failures: dict[str, int] = {}  # charger id -> failed sends in a row
        self._placed: dict[str, _Placed] = {}
        self._station_of: dict[str, str] = {}  # charger id -> station id, for the two above
        self._work = _Tasks()

    def status(self, charger_id: str) -> ProfileSendStatus | None:
        """The last attempt to send the charger's profile (or clear it), if any."""
        return self._statuses.get(charger_id)

    def on_event(self, event: Event) -> None:
        if isinstance(event, StationConnected):
            self._work.spawn(self.send_station(event.station_id, connecting=True))
        elif isinstance(event, BootConfigured) and event.cleared_profiles:
            self._work.spawn(self.send_station(event.station_id))
        elif isinstance(event, ChargingProfileAssigned):
            self._work.spawn(
                self.send_charger(event.station_id, event.charger_id, previous=event.previous)
            )
        elif isinstance(event, ChargingProfileChanged) and not event.created:
            self._work.spawn(self.send_profile(event.profile_id))
        elif isinstance(event, AreaChanged):  # its time zone may have changed
            self._work.spawn(self._send_area(event.area_id))
        elif isinstance(event, StationChanged):  # its chargers or its area may have changed
            self._work.spawn(self._station_changed(event.station_id))
        elif isinstance(event, StationDeleted):
            self._forget(event.station_id, keep=())

    async def aclose(self) -> None:
        await self._work.aclose()

    async def send_station(self, station_id: str, *, connecting: bool = False) -> None:
        """Send every charger's profile of the station. ``connecting``: unless its boot
        configuration is about to clear them (they are sent once that is done)."""
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
        if station is None:
            return
        if connecting and station.boot_configuration.clear_charging_profiles:
            return
        for charger in station.chargers:
            if charger.charging_profile_id is not None:
                await self.send_charger(station_id, charger.id)

    async def send_profile(self, profile_id: str) -> None:
        """Send the profile again to every connected station with a charger using it."""
        users: list[tuple[str, str]] = []
        async with self.repository.transaction() as tx:
            page = 1
            while True:
                found = await tx.stations.list(StationQuery(page=page, page_size=_PAGE))
                users.extend(
                    (station.id, charger.id)
                    for station in found.items
                    for charger in station.chargers
                    if charger.charging_profile_id == profile_id
                )
                if page * _PAGE >= found.total:
                    break
                page += 1
        for station_id, charger_id in users:
            await self.send_charger(station_id, charger_id)

    def _forget(self, station_id: str, *, keep: Iterable[str]) -> list[_Placed]:
        """Drop what is remembered of the station's chargers not in ``keep``; what they
        had placed."""
        kept = set(keep)
        gone = [c for c, s in self._station_of.items() if s == station_id and c not in kept]
        dropped = []
        for charger_id in gone:
            del self._station_of[charger_id]
            self._statuses.pop(charger_id, None)
            self._failures.pop(charger_id, None)
            self._work.cancel(("resend", charger_id))
            placed = self._placed.pop(charger_id, None)
            if placed is not None:
                dropped.append(placed)
        return dropped

    async def _station_changed(self, station_id: str) -> None:
        """Put the station's profiles right after an operator's change (see the class
        docstring); a station not connected here is sent them when it connects."""
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            area = None
            if station is not None and station.area_id:
                area = await tx.areas.get(station.area_id)
        if station is None:
            self._forget(station_id, keep=())
            return
        dropped = self._forget(station_id, keep=(c.id for c in station.chargers))
        if not self.commands.is_connected(station_id):
            return
        in_use = self._ids_in_use(station_id)
        for placed in dropped:  # a deleted charger's profile: off the station
            error = await self._clear_ids(station_id, sorted(set(placed.profile_ids) - in_use))
            if error is not None:
                logger.warning("station %s: cannot clear a charging profile: %s", station_id, error)
        # a charger not sent its profile yet is sent it on assignment and on connection
        await self._refresh(station, area, unsent=False)

    async def _refresh(self, station: Station, area: Area | None, *, unsent: bool) -> None:
        """Send again the chargers' profiles that were put on the station under other ids
        or in another time zone (``unsent``: and those not put on it yet)."""
        zone = area.time_zone if area is not None else "UTC"
        purpose = charger_profile_purpose(len(station.chargers))
        for charger in station.chargers:
            sent = self._placed.get(charger.id)
            if charger.charging_profile_id is None or (sent is None and not unsent):
                continue
            ids = tuple(_charger_profile_ids(station, charger, purpose))
            if sent is None or sent.profile_ids != ids or sent.zone != zone:
                await self.send_charger(station.id, charger.id)

    def _ids_in_use(self, station_id: str, *, besides: str | None = None) -> set[int]:
        """The profile ids the station's chargers (but ``besides``) were last sent."""
        return {
            profile_id
            for charger_id, placed in self._placed.items()
            if placed.station_id == station_id and charger_id != besides
            for profile_id in placed.profile_ids
        }

    async def _clear_ids(self, station_id: str, ids: Iterable[int]) -> str | None:
        try:
            for profile_id in ids:
                await self.commands.clear_charging_profile(station_id, profile_id=profile_id)
        except EvchargeError as error:
            return str(error) or type(error).__name__
        return None

    async def _send_area(self, area_id: str) -> None:
        """After a change to the area: its stations' profiles whose time zone changed (not
        on every change: an output limit tuned often would send every profile each time,
        ahead of the balancer's new limits on the same stations)."""
        async with self.repository.transaction() as tx:
            area = await tx.areas.get(area_id)
            stations = await _area_stations(tx, area_id)  # every page of them
        for station in stations.values():
            if self.commands.is_connected(station.id):
                await self._refresh(station, area, unsent=True)

    async def send_charger(
        self, station_id: str, charger_id: str, *, previous: str | None = None
    ) -> ProfileSendStatus | None:
        """Put the charger's profile on its station (or clear the former one, when it has
        none now); ``None`` if the station is not connected (it is sent on connection)."""
        if not self.commands.is_connected(station_id):
            return None
        now = self.clock()
        async with self.repository.transaction() as tx:
            station = await tx.stations.get(station_id)
            charger = station.charger_by_id(charger_id) if station is not None else None
            if station is None or charger is None:
                return None
            profile_id = charger.charging_profile_id
            profile = None
            if profile_id is not None:
                profile = await tx.charging_profiles.get(profile_id)
            area = await tx.areas.get(station.area_id) if station.area_id else None
        zone_name = area.time_zone if area is not None else "UTC"
        zone = _zone(zone_name) if area is not None else UTC
        purpose = charger_profile_purpose(len(station.chargers))
        ids = _charger_profile_ids(station, charger, purpose)
        placed = self._placed.get(charger_id)
        others = self._ids_in_use(station_id, besides=charger_id)
        error: str | None = None
        resend_at: datetime | None = None
        retry = True
        if profile is None:
            if previous is None and placed is None:
                return None
            former = set(ids) | set(placed.profile_ids if placed is not None else ())
            error = await self._clear_ids(station_id, sorted(former - others))
            if error is None:
                self._placed.pop(charger_id, None)
        else:
            requests = _charger_requests(station, charger, profile, zone, now, purpose=purpose)
            error = await self._check_periods(station, requests)
            retry = error is None  # too many periods: only a change to the profile helps
            if error is None and placed is not None:
                # put on the station under other ids (its purpose changed): those go first
                stale = set(placed.profile_ids) - set(ids) - others
                error = await self._clear_ids(station_id, sorted(stale))
            if error is None:
                error, resend_at = await self._put(station, requests)
            if error is None:
                self._placed[charger_id] = _Placed(station_id, tuple(ids), zone_name)
        return self._report(
            station_id,
            ProfileSendStatus(charger_id, profile_id, now, error is None, error, resend_at),
            retry=retry,
        )

    def _report(
        self, station_id: str, status: ProfileSendStatus, *, retry: bool
    ) -> ProfileSendStatus:
        """Keep, publish and log the outcome of a send; arm the resend (after a failure:
        the retry, unless ``retry`` is false)."""
        charger_id, profile_id, error = status.charger_id, status.profile_id, status.error
        now, resend_at = status.at, status.resend_at
        if error is None:
            self._failures.pop(charger_id, None)
        elif retry:
            failures = self._failures.get(charger_id, 0)
            self._failures[charger_id] = failures + 1
            delay = min(self.retry_after_s * 2 ** min(failures, 16), 3600.0)
            resend_at = now + timedelta(seconds=delay)
            status = attrs.evolve(status, resend_at=resend_at)
        else:
            resend_at = None
            status = attrs.evolve(status, resend_at=None)
        self._statuses[charger_id] = status
        self._station_of[charger_id] = station_id
        if error is None:
            self.events.publish([ChargingProfileSent(station_id, charger_id, profile_id)])
        else:
            logger.warning(
                "station %s: charging profile of charger %s not taken: %s",
                station_id,
                charger_id,
                error,
            )
            self.events.publish(
                [ChargingProfileRejected(station_id, charger_id, profile_id, error)]
            )
        if resend_at is not None:
            self._work.at(
                ("resend", charger_id),
                resend_at,
                now,
                lambda: self._resend(station_id, charger_id),
            )
        return status

    async def _put(
        self, station: Station, requests: Sequence[ProfileRequest]
    ) -> tuple[str | None, datetime | None]:
        """Send the requests in order, up to the first not taken; why not, and when to send
        them again."""
        resend_at = None
        for request in requests:
            resend_at = request.resend_at
            error = await _set_profile(self.commands, station, request.payload)
            if error is not None:
                return error, resend_at
        return None, resend_at

    async def _check_periods(
        self, station: Station, requests: Sequence[ProfileRequest]
    ) -> str | None:
        """Why the station cannot take these requests (more periods than its
        ``ChargingScheduleMaxPeriods``, 2.0.1 ``SmartChargingCtrlr.PeriodsPerSchedule``);
        ``None`` if it can, or if it does not say."""
        key = _MAX_PERIODS_KEYS[station.protocol is Protocol.OCPP201]
        try:
            answer = await self.commands.get_configuration(station.id, [key])
        except EvchargeError:
            return None  # unknown: send, and let the station answer
        entry = next((e for e in answer.entries if e.key == key), None)
        try:
            allowed = int(entry.value) if entry is not None and entry.value else None
        except ValueError:
            allowed = None
        count = max((_period_count(r.payload) for r in requests), default=0)
        if allowed is not None and count > allowed:
            return f"the profile needs {count} periods, the station takes at most {allowed} ({key})"
        return None

    def _resend(self, station_id: str, charger_id: str) -> None:
        self._work.spawn(self.send_charger(station_id, charger_id))


_MAX_PERIODS_KEYS: Final = {
    False: "ChargingScheduleMaxPeriods",
    True: "SmartChargingCtrlr.PeriodsPerSchedule",
}


def _period_count(payload: Mapping[str, Any]) -> int:
    if "chargingProfile" in payload:
        schedules = payload["chargingProfile"]["chargingSchedule"]
        return max(len(s["chargingSchedulePeriod"]) for s in schedules)
    return len(payload["csChargingProfiles"]["chargingSchedule"]["chargingSchedulePeriod"])


def _charger_profile_ids(station: Station, charger: Charger, purpose: ProfilePurpose) -> list[int]:
    if purpose is ProfilePurpose.STATION_MAX:
        return [STATION_MAX_PROFILE_ID]
    if station.protocol is Protocol.OCPP201:
        return [TX_DEFAULT_PROFILE_ID_BASE + charger.evse_id]
    return [TX_DEFAULT_PROFILE_ID_BASE + c.ocpp_id for c in charger.connectors]


def _charger_requests(
    station: Station,
    charger: Charger,
    profile: ChargingProfile,
    zone: tzinfo,
    now: datetime,
    *,
    purpose: ProfilePurpose,
) -> list[ProfileRequest]:
    """The SetChargingProfile requests that put ``profile`` on ``charger``."""
    level = CHARGER_STACK_LEVEL
    if station.protocol is Protocol.OCPP201:
        evse = 0 if purpose is ProfilePurpose.STATION_MAX else charger.evse_id
        profile_id = _charger_profile_ids(station, charger, purpose)[0]
        return [
            ocpp201_charger_profile(
                profile,
                zone,
                now,
                profile_id=profile_id,
                evse_id=evse,
                stack_level=level,
                purpose=purpose,
            )
        ]
    if purpose is ProfilePurpose.STATION_MAX:
        return [
            ocpp16_charger_profile(
                profile,
                zone,
                now,
                profile_id=STATION_MAX_PROFILE_ID,
                connector_id=0,
                stack_level=level,
                purpose=purpose,
            )
        ]
    return [
        ocpp16_charger_profile(
            profile,
            zone,
            now,
            profile_id=TX_DEFAULT_PROFILE_ID_BASE + connector.ocpp_id,
            connector_id=connector.ocpp_id,
            stack_level=level,
            purpose=purpose,
        )
        for connector in charger.connectors
    ]


# --- the balancer ----------------------------------------------------------------------------


@attrs.define
class _AreaState:
    draws: _DrawCache
    in_force: dict[str, int] = attrs.Factory(dict)
    pinned: set[str] = attrs.Factory(set)
    view: AreaView | None = None
    running: asyncio.Task[None] | None = None
    again: bool = False
    runs: int = 0


class Balancer:
    """Dynamic load balancing of every area with an output limit (see the module
    docstring). Subscribe :meth:`on_event` to the event bus; read :meth:`allocations`.

    ``commands`` sends the TxProfiles (``None``: nothing is sent, every change counts as
    rejected); ``retry_after_s`` is how long a pinned connector waits before it is tried
    again.

    ``active=False`` makes a balancer that ignores events until :meth:`set_active`: with
    several gateway processes (:mod:`evcharge_core.cluster`) only the one holding the
    cluster's ``balancer`` role balances, so that no station is sent a limit twice.
    """

    def __init__(
        self,
        repository: Repository,
        commands: CommandService | None,
        *,
        events: EventSink | None = None,
        clock: Callable[[], datetime] = utc_now,
        retry_after_s: float = 60.0,
        active: bool = True,
    ) -> None:
        from .bus import NullEventSink

        self.repository = repository
        self.commands = commands
        self.events: EventSink = events if events is not None else NullEventSink()
        self.clock = clock
        self.retry_after_s = retry_after_s
        self.active = active
        self._areas: dict[str, _AreaState] = {}
        self._station_areas: dict[str, str | None] = {}
        self._work = _Tasks()
        self._stood_down: set[asyncio.Task[Any]] = set()  # cancelled by set_active(False)
        # what makes an area's cached meter values (_DrawCache) valid: a stamp per session
        # from its last MeterValuesReceived, and an epoch that recompute() moves on
        self._meter_stamps: dict[_SessionKey, int] = {}
        self._stamps = itertools.count(1)
        self._epoch = 0

    def _draws(self) -> _DrawCache:
        return _DrawCache(lambda key: (self._epoch, self._meter_stamps.get(key, 0)))

    # --- reading ---------------------------------------------------------------------------

    def allocations(self, area_id: str) -> AreaView | None:
        """The area's last computed allocation, with what is in force and pinned; ``None``
        if it was never computed (or has no output limit)."""
        state = self._areas.get(area_id)
        return state.view if state is not None else None

    def views(self) -> list[AreaView]:
        """Every area's last computation (for metrics)."""
        return [s.view for s in self._areas.values() if s.view is not None]

    def runs(self, area_id: str) -> int:
        """How many computations of the area ran (coalescing makes it fewer than events)."""
        state = self._areas.get(area_id)
        return state.runs if state is not None else 0

    # --- requesting ------------------------------------------------------------------------

    def request(self, area_id: str) -> asyncio.Task[None] | None:
        """Recompute the area soon: now if no computation of it runs, else once more after
        the running one (however many requests arrive meanwhile). ``None`` while the
        balancer is not active."""
        if not self.active:
            return None
        state = self._areas.setdefault(area_id, _AreaState(self._draws()))
        if state.running is not None and not state.running.done():
            state.again = True
            return state.running
        state.running = self._work.spawn(self._run(area_id, state))
        return state.running

    async def recompute(self, area_id: str) -> AreaView | None:
        """Recompute the area and wait until its changes were sent; the view. Everything
        is read again, including meter values stored without an event."""
        self._epoch += 1
        task = self.request(area_id)
        if task is not None:
            await asyncio.shield(task)
        return self.allocations(area_id)

    def set_active(self, active: bool) -> None:
        """Start balancing (every area is recomputed, which sends every connector its
        limit, as after a restart) or stop (what was computed is forgotten: another
        process balances now, and the allocations route computes from storage)."""
        if active == self.active:
            return
        self.active = active
        if active:
            self._work.spawn(self.recompute_all())
        else:
            for task in self._work.cancel_all():  # aclose() waits for them to end
                self._stood_down.add(task)
                task.add_done_callback(self._stood_down.discard)
            self._work = _Tasks()
            self._areas.clear()
            self._station_areas.clear()
            self._meter_stamps.clear()

    async def recompute_all(self) -> None:
        """Recompute every area with an output limit (at start-up)."""
        async with self.repository.transaction() as tx:
            areas = await tx.areas.list()
        for area in areas:
            if area_limit(area) is not None:
                await self.recompute(area.id)

    async def aclose(self) -> None:
        await self._work.aclose()
        if self._stood_down:
            await asyncio.gather(*self._stood_down, return_exceptions=True)

    def on_event(self, event: Event) -> None:
        """An event bus subscriber: request the computations the event calls for."""
        if not self.active:
            return
        self._track_meter_values(event)
        if isinstance(event, AreaChanged | AreaDeleted):
            self.request(event.area_id)
        elif isinstance(event, ChargingProfileChanged | ChargingProfileAssigned):
            for area_id, state in self._areas.items():
                if state.view is not None:
                    self.request(area_id)
            if isinstance(event, ChargingProfileAssigned):
                self._work.spawn(self._station_event(event.station_id))
        elif isinstance(event, StationConnected):
            self._work.spawn(self._station_event(event.station_id, reconnected=True))
        elif isinstance(event, BootConfigured) and event.cleared_profiles:
            self._work.spawn(self._station_event(event.station_id, cleared=True))
        elif isinstance(event, StationChanged):  # its area or its chargers may have changed
            self._work.spawn(self._station_event(event.station_id, changed=True))
        elif isinstance(event, StationDeleted):  # its sessions no longer count
            self._station_deleted(event.station_id)
        elif isinstance(
            event,
            TransactionStarted | TransactionEnded | ConnectorStatusChanged | MeterValuesReceived,
        ):
            self._work.spawn(self._station_event(event.station_id))

    def _track_meter_values(self, event: Event) -> None:
        """Stamp a session anew at each of its MeterValuesReceived (see :class:`_DrawCache`)."""
        if isinstance(event, MeterValuesReceived) and event.transaction_id is not None:
            self._meter_stamps[event.station_id, event.transaction_id] = next(self._stamps)
        elif isinstance(event, TransactionEnded):
            self._meter_stamps.pop((event.station_id, event.transaction_id), None)

    def _station_deleted(self, station_id: str) -> None:
        former = self._station_areas.pop(station_id, None)
        if former is not None:
            self.request(former)

    async def _station_event(
        self,
        station_id: str,
        *,
        reconnected: bool = False,
        cleared: bool = False,
        changed: bool = False,
    ) -> None:
        """Recompute the station's area (its area is remembered, read again when the
        station changed or reconnected; a station that left an area has it recomputed)."""
        known = station_id in self._station_areas
        area_id = self._station_areas.get(station_id)
        if not known or reconnected or changed:
            async with self.repository.transaction() as tx:
                station = await tx.stations.get(station_id)
            area_id = station.area_id if station is not None else None
            former = self._station_areas.get(station_id)
            self._station_areas[station_id] = area_id
            if former is not None and former != area_id:
                self.request(former)
        if area_id is None:
            return
        state = self._areas.setdefault(area_id, _AreaState(self._draws()))
        if (reconnected or cleared) and state.view is not None:
            for connector_id, target in state.view.targets.items():
                if target.station_id == station_id:
                    state.pinned.discard(connector_id)
                    if cleared:  # its TxProfiles are gone
                        state.in_force.pop(connector_id, None)
        self.request(area_id)

    # --- computing -------------------------------------------------------------------------

    async def _run(self, area_id: str, state: _AreaState) -> None:
        while True:
            state.again = False
            try:
                await self._compute(area_id, state)
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("area %s: load balancing failed", area_id)
            if not state.again:
                return

    async def _compute(self, area_id: str, state: _AreaState) -> None:
        state.runs += 1
        now = self.clock()
        async with self.repository.transaction() as tx:
            area = await tx.areas.get(area_id)
        limit = area_limit(area) if area is not None else None
        if area is None or limit is None:
            # No longer balanced: lift the limits the balancer put in force.
            if state.view is not None and state.in_force:
                await self._lift(state.view.targets, list(state.in_force))
            state.view = None
            state.in_force.clear()
            state.pinned.clear()
            self._work.cancel(("boundary", area_id))
            return
        view = await _read_area(
            self.repository,
            area,
            limit,
            now,
            in_force=state.in_force,
            pinned=state.pinned,
            draws=state.draws,
        )
        for gone in [c for c in state.in_force if c not in view.targets]:
            del state.in_force[gone]
        state.pinned &= set(view.targets)
        events, failed = await self._send_changes(area_id, state, view)
        if failed:
            # A station did not take its change: compute again at once, counting its
            # connector at the limit in force (pinned), so the others fit around it.
            state.again = True
        state.view = attrs.evolve(
            view, in_force=dict(state.in_force), pinned=frozenset(state.pinned)
        )
        if events:
            self.events.publish(events)
        if view.next_change is not None:
            self._work.at(
                ("boundary", area_id),
                view.next_change,
                now,
                lambda: self._boundary(area_id),
            )
        if state.pinned and ("retry", area_id) not in self._work.timers:
            # From the first rejection, not the latest computation: an area computed more
            # often than retry_after_s (meter values) would otherwise never retry.
            self._work.after(("retry", area_id), self.retry_after_s, lambda: self._retry(area_id))

    async def _send_changes(
        self, area_id: str, state: _AreaState, view: AreaView
    ) -> tuple[list[Event], bool]:
        """Send the changed limits, decreases first; the events, and whether a station did
        not take its change (its connector is then pinned)."""
        changes = allocation_changes(state.in_force, view.allocation)
        events: list[Event] = []
        failed = False
        for group in (changes.decreases, changes.increases):
            sending = [a for a in group if a.connector_id not in state.pinned]
            if not sending:
                continue
            if failed:  # the increases assumed the decreases were taken: not sent
                break
            errors = await asyncio.gather(
                *(self._send(view.targets[a.connector_id], a) for a in sending)
            )
            for allocation, error in zip(sending, errors, strict=True):
                connector_id = allocation.connector_id
                target = view.targets[connector_id]
                if error is None:
                    events.append(
                        AllocationChanged(
                            area_id,
                            target.station_id,
                            connector_id,
                            state.in_force.get(connector_id),
                            allocation.limit,
                            allocation.unit,
                            allocation.state,
                        )
                    )
                    state.in_force[connector_id] = allocation.limit
                else:
                    logger.warning(
                        "area %s: station %s did not take limit %s %s for connector %s: %s",
                        area_id,
                        target.station_id,
                        allocation.limit,
                        allocation.unit.value,
                        connector_id,
                        error,
                    )
                    state.pinned.add(connector_id)
                    failed = True
                    events.append(
                        AllocationRejected(
                            area_id,
                            target.station_id,
                            connector_id,
                            allocation.limit,
                            allocation.unit,
                            error,
                        )
                    )
        return events, failed

    def _boundary(self, area_id: str) -> None:
        self.request(area_id)

    def _retry(self, area_id: str) -> None:
        state = self._areas.get(area_id)
        if state is not None and state.pinned:
            state.pinned.clear()
            self.request(area_id)

    async def _lift(self, targets: Mapping[str, Target], connector_ids: Sequence[str]) -> None:
        """Clear the balancer's TxProfiles of these connectors (best effort: a station that
        does not answer keeps its limit until the transaction ends)."""
        if self.commands is None:
            return
        for connector_id in connector_ids:
            target = targets.get(connector_id)
            if target is None:
                continue
            number = (
                target.evse_id if target.protocol is Protocol.OCPP201 else target.connector_ocpp_id
            )
            try:
                await self.commands.clear_charging_profile(
                    target.station_id, profile_id=TX_PROFILE_ID_BASE + number
                )
            except EvchargeError as error:
                logger.warning(
                    "station %s: cannot lift the limit of connector %s: %s",
                    target.station_id,
                    connector_id,
                    error,
                )

    async def _send(self, target: Target, allocation: Any) -> str | None:
        if self.commands is None:
            return "no command service to send with"
        try:
            if target.protocol is Protocol.OCPP201:
                payload = ocpp201_tx_profile(
                    allocation,
                    evse_id=target.evse_id,
                    transaction_id=target.transaction_id,
                    profile_id=TX_PROFILE_ID_BASE + target.evse_id,
                    stack_level=TX_STACK_LEVEL,
                )
            else:
                payload = ocpp16_tx_profile(
                    allocation,
                    connector_id=target.connector_ocpp_id,
                    transaction_id=int(target.transaction_id),
                    profile_id=TX_PROFILE_ID_BASE + target.connector_ocpp_id,
                    stack_level=TX_STACK_LEVEL,
                )
        except ValueError as error:
            return f"cannot build the TxProfile: {error}"
        return await _set_profile(self.commands, target, payload)

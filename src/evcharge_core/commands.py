"""Operator commands to connected stations, whatever OCPP version they speak.

:class:`CommandService` is the async library API behind the admin HTTP API and the CLI::

    commands = CommandService(gateway, stations)
    result = await commands.get_configuration("ST1", ["HeartbeatInterval"])
    status = await commands.change_configuration("ST1", "HeartbeatInterval", "600")

It finds the station's live session through ``sessions`` (the
:class:`~evcharge_core.adapters.websocket.WebsocketGateway`, or anything with its
``session(station_id)`` and ``disconnect(station_id)``; with an async
``find_session(station_id)`` too, a :class:`RoutedLiveSessions`, it also reaches stations
connected to another gateway process, see :mod:`evcharge_core.cluster`) and speaks to it through the
session's ``commands``: a :class:`StationCommands` that translates each command into the
station's protocol (OCPP 1.6: :class:`evcharge_core.ocpp16.Ocpp16Commands`; OCPP 2.0.1:
:class:`evcharge_core.ocpp201.Ocpp201Commands`).

**The same calls for both versions.** Configuration keys are 1.6 names
(``HeartbeatInterval``) or 2.0.1 ``Component.Variable`` keys
(``OCPPCommCtrlr.HeartbeatInterval``, full form in
:mod:`evcharge_core.domain.device_model`). ``connector_id`` numbers connectors as OCPP 1.6
does (0: the station as a whole); OCPP 2.0.1 turned that connector into its EVSE, so for a
2.0.1 station it is the EVSE ID, unless ``evse_id`` is given (2.0.1 only), which makes
``connector_id`` the connector within that EVSE. Reset types are 1.6's ``Soft`` and
``Hard`` (for 2.0.1 ``OnIdle`` and ``Immediate``, which 2.0.1 stations also take as they
are).

Errors, the same for every command:

* :class:`~evcharge_core.errors.NotFound`: no such station (when ``stations`` is given);
* :class:`~evcharge_core.errors.StationNotConnected`: the station has no connection (at
  once), or lost it while the command waited;
* :class:`~evcharge_core.errors.Conflict`: connected, but its protocol has no command
  support yet;
* :class:`~evcharge_core.errors.InvalidInput`: arguments the station's protocol rejects,
  checked against its schema before anything is sent;
* :class:`~evcharge_core.errors.CommandTimeout`: no answer in time (``timeout``, default
  30 s, counts from the call, waiting for an earlier command to the station included);
* :class:`~evcharge_core.errors.StationCallError`: the station answered with a CallError
  (``code``, ``description``); its subclass
  :class:`~evcharge_core.errors.StationProtocolError` when the answer broke the protocol.

**Passwords.** A configuration write of the station's password key (1.6
``AuthorizationKey``, 2.0.1 ``SecurityCtrlr.BasicAuthPassword``) that the station accepts
(``Accepted`` or ``RebootRequired``) stores the new password's hash through
``stations.update_station``; :meth:`CommandService.rotate_password` draws a new random
password and does the same. The station keeps its old
password until it accepts, so nothing is stored before.

**Metrics.** Each command's duration, whatever its outcome, is reported to the
``observer`` (a :class:`~evcharge_core.observability.MessageObserver`), under the method's
name (``get_configuration``, ``reset``...).

**Activation while connected.** Subscribe :meth:`CommandService.on_event` to the event
bus: when a connected station is activated it is sent TriggerMessage(BootNotification), so
that its next BootNotification is answered Accepted without waiting for its retry interval.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import string
import time
from collections.abc import Callable, Coroutine, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Final, NamedTuple, Protocol, runtime_checkable

import attrs

from .domain.events import Event, StationActivated
from .domain.model import Station
from .domain.qr import QrTarget
from .domain.values import Protocol as OcppProtocol
from .errors import Conflict, EvchargeError, InvalidInput, Issue, StationNotConnected
from .observability import MessageObserver, NullObserver

__all__ = [
    "DEFAULT_TIMEOUT",
    "PASSWORD_TAKEN",
    "CommandService",
    "ConfigurationEntry",
    "ConfigurationResult",
    "LiveSessions",
    "ReportResult",
    "ReservationResult",
    "RoutedLiveSessions",
    "StationCommands",
    "StationDirectory",
    "SupportsCommands",
    "qr_start_number",
    "random_password",
]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT: Final = 30.0
"""Seconds a command waits for the station's answer unless told otherwise."""

PASSWORD_TAKEN: Final = frozenset({"Accepted", "RebootRequired"})
"""Answers to a password write after which the station uses the new password."""

_PASSWORD_ALPHABET: Final = string.ascii_letters + string.digits
PASSWORD_LENGTH: Final = 20
"""Generated passwords: 20 letters and digits (about 119 bits), within both OCPP 1.6's
AuthorizationKey (16 to 20 bytes) and 2.0.1's BasicAuthPassword (16 to 40 characters)."""


def qr_start_number(target: QrTarget) -> int | None:
    """The number :meth:`CommandService.remote_start_at` sends for a QR target: the
    connector's OCPP id, or for an OCPP 2.0.1 station the EVSE id (``None`` would let the
    station choose; a target always names a charger)."""
    if target.station.protocol is OcppProtocol.OCPP201:
        return target.charger.evse_id
    return None if target.connector is None else target.connector.ocpp_id


def random_password(length: int = PASSWORD_LENGTH) -> str:
    """A random station password of ``length`` letters and digits (``secrets``)."""
    return "".join(secrets.choice(_PASSWORD_ALPHABET) for _ in range(length))


class ConfigurationEntry(NamedTuple):
    """One configuration key a station reported: ``value`` is ``None`` if it did not say;
    ``readonly`` is ``None`` when nothing says (an OCPP 2.0.1 GetVariables answer does not,
    the station's reported device model does)."""

    key: str
    value: str | None
    readonly: bool | None


@attrs.frozen
class ConfigurationResult:
    """A live configuration read: the ``entries`` the station knows, the ``unknown_keys``
    it does not (of those asked for), and the keys it would not read, with its reason
    (``rejected``: OCPP 2.0.1 ``Rejected`` or ``NotSupportedAttributeType``)."""

    entries: tuple[ConfigurationEntry, ...]
    unknown_keys: tuple[str, ...] = ()
    rejected: tuple[tuple[str, str], ...] = ()


@attrs.frozen
class ReportResult:
    """The station's answer to a report request, and the request's id (its NotifyReport
    messages carry it)."""

    status: str
    request_id: int


@attrs.frozen
class ReservationResult:
    """The station's answer to a reservation, with the reservation's id (to cancel it)."""

    status: str
    reservation_id: int


class StationCommands(Protocol):
    """Operator commands in one protocol, bound to one station's connection. Each returns
    the station's answer status (``Accepted``, ``Rejected``...) unless said otherwise;
    ``timeout`` ``None`` means the session's default. ``evse_id`` (OCPP 2.0.1 only; an
    OCPP 1.6 station refuses it with :class:`~evcharge_core.errors.InvalidInput`) makes
    ``connector_id`` a connector within that EVSE (see the module docstring)."""

    @property
    def password_key(self) -> str:
        """The configuration key that holds the station's HTTP Basic auth password."""
        ...

    def is_password_key(self, key: str) -> bool:
        """Whether a write of ``key`` writes the password (however it is spelt)."""
        ...

    def password_for(self, value: str) -> str:
        """The password a station presents once it accepts ``value`` for
        :attr:`password_key`; :class:`~evcharge_core.errors.InvalidInput` if that is no
        usable password."""
        ...

    def password_value(self, password: str) -> str:
        """The :attr:`password_key` value that makes the station present ``password``."""
        ...

    async def get_configuration(
        self, keys: Sequence[str] = (), *, timeout: float | None = None
    ) -> ConfigurationResult: ...

    async def change_configuration(
        self, key: str, value: str, *, timeout: float | None = None
    ) -> str: ...

    async def get_base_report(
        self, report_base: str = "FullInventory", *, timeout: float | None = None
    ) -> ReportResult: ...

    async def trigger_message(
        self,
        message: str,
        connector_id: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str: ...

    async def reset(
        self,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str: ...

    async def remote_start(
        self,
        id_tag: str,
        connector_id: int | None = None,
        charging_profile: Mapping[str, Any] | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str: ...

    async def remote_stop(self, transaction_id: str, *, timeout: float | None = None) -> str: ...

    async def unlock(
        self, connector_id: int, *, evse_id: int | None = None, timeout: float | None = None
    ) -> str: ...

    async def change_availability(
        self,
        connector_id: int,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str: ...

    async def reserve_now(
        self,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        reservation_id: int,
        parent_id_tag: str | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str: ...

    async def cancel_reservation(
        self, reservation_id: int, *, timeout: float | None = None
    ) -> str: ...

    async def set_charging_profile(
        self,
        connector_id: int,
        profile: Mapping[str, Any],
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str: ...

    async def clear_charging_profile(
        self,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str: ...

    async def call(
        self, action: str, payload: Mapping[str, Any], *, timeout: float | None = None
    ) -> dict[str, Any]:
        """Any CSMS-to-station call of the protocol, validated against its schema; returns
        the station's answer payload."""
        ...


@runtime_checkable
class SupportsCommands(Protocol):
    """A live session that offers operator commands."""

    @property
    def commands(self) -> StationCommands: ...


class LiveSessions(Protocol):
    """Where live sessions are found (the websocket gateway)."""

    def session(self, station_id: str) -> object | None: ...

    async def disconnect(self, station_id: str) -> bool: ...


@runtime_checkable
class RoutedLiveSessions(LiveSessions, Protocol):
    """Live sessions that may be elsewhere (another gateway process): ``find_session`` also
    looks there (see :class:`evcharge_core.cluster.RoutedSessions`)."""

    async def find_session(self, station_id: str) -> object | None: ...


class StationDirectory(Protocol):
    """Stored stations, as :class:`~evcharge_core.service.StationService` offers them."""

    async def get_station(self, station_id: str) -> Station: ...

    async def update_station(self, station_id: str, body: Mapping[str, Any]) -> Station: ...


class CommandService:
    """Operator commands to connected stations (see the module docstring).

    ``sessions`` finds live sessions; ``stations`` (optional, needed for passwords and
    reservations) reads stored stations and stores new passwords; ``timeout`` is the
    default wait for an answer; ``observer`` is told how long each command took.
    """

    def __init__(
        self,
        sessions: LiveSessions,
        stations: StationDirectory | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        new_password: Callable[[], str] = random_password,
        new_reservation_id: Callable[[], int] = lambda: secrets.randbelow(2**31 - 1) + 1,
        observer: MessageObserver | None = None,
    ) -> None:
        self.sessions = sessions
        self.stations = stations
        self.timeout = timeout
        self.new_password = new_password
        self.new_reservation_id = new_reservation_id
        self.observer: MessageObserver = observer if observer is not None else NullObserver()
        self._tasks: set[asyncio.Task[None]] = set()

    # --- finding the station -------------------------------------------------------------

    def is_connected(self, station_id: str) -> bool:
        return self.sessions.session(station_id) is not None

    async def _commands(self, station_id: str) -> StationCommands:
        session = self.sessions.session(station_id)
        if session is None and isinstance(self.sessions, RoutedLiveSessions):
            session = await self.sessions.find_session(station_id)
        if session is None:
            if self.stations is not None:
                await self.stations.get_station(station_id)  # NotFound for an unknown one
            raise StationNotConnected(station_id)
        if not isinstance(session, SupportsCommands):
            raise Conflict(
                f"station {station_id} is connected, but commands are not implemented yet "
                "for its protocol"
            )
        return session.commands

    def _timeout(self, timeout: float | None) -> float:
        return self.timeout if timeout is None else timeout

    @contextmanager
    def _timed(self, command: str) -> Iterator[None]:
        """Report how long the block took as ``command``, however it ends."""
        started = time.perf_counter()
        try:
            yield
        finally:
            self.observer.command(command, time.perf_counter() - started)

    def _directory(self, what: str) -> StationDirectory:
        if self.stations is None:
            raise RuntimeError(f"{what} needs a CommandService built with stations")
        return self.stations

    # --- configuration -------------------------------------------------------------------

    async def get_configuration(
        self, station_id: str, keys: Sequence[str] = (), *, timeout: float | None = None
    ) -> ConfigurationResult:
        """Read configuration keys live (all of them if ``keys`` is empty)."""
        with self._timed("get_configuration"):
            commands = await self._commands(station_id)
            return await commands.get_configuration(list(keys), timeout=self._timeout(timeout))

    async def change_configuration(
        self, station_id: str, key: str, value: str, *, timeout: float | None = None
    ) -> str:
        """Write one configuration key live; return the station's status. A write of the
        password key stores the new password once the station takes it."""
        with self._timed("change_configuration"):
            commands = await self._commands(station_id)
            if not commands.is_password_key(key):
                return await commands.change_configuration(
                    key, value, timeout=self._timeout(timeout)
                )
            password = commands.password_for(value)
            return await self._send_password(station_id, commands, value, password, timeout)

    async def rotate_password(self, station_id: str, *, timeout: float | None = None) -> str:
        """Send the station a new random password; store it once the station takes it.
        Returns the station's status (the password itself is never returned)."""
        with self._timed("rotate_password"):
            commands = await self._commands(station_id)
            password = self.new_password()
            value = commands.password_value(password)
            return await self._send_password(station_id, commands, value, password, timeout)

    async def _send_password(
        self,
        station_id: str,
        commands: StationCommands,
        value: str,
        password: str,
        timeout: float | None,
    ) -> str:
        directory = self._directory("storing a station password")
        status = await commands.change_configuration(
            commands.password_key, value, timeout=self._timeout(timeout)
        )
        if status in PASSWORD_TAKEN:
            try:
                await directory.update_station(station_id, {"password": password})
            except Exception:
                logger.exception(
                    "station %s took a new password that could not be stored", station_id
                )
                raise
            logger.info("station %s: new password stored", station_id)
        return status

    async def get_base_report(
        self, station_id: str, report_base: str = "FullInventory", *, timeout: float | None = None
    ) -> ReportResult:
        """Ask an OCPP 2.0.1 station for a base report (``ConfigurationInventory``,
        ``FullInventory`` or ``SummaryInventory``); the NotifyReport messages that follow
        are stored as its device model. :class:`~evcharge_core.errors.Conflict` for an
        OCPP 1.6 station."""
        with self._timed("get_base_report"):
            commands = await self._commands(station_id)
            return await commands.get_base_report(report_base, timeout=self._timeout(timeout))

    # --- other commands ------------------------------------------------------------------

    async def trigger_message(
        self,
        station_id: str,
        message: str,
        connector_id: int | None = None,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """Ask the station to send ``message`` (``BootNotification``, ``Heartbeat``...)."""
        with self._timed("trigger_message"):
            commands = await self._commands(station_id)
            return await commands.trigger_message(
                message, connector_id, evse_id=evse_id, timeout=self._timeout(timeout)
            )

    async def reset(
        self,
        station_id: str,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """``type``: ``Soft`` or ``Hard`` (OCPP 2.0.1 also ``OnIdle``, ``Immediate``; and
        ``evse_id`` to reset one EVSE)."""
        with self._timed("reset"):
            commands = await self._commands(station_id)
            return await commands.reset(type, evse_id=evse_id, timeout=self._timeout(timeout))

    async def remote_start(
        self,
        station_id: str,
        id_tag: str,
        connector_id: int | None = None,
        *,
        evse_id: int | None = None,
        charging_profile: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Start a transaction for ``id_tag`` (1.6 RemoteStartTransaction, 2.0.1
        RequestStartTransaction)."""
        with self._timed("remote_start"):
            commands = await self._commands(station_id)
            return await commands.remote_start(
                id_tag,
                connector_id,
                charging_profile,
                evse_id=evse_id,
                timeout=self._timeout(timeout),
            )

    async def remote_start_at(
        self,
        target: QrTarget,
        id_tag: str,
        *,
        charging_profile: Mapping[str, Any] | None = None,
        timeout: float | None = None,
    ) -> str:
        """Start a session where a scanned QR code points (resolve the payload first with
        :meth:`~evcharge_core.service.StationService.resolve_qr`). The connector sent is
        the one the code names (OCPP 1.6 connector id); for an OCPP 2.0.1 station the
        number sent is the charger's EVSE id, as RequestStartTransaction names the EVSE and
        the station uses the connector the driver plugs in."""
        return await self.remote_start(
            target.station.id,
            id_tag,
            qr_start_number(target),
            charging_profile=charging_profile,
            timeout=timeout,
        )

    async def remote_stop(
        self, station_id: str, transaction_id: str | int, *, timeout: float | None = None
    ) -> str:
        with self._timed("remote_stop"):
            commands = await self._commands(station_id)
            return await commands.remote_stop(str(transaction_id), timeout=self._timeout(timeout))

    async def unlock(
        self,
        station_id: str,
        connector_id: int,
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        with self._timed("unlock"):
            commands = await self._commands(station_id)
            return await commands.unlock(
                connector_id, evse_id=evse_id, timeout=self._timeout(timeout)
            )

    async def change_availability(
        self,
        station_id: str,
        connector_id: int,
        type: str,  # noqa: A002 - OCPP's name for it
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """``type``: ``Operative`` or ``Inoperative``; connector 0 is the whole station."""
        with self._timed("change_availability"):
            commands = await self._commands(station_id)
            return await commands.change_availability(
                connector_id, type, evse_id=evse_id, timeout=self._timeout(timeout)
            )

    async def reserve_now(
        self,
        station_id: str,
        connector_id: int,
        id_tag: str,
        expiry_date: datetime,
        *,
        reservation_id: int | None = None,
        parent_id_tag: str | None = None,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> ReservationResult:
        """Reserve a connector (0: any connector of the station) until ``expiry_date``
        (timezone-aware); for OCPP 2.0.1 the EVSE (see the module docstring). Only chargers
        marked ``reservable`` take reservations: the connector's charger (for 0, every
        charger of the station) must be, else :class:`~evcharge_core.errors.Conflict`; an
        unknown connector is :class:`~evcharge_core.errors.InvalidInput`.
        ``reservation_id`` is drawn at random if not given."""
        with self._timed("reserve_now"):
            if expiry_date.utcoffset() is None:
                raise InvalidInput([Issue("must be timezone-aware", field="expiry_date")])
            await self._check_reservable(station_id, connector_id, evse_id)
            commands = await self._commands(station_id)
            chosen = self.new_reservation_id() if reservation_id is None else reservation_id
            status = await commands.reserve_now(
                connector_id,
                id_tag,
                expiry_date,
                chosen,
                parent_id_tag,
                evse_id=evse_id,
                timeout=self._timeout(timeout),
            )
            return ReservationResult(status, chosen)

    async def cancel_reservation(
        self, station_id: str, reservation_id: int, *, timeout: float | None = None
    ) -> str:
        """Cancel a reservation; the station must have a reservable charger."""
        with self._timed("cancel_reservation"):
            await self._check_reservable(station_id, None)
            commands = await self._commands(station_id)
            return await commands.cancel_reservation(reservation_id, timeout=self._timeout(timeout))

    async def _check_reservable(
        self, station_id: str, connector_id: int | None, evse_id: int | None = None
    ) -> None:
        station = await self._directory("a reservation").get_station(station_id)
        if station.protocol is OcppProtocol.OCPP201 and connector_id is not None:
            self._check_reservable_evse(station, evse_id if evse_id is not None else connector_id)
            return
        if connector_id is None:
            if not any(c.reservable for c in station.chargers):
                raise Conflict(f"station {station_id} has no reservable charger")
            return
        if connector_id == 0:
            if not station.chargers or not all(c.reservable for c in station.chargers):
                raise Conflict(
                    f"station {station_id}: connector 0 reserves any connector, so every "
                    "charger must be reservable"
                )
            return
        for charger, connector in station.iter_connectors():
            if connector.ocpp_id == connector_id:
                if not charger.reservable:
                    raise Conflict(
                        f"charger {charger.code} of station {station_id} is not reservable"
                    )
                return
        raise InvalidInput(
            [Issue(f"station {station_id} has no connector {connector_id}", field="connector_id")]
        )

    def _check_reservable_evse(self, station: Station, evse_id: int) -> None:
        """OCPP 2.0.1 reserves an EVSE (0: any): its charger must be reservable."""
        if evse_id == 0:
            if not station.chargers or not all(c.reservable for c in station.chargers):
                raise Conflict(
                    f"station {station.id}: EVSE 0 reserves any EVSE, so every charger must "
                    "be reservable"
                )
            return
        charger = next((c for c in station.chargers if c.evse_id == evse_id), None)
        if charger is None:
            raise InvalidInput(
                [Issue(f"station {station.id} has no EVSE {evse_id}", field="connector_id")]
            )
        if not charger.reservable:
            raise Conflict(f"charger {charger.code} of station {station.id} is not reservable")

    async def set_charging_profile(
        self,
        station_id: str,
        connector_id: int,
        profile: Mapping[str, Any],
        *,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """Send a charging profile, as the station's protocol writes it (1.6:
        ``csChargingProfiles``; 2.0.1: ``chargingProfile``)."""
        with self._timed("set_charging_profile"):
            commands = await self._commands(station_id)
            return await commands.set_charging_profile(
                connector_id, profile, evse_id=evse_id, timeout=self._timeout(timeout)
            )

    async def clear_charging_profile(
        self,
        station_id: str,
        *,
        profile_id: int | None = None,
        connector_id: int | None = None,
        purpose: str | None = None,
        stack_level: int | None = None,
        evse_id: int | None = None,
        timeout: float | None = None,
    ) -> str:
        """Clear the profiles matching every criterion given (none given: all of them).
        ``purpose`` may be written as either version names it (1.6
        ``ChargePointMaxProfile`` is 2.0.1 ``ChargingStationMaxProfile``)."""
        with self._timed("clear_charging_profile"):
            commands = await self._commands(station_id)
            return await commands.clear_charging_profile(
                profile_id,
                connector_id,
                purpose,
                stack_level,
                evse_id=evse_id,
                timeout=self._timeout(timeout),
            )

    async def call(
        self,
        station_id: str,
        action: str,
        payload: Mapping[str, Any],
        *,
        timeout: float | None = None,
    ) -> dict[str, Any]:
        """Send any CSMS-to-station call of the station's protocol (security extension
        included for 1.6), validated against its schema first; return the answer payload."""
        with self._timed("call"):
            commands = await self._commands(station_id)
            return await commands.call(action, payload, timeout=self._timeout(timeout))

    async def disconnect(self, station_id: str) -> None:
        """Close the station's websocket (it will reconnect on its own)."""
        with self._timed("disconnect"):
            if not await self.sessions.disconnect(station_id):
                if self.stations is not None:
                    await self.stations.get_station(station_id)
                raise StationNotConnected(station_id)

    # --- events --------------------------------------------------------------------------

    def on_event(self, event: Event) -> None:
        """An event bus subscriber: a connected station that is activated is sent
        TriggerMessage(BootNotification)."""
        if isinstance(event, StationActivated) and self.is_connected(event.station_id):
            self._spawn(self._boot_again(event.station_id))

    async def _boot_again(self, station_id: str) -> None:
        try:
            status = await self.trigger_message(station_id, "BootNotification")
        except EvchargeError as error:
            logger.warning(
                "station %s: TriggerMessage after activation failed: %s", station_id, error
            )
            return
        logger.info("station %s activated: TriggerMessage BootNotification %s", station_id, status)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # published outside the event loop: nothing can be sent
            work.close()
            return
        task = loop.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def aclose(self) -> None:
        """Cancel the background work started by :meth:`on_event`."""
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

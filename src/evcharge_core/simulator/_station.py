"""One simulated charge point on a real websocket: :class:`SimulatedStation` (OCPP 1.6J).

The station carries frames between a websocket (websockets' asyncio client) and its
:class:`~evcharge_core.simulator.StationModel`, which decides everything OCPP: this module
only connects, sends, waits and keeps time. What does not depend on the OCPP version
(connecting, calls, answers, boot and heartbeat, status reports) is in :class:`StationBase`,
which the OCPP 2.0.1 station (:class:`~evcharge_core.simulator.SimulatedStation201`) shares.

**Tasks.** Per station: the power cycle's connector loops (one per connector, surviving
reconnections) and, per connection, a receiver and a boot-and-heartbeat task, plus short
tasks for the effects of CSMS calls (triggered messages, status reports, diagnostics and
firmware notifications). They wake each other through :meth:`SimulatedStation._changed`, a
"something changed, look again" pulse.

**Calls.** :meth:`SimulatedStation.call` keeps at most one CALL of the station's own in
flight (a lock), as OCPP-J requires. The receiver answers the CSMS's CALLs at once, even
while a call of the station's waits for its answer, and never waits for the lock itself:
anything an answer makes the station send runs as a separate task.

**Reconnection.** A refused or lost connection is retried with exponential backoff and
jitter; refusals are counted by reason (:func:`refusal_reason`). Every OCPP 1.6 connection
starts with a BootNotification. Transaction messages (StartTransaction, StopTransaction) are
retried across reconnections until the CSMS answers them.

**Ending.** :meth:`SimulatedStation.stop` (or Reset, for a reboot) ends the power cycle:
running transactions are stopped (reason ``Local``, or ``HardReset``/``SoftReset``) while
the connection lasts, at most ``shutdown_grace`` seconds, then the websocket is closed with
code 1000.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Collection, Coroutine, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final, Generic, Protocol, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.headers import build_authorization_basic
from websockets.typing import Subprotocol

from .. import __version__
from ..errors import EvchargeError
from ._config import SimulationConfig
from ._effects import (
    Answer,
    Effect,
    InstallFirmware,
    Reboot,
    SendTriggered,
    StatusMayHaveChanged,
    UploadDiagnostics,
    Wake,
)
from ._model import Connector, StationModel
from ._ocppj import (
    Call,
    CallError,
    CallErrorReply,
    CallResult,
    ErrorCode,
    FrameError,
    encode_call,
    encode_call_error,
    encode_call_result,
    parse_frame,
)
from ._report import StationStats, answer_statuses

__all__ = [
    "CallFailed",
    "CallTimeout",
    "ConnectionLost",
    "InvalidResponse",
    "SimulatedModel",
    "SimulatedStation",
    "StationBase",
    "StationCallError",
    "refusal_reason",
]

logger = logging.getLogger("evcharge_core.simulator")

_ID_TAG_STATUSES: Final = ("Accepted", "Blocked", "Expired", "Invalid", "ConcurrentTx")
_BOOT_STATUSES: Final = ("Accepted", "Pending", "Rejected")
_RESET_REASONS: Final = {"Hard": "HardReset", "Soft": "SoftReset"}
_STATUS_PASSES: Final = 10
_MAX_BACKOFF_STEPS: Final = 30
_CLOSE_TIMEOUT: Final = 5.0
_HTTP_REASONS: Final = {
    400: "HTTP 400: bad request (subprotocol, URL or headers refused)",
    401: "HTTP 401: unauthorized (password missing or wrong)",
    403: "HTTP 403: forbidden",
    404: "HTTP 404: not found (unknown station ID or wrong URL path)",
    426: "HTTP 426: upgrade required",
    503: "HTTP 503: service unavailable",
}


class StationCallError(EvchargeError):
    """A station's own CALL got no usable answer; the subclasses say why."""


class ConnectionLost(StationCallError, ConnectionError):
    """The station is not connected, or the connection closed before the answer came."""


class CallTimeout(StationCallError, TimeoutError):
    """The CSMS did not answer within ``call_timeout`` seconds."""


class CallFailed(StationCallError):
    """The CSMS answered with a CALLERROR; ``code`` and ``description`` are its."""

    def __init__(self, action: str, code: str, description: str) -> None:
        super().__init__(f"{action}: CallError {code}: {description}")
        self.action = action
        self.code = code
        self.description = description


class InvalidResponse(StationCallError, ValueError):
    """The CSMS's CALLRESULT does not carry what the action's response must."""


def refusal_reason(error: BaseException) -> str:  # noqa: PLR0911 - one answer per kind
    """Why a connection attempt failed, in words a user can act on (a report key)."""
    if isinstance(error, InvalidStatus):
        code = error.response.status_code
        return _HTTP_REASONS.get(code, f"HTTP {code}: {error.response.reason_phrase}")
    if isinstance(error, TimeoutError):
        return "timeout opening the connection"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (nothing listening at that address)"
    if isinstance(error, socket.gaierror):
        return "host name not found"
    if isinstance(error, InvalidHandshake):
        return f"invalid handshake: {error}"
    if isinstance(error, OSError):
        return f"network error: {error.strerror or type(error).__name__}"
    return f"connection failed: {type(error).__name__}"


def _utcnow() -> datetime:
    return datetime.now(UTC)


async def _cancel_all(tasks: Collection[asyncio.Task[Any]]) -> None:
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


def _id_tag_status(response: Mapping[str, Any]) -> str | None:
    info = response.get("idTagInfo")
    status = info.get("status") if isinstance(info, dict) else None
    return status if status in _ID_TAG_STATUSES else None


class SimulatedModel(Protocol):
    """What :class:`StationBase` asks of a station model (:class:`StationModel`,
    :class:`~evcharge_core.simulator.StationModel201`)."""

    @property
    def accepted(self) -> bool:
        """Whether the CSMS accepted the last BootNotification."""

    @property
    def basic_auth_password(self) -> str | None:
        """The Basic auth password to present on the next connection, if any."""

    def accept_boot(self, status: str, interval: int) -> None:
        """Take in a BootNotification answer."""

    def disconnected(self) -> None:
        """The connection ended."""

    def reboot(self) -> None:
        """Power cycle."""

    def heartbeat_interval(self) -> int:
        """Seconds between heartbeats (0: none)."""

    def websocket_ping_interval(self) -> int:
        """Seconds between websocket pings (0: none)."""

    def transaction_message_retries(self) -> tuple[int, int]:
        """``(attempts, seconds between them)`` for unanswered transaction messages."""

    def statuses(self) -> Mapping[Any, str]:
        """Every connector's status, by whatever identifies a connector."""

    def status_notification(self, key: Any, now: datetime) -> dict[str, Any]:
        """The StatusNotification payload of connector ``key``."""

    def profile_summaries(self) -> list[dict[str, Any]]:
        """The installed charging profiles, for the report."""


ModelT = TypeVar("ModelT", bound=SimulatedModel)


class StationBase(abc.ABC, Generic[ModelT]):
    """What every simulated station does, whatever its OCPP version (see the module
    docstring); the subclasses say what their version sends and answers.

    ``run()`` connects and keeps the station alive until :meth:`stop` is called (or the
    ``stop`` event passed to ``run`` is set), then returns its :class:`StationStats`.
    ``rng`` makes its random choices reproducible; ``clock`` gives the timestamps it sends.
    """

    #: The websocket subprotocol this class speaks.
    protocol: str = ""
    #: The StatusNotification field that carries the status.
    status_field: str = "status"

    def __init__(
        self,
        station_id: str,
        config: SimulationConfig,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if config.protocol != self.protocol:
            raise ValueError(
                f"{type(self).__name__} speaks {self.protocol}, not {config.protocol}: "
                "use simulated_station() to get the right class"
            )
        self.station_id = station_id
        self.config = config
        self.rng = rng if rng is not None else random.Random()  # noqa: S311 - not crypto
        self.clock = clock
        self.stats = StationStats(station_id)
        self.model: ModelT = self._create_model()
        self.url = config.station_url(station_id)
        self._ws: ClientConnection | None = None
        self._call_lock = asyncio.Lock()
        self._status_lock = asyncio.Lock()
        self._waiting: tuple[str, asyncio.Future[CallResult | CallError]] | None = None
        self._pulse = asyncio.Event()
        self._ending = False
        self._stopping = False
        self._reboot_kind: str | None = None
        self._boot_retry_at = 0.0
        self._announced = False
        self._reported: dict[Any, str] = {}
        self._connector_tasks: list[asyncio.Task[None]] = []
        self._session_tasks: set[asyncio.Task[None]] = set()

    # --- what a subclass says -------------------------------------------------------------

    @abc.abstractmethod
    def _create_model(self) -> ModelT:
        """The station's model, made from ``self.config`` and ``self.rng``."""

    @abc.abstractmethod
    def _power_cycle(self) -> list[Coroutine[Any, Any, None]]:
        """The tasks that live as long as a power cycle (the connector loops)."""

    @abc.abstractmethod
    def _boot_payload(self, *, triggered: bool) -> dict[str, Any]:
        """The BootNotification payload."""

    @abc.abstractmethod
    def _decide(self, call: Call) -> Answer:
        """The model's answer to a CALL from the CSMS."""

    @abc.abstractmethod
    def _frame_error_code(self, error: FrameError) -> str | None:
        """The CallError code answering a broken frame (``None``: no answer)."""

    @abc.abstractmethod
    def _apply_more(self, effect: Effect) -> None:
        """Carry out an effect this OCPP version has (the common ones are handled)."""

    def _on_call_error(self, action: str, code: str) -> None:
        """The CSMS answered one of the station's CALLs with a CallError."""

    # --- public ---------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """Whether a websocket connection is open."""
        return self._ws is not None

    @property
    def accepted(self) -> bool:
        """Whether the CSMS accepted this connection's BootNotification."""
        return self._ws is not None and self.model.accepted

    def stop(self) -> None:
        """Ask the station to stop its transactions, close its connection and end ``run``."""
        self._stopping = True
        self._end_power_cycle()

    async def run(self, stop: asyncio.Event | None = None) -> StationStats:
        """Live until stopped: connect, boot, charge, answer, reconnect, reboot on Reset."""
        watcher = asyncio.create_task(self._watch(stop)) if stop is not None else None
        try:
            while not self._stopping:
                self._ending = False
                self._reboot_kind = None
                self._connector_tasks = [
                    asyncio.create_task(coroutine) for coroutine in self._power_cycle()
                ]
                try:
                    await self._connect_loop()
                finally:
                    await _cancel_all(self._connector_tasks)
                    self._connector_tasks = []
                if self._stop_requested():
                    break
                self.stats.reboots += 1
                logger.info("%s: rebooting (%s reset)", self.station_id, self._reboot_kind)
                await self._wait_until(lambda: self._stopping, self.config.reboot_delay)
                self.model.reboot()
        finally:
            if watcher is not None:
                watcher.cancel()
            self.stats.charging_profiles = self.model.profile_summaries()
        return self.stats

    async def call(self, action: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        """Send one CALL and return the CALLRESULT's payload.

        Raises :class:`ConnectionLost`, :class:`CallTimeout` or :class:`CallFailed`. Calls
        wait for each other: only one is in flight at a time.
        """
        counts = self.stats.action(action)
        async with self._call_lock:
            ws = self._ws
            if ws is None:
                raise ConnectionLost(f"{action}: not connected")
            unique_id = str(uuid.uuid4())
            future: asyncio.Future[CallResult | CallError] = (
                asyncio.get_running_loop().create_future()
            )
            self._waiting = (unique_id, future)
            try:
                counts.sent += 1
                await self._send(ws, encode_call(unique_id, action, payload))
                async with asyncio.timeout(self.config.call_timeout):
                    reply = await future
            except TimeoutError:
                counts.timeouts += 1
                raise CallTimeout(
                    f"{action}: no answer within {self.config.call_timeout:g} s"
                ) from None
            except ConnectionLost:
                if self._ws is ws:
                    self.model.disconnected()
                raise
            finally:
                self._waiting = None
        if isinstance(reply, CallError):
            counts.call_errors += 1
            self.stats.call_error_codes[reply.code] += 1
            self._on_call_error(action, reply.code)
            raise CallFailed(action, reply.code, reply.description)
        counts.ok += 1
        return reply.payload

    # --- waiting --------------------------------------------------------------------------

    def _changed(self) -> None:
        """Wake every task waiting in :meth:`_nap`: something may have changed."""
        pulse, self._pulse = self._pulse, asyncio.Event()
        pulse.set()

    async def _nap(self, timeout: float | None) -> None:
        """Sleep at most ``timeout`` seconds (``None``: no limit), or until :meth:`_changed`."""
        pulse = self._pulse
        if timeout is not None and timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await pulse.wait()

    async def _wait_until(
        self, predicate: Callable[[], bool], timeout: float | None = None
    ) -> bool:
        """Wait until ``predicate()`` holds (re-checked on every change); ``False`` on timeout."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not predicate():
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            await self._nap(remaining)
        return True

    async def _watch(self, stop: asyncio.Event | None) -> None:
        if stop is not None:
            await stop.wait()
            self.stop()

    def _stop_requested(self) -> bool:
        return self._stopping

    def _end_power_cycle(self) -> None:
        self._ending = True
        self._changed()

    def _draw(self, bounds: tuple[float, float]) -> float:
        return self.rng.uniform(*bounds)

    def _backoff(self, failures: int) -> float:
        first, cap = self.config.reconnect_delay
        delay = min(cap, first * 2.0 ** (min(failures, _MAX_BACKOFF_STEPS) - 1))
        return delay * self.rng.uniform(0.5, 1.0)

    def _spawn(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coroutine)
        self._session_tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._session_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("%s: background task failed", self.station_id, exc_info=task.exception())

    # --- connection -----------------------------------------------------------------------

    async def _connect_loop(self) -> None:
        failures = 0
        while not self._ending:
            ws = await self._open()
            if ws is None:
                failures += 1
                await self._wait_until(lambda: self._ending, self._backoff(failures))
                continue
            failures = 0
            await self._session(ws)
            if not self._ending:
                await self._wait_until(lambda: self._ending, self._backoff(1))

    async def _open(self) -> ClientConnection | None:
        headers: dict[str, str] = {}
        password = self.model.basic_auth_password
        if password:
            headers["Authorization"] = build_authorization_basic(self.station_id, password)
        ping = self.model.websocket_ping_interval() or None
        connecting: asyncio.Future[ClientConnection] = asyncio.ensure_future(
            connect(
                self.url,
                subprotocols=[Subprotocol(self.config.protocol)],
                additional_headers=headers,
                user_agent_header=f"evcharge-simulator/{__version__}",
                open_timeout=self.config.open_timeout,
                ping_interval=ping,
                ping_timeout=ping,
                close_timeout=_CLOSE_TIMEOUT,
                compression=None,
            )
        )
        ending = asyncio.ensure_future(self._wait_until(lambda: self._ending))
        waiters: set[asyncio.Future[Any]] = {connecting, ending}
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            ending.cancel()
        if not connecting.done():
            connecting.cancel()
            (outcome,) = await asyncio.gather(connecting, return_exceptions=True)
            if isinstance(outcome, ClientConnection):
                await outcome.close()
            return None
        error = connecting.exception()
        if error is not None:
            reason = refusal_reason(error)
            self.stats.refusals[reason] += 1
            logger.info("%s: connection to %s failed: %s", self.station_id, self.url, reason)
            return None
        ws = connecting.result()
        if ws.subprotocol != self.config.protocol:
            self.stats.subprotocol_missing += 1
            logger.warning(
                "%s: the CSMS did not select the %s subprotocol",
                self.station_id,
                self.config.protocol,
            )
        return ws

    async def _session(self, ws: ClientConnection) -> None:
        """Serve one connection until it closes or the power cycle ends."""
        self._ws = ws
        self.stats.connections += 1
        self.model.disconnected()
        self._reported.clear()
        self._announced = False
        logger.info("%s: connected to %s", self.station_id, self.url)
        receiver = asyncio.create_task(self._receive(ws))
        self._spawn(self._boot_and_heartbeat())
        self._changed()
        try:
            await self._wait_until(lambda: self._ending or receiver.done())
            if receiver.done():
                self.stats.disconnections += 1
                self.stats.close_codes[ws.close_code or 1006] += 1
                logger.info(
                    "%s: connection closed (%s %s)",
                    self.station_id,
                    ws.close_code,
                    ws.close_reason or "",
                )
            else:
                await self._wait_until(
                    lambda: receiver.done() or all(t.done() for t in self._connector_tasks),
                    self.config.shutdown_grace,
                )
                reason = "rebooting" if self._reboot_kind and not self._stopping else "stopping"
                await ws.close(1000, reason)
        finally:
            await _cancel_all(self._session_tasks)
            if not receiver.done():
                receiver.cancel()
            await asyncio.gather(receiver, return_exceptions=True)
            self._ws = None
            self._fail_waiting()
            self.model.disconnected()
            self._changed()

    async def _send(self, ws: ClientConnection, text: str) -> None:
        logger.debug("%s > %s", self.station_id, text)
        try:
            await ws.send(text)
        except ConnectionClosed as error:
            raise ConnectionLost(str(error)) from None

    def _fail_waiting(self) -> None:
        if self._waiting is not None:
            future = self._waiting[1]
            if not future.done():
                future.set_exception(ConnectionLost("the connection closed before the answer"))

    async def _receive(self, ws: ClientConnection) -> None:
        try:
            async for message in ws:
                await self._on_message(ws, message)
        except ConnectionClosed:
            pass
        finally:
            self._fail_waiting()
            self._changed()

    async def _on_message(self, ws: ClientConnection, message: str | bytes) -> None:
        logger.debug("%s < %s", self.station_id, message)
        try:
            frame = parse_frame(message)
        except FrameError as error:
            self.stats.invalid_frames += 1
            logger.warning("%s: invalid frame from the CSMS: %s", self.station_id, error)
            code = self._frame_error_code(error)
            if code is not None and error.unique_id is not None:
                with contextlib.suppress(ConnectionLost):
                    await self._send(ws, encode_call_error(error.unique_id, code, str(error)))
            return
        if isinstance(frame, Call):
            await self._answer(ws, frame)
            return
        waiting = self._waiting
        if waiting is not None and waiting[0] == frame.unique_id and not waiting[1].done():
            waiting[1].set_result(frame)
        else:
            self.stats.invalid_responses += 1
            logger.warning(
                "%s: answer to no pending CALL (late or unknown ID %s)",
                self.station_id,
                frame.unique_id,
            )

    async def _answer(self, ws: ClientConnection, call: Call) -> None:
        counts = self.stats.action(call.action)
        counts.received += 1
        try:
            answer = self._decide(call)
        except Exception:
            logger.exception("%s: failed to answer %s", self.station_id, call.action)
            answer = Answer(
                error=CallErrorReply(ErrorCode.INTERNAL_ERROR, "the station failed to answer")
            )
        if answer.error is not None:
            counts.errors_sent += 1
            text = encode_call_error(call.unique_id, answer.error.code, answer.error.description)
        else:
            counts.answered += 1
            self.stats.count_answer(call.action, answer_statuses(answer.payload or {}))
            text = encode_call_result(call.unique_id, answer.payload or {})
        try:
            await self._send(ws, text)
        except ConnectionLost:
            return
        for effect in answer.effects:
            self._apply(effect)

    def _apply(self, effect: Effect) -> None:
        if isinstance(effect, StatusMayHaveChanged):
            self._spawn(self._report_statuses())
        elif isinstance(effect, Wake):
            self._changed()
        elif isinstance(effect, Reboot):
            if self._reboot_kind is None:
                self._reboot_kind = effect.kind
                self._end_power_cycle()
        else:
            self._apply_more(effect)

    # --- boot, heartbeat, statuses --------------------------------------------------------

    async def _boot(self, *, triggered: bool = False) -> tuple[str, int]:
        """Send a BootNotification and take in the answer."""
        response = await self.call("BootNotification", self._boot_payload(triggered=triggered))
        status, interval = response.get("status"), response.get("interval")
        if (
            status not in _BOOT_STATUSES
            or not isinstance(interval, int)
            or isinstance(interval, bool)
        ):
            self.stats.invalid_responses += 1
            raise InvalidResponse(f"BootNotification answer without status or interval: {response}")
        interval = max(interval, 0)
        self.stats.boots[status] += 1
        was_accepted = self.model.accepted
        self.model.accept_boot(status, interval)
        if status == "Accepted" and not was_accepted:
            self._reported.clear()
        if status != "Accepted":
            self._announced = False
            delay = interval if interval > 0 else self.config.boot_retry
            self._boot_retry_at = asyncio.get_running_loop().time() + delay
        logger.info("%s: BootNotification %s (interval %d)", self.station_id, status, interval)
        self._changed()
        return status, interval

    async def _boot_and_heartbeat(self) -> None:
        loop = asyncio.get_running_loop()
        self._boot_retry_at = 0.0
        last_heartbeat = loop.time()
        while True:
            if not self.model.accepted:
                accepted = await self._wait_until(
                    lambda: self.model.accepted, max(0.0, self._boot_retry_at - loop.time())
                )
                if not accepted:
                    try:
                        await self._boot()
                    except ConnectionLost:
                        return
                    except StationCallError:
                        self._boot_retry_at = loop.time() + self.config.boot_retry
                    continue
            if not self._announced:
                await self._report_statuses()
                # still registered: the CSMS may have refused the reports (SecurityError)
                self._announced = self.model.accepted
                self._changed()
                last_heartbeat = loop.time()
                continue
            interval = self.model.heartbeat_interval()
            due = last_heartbeat + interval
            if interval > 0 and loop.time() >= due:
                try:
                    await self.call("Heartbeat", {})
                except ConnectionLost:
                    return
                except StationCallError:
                    pass
                last_heartbeat = loop.time()
            else:
                await self._nap(due - loop.time() if interval > 0 else None)

    async def _report_statuses(self, force: Iterable[Any] = ()) -> None:
        """Send a StatusNotification for each connector whose status changed since last
        reported (and for those in ``force``, even while not accepted)."""
        forced = set(force)
        async with self._status_lock:
            for _ in range(_STATUS_PASSES):
                sent = False
                for key, status in self.model.statuses().items():
                    if key not in forced and (
                        not self.model.accepted or self._reported.get(key) == status
                    ):
                        continue
                    payload = self.model.status_notification(key, self.clock())
                    try:
                        await self.call("StatusNotification", payload)
                    except ConnectionLost:
                        return
                    except StationCallError:
                        pass
                    self._reported[key] = payload[self.status_field]
                    forced.discard(key)
                    sent = True
                if not sent:
                    return

    async def _quietly(self, send: Awaitable[object]) -> None:
        with contextlib.suppress(StationCallError):
            await send

    async def _deliver(self, action: str, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """Send a transaction message until the CSMS answers it (across reconnections), up to
        the model's attempts for timeouts and CallErrors (1.6: ``TransactionMessageAttempts``,
        2.0.1: ``MessageAttempts[TransactionEvent]``); ``None`` if it never did (or the station
        is ending while offline)."""
        attempts = 0
        while True:
            await self._wait_until(lambda: self.accepted or self._ending)
            if not self.accepted:
                return None
            try:
                return await self.call(action, payload)
            except ConnectionLost:
                continue
            except StationCallError:
                attempts += 1
                most, interval = self.model.transaction_message_retries()
                if attempts >= max(1, most):
                    return None
                await self._wait_until(lambda: self._ending, interval * attempts)


class SimulatedStation(StationBase[StationModel]):
    """One simulated OCPP 1.6J charge point. See the module docstring and
    :class:`StationBase`."""

    protocol = "ocpp1.6"

    def _create_model(self) -> StationModel:
        config = self.config
        return StationModel.create(
            self.station_id,
            connectors=config.connectors,
            meter_interval=config.meter_interval,
            password=config.password,
            rng=self.rng,
            max_security_profile=config.max_security_profile,
        )

    def _power_cycle(self) -> list[Coroutine[Any, Any, None]]:
        return [self._connector_loop(connector) for connector in self.model.connectors]

    def _boot_payload(self, *, triggered: bool) -> dict[str, Any]:
        return self.model.boot_notification()

    def _decide(self, call: Call) -> Answer:
        return self.model.answer(call.action, call.payload, self.clock())

    def _frame_error_code(self, error: FrameError) -> str | None:
        return ErrorCode.FORMATION_VIOLATION if error.is_call else None

    def _apply_more(self, effect: Effect) -> None:
        if isinstance(effect, SendTriggered):
            self._spawn(self._send_triggered(effect.message, effect.connector_id))
        elif isinstance(effect, UploadDiagnostics):
            self._spawn(self._upload_diagnostics())
        elif isinstance(effect, InstallFirmware):
            self._spawn(self._install_firmware(effect.retrieve_at))

    async def _send_triggered(self, message: str, connector_id: int | None) -> None:
        every = range(len(self.model.connectors) + 1)
        if message == "BootNotification":
            await self._quietly(self._boot())
        elif message == "Heartbeat":
            await self._quietly(self.call("Heartbeat", {}))
        elif message == "StatusNotification":
            await self._report_statuses(force=[connector_id] if connector_id is not None else every)
        elif message == "MeterValues":
            targets = [connector_id] if connector_id is not None else list(every)[1:]
            for target in targets:
                payload = self.model.meter_values(target, "Trigger", self.clock())
                await self._quietly(self.call("MeterValues", payload))
        elif message == "DiagnosticsStatusNotification":
            payload = {"status": self.model.diagnostics_status}
            await self._quietly(self.call("DiagnosticsStatusNotification", payload))
        elif message == "FirmwareStatusNotification":
            payload = {"status": self.model.firmware_status}
            await self._quietly(self.call("FirmwareStatusNotification", payload))

    async def _upload_diagnostics(self) -> None:
        for status, pause in (("Uploading", 2.0), ("Uploaded", 0.0)):
            self.model.diagnostics_status = status
            await self._quietly(self.call("DiagnosticsStatusNotification", {"status": status}))
            await asyncio.sleep(self.rng.uniform(pause / 2, pause))
        self.model.diagnostics_status = "Idle"

    async def _install_firmware(self, retrieve_at: datetime) -> None:
        await asyncio.sleep(max(0.0, (retrieve_at - self.clock()).total_seconds()))
        steps = (("Downloading", 3.0), ("Downloaded", 1.0), ("Installing", 3.0), ("Installed", 0.0))
        for status, pause in steps:
            self.model.firmware_status = status
            await self._quietly(self.call("FirmwareStatusNotification", {"status": status}))
            await asyncio.sleep(self.rng.uniform(pause / 2, pause))
        self.model.firmware_status = "Idle"

    # --- charging sessions ----------------------------------------------------------------

    def _may_start_by_itself(self, connector: Connector) -> bool:
        return (
            self.config.transactions
            and self.accepted
            and self._announced
            and self.model.operative
            and connector.free_for(self.config.id_tag)
        )

    async def _connector_loop(self, connector: Connector) -> None:
        loop = asyncio.get_running_loop()
        arrival: float | None = None
        try:
            while not self._ending:
                if self.model.expire_reservations(self.clock()):
                    await self._report_statuses()
                id_tag: str | None = None
                remote = False
                if connector.remote_id_tag is not None:
                    id_tag, remote = connector.remote_id_tag, True
                    connector.remote_id_tag = None
                elif not self._may_start_by_itself(connector):
                    arrival = None
                elif arrival is None:
                    arrival = loop.time() + self._draw(self.config.think_time)
                elif loop.time() >= arrival:
                    id_tag, arrival = self.config.id_tag, None
                if id_tag is not None:
                    await self._charging_session(connector, id_tag, remote=remote)
                    continue
                timeouts = [] if arrival is None else [arrival - loop.time()]
                expiry = self.model.next_reservation_expiry(connector)
                if expiry is not None:
                    timeouts.append((expiry - self.clock()).total_seconds())
                await self._nap(min(timeouts) if timeouts else None)
        finally:
            self._changed()

    async def _authorize(self, id_tag: str) -> str | None:
        """Authorize: the id tag's status, or ``None`` when no usable answer came."""
        try:
            response = await self.call("Authorize", {"idTag": id_tag})
        except StationCallError:
            return None
        status = _id_tag_status(response)
        if status is None:
            self.stats.invalid_responses += 1
        return status

    async def _charging_session(self, connector: Connector, id_tag: str, *, remote: bool) -> None:
        number = connector.connector_id
        self.model.plug_in(number, id_tag)
        await self._report_statuses()
        authorize = not remote or self.model.configuration.boolean("AuthorizeRemoteTxRequests")
        status = await self._authorize(id_tag) if authorize else "Accepted"
        if status != "Accepted" or self._ending:
            if status is not None and status != "Accepted":
                self.stats.id_tags_rejected += 1
            self.model.unplug(number)
            await self._report_statuses()
            return
        response = await self._deliver(
            "StartTransaction", self.model.start_transaction(number, self.clock())
        )
        transaction_id = response.get("transactionId") if response is not None else None
        tag_status = _id_tag_status(response) if response is not None else None
        if (
            not isinstance(transaction_id, int)
            or isinstance(transaction_id, bool)
            or not tag_status
        ):
            if response is not None:
                self.stats.invalid_responses += 1
            self.model.unplug(number)
            await self._report_statuses()
            return
        self.model.transaction_started(number, transaction_id, self.clock())
        self.stats.transactions_started += 1
        if tag_status != "Accepted":
            self.stats.id_tags_rejected += 1
            if self.model.configuration.boolean("StopTransactionOnInvalidId"):
                connector.stop_reason = "DeAuthorized"
        await self._report_statuses()
        await self._charge(connector)
        reason = connector.stop_reason or "Local"
        stop = self.model.stop_transaction(number, reason, self.clock())
        self.model.finish(number)
        if await self._deliver("StopTransaction", stop) is not None:
            self.stats.transactions_stopped += 1
        await self._report_statuses()
        if not self._ending and reason != "UnlockCommand":
            await self._wait_until(lambda: self._ending, self._draw(self.config.unplug_time))
        self.model.unplug(number)
        await self._report_statuses()

    async def _charge(self, connector: Connector) -> None:
        """Charge until the driver, the CSMS, a reset or the end of the run stops it."""
        loop = asyncio.get_running_loop()
        number = connector.connector_id
        until = loop.time() + self._draw(self.config.charge_time)
        last = last_sample = loop.time()
        while connector.stop_reason is None:
            if self._ending:
                connector.stop_reason = _RESET_REASONS.get(self._reboot_kind or "", "Local")
                break
            now = loop.time()
            self.model.advance(number, now - last, self.clock())
            last = now
            await self._report_statuses()
            if loop.time() >= until:
                connector.stop_reason = connector.stop_reason or "Local"
                break
            interval = self.model.meter_interval()
            due = last_sample + interval if interval > 0 else None
            if due is not None and loop.time() >= due:
                if self.accepted:
                    payload = self.model.meter_values(number, "Sample.Periodic", self.clock())
                    await self._quietly(self.call("MeterValues", payload))
                last_sample = loop.time()
                continue
            wake_at = until if due is None else min(until, due)
            await self._nap(wake_at - loop.time())
        self.model.advance(number, loop.time() - last, self.clock())

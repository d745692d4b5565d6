"""One OCPP-J connection, whatever the OCPP version: :class:`OcppSession`, the
:class:`~evcharge_core.ports.StationSession` the gateway feeds. The versions subclass it
with their schemas, handlers, boot steps and commands
(:class:`~evcharge_core.ocpp16.Ocpp16Session`,
:class:`~evcharge_core.ocpp201.Ocpp201Session`).

**Station-initiated CALLs** are handled one at a time, in arrival order (OCPP allows one CALL
in flight per side), and answered with the handler's CALLRESULT or a CallError; what to do
with each frame is decided by :func:`evcharge_core._protocol.receive`. A handler that fails
unexpectedly is logged and answered ``InternalError`` without any detail: nothing a station
sends closes its connection.

**The registration gate.** The session keeps the station's registration status: read from
:meth:`ChargingService.registration <evcharge_core.charging.ChargingService.registration>`
when the connection opens, then set by each BootNotification's answer. While it is Pending
or Rejected every CALL but BootNotification is answered ``SecurityError``, except those the
version's session says it asked for (:meth:`OcppSession.allowed`).

**CSMS-initiated CALLs** go through :meth:`OcppSession.call`: the payload is validated
against the action's schema first (:class:`~evcharge_core.errors.InvalidInput`, nothing
sent), then the CALL waits for its turn (at most one in flight per station; the others queue
in order), is sent, and its answer is awaited in the caller's task. Answers arrive through
:meth:`~OcppSession.on_message` like any frame and are matched by message ID
(:class:`~evcharge_core.ocppj.PendingCalls`); handling a station's CALL never waits for a
station's answer, so a station that sends a CALL while the CSMS awaits its answer to another
cannot deadlock the connection.

**Boot configuration.** When the connection opens, a background task sends what the
station's :class:`~evcharge_core.domain.model.BootConfiguration` asks for, in this order:
TriggerMessage BootNotification, StatusNotification, Heartbeat, then ClearChargingProfile
(every profile). A refusal, CallError or timeout is logged and the next step still runs.
Once every step ran, :class:`~evcharge_core.domain.events.BootConfigured` is published (the
charging profiles of the station are sent again after it when they were cleared).

**Metrics.** The session tells its :class:`~evcharge_core.observability.MessageObserver`
about each CALL the station sends (action, ``ok`` or the CallError code it was answered
with, handling time; a frame naming no action of its version is action ``(unknown)``, one
that is answered with nothing outcome ``(unanswered)``) and each CALL it sends (action;
``ok``, the station's CallError code, ``timeout``, ``disconnected`` or ``cancelled``; the
time from :meth:`~OcppSession.call` to the answer, waiting for its turn included). Answers
to CSMS CALLs are not counted inbound.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, ClassVar, Final

from ._protocol import Answer, BrokenResponse, Handled, Handler, Refused, Request, Response
from ._protocol import receive as _receive
from ._schemas import Kind, SchemaSet
from .charging import ChargingService
from .domain.events import BootConfigured
from .domain.values import Protocol, RegistrationStatus
from .errors import (
    CommandTimeout,
    EvchargeError,
    InvalidInput,
    Issue,
    NotFound,
    StationCallError,
    StationNotConnected,
    StationProtocolError,
)
from .observability import (
    CANCELLED,
    DISCONNECTED,
    OK,
    OTHER_ERROR,
    TIMEOUT,
    UNANSWERED,
    UNKNOWN_ACTION,
    MessageObserver,
    NullObserver,
)
from .ocppj import (
    Frame,
    MessageType,
    PendingCalls,
    call_error,
    call_frame,
    call_result,
    format_violation_code,
)
from .ports import SessionContext

__all__ = ["BOOT_STEPS", "DEFAULT_CALL_TIMEOUT", "BootStep", "OcppSession"]

logger = logging.getLogger(__name__)

DEFAULT_CALL_TIMEOUT: Final = 30.0
"""Seconds a CSMS-initiated CALL waits (for its turn and its answer) by default."""

BootStep = tuple[str, str, dict[str, Any]]
"""A boot configuration step: the :class:`~evcharge_core.domain.model.BootConfiguration`
flag that asks for it, the action and its payload."""

BOOT_STEPS: Final[tuple[BootStep, ...]] = (
    ("trigger_boot_notification", "TriggerMessage", {"requestedMessage": "BootNotification"}),
    ("trigger_status_notification", "TriggerMessage", {"requestedMessage": "StatusNotification"}),
    ("trigger_heartbeat", "TriggerMessage", {"requestedMessage": "Heartbeat"}),
    ("clear_charging_profiles", "ClearChargingProfile", {}),
)
"""The boot configuration, in order; the same payloads are valid in OCPP 1.6 and 2.0.1."""


def _new_message_id() -> str:
    return str(uuid.uuid4())


class OcppSession:
    """The side of one station's connection that speaks one OCPP version (see the module
    docstring). Subclasses set the class attributes below and :meth:`make_commands`.

    ``charging`` handles what the station reports; ``default_timeout`` bounds
    :meth:`call` when no timeout is given; ``new_message_id`` numbers CSMS CALLs (unique
    per connection); ``observer`` is told about every message (see "Metrics" in the module
    docstring). :attr:`commands` offers the operator commands over :meth:`call`.
    """

    protocol: ClassVar[Protocol]
    schemas: ClassVar[SchemaSet]
    handlers: ClassVar[Mapping[str, Handler]]
    call_error_codes: ClassVar[frozenset[str]]
    """The CallError codes of the version: the outcomes a station's CallError is counted
    under; any other is ``(other)``."""
    boot_steps: ClassVar[tuple[BootStep, ...]] = BOOT_STEPS

    def __init__(
        self,
        context: SessionContext,
        charging: ChargingService,
        *,
        default_timeout: float = DEFAULT_CALL_TIMEOUT,
        new_message_id: Callable[[], str] = _new_message_id,
        observer: MessageObserver | None = None,
    ) -> None:
        self.context = context
        self.charging = charging
        self.default_timeout = default_timeout
        self.new_message_id = new_message_id
        self.observer: MessageObserver = observer if observer is not None else NullObserver()
        self._registration = RegistrationStatus.PENDING
        self._pending = PendingCalls(f"station {context.station_id}")
        self._call_lock = asyncio.Lock()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()
        self.commands = self.make_commands()

    def make_commands(self) -> Any:
        """The operator commands of this version over :meth:`call`."""
        raise NotImplementedError

    @property
    def station_id(self) -> str:
        return self.context.station_id

    @property
    def registration(self) -> RegistrationStatus:
        """The registration status the station's messages are held to now."""
        return self._registration

    @property
    def closed(self) -> bool:
        return self._closed

    # --- hooks of the versions -----------------------------------------------------------

    def allowed(self, action: str, payload: Mapping[str, Any]) -> bool:
        """Whether a station whose registration is not Accepted may send this CALL all the
        same (because the CSMS asked for it). None, unless a version says otherwise."""
        return False

    def handled(self, request: Request, outcome: Handled) -> None:
        """Called after ``request`` was handled and before its answer is sent."""

    # --- StationSession ------------------------------------------------------------------

    async def on_open(self) -> None:
        """Read the registration status; start the boot configuration, if any."""
        self._registration = await self.charging.registration(self.station_id)
        configuration = self.context.station.boot_configuration
        steps = [(a, p) for flag, a, p in self.boot_steps if getattr(configuration, flag)]
        if steps:
            self.spawn(self._configure(steps))

    async def on_message(self, text: str) -> str | None:
        """Answer a station's CALL, or hand an answer to the CALL it answers."""
        started = time.perf_counter()
        inbound = _receive(
            text,
            self._registration,
            protocol=self.protocol,
            schemas=self.schemas,
            allowed=self.allowed,
        )
        if isinstance(inbound, Request):
            reply, outcome = await self._handle(inbound)
            self.observer.inbound(inbound.action, outcome, time.perf_counter() - started)
            return reply
        if isinstance(inbound, Response):
            self._pending.resolve(inbound.frame)
            return None
        if isinstance(inbound, BrokenResponse):
            action = self._pending.action(inbound.message_id) or "a CALL"
            logger.warning(
                "station %s sent a malformed answer to %s: %s",
                self.station_id,
                action,
                inbound.problem,
            )
            violation = format_violation_code(self.protocol)
            self._pending.fail(
                inbound.message_id,
                StationProtocolError(self.station_id, action, violation, inbound.problem),
            )
            return None
        self._log_refusal(inbound)
        outcome = UNANSWERED if inbound.code is None else inbound.code
        self.observer.inbound(
            self._action_label(inbound.action), outcome, time.perf_counter() - started
        )
        return inbound.text

    async def on_close(self) -> None:
        """Fail the CALLs in flight with StationNotConnected; stop background tasks."""
        self._closed = True
        self._pending.fail_all(StationNotConnected(self.station_id))
        tasks = [t for t in self._tasks if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # --- CSMS-initiated calls ------------------------------------------------------------

    async def call(
        self, action: str, payload: Mapping[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """Send a CALL of ``action`` and return the station's answer payload.

        Raises :class:`~evcharge_core.errors.InvalidInput` (unknown action or a payload its
        schema rejects: nothing is sent),
        :class:`~evcharge_core.errors.StationNotConnected` (closed before or while waiting),
        :class:`~evcharge_core.errors.CommandTimeout` (no answer within ``timeout`` seconds,
        waiting for its turn included), :class:`~evcharge_core.errors.StationCallError` (a
        CallError), or :class:`~evcharge_core.errors.StationProtocolError` (an answer that
        breaks its schema).
        """
        body = self._outgoing(action, payload)
        limit = self.default_timeout if timeout is None else timeout
        if self._closed:
            raise StationNotConnected(self.station_id)
        started = time.perf_counter()
        outcome = CANCELLED
        try:
            try:
                async with asyncio.timeout(limit):
                    frame = await self._exchange(action, body)
            except TimeoutError:
                outcome = TIMEOUT
                raise CommandTimeout(self.station_id, action, limit) from None
            answer = self._answer_of(action, frame)
            outcome = OK
            return answer
        except StationCallError as error:
            outcome = self._code_label(error.code)
            raise
        except StationNotConnected:
            outcome = DISCONNECTED
            raise
        finally:
            self.observer.outbound(action, outcome, time.perf_counter() - started)

    def _outgoing(self, action: str, payload: object) -> dict[str, Any]:
        if action not in self.schemas.csms_actions:
            problem = f"{action[:60]!r} is not a CSMS-to-station OCPP {self.schemas.version} call"
            raise InvalidInput([Issue(problem, field="action")])
        if not isinstance(payload, Mapping):
            raise InvalidInput([Issue("the payload must be a JSON object", field="payload")])
        body = dict(payload)
        violation = self.schemas.validate(action, Kind.REQUEST, body)
        if violation is not None:
            raise InvalidInput([Issue(violation.description, field=violation.field or "payload")])
        return body

    async def _exchange(self, action: str, body: dict[str, Any]) -> Frame:
        async with self._call_lock:
            if self._closed:
                raise StationNotConnected(self.station_id)
            message_id = self.new_message_id()
            answer = self._pending.open(message_id, action)
            try:
                try:
                    await self.context.send(call_frame(message_id, action, body))
                except Exception:
                    logger.info("station %s: sending %s failed", self.station_id, action)
                    raise StationNotConnected(self.station_id) from None
                return await answer
            finally:
                self._pending.discard(message_id)

    def _answer_of(self, action: str, frame: Frame) -> dict[str, Any]:
        if frame.message_type is MessageType.CALL_ERROR:
            raise StationCallError(
                self.station_id,
                action,
                frame.error_code or "GenericError",
                frame.error_description or "",
                frame.payload,
            )
        payload = dict(frame.payload)
        violation = self.schemas.validate(action, Kind.RESPONSE, payload)
        if violation is not None:
            logger.warning(
                "station %s answered %s in breach of its schema: %s",
                self.station_id,
                action,
                violation.description,
            )
            details = {**violation.details(), "payload": payload}
            raise StationProtocolError(
                self.station_id, action, violation.code, violation.description, details
            )
        return payload

    # --- handling the station's CALLs ----------------------------------------------------

    def _action_label(self, action: str | None) -> str:
        schemas = self.schemas
        known = action is not None and (
            action in schemas.station_actions or action in schemas.csms_actions
        )
        return action if known and action is not None else UNKNOWN_ACTION

    def _code_label(self, code: str) -> str:
        return code if code in self.call_error_codes else OTHER_ERROR

    async def _handle(self, request: Request) -> tuple[str, str]:
        """The answer to ``request`` and its outcome (``ok`` or the CallError code)."""
        handler = self.handlers[request.action]
        try:
            handled = await handler(self.charging, self.station_id, request.payload)
        except Refused as refused:
            violation = refused.violation
            logger.info(
                "station %s: %s refused: %s",
                self.station_id,
                request.action,
                violation.description,
            )
            return call_error(
                request.message_id, violation.code, violation.description, violation.details()
            ), violation.code
        except NotFound:
            logger.warning("station %s no longer exists; its messages are refused", self.station_id)
            self._registration = RegistrationStatus.REJECTED
            refusal = call_error(request.message_id, "SecurityError", "station is not registered")
            return refusal, "SecurityError"
        except Exception:
            logger.exception("station %s: handling %s failed", self.station_id, request.action)
            failure = call_error(
                request.message_id, "InternalError", "the message could not be processed"
            )
            return failure, "InternalError"
        if handled.registration is not None:
            self._registration = handled.registration
        self.handled(request, handled)
        return call_result(request.message_id, handled.payload), OK

    def _log_refusal(self, answer: Answer) -> None:
        if answer.text is None:
            logger.info("station %s sent a bad frame: %s", self.station_id, answer.problem)
        else:
            logger.info("station %s: refused a frame: %s", self.station_id, answer.problem)

    # --- background work -----------------------------------------------------------------

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run ``work`` in a task that ends with the connection at the latest."""
        if self._closed:
            work.close()
            return
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _configure(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        await self._run_steps(steps)
        cleared = any(action == "ClearChargingProfile" for action, _ in steps)
        if not self._closed:
            self.charging.events.publish([BootConfigured(self.station_id, cleared)])

    async def _run_steps(self, steps: list[tuple[str, dict[str, Any]]]) -> None:
        for action, payload in steps:
            try:
                answer = await self.call(action, payload)
            except StationNotConnected:
                return
            except EvchargeError as error:
                logger.warning(
                    "station %s: boot configuration %s failed: %s", self.station_id, action, error
                )
                continue
            status = answer.get("status")
            if status != "Accepted":
                logger.info(
                    "station %s: boot configuration %s %s answered %s",
                    self.station_id,
                    action,
                    payload,
                    status,
                )

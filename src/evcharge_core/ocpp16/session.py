"""One OCPP 1.6J connection: :class:`Ocpp16Session`, the
:class:`~evcharge_core.adapters.websocket.StationSession` the gateway feeds.

**Station-initiated CALLs** are handled one at a time, in arrival order (OCPP allows one CALL
in flight per side), and answered with the handler's CALLRESULT or a CallError; what to do
with each frame is decided by :func:`._protocol.receive`. A handler that fails
unexpectedly is logged and answered ``InternalError`` without any detail: nothing a station
sends closes its connection.

**The registration gate.** The session keeps the station's registration status: read from
:meth:`ChargingService.registration <evcharge_core.charging.ChargingService.registration>`
when the connection opens, then set by each BootNotification's answer. While it is Pending
or Rejected every CALL but BootNotification is answered ``SecurityError``.

**CSMS-initiated CALLs** go through :meth:`Ocpp16Session.call`: the payload is validated
against the action's schema first (:class:`~evcharge_core.errors.InvalidInput`, nothing
sent), then the CALL waits for its turn (at most one in flight per station; the others queue
in order), is sent, and its answer is awaited in the caller's task. Answers arrive through
:meth:`~Ocpp16Session.on_message` like any frame and are matched by message ID
(:class:`~evcharge_core.ocppj.PendingCalls`); handling a station's CALL never waits for a
station's answer, so a station that sends a CALL while the CSMS awaits its answer to another
cannot deadlock the connection.

**Boot configuration.** When the connection opens, a background task sends what the
station's :class:`~evcharge_core.domain.model.BootConfiguration` asks for, in this order:
TriggerMessage BootNotification, StatusNotification, Heartbeat, then ClearChargingProfile
(every profile). A refusal, CallError or timeout is logged and the next step still runs.

**Metrics.** The session tells its :class:`~evcharge_core.observability.MessageObserver`
about each CALL the station sends (action, ``ok`` or the CallError code it was answered
with, handling time; a frame naming no OCPP 1.6 action is action ``(unknown)``, one that is
answered with nothing outcome ``(unanswered)``) and each CALL it sends (action; ``ok``, the
station's CallError code, ``timeout``, ``disconnected`` or ``cancelled``; the time from
:meth:`call` to the answer, waiting for its turn included). Answers to CSMS CALLs are not
counted inbound.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Mapping
from typing import Any, Final

from ..charging import ChargingService
from ..domain.values import RegistrationStatus
from ..errors import (
    CommandTimeout,
    EvchargeError,
    InvalidInput,
    Issue,
    NotFound,
    StationCallError,
    StationNotConnected,
    StationProtocolError,
)
from ..observability import (
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
from ..ocppj import Frame, MessageType, PendingCalls, call_error, call_frame, call_result
from ..ports import SessionContext, SessionFactory
from ._handlers import HANDLERS
from ._messages import Refused
from ._protocol import Answer, BrokenResponse, Request, Response, receive
from ._schemas import CSMS_ACTIONS, STATION_ACTIONS, Kind, validate
from .commands import Ocpp16Commands

__all__ = ["DEFAULT_CALL_TIMEOUT", "Ocpp16Session", "session_factory"]

logger = logging.getLogger(__name__)

DEFAULT_CALL_TIMEOUT: Final = 30.0
"""Seconds a CSMS-initiated CALL waits (for its turn and its answer) by default."""

_BOOT_STEPS: Final[tuple[tuple[str, str, dict[str, Any]], ...]] = (
    ("trigger_boot_notification", "TriggerMessage", {"requestedMessage": "BootNotification"}),
    ("trigger_status_notification", "TriggerMessage", {"requestedMessage": "StatusNotification"}),
    ("trigger_heartbeat", "TriggerMessage", {"requestedMessage": "Heartbeat"}),
    ("clear_charging_profiles", "ClearChargingProfile", {}),
)

_ACTIONS: Final = STATION_ACTIONS | CSMS_ACTIONS
_CALL_ERROR_CODES: Final = frozenset(
    {
        "FormationViolation",
        "GenericError",
        "InternalError",
        "NotImplemented",
        "NotSupported",
        "OccurenceConstraintViolation",
        "OccurrenceConstraintViolation",
        "PropertyConstraintViolation",
        "ProtocolError",
        "SecurityError",
        "TypeConstraintViolation",
    }
)
"""OCPP 1.6's CallError codes (and the spelling of OccurrenceConstraintViolation that
2.0.1 fixed): the outcomes a station's CallError is counted under; any other is ``(other)``."""


def _action_label(action: str | None) -> str:
    return action if action is not None and action in _ACTIONS else UNKNOWN_ACTION


def _code_label(code: str) -> str:
    return code if code in _CALL_ERROR_CODES else OTHER_ERROR


def _new_message_id() -> str:
    return str(uuid.uuid4())


class Ocpp16Session:
    """The OCPP 1.6J side of one station's connection (see the module docstring).

    ``charging`` handles what the station reports; ``default_timeout`` bounds
    :meth:`call` when no timeout is given; ``new_message_id`` numbers CSMS CALLs (unique
    per connection); ``observer`` is told about every message (see "Metrics" in the module
    docstring). :attr:`commands` offers the operator commands
    (:class:`~evcharge_core.ocpp16.commands.Ocpp16Commands`) over :meth:`call`.
    """

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
        self.commands = Ocpp16Commands(self)
        self._registration = RegistrationStatus.PENDING
        self._pending = PendingCalls(f"station {context.station_id}")
        self._call_lock = asyncio.Lock()
        self._closed = False
        self._tasks: set[asyncio.Task[None]] = set()

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

    # --- StationSession ------------------------------------------------------------------

    async def on_open(self) -> None:
        """Read the registration status; start the boot configuration, if any."""
        self._registration = await self.charging.registration(self.station_id)
        configuration = self.context.station.boot_configuration
        steps = [(a, p) for flag, a, p in _BOOT_STEPS if getattr(configuration, flag)]
        if steps:
            self.spawn(self._configure(steps))

    async def on_message(self, text: str) -> str | None:
        """Answer a station's CALL, or hand an answer to the CALL it answers."""
        started = time.perf_counter()
        inbound = receive(text, self._registration)
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
            self._pending.fail(
                inbound.message_id,
                StationProtocolError(
                    self.station_id, action, "FormationViolation", inbound.problem
                ),
            )
            return None
        self._log_refusal(inbound)
        outcome = UNANSWERED if inbound.code is None else inbound.code
        self.observer.inbound(_action_label(inbound.action), outcome, time.perf_counter() - started)
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
        body = _outgoing(action, payload)
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
            outcome = _code_label(error.code)
            raise
        except StationNotConnected:
            outcome = DISCONNECTED
            raise
        finally:
            self.observer.outbound(action, outcome, time.perf_counter() - started)

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
        violation = validate(action, Kind.RESPONSE, payload)
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

    async def _handle(self, request: Request) -> tuple[str, str]:
        """The answer to ``request`` and its outcome (``ok`` or the CallError code)."""
        handler = HANDLERS[request.action]
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


def _outgoing(action: str, payload: object) -> dict[str, Any]:
    if action not in CSMS_ACTIONS:
        problem = f"{action[:60]!r} is not a CSMS-to-station OCPP 1.6 call"
        raise InvalidInput([Issue(problem, field="action")])
    if not isinstance(payload, Mapping):
        raise InvalidInput([Issue("the payload must be a JSON object", field="payload")])
    body = dict(payload)
    violation = validate(action, Kind.REQUEST, body)
    if violation is not None:
        raise InvalidInput([Issue(violation.description, field=violation.field or "payload")])
    return body


def session_factory(
    charging: ChargingService,
    *,
    default_timeout: float = DEFAULT_CALL_TIMEOUT,
    observer: MessageObserver | None = None,
) -> SessionFactory:
    """A gateway ``session_factory`` building an :class:`Ocpp16Session` per connection, each
    telling ``observer`` (default: nobody) about its messages."""

    def build(context: SessionContext) -> Ocpp16Session:
        return Ocpp16Session(context, charging, default_timeout=default_timeout, observer=observer)

    return build

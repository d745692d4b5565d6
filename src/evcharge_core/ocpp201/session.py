"""One OCPP 2.0.1 connection: :class:`Ocpp201Session`, the
:class:`~evcharge_core.adapters.websocket.StationSession` the gateway feeds.

It is :class:`evcharge_core._session.OcppSession` (read its docstring: one station CALL at a
time, the registration gate, CSMS CALLs one in flight, the boot configuration, metrics) with
the OCPP 2.0.1 schemas, handlers (:mod:`._handlers`) and CallError codes, and
:class:`~.commands.Ocpp201Commands` as its :attr:`~Ocpp201Session.commands`. What 2.0.1
adds:

**The registration gate asks less of what the CSMS asked for.** While a station is Pending,
OCPP 2.0.1 lets the CSMS configure it (B02): a station may send the messages the CSMS
requested. So besides BootNotification a Pending station may send the report messages
answering a request of this connection (NotifyReport for GetBaseReport or GetReport,
NotifyMonitoringReport, NotifyCustomerInformation, NotifyDisplayMessages,
ReportChargingProfiles: by their ``requestId``) and the messages of a TriggerMessage it
accepted on this connection (StatusNotification, Heartbeat...). Everything else is
``SecurityError``, and a Rejected station is held to BootNotification alone.

**Reports.** :meth:`Ocpp201Session.expect_report` gives a future that the NotifyReport
messages of a request resolve, with all their ``reportData``, once one says ``tbc: false``
(operator commands read a whole configuration this way).

**Message limits.** :meth:`Ocpp201Session.message_limits` says how many items a
GetVariables or SetVariables may carry: from the stored device model if the station
reported its ``DeviceDataCtrlr`` limits, else asked once per connection and action, one
variable per GetVariables (the answers are stored too).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Final

from .._protocol import Handled, Request
from .._session import DEFAULT_CALL_TIMEOUT, OcppSession
from ..charging import ChargingService
from ..domain.device_model import DeviceVariable
from ..domain.model import Station
from ..domain.values import Protocol, RegistrationStatus
from ..errors import NotFound, StationCallError
from ..observability import MessageObserver
from ..ports import SessionContext, SessionFactory
from . import _variables as v
from ._handlers import HANDLERS
from ._schemas import CALL_ERROR_CODES, SCHEMAS
from .commands import Ocpp201Commands

__all__ = ["DEFAULT_CALL_TIMEOUT", "REPORTS", "TRIGGERED", "Ocpp201Session", "session_factory"]

logger = logging.getLogger(__name__)

REPORTS: Final[Mapping[str, str]] = {
    "GetBaseReport": "NotifyReport",
    "GetReport": "NotifyReport",
    "GetMonitoringReport": "NotifyMonitoringReport",
    "CustomerInformation": "NotifyCustomerInformation",
    "GetDisplayMessages": "NotifyDisplayMessages",
    "GetChargingProfiles": "ReportChargingProfiles",
}
"""CSMS requests, and the station message that answers each (by ``requestId``)."""

TRIGGERED: Final[Mapping[str, str]] = {
    "BootNotification": "BootNotification",
    "LogStatusNotification": "LogStatusNotification",
    "FirmwareStatusNotification": "FirmwareStatusNotification",
    "Heartbeat": "Heartbeat",
    "MeterValues": "MeterValues",
    "SignChargingStationCertificate": "SignCertificate",
    "SignV2GCertificate": "SignCertificate",
    "SignCombinedCertificate": "SignCertificate",
    "StatusNotification": "StatusNotification",
    "TransactionEvent": "TransactionEvent",
    "PublishFirmwareStatusNotification": "PublishFirmwareStatusNotification",
}
"""TriggerMessage's ``requestedMessage``, and the action the station then sends."""

_ACCEPTED: Final = frozenset({"Accepted"})


def _new_request_id() -> int:
    return secrets.randbelow(2**31 - 1) + 1


class Ocpp201Session(OcppSession):
    """The OCPP 2.0.1 side of one station's connection (see the module docstring).
    ``new_request_id`` numbers report requests (default: random positive 32-bit)."""

    protocol: ClassVar[Protocol] = Protocol.OCPP201
    schemas = SCHEMAS
    handlers = HANDLERS
    call_error_codes = CALL_ERROR_CODES
    commands: Ocpp201Commands

    def __init__(
        self,
        context: SessionContext,
        charging: ChargingService,
        *,
        default_timeout: float = DEFAULT_CALL_TIMEOUT,
        observer: MessageObserver | None = None,
        new_request_id: Callable[[], int] = _new_request_id,
        **options: Any,
    ) -> None:
        self._new_request_id = new_request_id
        self._requested: dict[str, set[int]] = {}
        self._triggered: set[str] = set()
        self._reports: dict[
            int, tuple[list[dict[str, Any]], asyncio.Future[list[dict[str, Any]]]]
        ] = {}
        self._limits: dict[str, v.MessageLimits] = {}
        super().__init__(
            context, charging, default_timeout=default_timeout, observer=observer, **options
        )

    def make_commands(self) -> Ocpp201Commands:
        return Ocpp201Commands(self)

    # --- the registration gate -----------------------------------------------------------

    def allowed(self, action: str, payload: Mapping[str, Any]) -> bool:
        """Pending: what this connection asked for (see the module docstring)."""
        if self.registration is not RegistrationStatus.PENDING:
            return False
        if action in self._triggered:
            return True
        request_id = payload.get("requestId")
        return isinstance(request_id, int) and request_id in self._requested.get(action, ())

    async def call(
        self, action: str, payload: Mapping[str, Any], timeout: float | None = None
    ) -> dict[str, Any]:
        """:meth:`OcppSession.call`, noting what the station may send in answer."""
        answer_to = REPORTS.get(action)
        request_id = payload.get("requestId") if answer_to is not None else None
        if answer_to is not None and isinstance(request_id, int):
            self._requested.setdefault(answer_to, set()).add(request_id)
        answer = await super().call(action, payload, timeout)
        if action == "TriggerMessage" and answer.get("status") in _ACCEPTED:
            triggered = TRIGGERED.get(str(payload.get("requestedMessage")))
            if triggered is not None:
                self._triggered.add(triggered)
        return answer

    def handled(self, request: Request, outcome: Handled) -> None:
        """A NotifyReport feeds the report it answers."""
        if request.action != "NotifyReport":
            return
        request_id = request.payload.get("requestId")
        waiting = self._reports.get(request_id) if isinstance(request_id, int) else None
        if waiting is None:
            return
        collected, future = waiting
        data = request.payload.get("reportData", [])
        if isinstance(data, list):
            collected.extend(data)
        if not request.payload.get("tbc", False) and not future.done():
            future.set_result(list(collected))

    # --- reports -------------------------------------------------------------------------

    def new_request_id(self) -> int:
        return self._new_request_id()

    def expect_report(self, request_id: int) -> asyncio.Future[list[dict[str, Any]]]:
        """A future resolved with the ``reportData`` of every NotifyReport of
        ``request_id``, once the last (``tbc: false``) arrived."""
        future: asyncio.Future[list[dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._reports[request_id] = ([], future)
        return future

    def forget_report(self, request_id: int) -> None:
        waiting = self._reports.pop(request_id, None)
        if waiting is not None and not waiting[1].done():
            waiting[1].cancel()

    async def on_close(self) -> None:
        for request_id in list(self._reports):
            self.forget_report(request_id)
        await super().on_close()

    # --- what the commands read ----------------------------------------------------------

    async def stored_station(self) -> Station | None:
        return await self.charging.station(self.station_id)

    async def stored_device_model(self) -> list[DeviceVariable]:
        try:
            return await self.charging.device_model(self.station_id)
        except NotFound:
            return []

    async def store_variables(self, variables: Sequence[DeviceVariable]) -> None:
        await self.charging.device_report(self.station_id, variables)

    async def id_token_type(self, id_token: str) -> str | None:
        try:
            return (await self.charging.get_id_token(id_token)).type
        except NotFound:
            return None

    async def message_limits(self, action: str, timeout: float | None) -> v.MessageLimits:
        """How many items one ``action`` (GetVariables, SetVariables) may carry (see the
        module docstring)."""
        known = self._limits.get(action)
        if known is not None:
            return known
        limits = v.limits_from(await self.stored_device_model(), action)
        if not limits.known:
            limits = await self._ask_limits(action, timeout)
        self._limits[action] = limits
        return limits

    async def _ask_limits(self, action: str, timeout: float | None) -> v.MessageLimits:
        """Ask for ``action``'s two limits, one variable per GetVariables (so that even a
        station that takes one item at a time answers), and store what it says."""
        now = self.charging.clock()
        found: list[DeviceVariable] = []
        for key in v.limit_keys(action):
            payload = {"getVariableData": [v.get_item(key)]}
            try:
                answer = await self.call("GetVariables", payload, timeout)
            except StationCallError as error:
                logger.info(
                    "station %s did not say its %s limit (%s)", self.station_id, action, error
                )
                continue
            for result in answer["getVariableResult"]:
                if result["attributeStatus"] == "Accepted":
                    value = result.get("attributeValue")
                    found.append(DeviceVariable(key, now, value, mutability="ReadOnly"))
        if found:
            await self.store_variables(found)
        return v.limits_from(found, action)


def session_factory(
    charging: ChargingService,
    *,
    default_timeout: float = DEFAULT_CALL_TIMEOUT,
    observer: MessageObserver | None = None,
) -> SessionFactory:
    """A gateway ``session_factory`` building an :class:`Ocpp201Session` per connection,
    each telling ``observer`` (default: nobody) about its messages."""

    def build(context: SessionContext) -> Ocpp201Session:
        return Ocpp201Session(context, charging, default_timeout=default_timeout, observer=observer)

    return build

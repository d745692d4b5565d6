"""One simulated OCPP 2.0.1 charging station on a real websocket: :class:`SimulatedStation201`.

It shares the transport with the OCPP 1.6 station (:class:`StationBase`: connecting, calls,
answers, boot and heartbeat, status reports) and carries frames to and from a
:class:`~evcharge_core.simulator.StationModel201`. What differs from 1.6:

**Booting.** A BootNotification (reason ``PowerUp``, ``RemoteReset`` after a Reset,
``Triggered`` when asked for) starts each power cycle. A station that was Accepted and loses
its connection reconnects *without* booting again, as OCPP 2.0.1 stations do, and reports
its connectors' statuses; if the CSMS then answers ``SecurityError`` (it does not consider
the station registered), the station boots again (reason ``Unknown``).

**Charging.** Per EVSE: an idle time, then a driver plugs in (StatusNotification
``Occupied``, TransactionEvent ``Started`` with trigger ``CablePluggedIn``), presents their
token (Authorize, then ``Updated`` with trigger ``Authorized`` and the ``idToken``), energy
flows (``Updated``, ``ChargingStateChanged``: ``Charging``), meter values follow every
``SampledDataCtrlr.TxUpdatedInterval`` (``Updated``, ``MeterValuePeriodic``), charging state
changes are reported (``SuspendedEV`` when the car is full, ``SuspendedEVSE`` under a zero
limit), and after the charge time the driver stops (``Ended``, ``StopAuthorized`` / ``Local``),
unplugs a few seconds later (``Available``). A remote start (RequestStartTransaction) is
authorised first while ``AuthCtrlr.AuthorizeRemoteStart`` is true, then starts with trigger
``RemoteStart``, its ``remoteStartId`` and the token. Every TransactionEvent is delivered
across reconnections (``offline`` is set on those that happened while the station was
offline), up to ``OCPPCommCtrlr.MessageAttempts[TransactionEvent]`` times for timeouts and
CallErrors.

**Clock-aligned meter values.** Every ``AlignedDataCtrlr.Interval`` seconds (0, the
default: never), on the clock's multiples of it, each EVSE reports
``AlignedDataCtrlr.Measurands``: in a MeterValues message when idle, in a TransactionEvent
``Updated`` (``MeterValueClock``) during a transaction.

**Broken frames** from the CSMS get the OCPP-J 2.0.1 CallErrors: ``FormatViolation`` (a
CALL whose payload is not an object), ``RpcFrameworkError`` (a CALL that is not
``[2, id, action, payload]``), ``MessageTypeNotSupported`` (an unknown message type).
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Coroutine, Mapping
from typing import Any, Final

from ._effects import Answer, Effect, Reboot, SendReport, SendTriggered
from ._model201 import (
    STOP_DEAUTHORIZED,
    STOP_EV_DEPARTED,
    STOP_LOCAL,
    STOP_RESET,
    Evse,
    IdToken,
    StationModel201,
)
from ._ocppj import Call, ErrorCode201, FrameError
from ._station import ConnectionLost, StationBase, StationCallError

__all__ = ["SimulatedStation201"]

_AUTHORIZATION_STATUSES: Final = (
    "Accepted",
    "Blocked",
    "ConcurrentTx",
    "Expired",
    "Invalid",
    "NoCredit",
    "NotAllowedTypeEVSE",
    "NotAtThisLocation",
    "NotAtThisTime",
    "Unknown",
)


def _token_status(response: Mapping[str, Any] | None) -> str | None:
    info = response.get("idTokenInfo") if response is not None else None
    status = info.get("status") if isinstance(info, dict) else None
    return status if status in _AUTHORIZATION_STATUSES else None


class SimulatedStation201(StationBase[StationModel201]):
    """One simulated OCPP 2.0.1 charging station with ``config.connectors`` EVSEs of one
    connector each. See the module docstring and :class:`StationBase`."""

    protocol = "ocpp2.0.1"
    status_field = "connectorStatus"

    @property
    def id_token(self) -> IdToken:
        """The token the station's own drivers present (``config.id_tag``, an RFID card)."""
        return IdToken(self.config.id_tag, "ISO14443")

    # --- the hooks of StationBase ---------------------------------------------------------

    def _create_model(self) -> StationModel201:
        config = self.config
        return StationModel201.create(
            self.station_id,
            evses=config.connectors,
            meter_interval=config.meter_interval,
            password=config.password,
            rng=self.rng,
            max_security_profile=config.max_security_profile,
        )

    def _power_cycle(self) -> list[Coroutine[Any, Any, None]]:
        return [*(self._evse_loop(evse) for evse in self.model.evses), self._aligned_loop()]

    def _boot_payload(self, *, triggered: bool) -> dict[str, Any]:
        return self.model.boot_notification("Triggered" if triggered else None)

    def _decide(self, call: Call) -> Answer:
        return self.model.answer(call.action, call.payload, self.clock(), size=call.size)

    def _frame_error_code(self, error: FrameError) -> str | None:
        if error.unknown_type:
            return ErrorCode201.MESSAGE_TYPE_NOT_SUPPORTED
        if not error.is_call:
            return None
        if error.bad_payload:
            return ErrorCode201.FORMAT_VIOLATION
        return ErrorCode201.RPC_FRAMEWORK_ERROR

    def _apply_more(self, effect: Effect) -> None:
        if isinstance(effect, SendTriggered):
            self._spawn(self._send_triggered(effect.message, effect.evse_id, effect.connector_id))
        elif isinstance(effect, SendReport):
            self._spawn(self._send_report(effect.request_id, effect.report_base))

    def _on_call_error(self, action: str, code: str) -> None:
        refused = code == ErrorCode201.SECURITY_ERROR and action != "BootNotification"
        if refused and self.model.accepted:
            self.model.registration_lost()
            self._announced = False
            self._changed()

    # --- what the CSMS asked for ----------------------------------------------------------

    async def _send_triggered(
        self, message: str, evse_id: int | None, connector_id: int | None
    ) -> None:
        model = self.model
        if message == "BootNotification":
            await self._quietly(self._boot(triggered=True))
        elif message == "Heartbeat":
            await self._quietly(self.call("Heartbeat", {}))
        elif message == "StatusNotification":
            keys = [(evse_id, connector_id or 1)] if evse_id is not None else list(model.statuses())
            await self._report_statuses(force=keys)
        elif message == "MeterValues":
            targets = [evse_id] if evse_id is not None else [e.evse_id for e in model.evses]
            for target in targets:
                payload = model.meter_values(target, "Trigger", self.clock())
                await self._quietly(self.call("MeterValues", payload))
        elif message == "TransactionEvent":
            for evse in model.transaction_evses(evse_id):
                payload = model.transaction_updated(
                    evse.evse_id, "Trigger", self.clock(), meter_context="Trigger"
                )
                await self._send_event(payload)
        elif message == "FirmwareStatusNotification":
            payload = {"status": model.firmware_status}
            await self._quietly(self.call("FirmwareStatusNotification", payload))
        elif message == "LogStatusNotification":
            payload = {"status": model.log_status}
            await self._quietly(self.call("LogStatusNotification", payload))

    async def _send_report(self, request_id: int, report_base: str) -> None:
        for payload in self.model.notify_reports(request_id, report_base, self.clock()):
            try:
                await self.call("NotifyReport", payload)
            except ConnectionLost:
                return
            except StationCallError:
                pass

    # --- transactions ---------------------------------------------------------------------

    async def _send_event(self, payload: Mapping[str, Any]) -> dict[str, Any] | None:
        """Deliver a TransactionEvent (see :meth:`StationBase._deliver`)."""
        self.model.queued_events += 1
        try:
            return await self._deliver("TransactionEvent", payload)
        finally:
            self.model.queued_events -= 1

    def _may_start_by_itself(self, evse: Evse) -> bool:
        return (
            self.config.transactions
            and self.accepted
            and self._announced
            and self.model.operative
            and not self.model.reset_on_idle
            and evse.free_for(self.id_token)
        )

    async def _expire_reservations(self) -> None:
        expired = self.model.expire_reservations(self.clock())
        for reservation_id in expired:
            if self.accepted:
                payload = {"reservationId": reservation_id, "reservationUpdateStatus": "Expired"}
                await self._quietly(self.call("ReservationStatusUpdate", payload))
        if expired:
            await self._report_statuses()

    async def _evse_loop(self, evse: Evse) -> None:
        loop = asyncio.get_running_loop()
        arrival: float | None = None
        try:
            while not self._ending:
                await self._expire_reservations()
                token: IdToken | None = None
                remote_start_id: int | None = None
                if evse.remote_start is not None:
                    token, remote_start_id = (
                        evse.remote_start.id_token,
                        evse.remote_start.remote_start_id,
                    )
                    evse.remote_start = None
                elif not self._may_start_by_itself(evse):
                    arrival = None
                elif arrival is None:
                    arrival = loop.time() + self._draw(self.config.think_time)
                elif loop.time() >= arrival:
                    token, arrival = self.id_token, None
                if token is not None:
                    await self._charging_session(evse, token, remote_start_id)
                    if self.model.reset_due():
                        self._apply(Reboot("OnIdle"))
                    continue
                timeouts = [] if arrival is None else [arrival - loop.time()]
                expiry = self.model.next_reservation_expiry(evse)
                if expiry is not None:
                    timeouts.append((expiry - self.clock()).total_seconds())
                await self._nap(min(timeouts) if timeouts else None)
        finally:
            self._changed()

    async def _authorize(self, token: IdToken) -> str | None:
        """Authorize: the token's status, or ``None`` when no usable answer came."""
        try:
            response = await self.call("Authorize", {"idToken": token.to_json()})
        except StationCallError:
            return None
        status = _token_status(response)
        if status is None:
            self.stats.invalid_responses += 1
        return status

    def _check_token(self, evse: Evse, response: Mapping[str, Any] | None) -> None:
        """A TransactionEvent answer's ``idTokenInfo``: a token the CSMS does not accept
        stops the transaction while ``TxCtrlr.StopTxOnInvalidId`` is true."""
        status = _token_status(response)
        if status is None or status == "Accepted":
            return
        self.stats.id_tags_rejected += 1
        if self.model.device.boolean("TxCtrlr", "StopTxOnInvalidId"):
            evse.stop = evse.stop or STOP_DEAUTHORIZED

    async def _unplug_later(self) -> None:
        if not self._ending:
            await self._wait_until(lambda: self._ending, self._draw(self.config.unplug_time))

    async def _charging_session(
        self, evse: Evse, token: IdToken, remote_start_id: int | None
    ) -> None:
        model, number = self.model, evse.evse_id
        remote = remote_start_id is not None
        if remote and model.device.boolean("AuthCtrlr", "AuthorizeRemoteStart"):
            status = await self._authorize(token)
            if status != "Accepted" or self._ending:
                if status is not None and status != "Accepted":
                    self.stats.id_tags_rejected += 1
                return
        model.plug_in(number, token, remote_start_id=remote_start_id)
        await self._report_statuses()
        trigger = "RemoteStart" if remote else "CablePluggedIn"
        started = model.transaction_started(
            number, trigger, self.clock(), offline=not self.accepted
        )
        response = await self._send_event(started)
        if response is not None:
            self.stats.transactions_started += 1
        if remote:
            self._check_token(evse, response)
        else:
            await self._authorize_local(evse, token)
        if evse.stop is None:
            model.start_charging(number, self.clock())
            updated = model.transaction_updated(
                number, "ChargingStateChanged", self.clock(), offline=not self.accepted
            )
            await self._send_event(updated)
            await self._charge(evse)
        cause = evse.stop or STOP_LOCAL
        ended = model.transaction_ended(number, cause, self.clock(), offline=not self.accepted)
        if await self._send_event(ended) is not None:
            self.stats.transactions_stopped += 1
        await self._report_statuses()
        if cause is not STOP_EV_DEPARTED:
            await self._unplug_later()
        model.unplug(number)
        await self._report_statuses()

    async def _authorize_local(self, evse: Evse, token: IdToken) -> None:
        """The driver presents their token after plugging in; an unaccepted token leaves
        the car unauthorised until the driver unplugs (``EVDeparted``)."""
        status = await self._authorize(token) if not self._ending else None
        if status == "Accepted":
            self.model.authorize(evse.evse_id)
            updated = self.model.transaction_updated(
                evse.evse_id, "Authorized", self.clock(), offline=not self.accepted
            )
            self._check_token(evse, await self._send_event(updated))
            return
        if status is not None:
            self.stats.id_tags_rejected += 1
        if self._ending:
            evse.stop = STOP_RESET if self._reboot_kind else STOP_LOCAL
            return
        await self._unplug_later()
        evse.stop = STOP_EV_DEPARTED

    async def _charge(self, evse: Evse) -> None:
        """Charge until the driver, the CSMS, a reset or the end of the run stops it."""
        loop = asyncio.get_running_loop()
        model, number = self.model, evse.evse_id
        until = loop.time() + self._draw(self.config.charge_time)
        last = last_sample = loop.time()
        state = evse.charging_state
        while evse.stop is None:
            if self._ending:
                evse.stop = STOP_RESET if self._reboot_kind else STOP_LOCAL
                break
            now = loop.time()
            model.advance(number, now - last, self.clock())
            last = now
            if evse.charging_state != state and self.accepted:
                state = evse.charging_state
                payload = model.transaction_updated(number, "ChargingStateChanged", self.clock())
                await self._send_event(payload)
                continue
            if loop.time() >= until:
                evse.stop = STOP_LOCAL
                break
            interval = model.tx_updated_interval()
            due = last_sample + interval if interval > 0 else None
            if due is not None and loop.time() >= due:
                if self.accepted:
                    payload = model.transaction_updated(
                        number, "MeterValuePeriodic", self.clock(), meter_context="Sample.Periodic"
                    )
                    await self._send_event(payload)
                last_sample = loop.time()
                continue
            wake_at = until if due is None else min(until, due)
            await self._nap(wake_at - loop.time())
        model.advance(number, loop.time() - last, self.clock())

    async def _aligned_loop(self) -> None:
        """Clock-aligned meter values every ``AlignedDataCtrlr.Interval`` seconds."""
        while not self._ending:
            interval = self.model.aligned_interval()
            if interval <= 0:
                await self._nap(None)
                continue
            seconds = self.clock().timestamp()
            boundary = (math.floor(seconds / interval) + 1) * interval
            await self._nap(boundary - seconds)
            if self._ending or self.clock().timestamp() < boundary or not self.accepted:
                continue
            for evse in self.model.evses:
                if evse.in_transaction:
                    payload = self.model.transaction_updated(
                        evse.evse_id, "MeterValueClock", self.clock(), meter_context="Sample.Clock"
                    )
                    await self._send_event(payload)
                else:
                    payload = self.model.meter_values(evse.evse_id, "Sample.Clock", self.clock())
                    await self._quietly(self.call("MeterValues", payload))

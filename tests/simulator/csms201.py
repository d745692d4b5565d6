"""A minimal OCPP 2.0.1 CSMS for the simulator's tests, on the ``ocpp`` package's own
``ocpp.v201.ChargePoint`` and a ``websockets`` server: independent of evcharge_core's server.

It serves the ``ocpp2.0.1`` subprotocol and answers every message a charging station sends
that the simulator uses; like :class:`~tests.simulator.csms.TestCsms` (which it extends), it
records every frame so that tests can check the station's against the ``ocpp`` package's
OCPP 2.0.1 schemas (:func:`schema_problems_201`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import ocpp
from jsonschema import Draft6Validator
from ocpp.routing import on
from ocpp.v201 import ChargePoint, call_result
from ocpp.v201.enums import Action

from .csms import Recorder, TestCsms, now, schema_problems

SCHEMAS_201 = Path(ocpp.__file__).parent / "v201" / "schemas"


@cache
def validator_201(name: str) -> Draft6Validator:
    """The ocpp package's OCPP 2.0.1 schema of message ``name`` (``Heartbeat``,
    ``HeartbeatResponse``, ...), whose files are named ``<Action>Request.json`` and
    ``<Action>Response.json``."""
    file = name if name.endswith("Response") else name + "Request"
    schema = json.loads((SCHEMAS_201 / f"{file}.json").read_text(), parse_float=Decimal)
    return Draft6Validator(schema, format_checker=Draft6Validator.FORMAT_CHECKER)


def schema_problems_201(frames: Iterable[tuple[str, str, str]]) -> list[str]:
    """Every way the stations' frames break the OCPP 2.0.1 schemas (empty: none)."""
    return schema_problems(frames, validator_201)


class CsmsChargePoint201(ChargePoint):
    """The CSMS's side of one OCPP 2.0.1 station's connection."""

    def __init__(self, station_id: str, connection: Recorder, csms: TestCsms201) -> None:
        super().__init__(station_id, connection, response_timeout=5)
        self.csms = csms
        self.ws = connection.ws

    def _token_info(self, id_token: dict[str, Any]) -> dict[str, Any]:
        return {"status": self.csms.tag_status(id_token["id_token"])}

    @on(Action.boot_notification)
    def on_boot_notification(self, **kwargs: Any) -> call_result.BootNotification:
        return call_result.BootNotification(
            current_time=now(), interval=self.csms.interval, status=self.csms.next_boot_status()
        )

    @on(Action.heartbeat)
    def on_heartbeat(self) -> call_result.Heartbeat:
        return call_result.Heartbeat(current_time=now())

    @on(Action.status_notification)
    def on_status_notification(self, **kwargs: Any) -> call_result.StatusNotification:
        refusal = self.csms.refuse_status_notifications
        if refusal is not None:
            self.csms.refuse_status_notifications = None
            raise refusal
        return call_result.StatusNotification()

    @on(Action.authorize)
    def on_authorize(self, id_token: dict[str, Any], **kwargs: Any) -> call_result.Authorize:
        return call_result.Authorize(id_token_info=self._token_info(id_token))

    @on(Action.transaction_event)
    def on_transaction_event(self, **kwargs: Any) -> call_result.TransactionEvent:
        id_token = kwargs.get("id_token")
        if id_token is None:
            return call_result.TransactionEvent()
        return call_result.TransactionEvent(id_token_info=self._token_info(id_token))

    @on(Action.meter_values)
    def on_meter_values(self, **kwargs: Any) -> call_result.MeterValues:
        return call_result.MeterValues()

    @on(Action.notify_report)
    def on_notify_report(self, **kwargs: Any) -> call_result.NotifyReport:
        return call_result.NotifyReport()

    @on(Action.reservation_status_update)
    def on_reservation_status_update(self, **kwargs: Any) -> call_result.ReservationStatusUpdate:
        return call_result.ReservationStatusUpdate()

    @on(Action.firmware_status_notification)
    def on_firmware(self, **kwargs: Any) -> call_result.FirmwareStatusNotification:
        return call_result.FirmwareStatusNotification()

    @on(Action.log_status_notification)
    def on_log(self, **kwargs: Any) -> call_result.LogStatusNotification:
        return call_result.LogStatusNotification()


class TestCsms201(TestCsms):
    """:class:`TestCsms` for OCPP 2.0.1 stations. ``tag_statuses`` answers Authorize and the
    ``idTokenInfo`` of TransactionEvents that carry an ``idToken``.
    ``refuse_status_notifications``, when set, is raised (once) instead of answering the next
    StatusNotification (an ``ocpp`` exception: its CallError goes back)."""

    __test__ = False  # not a pytest class
    subprotocol = "ocpp2.0.1"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.refuse_status_notifications: Exception | None = None

    def charge_point(self, station_id: str, recorder: Recorder) -> CsmsChargePoint201:
        return CsmsChargePoint201(station_id, recorder, self)

    def transaction_events(self, station_id: str | None = None) -> list[dict[str, Any]]:
        return self.payloads("TransactionEvent", station_id)

    def statuses(self, evse_id: int, station_id: str | None = None) -> list[str]:
        """The connector statuses EVSE ``evse_id`` reported, in order."""
        return [
            p["connectorStatus"]
            for p in self.payloads("StatusNotification", station_id)
            if p["evseId"] == evse_id
        ]

"""What each station-initiated OCPP 1.6 CALL does: one handler per action, from the
validated request payload to the response payload, through
:class:`~evcharge_core.charging.ChargingService` (handlers never reach storage).

=================================  ==============================================================
action                             handled as
=================================  ==============================================================
BootNotification                   ``boot``: reported fields stored; status, interval, time
Heartbeat                          ``heartbeat``: the CSMS's time
StatusNotification                 ``status_report`` (connector 0: the station; no timestamp: now)
Authorize                          ``authorize``: idTagInfo
StartTransaction                   ``start_transaction``: stored before the answer; transactionId
StopTransaction                    ``stop_transaction`` (unknown: recorded as an orphan)
MeterValues                        ``meter_values``: numeric sampled values
DataTransfer                       ``notification``; answered ``UnknownVendorId``
FirmwareStatusNotification,        ``notification``; answered ``{}``
DiagnosticsStatusNotification,
SecurityEventNotification,
LogStatusNotification,
SignedFirmwareStatusNotification
SignCertificate                    ``notification``; answered ``Rejected`` (no CA configured)
=================================  ==============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._protocol import Handled, Handler
from ..charging import ChargingService
from . import _messages as m

__all__ = ["HANDLERS", "Handled", "Handler"]


async def boot_notification(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    result = await charging.boot(station_id, m.reported_info(payload))
    return Handled(m.boot_response(result), result.status)


async def heartbeat(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    return Handled({"currentTime": m.ocpp_time(await charging.heartbeat(station_id))})


async def status_notification(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    await charging.status_report(station_id, m.status_report(payload, charging.clock()))
    return Handled({})


async def authorize(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    authorization = await charging.authorize(station_id, payload["idTag"])
    return Handled({"idTagInfo": m.id_tag_info(authorization)})


async def start_transaction(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    connector_id = m.connector_of_transaction(payload)
    timestamp = m.parse_time(payload["timestamp"], "timestamp")
    transaction_id, authorization = await charging.start_transaction(
        station_id,
        connector_id=connector_id,
        id_tag=payload["idTag"],
        meter_start=payload["meterStart"],
        timestamp=timestamp,
        reservation_id=payload.get("reservationId"),
    )
    return Handled({"transactionId": transaction_id, "idTagInfo": m.id_tag_info(authorization)})


async def stop_transaction(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    timestamp = m.parse_time(payload["timestamp"], "timestamp")
    samples = m.meter_samples(payload.get("transactionData", ()), "transactionData", station_id)
    authorization = await charging.stop_transaction(
        station_id,
        transaction_id=str(payload["transactionId"]),
        meter_stop=payload["meterStop"],
        timestamp=timestamp,
        reason=payload.get("reason"),
        id_tag=payload.get("idTag"),
        samples=samples,
    )
    if authorization is None:
        return Handled({})
    return Handled({"idTagInfo": m.id_tag_info(authorization)})


async def meter_values(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    connector_id = m.meter_connector(payload)
    samples = m.meter_samples(payload["meterValue"], "meterValue", station_id)
    transaction_id = payload.get("transactionId")
    if samples:
        await charging.meter_values(
            station_id,
            connector_id=connector_id,
            transaction_id=None if transaction_id is None else str(transaction_id),
            samples=samples,
        )
    return Handled({})


def _stored(answer: dict[str, Any], action: str) -> Handler:
    async def handle(
        charging: ChargingService, station_id: str, payload: Mapping[str, Any]
    ) -> Handled:
        await charging.notification(station_id, action, payload)
        return Handled(dict(answer))

    handle.__name__ = handle.__qualname__ = f"store_{action}"
    return handle


HANDLERS: Final[Mapping[str, Handler]] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "StartTransaction": start_transaction,
    "StopTransaction": stop_transaction,
    "MeterValues": meter_values,
    "DataTransfer": _stored({"status": "UnknownVendorId"}, "DataTransfer"),
    "FirmwareStatusNotification": _stored({}, "FirmwareStatusNotification"),
    "DiagnosticsStatusNotification": _stored({}, "DiagnosticsStatusNotification"),
    "SecurityEventNotification": _stored({}, "SecurityEventNotification"),
    "LogStatusNotification": _stored({}, "LogStatusNotification"),
    "SignedFirmwareStatusNotification": _stored({}, "SignedFirmwareStatusNotification"),
    "SignCertificate": _stored({"status": "Rejected"}, "SignCertificate"),
}
"""The handler of every station-initiated OCPP 1.6 action."""

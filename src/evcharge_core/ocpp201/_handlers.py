"""What each station-initiated OCPP 2.0.1 CALL does: one handler per action, from the
validated request payload to the response payload, through
:class:`~evcharge_core.charging.ChargingService` (handlers never reach storage).

==================================  ============================================================
action                              handled as
==================================  ============================================================
BootNotification                    ``boot``: reported fields (modem included) stored; status,
                                    interval, time
Heartbeat                           ``heartbeat``: the CSMS's time
StatusNotification                  ``status_report`` of connector ``connectorId`` of EVSE
                                    ``evseId`` (``Occupied``: see :mod:`._messages`)
Authorize                           ``authorize``: idTokenInfo (``NoAuthorization``: Accepted)
TransactionEvent                    ``transaction_event``: kept once per seqNo, stored before
                                    the answer; idTokenInfo when it carries an id token
MeterValues                         ``meter_values`` under the EVSE ID (0: the main meter)
NotifyReport                        ``device_report``: the device model stored
NotifyEvent, SecurityEvent-         ``notification``; answered ``{}``
Notification, FirmwareStatus-
Notification, LogStatusNotifi-
cation, ReservationStatusUpdate,
ReportChargingProfiles, Notify-
ChargingLimit, ClearedCharging-
Limit, NotifyCustomerInformation,
NotifyDisplayMessages, Notify-
MonitoringReport, PublishFirmware-
StatusNotification
NotifyEVChargingSchedule            ``notification``; answered ``Accepted`` (noted)
NotifyEVChargingNeeds               ``notification``; answered ``Rejected`` (this CSMS
                                    computes no schedule for an EV's needs)
DataTransfer                        ``notification``; answered ``UnknownVendorId``
SignCertificate                     ``notification``; answered ``Rejected`` (no CA configured)
Get15118EVCertificate               ``notification``; answered ``Failed`` (no ISO 15118 PKI)
GetCertificateStatus                ``notification``; answered ``Failed`` (no OCSP access)
==================================  ============================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._protocol import Handled, Handler
from ..charging import ChargingService
from . import _messages as m

__all__ = ["HANDLERS"]


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
    await charging.status_report(station_id, m.status_report(payload))
    return Handled({})


async def authorize(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    id_token = payload["idToken"]
    if m.free_vend(id_token):
        return Handled({"idTokenInfo": m.id_token_info(m.ACCEPTED)})
    authorization = await charging.authorize(station_id, id_token["idToken"])
    return Handled({"idTokenInfo": m.id_token_info(authorization)})


async def transaction_event(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    event = m.transaction_event(payload, station_id)
    authorization = await charging.transaction_event(station_id, event, payload)
    id_token = payload.get("idToken")
    if id_token is None:
        return Handled({})
    if authorization is None:  # a NoAuthorization token: nobody to check
        authorization = m.ACCEPTED
    return Handled({"idTokenInfo": m.id_token_info(authorization)})


async def meter_values(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    evse_id = m.meter_evse(payload)
    samples = m.meter_samples(payload["meterValue"], "meterValue", station_id)
    if samples:
        await charging.meter_values(
            station_id, connector_id=evse_id, transaction_id=None, samples=samples
        )
    return Handled({})


async def notify_report(
    charging: ChargingService, station_id: str, payload: Mapping[str, Any]
) -> Handled:
    variables = m.device_variables(payload, charging.clock())
    if variables:
        await charging.device_report(station_id, variables)
    return Handled({})


def _stored(answer: dict[str, Any], action: str) -> Handler:
    async def handle(
        charging: ChargingService, station_id: str, payload: Mapping[str, Any]
    ) -> Handled:
        await charging.notification(station_id, action, payload)
        return Handled(dict(answer))

    handle.__name__ = handle.__qualname__ = f"store_{action}"
    return handle


_NOTIFICATIONS: Final = (
    "NotifyEvent",
    "SecurityEventNotification",
    "FirmwareStatusNotification",
    "LogStatusNotification",
    "ReservationStatusUpdate",
    "ReportChargingProfiles",
    "NotifyChargingLimit",
    "ClearedChargingLimit",
    "NotifyCustomerInformation",
    "NotifyDisplayMessages",
    "NotifyMonitoringReport",
    "PublishFirmwareStatusNotification",
)

HANDLERS: Final[Mapping[str, Handler]] = {
    "BootNotification": boot_notification,
    "Heartbeat": heartbeat,
    "StatusNotification": status_notification,
    "Authorize": authorize,
    "TransactionEvent": transaction_event,
    "MeterValues": meter_values,
    "NotifyReport": notify_report,
    **{action: _stored({}, action) for action in _NOTIFICATIONS},
    "NotifyEVChargingSchedule": _stored({"status": "Accepted"}, "NotifyEVChargingSchedule"),
    "NotifyEVChargingNeeds": _stored({"status": "Rejected"}, "NotifyEVChargingNeeds"),
    "DataTransfer": _stored({"status": "UnknownVendorId"}, "DataTransfer"),
    "SignCertificate": _stored({"status": "Rejected"}, "SignCertificate"),
    "Get15118EVCertificate": _stored(
        {"status": "Failed", "exiResponse": ""}, "Get15118EVCertificate"
    ),
    "GetCertificateStatus": _stored({"status": "Failed"}, "GetCertificateStatus"),
}
"""The handler of every station-initiated OCPP 2.0.1 action."""

"""OCPP 1.6 payloads to domain values and back. Pure: no I/O, no clock (``now`` is passed).

Requests reach these functions already valid against their schemas; what a schema cannot say
(a timestamp that names no real instant, a negative connector ID) raises :class:`Refused`
with the CallError to answer. Response payloads are built from typed values; the tests hold
every one of them to its schema.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from .._protocol import Refused
from ..charging import BootResult
from ..domain.model import ReportedInfo
from ..domain.status import StatusReport
from ..domain.transactions import Authorization, MeterSample
from ..domain.values import ConnectorStatus
from ._schemas import PROPERTY_CONSTRAINT, Violation

__all__ = [
    "Refused",
    "boot_response",
    "connector_of_transaction",
    "id_tag_info",
    "meter_connector",
    "meter_samples",
    "ocpp_time",
    "parse_time",
    "reported_info",
    "status_report",
]

logger = logging.getLogger(__name__)

MAX_SAMPLE_MAGNITUDE: Final = 1e15
"""Sampled values beyond this (in their unit) are skipped as readings no meter gives."""

_ID_TAG_MAX: Final = 20


def _refuse(field: str, description: str) -> Refused:
    return Refused(Violation(PROPERTY_CONSTRAINT, f"{field} {description}", field))


def parse_time(text: str, field: str) -> datetime:
    """An OCPP ``dateTime`` (RFC 3339 with an offset) as an aware UTC datetime."""
    try:
        parsed = datetime.fromisoformat(text.upper())
        if parsed.utcoffset() is None:
            raise _refuse(field, "must carry a time zone offset")
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise _refuse(field, "is not a valid date and time") from None


def ocpp_time(instant: datetime) -> str:
    """``2026-11-25T09:00:00.000Z``: UTC, milliseconds."""
    utc = instant.astimezone(UTC).isoformat(timespec="milliseconds")
    return utc.removesuffix("+00:00") + "Z"


def _non_negative(payload: Mapping[str, Any], field: str, minimum: int = 0) -> int:
    value: int = payload[field]
    if value < minimum:
        raise _refuse(field, f"must be {minimum} or more")
    return value


# --- BootNotification -----------------------------------------------------------------------


def reported_info(payload: Mapping[str, Any]) -> ReportedInfo:
    """What a BootNotification reports (``chargeBoxSerialNumber``, deprecated, only when
    ``chargePointSerialNumber`` is absent)."""
    return ReportedInfo(
        vendor=payload["chargePointVendor"],
        model=payload["chargePointModel"],
        serial_number=payload.get("chargePointSerialNumber")
        or payload.get("chargeBoxSerialNumber"),
        firmware_version=payload.get("firmwareVersion"),
        iccid=payload.get("iccid"),
        imsi=payload.get("imsi"),
        meter_type=payload.get("meterType"),
        meter_serial_number=payload.get("meterSerialNumber"),
    )


def boot_response(result: BootResult) -> dict[str, Any]:
    return {
        "status": result.status.value,
        "currentTime": ocpp_time(result.current_time),
        "interval": result.interval_s,
    }


# --- StatusNotification ---------------------------------------------------------------------


def status_report(payload: Mapping[str, Any], now: datetime) -> StatusReport:
    """Connector 0 is the station itself; a missing timestamp means ``now``; the error code
    ``NoError`` is stored as no error."""
    connector_id = _non_negative(payload, "connectorId")
    timestamp = payload.get("timestamp")
    error_code = payload["errorCode"]
    return StatusReport(
        ocpp_id=connector_id,
        status=ConnectorStatus(payload["status"]),
        timestamp=now if timestamp is None else parse_time(timestamp, "timestamp"),
        error_code=None if error_code == "NoError" else error_code,
        info=payload.get("info"),
    )


# --- authorisation and transactions ---------------------------------------------------------


def id_tag_info(authorization: Authorization) -> dict[str, Any]:
    """OCPP 1.6 ``IdTagInfo``. A group id longer than an ``IdToken`` (20 characters) cannot
    be sent as ``parentIdTag`` and is left out."""
    info: dict[str, Any] = {"status": authorization.status.value}
    if authorization.expiry_date is not None:
        info["expiryDate"] = ocpp_time(authorization.expiry_date)
    group = authorization.group_id
    if group is not None and 0 < len(group) <= _ID_TAG_MAX:
        info["parentIdTag"] = group
    return info


def connector_of_transaction(payload: Mapping[str, Any]) -> int:
    """StartTransaction's ``connectorId``: 1 or more (0 is the station itself)."""
    return _non_negative(payload, "connectorId", minimum=1)


def meter_connector(payload: Mapping[str, Any]) -> int:
    """MeterValues' ``connectorId``: 0 (the main meter) or more."""
    return _non_negative(payload, "connectorId")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or abs(value) > MAX_SAMPLE_MAGNITUDE:
        return None
    return value


def meter_samples(
    meter_values: Iterable[Mapping[str, Any]], field: str, station_id: str = "?"
) -> list[MeterSample]:
    """The numeric sampled values of OCPP 1.6 ``MeterValue`` items.

    Values that are not finite numbers (signed data, text, ``NaN``) or beyond
    :data:`MAX_SAMPLE_MAGNITUDE` are skipped and logged. The measurand defaults to
    ``Energy.Active.Import.Register``; the unit to ``Wh`` for energy measurands (OCPP 1.6
    §7.45), else to none. Values keep the unit they were sent in (``kWh`` included): the
    domain converts energy readings when it uses them.
    """
    samples: list[MeterSample] = []
    for i, meter_value in enumerate(meter_values):
        timestamp = parse_time(meter_value["timestamp"], f"{field}[{i}].timestamp")
        for sampled in meter_value["sampledValue"]:
            text = sampled["value"]
            value = None if sampled.get("format") == "SignedData" else _number(text)
            if value is None:
                logger.info(
                    "station %s: sampled value %r skipped (not a usable number)",
                    station_id,
                    text[:40],
                )
                continue
            measurand = sampled.get("measurand", "Energy.Active.Import.Register")
            unit = sampled.get("unit") or ("Wh" if measurand.startswith("Energy") else None)
            samples.append(
                MeterSample(
                    timestamp=timestamp,
                    value=value,
                    measurand=measurand,
                    unit=unit,
                    phase=sampled.get("phase"),
                    context=sampled.get("context"),
                    location=sampled.get("location"),
                )
            )
    return samples

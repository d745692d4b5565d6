"""QR code payloads of chargers: what the sticker on the hardware says, and what a scanned
payload points back to. Pure: rendering the payload as an image is an adapter's job
(:mod:`evcharge_core.qrcodes`).

**The payload** (SPEC §2) is plain text:

* the charger's ``code`` for a charger whose connectors cannot be used at once (it has one
  connector, or none yet, or it is an OCPP 2.0.1 EVSE, which serves one vehicle at a time:
  the driver plugs into either connector and the session runs on the EVSE);
* ``{charger code}*{connector code}`` for each connector of a charger with two or more
  connectors usable at once (an OCPP 1.6 charger, or one whose protocol is not known yet:
  OCPP 1.6 runs a session per connector).

``*`` (:data:`SEPARATOR`) can never be part of a code (codes are letters, digits, ``.``,
``_`` and ``-``; see :func:`~evcharge_core.domain.values.parse_code`), so a payload splits
unambiguously at it. Charger codes are unique across all chargers, and connector codes are
unique within their charger, so a payload names at most one connector in the whole system.

**Resolving** (:func:`parse_payload`, then :func:`resolve` on the station holding the
charger): surrounding whitespace is ignored (scanners often add a newline); both forms are
accepted for any charger, so a sticker printed before a station's protocol was known still
works. A charger code alone resolves to the charger's only connector; for a 2.0.1 EVSE with
several connectors it resolves to the EVSE with no connector (``connector`` is ``None``: the
station uses the one the driver plugs in); for a 1.6 charger with several connectors it is
:class:`QrPayloadError` (the payload must name the connector, as its stickers do).
"""

from __future__ import annotations

from typing import Final

import attrs

from .model import Charger, Connector, Station
from .values import Protocol, parse_code

__all__ = [
    "SEPARATOR",
    "QrCode",
    "QrPayload",
    "QrPayloadError",
    "QrTarget",
    "charger_qr_codes",
    "connectors_usable_at_once",
    "parse_payload",
    "qr_code_for",
    "resolve",
]

SEPARATOR: Final = "*"
"""Between the charger code and the connector code in a payload."""


class QrPayloadError(ValueError):
    """A payload that names no charger and connector; the message says why."""


@attrs.frozen
class QrPayload:
    """A parsed payload: the charger code, and the connector code if it names one."""

    charger_code: str
    connector_code: str | None = None

    def __str__(self) -> str:
        if self.connector_code is None:
            return self.charger_code
        return f"{self.charger_code}{SEPARATOR}{self.connector_code}"


@attrs.frozen
class QrCode:
    """One QR code to print: its ``payload``, the charger, the connector it names (``None``
    when the code stands for the whole charger) and a ``label`` to print beside it (the
    charger's name, and the connector's for a per-connector code)."""

    payload: str
    charger: Charger
    connector: Connector | None
    label: str


@attrs.frozen
class QrTarget:
    """What a payload resolved to. ``connector`` is ``None`` only for an OCPP 2.0.1 EVSE
    with several connectors named by its charger code alone."""

    station: Station
    charger: Charger
    connector: Connector | None


def connectors_usable_at_once(station: Station, charger: Charger) -> bool:
    """Whether the charger gets one QR code per connector: two or more connectors, on a
    station that does not speak OCPP 2.0.1 (a 2.0.1 EVSE charges one vehicle at a time)."""
    return len(charger.connectors) >= 2 and station.protocol is not Protocol.OCPP201


def _label(charger: Charger, connector: Connector | None) -> str:
    if connector is None:
        return charger.name
    return f"{charger.name}, {connector.name}"


def charger_qr_codes(station: Station, charger: Charger) -> tuple[QrCode, ...]:
    """The charger's QR codes: one per connector when :func:`connectors_usable_at_once`,
    else one for the charger (naming its connector when it has exactly one)."""
    if connectors_usable_at_once(station, charger):
        return tuple(
            QrCode(str(QrPayload(charger.code, c.code)), charger, c, _label(charger, c))
            for c in charger.connectors
        )
    only = charger.connectors[0] if len(charger.connectors) == 1 else None
    return (QrCode(charger.code, charger, only, _label(charger, None)),)


def qr_code_for(station: Station, charger: Charger, connector: Connector | None) -> QrCode:
    """The QR code to print for ``connector`` of ``charger`` (``None``: the charger's own).

    For a charger with one code per connector, a connector must be given (``ValueError``
    otherwise); for one with a single code, that code whatever connector is given. The
    connector must be the charger's (``ValueError`` otherwise).
    """
    if connector is not None and connector not in charger.connectors:
        raise ValueError(f"connector {connector.id} is not a connector of charger {charger.id}")
    codes = charger_qr_codes(station, charger)
    if not connectors_usable_at_once(station, charger):
        return codes[0]
    if connector is None:
        raise ValueError(
            f"charger {charger.code} has {len(charger.connectors)} connectors usable at once: "
            "each has its own QR code; name the connector"
        )
    return next(code for code in codes if code.connector == connector)


def parse_payload(text: str) -> QrPayload:
    """The charger and connector codes of a scanned payload (whitespace around it ignored);
    :class:`QrPayloadError` saying what is wrong otherwise."""
    stripped = text.strip()
    if not stripped:
        raise QrPayloadError("the QR payload is empty")
    charger_code, separator, connector_code = stripped.partition(SEPARATOR)
    what = "charger code" if separator else "QR payload"
    try:
        parse_code(charger_code)
    except ValueError:
        raise QrPayloadError(f"{what} {charger_code!r} is not a code") from None
    if not separator:
        return QrPayload(charger_code)
    try:
        parse_code(connector_code)
    except ValueError:
        raise QrPayloadError(f"connector code {connector_code!r} is not a code") from None
    return QrPayload(charger_code, connector_code)


def resolve(station: Station, payload: QrPayload) -> QrTarget:
    """The charger and connector of ``station`` that ``payload`` names (see the module
    docstring); :class:`QrPayloadError` if it names none, or not exactly one."""
    charger = next((c for c in station.chargers if c.code == payload.charger_code), None)
    if charger is None:
        raise QrPayloadError(f"no charger with code {payload.charger_code!r}")
    if payload.connector_code is not None:
        matching = [c for c in charger.connectors if c.code == payload.connector_code]
        if not matching:
            raise QrPayloadError(
                f"charger {charger.code} has no connector with code {payload.connector_code!r}"
            )
        if len(matching) > 1:
            raise QrPayloadError(
                f"charger {charger.code} has {len(matching)} connectors with code "
                f"{payload.connector_code!r}; give them different codes"
            )
        return QrTarget(station, charger, matching[0])
    if len(charger.connectors) == 1:
        return QrTarget(station, charger, charger.connectors[0])
    if not charger.connectors:
        raise QrPayloadError(f"charger {charger.code} has no connectors")
    if station.protocol is Protocol.OCPP201:
        return QrTarget(station, charger, None)
    raise QrPayloadError(
        f"charger {charger.code} has {len(charger.connectors)} connectors: the payload must "
        f"name one, as {charger.code}{SEPARATOR}CONNECTOR_CODE"
    )

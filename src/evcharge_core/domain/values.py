"""Enumerations and the parsers that turn user text into them.

Every parser raises :class:`ValueError` with a message fit to show an operator (it names the
accepted values); the import and the admin API wrap that message with the line, column or
field it came from. The model's attrs validators call the same functions, so a value that
passes an import is exactly a value the model accepts.
"""

from __future__ import annotations

import enum
import re
from typing import Final

__all__ = [
    "MAX_AMPERAGE",
    "MAX_VOLTAGE",
    "MIN_AMPERAGE",
    "MIN_VOLTAGE",
    "ActivationState",
    "ConnectorFormat",
    "ConnectorStandard",
    "ConnectorStatus",
    "CurrentType",
    "OperationalStatus",
    "PhaseWiring",
    "PowerType",
    "Protocol",
    "RegistrationStatus",
    "code_from",
    "parse_bool",
    "parse_code",
    "parse_connector_format",
    "parse_connector_standard",
    "parse_mac",
    "parse_power_type",
    "parse_protocol",
    "parse_serial_number",
    "parse_station_id",
]

MIN_VOLTAGE: Final = 110
MAX_VOLTAGE: Final = 1000
MIN_AMPERAGE: Final = 1
MAX_AMPERAGE: Final = 500
MAX_SERIAL_LENGTH: Final = 255


class Protocol(enum.StrEnum):
    """The OCPP version a station speaks: the websocket subprotocol it negotiated."""

    OCPP16 = "ocpp1.6"
    OCPP201 = "ocpp2.0.1"


class ConnectorStandard(enum.StrEnum):
    """Connector types, named as OCPI 2.2.1 ``ConnectorType`` names them."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_SINGLE_16 = "IEC_60309_2_single_16"
    IEC_60309_2_THREE_16 = "IEC_60309_2_three_16"
    IEC_60309_2_THREE_32 = "IEC_60309_2_three_32"
    IEC_60309_2_THREE_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    SAE_J3400 = "SAE_J3400"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class ConnectorFormat(enum.StrEnum):
    """Whether the connector is a socket (bring your own cable) or a fixed cable."""

    SOCKET = "SOCKET"
    CABLE = "CABLE"


class PowerType(enum.StrEnum):
    """How power is delivered; decides the power formula (see :mod:`.power`)."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class PhaseWiring(enum.StrEnum):
    """The supply phase a single-phase AC connector is wired to (load balancing counts its
    current on that phase only)."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"


class CurrentType(enum.StrEnum):
    """A charger's electric current type."""

    AC = "AC"
    DC = "DC"


class ConnectorStatus(enum.StrEnum):
    """Detailed status of a connector: OCPP 1.6 ``ChargePointStatus`` plus ``Closed``."""

    AVAILABLE = "Available"
    """Free for a new driver."""
    PREPARING = "Preparing"
    """No longer free, no session yet (tag presented, cable in). 2.0.1 ``Occupied``."""
    CHARGING = "Charging"
    """Energy flows to the EV."""
    SUSPENDED_EVSE = "SuspendedEVSE"
    """EV connected; the charger offers no energy (load balancing, local limits...)."""
    SUSPENDED_EV = "SuspendedEV"
    """EV connected, energy offered, the EV takes none."""
    FINISHING = "Finishing"
    """Session stopped; cable or car still there."""
    RESERVED = "Reserved"
    """Held for a reservation."""
    UNAVAILABLE = "Unavailable"
    """Not available for drivers (made so by the operator or the station)."""
    FAULTED = "Faulted"
    """Not working or not set up properly."""
    CLOSED = "Closed"
    """Decommissioned by the operator; stays so until the operator reopens it."""


class OperationalStatus(enum.StrEnum):
    """The broad status: can it be used at all."""

    OPERATIVE = "Operative"
    INOPERATIVE = "Inoperative"
    CLOSED = "Closed"


class ActivationState(enum.StrEnum):
    """Imported stations are inactive until activated with their security code."""

    INACTIVE = "inactive"
    ACTIVE = "active"


class RegistrationStatus(enum.StrEnum):
    """What a BootNotification from the station is answered with."""

    ACCEPTED = "Accepted"
    PENDING = "Pending"
    REJECTED = "Rejected"


# --- parsers ---------------------------------------------------------------------------------

_STATION_ID_RE: Final = re.compile(r"[A-Za-z0-9._\-*=+|@]{1,48}")
_CODE_RE: Final = re.compile(r"[A-Za-z0-9._\-]{1,64}")
_MAC_HEX_RE: Final = re.compile(r"[0-9A-Fa-f]{12}")
_WHITESPACE_RE: Final = re.compile(r"\s")


def parse_station_id(text: str) -> str:
    """A station's OCPP identity: 1 to 48 of ``A-Z a-z 0-9 . _ - * = + | @``."""
    if _STATION_ID_RE.fullmatch(text) is None:
        if not text:
            raise ValueError("station ID is empty")
        if len(text) > 48:
            raise ValueError(f"station ID is {len(text)} characters long; at most 48 allowed")
        bad = sorted({c for c in text if _STATION_ID_RE.fullmatch(c) is None})
        raise ValueError(
            f"station ID contains {', '.join(repr(c) for c in bad)}; "
            "allowed are letters, digits and . _ - * = + | @"
        )
    return text


def parse_code(text: str) -> str:
    """A station, charger or connector code: 1 to 64 of ``A-Z a-z 0-9 . _ -``.

    The alphabet leaves ``*`` free to separate charger and connector codes in a QR payload.
    """
    if _CODE_RE.fullmatch(text) is None:
        if not text:
            raise ValueError("code is empty")
        raise ValueError("code must be 1 to 64 letters, digits, '.', '_' or '-'")
    return text


_NOT_CODE_RE: Final = re.compile(r"[^A-Za-z0-9._\-]")
MAX_CODE_LENGTH: Final = 64


def code_from(text: str, suffix: str = "") -> str:
    """A valid code made from ``text`` (a station ID, say) and ``suffix``: every character a
    code does not allow is replaced by ``_``, and ``text`` is cut so the whole stays within
    64 characters. Different texts can give the same code (``A*B`` and ``A=B``): codes are
    unique only once stored, so callers that store them must handle a Conflict."""
    return parse_code(_NOT_CODE_RE.sub("_", text)[: MAX_CODE_LENGTH - len(suffix)] + suffix)


def parse_mac(text: str) -> str:
    """A MAC address in any common notation, normalised to ``AA:BB:CC:DD:EE:FF``."""
    digits = text.strip().replace(":", "").replace("-", "").replace(".", "")
    if _MAC_HEX_RE.fullmatch(digits) is None:
        raise ValueError(f"{text!r} is not a MAC address (expected AA:BB:CC:DD:EE:FF)")
    digits = digits.upper()
    return ":".join(digits[i : i + 2] for i in range(0, 12, 2))


def parse_serial_number(text: str) -> str:
    """A serial number: at most 255 characters and no whitespace."""
    if not text:
        raise ValueError("serial number is empty")
    if len(text) > MAX_SERIAL_LENGTH:
        raise ValueError(f"serial number is {len(text)} characters long; at most 255 allowed")
    if _WHITESPACE_RE.search(text):
        raise ValueError("serial number must not contain whitespace")
    return text


_TRUE: Final = frozenset({"true", "yes", "1"})
_FALSE: Final = frozenset({"false", "no", "0"})


def parse_bool(text: str) -> bool:
    """``true/false``, ``yes/no`` or ``1/0``, in any case."""
    folded = text.strip().lower()
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (use true/false, yes/no or 1/0)")


def _fold(text: str) -> str:
    return re.sub(r"[\s_\-/.]+", "", text).lower()


def _aliases(mapping: dict[str, ConnectorStandard]) -> dict[str, ConnectorStandard]:
    table = {_fold(member.value): member for member in ConnectorStandard}
    table.update({_fold(alias): member for alias, member in mapping.items()})
    return table


_STANDARDS: Final = _aliases(
    {
        "Type 1": ConnectorStandard.IEC_62196_T1,
        "J1772": ConnectorStandard.IEC_62196_T1,
        "Type 2": ConnectorStandard.IEC_62196_T2,
        "Mennekes": ConnectorStandard.IEC_62196_T2,
        "Type 3A": ConnectorStandard.IEC_62196_T3A,
        "Type 3C": ConnectorStandard.IEC_62196_T3C,
        "CCS1": ConnectorStandard.IEC_62196_T1_COMBO,
        "Combo 1": ConnectorStandard.IEC_62196_T1_COMBO,
        "CCS": ConnectorStandard.IEC_62196_T2_COMBO,
        "CCS2": ConnectorStandard.IEC_62196_T2_COMBO,
        "Combo 2": ConnectorStandard.IEC_62196_T2_COMBO,
        "CHAdeMO": ConnectorStandard.CHADEMO,
        "GB/T AC": ConnectorStandard.GBT_AC,
        "GB/T DC": ConnectorStandard.GBT_DC,
        "Schuko": ConnectorStandard.DOMESTIC_F,
        "NACS": ConnectorStandard.SAE_J3400,
    }
)


def parse_connector_standard(text: str) -> ConnectorStandard:
    """An OCPI connector type name, or a common alias (``Type 2``, ``CCS2``, ``CHAdeMO``...)."""
    member = _STANDARDS.get(_fold(text))
    if member is None:
        raise ValueError(
            f"unknown connector type {text!r} "
            "(use an OCPI name such as IEC_62196_T2, or Type 2, CCS2, CHAdeMO)"
        )
    return member


def parse_connector_format(text: str) -> ConnectorFormat:
    """``SOCKET`` or ``CABLE``, in any case."""
    try:
        return ConnectorFormat(text.strip().upper())
    except ValueError:
        raise ValueError(f"unknown format {text!r} (use Socket or Cable)") from None


_POWER_TYPES: Final = {
    **{_fold(m.value): m for m in PowerType},
    _fold("Single-phase AC"): PowerType.AC_1_PHASE,
    _fold("AC single phase"): PowerType.AC_1_PHASE,
    _fold("AC 1 phase"): PowerType.AC_1_PHASE,
    _fold("Three-phase AC"): PowerType.AC_3_PHASE,
    _fold("AC three phase"): PowerType.AC_3_PHASE,
    _fold("AC 3 phase"): PowerType.AC_3_PHASE,
}


def parse_power_type(text: str) -> PowerType:
    """``AC_1_PHASE``, ``AC_3_PHASE``, ``DC``, or ``Single-phase AC`` / ``Three-phase AC``."""
    member = _POWER_TYPES.get(_fold(text))
    if member is None:
        raise ValueError(f"unknown power type {text!r} (use Single-phase AC, Three-phase AC or DC)")
    return member


_PROTOCOLS: Final = {
    "ocpp1.6": Protocol.OCPP16,
    "1.6": Protocol.OCPP16,
    "ocpp1.6j": Protocol.OCPP16,
    "1.6j": Protocol.OCPP16,
    "ocpp2.0.1": Protocol.OCPP201,
    "2.0.1": Protocol.OCPP201,
    "ocpp2.0": Protocol.OCPP201,
    "2.0": Protocol.OCPP201,
}


def parse_protocol(text: str) -> Protocol:
    """``ocpp1.6`` or ``ocpp2.0.1``; ``1.6``, ``2.0`` and ``2.0.1`` are accepted too."""
    member = _PROTOCOLS.get(text.strip().lower().replace(" ", ""))
    if member is None:
        raise ValueError(f"unknown protocol {text!r} (use ocpp1.6 or ocpp2.0.1)")
    return member

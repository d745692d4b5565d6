"""The simulated charge point's configuration keys, as Get/ChangeConfiguration see them.

The key set is a realistic subset of OCPP 1.6 §9 (Core, Local Auth List Management,
Reservation, Smart Charging) and of the security whitepaper (``AuthorizationKey``,
``SecurityProfile``). Each key has a kind that decides which values ChangeConfiguration
accepts, and an access mode:

- read-write keys are changed by ChangeConfiguration (``Accepted``), or refused
  (``Rejected``) when the value does not fit the kind;
- read-only keys are listed by GetConfiguration and refused by ChangeConfiguration
  (``Rejected``);
- the write-only ``AuthorizationKey`` is never returned: GetConfiguration leaves it out of a
  full listing and reports it in ``unknownKey`` when asked for by name;
- keys the station does not know get ``NotSupported``.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Final

import attrs

__all__ = [
    "SAMPLEABLE_MEASURANDS",
    "Access",
    "Configuration",
    "KeyKind",
    "KeySpec",
]

#: The measurands the simulated meter can report (``MeterValuesSampledData`` and friends).
SAMPLEABLE_MEASURANDS: Final = (
    "Energy.Active.Import.Register",
    "Power.Active.Import",
    "Current.Import",
    "Current.Offered",
    "Power.Offered",
    "Voltage",
    "SoC",
)

_MAX_INTEGER: Final = 2**31 - 1
_VALUE_MAX_LENGTH: Final = 500


class KeyKind(enum.Enum):
    """What values a configuration key takes."""

    #: A non-negative integer, written in decimal.
    INTEGER = "integer"
    #: ``true`` or ``false`` (compared case-insensitively, stored in lower case).
    BOOLEAN = "boolean"
    #: Free text, at most 500 characters.
    STRING = "string"
    #: A comma-separated list of measurands from :data:`SAMPLEABLE_MEASURANDS`, possibly empty.
    MEASURANDS = "measurands"
    #: A Basic auth password: 16 to 40 characters (security whitepaper, ``AuthorizationKey``).
    PASSWORD = "password"  # noqa: S105 - the name of a kind, not a password
    #: The security profile: an integer that may only grow, up to what the station supports.
    SECURITY_PROFILE = "security profile"


class Access(enum.Enum):
    """Who may read and write a configuration key."""

    #: Listed by GetConfiguration, changed by ChangeConfiguration.
    READ_WRITE = "rw"
    #: Listed by GetConfiguration; ChangeConfiguration answers ``Rejected``.
    READ_ONLY = "r"
    #: Changed by ChangeConfiguration, never returned by GetConfiguration.
    WRITE_ONLY = "w"


@attrs.frozen
class KeySpec:
    """One configuration key: its name, kind, access, and the key bounding a list's length."""

    name: str
    kind: KeyKind
    access: Access = Access.READ_WRITE
    max_length_key: str | None = None


_RW, _R, _W = Access.READ_WRITE, Access.READ_ONLY, Access.WRITE_ONLY
_INT, _BOOL, _STR, _CSL = KeyKind.INTEGER, KeyKind.BOOLEAN, KeyKind.STRING, KeyKind.MEASURANDS

_KEYS: Final = (
    KeySpec("AllowOfflineTxForUnknownId", _BOOL),
    KeySpec("AuthorizationCacheEnabled", _BOOL),
    KeySpec("AuthorizeRemoteTxRequests", _BOOL),
    KeySpec("ClockAlignedDataInterval", _INT),
    KeySpec("ConnectionTimeOut", _INT),
    KeySpec("ConnectorPhaseRotation", _STR),
    KeySpec("GetConfigurationMaxKeys", _INT, _R),
    KeySpec("HeartbeatInterval", _INT),
    KeySpec("LocalAuthorizeOffline", _BOOL),
    KeySpec("LocalPreAuthorize", _BOOL),
    KeySpec("MeterValuesAlignedData", _CSL, max_length_key="MeterValuesAlignedDataMaxLength"),
    KeySpec("MeterValuesAlignedDataMaxLength", _INT, _R),
    KeySpec("MeterValuesSampledData", _CSL, max_length_key="MeterValuesSampledDataMaxLength"),
    KeySpec("MeterValuesSampledDataMaxLength", _INT, _R),
    KeySpec("MeterValueSampleInterval", _INT),
    KeySpec("NumberOfConnectors", _INT, _R),
    KeySpec("ResetRetries", _INT),
    KeySpec("StopTransactionOnEVSideDisconnect", _BOOL),
    KeySpec("StopTransactionOnInvalidId", _BOOL),
    KeySpec("StopTxnAlignedData", _CSL, max_length_key="StopTxnAlignedDataMaxLength"),
    KeySpec("StopTxnAlignedDataMaxLength", _INT, _R),
    KeySpec("StopTxnSampledData", _CSL, max_length_key="StopTxnSampledDataMaxLength"),
    KeySpec("StopTxnSampledDataMaxLength", _INT, _R),
    KeySpec("SupportedFeatureProfiles", _STR, _R),
    KeySpec("TransactionMessageAttempts", _INT),
    KeySpec("TransactionMessageRetryInterval", _INT),
    KeySpec("UnlockConnectorOnEVSideDisconnect", _BOOL),
    KeySpec("WebSocketPingInterval", _INT),
    KeySpec("LocalAuthListEnabled", _BOOL),
    KeySpec("LocalAuthListMaxLength", _INT, _R),
    KeySpec("SendLocalListMaxLength", _INT, _R),
    KeySpec("ReserveConnectorZeroSupported", _BOOL, _R),
    KeySpec("ChargeProfileMaxStackLevel", _INT, _R),
    KeySpec("ChargingScheduleAllowedChargingRateUnit", _STR, _R),
    KeySpec("ChargingScheduleMaxPeriods", _INT, _R),
    KeySpec("ConnectorSwitch3to1PhaseSupported", _BOOL, _R),
    KeySpec("MaxChargingProfilesInstalled", _INT, _R),
    KeySpec("AuthorizationKey", KeyKind.PASSWORD, _W),
    KeySpec("SecurityProfile", KeyKind.SECURITY_PROFILE),
)

SPECS: Final[dict[str, KeySpec]] = {spec.name: spec for spec in _KEYS}


def _defaults(
    connectors: int, meter_interval: int, password: str | None, heartbeat_interval: int
) -> dict[str, str]:
    return {
        "AllowOfflineTxForUnknownId": "false",
        "AuthorizationCacheEnabled": "true",
        "AuthorizeRemoteTxRequests": "true",
        "ClockAlignedDataInterval": "0",
        "ConnectionTimeOut": "60",
        "ConnectorPhaseRotation": ",".join(f"{n}.RST" for n in range(connectors + 1)),
        "GetConfigurationMaxKeys": "50",
        "HeartbeatInterval": str(heartbeat_interval),
        "LocalAuthorizeOffline": "true",
        "LocalPreAuthorize": "false",
        "MeterValuesAlignedData": "Energy.Active.Import.Register",
        "MeterValuesAlignedDataMaxLength": "7",
        "MeterValuesSampledData": (
            "Energy.Active.Import.Register,Power.Active.Import,Current.Import"
        ),
        "MeterValuesSampledDataMaxLength": "7",
        "MeterValueSampleInterval": str(meter_interval),
        "NumberOfConnectors": str(connectors),
        "ResetRetries": "3",
        "StopTransactionOnEVSideDisconnect": "true",
        "StopTransactionOnInvalidId": "true",
        "StopTxnAlignedData": "",
        "StopTxnAlignedDataMaxLength": "7",
        "StopTxnSampledData": "",
        "StopTxnSampledDataMaxLength": "7",
        "SupportedFeatureProfiles": (
            "Core,FirmwareManagement,LocalAuthListManagement,Reservation,SmartCharging,"
            "RemoteTrigger"
        ),
        "TransactionMessageAttempts": "3",
        "TransactionMessageRetryInterval": "60",
        "UnlockConnectorOnEVSideDisconnect": "true",
        "WebSocketPingInterval": "0",
        "LocalAuthListEnabled": "true",
        "LocalAuthListMaxLength": "100",
        "SendLocalListMaxLength": "100",
        "ReserveConnectorZeroSupported": "false",
        "ChargeProfileMaxStackLevel": "10",
        "ChargingScheduleAllowedChargingRateUnit": "Current,Power",
        "ChargingScheduleMaxPeriods": "24",
        "ConnectorSwitch3to1PhaseSupported": "false",
        "MaxChargingProfilesInstalled": "10",
        "AuthorizationKey": password or "",
        "SecurityProfile": "1" if password else "0",
    }


@attrs.define
class Configuration:
    """The values of every configuration key, with the rules for reading and changing them.

    ``max_security_profile`` is the highest ``SecurityProfile`` the station can honour: 1
    over ``ws://`` (Basic auth), 2 over ``wss://`` (Basic auth and TLS).
    """

    values: dict[str, str]
    max_security_profile: int = 1

    @classmethod
    def create(
        cls,
        *,
        connectors: int,
        meter_interval: int,
        password: str | None = None,
        heartbeat_interval: int = 300,
        max_security_profile: int = 1,
    ) -> Configuration:
        """The factory defaults for a station with this many connectors."""
        return cls(
            _defaults(connectors, meter_interval, password, heartbeat_interval),
            max_security_profile,
        )

    def get(self, keys: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
        """GetConfiguration: ``(configurationKey, unknownKey)`` for these keys, or for all."""
        names = [spec.name for spec in _KEYS] if keys is None else list(dict.fromkeys(keys))
        known: list[dict[str, Any]] = []
        unknown: list[str] = []
        for name in names:
            spec = SPECS.get(name)
            if spec is None or spec.access is Access.WRITE_ONLY:
                if keys is not None:
                    unknown.append(name)
                continue
            known.append(
                {
                    "key": name,
                    "readonly": spec.access is Access.READ_ONLY,
                    "value": self.values[name][:_VALUE_MAX_LENGTH],
                }
            )
        return known, unknown

    def change(self, key: str, value: str) -> str:
        """ChangeConfiguration: store the value if allowed; the answer's status."""
        spec = SPECS.get(key)
        if spec is None:
            return "NotSupported"
        if spec.access is Access.READ_ONLY:
            return "Rejected"
        normalized = self._normalize(spec, value)
        if normalized is None:
            return "Rejected"
        self.values[key] = normalized
        return "Accepted"

    def _normalize(self, spec: KeySpec, value: str) -> str | None:  # noqa: PLR0911 - per kind
        kind = spec.kind
        if kind is KeyKind.INTEGER:
            return str(int(value)) if _is_integer(value) else None
        if kind is KeyKind.BOOLEAN:
            lowered = value.strip().lower()
            return lowered if lowered in ("true", "false") else None
        if kind is KeyKind.MEASURANDS:
            items = [item.strip() for item in value.split(",") if item.strip()]
            if any(item not in SAMPLEABLE_MEASURANDS for item in items):
                return None
            if spec.max_length_key and len(items) > self.integer(spec.max_length_key):
                return None
            return ",".join(items)
        if kind is KeyKind.PASSWORD:
            return value if 16 <= len(value) <= 40 else None
        if kind is KeyKind.SECURITY_PROFILE:
            if not _is_integer(value):
                return None
            profile = int(value)
            current = self.integer("SecurityProfile")
            if profile < current or profile > self.max_security_profile:
                return None
            if profile >= 1 and not self.values["AuthorizationKey"]:
                return None
            return str(profile)
        return value if len(value) <= _VALUE_MAX_LENGTH else None

    def set(self, key: str, value: str) -> None:
        """Store a value without the checks (the station's own changes, such as the heartbeat
        interval a BootNotification answer sets)."""
        if key not in SPECS:
            raise KeyError(key)
        self.values[key] = value

    def integer(self, key: str) -> int:
        """An integer key's value."""
        return int(self.values[key])

    def boolean(self, key: str) -> bool:
        """A boolean key's value."""
        return self.values[key] == "true"

    def measurands(self, key: str) -> list[str]:
        """A measurand list key's value, as a list."""
        return [item for item in self.values[key].split(",") if item]

    @property
    def authorization_key(self) -> str | None:
        """The Basic auth password to present on the next connection, if any."""
        return self.values["AuthorizationKey"] or None


def _is_integer(value: str) -> bool:
    text = value.strip()
    return text.isdigit() and text.isascii() and int(text) <= _MAX_INTEGER

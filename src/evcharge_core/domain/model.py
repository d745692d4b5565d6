"""The model: areas, stations, chargers, connectors, as immutable values.

A :class:`Station` is the aggregate root: it owns its chargers, which own their connectors,
and a repository loads and saves a station whole. Every class is ``@attrs.frozen`` and
validated at construction; change one with :func:`attrs.evolve` or with the pure functions
in :mod:`evcharge_core.domain` that also return the events describing the change. No class
here knows any wire format: converters live at the edges (admin JSON, SQLite rows, OCPP).

Timestamps are timezone-aware UTC :class:`~datetime.datetime` values, passed in by the
caller: the domain never reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any

import attrs

from .power import max_power_w
from .values import (
    MAX_AMPERAGE,
    MAX_VOLTAGE,
    MIN_AMPERAGE,
    MIN_VOLTAGE,
    ActivationState,
    ConnectorFormat,
    ConnectorStandard,
    ConnectorStatus,
    CurrentType,
    PhaseWiring,
    PowerType,
    Protocol,
    RegistrationStatus,
    parse_code,
    parse_mac,
    parse_serial_number,
    parse_station_id,
)

__all__ = [
    "Activation",
    "Area",
    "BootConfiguration",
    "Charger",
    "Connection",
    "Connectivity",
    "Connector",
    "ConnectorSpec",
    "ReportedInfo",
    "Station",
    "StatusRecord",
]


# --- validators shared by the classes below --------------------------------------------------


def _check(parser: Any) -> Any:
    """An attrs validator that runs one of the :mod:`.values` parsers on the value."""

    def validate(_inst: object, _attr: attrs.Attribute[Any], value: Any) -> None:
        if value is not None and parser(value) != value:
            raise ValueError(f"{value!r} is not in normal form; pass {parser(value)!r}")

    return validate


def _int_range(low: int, high: int, what: str) -> Any:
    def validate(_inst: object, _attr: attrs.Attribute[Any], value: int) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} must be a whole number, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{what} must be between {low} and {high}, got {value}")

    return validate


def _aware(_inst: object, attr: attrs.Attribute[Any], value: datetime | None) -> None:
    if value is not None and value.utcoffset() is None:
        raise ValueError(f"{attr.name} must be a timezone-aware datetime")


def _fields_map(value: Mapping[str, str]) -> dict[str, str]:
    return dict(value)


# Typed tuple converters: with ``converter=tuple`` mypy's attrs plugin types the __init__ and
# attrs.evolve() argument as ``Iterable[_T_co]`` with an unbound type variable.
def _connectors(value: Iterable[Connector]) -> tuple[Connector, ...]:
    return tuple(value)


def _specs(value: Iterable[ConnectorSpec]) -> tuple[ConnectorSpec, ...]:
    return tuple(value)


def _chargers(value: Iterable[Charger]) -> tuple[Charger, ...]:
    return tuple(value)


# --- value objects ---------------------------------------------------------------------------


@attrs.frozen
class ConnectorSpec:
    """What an import says about a connector: the hardware's electrical specification."""

    standard: ConnectorStandard
    format: ConnectorFormat
    power_type: PowerType
    voltage: int = attrs.field(validator=_int_range(MIN_VOLTAGE, MAX_VOLTAGE, "voltage"))
    """Phase (line-to-neutral) voltage, V."""
    amperage: int = attrs.field(validator=_int_range(MIN_AMPERAGE, MAX_AMPERAGE, "amperage"))

    @property
    def max_power_w(self) -> int:
        return max_power_w(self.power_type, self.voltage, self.amperage)


@attrs.frozen
class Connectivity:
    """How the station reaches the network. Ethernet stations say Wi-Fi (both are LAN)."""

    wifi: bool
    gsm: bool

    def __attrs_post_init__(self) -> None:
        if not (self.wifi or self.gsm):
            raise ValueError("at least one of Wi-Fi and GSM must be supported")


@attrs.frozen
class BootConfiguration:
    """What the CSMS asks of a station right after it connects (all off for a new station)."""

    trigger_boot_notification: bool = False
    trigger_status_notification: bool = False
    trigger_heartbeat: bool = False
    clear_charging_profiles: bool = False


@attrs.frozen
class ReportedInfo:
    """What the station says about itself (BootNotification and friends), kept apart from
    what was imported."""

    vendor: str | None = None
    model: str | None = None
    serial_number: str | None = None
    firmware_version: str | None = None
    iccid: str | None = None
    imsi: str | None = None
    meter_type: str | None = None
    meter_serial_number: str | None = None


@attrs.frozen
class Activation:
    state: ActivationState = ActivationState.ACTIVE
    activated_at: datetime | None = attrs.field(default=None, validator=_aware)


@attrs.frozen
class Connection:
    """The station's websocket, as last known."""

    connected: bool = False
    connected_since: datetime | None = attrs.field(default=None, validator=_aware)
    last_seen: datetime | None = attrs.field(default=None, validator=_aware)
    subprotocol: Protocol | None = None


@attrs.frozen
class StatusRecord:
    """One applied status report: what the station said, and when it said it happened."""

    status: ConnectorStatus
    timestamp: datetime = attrs.field(validator=_aware)
    error_code: str | None = None
    info: str | None = None


# --- the aggregate ---------------------------------------------------------------------------


@attrs.frozen
class Connector:
    """A plug. ``ocpp_id`` is the connector ID the station uses on the wire: station-wide
    (1..n) for OCPP 1.6, within its EVSE for OCPP 2.0.1."""

    id: str
    ocpp_id: int = attrs.field(validator=_int_range(1, 2**31 - 1, "ocpp_id"))
    code: str = attrs.field(validator=_check(parse_code))
    name: str
    standard: ConnectorStandard
    format: ConnectorFormat
    power_type: PowerType
    voltage: int = attrs.field(validator=_int_range(MIN_VOLTAGE, MAX_VOLTAGE, "voltage"))
    amperage: int = attrs.field(validator=_int_range(MIN_AMPERAGE, MAX_AMPERAGE, "amperage"))
    wattage_limit: int | None = attrs.field(default=None)
    power_factor: float = attrs.field(default=1.0)
    custom_fields: Mapping[str, str] = attrs.field(factory=dict, converter=_fields_map)
    status: StatusRecord | None = None
    """The last status the station reported for this connector (kept while offline)."""
    closed: bool = False
    """Decommissioned by the operator: ``Closed`` whatever the station reports."""
    phase: PhaseWiring = PhaseWiring.L1
    """The supply phase a single-phase AC connector is wired to (ignored for others)."""

    @power_factor.validator
    def _check_power_factor(self, _attr: attrs.Attribute[float], value: float) -> None:
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"power factor must be between 0 and 1, got {value}")

    @wattage_limit.validator
    def _check_wattage(self, _attr: attrs.Attribute[int | None], value: int | None) -> None:
        if value is not None and (isinstance(value, bool) or value < 1):
            raise ValueError(f"wattage limit must be a positive number of watts, got {value}")

    @property
    def max_power_w(self) -> int:
        return max_power_w(self.power_type, self.voltage, self.amperage, self.wattage_limit)

    @property
    def spec(self) -> ConnectorSpec:
        return ConnectorSpec(
            self.standard, self.format, self.power_type, self.voltage, self.amperage
        )


@attrs.frozen
class Charger:
    """The hardware: an EVSE in OCPP 2.0.1. ``evse_id`` numbers it within its station."""

    id: str
    evse_id: int = attrs.field(validator=_int_range(1, 2**31 - 1, "evse_id"))
    code: str = attrs.field(validator=_check(parse_code))
    name: str
    physical_address: str | None = attrs.field(default=None, validator=_check(parse_mac))
    reservable: bool = False
    roaming: bool = False
    current_type: CurrentType = CurrentType.AC
    charging_profile_id: str | None = None
    custom_fields: Mapping[str, str] = attrs.field(factory=dict, converter=_fields_map)
    connectors: tuple[Connector, ...] = attrs.field(default=(), converter=_connectors)
    closed: bool = False

    def connector_by_ocpp_id(self, ocpp_id: int) -> Connector | None:
        return next((c for c in self.connectors if c.ocpp_id == ocpp_id), None)


@attrs.frozen
class Station:
    """The networking component: one OCPP websocket connection, identified by ``id``."""

    id: str = attrs.field(validator=_check(parse_station_id))
    name: str
    code: str = attrs.field(validator=_check(parse_code))
    visible: bool = True
    physical_address: str | None = attrs.field(default=None, validator=_check(parse_mac))
    protocol: Protocol | None = None
    area_id: str | None = None
    boot_configuration: BootConfiguration = BootConfiguration()
    security_profile: int = attrs.field(default=0, validator=_int_range(0, 3, "security_profile"))
    password_hash: str | None = None
    registration_status: RegistrationStatus = RegistrationStatus.ACCEPTED
    # import data
    security_code_hash: str | None = None
    manufacturer: str | None = None
    article_number: str | None = None
    serial_number: str | None = attrs.field(default=None, validator=_check(parse_serial_number))
    connectivity: Connectivity | None = None
    connector_specifications: tuple[ConnectorSpec, ...] = attrs.field(default=(), converter=_specs)
    activation: Activation = Activation()
    # reported and live
    reported: ReportedInfo = ReportedInfo()
    connection: Connection = Connection()
    station_status: StatusRecord | None = None
    """OCPP 1.6 connector 0: the station as a whole."""
    closed: bool = False
    chargers: tuple[Charger, ...] = attrs.field(default=(), converter=_chargers)

    def __attrs_post_init__(self) -> None:
        seen_evse: set[int] = set()
        seen_ocpp: set[tuple[int, int]] = set()
        for charger in self.chargers:
            if charger.evse_id in seen_evse:
                raise ValueError(f"station {self.id}: two chargers with EVSE ID {charger.evse_id}")
            seen_evse.add(charger.evse_id)
            for connector in charger.connectors:
                # OCPP 1.6 numbers connectors across the station, 2.0.1 within the EVSE.
                scope = charger.evse_id if self.protocol is Protocol.OCPP201 else 0
                if (scope, connector.ocpp_id) in seen_ocpp:
                    raise ValueError(
                        f"station {self.id}: two connectors with OCPP ID {connector.ocpp_id}"
                    )
                seen_ocpp.add((scope, connector.ocpp_id))

    @property
    def is_active(self) -> bool:
        return self.activation.state is ActivationState.ACTIVE

    def iter_connectors(self) -> Iterator[tuple[Charger, Connector]]:
        for charger in self.chargers:
            for connector in charger.connectors:
                yield charger, connector

    def charger_by_id(self, charger_id: str) -> Charger | None:
        return next((c for c in self.chargers if c.id == charger_id), None)


@attrs.frozen
class Area:
    """A charging area: where its chargers are on the map, and what they may draw together."""

    id: str
    name: str
    latitude: float = attrs.field()
    longitude: float = attrs.field()
    address: str | None = None
    output_limit_a: int | None = None
    output_limit_w: int | None = None
    private_group: frozenset[str] = attrs.field(default=frozenset(), converter=frozenset)
    time_zone: str = "UTC"
    phase_voltage: int = attrs.field(
        default=230, validator=_int_range(MIN_VOLTAGE, MAX_VOLTAGE, "phase_voltage")
    )
    """Line-to-neutral voltage of the area's supply, V: converts between amperes and watts
    when its output limit is shared (load balancing)."""

    @latitude.validator
    def _check_latitude(self, _attr: attrs.Attribute[float], value: float) -> None:
        if not -90.0 <= value <= 90.0:
            raise ValueError(f"latitude must be between -90 and 90, got {value}")

    @longitude.validator
    def _check_longitude(self, _attr: attrs.Attribute[float], value: float) -> None:
        if not -180.0 <= value <= 180.0:
            raise ValueError(f"longitude must be between -180 and 180, got {value}")

"""The simulated OCPP 2.0.1 charging station's device model: components, variables, and the
rules of GetVariables, SetVariables and GetBaseReport (OCPP 2.0.1 part 1 §4, part 2 B05-B08).

A variable is addressed by a :class:`Component` (name, optional instance, optional EVSE and
connector) and a :class:`Variable` (name, optional instance), and described by a
:class:`VariableSpec`: its data type, mutability, limits and list of allowed values. Only the
``Actual`` attribute exists. The rules:

- **GetVariables**: ``UnknownComponent`` when no variable has that component,
  ``UnknownVariable`` when the component has no such variable, ``NotSupportedAttributeType``
  for an attribute other than ``Actual``, ``Rejected`` for a write-only variable, else
  ``Accepted`` with the value (cut to ``DeviceDataCtrlr.ReportingValueSize``).
- **SetVariables**: the same unknown cases; ``Rejected`` for a read-only variable (reason
  ``ReadOnly``) or a value that does not fit its type, limits or list (``InvalidValue``,
  ``ValueOutOfRange``, ``ValueTooLarge``); ``RebootRequired`` for a variable whose new value
  takes effect after a reboot (kept aside until :meth:`DeviceModel.reboot`); else
  ``Accepted``.
- **GetBaseReport**: ``FullInventory`` lists every variable, ``ConfigurationInventory`` the
  writable ones, ``SummaryInventory`` the availability of the station, its EVSEs and
  connectors. Write-only variables are listed without their value.

Values are strings, as OCPP carries them; :meth:`DeviceModel.integer` and friends read them.
A few values are the station's live state (availability, the clock): the station model
writes them with :meth:`DeviceModel.update` before answering.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from datetime import datetime
from typing import Any, Final

import attrs

from ._configuration import SAMPLEABLE_MEASURANDS
from ._ocppj import PayloadReader

__all__ = [
    "ATTRIBUTE_TYPES",
    "AVAILABILITY_STATES",
    "REPORT_BASES",
    "Component",
    "DataType",
    "DeviceModel",
    "Mutability",
    "Variable",
    "VariableSpec",
    "parse_component",
    "parse_variable",
]

#: The attribute types OCPP 2.0.1 names; the simulated station has only ``Actual``.
ATTRIBUTE_TYPES: Final = ("Actual", "Target", "MinSet", "MaxSet")
#: GetBaseReport's ``reportBase`` values.
REPORT_BASES: Final = ("ConfigurationInventory", "FullInventory", "SummaryInventory")
#: The connector statuses, as ``AvailabilityState`` lists them.
AVAILABILITY_STATES: Final = ("Available", "Occupied", "Reserved", "Unavailable", "Faulted")
_TX_POINTS: Final = (
    "ParkingBayOccupancy",
    "EVConnected",
    "Authorized",
    "DataSigned",
    "PowerPathClosed",
    "EnergyTransfer",
)
_TIME_SOURCES: Final = (
    "Heartbeat",
    "NTP",
    "GPS",
    "RealTimeClock",
    "MobileNetwork",
    "RadioTimeTransmitter",
)
_VALUES_LIST_MAX: Final = 1000
_NAME_MAX: Final = 50


class Mutability(enum.StrEnum):
    """Whether the CSMS may read and write a variable."""

    #: GetVariables reads it; SetVariables is Rejected.
    READ_ONLY = "ReadOnly"
    #: Both read and written.
    READ_WRITE = "ReadWrite"
    #: SetVariables writes it; GetVariables is Rejected, reports leave the value out.
    WRITE_ONLY = "WriteOnly"


class DataType(enum.StrEnum):
    """A variable's ``dataType``, which decides the values SetVariables accepts."""

    #: Any text up to ``maxLimit`` characters.
    STRING = "string"
    #: A number (``minLimit`` .. ``maxLimit``).
    DECIMAL = "decimal"
    #: A whole number (``minLimit`` .. ``maxLimit``).
    INTEGER = "integer"
    #: An RFC 3339 date-time.
    DATETIME = "dateTime"
    #: ``true`` or ``false``.
    BOOLEAN = "boolean"
    #: One of ``valuesList``.
    OPTION_LIST = "OptionList"
    #: An ordered comma-separated list of items of ``valuesList``.
    SEQUENCE_LIST = "SequenceList"
    #: A comma-separated set of items of ``valuesList`` (possibly empty).
    MEMBER_LIST = "MemberList"


@attrs.frozen
class Component:
    """A component of the device model, optionally on an EVSE (and one of its connectors)."""

    name: str
    instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The OCPP ``ComponentType`` object."""
        data: dict[str, Any] = {"name": self.name}
        if self.instance is not None:
            data["instance"] = self.instance
        if self.evse_id is not None:
            evse: dict[str, Any] = {"id": self.evse_id}
            if self.connector_id is not None:
                evse["connectorId"] = self.connector_id
            data["evse"] = evse
        return data

    def __str__(self) -> str:
        where = ""
        if self.evse_id is not None:
            where = f"@{self.evse_id}" + (
                f".{self.connector_id}" if self.connector_id is not None else ""
            )
        instance = f"[{self.instance}]" if self.instance else ""
        return f"{self.name}{instance}{where}"


@attrs.frozen
class Variable:
    """A variable of a component, optionally one instance of several."""

    name: str
    instance: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The OCPP ``VariableType`` object."""
        data: dict[str, Any] = {"name": self.name}
        if self.instance is not None:
            data["instance"] = self.instance
        return data

    def __str__(self) -> str:
        return f"{self.name}[{self.instance}]" if self.instance else self.name


def parse_component(reader: PayloadReader) -> Component:
    """Read a ``ComponentType`` object."""
    evse = reader.optional_child("evse")
    return Component(
        name=reader.string("name", _NAME_MAX),
        instance=reader.optional_string("instance", _NAME_MAX),
        evse_id=evse.integer("id") if evse is not None else None,
        connector_id=evse.optional_integer("connectorId") if evse is not None else None,
    )


def parse_variable(reader: PayloadReader) -> Variable:
    """Read a ``VariableType`` object."""
    return Variable(
        name=reader.string("name", _NAME_MAX),
        instance=reader.optional_string("instance", _NAME_MAX),
    )


def _is_integer(text: str) -> bool:
    digits = text[1:] if text[:1] in ("-", "+") else text
    return digits.isascii() and digits.isdigit()


def _is_decimal(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


@attrs.frozen
class VariableSpec:
    """What a variable is: its address, type, mutability, limits and allowed values.

    For strings, ``max_limit`` is the longest value (as OCPP reports it) and ``min_length``
    the shortest (not reported). ``reboot_required``: a new value takes effect after a reboot
    (SetVariables answers ``RebootRequired``).
    """

    component: Component
    variable: Variable
    data_type: DataType
    mutability: Mutability = Mutability.READ_ONLY
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: tuple[str, ...] = ()
    reboot_required: bool = False
    constant: bool = False
    min_length: int = 0

    def characteristics(self) -> dict[str, Any]:
        """The OCPP ``VariableCharacteristicsType`` object."""
        data: dict[str, Any] = {"dataType": self.data_type.value, "supportsMonitoring": False}
        if self.unit is not None:
            data["unit"] = self.unit
        for key, limit in (("minLimit", self.min_limit), ("maxLimit", self.max_limit)):
            if limit is not None:
                data[key] = int(limit) if float(limit).is_integer() else limit
        if self.values_list:
            data["valuesList"] = ",".join(self.values_list)[:_VALUES_LIST_MAX]
        return data

    def check(self, value: str) -> tuple[str | None, str]:  # noqa: PLR0911 - one per type
        """``(normalised value, "")`` if ``value`` fits this variable, else ``(None, reason)``
        with an OCPP reason code."""
        kind = self.data_type
        if kind in (DataType.INTEGER, DataType.DECIMAL):
            return self._check_number(value.strip())
        if kind in (DataType.MEMBER_LIST, DataType.SEQUENCE_LIST):
            return self._check_list(value)
        if kind is DataType.BOOLEAN:
            lowered = value.strip().lower()
            return (lowered, "") if lowered in ("true", "false") else (None, "InvalidValue")
        if kind is DataType.DATETIME:
            try:
                datetime.fromisoformat(value)
            except ValueError:
                return None, "InvalidValue"
            return value, ""
        if kind is DataType.OPTION_LIST:
            return (value, "") if value in self.values_list else (None, "InvalidValue")
        if len(value) < self.min_length:
            return None, "ValueTooShort"
        if self.max_limit is not None and len(value) > self.max_limit:
            return None, "ValueTooLarge"
        return value, ""

    def _check_number(self, text: str) -> tuple[str | None, str]:
        if self.data_type is DataType.INTEGER:
            if not _is_integer(text):
                return None, "InvalidValue"
            number: float = int(text)
            text = str(number)
        else:
            if not _is_decimal(text):
                return None, "InvalidValue"
            number = float(text)
        in_range = (self.min_limit is None or number >= self.min_limit) and (
            self.max_limit is None or number <= self.max_limit
        )
        return (text, "") if in_range else (None, "ValueOutOfRange")

    def _check_list(self, value: str) -> tuple[str | None, str]:
        items = [item.strip() for item in value.split(",") if item.strip()]
        unknown = any(item not in self.values_list for item in items)
        if unknown or len(set(items)) < len(items):
            return None, "InvalidValue"
        if self.data_type is DataType.SEQUENCE_LIST and not items:
            return None, "InvalidValue"
        return ",".join(items), ""


_Key = tuple[Component, Variable]


def _spec(
    component: str | Component, variable: str, kind: DataType, value: str, **extra: Any
) -> tuple[VariableSpec, str]:
    where = Component(component) if isinstance(component, str) else component
    instance = extra.pop("instance", None)
    return VariableSpec(where, Variable(variable, instance), kind, **extra), value


_RW, _WO = Mutability.READ_WRITE, Mutability.WRITE_ONLY
_STR, _INT, _DEC, _BOOL = DataType.STRING, DataType.INTEGER, DataType.DECIMAL, DataType.BOOLEAN
_OPTION, _MEMBER, _SEQUENCE = DataType.OPTION_LIST, DataType.MEMBER_LIST, DataType.SEQUENCE_LIST
_MEASURANDS: Final = tuple(SAMPLEABLE_MEASURANDS)
_EVSE_MAX_WATTS: Final = 22_080

#: The station-wide controllers' variables and their factory values. ``create`` fills in the
#: values that depend on the station (``HeartbeatInterval``, ``TxUpdatedInterval``,
#: ``BasicAuthPassword``, ``Identity``, ``SecurityProfile``).
_CONTROLLERS: Final = (
    _spec("DeviceDataCtrlr", "ItemsPerMessage", _INT, "10", instance="GetVariables", min_limit=1),
    _spec("DeviceDataCtrlr", "ItemsPerMessage", _INT, "10", instance="SetVariables", min_limit=1),
    _spec("DeviceDataCtrlr", "BytesPerMessage", _INT, "4096", instance="GetVariables", min_limit=1),
    _spec("DeviceDataCtrlr", "BytesPerMessage", _INT, "4096", instance="SetVariables", min_limit=1),
    _spec("DeviceDataCtrlr", "ConfigurationValueSize", _INT, "1000", max_limit=1000),
    _spec("DeviceDataCtrlr", "ReportingValueSize", _INT, "2500", max_limit=2500),
    _spec("OCPPCommCtrlr", "HeartbeatInterval", _INT, "300", mutability=_RW, unit="s", min_limit=0),
    _spec("OCPPCommCtrlr", "WebSocketPingInterval", _INT, "0", mutability=_RW, unit="s"),
    _spec("OCPPCommCtrlr", "MessageTimeout", _INT, "30", instance="Default", unit="s"),
    _spec(
        "OCPPCommCtrlr",
        "MessageAttempts",
        _INT,
        "3",
        instance="TransactionEvent",
        mutability=_RW,
        min_limit=1,
        max_limit=10,
    ),
    _spec(
        "OCPPCommCtrlr",
        "MessageAttemptInterval",
        _INT,
        "60",
        instance="TransactionEvent",
        mutability=_RW,
        unit="s",
        min_limit=0,
    ),
    _spec(
        "OCPPCommCtrlr",
        "NetworkConfigurationPriority",
        _SEQUENCE,
        "0",
        mutability=_RW,
        values_list=("0", "1"),
        reboot_required=True,
    ),
    _spec("OCPPCommCtrlr", "NetworkProfileConnectionAttempts", _INT, "3", mutability=_RW),
    _spec("OCPPCommCtrlr", "OfflineThreshold", _INT, "300", mutability=_RW, unit="s"),
    _spec("OCPPCommCtrlr", "ResetRetries", _INT, "2", mutability=_RW, min_limit=0),
    _spec("OCPPCommCtrlr", "UnlockOnEVSideDisconnect", _BOOL, "true", mutability=_RW),
    _spec(
        "OCPPCommCtrlr",
        "FileTransferProtocols",
        _MEMBER,
        "HTTPS",
        values_list=("FTP", "FTPS", "HTTP", "HTTPS", "SFTP"),
    ),
    _spec(
        "SecurityCtrlr", "BasicAuthPassword", _STR, "", mutability=_WO, max_limit=40, min_length=16
    ),
    _spec("SecurityCtrlr", "Identity", _STR, "", max_limit=48),
    _spec("SecurityCtrlr", "OrganizationName", _STR, "evcharge", mutability=_RW, max_limit=50),
    _spec("SecurityCtrlr", "SecurityProfile", _INT, "0", min_limit=0, max_limit=3),
    _spec("SecurityCtrlr", "CertificateEntries", _INT, "0"),
    _spec("SampledDataCtrlr", "Enabled", _BOOL, "true", mutability=_RW),
    _spec("SampledDataCtrlr", "TxUpdatedInterval", _INT, "60", mutability=_RW, unit="s"),
    _spec(
        "SampledDataCtrlr",
        "TxUpdatedMeasurands",
        _MEMBER,
        "Energy.Active.Import.Register,Power.Active.Import,Current.Import",
        mutability=_RW,
        values_list=_MEASURANDS,
    ),
    _spec(
        "SampledDataCtrlr",
        "TxStartedMeasurands",
        _MEMBER,
        "Energy.Active.Import.Register",
        mutability=_RW,
        values_list=_MEASURANDS,
    ),
    _spec(
        "SampledDataCtrlr",
        "TxEndedMeasurands",
        _MEMBER,
        "Energy.Active.Import.Register",
        mutability=_RW,
        values_list=_MEASURANDS,
    ),
    _spec("SampledDataCtrlr", "TxEndedInterval", _INT, "0", mutability=_RW, unit="s"),
    _spec("AlignedDataCtrlr", "Enabled", _BOOL, "true", mutability=_RW),
    _spec("AlignedDataCtrlr", "Interval", _INT, "0", mutability=_RW, unit="s", min_limit=0),
    _spec(
        "AlignedDataCtrlr",
        "Measurands",
        _MEMBER,
        "Energy.Active.Import.Register",
        mutability=_RW,
        values_list=_MEASURANDS,
    ),
    _spec("TxCtrlr", "EVConnectionTimeOut", _INT, "60", mutability=_RW, unit="s"),
    _spec("TxCtrlr", "StopTxOnEVSideDisconnect", _BOOL, "true"),
    _spec("TxCtrlr", "StopTxOnInvalidId", _BOOL, "true", mutability=_RW),
    _spec("TxCtrlr", "TxStartPoint", _MEMBER, "EVConnected,Authorized", values_list=_TX_POINTS),
    _spec("TxCtrlr", "TxStopPoint", _MEMBER, "EVConnected,Authorized", values_list=_TX_POINTS),
    _spec("AuthCtrlr", "Enabled", _BOOL, "true"),
    _spec("AuthCtrlr", "AuthorizeRemoteStart", _BOOL, "true", mutability=_RW),
    _spec("AuthCtrlr", "LocalAuthorizeOffline", _BOOL, "true", mutability=_RW),
    _spec("AuthCtrlr", "LocalPreAuthorize", _BOOL, "false", mutability=_RW),
    _spec("ReservationCtrlr", "Enabled", _BOOL, "true"),
    _spec("ReservationCtrlr", "NonEvseSpecific", _BOOL, "false"),
    _spec("SmartChargingCtrlr", "Enabled", _BOOL, "true"),
    _spec("SmartChargingCtrlr", "Entries", _INT, "10", instance="ChargingProfiles"),
    _spec("SmartChargingCtrlr", "ProfileStackLevel", _INT, "10", min_limit=0),
    _spec("SmartChargingCtrlr", "PeriodsPerSchedule", _INT, "24", min_limit=1),
    _spec("SmartChargingCtrlr", "RateUnit", _MEMBER, "A,W", values_list=("A", "W")),
    _spec(
        "SmartChargingCtrlr",
        "LimitChangeSignificance",
        _DEC,
        "1.0",
        mutability=_RW,
        unit="Percent",
        min_limit=0,
        max_limit=100,
    ),
    _spec("ClockCtrlr", "DateTime", DataType.DATETIME, ""),
    _spec(
        "ClockCtrlr",
        "TimeSource",
        _SEQUENCE,
        "Heartbeat",
        mutability=_RW,
        values_list=_TIME_SOURCES,
    ),
)


def _availability(component: Component) -> list[tuple[VariableSpec, str]]:
    return [
        _spec(
            component, "AvailabilityState", _OPTION, "Available", values_list=AVAILABILITY_STATES
        ),
        _spec(component, "Available", _BOOL, "true"),
        _spec(component, "SupplyPhases", _INT, "3", min_limit=0, max_limit=3, constant=True),
    ]


def _hardware(evses: int) -> list[tuple[VariableSpec, str]]:
    """The physical components: the station, its EVSEs, their connector (one each)."""
    station = Component("ChargingStation")
    specs = [
        *_availability(station),
        _spec(station, "Model", _STR, "simulator", max_limit=20, constant=True),
        _spec(station, "VendorName", _STR, "evcharge", max_limit=50, constant=True),
    ]
    for evse_id in range(1, evses + 1):
        evse = Component("EVSE", evse_id=evse_id)
        connector = Component("Connector", evse_id=evse_id, connector_id=1)
        specs += [
            *_availability(evse),
            _spec(evse, "Power", _DEC, str(_EVSE_MAX_WATTS), unit="W", max_limit=_EVSE_MAX_WATTS),
            *_availability(connector),
            _spec(connector, "ConnectorType", _STR, "cType2", max_limit=20, constant=True),
        ]
    return specs


@attrs.define
class DeviceModel:
    """Every variable's spec and value. See the module docstring."""

    specs: dict[_Key, VariableSpec]
    values: dict[_Key, str]
    pending: dict[_Key, str] = attrs.field(factory=dict)
    components: frozenset[Component] = frozenset()

    @classmethod
    def create(
        cls,
        station_id: str,
        *,
        evses: int,
        heartbeat_interval: int = 300,
        tx_updated_interval: int = 60,
        password: str | None = None,
        security_profile: int = 0,
    ) -> DeviceModel:
        """The factory device model of a station with ``evses`` EVSEs of one connector each."""
        specs: dict[_Key, VariableSpec] = {}
        values: dict[_Key, str] = {}
        for spec, value in (*_hardware(evses), *_CONTROLLERS):
            key = (spec.component, spec.variable)
            specs[key] = spec
            values[key] = value
        model = cls(specs, values, components=frozenset(key[0] for key in specs))
        for component, variable, value in (
            ("OCPPCommCtrlr", "HeartbeatInterval", str(heartbeat_interval)),
            ("SampledDataCtrlr", "TxUpdatedInterval", str(tx_updated_interval)),
            ("SecurityCtrlr", "BasicAuthPassword", password or ""),
            ("SecurityCtrlr", "Identity", station_id),
            ("SecurityCtrlr", "SecurityProfile", str(security_profile)),
        ):
            model.update(Component(component), Variable(variable), value)
        return model

    # --- typed reads and the station's own writes -----------------------------------------

    def value(self, component: str, variable: str, *, instance: str | None = None) -> str:
        """A station-wide variable's value (``KeyError`` if it does not exist)."""
        return self.values[(Component(component), Variable(variable, instance))]

    def integer(self, component: str, variable: str, *, instance: str | None = None) -> int:
        """An integer variable's value."""
        return int(self.value(component, variable, instance=instance))

    def boolean(self, component: str, variable: str) -> bool:
        """A boolean variable's value."""
        return self.value(component, variable) == "true"

    def members(self, component: str, variable: str) -> list[str]:
        """A list variable's items."""
        return [item for item in self.value(component, variable).split(",") if item]

    def update(self, component: Component, variable: Variable, value: str) -> None:
        """Store a value without the checks (the station's own state, such as availability)."""
        key = (component, variable)
        if key not in self.specs:
            raise KeyError(f"{component}.{variable}")
        self.values[key] = value

    def reboot(self) -> None:
        """Values set with ``RebootRequired`` take effect."""
        self.values.update(self.pending)
        self.pending.clear()

    # --- GetVariables, SetVariables -------------------------------------------------------

    def _find(self, component: Component, variable: Variable) -> tuple[VariableSpec | None, str]:
        if component not in self.components:
            return None, "UnknownComponent"
        spec = self.specs.get((component, variable))
        return (spec, "") if spec is not None else (None, "UnknownVariable")

    def get(
        self, component: Component, variable: Variable, attribute_type: str | None = None
    ) -> tuple[str, str | None]:
        """GetVariables for one variable: ``(attributeStatus, attributeValue)``."""
        spec, status = self._find(component, variable)
        if spec is None:
            return status, None
        if attribute_type not in (None, "Actual"):
            return "NotSupportedAttributeType", None
        if spec.mutability is Mutability.WRITE_ONLY:
            return "Rejected", None
        size = self.integer("DeviceDataCtrlr", "ReportingValueSize")
        return "Accepted", self.values[(component, variable)][:size]

    def set(  # noqa: PLR0911 - one return per rule of B05
        self,
        component: Component,
        variable: Variable,
        value: str,
        attribute_type: str | None = None,
    ) -> tuple[str, str]:
        """SetVariables for one variable: ``(attributeStatus, reasonCode)`` (reason ``""``
        when accepted)."""
        spec, status = self._find(component, variable)
        if spec is None:
            return status, ""
        if attribute_type not in (None, "Actual"):
            return "NotSupportedAttributeType", ""
        if spec.mutability is Mutability.READ_ONLY:
            return "Rejected", "ReadOnly"
        if len(value) > self.integer("DeviceDataCtrlr", "ConfigurationValueSize"):
            return "Rejected", "ValueTooLarge"
        normalized, reason = spec.check(value)
        if normalized is None:
            return "Rejected", reason
        key = (component, variable)
        if spec.reboot_required:
            self.pending[key] = normalized
            return "RebootRequired", ""
        self.values[key] = normalized
        return "Accepted", ""

    # --- GetBaseReport --------------------------------------------------------------------

    def _selected(self, report_base: str) -> Iterable[VariableSpec]:
        for spec in self.specs.values():
            if report_base == "ConfigurationInventory":
                if spec.mutability is not Mutability.READ_ONLY:
                    yield spec
            elif report_base == "SummaryInventory":
                if spec.variable.name in ("AvailabilityState", "Available"):
                    yield spec
            else:
                yield spec

    def report(self, report_base: str) -> list[dict[str, Any]]:
        """The ``reportData`` items of a GetBaseReport, in the device model's order."""
        size = self.integer("DeviceDataCtrlr", "ReportingValueSize")
        items: list[dict[str, Any]] = []
        for spec in self._selected(report_base):
            attribute: dict[str, Any] = {
                "type": "Actual",
                "mutability": spec.mutability.value,
                "persistent": True,
                "constant": spec.constant,
            }
            if spec.mutability is not Mutability.WRITE_ONLY:
                attribute["value"] = self.values[(spec.component, spec.variable)][:size]
            items.append(
                {
                    "component": spec.component.to_json(),
                    "variable": spec.variable.to_json(),
                    "variableAttribute": [attribute],
                    "variableCharacteristics": spec.characteristics(),
                }
            )
        return items

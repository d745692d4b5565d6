"""An OCPP 2.0.1 station's device model, and the text form of its variable keys. Pure.

An OCPP 2.0.1 station describes itself as *components* (``OCPPCommCtrlr``, ``EVSE``,
``Connector``...; optionally an instance, an EVSE and a connector) holding *variables*
(``HeartbeatInterval``; optionally an instance), each with up to four *attributes*
(``Actual``, ``Target``, ``MinSet``, ``MaxSet``). What the station reports in NotifyReport is
kept as :class:`DeviceVariable` values, one per attribute.

**Key text.** Operators name a variable with one string, the configuration key of the admin
API and of :meth:`~evcharge_core.commands.CommandService.get_configuration` (OCPP 1.6 keys
are plain names; OCPP 2.0.1 keys are written ``Component.Variable``)::

    OCPPCommCtrlr.HeartbeatInterval                 component . variable
    DeviceDataCtrlr.ItemsPerMessage[GetVariables]   a variable instance, in brackets
    TxCtrlr[Main].EVConnectionTimeOut               a component instance, in brackets
    EVSE[evse=1].AvailabilityState                  a component of EVSE 1
    Connector[evse=1,connector=2].ConnectorType     ... of connector 2 of EVSE 1
    SampledDataCtrlr.TxEndedInterval:Target         an attribute other than Actual

A component's brackets hold, comma-separated, a bare instance and ``evse=N`` and
``connector=N`` (a connector needs an EVSE), each at most once; the canonical form (what
:func:`format_key` writes) puts them in that order. A variable's brackets hold its instance.
``:Target``, ``:MinSet`` or ``:MaxSet`` names the attribute; none means ``Actual``. Names and
instances holding any of ``% . [ ] , = :`` or a space are written with those characters
percent-encoded (``%2E`` for ``.``), so that every key has exactly one reading and
:func:`parse_key` undoes :func:`format_key` for every possible name.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime
from typing import Final

import attrs

__all__ = [
    "ATTRIBUTE_TYPES",
    "MUTABILITIES",
    "DeviceVariable",
    "VariableKey",
    "find_variable",
    "format_key",
    "parse_key",
]

ATTRIBUTE_TYPES: Final = ("Actual", "Target", "MinSet", "MaxSet")
"""OCPP 2.0.1 ``AttributeEnumType``; ``Actual`` is the default."""

MUTABILITIES: Final = ("ReadOnly", "WriteOnly", "ReadWrite")
"""OCPP 2.0.1 ``MutabilityEnumType``."""

_NAME_MAX: Final = 50
_RESERVED: Final = frozenset("%.[],=: ")
_ESCAPE: Final = re.compile(r"%([0-9A-Fa-f]{2})")


def _check_name(what: str, value: str) -> None:
    if not 1 <= len(value) <= _NAME_MAX:
        raise ValueError(f"{what} must be 1 to {_NAME_MAX} characters, got {len(value)}")


def _check_instance(what: str, value: str | None) -> None:
    if value is not None:
        _check_name(what, value)


def _check_number(what: str, value: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be a whole number, got {value!r}")
    if not 0 <= value <= 2**31 - 1:
        raise ValueError(f"{what} must be between 0 and 2147483647, got {value}")


@attrs.frozen
class VariableKey:
    """Which variable attribute of which component: the key of a :class:`DeviceVariable`
    and of a configuration read or write (text form in the module docstring)."""

    component: str
    variable: str
    component_instance: str | None = None
    evse_id: int | None = None
    connector_id: int | None = None
    variable_instance: str | None = None
    attribute_type: str = "Actual"

    def __attrs_post_init__(self) -> None:
        _check_name("component name", self.component)
        _check_name("variable name", self.variable)
        _check_instance("component instance", self.component_instance)
        _check_instance("variable instance", self.variable_instance)
        _check_number("evse", self.evse_id)
        _check_number("connector", self.connector_id)
        if self.connector_id is not None and self.evse_id is None:
            raise ValueError("a connector is named within an EVSE: give evse too")
        if self.attribute_type not in ATTRIBUTE_TYPES:
            raise ValueError(
                f"attribute must be one of {', '.join(ATTRIBUTE_TYPES)}, "
                f"got {self.attribute_type!r}"
            )

    def __str__(self) -> str:
        return format_key(self)

    @property
    def is_actual(self) -> bool:
        return self.attribute_type == "Actual"

    def same_variable(self, other: VariableKey) -> bool:
        """Whether both name the same component and variable (attribute aside); names
        compare case-insensitively, as OCPP 2.0.1 says they do."""
        return (
            self.component.casefold() == other.component.casefold()
            and self.variable.casefold() == other.variable.casefold()
            and _fold(self.component_instance) == _fold(other.component_instance)
            and _fold(self.variable_instance) == _fold(other.variable_instance)
            and (self.evse_id, self.connector_id) == (other.evse_id, other.connector_id)
        )

    def matches(self, other: VariableKey) -> bool:
        """:meth:`same_variable` and the same attribute."""
        return self.same_variable(other) and self.attribute_type == other.attribute_type


def _fold(text: str | None) -> str | None:
    return None if text is None else text.casefold()


def _escape(text: str) -> str:
    return "".join(f"%{ord(c):02X}" if c in _RESERVED else c for c in text)


def _unescape(text: str) -> str:
    return _ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)


def format_key(key: VariableKey) -> str:
    """The canonical text of ``key`` (see the module docstring)."""
    qualifiers: list[str] = []
    if key.component_instance is not None:
        qualifiers.append(_escape(key.component_instance))
    if key.evse_id is not None:
        qualifiers.append(f"evse={key.evse_id}")
    if key.connector_id is not None:
        qualifiers.append(f"connector={key.connector_id}")
    component = _escape(key.component) + (f"[{','.join(qualifiers)}]" if qualifiers else "")
    variable = _escape(key.variable)
    if key.variable_instance is not None:
        variable += f"[{_escape(key.variable_instance)}]"
    suffix = "" if key.is_actual else f":{key.attribute_type}"
    return f"{component}.{variable}{suffix}"


_PART: Final = re.compile(r"([^\[\]]+)(?:\[([^\[\]]*)\])?")


def _split_part(text: str, what: str) -> tuple[str, str | None]:
    match = _PART.fullmatch(text)
    if match is None:
        raise ValueError(f"the {what} {text!r} is not NAME or NAME[...]")
    return match.group(1), match.group(2)


def _number(text: str, what: str) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        raise ValueError(f"{what} must be a whole number, got {text!r}")
    return int(text)


def _qualifiers(text: str) -> tuple[str | None, int | None, int | None]:
    instance: str | None = None
    evse: int | None = None
    connector: int | None = None
    for item in text.split(","):
        name, equals, value = item.partition("=")
        if not equals:
            if instance is not None:
                raise ValueError("a component has one instance at most")
            instance = _unescape(item)
        elif name.strip().casefold() == "evse" and evse is None:
            evse = _number(value.strip(), "evse")
        elif name.strip().casefold() == "connector" and connector is None:
            connector = _number(value.strip(), "connector")
        else:
            raise ValueError(f"unknown or repeated component qualifier {name!r}")
    return instance, evse, connector


def parse_key(text: str) -> VariableKey:
    """The :class:`VariableKey` a key text names (see the module docstring); raises
    :class:`ValueError` saying what is wrong."""
    body, colon, attribute = text.partition(":")
    if colon and attribute not in ATTRIBUTE_TYPES:
        raise ValueError(
            f"the attribute after ':' must be one of {', '.join(ATTRIBUTE_TYPES)}, "
            f"got {attribute!r}"
        )
    depth = 0
    dot = -1
    for i, char in enumerate(body):
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        elif char == "." and depth == 0:
            dot = i
            break
    if dot < 0:
        raise ValueError(
            f"{text!r} is not a key of the form Component.Variable "
            "(e.g. OCPPCommCtrlr.HeartbeatInterval)"
        )
    component_text, variable_text = body[:dot], body[dot + 1 :]
    component, qualifiers = _split_part(component_text, "component")
    variable, variable_instance = _split_part(variable_text, "variable")
    instance, evse, connector = _qualifiers(qualifiers) if qualifiers is not None else (None,) * 3
    return VariableKey(
        component=_unescape(component),
        variable=_unescape(variable),
        component_instance=instance,
        evse_id=evse,
        connector_id=connector,
        variable_instance=None if variable_instance is None else _unescape(variable_instance),
        attribute_type=attribute or "Actual",
    )


def _aware(_inst: object, attr: attrs.Attribute[datetime], value: datetime) -> None:
    if value.utcoffset() is None:
        raise ValueError(f"{attr.name} must be a timezone-aware datetime")


@attrs.frozen
class DeviceVariable:
    """One variable attribute as the station reported it (NotifyReport), with the
    variable's characteristics. ``reported_at`` is when the CSMS received it."""

    key: VariableKey
    reported_at: datetime = attrs.field(validator=_aware)
    value: str | None = None
    mutability: str | None = None
    """``ReadOnly``, ``WriteOnly`` or ``ReadWrite`` (``None``: the station did not say)."""
    persistent: bool | None = None
    constant: bool | None = None
    data_type: str | None = None
    unit: str | None = None
    min_limit: float | None = None
    max_limit: float | None = None
    values_list: str | None = None
    supports_monitoring: bool | None = None

    @property
    def readonly(self) -> bool | None:
        """Whether the station refuses writes (``None``: it did not say)."""
        return None if self.mutability is None else self.mutability == "ReadOnly"


def find_variable(variables: Iterable[DeviceVariable], key: VariableKey) -> DeviceVariable | None:
    """The variable of ``variables`` that ``key`` names (see :meth:`VariableKey.matches`)."""
    return next((v for v in variables if v.key.matches(key)), None)

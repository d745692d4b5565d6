"""GetVariables and SetVariables: their items, their results, and how many items one message
may carry. Pure.

**Splitting.** An OCPP 2.0.1 station says how much one request may hold:
``DeviceDataCtrlr.ItemsPerMessage[GetVariables]`` and ``...[SetVariables]`` (items) and
``DeviceDataCtrlr.BytesPerMessage[...]`` (bytes of the whole websocket message). A request
with more is answered with a CallError, so :func:`split` cuts a list of items into the
fewest consecutive chunks, in order, each of which fits both limits as a whole CALL frame
(:func:`~evcharge_core.ocppj.call_frame`, with a message ID of :data:`MESSAGE_ID_LENGTH`
characters, the longest this CSMS uses). An item that cannot fit a message on its own is an
error. :func:`limits_from` reads the limits out of a device model.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

import attrs

from ..domain.device_model import DeviceVariable, VariableKey

__all__ = [
    "MESSAGE_ID_LENGTH",
    "MessageLimits",
    "frame_size",
    "get_item",
    "key_of_result",
    "limit_keys",
    "limits_from",
    "set_item",
    "split",
]

MESSAGE_ID_LENGTH: Final = 36
"""The message IDs of CSMS CALLs are UUIDs: 36 characters."""

_LIST_FIELDS: Final = {"GetVariables": "getVariableData", "SetVariables": "setVariableData"}


def _positive(_inst: object, attr: attrs.Attribute[int | None], value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{attr.name} must be 1 or more, got {value}")


@attrs.frozen
class MessageLimits:
    """How much one request may carry; ``None``: the station did not say (no limit)."""

    items_per_message: int | None = attrs.field(default=None, validator=_positive)
    bytes_per_message: int | None = attrs.field(default=None, validator=_positive)

    @property
    def known(self) -> bool:
        return self.items_per_message is not None or self.bytes_per_message is not None


def limit_keys(action: str) -> tuple[VariableKey, VariableKey]:
    """The device model keys of ``action``'s items and bytes limits."""
    return (
        VariableKey("DeviceDataCtrlr", "ItemsPerMessage", variable_instance=action),
        VariableKey("DeviceDataCtrlr", "BytesPerMessage", variable_instance=action),
    )


def _whole(text: str | None) -> int | None:
    if text is None:
        return None
    stripped = text.strip()
    if not (stripped.isascii() and stripped.isdigit()) or len(stripped) > 10:
        return None
    number = int(stripped)
    return number if number >= 1 else None


def limits_from(variables: Iterable[DeviceVariable], action: str) -> MessageLimits:
    """``action``'s limits in a device model (values that are no positive whole number
    count as not said)."""
    items_key, bytes_key = limit_keys(action)
    items = bytes_ = None
    for variable in variables:
        if variable.key.matches(items_key):
            items = _whole(variable.value)
        elif variable.key.matches(bytes_key):
            bytes_ = _whole(variable.value)
    return MessageLimits(items, bytes_)


def _component(key: VariableKey) -> dict[str, Any]:
    component: dict[str, Any] = {"name": key.component}
    if key.component_instance is not None:
        component["instance"] = key.component_instance
    if key.evse_id is not None:
        evse: dict[str, Any] = {"id": key.evse_id}
        if key.connector_id is not None:
            evse["connectorId"] = key.connector_id
        component["evse"] = evse
    return component


def _variable(key: VariableKey) -> dict[str, Any]:
    variable: dict[str, Any] = {"name": key.variable}
    if key.variable_instance is not None:
        variable["instance"] = key.variable_instance
    return variable


def get_item(key: VariableKey) -> dict[str, Any]:
    """A ``GetVariableDataType`` asking for ``key``."""
    item: dict[str, Any] = {"component": _component(key), "variable": _variable(key)}
    if not key.is_actual:
        item["attributeType"] = key.attribute_type
    return item


def set_item(key: VariableKey, value: str) -> dict[str, Any]:
    """A ``SetVariableDataType`` writing ``value`` to ``key``."""
    item = get_item(key)
    item["attributeValue"] = value
    return item


def key_of_result(result: Mapping[str, Any]) -> VariableKey:
    """The key a ``GetVariableResultType`` or ``SetVariableResultType`` is about; raises
    :class:`ValueError` (or :class:`TypeError`) if it names none."""
    component = result["component"]
    variable = result["variable"]
    evse = component.get("evse", {})
    return VariableKey(
        component=component["name"],
        variable=variable["name"],
        component_instance=component.get("instance"),
        evse_id=evse.get("id"),
        connector_id=evse.get("connectorId"),
        variable_instance=variable.get("instance"),
        attribute_type=result.get("attributeType", "Actual"),
    )


def _dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))


def frame_size(action: str, items: Sequence[Mapping[str, Any]]) -> int:
    """The bytes of the CALL carrying ``items`` (with a :data:`MESSAGE_ID_LENGTH` ID)."""
    field = _LIST_FIELDS[action]
    envelope = len(_dumps([2, "x" * MESSAGE_ID_LENGTH, action, {field: []}]))
    return envelope + sum(len(_dumps(i)) for i in items) + max(len(items) - 1, 0)


def split(
    action: str, items: Sequence[Mapping[str, Any]], limits: MessageLimits
) -> list[list[Mapping[str, Any]]]:
    """``items`` cut into the fewest consecutive chunks that each fit ``limits`` as one
    ``action`` CALL (see the module docstring); raises :class:`ValueError` if one item
    alone does not fit."""
    envelope = frame_size(action, ())
    chunks: list[list[Mapping[str, Any]]] = []
    current: list[Mapping[str, Any]] = []
    size = envelope
    for item in items:
        item_size = len(_dumps(item))
        alone = envelope + item_size
        if limits.bytes_per_message is not None and alone > limits.bytes_per_message:
            raise ValueError(
                f"one {action} item takes {alone} bytes, more than the station's "
                f"BytesPerMessage of {limits.bytes_per_message}"
            )
        grown = size + item_size + (1 if current else 0)
        too_many = limits.items_per_message is not None and len(current) >= limits.items_per_message
        too_big = limits.bytes_per_message is not None and grown > limits.bytes_per_message
        if current and (too_many or too_big):
            chunks.append(current)
            current, grown = [], alone
        current.append(item)
        size = grown
    if current:
        chunks.append(current)
    return chunks

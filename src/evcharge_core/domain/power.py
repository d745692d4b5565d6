"""Connector power from phase voltage, as OCPI computes it.

``AC_1_PHASE: V x A``, ``AC_3_PHASE: 3 x V x A``, ``DC: V x A``, with ``V`` the phase
(line-to-neutral) voltage, then capped by the connector's wattage limit. A three-phase
voltage of :data:`LINE_TO_LINE_THRESHOLD` or more was almost surely entered line-to-line;
:func:`line_to_line_warning` says which phase voltage was probably meant.
"""

from __future__ import annotations

import math
from typing import Final

from .values import PowerType

__all__ = [
    "LINE_TO_LINE_THRESHOLD",
    "NOMINAL_PHASE_VOLTAGES",
    "line_to_line_warning",
    "max_power_w",
    "phase_count",
]

LINE_TO_LINE_THRESHOLD: Final = 346
"""Volts. 346 V is 200 V line-to-neutral times sqrt(3): lower three-phase mains are rare."""

NOMINAL_PHASE_VOLTAGES: Final = (120, 127, 220, 230, 240, 277, 347, 400)
"""Standard line-to-neutral voltages (IEC 60038 and North American mains). A computed phase
voltage within 1 % of one of them is named as that one: 400 V means 230 V, not 231 V."""


def phase_count(power_type: PowerType) -> int:
    """How many phases a connector of this power type loads (1 for DC: one supply)."""
    return 3 if power_type is PowerType.AC_3_PHASE else 1


def max_power_w(
    power_type: PowerType, voltage: int, amperage: int, wattage_limit: int | None = None
) -> int:
    """The connector's maximum power in watts, the figure drivers filter on."""
    power = phase_count(power_type) * voltage * amperage
    if wattage_limit is not None:
        power = min(power, wattage_limit)
    return power


def line_to_line_warning(power_type: PowerType, voltage: int) -> str | None:
    """A warning for a three-phase voltage that looks line-to-line, else ``None``."""
    if power_type is not PowerType.AC_3_PHASE or voltage < LINE_TO_LINE_THRESHOLD:
        return None
    meant = _nominal(voltage / math.sqrt(3))
    return (
        f"{voltage} V looks like a line-to-line voltage; three-phase power is computed from "
        f"the phase voltage, probably {meant} V"
    )


def _nominal(phase_voltage: float) -> int:
    nearest = min(NOMINAL_PHASE_VOLTAGES, key=lambda v: abs(v - phase_voltage))
    if abs(nearest - phase_voltage) <= 0.01 * phase_voltage:
        return nearest
    return round(phase_voltage)

"""The simulated energy meter and electric vehicle (no I/O, no clock: callers pass seconds).

A :class:`Vehicle` is drawn per charging session: 1 or 3 phases at 16 or 32 A (3.7 to 22 kW),
a battery of 40 to 100 kWh at 10 to 60 % state of charge. It draws its maximum power up to
80 % and tapers linearly to 10 % of it at 100 %, where it stops (``SuspendedEV``). A
charging profile limit below what the vehicle wants caps the power; a limit under 1 W
suspends charging (``SuspendedEVSE``). Power wanders by up to 2 % between samples, as real
readings do.

The :class:`Meter` keeps the energy register in Wh (it only grows, across sessions) and the
last power; :func:`sampled_values` turns them into OCPP 1.6 ``SampledValue`` objects for the
measurands configured in ``MeterValuesSampledData``, and :func:`sampled_values_201` into OCPP
2.0.1 ones (numbers, with a ``unitOfMeasure``) for those of the ``SampledDataCtrlr`` and
``AlignedDataCtrlr`` variables.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Iterable
from typing import Any, Final

import attrs

from ._profiles import PHASE_VOLTAGE

__all__ = [
    "STATION_MAX_CURRENT",
    "STATION_PHASES",
    "Meter",
    "Suspension",
    "Vehicle",
    "sampled_values",
    "sampled_values_201",
    "station_max_watts",
]

#: The simulated charge point's supply: 3 phases of 32 A (22 kW) per connector.
STATION_PHASES: Final = 3
STATION_MAX_CURRENT: Final = 32.0
_TAPER_FROM: Final = 80.0
_FULL: Final = 100.0
_MIN_LIMIT_W: Final = 1.0


def station_max_watts() -> float:
    """The most one connector can deliver."""
    return STATION_PHASES * STATION_MAX_CURRENT * PHASE_VOLTAGE


class Suspension(enum.Enum):
    """Why a connector in a transaction delivers no energy (or ``None``: it charges)."""

    #: The vehicle is full (or refuses energy): ``SuspendedEV``.
    EV = "SuspendedEV"
    #: The charge point's limit is zero (a charging profile): ``SuspendedEVSE``.
    EVSE = "SuspendedEVSE"


@attrs.define
class Vehicle:
    """The car plugged in for one session."""

    phases: int
    max_current: float
    capacity_wh: float
    soc: float

    @classmethod
    def draw(cls, rng: random.Random) -> Vehicle:
        """A plausible car: 3.7, 7.4, 11 or 22 kW on board, 40-100 kWh, 10-60 % full."""
        phases, current = rng.choice(((1, 16.0), (1, 32.0), (3, 16.0), (3, 32.0)))
        return cls(
            phases=phases,
            max_current=current,
            capacity_wh=rng.uniform(40_000.0, 100_000.0),
            soc=rng.uniform(10.0, 60.0),
        )

    def wanted_watts(self) -> float:
        """What the car would draw now without any limit."""
        full_power = self.phases * min(self.max_current, STATION_MAX_CURRENT) * PHASE_VOLTAGE
        if self.soc >= _FULL:
            return 0.0
        if self.soc <= _TAPER_FROM:
            return full_power
        remaining = (_FULL - self.soc) / (_FULL - _TAPER_FROM)
        return full_power * max(0.1, remaining)


@attrs.define
class Meter:
    """A connector's meter: the Wh register and the present power."""

    register_wh: float
    power_w: float = 0.0
    phases: int = STATION_PHASES
    offered_w: float = attrs.field(factory=station_max_watts)

    @classmethod
    def used(cls, rng: random.Random) -> Meter:
        """A meter that has already counted some energy (a used charge point)."""
        return cls(register_wh=float(rng.randint(100_000, 5_000_000)))

    @property
    def register(self) -> int:
        """The register in whole Wh, as meterStart / meterStop report it."""
        return int(self.register_wh)

    def advance(
        self, vehicle: Vehicle, seconds: float, limit_w: float | None, rng: random.Random
    ) -> Suspension | None:
        """Charge for ``seconds`` at the present power, then pick the next power.

        Returns why charging is suspended, or ``None`` while energy flows.
        """
        if seconds > 0 and self.power_w > 0:
            energy = self.power_w * seconds / 3600.0
            self.register_wh += energy
            vehicle.soc = min(_FULL, vehicle.soc + energy / vehicle.capacity_wh * 100.0)
        self.phases = vehicle.phases
        self.offered_w = (
            station_max_watts() if limit_w is None else min(limit_w, station_max_watts())
        )
        wanted = vehicle.wanted_watts()
        if self.offered_w < _MIN_LIMIT_W:
            self.power_w = 0.0
            return Suspension.EVSE
        if wanted <= 0:
            self.power_w = 0.0
            return Suspension.EV
        self.power_w = min(wanted, self.offered_w) * rng.uniform(0.98, 1.0)
        return None

    def stop(self) -> None:
        """The session ended: no power flows."""
        self.power_w = 0.0
        self.phases = STATION_PHASES
        self.offered_w = station_max_watts()


def _value(value: str, context: str, measurand: str, unit: str, **extra: str) -> dict[str, Any]:
    sample = {"value": value, "context": context, "measurand": measurand, "unit": unit}
    sample.update(extra)
    return sample


def sampled_values(
    measurands: Iterable[str],
    meter: Meter,
    context: str,
    rng: random.Random,
    vehicle: Vehicle | None = None,
) -> list[dict[str, Any]]:
    """``sampledValue`` items for these measurands (unknown measurands are skipped).

    The energy register is always included, so a MeterValues message is never empty.
    """
    wanted = list(dict.fromkeys(measurands))
    if "Energy.Active.Import.Register" not in wanted:
        wanted.insert(0, "Energy.Active.Import.Register")
    per_phase = meter.power_w / (PHASE_VOLTAGE * meter.phases) if meter.power_w else 0.0
    samples: list[dict[str, Any]] = []
    for measurand in wanted:
        if measurand == "Energy.Active.Import.Register":
            samples.append(_value(str(meter.register), context, measurand, "Wh", location="Outlet"))
        elif measurand == "Power.Active.Import":
            samples.append(_value(f"{meter.power_w:.1f}", context, measurand, "W"))
        elif measurand == "Power.Offered":
            samples.append(_value(f"{meter.offered_w:.1f}", context, measurand, "W"))
        elif measurand == "Current.Import":
            for index in range(1, STATION_PHASES + 1):
                amps = per_phase if index <= meter.phases else 0.0
                samples.append(_value(f"{amps:.2f}", context, measurand, "A", phase=f"L{index}"))
        elif measurand == "Current.Offered":
            amps = meter.offered_w / (PHASE_VOLTAGE * STATION_PHASES)
            samples.append(_value(f"{amps:.1f}", context, measurand, "A"))
        elif measurand == "Voltage":
            for index in range(1, STATION_PHASES + 1):
                volts = PHASE_VOLTAGE * rng.uniform(0.98, 1.02)
                samples.append(_value(f"{volts:.1f}", context, measurand, "V", phase=f"L{index}-N"))
        elif measurand == "SoC" and vehicle is not None:
            samples.append(
                _value(f"{int(vehicle.soc)}", context, measurand, "Percent", location="EV")
            )
    return samples


def _number(text: str) -> int | float:
    value = float(text)
    return int(value) if value.is_integer() else value


def sampled_values_201(
    measurands: Iterable[str],
    meter: Meter,
    context: str,
    rng: random.Random,
    vehicle: Vehicle | None = None,
) -> list[dict[str, Any]]:
    """OCPP 2.0.1 ``SampledValueType`` items for these measurands: the same readings as
    :func:`sampled_values`, with numeric values and the unit in ``unitOfMeasure``."""
    converted: list[dict[str, Any]] = []
    for sample in sampled_values(measurands, meter, context, rng, vehicle):
        item: dict[str, Any] = {"value": _number(sample["value"])}
        for key in ("context", "measurand", "phase", "location"):
            if key in sample:
                item[key] = sample[key]
        item["unitOfMeasure"] = {"unit": sample["unit"]}
        converted.append(item)
    return converted

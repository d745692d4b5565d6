"""The simulated meter and vehicle (``simulator._meter``)."""

from __future__ import annotations

import random

from evcharge_core.simulator._meter import (
    Meter,
    Suspension,
    Vehicle,
    sampled_values,
    sampled_values_201,
    station_max_watts,
)


def test_station_supply() -> None:
    assert station_max_watts() == 3 * 32 * 230


def test_vehicle_tapers_and_stops_when_full() -> None:
    car = Vehicle(phases=3, max_current=16.0, capacity_wh=50_000.0, soc=50.0)
    assert car.wanted_watts() == 3 * 16 * 230
    car.soc = 90.0
    assert car.wanted_watts() == 3 * 16 * 230 * 0.5
    car.soc = 99.9
    assert car.wanted_watts() == 3 * 16 * 230 * 0.1
    car.soc = 100.0
    assert car.wanted_watts() == 0.0


def test_drawn_vehicles_are_plausible() -> None:
    rng = random.Random(4)
    for _ in range(50):
        car = Vehicle.draw(rng)
        assert 3600 <= car.wanted_watts() <= 22080
        assert 10 <= car.soc <= 60


def test_meter_counts_energy_and_suspends() -> None:
    rng = random.Random(1)
    meter = Meter(register_wh=1000.0)
    car = Vehicle(phases=3, max_current=32.0, capacity_wh=60_000.0, soc=20.0)
    assert meter.advance(car, 0.0, None, rng) is None
    power = meter.power_w
    assert 0.98 * 22080 <= power <= 22080
    meter.advance(car, 3600.0, 11000.0, rng)
    assert meter.register == int(1000 + power)  # one hour at the previous power
    assert car.soc > 20.0
    assert meter.power_w <= 11000.0
    assert meter.advance(car, 1.0, 0.0, rng) is Suspension.EVSE
    assert meter.power_w == 0.0
    car.soc = 100.0
    assert meter.advance(car, 1.0, None, rng) is Suspension.EV
    meter.stop()
    assert meter.power_w == 0.0


def test_register_only_grows() -> None:
    rng = random.Random(2)
    meter = Meter.used(rng)
    car = Vehicle.draw(rng)
    seen = [meter.register]
    for _ in range(100):
        meter.advance(car, 30.0, None, rng)
        seen.append(meter.register)
    assert seen == sorted(seen)
    assert seen[-1] > seen[0]


def test_sampled_values() -> None:
    rng = random.Random(3)
    meter = Meter(register_wh=12345.6, power_w=6900.0, phases=1)
    car = Vehicle(phases=1, max_current=32.0, capacity_wh=50_000.0, soc=42.7)
    samples = sampled_values(
        [
            "Power.Active.Import",
            "Current.Import",
            "Voltage",
            "SoC",
            "Current.Offered",
            "Power.Offered",
            "Unknown",
        ],
        meter,
        "Sample.Periodic",
        rng,
        car,
    )
    by_measurand: dict[str, list[dict[str, str]]] = {}
    for sample in samples:
        by_measurand.setdefault(sample["measurand"], []).append(sample)
    assert samples[0]["measurand"] == "Energy.Active.Import.Register"  # always first
    assert by_measurand["Energy.Active.Import.Register"][0]["value"] == "12345"
    assert by_measurand["Power.Active.Import"][0] == {
        "value": "6900.0",
        "context": "Sample.Periodic",
        "measurand": "Power.Active.Import",
        "unit": "W",
    }
    assert [s["value"] for s in by_measurand["Current.Import"]] == ["30.00", "0.00", "0.00"]
    assert [s["phase"] for s in by_measurand["Voltage"]] == ["L1-N", "L2-N", "L3-N"]
    assert by_measurand["SoC"][0]["value"] == "42"
    assert "Unknown" not in by_measurand
    assert sampled_values(["SoC"], meter, "Trigger", rng)[1:] == []  # no car, no SoC


def test_sampled_values_201() -> None:
    meter = Meter(register_wh=12345.6, power_w=6900.0, phases=1)
    car = Vehicle(phases=1, max_current=32.0, capacity_wh=50_000.0, soc=42.7)
    measurands = ["Power.Active.Import", "Current.Import", "Voltage", "SoC"]
    samples = sampled_values_201(measurands, meter, "Sample.Periodic", random.Random(3), car)
    assert samples[0] == {
        "value": 12345,
        "context": "Sample.Periodic",
        "measurand": "Energy.Active.Import.Register",
        "location": "Outlet",
        "unitOfMeasure": {"unit": "Wh"},
    }
    assert samples[1] == {
        "value": 6900,
        "context": "Sample.Periodic",
        "measurand": "Power.Active.Import",
        "unitOfMeasure": {"unit": "W"},
    }
    assert [s["value"] for s in samples if s["measurand"] == "Current.Import"] == [30, 0, 0]
    assert all(isinstance(s["value"], int | float) for s in samples)
    soc = samples[-1]
    assert (soc["value"], soc["location"], soc["unitOfMeasure"]) == (42, "EV", {"unit": "Percent"})

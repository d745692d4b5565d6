"""Simulation settings (``simulator._config``)."""

from __future__ import annotations

from typing import Any

import pytest

from evcharge_core.simulator import SimulationConfig


def test_station_ids_and_urls() -> None:
    config = SimulationConfig(url="ws://h:9/ocpp/", stations=3, id_prefix="CP-", id_start=8)
    assert config.station_ids() == ["CP-8", "CP-9", "CP-10"]
    assert config.station_url("CP-8") == "ws://h:9/ocpp/CP-8"
    assert SimulationConfig(url="ws://h/x").station_url("A B") == "ws://h/x/A%20B"
    assert config.max_security_profile == 1
    assert SimulationConfig(url="wss://h/").max_security_profile == 2


def test_ranges_accept_single_numbers() -> None:
    config = SimulationConfig(url="ws://h/", think_time=3, charge_time=(1, 2))
    assert config.think_time == (3.0, 3.0)
    assert config.charge_time == (1.0, 2.0)


@pytest.mark.parametrize(
    "changes",
    [
        {"url": "http://h/"},
        {"url": "ws:///path"},
        {"stations": 0},
        {"connectors": 0},
        {"id_start": -1},
        {"id_prefix": ""},
        {"id_prefix": "a/b"},
        {"protocol": "ocpp2.1"},
        {"duration": 0},
        {"meter_interval": -5},
        {"id_tag": "x" * 21},
        {"id_tag": "x" * 37, "protocol": "ocpp2.0.1"},
        {"think_time": (5, 1)},
        {"charge_time": (-1, 1)},
    ],
)
def test_invalid_settings(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=next(iter(changes)).split("_")[0]):
        SimulationConfig(**{"url": "ws://h/", **changes})


def test_id_tags_are_longer_under_ocpp201() -> None:
    token = "x" * 36
    assert SimulationConfig(url="ws://h/", protocol="ocpp2.0.1", id_tag=token).id_tag == token

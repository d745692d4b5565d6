"""Connector power from phase voltage, and the line-to-line warning (SPEC §3)."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.model import Connector, ConnectorSpec
from evcharge_core.domain.power import (
    LINE_TO_LINE_THRESHOLD,
    line_to_line_warning,
    max_power_w,
    phase_count,
)
from evcharge_core.domain.values import (
    MAX_AMPERAGE,
    MAX_VOLTAGE,
    MIN_AMPERAGE,
    MIN_VOLTAGE,
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
)

voltages = st.integers(MIN_VOLTAGE, MAX_VOLTAGE)
amperages = st.integers(MIN_AMPERAGE, MAX_AMPERAGE)
limits = st.none() | st.integers(1, 2_000_000)


def test_eleven_kilowatt_connector() -> None:
    assert max_power_w(PowerType.AC_3_PHASE, 230, 16) == 11_040
    assert max_power_w(PowerType.AC_3_PHASE, 230, 32) == 22_080
    assert max_power_w(PowerType.AC_1_PHASE, 230, 32) == 7_360
    assert max_power_w(PowerType.DC, 800, 500) == 400_000


def test_phase_count() -> None:
    assert phase_count(PowerType.AC_1_PHASE) == 1
    assert phase_count(PowerType.AC_3_PHASE) == 3
    assert phase_count(PowerType.DC) == 1


@given(voltages, amperages)
def test_formula_by_power_type(voltage: int, amperage: int) -> None:
    assert max_power_w(PowerType.AC_3_PHASE, voltage, amperage) == 3 * voltage * amperage
    assert max_power_w(PowerType.AC_1_PHASE, voltage, amperage) == voltage * amperage
    assert max_power_w(PowerType.DC, voltage, amperage) == voltage * amperage


@given(st.sampled_from(PowerType), voltages, amperages, limits)
def test_wattage_limit_caps(
    power_type: PowerType, voltage: int, amperage: int, limit: int | None
) -> None:
    raw = max_power_w(power_type, voltage, amperage)
    capped = max_power_w(power_type, voltage, amperage, limit)
    assert capped == (raw if limit is None else min(raw, limit))
    assert capped <= raw


def test_wattage_limit_below_and_above() -> None:
    assert max_power_w(PowerType.AC_3_PHASE, 230, 32, 11_000) == 11_000
    assert max_power_w(PowerType.AC_3_PHASE, 230, 16, 22_000) == 11_040


@given(st.sampled_from(PowerType), voltages, amperages, limits)
def test_model_uses_the_same_figure(
    power_type: PowerType, voltage: int, amperage: int, limit: int | None
) -> None:
    spec = ConnectorSpec(
        ConnectorStandard.IEC_62196_T2, ConnectorFormat.SOCKET, power_type, voltage, amperage
    )
    connector = Connector(
        id="c1",
        ocpp_id=1,
        code="1",
        name="Connector 1",
        standard=spec.standard,
        format=spec.format,
        power_type=power_type,
        voltage=voltage,
        amperage=amperage,
        wattage_limit=limit,
    )
    assert spec.max_power_w == max_power_w(power_type, voltage, amperage)
    assert connector.max_power_w == max_power_w(power_type, voltage, amperage, limit)


def named_phase_voltage(warning: str) -> int:
    match = re.search(r"probably (\d+) V", warning)
    assert match is not None, warning
    return int(match.group(1))


@given(st.sampled_from(PowerType), voltages)
def test_line_to_line_warning_rule(power_type: PowerType, voltage: int) -> None:
    warning = line_to_line_warning(power_type, voltage)
    expected = power_type is PowerType.AC_3_PHASE and voltage >= LINE_TO_LINE_THRESHOLD
    assert (warning is not None) is expected
    if warning is not None:
        assert f"{voltage} V" in warning
        meant = named_phase_voltage(warning)
        # A phase voltage: the line-to-line voltage over sqrt(3), give or take rounding to
        # the nominal voltage it is (400 V is nominally 230 V, not 230.9 V).
        assert abs(meant - voltage / math.sqrt(3)) <= 0.01 * voltage / math.sqrt(3) + 0.5


def test_threshold_edges() -> None:
    assert LINE_TO_LINE_THRESHOLD == 346
    assert line_to_line_warning(PowerType.AC_3_PHASE, 345) is None
    assert line_to_line_warning(PowerType.AC_3_PHASE, 230) is None
    warning = line_to_line_warning(PowerType.AC_3_PHASE, 346)
    assert warning is not None
    assert named_phase_voltage(warning) == 200
    assert line_to_line_warning(PowerType.AC_1_PHASE, 400) is None
    assert line_to_line_warning(PowerType.DC, 800) is None


@pytest.mark.parametrize(
    ("line_to_line", "phase"),
    [(480, 277), (415, 240), (380, 220), (690, 400), (346, 200), (500, 289)],
)
def test_names_the_phase_voltage(line_to_line: int, phase: int) -> None:
    warning = line_to_line_warning(PowerType.AC_3_PHASE, line_to_line)
    assert warning is not None
    assert named_phase_voltage(warning) == phase


def test_400_volts_means_230() -> None:
    warning = line_to_line_warning(PowerType.AC_3_PHASE, 400)
    assert warning is not None
    assert named_phase_voltage(warning) == 230

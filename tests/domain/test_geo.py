"""Great-circle distances (haversine) for the map of chargers."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evcharge_core.domain.geo import (
    EARTH_RADIUS_M,
    MAX_DISTANCE_M,
    check_coordinates,
    distance_m,
)

latitudes = st.floats(-90.0, 90.0, allow_nan=False)
longitudes = st.floats(-180.0, 180.0, allow_nan=False)
points = st.tuples(latitudes, longitudes)


def test_known_distances() -> None:
    # Paris (Notre-Dame) to London (Big Ben): about 343 km on the sphere.
    assert distance_m(48.8530, 2.3499, 51.5007, -0.1246) == pytest.approx(343_000, rel=0.005)
    # One degree of latitude along a meridian: R * pi / 180.
    assert distance_m(10.0, 5.0, 11.0, 5.0) == pytest.approx(EARTH_RADIUS_M * math.pi / 180)
    # Antipodes: half the circumference, without a math domain error.
    assert distance_m(0.0, 0.0, 0.0, 180.0) == pytest.approx(MAX_DISTANCE_M)
    assert distance_m(90.0, 0.0, -90.0, 0.0) == pytest.approx(MAX_DISTANCE_M)
    # Short distances stay accurate: 0.0001 degree of latitude is about 11.1 m.
    assert distance_m(52.0, 13.0, 52.0001, 13.0) == pytest.approx(11.119, abs=0.01)
    # Longitude wraps: 179.9 E and 179.9 W are 0.2 degree apart at the equator.
    assert distance_m(0.0, 179.9, 0.0, -179.9) == pytest.approx(
        EARTH_RADIUS_M * math.radians(0.2), rel=1e-9
    )


@given(points)
def test_a_point_is_at_zero_from_itself(p: tuple[float, float]) -> None:
    assert distance_m(*p, *p) == pytest.approx(0.0, abs=1e-6)


@given(points, points)
def test_symmetric_bounded_and_not_negative(p: tuple[float, float], q: tuple[float, float]) -> None:
    d = distance_m(*p, *q)
    assert 0.0 <= d <= MAX_DISTANCE_M + 1e-6
    assert d == pytest.approx(distance_m(*q, *p), abs=1e-6)


@given(points, points, points)
def test_triangle_inequality(
    p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]
) -> None:
    assert distance_m(*p, *r) <= distance_m(*p, *q) + distance_m(*q, *r) + 1e-3


@given(latitudes, longitudes, st.floats(-360.0, 360.0, allow_nan=False))
def test_same_latitude_circle_is_rotation_invariant(lat: float, lon: float, shift: float) -> None:
    """Shifting both points by the same longitude keeps their distance (the Earth turns)."""
    other = (lat * 0.5, lon + 1.0)
    shifted = ((lon + shift + 180) % 360) - 180
    shifted_other = ((other[1] + shift + 180) % 360) - 180
    assert distance_m(lat, lon, *other) == pytest.approx(
        distance_m(lat, shifted, other[0], shifted_other), abs=1e-3
    )


def test_check_coordinates() -> None:
    check_coordinates(90.0, -180.0)
    for lat, lon, word in ((91.0, 0.0, "latitude"), (0.0, 180.5, "longitude"),
                           (math.nan, 0.0, "latitude"), (0.0, math.inf, "longitude")):  # fmt: skip
        with pytest.raises(ValueError, match=word):
            check_coordinates(lat, lon)

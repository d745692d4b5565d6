"""Distances on the Earth's surface, for the map of chargers. Pure.

:func:`distance_m` is the great-circle (haversine) distance on a sphere of the mean Earth
radius, :data:`EARTH_RADIUS_M` (IUGG's mean radius R1). Against the WGS 84 ellipsoid it errs
by at most about 0.5 %, far below what a driver choosing a charger notices, and it needs no
iteration (Vincenty's formula can fail to converge for nearly antipodal points).

The haversine form is used because it stays accurate for short distances (the cosine form
loses metres to rounding below a kilometre), and the intermediate value is clamped to
``[0, 1]`` so rounding can never make :func:`math.asin` fail for antipodal points.
"""

from __future__ import annotations

import math
from typing import Final

__all__ = ["EARTH_RADIUS_M", "MAX_DISTANCE_M", "check_coordinates", "distance_m"]

EARTH_RADIUS_M: Final = 6_371_008.8
"""Mean Earth radius in metres (IUGG R1)."""

MAX_DISTANCE_M: Final = math.pi * EARTH_RADIUS_M
"""Half the circumference: no two points are further apart than this."""


def check_coordinates(latitude: float, longitude: float) -> None:
    """Raise :class:`ValueError` naming the bad value unless ``latitude`` is in
    ``[-90, 90]`` and ``longitude`` in ``[-180, 180]`` (finite, in degrees)."""
    if not (math.isfinite(latitude) and -90.0 <= latitude <= 90.0):
        raise ValueError(f"latitude must be between -90 and 90, got {latitude}")
    if not (math.isfinite(longitude) and -180.0 <= longitude <= 180.0):
        raise ValueError(f"longitude must be between -180 and 180, got {longitude}")


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in metres between two points given in degrees.

    Symmetric, zero for the same point, never negative, never above
    :data:`MAX_DISTANCE_M`, and it obeys the triangle inequality (up to rounding).
    """
    phi1 = math.radians(lat1)
    phi2 = math.radians(lat2)
    half_dphi = (phi2 - phi1) / 2
    half_dlambda = math.radians(lon2 - lon1) / 2
    h = math.sin(half_dphi) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(half_dlambda) ** 2
    h = min(1.0, max(0.0, h))
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))

"""Which connector specification applies to a connector, by its OCPP connector ID.

One specification applies to every connector. Several are mapped in import order: ID 1 gets
the first, ID 2 the second... An ID that does not fit the scheme (0, negative, above the
list's length, not an integer) gets the first, as the import rules say for stations that do
not number their connectors the OCPP way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

__all__ = ["spec_for_connector", "spec_index_for_connector"]

T = TypeVar("T")


def spec_index_for_connector(spec_count: int, ocpp_id: object) -> int:
    """The 0-based index of the specification for ``ocpp_id`` among ``spec_count``."""
    if spec_count < 1:
        raise ValueError("a station has at least one connector specification")
    if isinstance(ocpp_id, bool) or not isinstance(ocpp_id, int):
        return 0
    if 1 <= ocpp_id <= spec_count:
        return ocpp_id - 1
    return 0


def spec_for_connector(specs: Sequence[T], ocpp_id: object) -> T:
    """The specification for the connector numbered ``ocpp_id``."""
    return specs[spec_index_for_connector(len(specs), ocpp_id)]

"""The simulator's public names."""

from __future__ import annotations

import evcharge_core.simulate
from evcharge_core import simulator


def test_public_names_exist_and_are_sorted() -> None:
    assert simulator.__all__ == sorted(
        simulator.__all__, key=lambda name: (not name.isupper(), name)
    )
    for name in simulator.__all__:
        assert getattr(simulator, name) is not None, name


def test_entry_module_exposes_main() -> None:
    assert evcharge_core.simulate.main is simulator._cli.main

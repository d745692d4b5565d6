"""evcharge_core: the core of a Charging Station Management System."""

from __future__ import annotations

__version__ = "0.1.0.dev0"

"""Test support shipped with the package, so that every adapter is held to the same model.

* :mod:`.strategies`: hypothesis strategies that build valid domain objects.
* :mod:`.conformance`: the repository conformance suite (:class:`RepositoryConformance`
  and :func:`make_stateful_test`); see its docstring for how to run it on your adapter.

The reference model itself, :class:`~evcharge_core.adapters.memory.InMemoryRepository`, is
re-exported here for convenience.

Importing this package needs pytest and hypothesis: install the ``test`` extra
(``pip install evcharge-core[test]``).
"""

from __future__ import annotations

from ..adapters.memory import InMemoryRepository
from . import strategies
from .conformance import CONFORMANCE_SETTINGS, RepositoryConformance, make_stateful_test

__all__ = [
    "CONFORMANCE_SETTINGS",
    "InMemoryRepository",
    "RepositoryConformance",
    "make_stateful_test",
    "strategies",
]

"""The JSON columns the SQL adapters share (:mod:`~evcharge_core.adapters.sqlite`,
:mod:`~evcharge_core.adapters.postgres`): the frozen value objects of a station
(boot configuration, reported information, connection, connectivity, status records), free
key-value fields, meter samples; and the ``OFFSET``/``LIMIT`` of a page.

Both adapters store the same text for the same value, so a database can be read by either
code path's tests and the hot paths (a status record per StatusNotification, the samples of
a MeterValues message) are written out by hand, held equal to the converter by tests.
"""

from __future__ import annotations

import builtins
import functools
import json
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

import cattrs.preconf.json

from ..domain.model import BootConfiguration, Connection, Connectivity, ReportedInfo, StatusRecord
from ..domain.transactions import MeterSample

__all__ = [
    "converter",
    "dump",
    "dump_fields",
    "dump_samples",
    "dump_status",
    "load",
    "load_fields",
    "load_optional",
    "load_or",
    "load_samples",
    "slice_bounds",
]

T = TypeVar("T")

converter: Final = cattrs.preconf.json.make_converter()
"""The converter of the JSON columns (never cattrs' global one)."""

_CLASSES: Final = (BootConfiguration, ReportedInfo, Connection, Connectivity, StatusRecord)


@functools.lru_cache(maxsize=4096)
def dump(value: object) -> str:
    """A frozen value object as JSON (cached: many stations share their values)."""
    return converter.dumps(value)


def _loader(cls: type[T]) -> Callable[[str], T]:
    """A cached JSON loader for one frozen class."""

    @functools.lru_cache(maxsize=4096)
    def load(text: str) -> T:
        return converter.loads(text, cls)

    return load


_LOADERS: Final[dict[type, Callable[[str], object]]] = {cls: _loader(cls) for cls in _CLASSES}


def load(text: str, cls: type[T]) -> T:
    """One of the station's frozen value objects from its JSON."""
    value: T = _LOADERS[cls](text)  # type: ignore[assignment]
    return value


def load_or(text: str | None, default: T) -> T:
    return default if text is None else load(text, type(default))


def load_optional(text: str | None, cls: type[T]) -> T | None:
    return None if text is None else load(text, cls)


def dump_status(record: StatusRecord | None) -> str | None:
    """A status record as JSON, as the converter writes it (a test holds the two equal),
    written out because nearly every status report makes a new one: the cache of
    :func:`dump` would only miss."""
    if record is None:
        return None
    return json.dumps(
        {
            "status": record.status.value,
            "timestamp": record.timestamp.isoformat(),
            "error_code": record.error_code,
            "info": record.info,
        }
    )


def dump_fields(fields: object) -> str:
    """Free key-value fields (a station's extra CSV columns, say), keys sorted."""
    return json.dumps(fields, ensure_ascii=False, sort_keys=True) if fields else "{}"


def load_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = json.loads(text)
    return fields


def dump_samples(samples: Sequence[MeterSample]) -> str:
    """The samples of one report as JSON, as the converter writes them (a test holds the
    two equal), written out because every MeterValues message passes here."""
    return json.dumps(
        [
            {
                "timestamp": s.timestamp.isoformat(),
                "value": s.value,
                "measurand": s.measurand,
                "unit": s.unit,
                "phase": s.phase,
                "context": s.context,
                "location": s.location,
            }
            for s in samples
        ]
    )


def load_samples(text: str) -> builtins.list[MeterSample]:
    return converter.loads(text, builtins.list[MeterSample])


def slice_bounds(total: int, start: int, stop: int) -> tuple[int, int]:
    """``OFFSET`` and ``LIMIT`` that cut ``rows[start:stop]`` out of ``total`` rows exactly
    as Python slicing does, out-of-range and negative bounds included (the reference model
    slices its lists)."""
    window = range(total)[start:stop]
    return (window.start, len(window)) if window else (0, 0)

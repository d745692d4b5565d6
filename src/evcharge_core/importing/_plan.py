"""What an import may do to the stored stations, and the stations it stores.

Two rules need the stored stations, so they live apart from the parsers, as pure functions
the service calls with what it loaded:

Override
    Importing a station ID that is already stored replaces the stored station's import data
    only while that station is inactive (not yet activated with its security code). An
    active station is an error for the station's line (column ``Station ID``), or for the
    field ``station_id`` of a single import: :func:`check_existing`.
New and overridden stations
    :func:`to_station` turns a :class:`StationImport` into the stored
    :class:`~evcharge_core.domain.model.Station`. A new station is inactive, named after its
    ID, with a code derived from the ID (:func:`station_code`), no protocol (the first
    connection records it) and security profile 0. An overridden station keeps everything an
    operator set or the station reported (name, code, area, visibility, boot configuration,
    chargers and connectors, connection, reported data...) and gets the new import data:
    security code hash, manufacturer, article number, serial number, connectivity and
    connector specifications.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import attrs

from ..domain.model import Activation, Station
from ..domain.values import ActivationState, code_from
from ..errors import Conflict, Issue
from ._records import ImportBatch, StationImport

__all__ = ["check_batch", "check_existing", "station_code", "to_station"]


def _override_message(station_id: str) -> str:
    return (
        f"station {station_id} is already active; "
        "only inactive stations can be overridden by an import"
    )


def check_existing(
    imports: ImportBatch | Iterable[StationImport], existing: Mapping[str, Station]
) -> list[Issue]:
    """The override errors: one per imported station whose ID is stored and active.

    ``existing`` maps station IDs to stored stations; it needs to hold only the IDs being
    imported. A CSV station's error is at its first line, column ``Station ID``; a single
    import's at field ``station_id``.
    """
    stations = imports.stations if isinstance(imports, ImportBatch) else imports
    issues: list[Issue] = []
    for station in stations:
        stored = existing.get(station.station_id)
        if stored is None or not stored.is_active:
            continue
        message = _override_message(station.station_id)
        if station.line is None:
            issues.append(Issue(message, field="station_id"))
        else:
            issues.append(Issue(message, line=station.line, column="Station ID"))
    return issues


def check_batch(batch: ImportBatch, existing: Mapping[str, Station]) -> ImportBatch:
    """``batch`` with the :func:`check_existing` errors merged in, still in line order."""
    extra = check_existing(batch, existing)
    if not extra:
        return batch
    errors = sorted(
        (*batch.errors, *extra),
        key=lambda issue: 0 if issue.line is None else issue.line,
    )
    return attrs.evolve(batch, errors=tuple(errors))


def station_code(station_id: str) -> str:
    """The code of a new imported station: its ID, with every character that a code does not
    allow (``* = + | @``) replaced by ``_``.

    Codes must be unique; two IDs that differ only in those characters give the same code,
    which the service must detect when it stores the station.
    """
    return code_from(station_id)


def to_station(
    imported: StationImport, *, security_code_hash: str, existing: Station | None = None
) -> Station:
    """The station to store for ``imported``: a new inactive station, or ``existing`` (which
    must be inactive) with its import data replaced. See the module docstring.

    Raises :class:`~evcharge_core.errors.Conflict` if ``existing`` is active (call
    :func:`check_existing` first to report it as an import error), and ``ValueError`` if
    ``existing`` is another station.
    """
    if existing is None:
        return Station(
            id=imported.station_id,
            name=imported.station_id,
            code=station_code(imported.station_id),
            protocol=None,
            security_profile=0,
            activation=Activation(ActivationState.INACTIVE, None),
            security_code_hash=security_code_hash,
            manufacturer=imported.manufacturer,
            article_number=imported.article_number,
            serial_number=imported.serial_number,
            connectivity=imported.connectivity,
            connector_specifications=imported.connector_specifications,
        )
    if existing.id != imported.station_id:
        raise ValueError(f"cannot override station {existing.id} with {imported.station_id}")
    if existing.is_active:
        raise Conflict(_override_message(existing.id))
    return attrs.evolve(
        existing,
        security_code_hash=security_code_hash,
        manufacturer=imported.manufacturer,
        article_number=imported.article_number,
        serial_number=imported.serial_number,
        connectivity=imported.connectivity,
        connector_specifications=imported.connector_specifications,
    )

"""Station import: CSV bulk files and single stations, validated with located errors.

Pure functions, no I/O: the caller reads the file or the request body and passes its bytes.

* :func:`parse_csv` checks a CSV file (``docs/csv-format.md``) and :func:`parse_single` /
  :func:`parse_single_json` a single-station JSON object; both return an
  :class:`ImportBatch` with the :class:`StationImport` values, *every* error (an
  :class:`~evcharge_core.errors.Issue` located by line and column, or by field) in line
  order, and the warnings.
* :func:`check_existing` adds the rule that needs stored stations: an active station cannot
  be overridden by an import (:func:`check_batch` merges those errors into a batch).
* :func:`to_station` builds the stored :class:`~evcharge_core.domain.model.Station`, new or
  overriding an inactive one.

A batch with any error imports nothing; an operator is shown the first
:data:`MAX_ERRORS_SHOWN` errors and the total (:class:`~evcharge_core.errors.ImportRejected`
carries both).
"""

from __future__ import annotations

from ._csv import CSV_COLUMNS, CSV_SEPARATOR, MAX_CSV_ROWS, parse_csv
from ._plan import check_batch, check_existing, station_code, to_station
from ._records import MAX_ERRORS_SHOWN, MAX_TEXT_LENGTH, ImportBatch, StationImport
from ._single import SINGLE_FIELDS, SPEC_FIELDS, parse_single, parse_single_json

__all__ = [
    "CSV_COLUMNS",
    "CSV_SEPARATOR",
    "MAX_CSV_ROWS",
    "MAX_ERRORS_SHOWN",
    "MAX_TEXT_LENGTH",
    "SINGLE_FIELDS",
    "SPEC_FIELDS",
    "ImportBatch",
    "StationImport",
    "check_batch",
    "check_existing",
    "parse_csv",
    "parse_single",
    "parse_single_json",
    "station_code",
    "to_station",
]

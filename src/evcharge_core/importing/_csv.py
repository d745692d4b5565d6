"""The CSV bulk import: a file's bytes in, an :class:`ImportBatch` out. No I/O.

The rules (``docs/csv-format.md`` explains them for operators):

File
    UTF-8, with or without a byte order mark. Bytes that are not UTF-8 give one error naming
    the line and byte offset, and nothing else is checked. Values are separated by ``;`` and
    may be quoted with ``"`` (a quote inside a quoted value is written ``""``). Blank lines at
    the end are ignored; a blank row elsewhere is skipped but counts as a row. At most
    :data:`MAX_CSV_ROWS` rows, header included: a longer file gives one error and is not
    checked further.
Header
    Line 1 names the twelve :data:`CSV_COLUMNS`, exactly and case sensitively, in any order.
    Each missing column is an error that names it, and says "did you mean" when a header
    cell is the same name in another case or nearly so; an unknown or repeated column is an
    error too. When a column is missing or repeated, the rows are not checked (they cannot be
    read reliably); unknown columns alone do not stop the rows from being checked. Empty
    header cells at the end of the line (trailing separators) are ignored.
Rows
    One value per header column (empty cells beyond the header's width are ignored). Values
    lose surrounding whitespace. Every value is mandatory except ``Article number`` and
    ``Serial number``. Booleans: ``true/false``, ``yes/no``, ``1/0``, any case. Voltage is a
    whole number of volts from 110 to 1000, amperage of amperes from 1 to 500. Security code,
    manufacturer and article number are at most 255 characters; a serial number at most 255
    without whitespace. Connector type, format and power type accept the names and aliases of
    :mod:`evcharge_core.domain.values`.
Stations
    Rows with the same Station ID are one station; each row adds a connector specification,
    in row order. The station values (security code, manufacturer, article number, Wi-Fi,
    GSM, serial number) come from the station's first row, where at least one of Wi-Fi and
    GSM must be true; a later row that says otherwise gets an error at its line and the
    column that differs, naming the first row's line.
Warnings
    A three-phase voltage of 346 V or more was probably entered line-to-line: a warning at
    that line's ``Voltage`` (see :func:`evcharge_core.domain.power.line_to_line_warning`).

Every error is an :class:`~evcharge_core.errors.Issue` with ``line`` (the header is line 1;
a quoted value spanning lines counts them all) and ``column`` (the header's name); file-level
errors carry a line or nothing. All errors are returned, in line order.

Speed: a 5000-row file is read by the :mod:`csv` module, each cell is looked at once, and
the enumerations and numbers are parsed once per distinct text; the happy path raises no
exception.
"""

from __future__ import annotations

import csv
import difflib
import io
from collections.abc import Callable
from functools import partial
from itertools import count, islice
from operator import itemgetter
from typing import Final, TypeVar, cast

from ..domain.activation import normalize_security_code
from ..domain.model import Connectivity, ConnectorSpec
from ..domain.power import line_to_line_warning
from ..domain.values import (
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
    parse_bool,
    parse_connector_format,
    parse_connector_standard,
    parse_power_type,
)
from ..errors import Issue
from ._records import (
    AMPERAGE,
    BOOL_EXPECTED,
    CONNECTIVITY_MESSAGE,
    FORMAT_EXPECTED,
    POWER_TYPE_EXPECTED,
    STANDARD_EXPECTED,
    VOLTAGE,
    Bad,
    ImportBatch,
    StationImport,
    check_optional_text,
    check_serial_number,
    check_station_id,
    check_text,
    decode_utf8,
    guarded,
)

__all__ = ["CSV_COLUMNS", "CSV_SEPARATOR", "MAX_CSV_ROWS", "parse_csv"]

CSV_COLUMNS: Final = (
    "Station ID",
    "Security code",
    "Manufacturer",
    "Article number",
    "Wi-Fi supported",
    "GSM supported",
    "Connector type",
    "Format",
    "Power type",
    "Voltage",
    "Amperage",
    "Serial number",
)
"""The header's columns, in the order the documentation and the examples use."""

CSV_SEPARATOR: Final = ";"
MAX_CSV_ROWS: Final = 5001
"""Rows in a file, header included."""

_HEADER_TEXT: Final = CSV_SEPARATOR.join(CSV_COLUMNS)

# Station-level columns, compared between the rows of one station, with how to name them.
_STATION_COLUMNS: Final = (
    "Security code",
    "Manufacturer",
    "Article number",
    "Wi-Fi supported",
    "GSM supported",
    "Serial number",
)
_SECRET: Final = frozenset({"Security code"})
_NORMALIZE: Final = {"Security code": normalize_security_code}
_SPEC_COLUMNS: Final = ("Connector type", "Format", "Power type", "Voltage", "Amperage")

T = TypeVar("T")

_CSV_ERRORS: Final = {
    "unexpected end of data": "a quoted value that starts on this line is never closed",
    "field larger than field limit": (
        f"a value is longer than {csv.field_size_limit()} characters"
    ),
    "expected after": (
        'a closing quote must be followed by ";" or the end of the line '
        '(write "" for a quote inside a quoted value)'
    ),
}


def parse_csv(data: bytes | str) -> ImportBatch:
    """Validate a CSV import file and return its stations, errors and warnings.

    ``data`` is the file's content: bytes (decoded as UTF-8 here) or already decoded text.
    The rules are in ``docs/csv-format.md``. Nothing is stored and nothing raises for bad
    input: every problem is in the returned batch, located by line and column.
    """
    decoded = decode_utf8(data)
    if isinstance(decoded, Issue):
        return ImportBatch(errors=(decoded,))
    text = decoded.rstrip()  # blank trailing lines are ignored
    if not text:
        return ImportBatch(
            errors=(Issue(f"the file is empty; expected the header row {_HEADER_TEXT}"),)
        )

    records, read_error, too_many = _read_records(text)
    if too_many is not None:
        return ImportBatch(errors=(too_many,))
    if not records:
        assert read_error is not None
        return ImportBatch(errors=(read_error,))

    header_issues, columns, width = _check_header(records[0][1])
    errors: list[Issue] = list(header_issues)
    stations: tuple[StationImport, ...] = ()
    warnings: list[Issue] = []
    if columns is not None:
        stations, row_errors, warnings = _check_rows(records[1:], columns, width)
        errors.extend(row_errors)
    if read_error is not None:
        errors.append(read_error)
    return ImportBatch(stations=stations, errors=tuple(errors), warnings=tuple(warnings))


# --- file ------------------------------------------------------------------------------------


class _Dialect(csv.Dialect):
    """``;``-separated, ``"``-quoted (``""`` inside quotes), and strict about bad quoting."""

    delimiter = CSV_SEPARATOR
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = True


def _too_many(line: int) -> Issue:
    return Issue(
        f"the file has more than {MAX_CSV_ROWS} rows (header included); "
        f"split it into files of at most {MAX_CSV_ROWS - 1} station rows",
        line=line,
    )


def _read_records(
    text: str,
) -> tuple[list[tuple[int, list[str]]], Issue | None, Issue | None]:
    """Split ``text`` into (first line, cells) records: the records, an error for the first
    unreadable record (reading stops there), and an error if there are more than
    :data:`MAX_CSV_ROWS` (reading stops there too, and the records are dropped)."""
    if '"' not in text:
        # Without quotes no record spans lines, so record k is on line k: let the csv
        # module do all the work.
        try:
            rows = list(
                islice(csv.reader(io.StringIO(text, newline=""), _Dialect), MAX_CSV_ROWS + 1)
            )
        except csv.Error:
            pass  # read again below, to locate the error
        else:
            if len(rows) > MAX_CSV_ROWS:
                return [], None, _too_many(MAX_CSV_ROWS + 1)
            return list(zip(count(1), rows)), None, None
    reader = csv.reader(io.StringIO(text, newline=""), _Dialect)
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            if len(records) == MAX_CSV_ROWS:
                return [], None, _too_many(line)
            records.append((line, row))
            line = reader.line_num + 1
    except csv.Error as error:
        reason = str(error)
        message = next((m for key, m in _CSV_ERRORS.items() if key in reason), reason)
        return records, Issue(f"cannot read the row: {message}", line=line), None
    return records, None, None


# --- header ----------------------------------------------------------------------------------


def _fold(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum())


def _near(expected: str, candidates: dict[str, int]) -> str | None:
    """The header cell that was probably meant to be ``expected``: the same letters in
    another case or spacing, else the closest by :mod:`difflib`, if close enough."""
    folded = _fold(expected)
    for name in candidates:
        if _fold(name) == folded:
            return name
    lowered = {name.lower(): name for name in candidates}
    close = difflib.get_close_matches(expected.lower(), list(lowered), n=1, cutoff=0.7)
    return lowered[close[0]] if close else None


def _unreadable_header(names: list[str]) -> Issue | None:
    """An error for a header that cannot be compared column by column at all."""
    if not names:
        return Issue(f"the header row is empty; expected {_HEADER_TEXT}", line=1)
    if len(names) == 1:
        for separator, kind in ((",", "comma"), ("\t", "tab")):
            if separator in names[0]:
                message = (
                    f'the header looks {kind}-separated; values must be separated by ";": '
                    f"{_HEADER_TEXT}"
                )
                return Issue(message, line=1)
    if any("\x00" in name for name in names):
        return Issue("the file contains NUL characters (is it UTF-16?); save it as UTF-8", line=1)
    return None


def _check_header(row: list[str]) -> tuple[list[Issue], dict[str, int] | None, int]:
    """The header's issues, the position of each column (``None`` if the rows cannot be
    read), and the row width the header sets."""
    names = [cell.strip() for cell in row]
    while names and not names[-1]:
        names.pop()  # trailing separators
    width = len(names)
    unreadable = _unreadable_header(names)
    if unreadable is not None:
        return [unreadable], None, width

    positions: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        positions.setdefault(name, []).append(index)
    expected = set(CSV_COLUMNS)
    unknown = {name: p[0] for name, p in positions.items() if name and name not in expected}
    missing = [column for column in CSV_COLUMNS if column not in positions]
    if len(missing) == len(CSV_COLUMNS) and not any(_near(c, unknown) for c in CSV_COLUMNS):
        message = f"line 1 is not the header row; expected {_HEADER_TEXT}"
        return [Issue(message, line=1)], None, width

    located = [
        (index, Issue(f"column {index + 1} has no name", line=1)) for index in positions.get("", [])
    ]
    for name, where in positions.items():
        if name and len(where) > 1:
            listed = ", ".join(str(i + 1) for i in where)
            message = f"column appears {len(where)} times (columns {listed}); keep one"
            located.append((where[0], Issue(message, line=1, column=name)))
    for order, column in enumerate(missing):
        guess = _near(column, unknown)
        if guess is None:
            message = "missing column; the header must name all twelve columns"
            located.append((width + order, Issue(message, line=1, column=column)))
            continue
        index = unknown.pop(guess)
        hint = " (headers are case sensitive)" if guess.lower() == column.lower() else ""
        message = f'missing column; column {index + 1} is "{guess}": did you mean "{column}"?{hint}'
        located.append((index, Issue(message, line=1, column=column)))
    located.extend(
        (index, Issue(f"unknown column; the columns are {_HEADER_TEXT}", line=1, column=name))
        for name, index in unknown.items()
    )
    located.sort(key=lambda pair: pair[0])
    readable = not missing and all(len(positions[column]) == 1 for column in CSV_COLUMNS)
    columns = {column: positions[column][0] for column in CSV_COLUMNS} if readable else None
    return [issue for _, issue in located], columns, width


# --- rows ------------------------------------------------------------------------------------

# The station values of a valid row: security code, manufacturer, article number, Wi-Fi, GSM,
# serial number.
_StationValues = tuple[str, str, str | None, bool, bool, str | None]

# A problem found in the rows: (line, position in the row or -1, column, message).
_Problem = tuple[int, int, str | None, str]


def _shown(text: str) -> str:
    return f'"{text}"' if text else "empty"


_CONNECTIVITY: Final = {
    (wifi, gsm): Connectivity(wifi, gsm)
    for wifi in (True, False)
    for gsm in (True, False)
    if wifi or gsm
}


class _Rows:
    """The data rows, read column by column.

    Each cell is stripped once, and each *distinct* text of a column is checked once: the
    cell-by-cell work is done by ``map`` and dict lookups, and only a column that holds a bad
    text is walked again to locate its rows.
    """

    def __init__(
        self, records: list[tuple[int, list[str]]], columns: dict[str, int], width: int
    ) -> None:
        self.columns = columns
        self.problems: list[_Problem] = []
        self.bad_rows: set[int] = set()
        self.lines: list[int] = []
        self.rows: list[list[str]] = []
        self._texts: dict[str, list[str]] = {}
        for line, row in records:
            if len(row) != width:
                if len(row) > width and not "".join(row[width:]).strip():
                    row = row[:width]  # noqa: PLW2901 - trailing empty cells are dropped
                elif not "".join(row).strip():
                    continue  # a blank row
                else:
                    hint = " (they look comma-separated)" if len(row) == 1 and "," in row[0] else ""
                    message = (
                        f"the row has {len(row)} values; expected {width}, one per header "
                        f'column, separated by ";"{hint}'
                    )
                    self.problems.append((line, -1, None, message))
                    continue
            self.lines.append(line)
            self.rows.append(row)
        if "" in self.texts("Station ID"):  # perhaps rows of separators only: skip them
            kept = [
                (line, row)
                for line, row in zip(self.lines, self.rows, strict=True)
                if "".join(row).strip()
            ]
            self.lines = [line for line, _ in kept]
            self.rows = [row for _, row in kept]
            self._texts.clear()

    def texts(self, column: str) -> list[str]:
        """The column's values without surrounding whitespace (computed once)."""
        texts = self._texts.get(column)
        if texts is None:
            cells = map(itemgetter(self.columns[column]), self.rows)
            texts = self._texts[column] = list(map(_NORMALIZE.get(column, str.strip), cells))
        return texts

    def check(self, column: str, check: Callable[[str], T | Bad]) -> dict[str, T | Bad]:
        """Check each distinct text of the column once, report every row that holds a bad
        one, and return the table from text to value."""
        texts = self.texts(column)
        table = {text: check(text) for text in set(texts)}
        bad = {text: value.message for text, value in table.items() if isinstance(value, Bad)}
        if bad:
            for k, text in enumerate(texts):
                message = bad.get(text)
                if message is not None:
                    self.report(k, column, message)
        return table

    def values(self, column: str, table: dict[str, T | Bad]) -> list[T | Bad]:
        """The column's values, row by row."""
        return list(map(table.__getitem__, self.texts(column)))

    def report(self, k: int, column: str, message: str) -> None:
        """An error in row ``k`` (an index into :attr:`rows`), at ``column``."""
        self.problems.append((self.lines[k], self.columns[column], column, message))
        self.bad_rows.add(k)

    def issues(self) -> list[Issue]:
        """Every problem reported, in line order, then column order within a line."""
        self.problems.sort(key=lambda problem: (problem[0], problem[1]))
        return [
            Issue(message, line=line, column=column) for line, _, column, message in self.problems
        ]


def _check_rows(
    records: list[tuple[int, list[str]]], columns: dict[str, int], width: int
) -> tuple[tuple[StationImport, ...], list[Issue], list[Issue]]:
    """Check the data rows: the valid stations, the errors and the warnings."""
    rows = _Rows(records, columns, width)
    sids = rows.values("Station ID", rows.check("Station ID", check_station_id))

    boolean = guarded(parse_bool, f"value is missing; {BOOL_EXPECTED}")
    station_checks: tuple[Callable[[str], object], ...] = (
        partial(check_text, what="security code"),
        partial(check_text, what="manufacturer"),
        partial(check_optional_text, what="article number"),
        boolean,
        boolean,
        check_serial_number,
    )
    station_values = [
        rows.values(column, rows.check(column, check))
        for column, check in zip(_STATION_COLUMNS, station_checks, strict=True)
    ]

    # Connector specifications and warnings are looked up by their texts: str hashes are
    # cached, enum hashes are Python calls.
    standards = rows.check(
        "Connector type",
        guarded(parse_connector_standard, f"connector type is missing; {STANDARD_EXPECTED}"),
    )
    formats = rows.check(
        "Format", guarded(parse_connector_format, f"format is missing; {FORMAT_EXPECTED}")
    )
    power_types = rows.check(
        "Power type", guarded(parse_power_type, f"power type is missing; {POWER_TYPE_EXPECTED}")
    )
    volts = rows.check("Voltage", VOLTAGE.check_text)
    amps = rows.check("Amperage", AMPERAGE.check_text)
    texts = [rows.texts(column) for column in _SPEC_COLUMNS]
    keys = list(zip(*texts, strict=True))
    spec_table = {
        key: _spec(
            standards[key[0]], formats[key[1]], power_types[key[2]], volts[key[3]], amps[key[4]]
        )
        for key in set(keys)
    }
    specs = list(map(spec_table.__getitem__, keys))

    warnings = _warnings(rows, power_types, volts)
    by_row = list(zip(*station_values, strict=True))
    stations = _stations(rows, sids, by_row, [rows.texts(c) for c in _STATION_COLUMNS], specs)
    return stations, rows.issues(), warnings


def _warnings(
    rows: _Rows, power_types: dict[str, PowerType | Bad], volts: dict[str, int | Bad]
) -> list[Issue]:
    """The line-to-line voltage warnings, computed once per distinct power type and voltage."""
    pairs = list(zip(rows.texts("Power type"), rows.texts("Voltage"), strict=True))
    table: dict[tuple[str, str], str | None] = {}
    for pair in set(pairs):
        power_type, voltage = power_types[pair[0]], volts[pair[1]]
        if isinstance(power_type, PowerType) and isinstance(voltage, int):
            table[pair] = line_to_line_warning(power_type, voltage)
    if not any(table.values()):
        return []
    return [
        Issue(warning, line=line, column="Voltage")
        for line, pair in zip(rows.lines, pairs, strict=True)
        if (warning := table.get(pair))
    ]


def _spec(
    standard: ConnectorStandard | Bad,
    form: ConnectorFormat | Bad,
    power_type: PowerType | Bad,
    volts: int | Bad,
    amps: int | Bad,
) -> ConnectorSpec | None:
    if (
        isinstance(standard, Bad)
        or isinstance(form, Bad)
        or isinstance(power_type, Bad)
        or isinstance(volts, Bad)
        or isinstance(amps, Bad)
    ):
        return None
    return ConnectorSpec(standard, form, power_type, volts, amps)


def _stations(
    rows: _Rows,
    sids: list[str | Bad],
    values: list[tuple[object, ...]],
    texts: list[list[str]],
    specs: list[ConnectorSpec | None],
) -> tuple[StationImport, ...]:
    """Group the rows by station ID; check that each station's rows agree; return the
    stations whose rows are all valid, in order of their first rows."""
    groups: dict[str, list[int]] = {}
    for k, sid in enumerate(sids):
        if isinstance(sid, str):
            groups.setdefault(sid, []).append(k)
    wifi_column, gsm_column = 3, 4
    for sid, members in groups.items():
        first = members[0]
        station = values[first]
        if station[wifi_column] is False and station[gsm_column] is False:
            rows.report(first, "Wi-Fi supported", CONNECTIVITY_MESSAGE)
        for k in members[1:]:
            if values[k] != station:
                _compare(rows, sid, first=first, k=k, values=values, texts=texts)
    bad_rows, lines, stations = rows.bad_rows, rows.lines, []
    valid_specs = cast(list[ConnectorSpec], specs)  # a valid row has a spec
    for sid, members in groups.items():
        if bad_rows and not bad_rows.isdisjoint(members):
            continue
        first = members[0]
        code, manufacturer, article, wifi, gsm, serial = cast(_StationValues, values[first])
        stations.append(
            StationImport(
                sid,
                code,
                manufacturer,
                article,
                serial,
                _CONNECTIVITY[wifi, gsm],
                tuple(map(valid_specs.__getitem__, members)),
                lines[first],
            )
        )
    return tuple(stations)


def _compare(
    rows: _Rows,
    sid: str,
    *,
    first: int,
    k: int,
    values: list[tuple[object, ...]],
    texts: list[list[str]],
) -> None:
    """An error for each station value of row ``k`` that differs from the station's first
    row (a value that is itself bad is reported as such, not compared)."""
    line = rows.lines[first]
    for index, column in enumerate(_STATION_COLUMNS):
        mine, theirs = values[k][index], values[first][index]
        if mine == theirs or isinstance(mine, Bad) or isinstance(theirs, Bad):
            continue
        if column in _SECRET:  # not echoed: codes are shown to no one
            said = f"differs from the value on line {line}"
        else:
            mine_text, first_text = _shown(texts[index][k]), _shown(texts[index][first])
            said = f"{mine_text} differs from {first_text} on line {line}"
        message = (
            f"{said}, the first row of station {sid}; "
            "the rows of one station must agree on its station values"
        )
        rows.report(k, column, message)

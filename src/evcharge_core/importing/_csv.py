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
from typing import Final

import attrs

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
    Cached,
    ImportBatch,
    StationImport,
    check_optional_text,
    check_serial_number,
    check_station_id,
    check_text,
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
_BOM: Final = b"\xef\xbb\xbf"

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

_CSV_ERRORS: Final = {
    "unexpected end of data": "a quoted value that starts on this line is never closed",
    "field larger than field limit": "a value is too long",
    "expected after": (
        'a closing quote must be followed by ";" or the end of the line '
        '(write "" for a quote inside a quoted value)'
    ),
}


def parse_csv(data: bytes | str) -> ImportBatch:
    """Validate a CSV import file and return its stations, errors and warnings.

    ``data`` is the file's content: bytes (decoded as UTF-8 here) or already decoded text.
    The module docstring lists the rules. Nothing is stored and nothing raises for bad
    input: every problem is in the returned batch, located by line and column.
    """
    decoded = _decode(data)
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

    header_issues, columns, width = _check_header(records[0][1])
    errors: list[Issue] = list(header_issues)
    stations: tuple[StationImport, ...] = ()
    warnings: list[Issue] = []
    if columns is not None:
        checker = _RowChecker(columns, width)
        for line, row in records[1:]:
            checker.check(line, row)
        errors.extend(checker.errors)
        warnings = checker.warnings
        stations = checker.stations()
    if read_error is not None:
        errors.append(read_error)
    return ImportBatch(stations=stations, errors=tuple(errors), warnings=tuple(warnings))


# --- file ------------------------------------------------------------------------------------


def _decode(data: bytes | str) -> str | Issue:
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    skip = len(_BOM) if data.startswith(_BOM) else 0
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return Issue("the file is UTF-16; save it as UTF-8 (in spreadsheets: CSV UTF-8)")
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as error:
        offset = skip + error.start
        line = data.count(b"\n", 0, offset) + 1
        return Issue(
            f"the file is not UTF-8: byte 0x{data[offset]:02X} at offset {offset} cannot be "
            "decoded; save the file as UTF-8",
            line=line,
        )


def _read_records(
    text: str,
) -> tuple[list[tuple[int, list[str]]], Issue | None, Issue | None]:
    """Split ``text`` into (first line, cells) records; stop at the first unreadable record
    (a located error) or past :data:`MAX_CSV_ROWS` (one error, and the records are dropped)."""
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=CSV_SEPARATOR, quotechar='"', strict=True
    )
    records: list[tuple[int, list[str]]] = []
    line = 1
    try:
        for row in reader:
            if len(records) == MAX_CSV_ROWS:
                return (
                    [],
                    None,
                    Issue(
                        f"the file has more than {MAX_CSV_ROWS} rows (header included); "
                        f"split it into files of at most {MAX_CSV_ROWS - 1} station rows",
                        line=line,
                    ),
                )
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
    close = difflib.get_close_matches(expected.lower(), list(lowered), n=1, cutoff=0.75)
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


@attrs.define
class _Group:
    """The rows of one station seen so far."""

    line: int
    values: tuple[object, ...]
    texts: tuple[str, ...]
    specs: list[ConnectorSpec]
    valid: bool = True


def _shown(text: str) -> str:
    return f'"{text}"' if text else "empty"


_CONNECTIVITY: Final = {
    (wifi, gsm): Connectivity(wifi, gsm)
    for wifi in (True, False)
    for gsm in (True, False)
    if wifi or gsm
}

# A problem found in a row: (position in the row, column name, message).
_Found = list[tuple[int, str, str]]


class _RowChecker:
    """Checks data rows one by one, collecting errors, warnings and station groups."""

    def __init__(self, columns: dict[str, int], width: int) -> None:
        self.width = width
        self.positions = tuple(columns[column] for column in CSV_COLUMNS)
        self.station_positions = tuple(columns[column] for column in _STATION_COLUMNS)
        self.errors: list[Issue] = []
        self.warnings: list[Issue] = []
        self.groups: dict[str, _Group] = {}
        self._boolean = Cached(parse_bool, missing=f"value is missing; {BOOL_EXPECTED}")
        self._standard = Cached(
            parse_connector_standard, missing=f"connector type is missing; {STANDARD_EXPECTED}"
        )
        self._format = Cached(
            parse_connector_format, missing=f"format is missing; {FORMAT_EXPECTED}"
        )
        self._power_type = Cached(
            parse_power_type, missing=f"power type is missing; {POWER_TYPE_EXPECTED}"
        )
        self._voltage = Cached(VOLTAGE.check_text)
        self._amperage = Cached(AMPERAGE.check_text)
        self._specs: dict[tuple[object, ...], ConnectorSpec] = {}

    def stations(self) -> tuple[StationImport, ...]:
        """The stations whose every row was valid, in order of their first rows."""
        return tuple(
            _station(sid, group)
            for sid, group in self.groups.items()
            if group.valid and group.specs
        )

    def check(self, line: int, row: list[str]) -> None:
        """Check one data row."""
        cells = self._cells(line, row)
        if cells is None:
            return
        found: _Found = []
        i_id = self.positions[0]
        sid = check_station_id(cells[i_id])
        if isinstance(sid, Bad):
            found.append((i_id, "Station ID", sid.message))
        texts, values = self._station_values(cells, found)
        spec = self._spec(line, cells, found)
        group = self._group(line, sid, texts, values, found) if isinstance(sid, str) else None
        if found:
            found.sort(key=lambda item: item[0])
            self.errors.extend(
                Issue(message, line=line, column=column) for _, column, message in found
            )
            if group is not None:
                group.valid = False
        elif group is not None and spec is not None:
            group.specs.append(spec)

    def _cells(self, line: int, row: list[str]) -> list[str] | None:
        """The row's values without surrounding whitespace, or ``None`` for a blank row or
        one with the wrong number of values (reported)."""
        width = self.width
        if len(row) != width:
            if len(row) > width and not "".join(row[width:]).strip():
                row = row[:width]  # trailing empty cells are dropped
            elif not "".join(row).strip():
                return None  # a blank row
            else:
                hint = " (they look comma-separated)" if len(row) == 1 and "," in row[0] else ""
                message = (
                    f"the row has {len(row)} values; expected {width}, one per header column, "
                    f'separated by ";"{hint}'
                )
                self.errors.append(Issue(message, line=line))
                return None
        cells = [cell.strip() for cell in row]
        if not any(cells):
            return None  # a blank row made of separators only
        return cells

    def _station_values(
        self, cells: list[str], found: _Found
    ) -> tuple[tuple[str, ...], tuple[object, ...]]:
        """The station-level texts and their parsed values (or :class:`Bad`)."""
        p = self.station_positions
        texts = (
            normalize_security_code(cells[p[0]]),
            cells[p[1]],
            cells[p[2]],
            cells[p[3]],
            cells[p[4]],
            cells[p[5]],
        )
        values: tuple[object, ...] = (
            check_text(texts[0], "security code"),
            check_text(texts[1], "manufacturer"),
            check_optional_text(texts[2], "article number"),
            self._boolean(texts[3]),
            self._boolean(texts[4]),
            check_serial_number(texts[5]),
        )
        for position, column, value in zip(p, _STATION_COLUMNS, values, strict=True):
            if isinstance(value, Bad):
                found.append((position, column, value.message))
        return texts, values

    def _spec(self, line: int, cells: list[str], found: _Found) -> ConnectorSpec | None:
        """The row's connector specification, or ``None`` if a value is bad (reported); adds
        the line-to-line warning."""
        _, _, _, _, _, _, i_std, i_fmt, i_pt, i_volt, i_amp, _ = self.positions
        std = self._standard(cells[i_std])
        form = self._format(cells[i_fmt])
        power = self._power_type(cells[i_pt])
        volts = self._voltage(cells[i_volt])
        amps = self._amperage(cells[i_amp])
        checked = (
            (i_std, "Connector type", std),
            (i_fmt, "Format", form),
            (i_pt, "Power type", power),
            (i_volt, "Voltage", volts),
            (i_amp, "Amperage", amps),
        )
        bad = [(i, column, v.message) for i, column, v in checked if isinstance(v, Bad)]
        if isinstance(power, PowerType) and isinstance(volts, int):
            warning = line_to_line_warning(power, volts)
            if warning is not None:
                self.warnings.append(Issue(warning, line=line, column="Voltage"))
        if bad:
            found.extend(bad)
            return None
        assert isinstance(std, ConnectorStandard)
        assert isinstance(form, ConnectorFormat)
        assert isinstance(power, PowerType)
        assert isinstance(volts, int)
        assert isinstance(amps, int)
        key = (std, form, power, volts, amps)
        spec = self._specs.get(key)
        if spec is None:
            spec = self._specs[key] = ConnectorSpec(std, form, power, volts, amps)
        return spec

    def _group(
        self,
        line: int,
        sid: str,
        texts: tuple[str, ...],
        values: tuple[object, ...],
        found: _Found,
    ) -> _Group:
        """The station this row belongs to; a first row sets the station values, a later row
        must repeat them."""
        group = self.groups.get(sid)
        if group is None:
            group = self.groups[sid] = _Group(line, values, texts, [])
            if values[3] is False and values[4] is False:
                found.append((self.station_positions[3], "Wi-Fi supported", CONNECTIVITY_MESSAGE))
            return group
        if values == group.values:
            return group
        for k, column in enumerate(_STATION_COLUMNS):
            mine, first = values[k], group.values[k]
            if mine == first or isinstance(mine, Bad) or isinstance(first, Bad):
                continue  # a bad value is reported as such, not compared
            said = (
                "differs"
                if column in _SECRET
                else f"{_shown(texts[k])} differs from {_shown(group.texts[k])}"
            )
            message = (
                f"{said} on line {group.line}, the first row of station {sid}; "
                "the rows of one station must agree on its station values"
            )
            found.append((self.station_positions[k], column, message))
        return group


def _station(sid: str, group: _Group) -> StationImport:
    code, manufacturer, article, wifi, gsm, serial = group.values
    assert isinstance(code, str)
    assert isinstance(manufacturer, str)
    assert article is None or isinstance(article, str)
    assert serial is None or isinstance(serial, str)
    return StationImport(
        station_id=sid,
        security_code=code,
        manufacturer=manufacturer,
        article_number=article,
        serial_number=serial,
        connectivity=_CONNECTIVITY[(bool(wifi), bool(gsm))],
        connector_specifications=tuple(group.specs),
        line=group.line,
    )

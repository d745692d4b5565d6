"""What an import produces, and the value checks the CSV and the single import share.

:class:`StationImport` is one validated station as the file or the JSON described it;
:class:`ImportBatch` is everything an import found: the stations, every error and every
warning, each located. Nothing here touches storage: :mod:`._plan` decides what the stored
stations allow, and the service stores the result.

The checks below return either the parsed value or a :class:`Bad` carrying the message, so the
happy path of a 5000-row file raises no exception at all; the parsers of
:mod:`evcharge_core.domain.values` are reused for every rule they state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final, TypeVar

import attrs

from ..domain.model import Connectivity, ConnectorSpec
from ..domain.values import (
    MAX_AMPERAGE,
    MAX_VOLTAGE,
    MIN_AMPERAGE,
    MIN_VOLTAGE,
    parse_serial_number,
    parse_station_id,
)
from ..errors import MAX_SHOWN_ISSUES, Issue

__all__ = ["MAX_ERRORS_SHOWN", "MAX_TEXT_LENGTH", "ImportBatch", "StationImport"]

MAX_ERRORS_SHOWN: Final = MAX_SHOWN_ISSUES
"""How many errors an operator is shown; the total count is shown as well."""

MAX_TEXT_LENGTH: Final = 255
"""Longest security code, manufacturer or article number accepted (as for serial numbers)."""

T = TypeVar("T")


@attrs.frozen
class StationImport:
    """One station to import, validated: what a CSV file's rows or a single import said.

    ``security_code`` is the plain text code (surrounding whitespace removed); the service
    stores only its hash. ``connector_specifications`` keeps the file's row order: OCPP
    connector ID 1 gets the first. ``line`` is the CSV line of the station's first row, or
    ``None`` for a single import.

    Instances come from :func:`parse_csv` and :func:`parse_single`, which enforce the rules;
    the class itself does not check them again (it is built 5000 times per large file).
    """

    station_id: str
    security_code: str
    manufacturer: str
    article_number: str | None
    serial_number: str | None
    connectivity: Connectivity
    connector_specifications: tuple[ConnectorSpec, ...]
    line: int | None = None


@attrs.frozen
class ImportBatch:
    """The outcome of parsing an import: stations, and every error and warning found.

    ``errors`` holds *all* errors in line order (the caller shows the first
    :data:`MAX_ERRORS_SHOWN` with the total count); a batch with any error must import
    nothing. ``stations`` holds the stations whose every row was valid, so that the caller
    can add the errors that depend on stored stations (:func:`check_existing`) to the same
    report. ``warnings`` never block an import.
    """

    stations: tuple[StationImport, ...] = ()
    errors: tuple[Issue, ...] = ()
    warnings: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        """True when there is no error: the stations may be imported."""
        return not self.errors


# --- checks shared by the CSV and the single import --------------------------------------------


@attrs.frozen
class Bad:
    """A value that breaks a rule, with the message to show (what is wrong, what is expected)."""

    message: str


def guarded(parse: Callable[[str], T], missing: str) -> Callable[[str], T | Bad]:
    """One of the :mod:`~evcharge_core.domain.values` parsers, returning :class:`Bad` instead
    of raising, and ``missing`` as the message for an empty text."""

    def check(text: str) -> T | Bad:
        if not text:
            return Bad(missing)
        try:
            return parse(text)
        except ValueError as error:
            return Bad(str(error))

    return check


_BOM: Final = b"\xef\xbb\xbf"


def decode_utf8(data: bytes | str) -> str | Issue:
    """The text of an import file: UTF-8, with or without a byte order mark. Bytes that are
    not UTF-8 give an error naming the first bad byte, its offset and its line."""
    if isinstance(data, str):
        return data[1:] if data.startswith("\ufeff") else data
    if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
        return Issue("the file is UTF-16; save it as UTF-8 (in spreadsheets: CSV UTF-8)")
    try:
        # utf-8-sig drops a BOM; its error offsets then count from after the BOM.
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        offset = error.start + (len(_BOM) if data.startswith(_BOM) else 0)
        line = data.count(b"\n", 0, offset) + 1
        return Issue(
            f"the file is not UTF-8: byte 0x{data[offset]:02X} at offset {offset} cannot be "
            "decoded; save the file as UTF-8",
            line=line,
        )


BOOL_EXPECTED: Final = "expected true/false, yes/no or 1/0"
STANDARD_EXPECTED: Final = "expected an OCPI name such as IEC_62196_T2, or Type 2, CCS2, CHAdeMO"
FORMAT_EXPECTED: Final = "expected Socket or Cable"
POWER_TYPE_EXPECTED: Final = "expected Single-phase AC, Three-phase AC or DC"


def check_station_id(text: str) -> str | Bad:
    """:func:`~evcharge_core.domain.values.parse_station_id`, with a uniform empty message."""
    if not text:
        return Bad("station ID is missing; expected 1 to 48 letters, digits or . _ - * = + | @")
    try:
        return parse_station_id(text)
    except ValueError as error:
        return Bad(str(error))


def check_text(text: str, what: str) -> str | Bad:
    """A mandatory free text (security code, manufacturer): present, at most 255 characters."""
    if not text:
        return Bad(f"{what} is missing")
    if len(text) > MAX_TEXT_LENGTH:
        return Bad(f"{what} is {len(text)} characters long; at most {MAX_TEXT_LENGTH} allowed")
    return text


def check_optional_text(text: str, what: str) -> str | Bad | None:
    """An optional free text (article number): empty means absent; at most 255 characters."""
    if not text:
        return None
    if len(text) > MAX_TEXT_LENGTH:
        return Bad(f"{what} is {len(text)} characters long; at most {MAX_TEXT_LENGTH} allowed")
    return text


def check_serial_number(text: str) -> str | Bad | None:
    """Optional; when given, :func:`~evcharge_core.domain.values.parse_serial_number`."""
    if not text:
        return None
    try:
        return parse_serial_number(text)
    except ValueError as error:
        return Bad(str(error))


@attrs.frozen
class NumberRule:
    """A whole number within bounds: voltage 110 to 1000 V, amperage 1 to 500 A."""

    what: str
    low: int
    high: int
    unit: str

    @property
    def expected(self) -> str:
        return f"expected a whole number of {self.unit} from {self.low} to {self.high}"

    def missing(self) -> Bad:
        return Bad(f"{self.what} is missing; {self.expected}")

    def check_int(self, value: int) -> int | Bad:
        if self.low <= value <= self.high:
            return value
        return Bad(f"{self.what} {value} is out of range; {self.expected}")

    def check_text(self, text: str) -> int | Bad:
        """The CSV form: ASCII digits (an optional sign is read only to say out of range)."""
        if text.isdigit() and text.isascii():
            return self.check_int(int(text))
        if not text:
            return self.missing()
        digits = text[1:] if text[0] in "+-" else text
        if digits.isdigit() and digits.isascii():
            return self.check_int(int(text))
        try:
            float(text.replace(",", ".", 1))
        except ValueError:
            return Bad(f"{self.what} {text!r} is not a number; {self.expected}")
        return Bad(f"{self.what} {text!r} is not a whole number; {self.expected}")

    def check_json(self, value: object) -> int | Bad:
        """The JSON form: an integer (``230``), not a float, a string or a boolean."""
        if isinstance(value, int) and not isinstance(value, bool):
            return self.check_int(value)
        if isinstance(value, float):
            return Bad(f"{self.what} {value!r} is not a whole number; {self.expected}")
        if value is None:
            return self.missing()
        return Bad(f"{self.what} must be a number, not {json_type(value)}; {self.expected}")


VOLTAGE: Final = NumberRule("voltage", MIN_VOLTAGE, MAX_VOLTAGE, "volts (phase voltage)")
AMPERAGE: Final = NumberRule("amperage", MIN_AMPERAGE, MAX_AMPERAGE, "amperes")

CONNECTIVITY_MESSAGE: Final = (
    "neither Wi-Fi nor GSM is supported; at least one must be true "
    "(choose Wi-Fi for Ethernet stations)"
)


_JSON_TYPES: Final = (
    (bool, "a boolean"),
    (int, "a number"),
    (float, "a number"),
    (str, "a string"),
    (list, "an array"),
    (dict, "an object"),
)


def json_type(value: object) -> str:
    """The JSON name of a decoded value's type, for messages."""
    if value is None:
        return "null"
    return next((name for kind, name in _JSON_TYPES if isinstance(value, kind)), "a value")

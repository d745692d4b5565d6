"""Hypothesis strategies for station imports, and a small CSV writer for the tests.

:func:`station_imports` draws valid :class:`StationImport` values; :func:`csv_files` writes
some of them as a CSV file the way an operator might (interleaved rows, varied spellings of
booleans, enumerations and header order) and remembers which line holds what, so that tests
can corrupt a chosen cell and know where the error must be.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

import attrs
from hypothesis import strategies as st

from evcharge_core.domain.model import Connectivity, ConnectorSpec
from evcharge_core.domain.values import (
    MAX_AMPERAGE,
    MAX_VOLTAGE,
    MIN_AMPERAGE,
    MIN_VOLTAGE,
    ConnectorFormat,
    ConnectorStandard,
    PowerType,
)
from evcharge_core.importing import CSV_COLUMNS, StationImport

STATION_ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-*=+|@"

# Printable text without control characters, line or paragraph separators, or spaces at the
# ends (the import strips values); ';' and '"' are included so that quoting is exercised.
_TEXT_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"))
_SERIAL_CHARS = st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp", "Zs"))


def _text(max_size: int) -> st.SearchStrategy[str]:
    return st.text(_TEXT_CHARS, min_size=1, max_size=max_size).map(str.strip).filter(bool)


station_ids = st.text(STATION_ID_ALPHABET, min_size=1, max_size=48)
security_codes = st.one_of(
    st.from_regex(r"[A-Z0-9]{4}-[A-Z0-9]{4}", fullmatch=True),
    _text(40),
)
serial_numbers = st.text(_SERIAL_CHARS, min_size=1, max_size=40)

connector_specs = st.builds(
    ConnectorSpec,
    standard=st.sampled_from(ConnectorStandard),
    format=st.sampled_from(ConnectorFormat),
    power_type=st.sampled_from(PowerType),
    voltage=st.integers(MIN_VOLTAGE, MAX_VOLTAGE),
    amperage=st.integers(MIN_AMPERAGE, MAX_AMPERAGE),
)

connectivities = st.sampled_from(
    [
        Connectivity(wifi=True, gsm=False),
        Connectivity(wifi=False, gsm=True),
        Connectivity(wifi=True, gsm=True),
    ]
)


def station_imports(line: int | None = None) -> st.SearchStrategy[StationImport]:
    """Valid station imports (``line`` as given: ``None`` is a single import)."""
    return st.builds(
        StationImport,
        station_id=station_ids,
        security_code=security_codes,
        manufacturer=_text(30),
        article_number=st.none() | _text(30),
        serial_number=st.none() | serial_numbers,
        connectivity=connectivities,
        connector_specifications=st.lists(connector_specs, min_size=1, max_size=4).map(tuple),
        line=st.just(line),
    )


# --- spellings an operator may use ---------------------------------------------------------------

TRUE_SPELLINGS = ("true", "True", "TRUE", "yes", "Yes", "YES", "1")
FALSE_SPELLINGS = ("false", "False", "FALSE", "no", "No", "NO", "0")

_STANDARD_ALIASES = {
    ConnectorStandard.IEC_62196_T2: ("Type 2", "type2", "Mennekes"),
    ConnectorStandard.IEC_62196_T2_COMBO: ("CCS2", "CCS", "Combo 2"),
    ConnectorStandard.CHADEMO: ("CHAdeMO", "chademo"),
    ConnectorStandard.IEC_62196_T1: ("Type 1", "J1772"),
}
_POWER_TYPE_ALIASES = {
    PowerType.AC_1_PHASE: ("Single-phase AC", "AC_1_PHASE", "single phase ac"),
    PowerType.AC_3_PHASE: ("Three-phase AC", "AC_3_PHASE", "three-phase ac"),
    PowerType.DC: ("DC", "dc"),
}


@st.composite
def _spelled_bool(draw: st.DrawFn, value: bool) -> str:
    return draw(st.sampled_from(TRUE_SPELLINGS if value else FALSE_SPELLINGS))


@st.composite
def _spelled_spec(draw: st.DrawFn, spec: ConnectorSpec) -> dict[str, str]:
    standard = draw(
        st.sampled_from((spec.standard.value, *_STANDARD_ALIASES.get(spec.standard, ())))
    )
    form = draw(
        st.sampled_from(
            (spec.format.value, spec.format.value.capitalize(), spec.format.value.lower())
        )
    )
    return {
        "Connector type": standard,
        "Format": form,
        "Power type": draw(st.sampled_from(_POWER_TYPE_ALIASES[spec.power_type])),
        "Voltage": str(spec.voltage),
        "Amperage": str(spec.amperage),
    }


# --- files ---------------------------------------------------------------------------------------


@attrs.frozen
class CsvFile:
    """A generated file: its header, its data rows (column name to text), and the stations
    it must parse to (with the line of each station's first row)."""

    header: tuple[str, ...]
    rows: tuple[dict[str, str], ...]
    stations: tuple[StationImport, ...]

    def text(self, rows: Sequence[dict[str, str]] | None = None, newline: str = "\n") -> str:
        return write_csv(self.header, self.rows if rows is None else rows, newline=newline)

    @staticmethod
    def line_of(row_index: int) -> int:
        """The line of data row ``row_index`` (0-based): the header is line 1."""
        return row_index + 2


def write_csv(header: Sequence[str], rows: Sequence[dict[str, str]], *, newline: str = "\n") -> str:
    """The test-side writer: ``;``-separated, quoted only where needed."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", quotechar='"', lineterminator=newline)
    writer.writerow(header)
    writer.writerows([row[column] for column in header] for row in rows)
    return out.getvalue()


@st.composite
def csv_files(draw: st.DrawFn, max_stations: int = 5, shuffle_header: bool = True) -> CsvFile:
    """A valid CSV file: stations with distinct IDs, each station's rows in specification
    order but possibly interleaved with other stations' rows."""
    stations = draw(
        st.lists(
            station_imports(), min_size=1, max_size=max_stations, unique_by=lambda s: s.station_id
        )
    )
    slots = [i for i, s in enumerate(stations) for _ in s.connector_specifications]
    order = draw(st.permutations(slots))
    header = tuple(draw(st.permutations(CSV_COLUMNS))) if shuffle_header else CSV_COLUMNS
    taken = [0] * len(stations)
    first_line: dict[int, int] = {}
    rows: list[dict[str, str]] = []
    for index in order:
        station = stations[index]
        spec = station.connector_specifications[taken[index]]
        taken[index] += 1
        first_line.setdefault(index, CsvFile.line_of(len(rows)))
        row = {
            "Station ID": station.station_id,
            "Security code": station.security_code,
            "Manufacturer": station.manufacturer,
            "Article number": station.article_number or "",
            "Wi-Fi supported": draw(_spelled_bool(station.connectivity.wifi)),
            "GSM supported": draw(_spelled_bool(station.connectivity.gsm)),
            "Serial number": station.serial_number or "",
            **draw(_spelled_spec(spec)),
        }
        rows.append(row)
    in_file_order = sorted(first_line, key=first_line.__getitem__)
    expected = tuple(attrs.evolve(stations[i], line=first_line[i]) for i in in_file_order)
    return CsvFile(header=header, rows=tuple(rows), stations=expected)


# --- one bad value per column --------------------------------------------------------------------

BAD_VALUES: dict[str, tuple[str, ...]] = {
    "Station ID": ("", "ST:1", "ST/1", "A" * 49, "ST 1"),
    "Security code": ("", "K" * 256),
    "Manufacturer": ("", "M" * 256),
    "Article number": ("A" * 256,),
    "Wi-Fi supported": ("maybe", "", "2", "ja", "on"),
    "GSM supported": ("maybe", "", "-1", "nein"),
    "Connector type": ("", "Type 99", "Plug", "USB-C"),
    "Format": ("", "Plug", "Wireless"),
    "Power type": ("", "AC", "Two-phase AC", "DC 800"),
    "Voltage": ("", "5000", "109", "1001", "0", "-230", "230.5", "230,5", "abc", "230 V", "2e2"),
    "Amperage": ("", "0", "501", "16.0", "x", "-16"),
    "Serial number": ("AB C", "A\tB", "S" * 256),
}
"""For each column, values that break exactly that column's rule."""

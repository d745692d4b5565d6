"""QR code images: the PNG and SVG draw exactly segno's symbol, and the printable sheet."""

from __future__ import annotations

import re
import struct
import zlib
from xml.etree import ElementTree

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evcharge_core.domain.model import Charger, Connector, Station
from evcharge_core.domain.qr import QrCode, charger_qr_codes
from evcharge_core.domain.values import ConnectorFormat, ConnectorStandard, PowerType, Protocol
from evcharge_core.qrcodes import MAX_SCALE, qr_matrix, qr_png, qr_sheet_svg, qr_svg
from evcharge_core.testing import strategies as gen

SVG = "{http://www.w3.org/2000/svg}"
QUIET = 4


def _png_pixels(data: bytes) -> list[list[int]]:
    """The pixels of a 1-bit greyscale, non-interlaced PNG (what segno writes)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert crc == zlib.crc32(kind + body)
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) == (1, 0, 0)
    raw = zlib.decompress(idat)
    stride = (width + 7) // 8
    rows: list[list[int]] = []
    previous = bytes(stride)
    for y in range(height):
        line = raw[y * (stride + 1) : (y + 1) * (stride + 1)]
        kind, scan = line[0], bytearray(line[1:])
        assert kind in (0, 2), f"filter {kind}"
        if kind == 2:
            scan = bytearray((a + b) & 0xFF for a, b in zip(scan, previous, strict=True))
        previous = bytes(scan)
        rows.append([(scan[x // 8] >> (7 - x % 8)) & 1 for x in range(width)])
    return rows


def _modules_of(pixels: list[list[int]], scale: int) -> list[list[bool]]:
    """Dark modules read back from the image (centre pixel of each module)."""
    size = len(pixels) // scale
    return [
        [pixels[y * scale + scale // 2][x * scale + scale // 2] == 0 for x in range(size)]
        for y in range(size)
    ]


def _with_quiet_zone(matrix: list[list[bool]]) -> list[list[bool]]:
    n = len(matrix) + 2 * QUIET
    blank = [[False] * n for _ in range(QUIET)]
    rows = [[False] * QUIET + row + [False] * QUIET for row in matrix]
    return blank + rows + [list(r) for r in blank]


def _path_modules(d: str, size: int) -> list[list[bool]]:
    """Dark modules drawn by a path of ``Mx yhWv1h-Wz`` runs (the sheet's)."""
    grid = [[False] * size for _ in range(size)]
    for x, y, w in re.findall(r"M(\d+) (\d+)h(\d+)v1h-\d+z", d):
        for dx in range(int(w)):
            grid[int(y)][int(x) + dx] = True
    return grid


@settings(max_examples=25, deadline=None)
@given(st.text(st.characters(codec="ascii", exclude_categories=["Cc"]), min_size=1, max_size=80),
       st.integers(1, 5))  # fmt: skip
def test_png_draws_the_symbol_with_its_quiet_zone(payload: str, scale: int) -> None:
    pixels = _png_pixels(qr_png(payload, scale=scale))
    expected = _with_quiet_zone(qr_matrix(payload))
    assert len(pixels) == len(expected) * scale == len(pixels[0])
    assert _modules_of(pixels, scale) == expected


def test_svg_is_a_standalone_document_with_a_title() -> None:
    text = qr_svg("DEPOT-1*2", scale=3, title="Depot <left> & co\x07")
    root = ElementTree.fromstring(text)
    assert root.tag == f"{SVG}svg"
    size = (len(qr_matrix("DEPOT-1*2")) + 2 * QUIET) * 3
    assert (root.get("width"), root.get("height")) == (str(size), str(size))
    title = root.find(f"{SVG}title")
    assert title is not None
    assert title.text == "Depot <left> & co"  # escaped, the control character dropped
    assert next(root.iter(f"{SVG}path"), None) is not None


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="scale must be between 1 and"):
        qr_png("X", scale=0)
    with pytest.raises(ValueError, match="scale must be between"):
        qr_svg("X", scale=MAX_SCALE + 1)
    with pytest.raises(ValueError, match="non-empty payload"):
        qr_svg("")


def test_error_correction_is_at_least_level_m() -> None:
    import segno

    assert segno.make_qr("DEPOT-1*2", error="m").error in ("M", "Q", "H")
    # The matrix is what qr_matrix reports for the same payload.
    assert [[bool(v) for v in row] for row in segno.make_qr("DEPOT-1*2", error="m").matrix] == (
        qr_matrix("DEPOT-1*2")
    )


def _connector(n: int) -> Connector:
    return Connector(
        id=f"k{n}",
        ocpp_id=n,
        code=str(n),
        name=f"Connector {n}",
        standard=ConnectorStandard.IEC_62196_T2,
        format=ConnectorFormat.SOCKET,
        power_type=PowerType.AC_3_PHASE,
        voltage=230,
        amperage=16,
    )


def _codes(station: Station) -> list[QrCode]:
    return [code for charger in station.chargers for code in charger_qr_codes(station, charger)]


def _sheet(title: str, codes: list[QrCode]) -> ElementTree.Element:
    return ElementTree.fromstring(qr_sheet_svg(title, codes))


def test_sheet_labels_every_code_of_a_station() -> None:
    station = Station(
        id="ST1",
        name="Depot",
        code="ST1",
        protocol=Protocol.OCPP16,
        chargers=(
            Charger(id="c1", evse_id=1, code="D-1", name="Left & <right>",
                    connectors=(_connector(1), _connector(2))),
            Charger(id="c2", evse_id=2, code="D-2", name="Solo", connectors=(_connector(3),)),
        ),
    )  # fmt: skip
    codes = _codes(station)
    root = _sheet("Depot (ST1)", codes)
    assert (root.get("width"), root.get("height")) == ("210mm", "297mm")
    groups = [g for g in root.iter(f"{SVG}g") if g.get("data-payload") is not None]
    assert [g.get("data-payload") for g in groups] == ["D-1*1", "D-1*2", "D-2"]
    for group, code in zip(groups, codes, strict=True):
        texts = [t.text for t in group.iter(f"{SVG}text")]
        assert texts == [code.label, code.payload]
        path = next(group.iter(f"{SVG}path"))
        matrix = qr_matrix(code.payload)
        assert _path_modules(path.get("d", ""), len(matrix)) == matrix
    assert texts[0] == "Solo"
    assert "Left & <right>, Connector 1" in [t.text for t in root.iter(f"{SVG}text")]
    heading = next(t.text for t in root.iter(f"{SVG}text"))
    assert heading == "Depot (ST1)"


def test_sheet_without_chargers_says_so() -> None:
    root = _sheet("Empty", [])
    assert any("no chargers" in (t.text or "") for t in root.iter(f"{SVG}text"))


@settings(max_examples=10, deadline=None)
@given(st.integers(1, 200))
def test_sheet_layout_fits_codes_in_the_page_width(count: int) -> None:
    station = Station(
        id="ST1",
        name="Big",
        code="ST1",
        protocol=Protocol.OCPP201,
        chargers=tuple(
            Charger(id=f"c{n}", evse_id=n, code=f"C-{n}", name=f"Charger {n}")
            for n in range(1, count + 1)
        ),
    )
    root = _sheet("Big", _codes(station))
    height = float(root.get("height", "0mm").removesuffix("mm"))
    assert height >= 297
    groups = [g for g in root.iter(f"{SVG}g") if g.get("data-payload") is not None]
    assert len(groups) == count
    for group in groups:
        inner = next(g for g in group.iter(f"{SVG}g") if g.get("transform"))
        x, y = map(
            float, re.findall(r"translate\(([\d.]+) ([\d.]+)\)", inner.get("transform", ""))[0]
        )
        assert 0 < x < 210
        assert 0 < y < height


@given(gen.stations(kind="operator"))
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_sheet_of_any_station_is_well_formed_xml(station: Station) -> None:
    codes = _codes(station)
    root = _sheet(f"{station.name} ({station.id})", codes)
    payloads = [g.get("data-payload") for g in root.iter(f"{SVG}g") if g.get("data-payload")]
    assert payloads == [c.payload for c in codes]

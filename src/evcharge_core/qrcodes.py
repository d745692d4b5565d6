"""QR codes as images: a charger's code as SVG or PNG, and a printable sheet of every code of
a station as one SVG page.

The payloads come from :mod:`evcharge_core.domain.qr`; this module only draws them, with
`segno <https://segno.readthedocs.io>`_ (pure Python, QR Code Model 2 per ISO/IEC 18004,
SVG and PNG without Pillow). Codes use error correction level M at least (15 % of the
symbol may be lost: a scratched sticker still scans); segno raises the level further when
that does not make the symbol larger. The quiet zone is the 4 modules the standard asks.

The sheet (:func:`qr_sheet_svg`) is one A4 portrait page (210 x 297 mm) in SVG: a title
naming the station, then the codes in a grid, each labelled below with the charger (and
connector) name and the payload in plain text, so a sticker can be checked by eye and typed
in if a camera fails. Codes are 60 mm wide, as many to a row as fit; when they do not all
fit on the page, more columns of smaller codes are used, and a station with very many codes
gets a taller page rather than codes too small to scan (25 mm at least). Browsers print SVG
as it is; ``rsvg-convert -f pdf`` turns it into a PDF.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Sequence
from typing import Final
from xml.sax.saxutils import escape, quoteattr

import segno

from .domain.qr import QrCode

__all__ = [
    "DEFAULT_SCALE",
    "MAX_SCALE",
    "qr_matrix",
    "qr_png",
    "qr_sheet_svg",
    "qr_svg",
]

DEFAULT_SCALE: Final = 8
"""Pixels (PNG) or user units (SVG) per module: a version 1 code is 29 x 8 = 232 px."""
MAX_SCALE: Final = 64

_QUIET_ZONE: Final = 4
_ERROR_LEVEL: Final = "m"
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _make(payload: str) -> segno.QRCode:
    if not payload:
        raise ValueError("a QR code needs a non-empty payload")
    return segno.make_qr(payload, error=_ERROR_LEVEL)


def _check_scale(scale: int) -> None:
    if not 1 <= scale <= MAX_SCALE:
        raise ValueError(f"scale must be between 1 and {MAX_SCALE}, got {scale}")


def _text(value: str) -> str:
    """``value`` safe inside an XML text node: characters XML 1.0 forbids dropped."""
    return escape(_NOT_XML.sub("", value))


def qr_matrix(payload: str) -> list[list[bool]]:
    """The code's modules, row by row (``True``: dark), without the quiet zone."""
    return [[bool(module) for module in row] for row in _make(payload).matrix]


def qr_svg(payload: str, *, scale: int = DEFAULT_SCALE, title: str | None = None) -> str:
    """The QR code of ``payload`` as a standalone SVG document (black on white, the quiet
    zone included); ``title`` becomes its ``<title>`` (shown as a tooltip, read by screen
    readers)."""
    _check_scale(scale)
    out = io.BytesIO()
    _make(payload).save(
        out,
        kind="svg",
        scale=scale,
        border=_QUIET_ZONE,
        dark="#000",
        light="#fff",
        xmldecl=False,
        title=None if title is None else _NOT_XML.sub("", title),
    )
    return out.getvalue().decode("utf-8")


def qr_png(payload: str, *, scale: int = DEFAULT_SCALE) -> bytes:
    """The QR code of ``payload`` as a PNG image (black on white, the quiet zone included)."""
    _check_scale(scale)
    out = io.BytesIO()
    _make(payload).save(out, kind="png", scale=scale, border=_QUIET_ZONE, dark="#000")
    return out.getvalue()


def _modules_path(matrix: Sequence[Sequence[bool]]) -> str:
    """An SVG path drawing the dark modules (runs of a row as one rectangle each)."""
    parts: list[str] = []
    for y, row in enumerate(matrix):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            parts.append(f"M{start} {y}h{x - start}v1h{start - x}z")
    return "".join(parts)


# The page, in millimetres.
_PAGE_W: Final = 210.0
_PAGE_H: Final = 297.0
_MARGIN: Final = 12.0
_TITLE_H: Final = 16.0
_LABEL_H: Final = 11.0
_GAP: Final = 4.0
_MAX_CODE: Final = 60.0
_MIN_CODE: Final = 25.0


def _layout(count: int) -> tuple[int, float, float]:
    """Columns, code size and page height for ``count`` codes."""
    width = _PAGE_W - 2 * _MARGIN
    height = _PAGE_H - 2 * _MARGIN - _TITLE_H
    widest = max(1, min(count, int((width + _GAP) // (_MAX_CODE + _GAP))))
    for columns in range(widest, 9):
        size = min(_MAX_CODE, (width - (columns - 1) * _GAP) / columns)
        if size < _MIN_CODE:
            break
        rows = math.ceil(count / columns)
        if rows * (size + _LABEL_H + _GAP) <= height:
            return columns, size, _PAGE_H
    columns = int((width + _GAP) // (_MIN_CODE + _GAP))
    rows = math.ceil(count / columns)
    page_h = 2 * _MARGIN + _TITLE_H + rows * (_MIN_CODE + _LABEL_H + _GAP)
    return columns, _MIN_CODE, max(_PAGE_H, page_h)


def _fit(text: str, size_mm: float, font_mm: float) -> str:
    """``text`` cut (with an ellipsis) to about what fits in ``size_mm`` at ``font_mm``."""
    room = max(4, int(size_mm / (font_mm * 0.55)))
    return text if len(text) <= room else text[: room - 1] + "\u2026"


def qr_sheet_svg(title: str, codes: Sequence[QrCode]) -> str:
    """A printable page of ``codes`` (an A4 SVG document, see the module docstring), under
    ``title`` (e.g. the station's name and id)."""
    columns, size, page_h = _layout(len(codes))
    cell_w = (_PAGE_W - 2 * _MARGIN - (columns - 1) * _GAP) / columns
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_PAGE_W:g}mm" '
        f'height="{page_h:g}mm" viewBox="0 0 {_PAGE_W:g} {page_h:g}" '
        'font-family="DejaVu Sans, Arial, Helvetica, sans-serif">',
        f"<title>{_text(title)}</title>",
        f'<rect width="{_PAGE_W:g}" height="{page_h:g}" fill="#fff"/>',
        f'<text x="{_MARGIN:g}" y="{_MARGIN + 7:g}" font-size="6" font-weight="bold">'
        f"{_text(_fit(title, _PAGE_W - 2 * _MARGIN, 6))}</text>",
    ]
    if not codes:
        parts.append(
            f'<text x="{_MARGIN:g}" y="{_MARGIN + _TITLE_H + 6:g}" font-size="4">'
            "This station has no chargers yet.</text>"
        )
    for index, code in enumerate(codes):
        row, column = divmod(index, columns)
        x = _MARGIN + column * (cell_w + _GAP) + (cell_w - size) / 2
        y = _MARGIN + _TITLE_H + row * (size + _LABEL_H + _GAP)
        matrix = qr_matrix(code.payload)
        modules = len(matrix) + 2 * _QUIET_ZONE
        unit = size / modules
        center = x + size / 2
        parts.append(
            f"<g data-payload={quoteattr(_NOT_XML.sub('', code.payload))}>"
            f'<g transform="translate({x + _QUIET_ZONE * unit:.3f} '
            f'{y + _QUIET_ZONE * unit:.3f}) scale({unit:.5f})">'
            f'<path fill="#000" d="{_modules_path(matrix)}"/></g>'
            f'<text x="{center:.3f}" y="{y + size + 4:.3f}" font-size="3.2" '
            f'text-anchor="middle">{_text(_fit(code.label, cell_w, 3.2))}</text>'
            f'<text x="{center:.3f}" y="{y + size + 8.5:.3f}" font-size="3.6" '
            f'font-family="DejaVu Sans Mono, Courier New, monospace" text-anchor="middle">'
            f"{_text(_fit(code.payload, cell_w, 3.6))}</text></g>"
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"

"""What every sheet of the register workbook shares: formats, fonts, labels, print setup.

Split from :mod:`avsteg.register.export` so the data sheets and the Sammanställning
(:mod:`avsteg.register.summary_sheet`) format and print alike without importing each other.
"""
from __future__ import annotations

import math
from typing import Any

from openpyxl.styles import Font

from avsteg.domain.schema import Schema

DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DECIMAL_FORMAT = "0.0#"
BOLD = Font(bold=True)
TITLE = Font(bold=True, size=14)


def label(schema: Schema, key: str, fallback: str) -> str:
    """The schema's label for ``key``; ``fallback`` only if a future schema drops the field."""
    try:
        return schema.field(key).label
    except KeyError:
        return fallback


PRINT_CHARS_PER_PAGE = 240  # column width units on A4 landscape at a still readable ~60 %


def print_setup(ws: Any, title: str, repeat_header: bool, width: float = 0) -> None:
    """Landscape, as few pages wide as stays readable, the sheet's name and page numbers.

    A register printed with Excel's defaults runs over dozens of portrait pages, a few
    columns on each; the stödfunktion prints it for meetings. ``width`` is the sum of the
    column widths: a wide sheet (every deviation field) gets two or three pages across
    rather than a font too small to read.
    """
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = "9"  # A4
    ws.page_setup.fitToWidth = max(1, math.ceil(width / PRINT_CHARS_PER_PAGE))
    ws.page_setup.fitToHeight = 0  # as many pages down as it takes
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_margins.left = ws.page_margins.right = 0.4
    ws.oddHeader.center.text = f"Avstegsregistret – {title}"
    ws.oddFooter.center.text = "Sida &P av &N"
    if repeat_header:
        ws.print_title_rows = "1:1"



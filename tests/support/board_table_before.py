"""The board report's tables as python-docx built them cell by cell, before the rows were copied
from one prepared row: the reference tests/unit/test_board_report.py compares the XML of the
faster :func:`avsteg.register.board_report._table` to.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.shared import Cm, Pt

from avsteg.register.board_report import (
    TABLE_STYLE,
    _keep_together,
    _look,
    _repeat_header,
    format_number,
)


def table_before(document: Any, headers: Sequence[str], rows: Sequence[Sequence[Any]],
           numeric: Sequence[int] = (), bold_last: bool = False,
           widths: Sequence[float] | None = None, body_size: float = 9) -> None:
    table = document.add_table(rows=1, cols=len(headers))
    table.style = document.styles[TABLE_STYLE]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _look(table)
    for i, header in enumerate(headers):
        cell = table.rows[0].cells[i]
        cell.paragraphs[0].add_run(header)
        if i in numeric:
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _repeat_header(table.rows[0])
    for r, row in enumerate(rows):
        new_row = table.add_row()
        _keep_together(new_row)
        cells = new_row.cells
        for i, value in enumerate(row):
            text = format_number(value) if i in numeric else ("" if value is None else str(value))
            paragraph = cells[i].paragraphs[0]
            run = paragraph.add_run(text)
            if bold_last and r == len(rows) - 1:
                run.bold = True
            if i in numeric:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for n, row in enumerate(table.rows):
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(8 if n == 0 else body_size)  # long headers, narrow numbers
    if widths:
        table.autofit = False  # LibreOffice and Word keep the widths only with autofit off
        for column, width in zip(table.columns, widths):
            column.width = Cm(width)
        for row in table.rows:
            for cell, width in zip(row.cells, widths):
                cell.width = Cm(width)



"""Writes the blank Excel template (spec 2.2) from the schema alone.

Sheet ``Rapport`` holds the report fields (label in column A, value in column B) with the
instructions below them; sheet ``Avsteg`` has a header row of deviation labels and one row per
deviation. Cell formats, drop-down lists and input messages steer people towards values the
parser reads without guessing, but nothing is enforced: the parser, not Excel, decides.
"""

from __future__ import annotations

import io
import math

from openpyxl import Workbook
from openpyxl.comments import Comment
from openpyxl.packaging.core import DocumentProperties
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter, quote_sheetname
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.worksheet import Worksheet

from avsteg.domain.schema import Field, Schema
from avsteg.forms.common import describe, help_text, kind_name, label_text, title_for

ANNUAL_ROWS = 50
EVENT_ROWS = 1
LIST_SHEET = "Val"  # hidden sheet holding long option lists (a list formula caps at 255 chars)

# Excel number formats per field type: what a typed value is shown as, and (for "@") stored as.
NUMBER_FORMATS: dict[str, str] = {
    "date": "yyyy-mm-dd",
    "year": "0",
    "integer": "0",
    "decimal": "0.0",
    "text": "@",
    "email": "@",
    "phone": "@",
    "orgnr": "@",
    "multichoice": "@",
}
# Column widths (characters) on the Avsteg sheet by type.
WIDTHS: dict[str, float] = {
    "text": 30,
    "date": 13,
    "year": 10,
    "integer": 14,
    "decimal": 14,
    "orgnr": 18,
    "email": 28,
    "phone": 16,
    "choice": 22,
    "multichoice": 34,
}

# Swedish texts printed by the Excel template only (Word shows ☐ boxes instead).
MULTICHOICE_PROMPT = "Skriv ett eller flera alternativ, åtskilda med semikolon (;): {options}"
MULTICHOICE_TITLE = "Välj ett eller flera"
CHOICE_PROMPT = "Välj i listan: {options}"
CHOICE_TITLE = "Välj ett"
EXCEL_INSTRUCTIONS = (
    "Fyll i rapportens uppgifter i kolumn B här ovanför, och ett avsteg per rad på fliken {sheet}."
)
INSTRUCTIONS_HEADING = "Instruktioner"

FONT = "Arial"  # named explicitly: a nameless Font falls back to a serif face in LibreOffice
BOLD = Font(name=FONT, bold=True)
PLAIN = Font(name=FONT)
HEADER_FILL = PatternFill("solid", fgColor="D9E1F2")
LABEL_FILL = PatternFill("solid", fgColor="F2F2F2")
INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")
THIN = Side(style="thin", color="808080")
BOX = Border(left=THIN, right=THIN, top=THIN, bottom=THIN)
TOP_WRAP = Alignment(vertical="top", wrap_text=True)


def build_xlsx(schema: Schema, kind: str) -> bytes:
    """The blank Excel template for ``kind`` ("event" or "annual") as .xlsx bytes."""
    name = kind_name(schema, kind)
    wb = Workbook()
    report = wb.active
    report.title = schema.report_sheet
    deviations = wb.create_sheet(schema.deviation_sheet)
    lists = _ListSheet(wb)

    _report_sheet(report, schema, kind, lists)
    _deviation_sheet(deviations, schema, kind, lists)

    wb.properties = DocumentProperties(
        title=title_for(schema, kind),
        subject=schema.title,
        identifier=schema.identifier,
        version=schema.version,
        keywords=", ".join((schema.identifier, name, f"version {schema.version}")),
        category=name,
        description=describe(schema, kind),
        language="sv-SE",
        creator="",
    )
    wb.active = 0
    buffer = io.BytesIO()
    wb.save(buffer)
    return buffer.getvalue()


def _report_sheet(ws: Worksheet, schema: Schema, kind: str, lists: _ListSheet) -> None:
    ws.column_dimensions["A"].width = 38
    ws.column_dimensions["B"].width = 50
    ws["A1"] = title_for(schema, kind)
    ws["A1"].font = Font(name=FONT, bold=True, size=14)
    row = 3
    for f in schema.report_fields:
        label = ws.cell(row=row, column=1, value=label_text(f, kind))
        label.font = BOLD
        label.fill = LABEL_FILL
        label.border = BOX
        label.alignment = TOP_WRAP
        hint = help_text(f)
        if hint:
            label.comment = _comment(hint)
        value = ws.cell(row=row, column=2)
        value.border = BOX
        value.fill = INPUT_FILL
        value.alignment = TOP_WRAP
        value.font = PLAIN
        _format_and_validate(ws, value.coordinate, f, lists)
        ws.row_dimensions[row].height = 20
        row += 1

    row += 1
    ws.cell(row=row, column=1, value=INSTRUCTIONS_HEADING).font = Font(
        name=FONT, bold=True, size=12
    )
    texts = [*schema.instructions, EXCEL_INSTRUCTIONS.format(sheet=schema.deviation_sheet)]
    for text in texts:
        row += 1
        ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
        cell = ws.cell(row=row, column=1, value=text)
        cell.alignment = TOP_WRAP
        cell.font = PLAIN
        # Merged cells do not grow by themselves: ~100 characters per line over A+B.
        ws.row_dimensions[row].height = 14.5 * math.ceil(len(text) / 100)

    ws.freeze_panes = None
    ws.print_options.gridLines = False
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "portrait"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _deviation_sheet(ws: Worksheet, schema: Schema, kind: str, lists: _ListSheet) -> None:
    rows = EVENT_ROWS if kind == "event" else ANNUAL_ROWS
    for col, f in enumerate(schema.deviation_fields, start=1):
        letter = get_column_letter(col)
        ws.column_dimensions[letter].width = _column_width(f, kind)
        header = ws.cell(row=1, column=col, value=label_text(f, kind))
        header.font = BOLD
        header.fill = HEADER_FILL
        header.border = BOX
        header.alignment = Alignment(vertical="top", wrap_text=True)
        hint = help_text(f)
        if f.is_choice:
            hint = f"{hint} {_options_text(f)}"
        if hint:
            header.comment = _comment(hint)
        for row in range(2, rows + 2):
            cell = ws.cell(row=row, column=col)
            cell.border = BOX
            cell.alignment = TOP_WRAP
            cell.font = PLAIN
            if kind == "event":
                cell.fill = INPUT_FILL
        _format_and_validate(ws, f"{letter}2:{letter}{rows + 1}", f, lists)
    ws.row_dimensions[1].height = 48
    if kind == "event":
        ws.row_dimensions[2].height = 45  # the one row to fill: room for wrapped text
    ws.freeze_panes = "A2"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 3
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"


def _format_and_validate(ws: Worksheet, ref: str, f: Field, lists: _ListSheet) -> None:
    """Number format for every cell in ``ref``; a drop-down or input message for choices."""
    fmt = NUMBER_FORMATS.get(f.type)
    if fmt:
        for row in ws[ref] if ":" in ref else ((ws[ref],),):
            for cell in row:
                cell.number_format = fmt
    if f.type == "choice":
        dv = DataValidation(
            type="list",
            formula1=lists.formula(f),
            allow_blank=True,
            showDropDown=False,  # (sic) False means: show the arrow
            showInputMessage=True,
            promptTitle=CHOICE_TITLE,
            prompt=_cap(CHOICE_PROMPT.format(options=", ".join(f.options)), 255),
            showErrorMessage=False,  # a typed variant ("helår") is the parser's job
        )
        ws.add_data_validation(dv)
        dv.add(ref)
    elif f.type == "multichoice":
        dv = DataValidation(
            type=None,
            allow_blank=True,
            showInputMessage=True,
            promptTitle=MULTICHOICE_TITLE,
            prompt=_cap(MULTICHOICE_PROMPT.format(options="; ".join(f.options)), 255),
        )
        ws.add_data_validation(dv)
        dv.add(ref)


class _ListSheet:
    """Option lists for drop-downs: inline when they fit, else on a hidden sheet."""

    def __init__(self, wb: Workbook) -> None:
        self._wb = wb
        self._ws: Worksheet | None = None
        self._col = 0

    def formula(self, f: Field) -> str:
        inline = ",".join(f.options)
        if len(inline) <= 250 and not any(("," in o or '"' in o) for o in f.options):
            return f'"{inline}"'
        if self._ws is None:
            self._ws = self._wb.create_sheet(LIST_SHEET)
            self._ws.sheet_state = "hidden"
        self._col += 1
        letter = get_column_letter(self._col)
        for i, option in enumerate(f.options, start=1):
            self._ws.cell(row=i, column=self._col, value=option)
        return f"{quote_sheetname(LIST_SHEET)}!${letter}$1:${letter}${len(f.options)}"


def _column_width(f: Field, kind: str) -> float:
    """Wide enough for the type's values and for the label's longest word (no mid-word wraps)."""
    longest = max(len(word) for word in label_text(f, kind).split())
    return max(WIDTHS.get(f.type, 20), round(longest * 1.2 + 3))


def _options_text(f: Field) -> str:
    return "Alternativ: " + "; ".join(f.options) + "."


def _comment(text: str) -> Comment:
    comment = Comment(text, "")
    comment.width = 300
    comment.height = 110
    return comment


def _cap(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"

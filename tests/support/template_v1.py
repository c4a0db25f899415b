"""The templates of version 1 as they were first sent out (before the help text of issue 10).

Templates already in circulation must keep parsing exactly as before. They differ from today's
only in text around the fields: no format hints under the labels, the Rapportår hint of the time
(in both kinds), no line under `Annat`, the Word fill-in instruction in both formats, and the
Excel comments and prompts of the time. These builders turn today's templates into those, so
the test does not depend on git history. Checked once by hand against the templates that
commit 8286ca5 (main before issue 10) writes: every paragraph, table cell, document
description, sheet cell and comment the same.
"""
from __future__ import annotations

import io

from docx import Document
from openpyxl import load_workbook
from openpyxl.comments import Comment

from avsteg.domain.schema import Schema, label_key
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx

V1_YEAR_HELP = "Lämnas tomt i en händelserapport om året framgår av datum för avsteget."
V1_INSTRUCTIONS = (
    "Ett avsteg är när en förvaltning, ett bolag eller en stadsdel ordnar arbetstillfällen eller "
    "andra arbetsmarknadsinsatser hos en leverantör utan att gå via stödfunktionen för social "
    "hänsyn, och i stället använder en annan modell.",
    "Fyll i ett fält per rad. Fält märkta med * är obligatoriska. Kryssa i val genom att ersätta "
    "☐ med ☒ (eller X), eller ta bort de alternativ som inte gäller.",
    "Skicka den ifyllda mallen som bilaga (Word eller Excel, inte PDF) till "
    "socialhansyn@ink.goteborg.se. Du får en kvittens med ett referensnummer, eller besked om vad "
    "som behöver rättas.",
    "Händelserapport: skicka så nära händelsen som möjligt. Helårsrapport: lämnas i december av "
    "den som arbetar med social hänsyn under hela året och omfattar årets alla avsteg.",
)
V1_EXCEL_LINE = (
    "Fyll i rapportens uppgifter i kolumn B här ovanför, och ett avsteg per rad på fliken Avsteg."
)
V1_TYPE_HINTS = {
    "date": "Skriv datum som ÅÅÅÅ-MM-DD.", "year": "Fyra siffror, till exempel 2026.",
    "integer": "Ett heltal, 0 eller större.", "decimal": "Ett tal, till exempel 2,5.",
    "orgnr": "NNNNNN-NNNN", "choice": "Kryssa ett alternativ.",
    "multichoice": "Kryssa ett eller flera alternativ.",
}


def build_docx_v1(schema: Schema, kind: str) -> bytes:
    doc = Document(io.BytesIO(build_docx(schema, kind)))
    index = schema.label_index()
    body = [p for p in doc.paragraphs if p.text.strip()]
    fill = schema.fill_instructions["docx"]
    for p in body:
        if p.text == fill:
            p.runs[0].text = V1_INSTRUCTIONS[1]
            for run in p.runs[1:]:
                run.text = ""
    for table in doc.tables:
        for row in table.rows:
            label_cell, value_cell = row.cells
            f = index.get(label_key(label_cell.paragraphs[0].text))
            for p in label_cell.paragraphs[1:]:  # today's hints go; Rapportår's of the time
                if f is not None and f.key == "year":
                    p.runs[0].text = V1_YEAR_HELP
                else:
                    p._p.getparent().remove(p._p)
            for p in value_cell.paragraphs:
                if p.text and not p.text.startswith("☐"):  # the line under `Annat`
                    p._p.getparent().remove(p._p)
    doc.core_properties._element._get_or_add("description").text = "\n".join(
        V1_INSTRUCTIONS + ((schema.annual_copy_hint,) if kind == "annual" else ()))
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def build_xlsx_v1(schema: Schema, kind: str) -> bytes:
    wb = load_workbook(io.BytesIO(build_xlsx(schema, kind)))
    ws = wb[schema.report_sheet]
    index = schema.label_index()
    instructions = list(V1_INSTRUCTIONS) + [V1_EXCEL_LINE]
    now = list(schema.instructions_for("xlsx", kind))
    rows = [c.row for c in ws["A"] if c.value in now]
    for row in rows[len(instructions):]:
        ws.unmerge_cells(start_row=row, start_column=1, end_row=row, end_column=2)
        ws.cell(row, 1).value = None
    while len(rows) < len(instructions):
        rows.append(rows[-1] + 1)
        ws.merge_cells(start_row=rows[-1], start_column=1, end_row=rows[-1], end_column=2)
    for row, text in zip(rows, instructions, strict=False):
        ws.cell(row, 1).value = text
    for sheet, col_cells in ((ws, ws["A"]), (wb[schema.deviation_sheet], wb[schema.deviation_sheet][1])):
        for cell in col_cells:
            f = index.get(label_key(str(cell.value or "")))
            if f is None:
                continue
            hint = " ".join(p for p in (V1_YEAR_HELP if f.key == "year" else None,
                                        V1_TYPE_HINTS.get(f.type)) if p)
            if f.is_choice and sheet is not ws:
                hint = f"{hint} Alternativ: {'; '.join(f.options)}."
            cell.comment = Comment(hint, "") if hint else None
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()

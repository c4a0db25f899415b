"""Writes the blank Word template (spec 2.2) from the schema alone.

Everything printed comes from :class:`avsteg.domain.schema.Schema`, so a relabelled or added
field in ``config/schema.toml`` shows up here without a code change. The layout is the contract
the Word reader relies on: two-column tables, the label alone in the first paragraph of the left
cell (``Label`` or ``Label *``), the value in the right cell, choice options one paragraph each as
``☐ Option``, and one table per deviation under a heading ``Avsteg N``.
"""

from __future__ import annotations

import io

from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt, RGBColor
from docx.table import Table, _Cell

from avsteg.domain.schema import Field, Schema
from avsteg.forms.common import (
    BOX,
    describe,
    kind_name,
    label_text,
    title_for,
)

LABEL_WIDTH = Cm(6.0)
VALUE_WIDTH = Cm(11.0)
ROW_HEIGHT = Cm(0.75)
LABEL_SHADING = "F2F2F2"
HELP_COLOUR = RGBColor(0x59, 0x59, 0x59)


def build_docx(schema: Schema, kind: str) -> bytes:
    """The blank Word template for ``kind`` ("event" or "annual") as .docx bytes."""
    name = kind_name(schema, kind)
    doc = Document()
    _page_setup(doc)
    _document_defaults(doc)
    _core_properties(doc, schema, kind)

    doc.add_heading(schema.title, level=0)
    doc.add_paragraph(name, style="Subtitle")
    for text in schema.instructions:
        para = doc.add_paragraph(text)
        para.paragraph_format.space_after = Pt(4)

    doc.add_paragraph()
    _field_table(doc, schema.report_fields, kind)

    tables = 1 if kind == "event" else schema.annual_deviation_tables
    if kind == "annual" and schema.annual_copy_hint:
        hint = doc.add_paragraph()
        hint.paragraph_format.space_before = Pt(10)
        run = hint.add_run(schema.annual_copy_hint)
        run.italic = True
    for number in range(1, tables + 1):
        heading = doc.add_heading(f"{schema.deviation_heading} {number}", level=2)
        # One deviation per page: a table fits a page, and a copied table (with its heading)
        # starts a fresh page too.
        heading.paragraph_format.page_break_before = True
        heading.paragraph_format.keep_with_next = True
        _field_table(doc, schema.deviation_fields, kind)

    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def _page_setup(doc: DocumentObject) -> None:
    """A4 portrait with 2 cm margins: 17 cm of text width for a 6 + 11 cm table."""
    for section in doc.sections:
        section.orientation = WD_ORIENT.PORTRAIT
        section.page_width = Cm(21.0)
        section.page_height = Cm(29.7)
        section.left_margin = section.right_margin = Cm(2.0)
        section.top_margin = Cm(2.0)
        section.bottom_margin = Cm(2.0)


def _document_defaults(doc: DocumentObject) -> None:
    """A plain font and Swedish proofing, so Word spell-checks what people type in Swedish."""
    normal = doc.styles["Normal"]
    normal.font.name = "Arial"
    normal.font.size = Pt(10)
    normal.paragraph_format.space_after = Pt(2)
    rpr = normal.element.get_or_add_rPr()
    lang = rpr.find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr.append(lang)
    lang.set(qn("w:val"), "sv-SE")
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is not None:  # make East Asian/complex scripts follow too (no theme font left over)
        for attr in ("w:ascii", "w:hAnsi", "w:cs", "w:eastAsia"):
            fonts.set(qn(attr), "Arial")
    for style_name in ("Title", "Subtitle", "Heading 2"):
        style = doc.styles[style_name]
        style.font.name = "Arial"


def _core_properties(doc: DocumentObject, schema: Schema, kind: str) -> None:
    props = doc.core_properties
    props.identifier = schema.identifier
    props.version = schema.version
    props.title = title_for(schema, kind)
    props.subject = schema.title
    props.keywords = ", ".join(
        (schema.identifier, kind_name(schema, kind), f"version {schema.version}")
    )
    props.category = kind_name(schema, kind)
    # python-docx caps text properties at 255 characters (an old OLE limit); Word and
    # LibreOffice read a longer dc:description, and the instructions need the room.
    props._element._get_or_add("description").text = describe(schema, kind)
    props.language = "sv-SE"
    props.author = ""
    props.last_modified_by = ""


def _field_table(doc: DocumentObject, fields: tuple[Field, ...], kind: str) -> Table:
    table = doc.add_table(rows=0, cols=2)
    table.style = doc.styles["Table Grid"]
    table.alignment = WD_TABLE_ALIGNMENT.LEFT
    table.autofit = False
    table.columns[0].width = LABEL_WIDTH
    table.columns[1].width = VALUE_WIDTH
    _cell_margins(table)
    for f in fields:
        row = table.add_row()
        _no_split(row._tr)
        row.height = ROW_HEIGHT
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        label_cell, value_cell = row.cells
        label_cell.width = LABEL_WIDTH
        value_cell.width = VALUE_WIDTH
        _shade(label_cell, LABEL_SHADING)
        _fill_label(label_cell, f, kind)
        _fill_value(value_cell, f)
    # A paragraph after each table keeps Word from gluing the next heading/table onto it.
    doc.add_paragraph()
    return table


def _fill_label(cell: _Cell, f: Field, kind: str) -> None:
    para = cell.paragraphs[0]
    run = para.add_run(label_text(f, kind))
    run.bold = True
    # Only the schema's own help text: the Word reader recognises exactly that line as help and
    # would take any other line under the label for a value typed there.
    hint = f.help
    if hint:
        help_para = cell.add_paragraph()
        help_para.paragraph_format.space_before = Pt(1)
        help_run = help_para.add_run(hint)
        help_run.font.size = Pt(8)
        help_run.font.color.rgb = HELP_COLOUR
        help_run.italic = True


def _fill_value(cell: _Cell, f: Field) -> None:
    if not f.is_choice:
        return
    first = True
    for option in f.options:
        para = cell.paragraphs[0] if first else cell.add_paragraph()
        para.add_run(f"{BOX} {option}")
        first = False


def _shade(cell: _Cell, colour: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), colour)
    tc_pr.append(shd)


def _cell_margins(table: Table) -> None:
    """Some air above and below the text in every cell, so the form is easy to write in."""
    tbl_pr = table._tbl.tblPr
    margins = OxmlElement("w:tblCellMar")
    for side, twips in (("top", 57), ("left", 85), ("bottom", 57), ("right", 85)):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), str(twips))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    tbl_pr.append(margins)


def _no_split(tr) -> None:  # type: ignore[no-untyped-def]
    """Keep a row (a choice list) on one page."""
    tr_pr = tr.get_or_add_trPr()
    tr_pr.append(OxmlElement("w:cantSplit"))

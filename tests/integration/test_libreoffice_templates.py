"""The generated templates as LibreOffice sees them: printed to PDF, and rewritten on save.

The PDF text (poppler's ``pdftotext``) shows what a person sees: every label, every option
with its box and the instructions must be there. Which fonts draw the text is the machine's
business (Arial is replaced by whatever fontconfig offers; scripts/test installs
fonts-dejavu-core for the ☐ boxes), and a box drawn from a fallback font may come out of
``pdftotext`` away from its option: so the check counts boxes and finds each text, and does not
depend on the order of glyphs from different fonts. A LibreOffice re-save must keep the core properties the parser
uses to recognise the template (identifier, version) and still parse to the same values.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import subprocess
from collections import Counter

import pytest
from docx import Document
from openpyxl import load_workbook

from avsteg.config.schema import default_schema
from avsteg.forms.common import BOX, label_text
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx
from tests.support.fill import (
    FillStyle,
    convert_to_pdf,
    expected_json,
    fill_docx,
    fill_xlsx,
    libreoffice_roundtrip,
    need_pdftotext,
    sample_report,
)
from tests.support.require import need_glyphs

pytestmark = pytest.mark.integration

SCHEMA = default_schema()
BUILDERS = {"docx": build_docx, "xlsx": build_xlsx}
CASES = [(fmt, kind) for fmt in BUILDERS for kind in ("event", "annual")]


def _squash(text: str) -> str:
    """PDF text wraps lines and hyphenates nothing; compare with all whitespace folded."""
    return re.sub(r"\s+", " ", text).strip()


GLYPHS = "☐☑☒"


def _around_glyphs(text: str) -> list[str]:
    """The runs of text between box glyphs, which a fallback font may print elsewhere."""
    return [p for p in re.split(f"\\s*[{GLYPHS}]\\s*", _squash(text)) if p]


def _docx_text(data: bytes) -> str:
    """Every paragraph of a .docx, tables included, as python-docx reads it."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            for cell in row.cells:
                parts += [p.text for p in cell.paragraphs]
    return "\n".join(parts)


@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_printed_template_shows_labels_and_instructions(tmp_path, fmt, kind):
    pdftotext = need_pdftotext()
    template = BUILDERS[fmt](SCHEMA, kind)
    pdf = convert_to_pdf(template, fmt)
    assert pdf.startswith(b"%PDF")
    path = tmp_path / "mall.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        [pdftotext, "-layout" if fmt == "xlsx" else "-raw", str(path), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    flat = _squash(text)
    # Excel wraps header labels inside narrow columns, so compare words there, phrases in Word.
    words = set(flat.replace("*", " ").split())
    for f in SCHEMA.fields:
        if fmt == "docx":
            assert _squash(label_text(f, kind)) in flat, f.label
        else:
            assert all(w in words for w in f.label.split()), f.label
    for line in SCHEMA.instructions:  # "ersätt ☐ med ☒": the text around the glyphs
        for piece in _around_glyphs(line):
            assert piece in flat, line
    assert SCHEMA.kinds[kind] in flat
    if fmt == "docx":
        need_glyphs(BOX, "prints the check boxes of the Word template (apt-get install "
                         "fonts-dejavu-core)")
        # Every box of the document is printed, and every option's text; not their order,
        # which follows the fonts (see the module's docstring).
        boxes = _docx_text(template).count(BOX)
        assert boxes >= sum(len(f.options) for f in SCHEMA.fields) > 0
        assert flat.count(BOX) == boxes
        assert flat.count("☒") == _docx_text(template).count("☒")
        listed = Counter(_squash(o) for f in SCHEMA.fields for o in f.options)
        for option, times in listed.items():
            assert flat.count(option) >= times, option


@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_libreoffice_resave_keeps_identifier_and_version(fmt, kind):
    data = libreoffice_roundtrip(BUILDERS[fmt](SCHEMA, kind), fmt)
    if fmt == "docx":
        props = Document(io.BytesIO(data)).core_properties
        assert props.identifier == "avstegsrapport" and props.version == "1"
        assert SCHEMA.kinds[kind] in props.title
    else:
        wb = load_workbook(io.BytesIO(data))
        assert wb.properties.identifier == "avstegsrapport" and wb.properties.version == "1"
        assert [c.value for c in wb[SCHEMA.deviation_sheet][1]] == [
            label_text(f, kind) for f in SCHEMA.deviation_fields
        ]


@pytest.mark.parametrize("fmt", BUILDERS)
def test_filled_then_resaved_by_libreoffice_still_parses(fmt):
    """A program that rewrites the file on save (spec 2.3) must not change what we read."""
    from avsteg.parsers.template import parse_attachment

    report, deviations = sample_report(SCHEMA, "annual", n_deviations=3, seed=11)
    if fmt == "docx":
        filled = fill_docx(build_docx(SCHEMA, "annual"), report, deviations, FillStyle(mark="☑"))
    else:
        filled = fill_xlsx(
            build_xlsx(SCHEMA, "annual"),
            report,
            deviations,
            FillStyle(date="excel", number="excel"),
        )
    data = libreoffice_roundtrip(filled, fmt)
    parsed = parse_attachment(f"mall.{fmt}", data, SCHEMA, today=dt.date(2026, 3, 1)).to_json()
    assert parsed["errors"] == [] and parsed["status"] == "accepted"
    assert parsed["template_version"] == "1"
    assert (parsed["report"], parsed["deviations"]) == expected_json(report, deviations)

"""The generated templates as LibreOffice sees them: printed to PDF, and rewritten on save.

The PDF text (poppler's ``pdftotext``) shows what a person sees: every label and the
instructions must be there. A LibreOffice re-save must keep the core properties the parser
uses to recognise the template (identifier, version) and still parse to the same values.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess

import pytest
from docx import Document
from openpyxl import load_workbook

from avsteg.config.schema import default_schema
from avsteg.forms.common import label_text
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx
from tests.support.fill import (
    FillStyle,
    convert_to_pdf,
    expected_json,
    fill_docx,
    fill_xlsx,
    libreoffice_roundtrip,
    sample_report,
    soffice,
)

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(soffice() is None, reason="LibreOffice (soffice) is not installed"),
]

SCHEMA = default_schema()
BUILDERS = {"docx": build_docx, "xlsx": build_xlsx}
CASES = [(fmt, kind) for fmt in BUILDERS for kind in ("event", "annual")]


def _squash(text: str) -> str:
    """PDF text wraps lines and hyphenates nothing; compare with all whitespace folded."""
    return re.sub(r"\s+", " ", text).strip()


@pytest.mark.skipif(shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) missing")
@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_printed_template_shows_labels_and_instructions(tmp_path, fmt, kind):
    pdf = convert_to_pdf(BUILDERS[fmt](SCHEMA, kind), fmt)
    assert pdf is not None and pdf.startswith(b"%PDF")
    path = tmp_path / "mall.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout" if fmt == "xlsx" else "-raw", str(path), "-"],
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
    for line in SCHEMA.instructions:
        assert _squash(line) in flat
    assert SCHEMA.kinds[kind] in flat
    if fmt == "docx":
        for f in SCHEMA.fields:
            for option in f.options:
                assert f"☐ {option}" in flat


@pytest.mark.parametrize(("fmt", "kind"), CASES)
def test_libreoffice_resave_keeps_identifier_and_version(fmt, kind):
    data = libreoffice_roundtrip(BUILDERS[fmt](SCHEMA, kind), fmt)
    assert data is not None
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
    assert data is not None
    parsed = parse_attachment(f"mall.{fmt}", data, SCHEMA, today=dt.date(2026, 3, 1)).to_json()
    assert parsed["errors"] == [] and parsed["status"] == "accepted"
    assert parsed["template_version"] == "1"
    assert (parsed["report"], parsed["deviations"]) == expected_json(report, deviations)

"""Round-trip helpers for tests: filling (avsteg.forms.fill), sample values, LibreOffice."""
from avsteg.forms.fill import (
    FillStyle,
    fill_docx,
    render_date,
    render_number,
    render_orgnr,
)
from avsteg.forms.fill_excel import fill_xlsx
from tests.support.libreoffice import (
    convert_to_pdf,
    libreoffice_roundtrip,
    need_pdftotext,
    need_soffice,
)
from tests.support.samples import expected_json, sample_orgnr, sample_report

__all__ = [
    "FillStyle",
    "convert_to_pdf",
    "expected_json",
    "fill_docx",
    "fill_xlsx",
    "libreoffice_roundtrip",
    "need_pdftotext",
    "need_soffice",
    "render_date",
    "render_number",
    "render_orgnr",
    "sample_orgnr",
    "sample_report",
]

"""The board report as the nämnd sees it: printed to PDF by LibreOffice, read with pdftotext."""
from __future__ import annotations

import datetime as dt
import re
import subprocess

import pytest

from avsteg.domain.register import Period
from avsteg.register.board_report import build_board_report, format_number
from tests.support.fill import convert_to_pdf, need_pdftotext
from tests.unit.test_export import SCHEMA, active_deviations, sample_register

pytestmark = pytest.mark.integration


def _pdf_text(pdf: bytes) -> str:
    out = subprocess.run([need_pdftotext(), "-", "-"], input=pdf, capture_output=True,
                         check=True).stdout.decode("utf-8")
    return re.sub(r"\s+", " ", out.replace("\u00a0", " "))


def _sv(n: int) -> str:
    """A number as printed: Swedish grouping, the non-breaking space read back as a space."""
    return format_number(n).replace("\u00a0", " ")


def test_board_report_pdf_shows_the_key_figures() -> None:
    register = sample_register().filtered(Period(year=2026))
    active = active_deviations(register)
    jobs = sum(d.values["jobs_created"] or 0 for _, d in active)
    employments = sum(d.values["employments"] or 0 for _, d in active)
    internships = sum(d.values["internships"] or 0 for _, d in active)

    pdf = convert_to_pdf(build_board_report(register, SCHEMA, today=dt.date(2026, 12, 20)), "docx")
    assert pdf is not None and pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)

    assert "Avsteg från modellen för social hänsyn" in text
    assert "Rapportår 2026" in text
    assert f"{len({r.reference for r, _ in active})} rapporter med sammanlagt {len(active)} avsteg" in text
    assert f"{_sv(jobs)} arbetstillfällen" in text
    assert jobs >= 1000  # the thousands separator survives the printing
    assert f"varav {_sv(employments)} anställningar" in text
    assert f"{_sv(internships)} praktikplatser" in text
    for organisation in {r.organisation for r, _ in active}:
        assert organisation in text
    for _, d in active:
        assert d.values["supplier"] in text

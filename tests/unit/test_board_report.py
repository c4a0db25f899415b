"""The board report read back with python-docx: figures, tables, chart, Swedish numbers."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal

import pytest
from docx import Document

from avsteg.domain.figures import summarise
from avsteg.domain.register import Period, Register
from avsteg.register.board_report import build_board_report, format_number, summary_text
from tests.unit.test_export import SCHEMA, active_deviations, sample_register

NBSP = "\u00a0"
TODAY = dt.date(2026, 12, 20)


def _text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            parts.append(" | ".join(c.text for c in row.cells))
    return "\n".join(parts)


@pytest.fixture(scope="module")
def register() -> Register:
    return sample_register(period=Period(year=2026))


@pytest.fixture(scope="module")
def document(register: Register):
    part = register.filtered(Period(year=2026))
    return Document(io.BytesIO(build_board_report(part, SCHEMA, today=TODAY)))


@pytest.mark.parametrize(
    ("value", "text"),
    [(0, "0"), (7, "7"), (1200, f"1{NBSP}200"), (1234567, f"1{NBSP}234{NBSP}567"),
     (Decimal("2.5"), "2,5"), (Decimal("1200.5"), f"1{NBSP}200,5"), (Decimal("12.0"), "12")],
)
def test_numbers_are_written_the_swedish_way(value, text: str) -> None:
    assert format_number(value) == text


def test_key_figures_are_in_the_text(register: Register, document) -> None:
    part = register.filtered(Period(year=2026))
    active = active_deviations(part)
    reports = {r.reference for r, _ in active}
    organisations = {r.organisation for r, _ in active}
    jobs = sum(d.values["jobs_created"] or 0 for _, d in active)
    employments = sum(d.values["employments"] or 0 for _, d in active)
    internships = sum(d.values["internships"] or 0 for _, d in active)
    assert jobs >= 1000  # so the thousands separator is exercised
    text = _text(document)
    assert f"{len(reports)} rapporter med sammanlagt {len(active)} avsteg" in text
    assert f"från {len(organisations)} förvaltningar och bolag" in text
    assert f"{format_number(jobs)} arbetstillfällen" in text
    assert f"varav {format_number(employments)} anställning" in text
    assert f"{format_number(internships)} praktikplats" in text
    assert "Rapportår 2026" in text
    assert "1 återkallad rapport räknas inte." in text


def test_tables_per_organisation_and_measure(register: Register, document) -> None:
    active = active_deviations(register.filtered(Period(year=2026)))
    org_label = SCHEMA.field("organisation").label
    measure_label = SCHEMA.field("measures").label
    tables = {(t.rows[0].cells[0].text, t.rows[0].cells[1].text): t for t in document.tables}
    org_table = tables[(org_label, "Rapporter")]
    org_rows = {r.cells[0].text: [c.text for c in r.cells[1:]] for r in org_table.rows[1:]}
    organisations = {r.organisation for r, _ in active}
    assert set(org_rows) == organisations | {"Totalt"}
    assert "Stadsmiljöförvaltningen" not in org_rows  # its only report is withdrawn
    for name in organisations:
        mine = [d for r, d in active if r.organisation == name]
        assert org_rows[name][1] == str(len(mine))
        assert org_rows[name][2] == format_number(sum(d.values["jobs_created"] or 0 for d in mine))
    total_jobs = sum(d.values["jobs_created"] or 0 for _, d in active)
    assert org_rows["Totalt"][2] == format_number(total_jobs)
    measure_table = tables[(measure_label, "Rapporter")]
    measure_rows = {r.cells[0].text: r.cells[2].text for r in measure_table.rows[1:]}
    assert list(measure_rows) == list(SCHEMA.field("measures").options)
    for option, count in measure_rows.items():
        assert count == str(sum(option in d.values["measures"] for _, d in active))


def test_every_deviation_is_listed(register: Register, document) -> None:
    part = register.filtered(Period(year=2026))
    listing = document.tables[-1]
    assert listing.rows[0].cells[1].text == SCHEMA.field("procurement").label
    rows = [[c.text for c in r.cells] for r in listing.rows[1:]]
    expected = sorted(
        (r.organisation, d.values["procurement"], d.values["supplier"],
         format_number(d.values["jobs_created"] or 0))
        for r, d in active_deviations(part)
    )
    assert sorted((r[0], r[1], r[2], r[4]) for r in rows) == expected


def test_chart_picture_is_embedded(document) -> None:
    assert len(document.inline_shapes) == 1
    blobs = [p.target_part.blob for p in document.part.rels.values() if "image" in p.reltype]
    assert len(blobs) == 1 and blobs[0].startswith(b"\x89PNG")


def test_empty_period_says_so() -> None:
    data = build_board_report(Register([], [], [], Period(year=2031)), SCHEMA, today=TODAY)
    text = _text(Document(io.BytesIO(data)))
    assert "Inga rapporter om avsteg har kommit in under perioden." in text
    assert "Rapportår 2031" in text


def test_singular_forms() -> None:
    register = sample_register().filtered(Period(year=2025))
    register.reports[0:] = register.reports[:1]
    text = summary_text(summarise(register, SCHEMA))
    assert text.startswith("Under perioden har 1 rapport med sammanlagt 2 avsteg")
    assert "från 1 förvaltning eller bolag" in text


def test_what_annat_is_is_shown_with_the_measures(register: Register, document) -> None:
    part = register.filtered(Period(year=2026))
    described = [d for _, d in active_deviations(part) if d.values.get("measures_other")]
    assert described, "the sample register should describe at least one Annat"
    listing = [[c.text for c in r.cells] for r in document.tables[-1].rows[1:]]
    shown = [r[3] for r in listing]
    for d in described:
        assert any(f"Annat ({d.values['measures_other']})" in cell for cell in shown), shown
    assert sum("Annat (" in cell for cell in shown) == len(described)

"""The blank templates (spec 2.2) and the fill helper the round-trip tests rely on."""

from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from pathlib import Path

import pytest
from docx import Document
from openpyxl import load_workbook

from avsteg.cli import main
from avsteg.config.schema import default_schema, load_schema
from avsteg.domain.schema import Schema, label_key
from avsteg.forms.common import label_text, marked_required
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx
from tests.support.fill import (
    FillStyle,
    expected_json,
    fill_docx,
    fill_xlsx,
    render_date,
    render_number,
    sample_report,
)

KINDS = ("event", "annual")
SCHEMA = default_schema()


@pytest.fixture(scope="module")
def built() -> dict[tuple[str, str], bytes]:
    out = {("docx", k): build_docx(SCHEMA, k) for k in KINDS}
    out.update({("xlsx", k): build_xlsx(SCHEMA, k) for k in KINDS})
    return out


def _doc(data: bytes):
    return Document(io.BytesIO(data))


def _label_column(table) -> list[str]:
    return [row.cells[0].paragraphs[0].text for row in table.rows]


def _deviation_headings(doc, schema: Schema) -> list[str]:
    return [p.text for p in doc.paragraphs if p.text.startswith(schema.deviation_heading + " ")]


# ---------------------------------------------------------------- Word


@pytest.mark.parametrize("kind", KINDS)
def test_docx_properties(built, kind):
    props = _doc(built["docx", kind]).core_properties
    assert props.identifier == SCHEMA.identifier == "avstegsrapport"
    assert props.version == SCHEMA.version == "1"
    assert SCHEMA.title in props.title and SCHEMA.kinds[kind] in props.title
    for line in SCHEMA.instructions:  # the full text, past python-docx's 255-character cap
        assert line in props.comments
    assert (SCHEMA.annual_copy_hint in props.comments) == (kind == "annual")


@pytest.mark.parametrize("kind", KINDS)
def test_docx_tables_carry_every_label_with_required_marks(built, kind):
    doc = _doc(built["docx", kind])
    report_table, *deviation_tables = doc.tables
    assert _label_column(report_table) == [label_text(f, kind) for f in SCHEMA.report_fields]
    expected_tables = 1 if kind == "event" else SCHEMA.annual_deviation_tables
    assert len(deviation_tables) == expected_tables
    for table in deviation_tables:
        assert _label_column(table) == [label_text(f, kind) for f in SCHEMA.deviation_fields]
        assert all(len(row.cells) == 2 for row in table.rows)
    assert _deviation_headings(doc, SCHEMA) == [
        f"{SCHEMA.deviation_heading} {n}" for n in range(1, expected_tables + 1)
    ]
    # Labels are bold and starred per kind: a field required only in the other kind is not.
    assert report_table.rows[0].cells[0].paragraphs[0].runs[0].bold
    dev_date = SCHEMA.field("deviation_date")
    assert marked_required(dev_date, "event") and not marked_required(dev_date, "annual")
    assert label_text(dev_date, kind) in _label_column(deviation_tables[0])


@pytest.mark.parametrize("kind", KINDS)
def test_docx_choice_cells_list_unmarked_options(built, kind):
    doc = _doc(built["docx", kind])
    by_label = {label_key(r.cells[0].paragraphs[0].text): r for t in doc.tables for r in t.rows}
    for f in SCHEMA.fields:
        value_cell = by_label[label_key(f.label)].cells[1]
        texts = [p.text for p in value_cell.paragraphs]
        if f.is_choice:
            assert texts == [f"☐ {o}" for o in f.options]  # nothing pre-selected, not even the kind
        else:
            assert "".join(texts) == ""


@pytest.mark.parametrize("kind", KINDS)
def test_docx_body_has_instructions_and_title(built, kind):
    text = "\n".join(p.text for p in _doc(built["docx", kind]).paragraphs)
    assert SCHEMA.title in text and SCHEMA.kinds[kind] in text
    for line in SCHEMA.instructions:
        assert line in text
    assert (SCHEMA.annual_copy_hint in text) == (kind == "annual")


def test_docx_page_is_a4_with_sensible_columns(built):
    doc = _doc(built["docx", "event"])
    section = doc.sections[0]
    assert round(section.page_width.cm, 1) == 21.0 and round(section.page_height.cm, 1) == 29.7
    table = doc.tables[0]
    assert round(table.columns[0].width.cm) == 6 and round(table.columns[1].width.cm) == 11
    assert table.style.name == "Table Grid"


# ---------------------------------------------------------------- Excel


@pytest.mark.parametrize("kind", KINDS)
def test_xlsx_properties(built, kind):
    props = load_workbook(io.BytesIO(built["xlsx", kind])).properties
    assert props.identifier == "avstegsrapport" and props.version == "1"
    assert SCHEMA.kinds[kind] in props.title
    assert all(line in props.description for line in SCHEMA.instructions)


@pytest.mark.parametrize("kind", KINDS)
def test_xlsx_sheets_labels_formats(built, kind):
    wb = load_workbook(io.BytesIO(built["xlsx", kind]))
    report = wb[SCHEMA.report_sheet]
    column_a = [c.value for c in report["A"] if c.value]
    labels_a = [
        v for v in column_a if any(label_key(v) == label_key(f.label) for f in SCHEMA.report_fields)
    ]
    assert labels_a == [label_text(f, kind) for f in SCHEMA.report_fields]
    for line in SCHEMA.instructions:
        assert line in column_a
    rows = {label_key(str(c.value)): c.row for c in report["A"] if c.value}
    date_cell = report.cell(rows[label_key(SCHEMA.field("report_date").label)], 2)
    assert date_cell.number_format == "yyyy-mm-dd"
    assert report.cell(rows[label_key(SCHEMA.field("year").label)], 2).number_format == "0"
    assert report.cell(rows[label_key(SCHEMA.field("contact_phone").label)], 2).number_format == "@"

    dev = wb[SCHEMA.deviation_sheet]
    header = [c.value for c in dev[1]]
    assert header == [label_text(f, kind) for f in SCHEMA.deviation_fields]
    assert all(c.font.bold and c.alignment.wrap_text for c in dev[1])
    assert dev.freeze_panes == "A2"
    formats = {
        f.key: dev.cell(2, i).number_format for i, f in enumerate(SCHEMA.deviation_fields, 1)
    }
    assert formats["deviation_date"] == "yyyy-mm-dd"
    assert formats["jobs_created"] == "0" and formats["fulltime_months"] == "0.0"
    assert formats["supplier_orgnr"] == "@"
    last_styled = max(c.row for c in dev["A"] if c.border.left.style)
    assert last_styled == (2 if kind == "event" else 51)


@pytest.mark.parametrize("kind", KINDS)
def test_xlsx_dropdown_for_single_choice_and_hint_for_multichoice(built, kind):
    wb = load_workbook(io.BytesIO(built["xlsx", kind]))
    report = wb[SCHEMA.report_sheet]
    row = next(
        c.row for c in report["A"] if c.value and label_key(c.value) == label_key("Typ av rapport")
    )
    lists = [dv for dv in report.data_validations.dataValidation if dv.type == "list"]
    assert len(lists) == 1 and f"B{row}" in lists[0].sqref
    assert lists[0].formula1 == '"' + ",".join(SCHEMA.field("report_type").options) + '"'
    dev = wb[SCHEMA.deviation_sheet]
    for f in SCHEMA.deviation_fields:
        if f.type != "multichoice":
            continue
        col = next(c.column_letter for c in dev[1] if label_key(str(c.value)) == label_key(f.label))
        prompts = [dv for dv in dev.data_validations.dataValidation if f"{col}2" in dv.sqref]
        assert prompts and ";" in prompts[0].prompt
        assert all(o in prompts[0].prompt for o in f.options)
        assert all(o in dev[f"{col}1"].comment.text for o in f.options)


# ---------------------------------------------------------------- driven by the schema file


def _modified_schema(tmp_path: Path) -> Path:
    src = Path(__file__).resolve().parents[2] / "avsteg" / "config" / "schema.toml"
    text = src.read_text(encoding="utf-8")
    assert text.count('label = "Leverantör"\n') == 1
    text = text.replace('label = "Leverantör"\n', 'label = "Leverantör (företagets namn)"\n')
    text += '\n[[deviation_fields]]\nkey = "project_code"\nlabel = "Projektkod"\ntype = "text"\nrequired = false\n'
    path = tmp_path / "schema.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", KINDS)
def test_modified_schema_needs_no_code_change(tmp_path, kind):
    schema = load_schema(_modified_schema(tmp_path))
    doc = _doc(build_docx(schema, kind))
    labels = _label_column(doc.tables[1])
    assert "Leverantör (företagets namn) *" in labels and "Leverantör *" not in labels
    assert labels[-1] == "Projektkod"
    header = [
        c.value
        for c in load_workbook(io.BytesIO(build_xlsx(schema, kind)))[schema.deviation_sheet][1]
    ]
    assert header[-1] == "Projektkod" and "Leverantör (företagets namn) *" in header


# ---------------------------------------------------------------- the command


@pytest.mark.parametrize("fmt", ("docx", "xlsx"))
@pytest.mark.parametrize("kind", KINDS)
def test_cli_writes_the_template(tmp_path, monkeypatch, fmt, kind):
    monkeypatch.delenv("AVSTEG_CONFIG", raising=False)
    monkeypatch.delenv("AVSTEG_SCHEMA_FILE", raising=False)
    out = tmp_path / f"mall.{fmt}"  # the directory must exist: the command creates none
    assert main(["template", "--format", fmt, "--kind", kind, "-o", str(out)]) == 0
    data = out.read_bytes()
    if fmt == "docx":
        assert _doc(data).core_properties.title.endswith(SCHEMA.kinds[kind])
    else:
        assert load_workbook(io.BytesIO(data)).properties.title.endswith(SCHEMA.kinds[kind])


def test_cli_reads_the_schema_named_in_the_config(tmp_path, monkeypatch):
    monkeypatch.delenv("AVSTEG_CONFIG", raising=False)
    monkeypatch.delenv("AVSTEG_SCHEMA_FILE", raising=False)
    config = tmp_path / "avsteg.toml"
    config.write_text(
        f'schema_file = "{_modified_schema(tmp_path).as_posix()}"\n', encoding="utf-8"
    )
    out = tmp_path / "mall.docx"
    assert (
        main(
            [
                "template",
                "--config",
                str(config),
                "--format",
                "docx",
                "--kind",
                "event",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "Projektkod" in _label_column(_doc(out.read_bytes()).tables[1])


# ---------------------------------------------------------------- the fill helper


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(digits):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@pytest.mark.parametrize("seed", range(8))
def test_sample_report_obeys_the_rules(seed):
    report, deviations = sample_report(SCHEMA, "annual", n_deviations=5, seed=seed)
    assert set(report) == {f.key for f in SCHEMA.report_fields}
    assert report["report_type"] == "Helårsrapport" and isinstance(report["year"], int)
    for d in deviations:
        assert set(d) == {f.key for f in SCHEMA.deviation_fields}
        parts = (d["employments"] or 0) + (d["internships"] or 0)
        assert d["jobs_created"] >= parts
        if d["contract_start"] and d["contract_end"]:
            assert d["contract_end"] >= d["contract_start"]
        if d["supplier_orgnr"]:
            assert len(d["supplier_orgnr"]) == 11 and _luhn_ok(d["supplier_orgnr"].replace("-", ""))
        for key in ("measures", "target_groups"):
            options = SCHEMA.field(key).options
            assert d[key] and d[key] == sorted(d[key], key=options.index)
    assert deviations[0]["jobs_created"] >= 1000  # something for the "spaced" style to space
    assert sample_report(SCHEMA, "annual", 5, seed) == (report, deviations)  # deterministic


def test_renderings_people_type():
    day = dt.date(2026, 3, 5)
    assert [render_date(day, s) for s in ("iso", "compact", "swedish", "slash", "dots")] == [
        "2026-03-05",
        "20260305",
        "5 mars 2026",
        "5/3/2026",
        "05.03.2026",
    ]
    assert render_number(1200, "spaced") == "1 200" and render_number(1200, "nbsp") == "1\u00a0200"
    assert render_number(5, "st") == "5 st" and render_number(Decimal("2.5"), "plain") == "2,5"
    assert expected_json({"d": day, "n": Decimal(6)}, [])[0] == {"d": "2026-03-05", "n": 6}


def test_fill_docx_marks_by_label_and_copies_tables(built):
    report, deviations = sample_report(SCHEMA, "annual", n_deviations=4, seed=1)
    with pytest.raises(ValueError, match="copy_tables"):
        fill_docx(built["docx", "annual"], report, deviations)
    data = fill_docx(
        built["docx", "annual"], report, deviations, FillStyle(mark="X", copy_tables=True)
    )
    doc = _doc(data)
    assert len(doc.tables) == 1 + 4
    assert _deviation_headings(doc, SCHEMA)[-1] == f"{SCHEMA.deviation_heading} 4"
    for table, values in zip(doc.tables[1:], deviations):
        rows = {label_key(r.cells[0].paragraphs[0].text): r.cells[1] for r in table.rows}
        measures = [p.text for p in rows[label_key("Typ av insats")].paragraphs]
        assert [t[2:] for t in measures if t.startswith("X ")] == values["measures"]
        assert rows[label_key("Leverantör")].text == values["supplier"]
    assert doc.core_properties.identifier == "avstegsrapport"


def test_fill_xlsx_writes_typed_cells(built):
    report, deviations = sample_report(SCHEMA, "annual", n_deviations=3, seed=2)
    data = fill_xlsx(
        built["xlsx", "annual"],
        report,
        deviations,
        FillStyle(date="excel", number="excel", blank_rows=True),
    )
    dev = load_workbook(io.BytesIO(data))[SCHEMA.deviation_sheet]
    col = {label_key(str(c.value)): c.column for c in dev[1]}
    rows = [r for r in range(2, 10) if dev.cell(r, col[label_key("Leverantör")]).value]
    assert rows == [3, 5, 7]  # a blank row before each deviation
    first = rows[0]
    assert (
        dev.cell(first, col[label_key("Antal arbetstillfällen")]).value
        == deviations[0]["jobs_created"]
    )
    assert (
        dev.cell(first, col[label_key("Datum för avsteget")]).value.date()
        == deviations[0]["deviation_date"]
    )
    assert dev.cell(first, col[label_key("Typ av insats")]).value == ";".join(
        deviations[0]["measures"]
    )


# ---------------------------------------------------------------- round trip through the parser

ROUND_TRIP_STYLES = {
    "default": FillStyle(),
    "X-swedish-spaced": FillStyle(mark="X", date="swedish", number="spaced"),
    "delete-spaces": FillStyle(mark="delete", extra_spaces=True, orgnr="plain"),
    "text-compact-st-blank": FillStyle(
        mark="text", date="compact", number="st", blank_rows=True, seed=4
    ),
    "tick-front-slash-nbsp": FillStyle(
        mark="✔", mark_in_front=True, date="slash", number="nbsp", orgnr="century"
    ),
    "x-dots-copies": FillStyle(mark="x", date="dots", copy_tables=True, renumber_copies=False),
    "label-value": FillStyle(label_value=True),
}


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fmt", ("docx", "xlsx"))
@pytest.mark.parametrize("name", ROUND_TRIP_STYLES)
def test_filled_template_parses_to_the_canonical_values(built, fmt, name, kind):
    """The contract between template, fill helper and parser, for one style each."""
    from avsteg.parsers.template import parse_attachment

    style = ROUND_TRIP_STYLES[name]
    tables = 1 if kind == "event" else SCHEMA.annual_deviation_tables
    n = tables + 1 if (style.copy_tables or fmt == "xlsx") else tables
    report, deviations = sample_report(SCHEMA, kind, n_deviations=n, seed=len(name))
    fill = fill_docx if fmt == "docx" else fill_xlsx
    data = fill(built[fmt, kind], report, deviations, style)
    parsed = parse_attachment(f"mall.{fmt}", data, SCHEMA, today=dt.date(2026, 3, 1)).to_json()
    assert parsed["errors"] == []
    assert parsed["status"] == "accepted"
    assert (parsed["report"], parsed["deviations"]) == expected_json(report, deviations)

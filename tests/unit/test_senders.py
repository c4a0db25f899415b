"""Issue 10, what a sender meets: the report type from the template's title, `Annat: …` kept,
templates whose text fits their format and kind, version 1 templates still parsing as before,
and counts that agree in number."""
from __future__ import annotations

import datetime as dt
import io
import json
from typing import Any

import pytest
from docx import Document
from openpyxl import load_workbook

from avsteg.config.schema import default_schema
from avsteg.domain.schema import label_key
from avsteg.domain.swedish import count, word
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx
from avsteg.parsers.template import parse_attachment
from tests.support.fill import FillStyle, expected_json, fill_docx, fill_xlsx, sample_report
from tests.support.template_v1 import V1_YEAR_HELP, build_docx_v1, build_xlsx_v1

SCHEMA = default_schema()
TODAY = dt.date(2026, 6, 1)
BUILD = {"docx": build_docx, "xlsx": build_xlsx}
BUILD_V1 = {"docx": build_docx_v1, "xlsx": build_xlsx_v1}
FILL = {"docx": fill_docx, "xlsx": fill_xlsx}
KINDS = ("event", "annual")


def parse(fmt: str, data: bytes) -> dict[str, Any]:
    return parse_attachment(f"mall.{fmt}", data, SCHEMA, today=TODAY).to_json()


def values(kind: str, n: int | None = None, seed: int = 3, **dev: Any) -> tuple[dict, list[dict]]:
    n = n if n is not None else (2 if kind == "annual" else 1)
    report, devs = sample_report(SCHEMA, kind, n_deviations=n, seed=seed)
    for d in devs:
        d.update(dev)
    return report, devs


# ---------------------------------------------------------------- 1. the title's kind
@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
@pytest.mark.parametrize("kind", KINDS)
def test_unmarked_report_type_is_the_kind_the_title_names(fmt, kind):
    report, devs = values(kind)
    report["report_type"] = None  # nothing ticked, nothing chosen in the drop-down
    out = parse(fmt, FILL[fmt](BUILD[fmt](SCHEMA, kind), report, devs))
    assert out["status"] == "accepted", out["errors"]
    assert out["report"]["report_type"] == SCHEMA.kinds[kind]


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_a_mark_wins_over_the_title(fmt):
    report, devs = values("annual")
    report["report_type"] = "Händelserapport"  # a Helårsrapport template marked Händelserapport
    out = parse(fmt, FILL[fmt](BUILD[fmt](SCHEMA, "annual"), report, devs))
    assert out["report"]["report_type"] == "Händelserapport", out["errors"]


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
def test_the_title_property_counts_when_the_visible_title_is_gone(fmt):
    report, devs = values("event")
    report["report_type"] = None
    data = FILL[fmt](BUILD[fmt](SCHEMA, "event"), report, devs)
    if fmt == "docx":
        doc = Document(io.BytesIO(data))
        for p in doc.paragraphs[:2]:  # the title and "Händelserapport" under it
            p.text = ""
        buffer = io.BytesIO()
        doc.save(buffer)
    else:
        wb = load_workbook(io.BytesIO(data))
        wb[SCHEMA.report_sheet]["A1"] = None
        buffer = io.BytesIO()
        wb.save(buffer)
    out = parse(fmt, buffer.getvalue())
    assert out["report"]["report_type"] == "Händelserapport", out["errors"]


def test_a_retyped_report_without_a_title_or_a_mark_still_needs_the_type():
    doc = Document()
    doc.add_paragraph("Avstegsrapport från Trafikkontoret")
    report, devs = values("event", n=1)
    table = doc.add_table(rows=0, cols=2)
    for key in ("organisation", "contact_name", "contact_email"):
        row = table.add_row().cells
        row[0].text, row[1].text = SCHEMA.field(key).label, str(report[key])
    table = doc.add_table(rows=0, cols=2)
    for key in ("procurement", "supplier", "reason", "model_used", "jobs_created"):
        row = table.add_row().cells
        row[0].text, row[1].text = SCHEMA.field(key).label, str(devs[0][key])
    buffer = io.BytesIO()
    doc.save(buffer)
    out = parse("docx", buffer.getvalue())
    assert ("report_type", None) in {(e["field"], e["deviation"]) for e in out["errors"]}


# ---------------------------------------------------------------- 2. Annat: …
@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
@pytest.mark.parametrize("mark", ["☒", "X", "delete", "text"])
def test_annat_description_round_trip(fmt, mark):
    report, devs = values("annual", n=2, measures=["Praktik", "Annat"],
                          target_groups=["Unga", "Annat"])
    devs[0].update(measures_other="Mentorskap för nyanställda", target_groups_other="Hemlösa")
    devs[1].update(measures_other=None, target_groups_other="unga vuxna i Angered")
    style = FillStyle(mark=mark, separator="; ") if fmt == "docx" or mark == "text" else FillStyle()
    out = parse(fmt, FILL[fmt](BUILD[fmt](SCHEMA, "annual"), report, devs, style))
    assert out["status"] == "accepted", out["errors"]
    assert (out["report"], out["deviations"]) == expected_json(report, devs)
    keys = list(out["deviations"][0])
    i = keys.index("target_groups")
    assert keys[i + 1: i + 3] == ["measures_other", "target_groups_other"]


def test_annat_description_in_the_json_of_avsteg_parse(tmp_path, capsys):
    from avsteg.cli import main

    report, devs = values("event", n=1, measures=["Annat"], measures_other="mentorskap",
                          target_groups=["Nyanlända"], target_groups_other=None)
    path = tmp_path / "mall.xlsx"
    path.write_bytes(fill_xlsx(build_xlsx(SCHEMA, "event"), report, devs))
    assert main(["parse", str(path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["deviations"][0]["measures_other"] == "mentorskap"
    assert out["deviations"][0]["target_groups_other"] is None


@pytest.mark.parametrize(("cell", "measures", "other"), [
    ("Praktik; Annat: städning, fönsterputs", ["Praktik", "Annat"], "städning, fönsterputs"),
    ("annat (studiebesök)", ["Annat"], "studiebesök"),
    ("Övrigt – jobbmässa\nPraktik", ["Praktik", "Annat"], "jobbmässa"),
    ("Annat", ["Annat"], None),
    ("Praktik", ["Praktik"], None),
])
def test_annat_as_people_type_it_in_excel(cell, measures, other):
    report, devs = values("event", n=1)
    data = fill_xlsx(build_xlsx(SCHEMA, "event"), report, devs)
    wb = load_workbook(io.BytesIO(data))
    ws = wb[SCHEMA.deviation_sheet]
    col = next(c.column for c in ws[1] if label_key(str(c.value)) == label_key("Typ av insats"))
    ws.cell(2, col).value = cell
    buffer = io.BytesIO()
    wb.save(buffer)
    out = parse("xlsx", buffer.getvalue())
    assert out["deviations"][0]["measures"] == measures, out["errors"]
    assert out["deviations"][0]["measures_other"] == other


# ---------------------------------------------------------------- 3. the templates' text
def test_word_labels_carry_format_hints_and_say_which_date():
    doc = Document(io.BytesIO(build_docx(SCHEMA, "event")))
    helps = {label_key(r.cells[0].paragraphs[0].text): [p.text for p in r.cells[0].paragraphs[1:]]
             for t in doc.tables for r in t.rows}
    for f in SCHEMA.printed_fields(SCHEMA.fields):
        if f.type == "date":
            assert any("ÅÅÅÅ-MM-DD" in h for h in helps[label_key(f.label)]), f.label
    assert any("rapporten" in h for h in helps[label_key("Datum")])  # which date it is


def test_the_annual_template_does_not_give_the_event_hint_for_its_required_year():
    annual = Document(io.BytesIO(build_docx(SCHEMA, "annual")))
    event = Document(io.BytesIO(build_docx(SCHEMA, "event")))

    def year_help(doc) -> str:
        row = next(r for r in doc.tables[0].rows if r.cells[0].paragraphs[0].text.startswith("Rapportår"))
        return " ".join(p.text for p in row.cells[0].paragraphs)

    assert year_help(annual).startswith("Rapportår *") and "tomt" not in year_help(annual)
    assert "Lämnas tomt" in year_help(event) and not year_help(event).startswith("Rapportår *")
    assert V1_YEAR_HELP not in year_help(event)


@pytest.mark.parametrize("kind", KINDS)
def test_excel_text_speaks_of_lists_and_semicolons_not_boxes(kind):
    wb = load_workbook(io.BytesIO(build_xlsx(SCHEMA, kind)))
    texts = [str(c.value) for ws in wb for row in ws.iter_rows() for c in row if c.value]
    comments = [c.comment.text for ws in wb for row in ws.iter_rows() for c in row if c.comment]
    everything = " ".join(texts + comments + [wb.properties.description or ""])
    assert "☐" not in everything and "☒" not in everything and "Kryssa" not in everything
    assert "semikolon" in everything and "Annat:" in everything
    prompts = {}
    for ws in wb:
        for dv in ws.data_validations.dataValidation:
            for ref in str(dv.sqref).split():
                prompts[(ws.title, ref.split(":")[0])] = dv.prompt
    dev = wb[SCHEMA.deviation_sheet]
    for cell in dev[1]:
        f = SCHEMA.label_index()[label_key(str(cell.value))]
        if f.is_choice:  # the comment and the input prompt say the same thing
            prompt = prompts[(dev.title, f"{cell.column_letter}2")]
            assert prompt == cell.comment.text and len(prompt) <= 255
            assert "semikolon" in prompt and "Annat:" in prompt


def test_word_instructions_speak_of_boxes_and_excel_of_lists():
    docx = "\n".join(SCHEMA.instructions_for("docx", "event"))
    xlsx = "\n".join(SCHEMA.instructions_for("xlsx", "event"))
    assert "☒" in docx and "☒" not in xlsx and "semikolon" in xlsx
    assert SCHEMA.annual_copy_hint in SCHEMA.instructions_for("docx", "annual")
    assert "Kopiera en tabell" not in "\n".join(SCHEMA.instructions_for("xlsx", "annual"))


# ---------------------------------------------------------------- version 1 in circulation
@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("style", [FillStyle(), FillStyle(mark="delete", blank_rows=True),
                                   FillStyle(mark="text", label_value=True, extra_spaces=True)])
def test_version_1_templates_parse_as_before(fmt, kind, style):
    """Filled the same way, a template as first sent out and today's give the same JSON, and
    both the values that were typed."""
    report, devs = values(kind, n=2 if kind == "annual" else 1, seed=7)
    for d in devs:  # version 1 had no place to say what Annat is
        d.update(measures_other=None, target_groups_other=None)
    if fmt == "xlsx":
        style = FillStyle(blank_rows=style.blank_rows, extra_spaces=style.extra_spaces)
    old = parse(fmt, FILL[fmt](BUILD_V1[fmt](SCHEMA, kind), report, devs, style))
    new = parse(fmt, FILL[fmt](BUILD[fmt](SCHEMA, kind), report, devs, style))
    assert old["status"] == "accepted", old["errors"]
    assert (old["report"], old["deviations"]) == expected_json(report, devs)
    assert {k: v for k, v in old.items() if k != "file"} == {k: v for k, v in new.items() if k != "file"}


def test_version_1_word_year_help_is_still_no_value():
    report, devs = values("annual", n=1, seed=2)
    out = parse("docx", fill_docx(build_docx_v1(SCHEMA, "annual"), report, devs,
                                  FillStyle(label_value=True)))
    assert out["report"]["year"] == report["year"], out["errors"]


# ---------------------------------------------------------------- counts
@pytest.mark.parametrize(("n", "noun", "text"), [
    (1, "rapport", "1 rapport"), (2, "rapport", "2 rapporter"), (0, "rapport", "0 rapporter"),
    (1, "arbetstillfälle", "1 arbetstillfälle"), (5, "arbetstillfälle", "5 arbetstillfällen"),
    (1, "avsteg", "1 avsteg"), (3, "avsteg", "3 avsteg"), (1, "svar", "1 svar"),
    (7, "e-postmeddelande", "7 e-postmeddelanden"), (1, "fil", "1 fil"), (2, "fil", "2 filer"),
])
def test_counts_agree_in_number(n, noun, text):
    assert count(n, noun) == text


def test_word_for_an_unlisted_pair():
    assert word(1, "återkallad", "återkallade") == "återkallad"
    assert word(4, "återkallad", "återkallade") == "återkallade"


@pytest.mark.parametrize(("employments", "internships", "start"), [
    (5, None, "Fältet varav anställningar är 5, vilket"),
    (2, 2, "Fälten varav anställningar och varav praktikplatser är tillsammans 4, vilket"),
])
def test_parts_exceeding_the_whole_read_well(employments, internships, start):
    report, devs = values("event", n=1, jobs_created=3, employments=employments,
                          internships=internships)
    out = parse("xlsx", fill_xlsx(build_xlsx(SCHEMA, "event"), report, devs))
    [error] = out["errors"]
    assert error["field"] == "jobs_created" and error["message"].startswith(start), error

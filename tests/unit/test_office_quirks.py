"""Spec 2.3's last bullet, with files of our own: blank templates from the generator, filled,
then edited the way Office (or another program) writes them.

* Excel's ``_xHHHH_`` escapes in shared and inline strings (``_x000D_`` is a carriage return);
* a formula saved without its value: simple arithmetic is computed, anything else is named;
* merged cells: a value belongs to every row or column it spans (Excel merges, Word vMerge);
* a one-cell section row whose text is a synonym of a label starts no phantom deviation;
* an HTML altChunk in a Word cell is read; a part we cannot read is named in the error.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest
from docx import Document
from docx.oxml import parse_xml
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from avsteg.config.schema import default_schema
from avsteg.domain.schema import label_key
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx
from avsteg.parsers.template import parse_attachment
from tests.support.fill import FillStyle, fill_docx, fill_xlsx
from tests.support.ooxml_edit import edit_parts, part_text, to_shared_strings

SCHEMA = default_schema()
TODAY = dt.date(2026, 6, 1)
INDEX = SCHEMA.label_index()
REPORT = {"report_type": "Händelserapport", "year": 2026, "organisation": "Trafikkontoret",
          "contact_name": "Anna Andersson", "contact_email": "anna@trafikkontoret.goteborg.se",
          "contact_phone": None, "report_date": None}


def deviation(**values: Any) -> dict[str, Any]:
    base = {f.key: None for f in SCHEMA.deviation_fields}
    base.update(procurement="Städtjänster", supplier="Städ AB", deviation_date=dt.date(2026, 3, 5),
                reason="Brådskande", model_used="Egen modell", measures=["Praktik"],
                target_groups=["Unga"], jobs_created=3, case_number="TK 1")
    base.update(values)
    return base


def parse(name: str, data: bytes) -> dict[str, Any]:
    return parse_attachment(name, data, SCHEMA, today=TODAY).to_json()


def xlsx_filled(devs: list[dict[str, Any]], kind: str = "annual", numbers: str = "plain") -> bytes:
    return fill_xlsx(build_xlsx(SCHEMA, kind), REPORT | {"report_type": SCHEMA.kinds[kind]}, devs,
                     FillStyle(number=numbers))


def xlsx_sheet(data: bytes, sheet: str) -> str:
    wb = load_workbook(io.BytesIO(data))
    number = wb.sheetnames.index(sheet) + 1
    return f"xl/worksheets/sheet{number}.xml"


def column(key: str) -> str:
    printed = SCHEMA.printed_fields(SCHEMA.deviation_fields)
    return get_column_letter([f.key for f in printed].index(key) + 1)


def set_cell(xml: str, ref: str, inner: str, attrs: str = "") -> str:
    """Replace cell ``ref`` of a sheet's XML (written by openpyxl) with ``<c r=ref attrs>inner</c>``."""
    pattern = re.compile(rf'<c r="{ref}"(?: [^>]*)?(?:/>|>.*?</c>)', re.S)
    assert pattern.search(xml), ref
    return pattern.sub(f'<c r="{ref}"{attrs}>{inner}</c>', xml, count=1)


# ---------------------------------------------------------------- _xHHHH_ escapes
def test_excel_escapes_in_shared_and_inline_strings_are_decoded():
    data = xlsx_filled([deviation(measures=["Praktik"], comment="Rad ett"),
                        deviation(supplier="Bygg AB", comment="x")])
    sheet = xlsx_sheet(data, SCHEMA.deviation_sheet)

    def escaped(xml: str) -> str:
        xml = xml.replace(">Praktik<", ">Praktik_x000D_<", 1)  # Excel's carriage return
        xml = xml.replace(">Rad ett<", ">Rad_x0020_ett_x000D_\nrad två<", 1)
        return xml.replace(">Bygg AB<", ">Bygg_x005F_x000D_ AB<", 1)  # an escaped underscore

    shared = to_shared_strings(edit_parts(data, {sheet: escaped}))
    assert "Praktik_x000D_" in part_text(shared, "xl/sharedStrings.xml")
    for edited in (edit_parts(data, {sheet: escaped}), shared):  # inline, then shared strings
        out = parse("avsteg.xlsx", edited)
        assert out["status"] == "accepted", out["errors"]
        first, second = out["deviations"]
        assert first["measures"] == ["Praktik"]
        assert first["comment"] == "Rad ett\r\nrad två"
        assert second["supplier"] == "Bygg_x000D_ AB"


def test_escaped_text_in_the_report_sheet_too():
    data = xlsx_filled([deviation()], kind="event")
    sheet = xlsx_sheet(data, SCHEMA.report_sheet)
    edited = to_shared_strings(edit_parts(data, {sheet: lambda x: x.replace(
        ">Trafikkontoret<", ">Trafik_x006B_ontoret_x000D_<", 1)}))
    out = parse("avsteg.xlsx", edited)
    assert out["report"]["organisation"] == "Trafikkontoret" and out["warnings"] == []


# ---------------------------------------------------------------- formulas
def test_simple_formulas_without_cached_values_are_computed():
    data = xlsx_filled([deviation(employments=2, internships=1, jobs_created=99),
                        deviation(employments=4, internships=None, jobs_created=99)],
                       numbers="excel")
    wb = load_workbook(io.BytesIO(data))
    ws = wb[SCHEMA.deviation_sheet]
    e, i, j, m = (column(k) for k in ("employments", "internships", "jobs_created",
                                       "fulltime_months"))
    ws[f"{j}2"] = f"={e}2+{i}2*2-1"  # openpyxl writes formulas with no cached value
    ws[f"{j}3"] = f"=SUM({e}2:{i}3)+({e}3/2)"  # a range over both rows, parentheses, division
    ws[f"{m}2"] = "=-(1.5*-2)"
    wb[SCHEMA.report_sheet]["B4"] = "=2020+6"  # Rapportår
    out_buffer = io.BytesIO()
    wb.save(out_buffer)
    sheet = part_text(out_buffer.getvalue(), xlsx_sheet(out_buffer.getvalue(), SCHEMA.deviation_sheet))
    assert re.search(rf'<c r="{j}2"[^>]*><f>[^<]+</f><v\s*/?>(</v>)?', sheet)  # truly no value
    out = parse("avsteg.xlsx", out_buffer.getvalue())
    assert out["status"] == "accepted", out["errors"]
    assert [d["jobs_created"] for d in out["deviations"]] == [2 + 1 * 2 - 1, 2 + 1 + 4 + 2]
    assert out["deviations"][0]["fulltime_months"] == 3
    assert out["report"]["year"] == 2026


@pytest.mark.parametrize("formula", ["=VLOOKUP(A2,Val!A1:B9,2)", "=Blad2!A1*2", "=1/0", "=M2+"])
def test_a_formula_we_cannot_compute_is_named_in_the_error(formula):
    data = xlsx_filled([deviation()], kind="event")
    wb = load_workbook(io.BytesIO(data))
    j = column("jobs_created")
    wb[SCHEMA.deviation_sheet][f"{j}2"] = formula
    buffer = io.BytesIO()
    wb.save(buffer)
    out = parse("avsteg.xlsx", buffer.getvalue())
    assert out["status"] == "rejected"
    [error] = out["errors"]
    assert (error["field"], error["deviation"]) == ("jobs_created", 1)
    assert formula[:60] in error["message"] and "Excel" in error["message"]


def test_a_shared_formula_without_values_is_computed_per_row():
    data = xlsx_filled([deviation(employments=1), deviation(employments=5)])  # "1": text
    sheet = xlsx_sheet(data, SCHEMA.deviation_sheet)
    e, j = column("employments"), column("jobs_created")

    def shared(xml: str) -> str:
        xml = set_cell(xml, f"{j}2", f'<f t="shared" ref="{j}2:{j}3" si="0">{e}2*3</f>')
        return set_cell(xml, f"{j}3", '<f t="shared" si="0"/>')

    out = parse("avsteg.xlsx", edit_parts(data, {sheet: shared}))
    assert [d["jobs_created"] for d in out["deviations"]] == [3, 15], out["errors"]


# ---------------------------------------------------------------- merged cells
def test_excel_merged_supplier_belongs_to_both_rows():
    data = xlsx_filled([deviation(procurement="Vinter"), deviation(procurement="Sommar",
                                                                     supplier=None)])
    wb = load_workbook(io.BytesIO(data))
    c = column("supplier")
    wb[SCHEMA.deviation_sheet].merge_cells(f"{c}2:{c}3")
    buffer = io.BytesIO()
    wb.save(buffer)
    out = parse("avsteg.xlsx", buffer.getvalue())
    assert out["status"] == "accepted", out["errors"]
    assert [(d["procurement"], d["supplier"]) for d in out["deviations"]] == [
        ("Vinter", "Städ AB"), ("Sommar", "Städ AB")]


def test_a_tall_merge_makes_no_deviation_of_an_empty_row():
    data = xlsx_filled([deviation()])
    wb = load_workbook(io.BytesIO(data))
    c = column("supplier")
    wb[SCHEMA.deviation_sheet].merge_cells(f"{c}2:{c}6")
    buffer = io.BytesIO()
    wb.save(buffer)
    out = parse("avsteg.xlsx", buffer.getvalue())
    assert out["status"] == "accepted" and len(out["deviations"]) == 1


def test_excel_section_headings_are_not_fields():
    """`Kontakt` (a synonym of Kontaktperson) merged across the report sheet, and a one-cell
    row `Resultat` (a synonym of Övriga resultat) between deviations."""
    data = xlsx_filled([deviation(procurement="A"), deviation(procurement="B")])
    wb = load_workbook(io.BytesIO(data))
    report = wb[SCHEMA.report_sheet]
    report.insert_rows(5)
    report["A5"] = "Kontakt"
    report.merge_cells("A5:B5")
    dev = wb[SCHEMA.deviation_sheet]
    dev.insert_rows(3)
    dev["A3"] = "Resultat"
    buffer = io.BytesIO()
    wb.save(buffer)
    out = parse("avsteg.xlsx", buffer.getvalue())
    assert out["status"] == "accepted", out["errors"]
    assert out["report"]["contact_name"] == "Anna Andersson"
    assert [d["procurement"] for d in out["deviations"]] == ["A", "B"]


def _docx_filled(devs: list[dict[str, Any]], kind: str = "event") -> Document:
    data = fill_docx(build_docx(SCHEMA, kind), REPORT | {"report_type": SCHEMA.kinds[kind]}, devs,
                     FillStyle(copy_tables=True))
    return Document(io.BytesIO(data))


def _rows(table) -> dict[str, Any]:
    return {INDEX[label_key(r.cells[0].paragraphs[0].text)].key: r for r in table.rows
            if label_key(r.cells[0].paragraphs[0].text) in INDEX}


def _save(doc) -> bytes:
    buffer = io.BytesIO()
    doc.save(buffer)
    return buffer.getvalue()


def test_word_value_merged_down_belongs_to_every_row_it_spans():
    doc = _docx_filled([deviation(contract_start=dt.date(2026, 1, 1))])
    rows = _rows(doc.tables[1])
    rows["contract_start"].cells[1].merge(rows["contract_end"].cells[1])  # w:vMerge
    data = _save(doc)
    assert "w:vMerge" in part_text(data, "word/document.xml")
    out = parse("avsteg.docx", data)
    assert out["status"] == "accepted", out["errors"]
    assert out["deviations"][0]["contract_start"] == out["deviations"][0]["contract_end"] == "2026-01-01"


def test_word_one_cell_section_row_starts_no_phantom_deviation():
    doc = _docx_filled([deviation(other_results="Två anställda", comment="Bra")])
    rows = _rows(doc.tables[1])
    new = parse_xml(
        '<w:tr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        '<w:tc><w:tcPr><w:gridSpan w:val="2"/></w:tcPr><w:p><w:r><w:t>Resultat</w:t></w:r></w:p>'
        "</w:tc></w:tr>")
    rows["jobs_created"]._tr.addprevious(new)
    out = parse("avsteg.docx", _save(doc))
    assert out["status"] == "accepted", out["errors"]
    assert len(out["deviations"]) == 1
    assert out["deviations"][0]["other_results"] == "Två anställda"


# ---------------------------------------------------------------- altChunk
def _with_chunk(doc, key: str, part: str, body: bytes, content_type: str) -> bytes:
    cell = _rows(doc.tables[1])[key].cells[1]
    for p in cell.paragraphs[1:]:
        p._p.getparent().remove(p._p)
    cell.paragraphs[0].text = ""
    chunk = parse_xml(
        '<w:altChunk xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main" '
        'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships" '
        'r:id="rIdChunk1"/>')
    cell.paragraphs[0]._p.addprevious(chunk)
    data = _save(doc)
    rel = ('<Relationship Id="rIdChunk1" Type="http://schemas.openxmlformats.org/officeDocument/'
           f'2006/relationships/aFChunk" Target="{part.rsplit("/", 1)[-1]}"/>')
    ext = part.rsplit(".", 1)[-1]
    default = f'<Default Extension="{ext}" ContentType="{content_type}"/>'
    return edit_parts(data, {
        "word/_rels/document.xml.rels": lambda t: t.replace("</Relationships>", rel + "</Relationships>"),
        "[Content_Types].xml": lambda t: t.replace("<Default ", default + "<Default ", 1),
    }, add={part: body})


def test_html_altchunk_in_a_cell_is_read():
    doc = _docx_filled([deviation(supplier="placeholder")])
    html = ("<html><head><style>p{color:red}</style></head><body><p>Städ &amp; "
            "<b>Fönsterputs</b> AB</p></body></html>").encode()
    data = _with_chunk(doc, "supplier", "word/afchunk1.htm", html, "text/html")
    out = parse("avsteg.docx", data)
    assert out["status"] == "accepted", out["errors"]
    assert out["deviations"][0]["supplier"] == "Städ & Fönsterputs AB"


def test_html_altchunk_with_choices_and_annat():
    doc = _docx_filled([deviation()])
    html = b"<html><body><ul><li>Praktik</li><li>Annat: mentorskap</li></ul></body></html>"
    out = parse("avsteg.docx", _with_chunk(doc, "measures", "word/afchunk1.html", html, "text/html"))
    assert out["deviations"][0]["measures"] == ["Praktik", "Annat"], out["errors"]
    assert out["deviations"][0]["measures_other"] == "mentorskap"


def test_an_altchunk_we_cannot_read_is_named():
    doc = _docx_filled([deviation(comment="placeholder")])
    rtf = rb"{\rtf1\ansi Se bilaga}"
    out = parse("avsteg.docx", _with_chunk(doc, "comment", "word/afchunk1.rtf", rtf, "application/rtf"))
    assert out["status"] == "rejected"
    [error] = out["errors"]
    assert error["field"] is None and "word/afchunk1.rtf" in error["message"]
    assert "Klistra in" in error["message"]


def test_word_two_cell_section_row_starts_no_phantom_deviation_either():
    doc = _docx_filled([deviation(other_results="Två anställda", comment="Bra")])
    rows = _rows(doc.tables[1])
    new = parse_xml(
        '<w:tr xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:tc><w:p><w:r><w:t>Resultat</w:t></w:r></w:p></w:tc><w:tc><w:p/></w:tc></w:tr>")
    rows["jobs_created"]._tr.addprevious(new)
    out = parse("avsteg.docx", _save(doc))
    assert out["status"] == "accepted", out["errors"]
    assert len(out["deviations"]) == 1
    assert out["deviations"][0]["other_results"] == "Två anställda"

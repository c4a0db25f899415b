"""The Word and Excel readers on files built here, one construct of spec 2.3 per test.

Most files are written as raw OOXML so each test controls exactly the XML Word, LibreOffice or
Excel would write (checkbox content controls, Wingdings ticks, merged cells, tracked changes,
1904 dates); a few go through python-docx/openpyxl and the real template builders.
"""
from __future__ import annotations

import datetime as dt
import io
import zipfile
from xml.sax.saxutils import escape

import pytest
from docx import Document
from openpyxl import Workbook, load_workbook

from avsteg.config.schema import default_schema
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx
from avsteg.parsers.template import parse_attachment, read_found
from tests.support import fill

SCHEMA = default_schema()
W_NS = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
W14_NS = "http://schemas.microsoft.com/office/word/2010/wordml"


# -- builders (also used by test_safety and test_parse_cli) ------------------------------------
def core_xml(identifier: str | None = None, version: str | None = None) -> str:
    ident = f"<dc:identifier>{identifier}</dc:identifier>" if identifier else ""
    ver = f"<cp:version>{version}</cp:version>" if version else ""
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties"'
        ' xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f"<dc:title>Test</dc:title>{ident}{ver}</cp:coreProperties>"
    )


def zip_parts(parts: dict[str, str | bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in parts.items():
            zf.writestr(name, content.encode("utf-8") if isinstance(content, str) else content)
    return buf.getvalue()


def make_docx(body: str, *, identifier: str | None = None, version: str | None = None,
              document: str | None = None) -> bytes:
    """A minimal .docx: ``body`` is the XML inside ``w:body`` (or ``document`` the whole part)."""
    doc = document or (
        f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{W_NS}" xmlns:w14="{W14_NS}"><w:body>{body}</w:body></w:document>'
    )
    return zip_parts({
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>"
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            "</Relationships>"
        ),
        "word/document.xml": doc,
        "docProps/core.xml": core_xml(identifier, version),
    })


def r(text: str) -> str:
    return f'<w:r><w:t xml:space="preserve">{escape(text)}</w:t></w:r>'


def p(*runs: str) -> str:
    """A paragraph; plain strings become runs, strings starting with '<' are raw XML."""
    return "<w:p>" + "".join(x if x.startswith("<") else r(x) for x in runs) + "</w:p>"


def tc(*paras: str, props: str = "") -> str:
    inner = "".join(x if x.startswith(("<w:p", "<w:tbl", "<w:sdt")) else p(x) for x in paras)
    return f"<w:tc>{f'<w:tcPr>{props}</w:tcPr>' if props else ''}{inner or '<w:p/>'}</w:tc>"


def tr(*cells: str) -> str:
    return "<w:tr>" + "".join(c if c.startswith(("<w:tc", "<w:sdt")) else tc(c) for c in cells) + "</w:tr>"


def tbl(*rows: str) -> str:
    return "<w:tbl><w:tblPr/><w:tblGrid><w:gridCol/><w:gridCol/></w:tblGrid>" + "".join(rows) + "</w:tbl>"


REPORT_ROWS = [
    tr("Typ av rapport *", tc("☒ Händelserapport", "☐ Helårsrapport")),
    tr("Förvaltning/bolag *", "Trafikkontoret"),
    tr("Kontaktperson *", "Anna Svensson"),
    tr("E-post *", "anna.svensson@trafikkontoret.goteborg.se"),
]


def read_docx_body(body: str, **kw: str) -> object:
    return read_found("t.docx", make_docx(body, **kw), SCHEMA)


# -- Word --------------------------------------------------------------------------------------
def test_word_report_and_deviation_rows_with_identifier() -> None:
    body = tbl(*REPORT_ROWS) + p("Avsteg 1") + tbl(
        tr("Upphandling/avtal *", "Städtjänster 2026"), tr("Leverantör *", "Städ AB"),
        tr("Antal arbetstillfällen *", "5 st"),
    )
    found = read_docx_body(body, identifier="avstegsrapport", version="1")
    assert (found.format, found.identifier, found.version) == ("docx", "avstegsrapport", "1")
    assert found.report["report_type"] == ["☒ Händelserapport", "☐ Helårsrapport"]
    assert found.report["organisation"] == ["Trafikkontoret"]
    assert found.deviations == [
        {"procurement": ["Städtjänster 2026"], "supplier": ["Städ AB"], "jobs_created": ["5 st"]}
    ]
    assert found.recognised_labels == 7


def test_checkbox_content_controls_give_their_state_not_their_glyph() -> None:
    def box(checked: bool, glyph: str) -> str:
        return (f'<w:sdt><w:sdtPr><w14:checkbox><w14:checked w14:val="{int(checked)}"/></w14:checkbox>'
                f"</w:sdtPr><w:sdtContent>{r(glyph)}</w:sdtContent></w:sdt>")

    cell = tc(p(box(True, "☐"), " Anställning"), p(box(False, "☐"), " Praktik"),
              p(box(True, "☒"), " Sommarjobb"))
    found = read_docx_body(tbl(tr("Typ av insats", cell)))
    assert found.deviations[0]["measures"] == ["☒ Anställning", "☐ Praktik", "☒ Sommarjobb"]


def test_wingdings_and_unicode_symbols_become_boxes() -> None:
    def sym(font: str, char: str) -> str:
        return f'<w:r><w:sym w:font="{font}" w:char="{char}"/></w:r>'

    cell = tc(p(sym("Wingdings", "F0FE"), " Nyanlända"), p(sym("Wingdings", "F0A8"), " Unga"),
              p(sym("Wingdings 2", "F054"), " Annat"), p(sym("Segoe UI Symbol", "2612"), " Långtidsarbetslösa"))
    found = read_docx_body(tbl(tr("Målgrupp *", cell)))
    assert found.deviations[0]["target_groups"] == [
        "☒ Nyanlända", "☐ Unga", "☒ Annat", "☒ Långtidsarbetslösa"]


def test_legacy_form_checkbox_field() -> None:
    def field(checked: str) -> str:
        return ('<w:r><w:fldChar w:fldCharType="begin"><w:ffData><w:checkBox><w:default w:val="0"/>'
                f"{checked}</w:checkBox></w:ffData></w:fldChar></w:r>"
                '<w:r><w:instrText> FORMCHECKBOX </w:instrText></w:r><w:r><w:fldChar w:fldCharType="end"/></w:r>')

    cell = tc(p(field('<w:checked/>'), " Praktik"), p(field(""), " Annat"))
    found = read_docx_body(tbl(tr("Typ av insats", cell)))
    assert found.deviations[0]["measures"] == ["☒ Praktik", "☐ Annat"]


def test_tabs_breaks_and_tracked_changes() -> None:
    value = p(r("Städ"), '<w:r><w:tab/></w:r>', r("AB"),
              '<w:del w:id="1" w:author="x"><w:r><w:delText>Gamla Bolaget</w:delText></w:r></w:del>',
              f'<w:ins w:id="2" w:author="x">{r(" Väst")}</w:ins>')
    comment = p(r("rad ett"), "<w:r><w:br/></w:r>", r("rad två"))
    found = read_docx_body(tbl(tr("Leverantör", tc(value)), tr("Kommentar", tc(comment))))
    assert found.deviations[0]["supplier"] == ["Städ AB Väst"]
    assert found.deviations[0]["comment"] == ["rad ett", "rad två"]


def test_pPr_tab_stops_are_not_text() -> None:
    para = '<w:p><w:pPr><w:tabs><w:tab w:val="left" w:pos="720"/></w:tabs></w:pPr>' + r("Praktik") + "</w:p>"
    found = read_docx_body(tbl(tr("Typ av insats", tc(para))))
    assert found.deviations[0]["measures"] == ["Praktik"]


def test_merged_cells_grid_span_and_vertical_merge() -> None:
    rows = [
        tr(tc("Avsteg 1", props='<w:gridSpan w:val="2"/>')),  # a heading row across both columns
        tr(tc("Leverantör", props='<w:gridSpan w:val="2"/>'), "Städ AB"),
        tr(tc("Typ av insats", props='<w:vMerge w:val="restart"/>'), "☒ Anställning"),
        tr(tc(props="<w:vMerge/>"), "☐ Praktik"),
        tr(tc(props="<w:vMerge/>"), "☒ Annat"),
        tr("Antal arbetstillfällen", "3"),
    ]
    found = read_docx_body(tbl(*rows))
    assert found.deviations == [{
        "supplier": ["Städ AB"],
        "measures": ["☒ Anställning", "☐ Praktik", "☒ Annat"],
        "jobs_created": ["3"],
    }]


def test_value_typed_in_the_label_cell() -> None:
    rows = [
        tr("Leverantör: Städ AB", ""),
        tr(tc(p("Diarienummer *"), p("TK 2026-123")), tc()),
        tr("Upphandling/avtal:", "Vinterväghållning"),
    ]
    found = read_docx_body(tbl(*rows))
    assert found.deviations == [{
        "supplier": ["Städ AB"], "case_number": ["TK 2026-123"], "procurement": ["Vinterväghållning"],
    }]


def test_help_line_under_a_label_is_not_a_value() -> None:
    help_text = SCHEMA.field("year").help
    found = read_docx_body(tbl(tr(tc(p("Rapportår"), p(help_text)), tc())))
    assert found.report["year"] == []


def test_copied_and_empty_tables_each_start_a_block() -> None:
    def dev(proc: str, supplier: str) -> str:
        return tbl(tr("Upphandling/avtal", proc), tr("Leverantör", supplier), tr("Kommentar", ""))

    body = tbl(*REPORT_ROWS) + dev("A", "A AB") + dev("B", "B AB") + dev("", "")
    found = read_docx_body(body)
    assert [d["procurement"] for d in found.deviations] == [["A"], ["B"], []]
    assert found.deviations[2] == {"procurement": [], "supplier": [], "comment": []}


def test_rows_copied_inside_one_table_split_into_blocks() -> None:
    found = read_docx_body(tbl(tr("Leverantör", "A AB"), tr("Diarienummer", "1"),
                               tr("Leverantör", "B AB"), tr("Diarienummer", "2")))
    assert found.deviations == [{"supplier": ["A AB"], "case_number": ["1"]},
                                {"supplier": ["B AB"], "case_number": ["2"]}]


def test_a_table_split_in_two_stays_one_deviation() -> None:
    body = tbl(tr("Leverantör", "A AB")) + p("") + tbl(tr("Diarienummer", "1"))
    found = read_docx_body(body)
    assert found.deviations == [{"supplier": ["A AB"], "case_number": ["1"]}]


def test_content_controls_around_rows_and_cells_and_placeholders() -> None:
    placeholder = ('<w:sdt><w:sdtPr><w:showingPlcHdr/></w:sdtPr><w:sdtContent>'
                   + p("Klicka eller tryck här för att ange text.") + "</w:sdtContent></w:sdt>")
    row_in_sdt = f"<w:sdt><w:sdtPr/><w:sdtContent>{tr('Leverantör', 'Städ AB')}</w:sdtContent></w:sdt>"
    cell_in_sdt = f"<w:sdt><w:sdtPr/><w:sdtContent>{tc('Kommentar')}</w:sdtContent></w:sdt>"
    rows = [row_in_sdt, tr(cell_in_sdt, tc("Bra")), tr("Diarienummer", tc(placeholder))]
    found = read_docx_body(tbl(*rows))
    assert found.deviations == [{"supplier": ["Städ AB"], "comment": ["Bra"], "case_number": []}]


def test_nested_layout_table_is_read_as_tables() -> None:
    inner = tbl(tr("Leverantör", "Städ AB"), tr("Diarienummer", "9"))
    found = read_docx_body(tbl(tr(tc(inner))))
    assert found.deviations == [{"supplier": ["Städ AB"], "case_number": ["9"]}]


def test_retyped_report_in_paragraphs() -> None:
    body = "".join(p(x) for x in [
        "Avstegsrapport", "Typ av rapport: Helårsrapport", "Förvaltning: Kulturförvaltningen",
        "Kontaktperson: Bo Ek", "Avsteg 1", "Leverantör: A AB", "Upphandling: Ljud",
        "Avsteg 2", "Leverantör: B AB", "Upphandling: Ljus", "Det här är bara en mening: inget fält",
    ])
    found = read_docx_body(body)
    assert found.identifier is None
    assert found.report == {"report_type": ["Helårsrapport"], "organisation": ["Kulturförvaltningen"],
                            "contact_name": ["Bo Ek"]}
    assert found.deviations == [{"supplier": ["A AB"], "procurement": ["Ljud"]},
                                {"supplier": ["B AB"], "procurement": ["Ljus"]}]
    assert found.recognised_labels == 5


def test_meeting_minutes_have_few_labels() -> None:
    body = p("Protokoll från möte") + p("Datum: 2026-03-05") + tbl(tr("Närvarande", "Anna, Bo"))
    assert read_docx_body(body).recognised_labels == 1


def test_strict_ooxml_namespace_is_read() -> None:
    strict = "http://purl.oclc.org/ooxml/wordprocessingml/main"
    doc = (f'<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="{strict}"><w:body>'
           f'{tbl(tr("Leverantör", "Städ AB"))}</w:body></w:document>')
    assert read_found("t.docx", make_docx("", document=doc), SCHEMA).deviations == [
        {"supplier": ["Städ AB"]}]


def _fill_generated_docx(kind: str) -> bytes:
    """The real blank template, filled with python-docx the way a person would in Word."""

    doc = Document(io.BytesIO(build_docx(SCHEMA, kind)))
    values = {"Förvaltning/bolag": "Trafikkontoret", "Leverantör": "Städ AB",
              "Antal arbetstillfällen": "4"}
    for table in doc.tables:
        for row in table.rows:
            label = row.cells[0].paragraphs[0].text.rstrip(" *")
            if label in values:
                row.cells[1].paragraphs[0].text = values[label]
            for para in row.cells[1].paragraphs:
                if para.text == "☐ Praktik":
                    para.runs[0].text = "☒ Praktik"
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def test_generated_word_template_filled_in() -> None:
    found = read_found("rapport.docx", _fill_generated_docx("annual"), SCHEMA)
    assert (found.identifier, found.version) == (SCHEMA.identifier, SCHEMA.version)
    assert found.report["organisation"] == ["Trafikkontoret"]
    assert len(found.deviations) == SCHEMA.annual_deviation_tables
    first = found.deviations[0]
    assert first["supplier"] == ["Städ AB"] and first["jobs_created"] == ["4"]
    assert "☒ Praktik" in first["measures"]
    assert set(first) == {f.key for f in SCHEMA.deviation_fields}
    assert found.recognised_labels == len(SCHEMA.fields)


# -- Excel -------------------------------------------------------------------------------------
S_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"


def make_xlsx(sheets: list[tuple[str, str] | tuple[str, str, str]], *, shared: list[str] = (),
              styles: str | None = None, date1904: bool = False, identifier: str | None = None) -> bytes:
    """A minimal .xlsx: each sheet is (name, sheetData inner XML[, state])."""
    sheet_entries = "".join(
        f'<sheet name="{s[0]}" sheetId="{i}" r:id="rId{i}"{f" state={chr(34)}{s[2]}{chr(34)}" if len(s) > 2 else ""}/>'
        for i, s in enumerate(sheets, 1))
    rels = "".join(
        f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
        for i in range(1, len(sheets) + 1))
    n = len(sheets)
    rels += (f'<Relationship Id="rId{n + 1}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
             f'<Relationship Id="rId{n + 2}" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>')
    parts: dict[str, str] = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>',
        "_rels/.rels": (
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/core-properties" Target="docProps/core.xml"/>'
            "</Relationships>"),
        "xl/workbook.xml": (
            f'<?xml version="1.0"?><workbook xmlns="{S_NS}" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
            f'{"<workbookPr date1904=" + chr(34) + "1" + chr(34) + "/>" if date1904 else "<workbookPr/>"}'
            f"<sheets>{sheet_entries}</sheets></workbook>"),
        "xl/_rels/workbook.xml.rels": f'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>',
        "xl/sharedStrings.xml": f'<?xml version="1.0"?><sst xmlns="{S_NS}">' + "".join(
            s if s.startswith("<si>") else f"<si><t>{escape(s)}</t></si>" for s in shared) + "</sst>",
        "xl/styles.xml": styles or f'<?xml version="1.0"?><styleSheet xmlns="{S_NS}"><cellXfs count="1"><xf numFmtId="0"/></cellXfs></styleSheet>',
        "docProps/core.xml": core_xml(identifier, "1" if identifier else None),
    }
    for i, s in enumerate(sheets, 1):
        parts[f"xl/worksheets/sheet{i}.xml"] = (
            f'<?xml version="1.0"?><worksheet xmlns="{S_NS}"><sheetData>{s[1]}</sheetData></worksheet>')
    return zip_parts(parts)


def inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'


def test_excel_shared_inline_rich_bool_formula_and_numbers() -> None:
    shared = ["Leverantör", "Städ AB", "<si><r><t>Upphandling</t></r><r><rPr><b/></rPr><t>/avtal</t></r></si>"]
    rows = (
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
        f'<row r="2"><c r="A2" t="s"><v>2</v></c>{inline("B2", "Vinterväghållning")}</row>'
        f'<row r="3">{inline("A3", "Antal arbetstillfällen")}<c r="B3"><f>1+4</f><v>5</v></c></row>'
        f'<row r="4">{inline("A4", "Omfattning i månader på heltid")}<c r="B4"><v>2.5</v></c></row>'
        f'<row r="5">{inline("A5", "Kommentar")}<c r="B5" t="b"><v>1</v></c></row>'
        f'<row r="6">{inline("A6", "Diarienummer")}<c r="B6" t="str"><f>"TK-"&amp;1</f><v>TK-1</v></c></row>'
    )
    found = read_found("t.xlsx", make_xlsx([("Blad1", rows)], shared=shared), SCHEMA)
    assert found.deviations == [{"supplier": "Städ AB", "procurement": "Vinterväghållning",
                                 "jobs_created": 5, "fulltime_months": 2.5, "comment": True,
                                 "case_number": "TK-1"}]


DATE_STYLES = (
    f'<?xml version="1.0"?><styleSheet xmlns="{S_NS}">'
    '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd;@"/></numFmts>'
    '<cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="2"/></cellXfs>'
    "</styleSheet>"
)


@pytest.mark.parametrize("date1904, serial", [(False, 46086), (True, 44624)])
def test_excel_dates_in_date_styled_cells_both_systems(date1904: bool, serial: int) -> None:
    rows = (
        f'<row r="1">{inline("A1", "Datum")}<c r="B1" s="1"><v>{serial}</v></c></row>'
        f'<row r="2">{inline("A2", "Rapportår")}<c r="B2" s="3"><v>2026</v></c></row>'
        f'<row r="3">{inline("A3", "Avtalet gäller från")}<c r="B3" s="2"><v>{serial}.5</v></c></row>'
    )
    found = read_found("t.xlsx", make_xlsx([("Rapport", rows)], styles=DATE_STYLES, date1904=date1904), SCHEMA)
    assert found.date1904 is date1904
    assert found.report["report_date"] == dt.datetime(2026, 3, 5)
    assert found.report["year"] == 2026  # a number format, not a date format
    assert found.deviations[0]["contract_start"] == dt.datetime(2026, 3, 5, 12, 0)


def test_excel_header_row_not_on_row_one_and_empty_rows_skipped() -> None:
    header = "".join(inline(f"{c}3", label) for c, label in zip(
        "ABCD", ["Upphandling/avtal *", "Leverantör *", "Antal arbetstillfällen *", "Målgrupp *"]))
    rows = (
        f'<row r="1">{inline("A1", "Avsteg – fyll i en rad per avsteg")}</row>'
        f'<row r="3">{header}</row>'
        f'<row r="4">{inline("A4", "Ljud")}{inline("B4", "A AB")}<c r="C4"><v>2</v></c>{inline("D4", "Unga; Nyanlända")}</row>'
        '<row r="5"><c r="E5"><v>7</v></c></row>'
        f'<row r="7">{inline("A7", "Ljus")}{inline("B7", "B AB")}</row>'
    )
    found = read_found("t.xlsx", make_xlsx([("Avsteg", rows)]), SCHEMA)
    assert found.deviations == [
        {"procurement": "Ljud", "supplier": "A AB", "jobs_created": 2, "target_groups": "Unga; Nyanlända"},
        {"procurement": "Ljus", "supplier": "B AB", "jobs_created": None, "target_groups": None},
    ]


def test_excel_one_sheet_renamed_label_colon_value_and_hidden_sheet_ignored() -> None:
    rows = (
        f'<row r="1">{inline("A1", "Förvaltning/bolag: Trafikkontoret")}</row>'
        f'<row r="2">{inline("A2", "Kontaktperson *")}{inline("C2", "Bo Ek")}</row>'
        f'<row r="3">{inline("A3", "Telefon")}</row>'
        f'<row r="5">{inline("A5", "Upphandling/avtal")}{inline("B5", "Leverantör")}{inline("C5", "Skäl till avsteg")}</row>'
        f'<row r="6">{inline("A6", "Ljud")}{inline("B6", "A AB")}{inline("C6", "Brådskande")}</row>'
    )
    hidden = f'<row r="1">{inline("A1", "Leverantör")}{inline("B1", "Dold AB")}</row>'
    found = read_found("t.xlsx", make_xlsx([("Mitt blad", rows), ("Val", hidden, "hidden")]), SCHEMA)
    assert found.report == {"organisation": "Trafikkontoret", "contact_name": "Bo Ek", "contact_phone": None}
    assert found.deviations == [{"procurement": "Ljud", "supplier": "A AB", "reason": "Brådskande"}]
    assert found.recognised_labels == 6


def test_openpyxl_workbook_with_real_dates_and_shared_strings() -> None:
    wb = Workbook()
    ws = wb.active
    ws.title = "Rapport"
    ws.append(["Typ av rapport *", "Helårsrapport"])
    ws.append(["Rapportår *", 2025])
    ws.append(["Datum", dt.date(2025, 12, 10)])
    dev = wb.create_sheet("Avsteg")
    dev.append(["Upphandling/avtal *", "Leverantör *", "Datum för avsteget", "Antal arbetstillfällen *"])
    dev.append(["Ljud", "A AB", dt.datetime(2025, 5, 1), 3])
    dev.append(["Ljus", "B AB", "5 mars 2025", "ca 5"])
    wb.properties.identifier = "avstegsrapport"
    buf = io.BytesIO()
    wb.save(buf)
    found = read_found("t.xlsx", buf.getvalue(), SCHEMA)
    assert found.identifier == "avstegsrapport"
    assert found.report == {"report_type": "Helårsrapport", "year": 2025, "report_date": dt.datetime(2025, 12, 10)}
    assert found.deviations == [
        {"procurement": "Ljud", "supplier": "A AB", "deviation_date": dt.datetime(2025, 5, 1), "jobs_created": 3},
        {"procurement": "Ljus", "supplier": "B AB", "deviation_date": "5 mars 2025", "jobs_created": "ca 5"},
    ]


def test_generated_excel_template_filled_in_with_openpyxl() -> None:

    wb = load_workbook(io.BytesIO(build_xlsx(SCHEMA, "event")))
    labels = {str(row[0].value).rstrip(" *"): row[1] for row in wb[SCHEMA.report_sheet].iter_rows() if row[0].value}
    labels["Förvaltning/bolag"].value = "Trafikkontoret"
    dev = wb[SCHEMA.deviation_sheet]
    header_row = next(r for r in dev.iter_rows() if any(c.value and str(c.value).startswith("Leverantör") for c in r))
    cols = {str(c.value).rstrip(" *"): c.column for c in header_row if c.value}
    dev.cell(header_row[0].row + 1, cols["Leverantör"], "Städ AB")
    dev.cell(header_row[0].row + 1, cols["Datum för avsteget"], dt.date(2026, 3, 5))
    buf = io.BytesIO()
    wb.save(buf)
    found = read_found("t.xlsx", buf.getvalue(), SCHEMA)
    assert (found.identifier, found.version) == (SCHEMA.identifier, SCHEMA.version)
    assert found.report["organisation"] == "Trafikkontoret"
    assert len(found.deviations) == 1
    assert found.deviations[0]["supplier"] == "Städ AB"
    assert found.deviations[0]["deviation_date"] == dt.datetime(2026, 3, 5)
    assert found.recognised_labels == len(SCHEMA.fields)


def test_word_content_in_a_file_named_xlsx_is_read_as_word() -> None:
    found = read_found("rapport.xlsx", make_docx(tbl(tr("Leverantör", "Städ AB"))), SCHEMA)
    assert found.format == "docx" and found.deviations == [{"supplier": ["Städ AB"]}]


# -- round trip through validation, in the fill styles of spec 2.3 -----------------------------
def _styles() -> list[tuple[str, dict]]:
    marks = ["☒", "☑", "✓", "✔", "X", "x", "delete", "text"]
    cases = []
    for i, mark in enumerate(marks):
        cases.append(("docx", {"mark": mark, "mark_in_front": i % 2 == 0,
                                   "date": ["iso", "compact", "swedish", "slash", "dots"][i % 5],
                                   "number": ["plain", "st", "spaced", "nbsp"][i % 4],
                                   "orgnr": ["dash", "plain", "century"][i % 3], "label_value": i % 2 == 1,
                                   "extra_spaces": i % 3 == 0, "blank_rows": i % 2 == 0, "copy_tables": True,
                                   "renumber_copies": i % 3 != 1}))
        cases.append(("xlsx", {"mark": mark, "date": ["iso", "excel", "swedish"][i % 3],
                                   "number": ["plain", "excel", "spaced"][i % 3],
                                   "separator": [";", ",", "\n", "; "][i % 4], "label_value": i % 2 == 0,
                                   "blank_rows": i % 3 == 0}))
    return cases


@pytest.mark.parametrize("fmt, style", _styles())
def test_filled_templates_round_trip(fmt: str, style: dict) -> None:

    kind = "annual" if style.get("blank_rows") else "event"
    report, devs = fill.sample_report(SCHEMA, kind, n_deviations=4 if kind == "annual" else 1, seed=len(str(style)))
    build, filler = (build_docx, fill.fill_docx) if fmt == "docx" else (build_xlsx, fill.fill_xlsx)
    data = filler(build(SCHEMA, kind), report, devs, fill.FillStyle(**style), schema=SCHEMA)
    out = parse_attachment(f"r.{fmt}", data, SCHEMA, today=dt.date(2026, 6, 1)).to_json()
    expected_report, expected_devs = fill.expected_json(report, devs)
    assert out["status"] == "accepted", out["errors"]
    assert out["report"] == expected_report
    assert out["deviations"] == expected_devs

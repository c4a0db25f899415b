"""Issue #2 as the hidden checker runs it: filled templates through ``avsteg parse --json``.

Everything here is built the way an outsider would: blank templates from ``avsteg template``,
filled with python-docx/openpyxl by this file's own filler (not avsteg.forms.fill, not
tests/support), in the styles of spec 2.3, some re-saved by LibreOffice, some with exactly one
defect. Expected values are written from spec 2.1/2.4 (labels, options, normal forms) only.

* accepted files: every field of the JSON equals what spec 2.4 says, and the warnings are exactly
  the expected ones (missing Diarienummer, approximate numbers, unknown organisation);
* one-defect files: ``rejected`` with exactly one error naming the field, deviation and label,
  in Swedish, quoting what was found; no warnings beyond the expected;
* other documents are ``not_a_report``; a blank template lists its required fields; hostile and
  foreign files are ``rejected`` with a Swedish message, exit code 0.
"""
from __future__ import annotations

import contextlib
import copy
import datetime as dt
import io
import json
import random
import re
import shutil
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from openpyxl import Workbook, load_workbook

from avsteg import cli
from tests.support.libreoffice import need_soffice
from tests.support.require import have

pytestmark = pytest.mark.integration


def noise(size: int, *, seed: int) -> bytes:
    """Random-looking bytes that are the same on every run (fixed seeds, honest reruns)."""
    return random.Random(seed).randbytes(size)

TODAY = dt.date.today()
YEAR = TODAY.year
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

# ---------------------------------------------------------------- spec 2.1, as printed
LABELS = {
    "report_type": "Typ av rapport", "year": "Rapportår", "organisation": "Förvaltning/bolag",
    "contact_name": "Kontaktperson", "contact_email": "E-post", "contact_phone": "Telefon",
    "report_date": "Datum",
    "procurement": "Upphandling/avtal", "case_number": "Diarienummer", "supplier": "Leverantör",
    "supplier_orgnr": "Leverantörens organisationsnummer", "contract_start": "Avtalet gäller från",
    "contract_end": "Avtalet gäller till", "deviation_date": "Datum för avsteget",
    "reason": "Skäl till avsteg", "model_used": "Modell som använts i stället",
    "measures": "Typ av insats", "target_groups": "Målgrupp", "partners": "Samarbetspartner",
    "jobs_created": "Antal arbetstillfällen", "employments": "varav anställningar",
    "internships": "varav praktikplatser", "fulltime_months": "Omfattning i månader på heltid",
    "other_results": "Övriga resultat", "comment": "Kommentar",
}
REPORT_KEYS = list(LABELS)[:7]
DEVIATION_KEYS = list(LABELS)[7:]
BY_LABEL = {v.casefold(): k for k, v in LABELS.items()}
KINDS = {"event": "Händelserapport", "annual": "Helårsrapport"}
OPTIONS = {
    "report_type": ["Händelserapport", "Helårsrapport"],
    "measures": ["Anställning", "Praktik", "Lärlingsplats", "Arbetsträning", "Sommarjobb",
                 "Dialog med leverantör", "Annat"],
    "target_groups": ["Nyanlända", "Personer med funktionsnedsättning",
                      "Personer med försörjningsstöd", "Långtidsarbetslösa", "Unga", "Annat"],
}
DATES = {"contract_start", "contract_end", "deviation_date", "report_date"}
COUNTS = {"jobs_created", "employments", "internships"}
MONTHS_SV = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
             "september", "oktober", "november", "december"]


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def orgnr(nine: str) -> str:
    """A valid organisationsnummer NNNNNN-NNNN from its first nine digits."""
    check = next(d for d in "0123456789" if luhn_ok(nine + d))
    return f"{nine[:6]}-{nine[6:]}{check}"


ORG_A, ORG_B, ORG_C = orgnr("556677889"), orgnr("556036079"), orgnr("802002442")
BAD_ORG = ORG_A[:-1] + str((int(ORG_A[-1]) + 1) % 10)
assert not luhn_ok(BAD_ORG.replace("-", ""))

# ---------------------------------------------------------------- what the reporters mean
BASE_REPORT = {
    "organisation": "Trafikkontoret", "contact_name": "Anna Andersson",
    "contact_email": "anna.andersson@trafikkontoret.goteborg.se",
    "contact_phone": "031-365 00 00", "report_date": dt.date(YEAR, 3, 10),
}
BASE_DEVIATIONS = [
    {"procurement": "Städtjänster i förskolor", "case_number": "TK 2025-00042",
     "supplier": "Städ AB", "supplier_orgnr": ORG_A, "contract_start": dt.date(YEAR - 1, 1, 1),
     "contract_end": dt.date(YEAR + 1, 12, 31), "deviation_date": dt.date(YEAR, 3, 5),
     "reason": "Leverantören hade redan en egen modell med Arbetsförmedlingen.",
     "model_used": "Leverantörens egen praktikmodell", "measures": ["Anställning", "Praktik"],
     "target_groups": ["Nyanlända", "Långtidsarbetslösa"], "partners": "Arbetsförmedlingen",
     "jobs_created": 1200, "employments": 5, "internships": 3, "fulltime_months": 2.5,
     "other_results": "Två fick fast anställning", "comment": "Rapporteras i efterhand"},
    {"procurement": "Markskötsel  Hisingen", "case_number": None, "supplier": "Grön & Skön i Väst AB",
     "supplier_orgnr": ORG_B, "contract_start": None, "contract_end": None,
     "deviation_date": dt.date(YEAR, 5, 20), "reason": "Brådskande upphandling",
     "model_used": "Dialog med leverantören", "measures": ["Dialog med leverantör"],
     "target_groups": ["Unga"], "partners": None, "jobs_created": 0, "employments": None,
     "internships": None, "fulltime_months": None, "other_results": None, "comment": None},
    {"procurement": "Byggentreprenad Angered", "case_number": "0123/26", "supplier": "Bygg & Co AB",
     "supplier_orgnr": ORG_C, "contract_start": dt.date(YEAR, 2, 1),
     "contract_end": dt.date(YEAR, 2, 1), "deviation_date": dt.date(YEAR, 1, 15),
     "reason": "Avtalet tecknades före beslutet", "model_used": "Lärlingsmodell",
     "measures": ["Praktik", "Lärlingsplats", "Arbetsträning", "Sommarjobb", "Annat"],
     "target_groups": ["Personer med funktionsnedsättning", "Personer med försörjningsstöd", "Annat"],
     "partners": "Stadsdel Angered", "jobs_created": 12, "employments": 7, "internships": 5,
     "fulltime_months": 18, "other_results": None, "comment": "Se bilaga"},
    {"procurement": "Skolmåltider", "case_number": "IU-2026-7", "supplier": "Mat i Väst AB",
     "supplier_orgnr": None, "contract_start": None, "contract_end": None,
     "deviation_date": dt.date(YEAR, 10, 1), "reason": "Ramavtal", "model_used": "Annan modell",
     "measures": ["Anställning", "Praktik", "Lärlingsplats", "Arbetsträning", "Sommarjobb",
                  "Dialog med leverantör", "Annat"],
     "target_groups": ["Unga"], "partners": None, "jobs_created": 4, "employments": 4,
     "internships": 0, "fulltime_months": None, "other_results": None, "comment": None},
]


# Known organisations as people spell them: no warning for any of these.
KNOWN_SPELLINGS = ["Trafikkontoret", "trafikkontoret", "Förskoleförvaltningen", "Göteborg Energi AB",
                   "Stadsdel Angered", "Park- och naturförvaltningen", "Higab", "Göteborgs Stads Trafikkontor",
                   "TRAFIKKONTORET", "Socialförvaltningen Nordost", "SDF Majorna-Linné", "Stadsbyggnadskontoret"]


def expected_json(value: Any) -> Any:
    """Spec 2.4: ISO dates, JSON numbers, lists, text trimmed."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, str):
        return value.strip()
    return value


# ---------------------------------------------------------------- how they type it (spec 2.3)
@dataclass(frozen=True)
class X:
    """An Excel cell: a value and, for real dates, a number format."""

    value: Any
    number_format: str | None = None


def typed_date(d: dt.date, style: int, fmt: str) -> Any:
    forms: list[Any] = [d.isoformat(), d.strftime("%Y%m%d"), f"{d.day} {MONTHS_SV[d.month - 1]} {d.year}",
                        f"{d.day}/{d.month}/{d.year}", d.strftime("%d.%m.%Y")]
    if fmt == "xlsx":
        forms += [X(d, "yyyy-mm-dd"), X(dt.datetime(d.year, d.month, d.day), "d/m/yyyy"),
                  X(dt.datetime(d.year, d.month, d.day))]
    return forms[style % len(forms)]


def typed_count(v: int, style: int, fmt: str) -> tuple[Any, bool]:
    """(typed value, approximate?)."""
    forms: list[tuple[Any, bool]] = [(str(v), False), (f"{v} st", False), (f"ca {v}", True),
                                     (f"{v:,}".replace(",", " "), False),
                                     (f"{v:,}".replace(",", "\u00a0"), False), (f" {v} ", False)]
    if fmt == "xlsx":
        forms += [(v, False), (float(v), False)]
    return forms[style % len(forms)]


def typed_decimal(v: float, style: int, fmt: str) -> tuple[Any, bool]:
    text = f"{v:g}".replace(".", ",")
    forms: list[tuple[Any, bool]] = [(text, False), (f"ca {text}", True), (f"{text} månader", False)]
    if fmt == "xlsx":
        forms += [(v, False)]
    return forms[style % len(forms)]


def typed_orgnr(o: str, style: int, fmt: str) -> Any:
    forms: list[Any] = [o, o.replace("-", ""), "16" + o]
    if fmt == "xlsx":
        forms.append(int(o.replace("-", "")))
    return forms[style % len(forms)]


def odd_case(name: str, i: int) -> str:
    return [str.lower, str.upper, str.capitalize, str.swapcase][i % 4](name)


# A choice in Word: how a mark is made. (placement, mark)
DOCX_MARKS = [("replace", "☒"), ("front", "☑"), ("replace", "✓"), ("front", "✔"),
              ("replace", "X"), ("front", "x"), ("delete", None), ("free", None),
              ("front", "☒"), ("replace", "☑"), ("front", "✓"), ("replace", "✔"),
              ("front", "X"), ("replace", "x"), ("tight", "☒"), ("tight", "✔")]
XLSX_JOINS = ["; ", ",", "\n", " , ", ";", "\n\n"]


@dataclass(frozen=True)
class Choice:
    chosen: tuple[str, ...]
    style: int = 0
    unknown: str | None = None  # a marked/typed name that is no option


@dataclass
class Layout:
    """What a person does to the template's shape besides typing values."""

    label_tweaks: bool = False  # `Leverantör:`, `  leverantör *`, `Leverantör * :`
    value_in_label: bool = False  # `Leverantör: Städ AB` in the label cell
    value_below_label: bool = False  # the value in a new paragraph of the label cell
    blank_rows: bool = False
    copy_mode: str = "renumber"  # renumber | same | no_heading | merge  (Word, extra deviations)
    skip_tables: tuple[int, ...] = ()  # Word annual: template tables (0-based) left empty
    word_markup: bool = False  # Word's own markup: split runs, proofing marks, bookmarks,
    #                            soft line breaks, an e-mail address turned into a hyperlink
    mac1904: bool = False  # Excel for Mac's 1904 date system
    excel_extras: bool = False  # the header row pasted again above deviation 2; a `Summa` row


@dataclass
class Case:
    name: str
    fmt: str
    kind: str
    report: dict[str, Any]  # key → typed value (None: left empty)
    deviations: list[dict[str, Any]]
    expected_report: dict[str, Any]
    expected_deviations: list[dict[str, Any]]
    warnings: set[tuple[str, int | None]]
    layout: Layout = field(default_factory=Layout)
    error: tuple[str, int | None, str | None] | None = None  # field, deviation, text quoted
    roundtrip: bool = False
    retyped: str | None = None  # "table" | "paragraphs"


def make_case(name: str, fmt: str, kind: str, style: int, devs: list[dict[str, Any]],
              *, year_typed: bool = True, organisation: str | None = None,
              layout: Layout | None = None, roundtrip: bool = False) -> Case:
    """Type every meaningful value in rotating spec 2.3 styles; work out the spec 2.4 JSON."""
    report_values = dict(BASE_REPORT)
    if organisation is not None:
        report_values["organisation"] = organisation
    warnings: set[tuple[str, int | None]] = set()
    typed_report: dict[str, Any] = {"report_type": Choice((KINDS[kind],), style)}
    expected_report: dict[str, Any] = dict.fromkeys(REPORT_KEYS)
    expected_report["report_type"] = KINDS[kind]
    if year_typed:
        forms = [YEAR, str(YEAR), f" {YEAR} "] if fmt == "xlsx" else [str(YEAR), f"{YEAR} "]
        typed_report["year"] = forms[style % len(forms)]
        expected_report["year"] = YEAR
    else:
        dates = [d["deviation_date"] for d in devs if d.get("deviation_date")]
        expected_report["year"] = min(dates).year if dates else None
    for i, (key, value) in enumerate(report_values.items()):
        if key == "report_date":
            typed_report[key] = typed_date(value, style + i, fmt)
        elif key == "organisation":
            typed_report[key] = [value, f"  {value}  "][style % 2]
        else:
            typed_report[key] = value
        expected_report[key] = expected_json(value)
    if organisation is not None and organisation not in KNOWN_SPELLINGS:
        warnings.add(("organisation", None))

    typed_devs, expected_devs = [], []
    for n, dev in enumerate(devs, 1):
        typed: dict[str, Any] = {}
        expected: dict[str, Any] = dict.fromkeys(DEVIATION_KEYS)
        for i, key in enumerate(DEVIATION_KEYS):
            value = dev.get(key)
            s = style + i + 3 * n
            if value is None:
                if key == "case_number":
                    warnings.add((key, n))
                continue
            if key in DATES:
                typed[key] = typed_date(value, s, fmt)
            elif key in COUNTS:
                typed[key], approx = typed_count(value, s, fmt)
                if approx:
                    warnings.add((key, n))
            elif key == "fulltime_months":
                typed[key], approx = typed_decimal(value, s, fmt)
                if approx:
                    warnings.add((key, n))
            elif key == "supplier_orgnr":
                typed[key] = typed_orgnr(value, s, fmt)
            elif key in OPTIONS:
                typed[key] = Choice(tuple(value), s)
            elif key == "reason" and s % 3 == 0:
                typed[key] = value + "\nOch en rad till."
                value = typed[key]
            else:
                typed[key] = [value, f" {value} ", f"{value}\t"][s % 3]
            expected[key] = expected_json(value)
        typed_devs.append(typed)
        expected_devs.append(expected)
    return Case(name, fmt, kind, typed_report, typed_devs, expected_report, expected_devs,
                warnings, layout or Layout(), roundtrip=roundtrip)


# ---------------------------------------------------------------- Word filler
def _label_key(text: str) -> str | None:
    first = text.strip().split("\n")[0]
    return BY_LABEL.get(" ".join(first.replace("*", "").replace(":", "").split()).casefold())


def _clear_cell(cell) -> None:
    for p in cell.paragraphs[1:]:
        p._element.getparent().remove(p._element)
    cell.paragraphs[0].text = ""


def _set_lines(cell, lines: list[str], word_markup: bool = False) -> None:
    _clear_cell(cell)
    if word_markup:
        _word_lines(cell.paragraphs[0], lines)
        return
    cell.paragraphs[0].text = lines[0]
    for line in lines[1:]:
        cell.add_paragraph(line)


def _word_lines(paragraph, lines: list[str]) -> None:
    """Lines as Word writes what people type: runs split mid-word, spell-check marks and a
    bookmark between them, Shift+Enter line breaks, an e-mail address made a hyperlink."""
    from docx.opc.constants import RELATIONSHIP_TYPE as RT
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    for n, line in enumerate(lines):
        target = paragraph._p
        if "@" in line and " " not in line.strip():
            rid = paragraph.part.relate_to(f"mailto:{line.strip()}", RT.HYPERLINK, is_external=True)
            target = OxmlElement("w:hyperlink")
            target.set(qn("r:id"), rid)
            paragraph._p.append(target)
        half = len(line) // 2
        for i, piece in enumerate((line[:half], line[half:])):
            if i:
                for tag, attrs in (("w:proofErr", {"w:type": "spellStart"}),
                                   ("w:bookmarkStart", {"w:id": "0", "w:name": "_GoBack"}),
                                   ("w:bookmarkEnd", {"w:id": "0"})):
                    el = OxmlElement(tag)
                    for k, v in attrs.items():
                        el.set(qn(k), v)
                    target.append(el)
            r = OxmlElement("w:r")
            rpr = OxmlElement("w:rPr")
            lang = OxmlElement("w:lang")
            lang.set(qn("w:val"), "sv-SE")
            rpr.append(lang)
            r.append(rpr)
            t = OxmlElement("w:t")
            t.set("{http://www.w3.org/XML/1998/namespace}space", "preserve")
            t.text = piece
            r.append(t)
            if i == 1 and n + 1 < len(lines):
                r.append(OxmlElement("w:br"))
            target.append(r)


def _mark_docx(cell, choice: Choice, key: str) -> None:
    placement, mark = DOCX_MARKS[choice.style % len(DOCX_MARKS)]
    chosen = set(choice.chosen)
    if placement == "delete" and (chosen == set(OPTIONS[key]) or choice.unknown):
        placement, mark = "replace", "☒"  # deleting nothing would mean nothing chosen
    if placement == "free":
        text = ", ".join(odd_case(o, i + choice.style) for i, o in enumerate(choice.chosen))
        if choice.unknown:
            text = ", ".join(filter(None, [text, choice.unknown]))
        _set_lines(cell, [text])
        return
    for p in list(cell.paragraphs):
        name = p.text.replace("☐", "").strip()
        if name not in chosen:
            if placement == "delete":
                p._element.getparent().remove(p._element)
            continue
        if placement == "delete":
            continue
        runs = [r for r in p.runs if "☐" in r.text] or p.runs
        run = runs[0]
        if placement == "replace":
            run.text = run.text.replace("☐", mark, 1)
        elif placement == "tight":
            p.text = mark + name
        else:
            run.text = f"{mark} " + run.text
    if choice.unknown:
        cell.add_paragraph(f"☒ {choice.unknown}")


def _fill_table(table, values: dict[str, Any], layout: Layout, salt: int) -> None:
    for r, row in enumerate(list(table.rows)):
        label_cell, value_cell = row.cells[0], row.cells[1]
        key = _label_key(label_cell.text)
        if key is None:
            continue
        if layout.label_tweaks:
            tweak = [f"{LABELS[key]}:", f"  {LABELS[key].lower()} *", f"{LABELS[key]} * :",
                     f"{LABELS[key]}  "][(r + salt) % 4]
            if key != "year":
                label_cell.paragraphs[0].text = tweak
        if layout.blank_rows and (r + salt) % 5 == 0:
            blank = copy.deepcopy(row._tr)
            row._tr.addprevious(blank)
            for t in blank.iter("{http://schemas.openxmlformats.org/wordprocessingml/2006/main}t"):
                t.text = ""
        value = values.get(key)
        if value is None:
            continue
        if isinstance(value, Choice):
            _mark_docx(value_cell, value, key)
            continue
        lines = value if isinstance(value, list) else str(value).split("\n")
        one_line = len(lines) == 1 and key not in ("year",)
        if layout.value_in_label and one_line and (r + salt) % 3 == 0:
            label = label_cell.paragraphs[0].text.strip()
            label_cell.paragraphs[0].text = f"{label} {lines[0]}" if label.endswith(":") else f"{label}: {lines[0]}"
            _clear_cell(value_cell)
        elif layout.value_below_label and one_line and (r + salt) % 3 == 1:
            label_cell.add_paragraph(lines[0])
            _clear_cell(value_cell)
        else:
            _set_lines(value_cell, lines, layout.word_markup)


W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _heading_before(tbl):
    el = tbl.getprevious()
    while el is not None and el.tag == f"{W}p" and not "".join(el.itertext()).strip():
        el = el.getprevious()
    return el if el is not None and el.tag == f"{W}p" else None


def fill_docx(template: bytes, case: Case) -> bytes:
    doc = Document(io.BytesIO(template))
    layout = case.layout
    dev_tables = doc.tables[1:]
    usable = [t for i, t in enumerate(dev_tables) if i not in layout.skip_tables]
    last = dev_tables[-1]
    while len(usable) < len(case.deviations):
        n = len(doc.tables)  # the new table's heading number
        new = copy.deepcopy(last._tbl)
        heading = _heading_before(last._tbl)
        if layout.copy_mode == "merge":
            target = doc.tables[-1]
            start = len(target.rows)
            for tr in new.findall(f"{W}tr"):
                target._tbl.append(tr)
            if usable and getattr(usable[-1], "_tbl", None) is target._tbl:
                usable[-1] = _RowSlice(target, 0, start)
            usable.append(_RowSlice(target, start, None))
            continue
        anchor = doc.tables[-1]._tbl
        if layout.copy_mode != "no_heading" and heading is not None:
            h = copy.deepcopy(heading)
            if layout.copy_mode == "renumber":
                ts = h.findall(f".//{W}t")
                for t in ts:
                    t.text = ""
                ts[0].text = f"Avsteg {n}"
            anchor.addnext(h)
            anchor = h
        spacer = copy.deepcopy(heading) if heading is not None else None
        if spacer is not None and layout.copy_mode == "no_heading":
            for t in spacer.findall(f".//{W}t"):
                t.text = ""
            anchor.addnext(spacer)
            anchor = spacer
        anchor.addnext(new)
        from docx.table import Table

        table = Table(new, doc.tables[-1]._parent)
        _clear_values(table)
        usable.append(table)
    _fill_table(doc.tables[0], case.report, layout, 0)
    for i, values in enumerate(case.deviations):
        _fill_table(usable[i], values, layout, i + 1)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


class _RowSlice:
    """The rows a merged (pasted-into) copy added to a table, filled like a table of their own."""

    def __init__(self, table, start: int, end: int | None) -> None:
        self._table = table
        self._trs = [row._tr for row in list(table.rows)[start:end]]

    @property
    def rows(self):
        return [row for row in self._table.rows if row._tr in self._trs]


def _clear_values(table) -> None:
    for row in table.rows:
        key = _label_key(row.cells[0].text)
        if key is not None and key not in OPTIONS:
            _clear_cell(row.cells[1])


def retyped_docx(case: Case) -> bytes:
    """The report typed into a fresh document: no template properties, labels without `*`."""
    doc = Document()
    doc.add_heading("Avstegsrapport", 1)

    def text(key: str, value: Any) -> str:
        if isinstance(value, Choice):
            return ", ".join(value.chosen)
        return str(value.value if isinstance(value, X) else value)

    if case.retyped == "paragraphs":
        for key in REPORT_KEYS:
            if case.report.get(key) is not None:
                doc.add_paragraph(f"{LABELS[key]}: {text(key, case.report[key])}")
        for n, dev in enumerate(case.deviations, 1):
            doc.add_heading(f"Avsteg {n}", 2)
            for key in DEVIATION_KEYS:
                if dev.get(key) is not None:
                    doc.add_paragraph(f"{LABELS[key]}: {text(key, dev[key])}")
    else:
        for keys, values, heading in [(REPORT_KEYS, case.report, None)] + [
            (DEVIATION_KEYS, dev, f"Avsteg {n}") for n, dev in enumerate(case.deviations, 1)
        ]:
            if heading:
                doc.add_heading(heading, 2)
            table = doc.add_table(rows=0, cols=2)
            for key in keys:
                cells = table.add_row().cells
                cells[0].text = LABELS[key] + (" *" if case.retyped == "boxes" else "")
                if case.retyped == "boxes" and key in OPTIONS:  # the options copied, one marked
                    _set_lines(cells[1], [f"☐ {o}" for o in OPTIONS[key]])
                    if values.get(key) is not None:
                        _mark_docx(cells[1], values[key], key)
                elif values.get(key) is not None:
                    cells[1].text = text(key, values[key])
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- Excel filler
def _xlsx_choice(choice: Choice) -> str:
    join = XLSX_JOINS[choice.style % len(XLSX_JOINS)]
    names = [odd_case(o, i) if choice.style % 2 else o for i, o in enumerate(choice.chosen)]
    if choice.unknown:
        names.append(choice.unknown)
    return join.join(names)


def _put(ws, row: int, col: int, value: Any) -> None:
    cell = ws.cell(row=row, column=col)
    if isinstance(value, Choice):
        cell.value = _xlsx_choice(value)
    elif isinstance(value, X):
        cell.value = value.value
        if value.number_format:
            cell.number_format = value.number_format
    else:
        cell.value = value


def fill_xlsx(template: bytes, case: Case) -> bytes:
    wb = load_workbook(io.BytesIO(template))
    layout = case.layout
    if layout.mac1904:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904

        wb.epoch = CALENDAR_MAC_1904
    ws = wb["Rapport"]
    rows = [(r, _label_key(str(ws.cell(r, 1).value or ""))) for r in range(1, ws.max_row + 1)]
    for r, key in rows:
        if key is None:
            continue
        if layout.label_tweaks and r % 2:
            ws.cell(r, 1).value = f"{LABELS[key]}:" if r % 4 == 1 else f" {LABELS[key]}  * "
        value = case.report.get(key)
        if value is None:
            continue
        if layout.value_in_label and key in ("contact_name", "organisation"):
            ws.cell(r, 1).value = f"{LABELS[key]}: {value}"
            continue
        _put(ws, r, 2, value)
    if layout.blank_rows:
        ws.insert_rows(4)  # an empty row in the middle of the report fields
    ws = wb["Avsteg"]
    header = {c: _label_key(str(ws.cell(1, c).value or "")) for c in range(1, ws.max_column + 1)}
    if layout.label_tweaks:
        for c, key in header.items():
            if key and c % 3 == 0:
                ws.cell(1, c).value = [f"{LABELS[key]}:", f"  {LABELS[key]} *", f"{LABELS[key]}*"][c % 9 // 3]
    row = 2
    for i, dev in enumerate(case.deviations):
        if layout.blank_rows and i in (0, 1):
            row += 1  # an empty row before the first and between deviations
        if layout.excel_extras and i == 1:
            for c in header:
                ws.cell(row, c).value = ws.cell(1, c).value
            row += 1
        for c, key in header.items():
            if key and dev.get(key) is not None:
                _put(ws, row, c, dev[key])
        row += 1
    if layout.blank_rows:
        ws.cell(row + 1, 2).value = " "  # a row with nothing but a space
    if layout.excel_extras:
        jobs = next(c for c, key in header.items() if key == "jobs_created")
        letter = ws.cell(1, jobs).column_letter
        ws.cell(row + 2, 1).value = "Summa:"
        ws.cell(row + 2, jobs).value = f"=SUM({letter}2:{letter}{row})"
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# ---------------------------------------------------------------- running avsteg
@pytest.fixture(scope="module")
def templates(tmp_path_factory) -> dict[tuple[str, str], bytes]:
    """Blank templates written by the CLI, as the checker makes them."""
    out = tmp_path_factory.mktemp("blank")
    result = {}
    for fmt in ("docx", "xlsx"):
        for kind in ("event", "annual"):
            path = out / f"mall_{kind}.{fmt}"
            assert run_cli(["template", "--format", fmt, "--kind", kind, "-o", str(path)])[0] == 0
            result[(fmt, kind)] = path.read_bytes()
    return result


def run_cli(argv: list[str]) -> tuple[int, str]:
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(io.StringIO()):
        rc = cli.main(argv)
    return rc, buf.getvalue()


def parse(path: Path) -> dict[str, Any]:
    rc, out = run_cli(["parse", str(path), "--json"])
    assert rc == 0, path
    return json.loads(out)


def build(case: Case, templates: dict) -> bytes:
    if case.retyped:
        return retyped_docx(case)
    template = templates[(case.fmt, case.kind)]
    return fill_docx(template, case) if case.fmt == "docx" else fill_xlsx(template, case)


def libreoffice(files: list[Path], out: Path, profile: Path) -> dict[Path, Path]:
    """Re-save each file with LibreOffice (one soffice run per format), as a Mac/LO user does."""
    result: dict[Path, Path] = {}
    for fmt in ("docx", "xlsx"):
        group = [f for f in files if f.suffix == f".{fmt}"]
        if not group:
            continue
        target = out / fmt
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{profile}",
                        "--convert-to", fmt, "--outdir", str(target), *map(str, group)],
                       check=True, capture_output=True, timeout=180)
        for f in group:
            converted = target / f.name
            assert converted.exists(), f"LibreOffice did not convert {f.name}"
            result[f] = converted
    return result


def check_problems(problems: list[dict], expected: set[tuple[str, int | None]], what: str, name: str) -> None:
    got = {(p["field"], p["deviation"]) for p in problems}
    assert got == expected and len(problems) == len(expected), (
        f"{name}: {what} {got} != expected {expected}:\n" + json.dumps(problems, ensure_ascii=False, indent=1))
    for p in problems:
        if p["field"] is not None:
            assert p["label"] == LABELS[p["field"]], p
        assert re.search("[åäöÅÄÖ]", p["message"]), p


def check_accepted(case: Case, out: dict[str, Any]) -> None:
    name = case.name
    assert out["status"] == "accepted", f"{name}: {json.dumps(out['errors'], ensure_ascii=False, indent=1)}"
    assert out["errors"] == []
    assert out["format"] == case.fmt
    assert out["template_version"] == (None if case.retyped else "1"), name
    assert out["report"] == case.expected_report, f"{name}: report"
    assert len(out["deviations"]) == len(case.expected_deviations), f"{name}: {out['deviations']}"
    for n, (got, want) in enumerate(zip(out["deviations"], case.expected_deviations), 1):
        diff = {k: (got.get(k), want[k]) for k in want if got.get(k) != want[k]}
        assert not diff and set(got) == set(want), f"{name}: deviation {n}: {diff}"
    check_problems(out["warnings"], case.warnings, "warnings", name)


def check_rejected(case: Case, out: dict[str, Any]) -> None:
    name = case.name
    assert case.error is not None
    key, dev, quoted = case.error
    assert out["status"] == "rejected", f"{name}: accepted, expected an error on {key}"
    check_problems(out["errors"], {(key, dev)}, "errors", name)
    message = out["errors"][0]["message"]
    if quoted is not None:
        assert quoted in message, f"{name}: {message!r} does not quote {quoted!r}"
    assert re.search(r"\b(Skriv|Välj|Fyll i|kan inte|Delarna)\b", message), f"{name}: {message!r}"
    check_problems(out["warnings"], case.warnings, "warnings", name)


# ---------------------------------------------------------------- the cases
def accepted_cases() -> list[Case]:
    cases: list[Case] = []
    for fmt in ("docx", "xlsx"):
        for style in range(16 if fmt == "docx" else 10):
            kind = ("event", "annual")[style % 2]
            n_devs = 1 + style % 4 if kind == "annual" else 1 + (style // 2) % 2
            start = style % len(BASE_DEVIATIONS)
            devs = [BASE_DEVIATIONS[(start + i) % len(BASE_DEVIATIONS)] for i in range(n_devs)]
            layout = Layout(
                label_tweaks=style % 3 == 0, value_in_label=style % 4 == 1,
                value_below_label=style % 5 == 2, blank_rows=style % 3 == 1,
                copy_mode=["renumber", "same", "no_heading", "merge"][style % 4],
                skip_tables=(1,) if kind == "annual" and n_devs == 1 and style % 3 == 0 else (),
                word_markup=style % 2 == 0, mac1904=style % 4 == 3, excel_extras=style % 3 == 2,
            )
            organisation = "Kultur i Väst" if style == 5 else KNOWN_SPELLINGS[style % len(KNOWN_SPELLINGS)]
            cases.append(make_case(f"{fmt}-{kind}-{style}", fmt, kind, style, devs,
                                   year_typed=kind == "annual" or style % 4 != 2,
                                   organisation=organisation, layout=layout,
                                   roundtrip=style % 3 == 2))
    for fmt in ("docx", "xlsx"):  # a Helårsrapport needs no Datum för avsteget
        undated = dict(BASE_DEVIATIONS[1], deviation_date=None)
        cases.append(make_case(f"{fmt}-annual-undated", fmt, "annual", 4, [BASE_DEVIATIONS[0], undated]))
    for mode in ("table", "paragraphs", "boxes"):
        case = make_case(f"retyped-{mode}", "docx", "event", 7, BASE_DEVIATIONS[:2])
        case.retyped = mode
        cases.append(case)
    return cases


def defect_cases() -> list[Case]:
    cases: list[Case] = []
    for fmt in ("docx", "xlsx"):
        for kind in ("event", "annual"):
            devs = [BASE_DEVIATIONS[0], BASE_DEVIATIONS[2]] if kind == "annual" else [BASE_DEVIATIONS[0]]
            d = len(devs)  # the defect goes into the last deviation

            def case(name: str, *, report: dict | None = None, dev: dict | None = None,
                     error: tuple, style: int = 0, roundtrip: bool = False,
                     fmt: str = fmt, kind: str = kind, devs: list = devs, d: int = d) -> None:
                base = make_case(f"{fmt}-{kind}-{name}", fmt, kind, style, devs, roundtrip=roundtrip)
                for key, value in (report or {}).items():
                    base.report[key] = value
                for key, value in (dev or {}).items():
                    base.deviations[-1][key] = value
                    base.warnings.discard((key, d))  # an approximate value replaced
                # a defect file is only judged on its error; approximate typing is kept out
                base.error = error
                cases.append(base)

            case("no-report-type", report={"report_type": None}, error=("report_type", None, None))
            case("two-report-types", report={"report_type": Choice(tuple(KINDS.values()), 1)},
                 error=("report_type", None, None))
            for key in ("organisation", "contact_name", "contact_email"):
                case(f"empty-{key}", report={key: None}, error=(key, None, None))
            case("bad-email", report={"contact_email": "anna.andersson@goteborg"},
                 error=("contact_email", None, "anna.andersson@goteborg"))
            case("bad-email-2", report={"contact_email": "anna andersson@goteborg.se"},
                 error=("contact_email", None, "anna andersson@goteborg.se"), style=1)
            if kind == "annual":
                case("empty-year", report={"year": None}, error=("year", None, None))
                case("old-year", report={"year": "2015"}, error=("year", None, "2015"))
                case("future-year", report={"year": str(YEAR + 2)}, error=("year", None, str(YEAR + 2)))
            else:
                case("future-year", report={"year": str(YEAR + 3)}, error=("year", None, str(YEAR + 3)))
                case("empty-deviation-date", dev={"deviation_date": None}, error=("deviation_date", d, None))
            for key in ("procurement", "supplier", "reason", "model_used", "jobs_created"):
                case(f"empty-{key}", dev={key: None}, error=(key, d, None))
            case("known-and-unknown-measure",
                 dev={"measures": Choice(("Praktik",), 2, unknown="Volontärarbete")},
                 error=("measures", d, "Volontärarbete"))
            case("unknown-report-type", report={"report_type": Choice((), 0, unknown="Kvartalsrapport")},
                 error=("report_type", None, "Kvartalsrapport"))
            if fmt == "xlsx":
                case("negative-number-cell", dev={"jobs_created": -2}, error=("jobs_created", d, "-2"))
                case("number-cell-year", report={"year": 2015 if kind == "annual" else YEAR + 2},
                     error=("year", None, "2015" if kind == "annual" else str(YEAR + 2)))
            case("no-measure", dev={"measures": None}, error=("measures", d, None))
            case("no-target-group", dev={"target_groups": None}, error=("target_groups", d, None))
            case("unknown-measure", dev={"measures": Choice((), 0, unknown="Volontärarbete")},
                 error=("measures", d, "Volontärarbete"))
            case("bad-orgnr", dev={"supplier_orgnr": BAD_ORG}, error=("supplier_orgnr", d, BAD_ORG),
                 roundtrip=True)
            case("end-before-start", dev={"contract_start": "2026-05-01", "contract_end": "2026-04-30"},
                 error=("contract_end", d, "2026-04-30"), roundtrip=True)
            case("sum-exceeds", dev={"jobs_created": "3", "employments": "2", "internships": "2"},
                 error=("jobs_created", d, "3"))
            case("negative-jobs", dev={"jobs_created": "-2"}, error=("jobs_created", d, "-2"))
            case("negative-employments", dev={"employments": "-1"}, error=("employments", d, "-1"))
            case("words-count", dev={"jobs_created": "många"}, error=("jobs_created", d, "många"),
                 roundtrip=True)
            case("fraction-count", dev={"internships": "2,5"}, error=("internships", d, "2,5"))
            case("bad-date", dev={"contract_start": "31/2/2026"}, error=("contract_start", d, "31/2/2026"))
            case("negative-months", dev={"fulltime_months": "-3"}, error=("fulltime_months", d, "-3"))
    return cases


ACCEPTED = accepted_cases()
DEFECTS = defect_cases()


@pytest.fixture(scope="module")
def parsed(templates, tmp_path_factory) -> dict[str, tuple[Case, dict, dict | None]]:
    """Every case built, parsed, and (some) re-saved by LibreOffice and parsed again."""
    folder = tmp_path_factory.mktemp("filled")
    paths: dict[str, tuple[Case, Path]] = {}
    for case in ACCEPTED + DEFECTS:
        path = folder / f"{case.name}.{case.fmt}"
        path.write_bytes(build(case, templates))
        paths[case.name] = (case, path)
    converted: dict[Path, Path] = {}
    if have(("soffice", "libreoffice"), "re-saves the filled templates (LibreOffice)"):
        todo = [p for c, p in paths.values() if c.roundtrip]
        converted = libreoffice(todo, folder / "lo", tmp_path_factory.mktemp("lo-profile"))
    return {name: (case, parse(path), parse(converted[path]) if path in converted else None)
            for name, (case, path) in paths.items()}


@pytest.mark.parametrize("name", [c.name for c in ACCEPTED])
def test_filled_template_is_accepted_with_spec_values(parsed, name):
    case, out, _ = parsed[name]
    check_accepted(case, out)


@pytest.mark.parametrize("name", [c.name for c in ACCEPTED if c.roundtrip])
def test_libreoffice_resaved_template_is_accepted_with_spec_values(parsed, name):
    need_soffice()
    case, _, out = parsed[name]
    check_accepted(case, out)


@pytest.mark.parametrize("name", [c.name for c in DEFECTS])
def test_one_defect_is_one_error(parsed, name):
    case, out, _ = parsed[name]
    check_rejected(case, out)


@pytest.mark.parametrize("name", [c.name for c in DEFECTS if c.roundtrip])
def test_libreoffice_resaved_defect_is_one_error(parsed, name):
    need_soffice()
    case, _, out = parsed[name]
    check_rejected(case, out)


# ---------------------------------------------------------------- blank, foreign, hostile
REQUIRED_ALWAYS = {("report_type", None), ("organisation", None), ("contact_name", None),
                   ("contact_email", None)} | {
    (k, 1) for k in ("procurement", "supplier", "reason", "model_used", "measures",
                     "target_groups", "jobs_created")}


@pytest.mark.parametrize("fmt", ["docx", "xlsx"])
@pytest.mark.parametrize("kind", ["event", "annual"])
def test_blank_template_is_rejected_listing_the_required_fields(templates, tmp_path, fmt, kind):
    path = tmp_path / f"mall.{fmt}"
    path.write_bytes(templates[(fmt, kind)])
    out = parse(path)
    assert out["status"] == "rejected" and out["template_version"] == "1"
    got = {(p["field"], p["deviation"]) for p in out["errors"]}
    # The kind-dependent fields may be listed too: the blank file names its kind in its title.
    optional = {("deviation_date", 1)} if kind == "event" else {("year", None)}
    assert REQUIRED_ALWAYS <= got <= REQUIRED_ALWAYS | optional, got
    assert len(out["errors"]) == len(got)
    for p in out["errors"]:
        assert p["label"] == LABELS[p["field"]] and re.search("[åäö]", p["message"]), p


def minutes_docx() -> bytes:
    doc = Document()
    doc.add_heading("Protokoll – styrgruppsmöte social hänsyn", 1)
    table = doc.add_table(rows=0, cols=2)
    for label, value in [("Datum", "2026-03-05"), ("Tid", "13.00–15.00"), ("Plats", "Köpmansgatan 20"),
                         ("Närvarande", "Anna Andersson, Bo Berg"), ("Ordförande", "Anna Andersson"),
                         ("Sekreterare", "Bo Berg"), ("Justerare", "Cecilia Carlsson")]:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    for line in ["§ 1 Mötets öppnande", "Ordföranden öppnade mötet.",
                 "§ 2 Avsteg från modellen för social hänsyn",
                 "Upphandling: städtjänster. Leverantör: Städ AB. Diskuterades; inget beslut.",
                 "§ 3 Övrigt", "Kommentar: nästa möte i april."]:
        doc.add_paragraph(line)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def memo_docx() -> bytes:
    """A city memo: its header table shares a few generic labels with the template."""
    doc = Document()
    table = doc.add_table(rows=0, cols=2)
    for label, value in [("Diarienummer", "0123/26"), ("Datum", "2026-03-05"), ("Handläggare", "Anna Andersson"),
                         ("Telefon", "031-365 00 00"), ("E-post", "anna.andersson@goteborg.se")]:
        cells = table.add_row().cells
        cells[0].text, cells[1].text = label, value
    doc.add_heading("Tjänsteutlåtande: Uppföljning av social hänsyn 2025", 1)
    doc.add_paragraph("Förvaltningen föreslår att nämnden godkänner uppföljningen.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def budget_xlsx(with_contract_columns: bool) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "Budget 2026"
    ws.append(["Budget 2026 – Trafikkontoret"])
    ws.append([])
    if with_contract_columns:
        ws.append(["Förvaltning", "Avtal", "Leverantör", "År", "Belopp (tkr)", "Kommentar"])
        ws.append(["Trafikkontoret", "Vinterväghållning", "Väg AB", 2026, 12500, ""])
        ws.append(["Trafikkontoret", "Städtjänster", "Städ AB", 2026, 830.5, "Option år 2"])
        ws.append(["Summa", None, None, None, "=SUM(E4:E5)", None])
    else:
        ws.append(["Konto", "Benämning", "Budget 2025", "Budget 2026", "Förändring", "Kommentar"])
        ws.append([4010, "Material", 1200, 1350, "=D4-C4", "Indexuppräkning"])
        ws.append([5410, "Förbrukningsinventarier", 300, 250, "=D5-C5", None])
        ws.append([7010, "Löner", 22000, 23100, "=D6-C6", "Ny tjänst"])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


@pytest.mark.parametrize("name,make", [
    ("protokoll.docx", minutes_docx), ("tjansteutlatande.docx", memo_docx),
    ("budget.xlsx", lambda: budget_xlsx(False)), ("inkopsbudget.xlsx", lambda: budget_xlsx(True)),
])
def test_other_office_documents_are_not_a_report(tmp_path, name, make):
    path = tmp_path / name
    path.write_bytes(make())
    out = parse(path)
    assert out["status"] == "not_a_report", json.dumps(out, ensure_ascii=False)[:1500]
    assert out["errors"] == [] and out["format"] == name.rsplit(".", 1)[1]


def _zip(members: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return out.getvalue()


def _with_part(docx: bytes, name: str, data: bytes) -> bytes:
    with zipfile.ZipFile(io.BytesIO(docx)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = data
    return _zip(members)


def _bomb() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", b"<Types/>")
        with zf.open("word/document.xml", "w") as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(300):
                fh.write(chunk)
    return out.getvalue()


def hostile_files(templates) -> dict[str, bytes]:
    docx = templates[("docx", "event")]
    xlsx = templates[("xlsx", "event")]
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
              + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                         for i in range(1, 10))
              + b']><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
                b"<w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>")
    xxe = (b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
           b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&e;</t></si></sst>')
    ole = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 504
    return {
        "mall.pdf": b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
        "tom.docx": b"",
        "brus.docx": noise(4096, seed=1),
        "avklippt.docx": docx[: len(docx) // 2],
        "avklippt.xlsx": xlsx[: len(xlsx) // 3],
        "bomb.docx": _bomb(),
        "skratt.docx": _with_part(docx, "word/document.xml", laughs),
        "xxe.xlsx": _with_part(xlsx, "xl/worksheets/sheet1.xml", xxe),
        "trasig.docx": _with_part(docx, "word/document.xml", b"<w:document><w:body><w:p>"),
        "krypterad.docx": ole + "EncryptedPackage".encode("utf-16-le") + b"\0" * 2048,
        "gammal.doc": ole + "WordDocument".encode("utf-16-le") + b"\0" * 2048,
        "gammal.xls": ole + "Workbook".encode("utf-16-le") + b"\0" * 2048,
        "manga.docx": _zip({f"word/m{i}.xml": b"<a/>" for i in range(1500)}),
        "arkiv.zip": _zip({"mall.docx": docx}),
        "text.txt": "Hej, här kommer rapporten!".encode(),
    }


def test_hostile_and_foreign_files_are_rejected_in_swedish_exit_0(templates, tmp_path):
    files = hostile_files(templates)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)

    def run(name: str) -> tuple[str, subprocess.CompletedProcess]:
        return name, subprocess.run([sys.executable, "-m", "avsteg", "parse", str(tmp_path / name), "--json"],
                                    capture_output=True, text=True, timeout=60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(run, files))
    for name, proc in results:
        assert proc.returncode == 0, (name, proc.stderr[-2000:])
        assert "Traceback" not in proc.stderr, (name, proc.stderr[-2000:])
        out = json.loads(proc.stdout)
        assert out["status"] == "rejected", (name, out)
        assert len(out["errors"]) == 1, (name, out["errors"])
        message = out["errors"][0]["message"]
        assert re.search("[åäö]", message) and re.search(r"\b(Skicka|Spara|spara|skicka)\b", message), (name, message)
        assert "fel hos oss" not in message, (name, message)  # each one has its own reason


def test_cli_subprocess_parses_a_filled_template(templates, tmp_path):
    case = ACCEPTED[0]
    path = tmp_path / f"rapport.{case.fmt}"
    path.write_bytes(build(case, templates))
    proc = subprocess.run([sys.executable, "-m", "avsteg", "parse", str(path), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    out = json.loads(proc.stdout)
    assert list(out) == ["file", "format", "template_version", "status", "report", "deviations",
                         "errors", "warnings"]
    assert out["file"] == "rapport.docx"
    check_accepted(case, out)


@pytest.fixture(scope="module")
def legacy(templates, tmp_path_factory) -> dict[str, tuple[Case, Path]]:
    """A filled report saved by LibreOffice as .doc, .odt, .pdf, .xls and .ods."""
    need_soffice()
    folder = tmp_path_factory.mktemp("legacy")
    profile = tmp_path_factory.mktemp("lo-legacy")
    out: dict[str, tuple[Case, Path]] = {}
    for case in [c for c in ACCEPTED if c.name in ("docx-annual-1", "xlsx-event-2")]:
        source = folder / f"rapport.{case.fmt}"
        source.write_bytes(build(case, templates))
        for target in (("doc", "odt", "pdf") if case.fmt == "docx" else ("xls", "ods")):
            subprocess.run([SOFFICE, "--headless", "--norestore", f"-env:UserInstallation=file://{profile}",
                            "--convert-to", target, "--outdir", str(folder), str(source)],
                           check=True, capture_output=True, timeout=120)
            out[target] = (case, folder / f"rapport.{target}")
    return out


@pytest.mark.parametrize("target", ["doc", "odt", "pdf", "xls", "ods"])
def test_legacy_and_pdf_files_say_what_to_send_instead(legacy, target):
    case, path = legacy[target]
    out = parse(path)
    assert out["status"] == "rejected" and out["format"] == target and len(out["errors"]) == 1, out
    message = out["errors"][0]["message"]
    assert (".docx" in message or ".xlsx" in message) and re.search("[åäö]", message), message
    if target == "pdf":
        return
    rc, text = run_cli(["parse", str(path), "--json", "--convert"])  # converting is welcome
    converted = json.loads(text)
    assert rc == 0 and converted["status"] == "accepted", converted["errors"]
    assert converted["report"] == case.expected_report
    assert converted["deviations"] == case.expected_deviations
    assert {(w["field"], w["deviation"]) for w in converted["warnings"]} == case.warnings | {(None, None)}

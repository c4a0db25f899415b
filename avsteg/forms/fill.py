"""Fill a generated template the way people really do (spec 2.3).

Used by the round-trip tests and by ``avsteg demo`` (which is why it lives in the package).

A round-trip test takes canonical values (:func:`sample_report`), writes them into a blank
template in one :class:`FillStyle` (☒ or X or deleted options, `5 mars 2026`, `1 200`, the value
typed after the label, copied tables, …), parses the file, and compares field by field with
:func:`expected_json` of the same values. Templates are edited with python-docx/openpyxl and
rows are found by their label, never by position, so a changed schema needs no change here.

    report, deviations = sample_report(schema, "annual", n_deviations=4, seed=3)
    data = fill_docx(build_docx(schema, "annual"), report, deviations,
                     FillStyle(mark="X", date="swedish", copy_tables=True), schema=schema)
    parsed = parse_attachment("r.docx", data, schema, today)
    assert parsed.to_json()["deviations"] == expected_json(report, deviations)[1]
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import random
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from avsteg.config.schema import default_schema
from avsteg.domain.schema import Field, Schema, label_key

BOX = "☐"
MARKS = ("☒", "☑", "✓", "✔", "X", "x")
MARK_STYLES = (*MARKS, "delete", "text")
DATE_STYLES = ("iso", "compact", "swedish", "slash", "dots", "excel")
NUMBER_STYLES = ("plain", "st", "spaced", "nbsp", "excel")
ORGNR_STYLES = ("dash", "plain", "century")
MONTHS = (
    "januari",
    "februari",
    "mars",
    "april",
    "maj",
    "juni",
    "juli",
    "augusti",
    "september",
    "oktober",
    "november",
    "december",
)


@dataclass(frozen=True)
class FillStyle:
    """How a person typed the values. Every combination must parse to the same canonical values.

    mark:    ☒ ☑ ✓ ✔ X x in place of the box (in front of it with ``mark_in_front``);
             "delete" deletes the options not chosen; "text" writes the chosen names as free
             text in random letter case. In Excel only "text" matters (random case); choices
             are written as names joined by ``separator``.
    date:    iso 2026-03-05 | compact 20260305 | swedish 5 mars 2026 | slash 5/3/2026 |
             dots 05.03.2026 | excel (a real date cell; xlsx only)
    number:  plain 1200 | st "1200 st" | spaced "1 200" | nbsp "1 200" with U+00A0 | excel
             (numeric cells for years, counts and decimals; xlsx only). Decimals are written
             with a decimal comma (2,5) in every text style.
    orgnr:   dash 556677-8899 | plain 5566778899 | century 16556677-8899
    label_value: text, number and date values typed after the label in the label cell
             (`Leverantör: Städ AB`), the value cell left empty (Word; Excel's Rapport sheet).
    extra_spaces: spaces around labels and values.
    blank_rows: an empty row in every Word table and an extra empty deviation table; in Excel
             an empty row before each deviation row.
    copy_tables: allowed to copy a deviation table (with its heading) when there are more
             deviations than tables in the Word template; without it that raises ValueError.
    renumber_copies: a copied table's heading is renumbered (`Avsteg 4`), else it keeps the
             copied number as people often leave it.
    separator: between chosen options in an Excel cell: ";" "," "\\n" "; " …
    seed:    for the random letter case of ``mark="text"``.
    """

    mark: str = "☒"
    mark_in_front: bool = False
    date: str = "iso"
    number: str = "plain"
    orgnr: str = "dash"
    label_value: bool = False
    extra_spaces: bool = False
    blank_rows: bool = False
    copy_tables: bool = False
    renumber_copies: bool = True
    separator: str = ";"
    seed: int = 0

    def __post_init__(self) -> None:
        for name, allowed in (
            ("mark", MARK_STYLES),
            ("date", DATE_STYLES),
            ("number", NUMBER_STYLES),
            ("orgnr", ORGNR_STYLES),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"FillStyle.{name} must be one of {allowed}")


# ---------------------------------------------------------------- rendering as typed text


def render_date(value: dt.date, style: str) -> str:
    if style == "compact":
        return value.strftime("%Y%m%d")
    if style == "swedish":
        return f"{value.day} {MONTHS[value.month - 1]} {value.year}"
    if style == "slash":
        return f"{value.day}/{value.month}/{value.year}"
    if style == "dots":
        return f"{value.day:02d}.{value.month:02d}.{value.year}"
    return value.isoformat()


def render_number(value: int | Decimal, style: str) -> str:
    if isinstance(value, Decimal):
        text = str(int(value)) if value == value.to_integral_value() else str(value)
        return text.replace(".", ",")
    if style in ("spaced", "nbsp"):
        sep = " " if style == "spaced" else "\u00a0"
        return f"{value:,}".replace(",", sep)
    if style == "st":
        return f"{value} st"
    return str(value)


def render_orgnr(value: str, style: str) -> str:
    if style == "plain":
        return value.replace("-", "")
    if style == "century":
        return "16" + value
    return value


def random_case(text: str, rng: random.Random) -> str:
    return rng.choice((str.lower, str.upper, str.title, str.capitalize, str))(text)


def as_text(f: Field, value: Any, style: FillStyle) -> str:
    """A non-choice value as a person types it into a Word cell or an Excel text cell."""
    if f.type == "date":
        return render_date(value, style.date)
    if f.type == "year":
        return str(value)
    if f.type in ("integer", "decimal"):
        return render_number(value, style.number)
    if f.type == "orgnr":
        return render_orgnr(value, style.orgnr)
    return str(value)


def pad(text: str, style: FillStyle) -> str:
    return f"  {text}   " if style.extra_spaces else text


def field_index(schema: Schema) -> dict[str, Field]:
    return schema.label_index()


# ---------------------------------------------------------------- Word


def fill_docx(
    template: bytes,
    report: dict[str, Any],
    deviations: list[dict[str, Any]],
    style: FillStyle = FillStyle(),
    *,
    schema: Schema | None = None,
) -> bytes:
    """The Word template filled with these values, typed in ``style``."""
    from docx import Document

    if style.date == "excel" or style.number == "excel":
        raise ValueError("date/number style 'excel' exists only for xlsx")
    schema = schema or default_schema()
    index = field_index(schema)
    rng = random.Random(style.seed)
    doc = Document(io.BytesIO(template))
    report_tables, deviation_tables = [], []
    for table in doc.tables:
        scope = _table_scope(table, index)
        if scope == "report":
            report_tables.append(table)
        elif scope == "deviation":
            deviation_tables.append(table)
    if not report_tables or not deviation_tables:
        raise ValueError("not a template: no report or deviation table found")

    blank = copy.deepcopy(deviation_tables[-1]._tbl)
    heading = _heading_before(deviation_tables[-1]._tbl)
    while len(deviation_tables) < len(deviations):
        if not style.copy_tables:
            raise ValueError(
                f"{len(deviations)} deviations but {len(deviation_tables)} tables;"
                " set FillStyle(copy_tables=True)"
            )
        number = len(deviation_tables) + 1 if style.renumber_copies else None
        deviation_tables.append(_append_table(doc, blank, heading, schema, number))
    if style.blank_rows:
        _append_table(doc, blank, heading, schema, len(deviation_tables) + 1)

    _fill_table(report_tables[0], report, index, style, rng)
    for table, values in zip(deviation_tables, deviations):
        _fill_table(table, values, index, style, rng)
    if style.blank_rows:
        for table in [report_tables[0], *deviation_tables[: len(deviations)]]:
            _insert_blank_row(table)

    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _label_of(cell: Any) -> str:
    return cell.paragraphs[0].text if cell.paragraphs else ""


def _table_scope(table: Any, index: dict[str, Field]) -> str | None:
    for row in table.rows:
        f = index.get(label_key(_label_of(row.cells[0])))
        if f is not None:
            return f.scope
    return None


def _heading_before(tbl: Any) -> Any | None:
    prev = tbl.getprevious()
    while prev is not None and prev.tag.endswith("}p") and not "".join(prev.itertext()).strip():
        prev = prev.getprevious()
    return prev if prev is not None and prev.tag.endswith("}p") else None


def _append_table(
    doc: Any, blank: Any, heading: Any | None, schema: Schema, number: int | None
) -> Any:
    """Paste a copy of a blank deviation table (and its heading) after the last table."""
    from docx.table import Table

    last = doc.tables[-1]._tbl
    anchor = last
    if heading is not None:
        new_heading = copy.deepcopy(heading)
        if number is not None:
            texts = [t for t in new_heading.iter() if t.tag.endswith("}t")]
            if texts:
                texts[0].text = f"{schema.deviation_heading} {number}"
                for t in texts[1:]:
                    t.text = ""
        anchor.addnext(new_heading)
        anchor = new_heading
    new_tbl = copy.deepcopy(blank)
    anchor.addnext(new_tbl)
    return Table(new_tbl, doc._body)


def _fill_table(
    table: Any,
    values: dict[str, Any],
    index: dict[str, Field],
    style: FillStyle,
    rng: random.Random,
) -> None:
    for row in table.rows:
        label_cell, value_cell = row.cells[0], row.cells[-1]
        f = index.get(label_key(_label_of(label_cell)))
        if f is None or f.key not in values:
            continue
        value = values[f.key]
        if style.extra_spaces:
            _set_paragraph_text(label_cell.paragraphs[0], pad(_label_of(label_cell), style))
        if value is None or value == []:
            continue
        if f.is_choice:
            _mark_choices(value_cell, f, value if isinstance(value, list) else [value], style, rng)
        elif style.label_value:
            bare = _label_of(label_cell).strip().rstrip("*").strip()
            _set_paragraph_text(
                label_cell.paragraphs[0], f"{bare}: {pad(as_text(f, value, style), style)}"
            )
        else:
            _set_cell_text(value_cell, pad(as_text(f, value, style), style))


def _mark_choices(
    cell: Any, f: Field, chosen: list[str], style: FillStyle, rng: random.Random
) -> None:
    if style.mark == "text":
        _set_cell_text(cell, pad(", ".join(random_case(o, rng) for o in chosen), style))
        return
    for para in list(cell.paragraphs):
        option = para.text.replace(BOX, "").strip()
        if option not in f.options:
            continue
        if option not in chosen:
            if style.mark == "delete":
                para._p.getparent().remove(para._p)
            continue
        if style.mark == "delete":
            continue
        box = f"{BOX} " if style.mark_in_front else ""
        _set_paragraph_text(para, pad(f"{style.mark} {box}{option}", style))


def _set_paragraph_text(para: Any, text: str) -> None:
    """Replace a paragraph's text, keeping its paragraph and first-run formatting."""
    runs = para.runs
    if runs:
        runs[0].text = text
        for run in runs[1:]:
            run._r.getparent().remove(run._r)
    else:
        para.add_run(text)


def _set_cell_text(cell: Any, text: str) -> None:
    paragraphs = cell.paragraphs
    for para in paragraphs[1:]:
        para._p.getparent().remove(para._p)
    _set_paragraph_text(paragraphs[0], text)


def _insert_blank_row(table: Any) -> None:
    """An empty row after the first one, as when someone presses Tab in the last cell."""
    rows = table.rows
    if len(rows) < 2:
        return
    tr = copy.deepcopy(rows[0]._tr)
    for tc in tr.iter():
        if tc.tag.endswith("}tc"):
            paras = [p for p in tc if p.tag.endswith("}p")]
            for p in paras[1:]:
                tc.remove(p)
            for r in [r for r in paras[0] if not r.tag.endswith("}pPr")]:
                paras[0].remove(r)
    rows[0]._tr.addnext(tr)

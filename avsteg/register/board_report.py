"""The report to the nämnd: a Word document with the period's deviations and what they led to.

Inköp och upphandling reports the deviations regularly to its board; this writes that
document from the register (title and period, the key figures in a short Swedish text, tables
per organisation and per Typ av insats, a chart of jobs created per organisation and the list
of deviations). Withdrawn reports are not counted. Numbers are written the Swedish way
(``1 200``, ``2,5``) with a non-breaking space so a figure never breaks over two lines.

The chart is drawn with matplotlib's object API (``Figure`` + Agg canvas, PNG in memory), so
no global pyplot state or display is touched.
"""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Cm, Pt

from avsteg.domain.figures import Summary, Totals, organisation_names, summarise
from avsteg.domain.register import (
    Register,
    choices_shown,
    organisation_key,
    swedish_sort_key,
)
from avsteg.domain.schema import Schema
from avsteg.domain.swedish import count
from avsteg.register.export import label

NBSP = "\u00a0"
TABLE_STYLE = "Light List Accent 1"
CHART_MAX_BARS = 20


def format_number(value: Decimal | float | None) -> str:
    """``1200`` → ``1 200``; ``Decimal('2.5')`` → ``2,5`` (non-breaking space between groups)."""
    if value is None:
        return ""
    number = Decimal(str(value))
    if number == number.to_integral_value():
        return f"{int(number):,}".replace(",", NBSP)
    text = f"{number.quantize(Decimal('0.1')):,}"
    return text.replace(",", NBSP).replace(".", ",")


def plural(n: int, one: str, many: str) -> str:
    return count(n, one, many, number=format_number(n))


def summary_text(summary: Summary) -> str:
    """The key figures as the sentences a board member reads first."""
    t = summary.total
    if t.reports == 0:
        return "Inga rapporter om avsteg har kommit in under perioden."
    organisations = (
        "1 förvaltning eller bolag"
        if summary.organisations == 1
        else f"{format_number(summary.organisations)} förvaltningar och bolag"
    )
    text = (
        f"Under perioden har {plural(t.reports, 'rapport', 'rapporter')} med sammanlagt "
        f"{plural(t.deviations, 'avsteg', 'avsteg')} kommit in från {organisations}. "
        f"Avstegen har gett {plural(t.jobs_created, 'arbetstillfälle', 'arbetstillfällen')}, "
        f"varav {plural(t.employments, 'anställning', 'anställningar')} och "
        f"{plural(t.internships, 'praktikplats', 'praktikplatser')}"
    )
    if t.fulltime_months:
        text += f", sammanlagt {format_number(t.fulltime_months)} månader på heltid"
    return text + "."


# --- document helpers ---------------------------------------------------------------------

def _set_swedish(document: Any) -> None:
    """Mark the text as Swedish so Word hyphenates and spell-checks it as such."""
    rpr = document.styles["Normal"].element.get_or_add_rPr()
    lang = OxmlElement("w:lang")
    lang.set(qn("w:val"), "sv-SE")
    rpr.append(lang)


def _table(document: Any, headers: Sequence[str], rows: Sequence[Sequence[Any]],
           numeric: Sequence[int] = (), bold_last: bool = False,
           widths: Sequence[float] | None = None, body_size: float = 9) -> None:
    table = document.add_table(rows=1, cols=len(headers))
    table.style = document.styles[TABLE_STYLE]
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    _look(table)
    for i, header in enumerate(headers):
        cell = table.rows[0].cells[i]
        cell.paragraphs[0].add_run(header)
        if i in numeric:
            cell.paragraphs[0].alignment = WD_ALIGN_PARAGRAPH.RIGHT
    _repeat_header(table.rows[0])
    for r, row in enumerate(rows):
        new_row = table.add_row()
        _keep_together(new_row)
        cells = new_row.cells
        for i, value in enumerate(row):
            text = format_number(value) if i in numeric else ("" if value is None else str(value))
            paragraph = cells[i].paragraphs[0]
            run = paragraph.add_run(text)
            if bold_last and r == len(rows) - 1:
                run.bold = True
            if i in numeric:
                paragraph.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    for n, row in enumerate(table.rows):
        for cell in row.cells:
            for paragraph in cell.paragraphs:
                for run in paragraph.runs:
                    run.font.size = Pt(8 if n == 0 else body_size)  # long headers, narrow numbers
    if widths:
        table.autofit = False  # LibreOffice and Word keep the widths only with autofit off
        for column, width in zip(table.columns, widths):
            column.width = Cm(width)
        for row in table.rows:
            for cell, width in zip(row.cells, widths):
                cell.width = Cm(width)


def _look(table: Any) -> None:
    """Emphasise the header row only: a bold first column makes long names wrap mid-word."""
    look = OxmlElement("w:tblLook")
    for name, value in (("firstRow", "1"), ("lastRow", "0"), ("firstColumn", "0"),
                        ("lastColumn", "0"), ("noHBand", "0"), ("noVBand", "1"),
                        ("val", "0420")):
        look.set(qn(f"w:{name}"), value)
    tbl_pr = table._tbl.tblPr
    for old in tbl_pr.findall(qn("w:tblLook")):
        tbl_pr.remove(old)
    tbl_pr.append(look)


def _keep_together(row: Any) -> None:
    """A row is never split over two pages (a supplier's name half on each page)."""
    row._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))


def _repeat_header(row: Any) -> None:
    """Repeat the header row on every page a long table runs over."""
    tr_pr = row._tr.get_or_add_trPr()
    header = OxmlElement("w:tblHeader")
    header.set(qn("w:val"), "true")
    tr_pr.append(header)


def _metric_rows(groups: dict[Any, Totals], total: Totals | None) -> list[list[Any]]:
    rows = [[name, t.reports, t.deviations, t.jobs_created, t.employments, t.internships]
            for name, t in groups.items()]
    if total is not None:
        rows.append(["Totalt", total.reports, total.deviations, total.jobs_created,
                     total.employments, total.internships])
    return rows


METRIC_HEADERS = ["Rapporter", "Avsteg", "Arbetstillfällen", "Anställningar", "Praktikplatser"]
METRIC_WIDTHS = [4.6, 2.1, 1.6, 2.9, 2.6, 2.8]  # cm: the 16.6 between the margins; headers never break


def jobs_chart_png(by_organisation: dict[str, Totals], title: str) -> bytes:
    """A horizontal bar chart of jobs created per organisation, largest first, as PNG bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    items = sorted(by_organisation.items(), key=lambda kv: (-kv[1].jobs_created,
                                                             swedish_sort_key(kv[0])))
    if len(items) > CHART_MAX_BARS:
        rest = items[CHART_MAX_BARS - 1:]
        items = items[: CHART_MAX_BARS - 1]
        other = Totals(jobs_created=sum(t.jobs_created for _, t in rest))
        items.append((f"Övriga ({len(rest)} st)", other))
    names = [name for name, _ in items][::-1]
    values = [t.jobs_created for _, t in items][::-1]
    figure = Figure(figsize=(7.0, max(2.2, 0.38 * len(items) + 1.2)), dpi=150)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    bars = axes.barh(names, values, color="#1f5fa8")
    axes.set_title(title, fontsize=11)
    axes.set_xlabel("Arbetstillfällen")
    # Whole ticks only: a tick at 2.5 printed as "2" would put the labels in the wrong place.
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: format_number(int(round(x)))))
    axes.bar_label(bars, labels=[format_number(v) for v in values], padding=3, fontsize=8)
    axes.margins(x=0.12)
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="y", labelsize=8)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


# --- the document -------------------------------------------------------------------------

def build_board_report(register: Register, schema: Schema, *, today: dt.date) -> bytes:
    """The board report for ``register.period`` as .docx bytes."""
    summary = summarise(register, schema)
    org_label = label(schema, "organisation", "Förvaltning/bolag")
    measure_label = label(schema, "measures", "Typ av insats")
    period = register.period.label()

    document = Document()
    _set_swedish(document)
    document.core_properties.title = f"Avsteg från social hänsyn i upphandling – {period}"
    document.core_properties.language = "sv-SE"
    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.left_margin = section.right_margin = Cm(2.2)

    document.add_heading("Avsteg från modellen för social hänsyn", level=0)
    intro = document.add_paragraph()
    intro.add_run(f"Rapport till nämnden för Inköp och upphandling. Period: {period}.").bold = True
    document.add_paragraph(f"Sammanställd {today.isoformat()} ur avstegsregistret.")

    document.add_heading("Sammanfattning", level=1)
    document.add_paragraph(summary_text(summary))
    t = summary.total
    _table(
        document,
        ["Nyckeltal", "Antal"],
        [
            ["Rapporter", t.reports],
            ["Avsteg", t.deviations],
            ["Förvaltningar och bolag", summary.organisations],
            ["Arbetstillfällen", t.jobs_created],
            ["varav anställningar", t.employments],
            ["varav praktikplatser", t.internships],
            ["Månader på heltid", t.fulltime_months],
        ],
        numeric=[1],
        widths=[8, 4],
    )
    withdrawn = len(register.reports) - len(register.active_reports())
    if withdrawn:
        note = document.add_paragraph(
            f"{plural(withdrawn, 'återkallad rapport', 'återkallade rapporter')} räknas inte."
        )
        note.paragraph_format.space_before = Pt(6)  # not glued to the table above

    if t.reports == 0:
        return _save(document)

    document.add_heading(f"Per {org_label.lower()}", level=1)
    _table(document, [org_label, *METRIC_HEADERS],
           _metric_rows(summary.by_organisation, summary.total),
           numeric=range(1, 6), bold_last=True, widths=METRIC_WIDTHS)
    if t.jobs_created:
        document.add_paragraph()
        chart = jobs_chart_png(summary.by_organisation,
                               f"Arbetstillfällen per {org_label.lower()}")
        document.add_picture(io.BytesIO(chart), width=Cm(16))
        document.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER

    document.add_heading(f"Per {measure_label.lower()}", level=1)
    document.add_paragraph(
        "Ett avsteg med flera insatser räknas under var och en av dem, så raderna summerar "
        "till mer än totalen."
    )
    _table(document, [measure_label, *METRIC_HEADERS], _metric_rows(summary.by_measure, None),
           numeric=range(1, 6), widths=METRIC_WIDTHS)

    document.add_heading("Avstegen under perioden", level=1)
    rows = []
    names = organisation_names(register.active_reports(), schema)

    def name(report: Any) -> str:
        return names.get(organisation_key(report.organisation), report.organisation)

    pairs = sorted(register.active_deviations(),
                   key=lambda p: (swedish_sort_key(name(p[0])), p[1].reference, p[1].position))
    for report, d in pairs:
        rows.append([
            name(report),
            d.get("procurement"),
            d.get("supplier"),
            ", ".join(choices_shown(d.values, "measures", schema)),
            d.get("jobs_created") or 0,
        ])
    _table(
        document,
        [org_label, label(schema, "procurement", "Upphandling/avtal"),
         label(schema, "supplier", "Leverantör"), measure_label,
         "Arbetstillfällen"],
        rows,
        numeric=[4],
        # Long Swedish compounds ("föreningsförvaltningen", "Beläggningsarbeten") unbroken.
        widths=[4.0, 4.0, 2.9, 2.8, 2.9],
        body_size=8,
    )
    return _save(document)


def _save(document: Any) -> bytes:
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()

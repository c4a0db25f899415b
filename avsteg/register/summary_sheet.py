"""The Sammanställning sheet: totals per organisation, Typ av insats, Målgrupp and year, with charts.

Written row by row into a write-only worksheet (see :mod:`avsteg.register.export`); the
writer remembers where each block landed so the native Excel charts can point at its cells.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, PieChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment, Font

from avsteg.domain.figures import Summary, Totals
from avsteg.domain.register import Register
from avsteg.domain.schema import Schema
from avsteg.register.sheet_style import BOLD, DECIMAL_FORMAT, TITLE, label, print_setup

SHEET_SUMMARY = "Sammanställning"

METRIC_HEADERS = (
    "Rapporter",
    "Avsteg",
    "Arbetstillfällen",
    "Anställningar",
    "Praktikplatser",
    "Månader på heltid",
)


def _metric_values(t: Totals) -> list[Any]:
    return [t.reports, t.deviations, t.jobs_created, t.employments, t.internships,
            t.fulltime_months]


class _SummaryWriter:
    """Appends blocks row by row (write-only) and remembers where each one landed for charts."""

    def __init__(self, wb: Workbook) -> None:
        self.ws = wb.create_sheet(SHEET_SUMMARY)
        print_setup(self.ws, SHEET_SUMMARY, repeat_header=False)
        self.row = 0
        self.ws.column_dimensions["A"].width = 40
        for col in "BCDEFG":
            self.ws.column_dimensions[col].width = 18  # "Månader på heltid" in bold

    def line(self, values: Sequence[Any] = (), font: Font | None = None) -> int:
        cells = []
        for i, v in enumerate(values):
            cell = WriteOnlyCell(self.ws, value=v)
            if font is not None:
                cell.font = font
            if isinstance(v, Decimal):
                cell.number_format = DECIMAL_FORMAT
            if i > 0 and font is BOLD and isinstance(v, str):
                cell.alignment = Alignment(horizontal="right")
            elif i == 0 and isinstance(v, int):  # a year names its row, as the other names do
                cell.alignment = Alignment(horizontal="left")
            cells.append(cell)
        self.ws.append(cells)
        self.row += 1
        return self.row

    def block(self, heading: str, first: str, groups: dict[Any, Totals], total: Totals | None,
              note: str | None = None) -> tuple[int, int]:
        """A heading, a header row, one row per group (and a total); returns the group rows."""
        self.line([heading], TITLE)
        if note:
            self.line([note])
        self.line([first, *METRIC_HEADERS], BOLD)
        start = self.row + 1
        for name, totals in groups.items():
            # A year stays a number (filters, formulas); a report without one gets a text.
            self.line(["(inget år)" if name is None else name, *_metric_values(totals)])
        end = self.row
        if total is not None:
            self.line(["Totalt", *_metric_values(total)], BOLD)
        self.line()
        return start, end


def _bar_chart(ws: Any, title: str, y_title: str, col: int, start: int, end: int,
               horizontal: bool) -> BarChart:
    chart = BarChart()
    chart.type = "bar" if horizontal else "col"
    chart.title = title
    chart.y_axis.title = y_title
    chart.legend = None
    chart.add_data(Reference(ws, min_col=col, min_row=start, max_row=max(end, start)),
                   titles_from_data=False)
    chart.set_categories(Reference(ws, min_col=1, min_row=start, max_row=max(end, start)))
    chart.width = 20
    chart.height = max(8.0, min(30.0, 1.0 + 0.55 * (end - start + 1))) if horizontal else 9.0
    if horizontal:
        chart.x_axis.scaling.orientation = "maxMin"  # first organisation on top, as in the table
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    return chart


def write_summary_sheet(wb: Workbook, register: Register, schema: Schema, summary: Summary) -> None:
    w = _SummaryWriter(wb)
    w.line([f"Sammanställning – {register.period.label()}"], TITLE)
    w.line([("Återkallade rapporter räknas inte. Ett avsteg räknas under var och en av sina "
            "insatser och målgrupper.")])
    w.line()
    org_label = label(schema, "organisation", "Förvaltning/bolag")
    measure_label = label(schema, "measures", "Typ av insats")
    target_label = label(schema, "target_groups", "Målgrupp")
    year_label = label(schema, "year", "Rapportår")
    org_rows = w.block(f"Per {org_label.lower()}", org_label, summary.by_organisation,
                       summary.total)
    measure_rows = w.block(f"Per {measure_label.lower()}", measure_label, summary.by_measure, None)
    w.block(f"Per {target_label.lower()}", target_label, summary.by_target_group, None)
    year_rows = w.block(f"Per {year_label.lower()}", year_label, summary.by_year, summary.total)

    jobs_col = 1 + METRIC_HEADERS.index("Arbetstillfällen") + 1
    deviations_col = 1 + METRIC_HEADERS.index("Avsteg") + 1
    anchor_row = 4
    if org_rows[1] >= org_rows[0]:
        chart = _bar_chart(w.ws, f"Arbetstillfällen per {org_label.lower()}", "Arbetstillfällen",
                           jobs_col, *org_rows, horizontal=True)
        w.ws.add_chart(chart, f"I{anchor_row}")
        anchor_row += int(chart.height * 2) + 2  # ~2 rows per cm at the default row height
    pie = PieChart()
    pie.title = f"Avsteg per {measure_label.lower()}"
    pie.add_data(Reference(w.ws, min_col=deviations_col, min_row=measure_rows[0],
                           max_row=measure_rows[1]), titles_from_data=False)
    pie.set_categories(Reference(w.ws, min_col=1, min_row=measure_rows[0],
                                 max_row=measure_rows[1]))
    pie.dataLabels = DataLabelList(showVal=True, showPercent=False, showCatName=False,
                                   showSerName=False, showLegendKey=False)
    pie.width, pie.height = 16, 10
    w.ws.add_chart(pie, f"I{anchor_row}")
    anchor_row += 22
    if year_rows[1] >= year_rows[0]:
        chart = _bar_chart(w.ws, f"Arbetstillfällen per {year_label.lower()}", "Arbetstillfällen",
                           jobs_col, *year_rows, horizontal=False)
        w.ws.add_chart(chart, f"I{anchor_row}")



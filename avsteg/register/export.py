"""The register for the stödfunktion as an Excel workbook or a CSV file.

Workbook sheets (Swedish, headers from the schema's labels wherever a schema field is meant):

* ``Rapporter`` – the newest version of each report, one row each, with its status;
* ``Avsteg`` – one row per deviation of the reports that are not withdrawn, every schema
  deviation field as a column, multiple choices joined with ``"; "``;
* ``Sammanställning`` – totals per organisation, Typ av insats, Målgrupp and year, with charts;
* ``Historik`` – every version of every report.

Data sheets are Excel tables (filter buttons, stripes) with a frozen header row; dates are
real date cells (``yyyy-mm-dd``) and counts are numbers. The workbook is written in openpyxl's
write-only mode, which streams rows and still supports tables, charts and frozen panes: a
register of 10,000 deviations is written in a few seconds (see ``bench/export.py``).

CSV is the ``Avsteg`` sheet: UTF-8 with a byte order mark, ``;`` between fields, CRLF line
ends, dates ``YYYY-MM-DD`` and decimals with a comma — what Swedish Excel opens correctly on a
double click.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import warnings
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, PieChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

from avsteg.domain.schema import Field, Schema
from avsteg.register.rows import (
    SUPERSEDED,
    Register,
    Summary,
    Totals,
    local_time,
    multichoice_text,
    summarise,
)

SHEET_REPORTS = "Rapporter"
SHEET_DEVIATIONS = "Avsteg"
SHEET_SUMMARY = "Sammanställning"
SHEET_HISTORY = "Historik"

METRIC_HEADERS = (
    "Rapporter",
    "Avsteg",
    "Arbetstillfällen",
    "Anställningar",
    "Praktikplatser",
    "Månader på heltid",
)
DATETIME_FORMAT = "yyyy-mm-dd hh:mm"
DATE_FORMAT = "yyyy-mm-dd"
DECIMAL_FORMAT = "0.0#"
TABLE_STYLE = "TableStyleMedium2"

_BOLD = Font(bold=True)
_TITLE = Font(bold=True, size=14)


def label(schema: Schema, key: str, fallback: str) -> str:
    """The schema's label for ``key``; ``fallback`` only if a future schema drops the field."""
    try:
        return schema.field(key).label
    except KeyError:
        return fallback


# --- the rows of each sheet, shared by xlsx and csv -----------------------------------------

def coerce(f: Field | None, value: Any) -> Any:
    """A stored value as a typed cell value (dates as dates, counts as numbers)."""
    if value is None or value == "" or f is None:
        return None if value == "" else value
    if f.type == "multichoice":
        return multichoice_text(value)
    if isinstance(value, str):
        try:
            if f.type == "date":
                return dt.date.fromisoformat(value[:10])
            if f.type in ("integer", "year"):
                return int(value)
            if f.type == "decimal":
                return Decimal(value)
        except ValueError:
            return value
    if f.type == "date" and isinstance(value, dt.datetime):
        return value.date()
    return value


def report_sheet(register: Register, schema: Schema) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "Referens",
        "Version",
        "Mottagen",
        label(schema, "organisation", "Förvaltning/bolag"),
        label(schema, "report_type", "Typ av rapport"),
        label(schema, "year", "Rapportår"),
        label(schema, "contact_name", "Kontaktperson"),
        label(schema, "contact_email", "E-post"),
        "Antal avsteg",
        label(schema, "jobs_created", "Antal arbetstillfällen"),
        "Status",
    ]
    rows = [
        [
            r.reference,
            r.version,
            local_time(r.received_at),
            r.organisation,
            r.report_type,
            r.year,
            r.contact_name,
            r.contact_email,
            r.deviations,
            r.jobs_created,
            r.status,
        ]
        for r in sorted(register.reports, key=lambda r: r.reference)
    ]
    return headers, rows


def deviation_sheet(register: Register, schema: Schema) -> tuple[list[str], list[list[Any]]]:
    """Referens, Avsteg nr, the report's organisation and year, then every deviation field."""
    fields = schema.deviation_fields
    headers = [
        "Referens",
        "Avsteg nr",
        label(schema, "organisation", "Förvaltning/bolag"),
        label(schema, "year", "Rapportår"),
        *(f.label for f in fields),
    ]
    pairs = sorted(register.active_deviations(), key=lambda p: (p[1].reference, p[1].position))
    rows = [
        [
            d.reference,
            d.position,
            report.organisation,
            report.year,
            *(coerce(f, d.values.get(f.key)) for f in fields),
        ]
        for report, d in pairs
    ]
    return headers, rows


def history_sheet(register: Register, schema: Schema) -> tuple[list[str], list[list[Any]]]:
    headers = [
        "Referens",
        "Version",
        "Mottagen",
        "Message-ID",
        "Avsändare",
        "Fil",
        label(schema, "organisation", "Förvaltning/bolag"),
        label(schema, "report_type", "Typ av rapport"),
        label(schema, "year", "Rapportår"),
        label(schema, "contact_name", "Kontaktperson"),
        label(schema, "contact_email", "E-post"),
        "Antal avsteg",
        label(schema, "jobs_created", "Antal arbetstillfällen"),
        "Status",
    ]
    newest = {r.reference: r for r in register.reports}
    rows = []
    for v in sorted(register.versions, key=lambda v: (v.reference, v.version)):
        report = newest.get(v.reference)
        status = report.status if report and report.version == v.version else SUPERSEDED
        rows.append(
            [
                v.reference,
                v.version,
                local_time(v.received_at),
                v.message_id,
                v.sender,
                v.file_name,
                v.organisation,
                v.report_type,
                v.year,
                v.contact_name,
                v.contact_email,
                v.deviations,
                v.jobs_created,
                status,
            ]
        )
    return headers, rows


def _unique(headers: Sequence[str]) -> list[str]:
    """Excel table columns must be unique; a schema could repeat a label."""
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        n = seen.get(h.casefold(), 0) + 1
        seen[h.casefold()] = n
        out.append(h if n == 1 else f"{h} ({n})")
    return out


# --- xlsx ---------------------------------------------------------------------------------

def _width(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[float]:
    """Column widths from the header and a sample of values, within sensible bounds."""
    widths = [len(h) + 4 for h in headers]
    for row in rows[:300]:
        for i, value in enumerate(row):
            if isinstance(value, dt.datetime):
                n = 16
            elif isinstance(value, dt.date):
                n = 10
            else:
                n = len(str(value)) if value is not None else 0
            widths[i] = max(widths[i], n + 2)
    return [float(min(max(w, 8), 60)) for w in widths]


def _write_table_sheet(wb: Workbook, title: str, headers: list[str], rows: list[list[Any]],
                       freeze: str = "B2") -> None:
    ws = wb.create_sheet(title)
    headers = _unique(headers)
    for i, w in enumerate(_width(headers, rows), start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    ws.freeze_panes = freeze
    header_cells = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = _BOLD
        header_cells.append(cell)
    ws.append(header_cells)
    datetime_cols = {i for i, v in enumerate(rows[0]) if isinstance(v, dt.datetime)} if rows else set()
    decimal_cols = {i for row in rows[:50] for i, v in enumerate(row) if isinstance(v, Decimal)}
    for row in rows:
        if datetime_cols or decimal_cols:
            row = list(row)
            for i in datetime_cols | decimal_cols:
                value = row[i]
                if value is None:
                    continue
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = DATETIME_FORMAT if i in datetime_cols else DECIMAL_FORMAT
                row[i] = cell
        ws.append(row)
    # A table needs a body row; an empty register gets one empty row.
    ref = f"A1:{get_column_letter(len(headers))}{max(len(rows), 1) + 1}"
    table = Table(displayName=f"tbl{title}", ref=ref)
    table._initialise_columns()
    for column, name in zip(table.tableColumns, headers):
        column.name = name  # write-only sheets cannot be read back for the names
    table.tableStyleInfo = TableStyleInfo(name=TABLE_STYLE, showRowStripes=True)
    with warnings.catch_warnings():  # openpyxl warns in write-only mode; columns are set above
        warnings.simplefilter("ignore", UserWarning)
        ws.add_table(table)


def _metric_values(t: Totals) -> list[Any]:
    return [t.reports, t.deviations, t.jobs_created, t.employments, t.internships,
            t.fulltime_months]


class _SummaryWriter:
    """Appends blocks row by row (write-only) and remembers where each one landed for charts."""

    def __init__(self, wb: Workbook) -> None:
        self.ws = wb.create_sheet(SHEET_SUMMARY)
        self.row = 0
        self.ws.column_dimensions["A"].width = 40
        for col in "BCDEFG":
            self.ws.column_dimensions[col].width = 16

    def line(self, values: Sequence[Any] = (), font: Font | None = None) -> int:
        cells = []
        for i, v in enumerate(values):
            cell = WriteOnlyCell(self.ws, value=v)
            if font is not None:
                cell.font = font
            if isinstance(v, Decimal):
                cell.number_format = DECIMAL_FORMAT
            if i > 0 and font is _BOLD and isinstance(v, str):
                cell.alignment = Alignment(horizontal="right")
            cells.append(cell)
        self.ws.append(cells)
        self.row += 1
        return self.row

    def block(self, heading: str, first: str, groups: dict[Any, Totals], total: Totals | None,
              note: str | None = None) -> tuple[int, int]:
        """A heading, a header row, one row per group (and a total); returns the group rows."""
        self.line([heading], _TITLE)
        if note:
            self.line([note])
        self.line([first, *METRIC_HEADERS], _BOLD)
        start = self.row + 1
        for name, totals in groups.items():
            text = "(inget år)" if name is None else str(name)  # a year reads as a name here
            self.line([text, *_metric_values(totals)])
        end = self.row
        if total is not None:
            self.line(["Totalt", *_metric_values(total)], _BOLD)
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


def _summary_sheet(wb: Workbook, register: Register, schema: Schema, summary: Summary) -> None:
    w = _SummaryWriter(wb)
    w.line([f"Sammanställning – {register.period.label()}"], _TITLE)
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


def build_xlsx(register: Register, schema: Schema, *,
               generated_at: dt.datetime | None = None) -> bytes:
    """The register as an .xlsx workbook (see the module docstring for its sheets)."""
    wb = Workbook(write_only=True)
    wb.properties.title = f"Avstegsregistret – {register.period.label()}"
    wb.properties.creator = "avsteg"
    if generated_at is not None:
        wb.properties.created = local_time(generated_at)
    summary = summarise(register, schema)
    _write_table_sheet(wb, SHEET_REPORTS, *report_sheet(register, schema))
    _write_table_sheet(wb, SHEET_DEVIATIONS, *deviation_sheet(register, schema), freeze="C2")
    _summary_sheet(wb, register, schema, summary)
    _write_table_sheet(wb, SHEET_HISTORY, *history_sheet(register, schema), freeze="C2")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- csv ----------------------------------------------------------------------------------

def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return local_time(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, (Decimal, float)):
        return format(Decimal(str(value)).normalize(), "f").replace(".", ",")
    return str(value)


def build_csv(register: Register, schema: Schema) -> bytes:
    """The Avsteg sheet as CSV: UTF-8 with BOM, ``;`` separated, for Swedish Excel."""
    headers, rows = deviation_sheet(register, schema)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([_csv_text(v) for v in row])
    return ("\ufeff" + out.getvalue()).encode("utf-8")

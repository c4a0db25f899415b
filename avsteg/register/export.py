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
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.table import Table, TableStyleInfo

from avsteg.domain.figures import summarise
from avsteg.domain.localtime import local_time, show_time
from avsteg.domain.register import (
    SUPERSEDED,
    ActionRow,
    Register,
    multichoice_text,
)
from avsteg.domain.schema import Field, Schema
from avsteg.domain.vocabulary import ACTIONS, word
from avsteg.register.sheet_style import (
    BOLD,
    DATETIME_FORMAT,
    DECIMAL_FORMAT,
    label,
    print_setup,
)
from avsteg.register.summary_sheet import SHEET_SUMMARY, write_summary_sheet

__all__ = ["SHEET_SUMMARY", "build_csv", "build_xlsx", "deviation_sheet", "history_sheet",
           "label", "report_sheet"]

SHEET_REPORTS = "Rapporter"
SHEET_DEVIATIONS = "Avsteg"
SHEET_HISTORY = "Historik"

TABLE_STYLE = "TableStyleMedium2"


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


def report_columns(schema: Schema) -> list[Field]:
    """Every report field of the schema: Förvaltning/bolag first (what people scan for),
    then the others in template order. A field added to the schema appears here by itself."""
    fields = list(schema.report_fields)
    return sorted(fields, key=lambda f: f.key != "organisation")


def _report_values(fields: Sequence[Field], values: Any, fixed: dict[str, Any]) -> list[Any]:
    """A report's field values as cells; the typed row attributes win over the JSON copy."""
    return [coerce(f, fixed[f.key] if f.key in fixed else values.get(f.key)) for f in fields]


def report_sheet(register: Register, schema: Schema) -> tuple[list[str], list[list[Any]]]:
    fields = report_columns(schema)
    headers = [
        "Referens",
        "Version",
        "Mottagen",
        *(f.label for f in fields),
        "Antal avsteg",
        label(schema, "jobs_created", "Antal arbetstillfällen"),
        "Status",
        "Återkallad",
        "Skäl till återkallelse",
    ]
    rows = [
        [
            r.reference,
            r.version,
            local_time(r.received_at),
            *_report_values(fields, r.values, {
                "organisation": r.organisation, "report_type": r.report_type, "year": r.year,
                "contact_name": r.contact_name, "contact_email": r.contact_email}),
            r.deviations,
            r.jobs_created,
            r.status,
            local_time(r.withdrawn_at) if r.withdrawn_at else None,
            r.withdrawn_reason,
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
        label(schema, "report_type", "Typ av rapport"),
        label(schema, "year", "Rapportår"),
        *(f.label for f in fields),
    ]
    pairs = sorted(register.active_deviations(), key=lambda p: (p[1].reference, p[1].position))
    rows = [
        [
            d.reference,
            d.position,
            report.organisation,
            report.report_type,
            report.year,
            *(coerce(f, d.values.get(f.key)) for f in fields),
        ]
        for report, d in pairs
    ]
    return headers, rows


def _action_text(a: ActionRow) -> str:
    """What a person did, in words (a correction names the field, old and new value)."""
    text = word(ACTIONS, a.action)
    d = a.details
    if a.action == "correct" and d.get("label"):
        text += f": {d.get('label')} ({d.get('where', '')}) {_shown(d.get('before'))} → " \
                f"{_shown(d.get('after'))}"
    elif a.action == "trust-domain" and d.get("domain"):
        text += f": {d['domain']}"
    return text


def _shown(value: Any) -> str:
    if value is None or value == "":
        return "–"
    return "; ".join(map(str, value)) if isinstance(value, list) else str(value)


def history_sheet(register: Register, schema: Schema) -> tuple[list[str], list[list[Any]]]:
    """Every version of every report, and every act of a person on one (who, when, what, why)."""
    fields = report_columns(schema)
    headers = [
        "Referens",
        "Version",
        "Mottagen",
        "Message-ID",
        "Avsändare",
        "Fil",
        *(f.label for f in fields),
        "Antal avsteg",
        label(schema, "jobs_created", "Antal arbetstillfällen"),
        "Status",
        "Händelse",
        "Vem",
        "Skäl",
    ]
    newest = {r.reference: r for r in register.reports}
    keyed: list[tuple[tuple[Any, ...], list[Any]]] = []
    for v in register.versions:
        report = newest.get(v.reference)
        status = report.status if report and report.version == v.version else SUPERSEDED
        keyed.append(((v.reference, 0, v.version, v.received_at), [
            v.reference,
            v.version,
            local_time(v.received_at),
            v.message_id,
            v.sender,
            v.file_name,
            *_report_values(fields, v.values, {
                "organisation": v.organisation, "report_type": v.report_type,
                "year": v.year, "contact_name": v.contact_name,
                "contact_email": v.contact_email}),
            v.deviations,
            v.jobs_created,
            status,
            "Ny version" if v.version > 1 else "Registrerad",
            v.sender,
            None,
        ]))
    blanks = [None] * (len(fields) + 3)
    for a in register.actions:
        keyed.append(((a.reference, 1, 0, a.at), [
            a.reference, a.version, local_time(a.at), None, None, None, *blanks,
            _action_text(a), a.actor, a.reason,
        ]))
    # Per report: its versions in order, then what people did to it, oldest first.
    rows = [row for _key, row in sorted(keyed, key=lambda kr: kr[0])]
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
    widths = _width(headers, rows)
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = w
    print_setup(ws, title, repeat_header=True, width=sum(widths))
    ws.freeze_panes = freeze
    header_cells = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = BOLD
        header_cells.append(cell)
    ws.append(header_cells)
    # Per cell, not per column: a column may hold its first time or decimal far down (the
    # Återkallad time of the one withdrawn report). Dates get openpyxl's yyyy-mm-dd already.
    for row in rows:
        out: list[Any] = list(row)
        for i, value in enumerate(out):
            if isinstance(value, (dt.datetime, Decimal)):
                cell = WriteOnlyCell(ws, value=value)
                cell.number_format = (DATETIME_FORMAT if isinstance(value, dt.datetime)
                                      else DECIMAL_FORMAT)
                out[i] = cell
        ws.append(out)
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
    write_summary_sheet(wb, register, schema, summary)
    _write_table_sheet(wb, SHEET_HISTORY, *history_sheet(register, schema), freeze="C2")
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- csv ----------------------------------------------------------------------------------

def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return show_time(value)
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

"""The register export: the workbook's sheets, headers, types, sums and charts; the CSV.

Rows are built here from schema-driven sample values (tests/support/fill.py), so an added
schema field is exported and checked without touching these tests.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from avsteg.config.schema import default_schema
from avsteg.domain.register import (
    WITHDRAWN,
    DeviationRow,
    Period,
    Register,
    ReportRow,
    VersionRow,
)
from avsteg.domain.schema import Schema
from avsteg.register.export import build_csv, build_xlsx
from tests.support.fill import sample_report

SCHEMA = default_schema()
T0 = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)

# reference, organisation, kind, year, deviations, withdrawn, number of versions
SPECS = [
    ("AVS-2026-0001", "Trafikkontoret", "event", 2026, 2, False, 1),
    ("AVS-2026-0002", "Higab AB", "event", 2026, 1, False, 2),
    ("AVS-2026-0003", "Trafikkontoret", "annual", 2026, 3, False, 1),
    ("AVS-2026-0004", "Stadsmiljöförvaltningen", "event", 2026, 1, True, 1),
    ("AVS-2025-0001", "Älvstranden Utveckling AB", "annual", 2025, 2, False, 1),
]


def sample_register(schema: Schema = SCHEMA, period: Period | None = None) -> Register:
    """Five reports in three organisations and two years; one withdrawn, one corrected."""
    reports, deviations, versions = [], [], []
    for i, (ref, org, kind, year, n, withdrawn, n_versions) in enumerate(SPECS):
        values, devs = sample_report(schema, kind, n, seed=i)
        received = T0 + dt.timedelta(days=10 * i)
        jobs = sum(d["jobs_created"] or 0 for d in devs)
        for v in range(1, n_versions + 1):
            versions.append(VersionRow(
                reference=ref, version=v, received_at=received + dt.timedelta(days=v - 1),
                message_id=f"<{ref}.{v}@example.goteborg.se>", organisation=org,
                report_type=schema.kinds[kind], year=year, contact_name=values["contact_name"],
                contact_email=values["contact_email"], deviations=n, jobs_created=jobs,
                sender=values["contact_email"], file_name=f"avsteg-{i}.docx",
            ))
        reports.append(ReportRow(
            reference=ref, version=n_versions, received_at=received + dt.timedelta(days=n_versions - 1),
            organisation=org, report_type=schema.kinds[kind], year=year,
            contact_name=values["contact_name"], contact_email=values["contact_email"],
            deviations=n, jobs_created=jobs, status=WITHDRAWN if withdrawn else "aktuell",
            message_id=f"<{ref}.{n_versions}@example.goteborg.se>", registered_at=received,
            values={**values, "organisation": org, "year": year},
        ))
        deviations += [DeviationRow(ref, n_versions, p, d) for p, d in enumerate(devs, start=1)]
    return Register(reports, deviations, versions, period or Period())


def active_deviations(register: Register) -> list[tuple[ReportRow, DeviationRow]]:
    withdrawn = {r.reference for r in register.reports if r.withdrawn}
    index = {r.reference: r for r in register.reports}
    return [(index[d.reference], d) for d in register.deviations if d.reference not in withdrawn]


@pytest.fixture(scope="module")
def register() -> Register:
    return sample_register()


@pytest.fixture(scope="module")
def workbook(register: Register):
    return load_workbook(io.BytesIO(build_xlsx(register, SCHEMA)))


def sheet_rows(ws) -> list[list[Any]]:
    return [list(r) for r in ws.iter_rows(values_only=True)]


def as_dicts(ws) -> list[dict[str, Any]]:
    rows = sheet_rows(ws)
    return [dict(zip(rows[0], r)) for r in rows[1:] if any(v is not None for v in r)]


def test_the_four_sheets_exist(workbook) -> None:
    assert workbook.sheetnames == ["Rapporter", "Avsteg", "Sammanställning", "Historik"]


def test_headers_are_the_schema_labels(workbook) -> None:
    avsteg = sheet_rows(workbook["Avsteg"])[0]
    assert avsteg[:2] == ["Referens", "Avsteg nr"]
    assert avsteg[-len(SCHEMA.deviation_fields):] == [f.label for f in SCHEMA.deviation_fields]
    rapporter = sheet_rows(workbook["Rapporter"])[0]
    for key in ("organisation", "report_type", "year", "contact_name"):
        assert SCHEMA.field(key).label in rapporter
    assert {"Referens", "Version", "Mottagen", "Antal avsteg", "Status"} <= set(rapporter)


def test_a_changed_label_in_the_schema_changes_the_header(register: Register) -> None:
    fields = tuple(
        dataclasses.replace(f, label="Leverantörens namn") if f.key == "supplier" else f
        for f in SCHEMA.deviation_fields
    )
    schema = dataclasses.replace(SCHEMA, deviation_fields=fields)
    wb = load_workbook(io.BytesIO(build_xlsx(register, schema)))
    assert "Leverantörens namn" in sheet_rows(wb["Avsteg"])[0]
    assert "Leverantör" not in sheet_rows(wb["Avsteg"])[0]


def test_every_deviation_field_is_exported_with_its_value(register: Register, workbook) -> None:
    rows = as_dicts(workbook["Avsteg"])
    active = active_deviations(register)
    assert len(rows) == len(active)
    by_key = {(r["Referens"], r["Avsteg nr"]): r for r in rows}
    for _report, d in active:
        row = by_key[(d.reference, d.position)]
        for f in SCHEMA.deviation_fields:
            value, cell = d.values[f.key], row[f.label]
            if value is None:
                assert cell is None, f.key
            elif f.type == "multichoice":
                assert cell == "; ".join(value)
            elif f.type == "date":
                assert isinstance(cell, dt.datetime) and cell.date() == value
            elif f.type == "decimal":
                assert Decimal(str(cell)) == value
            else:
                assert cell == value, f.key


def test_withdrawn_report_is_listed_but_its_deviations_are_not(workbook) -> None:
    status = {r["Referens"]: r["Status"] for r in as_dicts(workbook["Rapporter"])}
    assert status["AVS-2026-0004"] == "återkallad"
    assert status["AVS-2026-0001"] == "aktuell"
    assert "AVS-2026-0004" not in {r["Referens"] for r in as_dicts(workbook["Avsteg"])}


def test_dates_are_date_cells_and_numbers_are_numbers(workbook) -> None:
    ws = workbook["Avsteg"]
    headers = sheet_rows(ws)[0]
    date_cols = [headers.index(f.label) + 1 for f in SCHEMA.deviation_fields if f.type == "date"]
    int_cols = [headers.index(f.label) + 1 for f in SCHEMA.deviation_fields if f.type == "integer"]
    seen_date = seen_int = 0
    for row in range(2, ws.max_row + 1):
        for col in date_cols:
            cell = ws.cell(row, col)
            if cell.value is not None:
                assert cell.is_date and cell.number_format == "yyyy-mm-dd"
                seen_date += 1
        for col in int_cols:
            cell = ws.cell(row, col)
            if cell.value is not None:
                assert cell.data_type == "n" and isinstance(cell.value, int)
                seen_int += 1
    assert seen_date and seen_int
    reports = workbook["Rapporter"]
    row = next(r[0].row for r in reports.iter_rows(min_row=2) if r[0].value == "AVS-2026-0001")
    received = reports.cell(row, 3)
    assert received.is_date and isinstance(received.value, dt.datetime)
    assert received.value == dt.datetime(2026, 3, 2, 10, 30)  # 09:30 UTC is 10:30 in Göteborg
    assert isinstance(reports.cell(row, 2).value, int)


def test_frozen_headers_and_tables(workbook) -> None:
    for name in ("Rapporter", "Avsteg", "Historik"):
        ws = workbook[name]
        assert ws.freeze_panes is not None and ws.freeze_panes.endswith("2")
        (table,) = ws.tables.values()
        assert table.ref.startswith("A1:") and table.ref.endswith(str(ws.max_row))
        assert table.tableStyleInfo is not None
        assert [c.name for c in table.tableColumns] == sheet_rows(ws)[0]
        assert ws.column_dimensions["A"].width >= len("AVS-2026-0001")


def _block(ws, first_header: str) -> dict[str, list[Any]]:
    """A Sammanställning block: group name → metric values, until the total or a blank row."""
    rows = sheet_rows(ws)
    start = next(i for i, r in enumerate(rows) if r[0] == first_header and r[1] == "Rapporter")
    out = {}
    for r in rows[start + 1:]:
        if r[0] is None or r[0] == "Totalt":
            break
        out[str(r[0])] = list(r[1:7])
    return out


def test_summary_sums_equal_the_sums_of_the_rows(register: Register, workbook) -> None:
    rows = as_dicts(workbook["Avsteg"])
    ws = workbook["Sammanställning"]
    jobs, emp, intern, months = (SCHEMA.field(k).label for k in
                                 ("jobs_created", "employments", "internships", "fulltime_months"))
    org = SCHEMA.field("organisation").label

    def expected(group_rows: list[dict[str, Any]]) -> list[Any]:
        return [
            len({r["Referens"] for r in group_rows}),
            len(group_rows),
            sum(r[jobs] or 0 for r in group_rows),
            sum(r[emp] or 0 for r in group_rows),
            sum(r[intern] or 0 for r in group_rows),
            sum(Decimal(str(r[months] or 0)) for r in group_rows),
        ]

    def check(block: dict[str, list[Any]], groups: dict[str, list[dict[str, Any]]]) -> None:
        assert set(block) >= set(groups)
        for name, values in block.items():
            want = expected(groups.get(name, []))
            assert values[:5] == want[:5], name
            assert Decimal(str(values[5])) == want[5], name

    by_org = defaultdict(list)
    by_measure = defaultdict(list)
    by_year = defaultdict(list)
    for r in rows:
        by_org[r[org]].append(r)
        by_year[str(r[SCHEMA.field("year").label])].append(r)
        for m in (r[SCHEMA.field("measures").label] or "").split("; "):
            by_measure[m].append(r)
    check(_block(ws, org), by_org)
    check(_block(ws, SCHEMA.field("measures").label), by_measure)
    check(_block(ws, SCHEMA.field("year").label), by_year)
    assert set(_block(ws, SCHEMA.field("measures").label)) == set(SCHEMA.field("measures").options)
    total = next(r for r in sheet_rows(ws) if r[0] == "Totalt")
    assert total[3] == sum(r[jobs] or 0 for r in rows)
    assert total[1] == len({r["Referens"] for r in rows})


def test_summary_has_native_charts(workbook) -> None:
    charts = workbook["Sammanställning"]._charts
    assert len(charts) >= 2
    kinds = {type(c).__name__ for c in charts}
    assert {"BarChart", "PieChart"} <= kinds


def test_history_lists_every_version(register: Register, workbook) -> None:
    rows = as_dicts(workbook["Historik"])
    assert [(r["Referens"], r["Version"]) for r in rows] == sorted(
        (v.reference, v.version) for v in register.versions
    )
    status = {(r["Referens"], r["Version"]): r["Status"] for r in rows}
    assert status[("AVS-2026-0002", 1)] == "ersatt"
    assert status[("AVS-2026-0002", 2)] == "aktuell"
    assert status[("AVS-2026-0004", 1)] == "återkallad"
    assert all(r["Message-ID"] for r in rows)


def test_period_filter_keeps_only_that_year(register: Register) -> None:
    part = register.filtered(Period(year=2025))
    wb = load_workbook(io.BytesIO(build_xlsx(part, SCHEMA)))
    assert {r["Referens"] for r in as_dicts(wb["Rapporter"])} == {"AVS-2025-0001"}
    assert {v["Referens"] for v in as_dicts(wb["Historik"])} == {"AVS-2025-0001"}
    received = register.filtered(Period(date_from=dt.date(2026, 3, 12), date_to=dt.date(2026, 3, 22)))
    assert [r.reference for r in received.reports] == ["AVS-2026-0002", "AVS-2026-0003"]


def test_an_empty_register_still_makes_a_workbook() -> None:
    wb = load_workbook(io.BytesIO(build_xlsx(Register([], [], []), SCHEMA)))
    assert wb.sheetnames == ["Rapporter", "Avsteg", "Sammanställning", "Historik"]
    assert sheet_rows(wb["Avsteg"])[0][:2] == ["Referens", "Avsteg nr"]
    assert build_csv(Register([], [], []), SCHEMA).count(b"\r\n") == 1


def test_csv_round_trip(register: Register, workbook) -> None:
    data = build_csv(register, SCHEMA)
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline=""), delimiter=";"))
    sheet = sheet_rows(workbook["Avsteg"])
    assert rows[0] == sheet[0]
    assert len(rows) == len(sheet)
    types = {f.label: f.type for f in SCHEMA.deviation_fields}
    for text_row, cell_row in zip(rows[1:], sheet[1:]):
        for header, text, cell in zip(rows[0], text_row, cell_row):
            if cell is None:
                assert text == ""
            elif types.get(header) == "date":
                assert text == cell.date().isoformat()
            elif types.get(header) == "decimal":
                assert Decimal(text.replace(",", ".")) == Decimal(str(cell))
                assert "." not in text
            else:
                assert text == str(cell), header


# -- from the database -----------------------------------------------------------------------

def test_register_rows_reads_newest_versions_and_history(tmp_path: Path) -> None:
    from avsteg.domain.report import ParsedReport
    from avsteg.storage.database import Database
    from avsteg.storage.messages import store_raw_message
    from avsteg.storage.read_model.register import register_rows
    from avsteg.storage.reports import add_version, register_report, withdraw_report

    db = Database(f"sqlite:///{tmp_path / 'r.sqlite'}")
    db.upgrade()

    def parsed(seed: int, n: int, organisation: str) -> ParsedReport:
        values, devs = sample_report(SCHEMA, "event", n, seed=seed)
        values = {**values, "organisation": organisation, "year": 2026}
        return ParsedReport(file=f"f{seed}.docx", format="docx", status="accepted",
                            report=values, deviations=devs)

    def message(s, n: int):
        row, _ = store_raw_message(
            s, f"Message-ID: <m{n}@x>\r\n\r\nbody {n}".encode(), message_id=f"<m{n}@x>",
            sender="anna@goteborg.se", subject="avsteg", position=None,
            received_at=T0 + dt.timedelta(days=n),
        )
        return row

    first, second = parsed(1, 2, "Trafikkontoret"), parsed(2, 3, "Trafikkontoret")
    with db.unit_of_work() as s:
        report = register_report(s, message=message(s, 1), parsed=first, attachment_sha256="a" * 64,
                                 now=T0)
        add_version(s, report, message=message(s, 2), parsed=second, attachment_sha256="b" * 64,
                    now=T0 + dt.timedelta(days=2))
        gone = register_report(s, message=message(s, 3), parsed=parsed(3, 1, "Higab AB"),
                               attachment_sha256="c" * 64, now=T0)
        withdraw_report(s, gone, "skickad av misstag")
    with db.unit_of_work(readonly=True) as s:
        reg = register_rows(s, schema=SCHEMA)
    db.dispose()

    assert [(r.reference, r.version, r.status) for r in reg.reports] == [
        ("AVS-2026-0001", 2, "aktuell"), ("AVS-2026-0002", 1, "återkallad")]
    newest = reg.reports[0]
    assert newest.deviations == 3
    assert newest.jobs_created == sum(d["jobs_created"] or 0 for d in second.deviations)
    assert newest.received_at == T0 + dt.timedelta(days=2)
    assert newest.first_received_at == T0 + dt.timedelta(days=1)
    assert [v.version for v in reg.versions if v.reference == "AVS-2026-0001"] == [1, 2]
    mine = [d for d in reg.deviations if d.reference == "AVS-2026-0001"]
    assert [d.values for d in mine] == second.deviations  # typed again: dates, Decimal, lists
    assert len(reg.active_deviations()) == 3

"""How long the register export takes for 10,000 deviations (2,500 reports × 4).

Prints the time of ``build_xlsx`` next to a floor measured in the same run: a bare openpyxl
write-only dump of the same cells (no tables, charts, styles or Sammanställning). The target is
under 10 s for the full export.

    python bench/export.py [--reports 2500] [--per-report 4] [-o out.xlsx]
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import random
import sys
import time
from decimal import Decimal

from openpyxl import Workbook

from avsteg.config.schema import default_schema
from avsteg.domain.register import DeviationRow, Period, Register, ReportRow, VersionRow
from avsteg.domain.schema import Schema
from avsteg.register.export import build_csv, build_xlsx, deviation_sheet

TARGET_SECONDS = 10.0


def synthetic_register(schema: Schema, reports: int, per_report: int, seed: int = 2026) -> Register:
    """A plausible register: known organisations, every deviation field filled in."""
    rnd = random.Random(seed)
    organisations = list(schema.known_organisations) or [f"Förvaltning {i}" for i in range(40)]
    measures = list(schema.field("measures").options)
    targets = list(schema.field("target_groups").options)
    start = dt.datetime(2026, 1, 2, 8, 0, tzinfo=dt.UTC)
    report_rows, deviation_rows, versions = [], [], []
    for n in range(1, reports + 1):
        reference = f"AVS-2026-{n:04d}"
        organisation = rnd.choice(organisations)
        received = start + dt.timedelta(minutes=137 * n)
        jobs_total = 0
        for position in range(1, per_report + 1):
            jobs = rnd.randint(0, 25)
            employments = rnd.randint(0, jobs)
            internships = rnd.randint(0, jobs - employments)
            jobs_total += jobs
            values = {
                "procurement": f"Ramavtal {rnd.choice(['städ', 'bygg', 'IT', 'mat', 'transport'])} {n}",
                "case_number": f"IOU {n}-{position}/2026",
                "supplier": f"Leverantör {rnd.randint(1, 900)} AB",
                "supplier_orgnr": "556677-8899",
                "contract_start": dt.date(2026, 1, 1),
                "contract_end": dt.date(2028, 12, 31),
                "deviation_date": received.date() - dt.timedelta(days=rnd.randint(0, 30)),
                "reason": "Leverantören hade redan ett eget program för arbetsmarknadsinsatser.",
                "model_used": "Leverantörens egen modell i samverkan med Arbetsförmedlingen",
                "measures": sorted(rnd.sample(measures, rnd.randint(1, 3)), key=measures.index),
                "target_groups": sorted(rnd.sample(targets, rnd.randint(1, 2)), key=targets.index),
                "partners": "Arbetsförmedlingen",
                "jobs_created": jobs,
                "employments": employments,
                "internships": internships,
                "fulltime_months": Decimal(rnd.randint(0, 240)) / 4,
                "other_results": None,
                "comment": None,
            }
            deviation_rows.append(DeviationRow(reference, 1, position, values))
        version = VersionRow(
            reference=reference,
            version=1,
            received_at=received,
            message_id=f"<{n}@bench>",
            organisation=organisation,
            report_type=schema.kinds["event"],
            year=2026,
            contact_name="Anna Andersson",
            contact_email="anna.andersson@example.goteborg.se",
            deviations=per_report,
            jobs_created=jobs_total,
        )
        versions.append(version)
        report_rows.append(ReportRow(
            reference=reference, version=1, received_at=received, message_id=version.message_id,
            organisation=organisation, report_type=version.report_type, year=version.year,
            contact_name=version.contact_name, contact_email=version.contact_email,
            deviations=per_report, jobs_created=jobs_total,
        ))
    return Register(report_rows, deviation_rows, versions, Period(year=2026))


def bare_dump(headers: list[str], rows: list[list[object]]) -> bytes:
    """The floor: the same cells through openpyxl write-only, nothing else."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Avsteg")
    ws.append(headers)
    for row in rows:
        ws.append(row)
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2500)
    parser.add_argument("--per-report", type=int, default=4)
    parser.add_argument("-o", "--output", help="also write the export here")
    args = parser.parse_args(argv)

    schema = default_schema()
    register = synthetic_register(schema, args.reports, args.per_report)
    n = len(register.deviations)

    t0 = time.perf_counter()
    headers, rows = deviation_sheet(register, schema)
    floor_bytes = bare_dump(headers, rows)
    floor = time.perf_counter() - t0

    t0 = time.perf_counter()
    data = build_xlsx(register, schema)
    full = time.perf_counter() - t0

    t0 = time.perf_counter()
    csv_bytes = build_csv(register, schema)
    csv_time = time.perf_counter() - t0

    if args.output:
        with open(args.output, "wb") as fh:
            fh.write(data)
    print(f"deviations: {n}  reports: {len(register.reports)}")
    print(f"floor (bare write-only dump of the Avsteg cells): {floor:6.2f} s  {len(floor_bytes):>9} bytes")
    print(f"build_xlsx (4 sheets, tables, charts):            {full:6.2f} s  {len(data):>9} bytes"
          f"  ({full / floor:.1f}× floor)")
    print(f"build_csv:                                        {csv_time:6.2f} s  {len(csv_bytes):>9} bytes")
    ok = full < TARGET_SECONDS
    print(f"target < {TARGET_SECONDS:.0f} s: {'OK' if ok else 'MISSED'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

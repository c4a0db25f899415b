"""How long the board report takes for a year of 20,000 deviations, and reading that year.

Prints the time of ``build_board_report`` on a synthetic year (bench/export.py's register:
5,000 reports × 4 deviations) next to a floor measured in the same run: ``summarise`` alone plus
a bare lxml dump of the same cells into one plain Word table (no widths, sizes, repeated header,
other tables or chart), saved. The target is a few seconds (``TARGET_SECONDS``); ``--before``
also times the tables built with python-docx's per-cell API as they were until this benchmark
was written (tests/support/board_table_before.py: about 25 s on the machine it was written on).

``--database`` also reads such a year from a database: SQLite in a temporary directory (or the
URL given) gets the demo's real mail through the pipeline, multiplied with bulk inserts to
20,000 reports / 60,000 deviations over three years (``avsteg.storage.bulk``); then
``register_rows`` for one year is timed beside the ORM reading it replaced
(tests/support/register_rows_before.py). bench/web.py times the same on PostgreSQL, with the
download of the board report over HTTP.

    python bench/board_report.py [--reports 5000] [--per-report 4] [--before]
                                 [--database [URL]] [-o out.docx]
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from docx import Document
from docx.oxml.ns import qn
from lxml.etree import SubElement

from avsteg.bootstrap import build_pipeline, open_database, schema_of
from avsteg.config.schema import default_schema
from avsteg.config.settings import load_settings
from avsteg.domain.figures import summarise
from avsteg.domain.register import Register, multichoice_text
from avsteg.domain.schema import Schema
from avsteg.register import board_report
from avsteg.samples import first_batch
from avsteg.storage.bulk import multiply_register
from avsteg.storage.read_model import register_rows

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.*
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/export.py
from export import synthetic_register  # noqa: E402

from tests.support.board_table_before import table_before  # noqa: E402
from tests.support.register_rows_before import register_rows_before  # noqa: E402

TARGET_SECONDS = 5.0
TODAY = dt.date(2026, 12, 20)


def seconds(fn: Callable[[], object], rounds: int = 1) -> float:
    """The median of ``rounds`` runs."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def floor(register: Register, schema: Schema) -> bytes:
    """The same cells as the list of deviations, in one bare table, after the same figures."""
    summarise(register, schema)
    document = Document()
    tbl = document.add_table(rows=0, cols=5)._tbl
    for report, d in register.active_deviations():
        tr = SubElement(tbl, qn("w:tr"))
        for value in (report.organisation, d.get("procurement"), d.get("supplier"),
                      multichoice_text(d.get("measures")), d.get("jobs_created")):
            r = SubElement(SubElement(SubElement(tr, qn("w:tc")), qn("w:p")), qn("w:r"))
            SubElement(r, qn("w:t")).text = "" if value is None else str(value)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def documents(args: argparse.Namespace) -> bool:
    schema = default_schema()
    register = synthetic_register(schema, args.reports, args.per_report)
    n = len(register.deviations)
    data = b""

    def build() -> None:
        nonlocal data
        data = board_report.build_board_report(register, schema, today=TODAY)

    bare = seconds(lambda: floor(register, schema), 3)
    full = seconds(build, 3)
    summed = seconds(lambda: summarise(register, schema), 3)
    print(f"deviations: {n:,}  reports: {len(register.reports):,}")
    print(f"summarise alone:                                   {summed:6.2f} s")
    print(f"floor (summarise + bare lxml table of the cells): {bare:6.2f} s")
    print(f"build_board_report:                                {full:6.2f} s  {len(data):>9,} bytes"
          f"  ({full / bare:.1f}× floor)")
    if args.before:
        fast = board_report._table
        board_report._table = table_before
        try:
            slow = seconds(lambda: board_report.build_board_report(register, schema, today=TODAY))
        finally:
            board_report._table = fast
        print(f"the same with the per-cell tables of before:       {slow:6.2f} s")
    if args.output:
        Path(args.output).write_bytes(data)
    ok = full < TARGET_SECONDS
    print(f"target < {TARGET_SECONDS:.0f} s: {'OK' if ok else 'MISSED'}")
    return ok


def database(url: str | None, reports: int, deviations: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        settings = load_settings(database={"url": url}, policy={"reply_window_days": 100_000})
        db = open_database(settings)
        pipeline = build_pipeline(settings, db, send_replies=False)
        for sample in first_batch(pipeline.schema, settings.policy.service_address,
                                  dt.date(2026, 3, 2)):
            pipeline.handle(sample.raw)
        organisations = sorted(pipeline.schema.known_organisations) or ["Förvaltning"]
        start = time.perf_counter()
        multiply_register(db, reports=reports, deviations=deviations,
                          organisations=organisations, years=[2024, 2025, 2026])
        print(f"\n{db.engine.dialect.name}: seeded {reports:,} reports / {deviations:,} "
              f"deviations in {time.perf_counter() - start:.1f} s")
        schema = schema_of(settings)
        year: list[Register] = []

        def read(fn: Callable[..., Register]) -> Callable[[], None]:
            def run() -> None:
                with db.unit_of_work(readonly=True) as s:
                    year[:] = [fn(s, year=2025, schema=schema)]
            return run

        new = seconds(read(register_rows), 3)
        size = f"{len(year[0].reports):,} reports, {len(year[0].deviations):,} deviations"
        old = seconds(read(register_rows_before), 3)
        print(f"register_rows, one year ({size}):  {new:6.2f} s")
        print(f"the ORM reading it replaced (baseline, same run):   {old:6.2f} s"
              f"  ({old / new:.1f}× slower)")
        db.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=5000)
    parser.add_argument("--per-report", type=int, default=4)
    parser.add_argument("--before", action="store_true",
                        help="also time the per-cell tables of before (about 25 s)")
    parser.add_argument("--database", nargs="?", const="", metavar="URL",
                        help="also time register_rows (SQLite in a temporary directory)")
    parser.add_argument("-o", "--output", help="also write the board report here")
    args = parser.parse_args(argv)
    ok = documents(args)
    if args.database is not None:
        database(args.database or None, 20_000, 60_000)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

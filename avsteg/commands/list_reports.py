"""``avsteg list``: the register, newest version of each report."""
from __future__ import annotations

import argparse
import sys

from avsteg.commands.common import add_db_argument, print_json, settings_from
from avsteg.domain.swedish import count, word

HELP = "list the register (newest version of each report)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--year", type=int)
    p.add_argument("--json", action="store_true", help="one JSON object per line and report")


def register_lines(db, year: int | None = None) -> list[dict]:
    from avsteg.storage.reports import current_versions

    with db.unit_of_work(readonly=True) as s:
        out = []
        for v in current_versions(s, year=year, include_withdrawn=True):
            out.append({
                "reference": v.report.reference,
                "version": v.version,
                "organisation": v.organisation,
                "report_type": v.report_type,
                "year": v.year,
                "deviations": len(v.deviations),
                "jobs_created": sum(d.jobs_created or 0 for d in v.deviations),
                "message_id": v.message.message_id_header,
                "received_at": v.message.received_at.isoformat() if v.message.received_at else None,
                "status": "återkallad" if v.report.withdrawn_at else "aktuell",
            })
        return out


def run(args: argparse.Namespace) -> int:
    from avsteg.bootstrap import open_database

    db = open_database(settings_from(args))
    lines = register_lines(db, args.year)
    db.dispose()
    if args.json:
        for line in lines:
            print_json(line)
    else:
        print_table(lines)
    return 0


def print_table(lines: list[dict]) -> None:
    """The register as a table; times in local (Stockholm) time, as ``show`` and the export."""
    import datetime as dt

    from rich.console import Console
    from rich.table import Table

    from avsteg.register.rows import local_time

    def when(text: str | None) -> str:
        return local_time(dt.datetime.fromisoformat(text)).strftime("%Y-%m-%d %H:%M") if text else ""

    withdrawn = sum(1 for row in lines if row["status"] != "aktuell")
    title = f"Avstegsregistret – {count(len(lines), 'rapport')}"
    if withdrawn:
        title += f", varav {withdrawn} {word(withdrawn, 'återkallad', 'återkallade')}"
    table = Table(title=title)
    # Codes, numbers and times never wrap; the organisation's name wraps when space is short.
    for header, numeric in (("Referens", False), ("Ver.", True), ("Förvaltning/bolag", False),
                            ("Typ av rapport", False), ("År", True), ("Avsteg", True),
                            ("Arbetstillfällen", True), ("Mottagen", False), ("Status", False)):
        table.add_column(header, justify="right" if numeric else "left",
                         no_wrap=header != "Förvaltning/bolag", overflow="fold")
    for row in lines:
        table.add_row(row["reference"], str(row["version"]), row["organisation"] or "",
                      row["report_type"] or "", str(row["year"] or ""), str(row["deviations"]),
                      str(row["jobs_created"]), when(row["received_at"]), row["status"])
    Console(width=None if sys.stdout.isatty() else 140).print(table)

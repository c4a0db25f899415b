"""``avsteg list``: the register, newest version of each report."""
from __future__ import annotations

import argparse
import sys

from rich.console import Console
from rich.table import Table

from avsteg.bootstrap import open_database
from avsteg.commands.common import add_db_argument, print_json, settings_from
from avsteg.domain.localtime import show_time
from avsteg.domain.vocabulary import WITHDRAWN
from avsteg.storage.database import Database
from avsteg.storage.read_model import list_reports

HELP = "list the register (newest version of each report)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--year", type=int)
    p.add_argument("--json", action="store_true", help="one JSON object per line and report")


def register_lines(db: Database, year: int | None = None) -> list[dict]:
    """The register as ``--json`` prints it: one object per report, withdrawn ones included."""
    with db.unit_of_work(readonly=True) as s:
        return [line.to_json() for line in list_reports(s, year=year).items]


def run(args: argparse.Namespace) -> int:
    db = open_database(settings_from(args), must_exist=True)
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
    def when(text: str | None) -> str:
        return show_time(text, missing="")

    withdrawn = sum(1 for row in lines if row["status"] == WITHDRAWN)
    title = f"Avstegsregistret – {len(lines)} rapporter"
    if withdrawn:
        title += f", varav {withdrawn} återkallad{'e' if withdrawn > 1 else ''}"
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

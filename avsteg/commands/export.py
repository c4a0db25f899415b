"""``avsteg export``: the register for the stödfunktion as Excel (.xlsx) or CSV.

The workbook has the sheets Rapporter, Avsteg, Sammanställning (with charts) and Historik;
CSV is the Avsteg sheet, UTF-8 with BOM and ``;`` separators (what Swedish Excel opens).
"""
from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from avsteg.commands.common import add_db_argument, say, settings_from
from avsteg.config.schema import load_schema
from avsteg.domain.errors import AvstegError
from avsteg.register.export import build_csv, build_xlsx
from avsteg.storage.database import Database
from avsteg.storage.read_model.register import register_rows

HELP = "export the register as Excel (sheets, tables, charts) or CSV (the Avsteg sheet)"


def add_period_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, help="only reports for this Rapportår")
    p.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, metavar="DATE",
                   help="only reports first received on or after DATE (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, metavar="DATE",
                   help="only reports first received on or before DATE (YYYY-MM-DD)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("xlsx", "csv"),
                   help="xlsx (default) or csv; taken from the file name when left out")
    p.add_argument("-o", "--output", required=True, metavar="PATH", help="file to write")
    add_period_arguments(p)
    add_db_argument(p)


def load_register(args: argparse.Namespace):
    """Settings, schema and the register for the period the arguments name."""
    # Not avsteg.bootstrap: an export needs the database, not the mail pipeline's imports.

    settings = settings_from(args)
    schema = load_schema(settings.schema_file)
    db = Database(settings.database.url, echo=settings.database.echo)
    try:
        db.upgrade()  # as every command does: a fresh database is an empty register
        with db.unit_of_work(readonly=True) as s:
            register = register_rows(s, year=args.year, date_from=args.date_from,
                                     date_to=args.date_to, schema=schema)
    finally:
        db.dispose()
    return schema, register


def run(args: argparse.Namespace) -> int:
    path = Path(args.output)
    fmt = args.format or ("csv" if path.suffix.lower() == ".csv" else "xlsx")
    try:
        schema, register = load_register(args)
    except AvstegError as exc:
        say(f"avsteg export: {exc}")
        return 1
    data = build_csv(register, schema) if fmt == "csv" else build_xlsx(
        register, schema, generated_at=dt.datetime.now(dt.UTC)
    )
    path.write_bytes(data)
    active = register.active_reports()
    say(f"Skrev {path} ({fmt}): {len(active)} rapporter, "
        f"{len(register.active_deviations())} avsteg – {register.period.label()}.")
    return 0

"""``avsteg export``: the register for the stödfunktion as Excel (.xlsx) or CSV.

The workbook has the sheets Rapporter, Avsteg, Sammanställning (with charts) and Historik;
CSV is the Avsteg sheet, UTF-8 with BOM and ``;`` separators (what Swedish Excel opens).
"""
from __future__ import annotations

import argparse
import datetime as dt

from avsteg.commands.common import add_db_argument, output_path, say, settings_from
from avsteg.config.schema import load_schema
from avsteg.register.export import build_csv, build_xlsx
from avsteg.storage.database import open_register
from avsteg.storage.read_model.register import register_rows

EXPORT_FORMATS = {".xlsx": "xlsx", ".csv": "csv"}

HELP = "export the register as Excel (sheets, tables, charts) or CSV (the Avsteg sheet)"


def add_period_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--year", type=int, help="only reports for this Rapportår")
    p.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, metavar="DATE",
                   help="only reports first received on or after DATE (YYYY-MM-DD)")
    p.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, metavar="DATE",
                   help="only reports first received on or before DATE (YYYY-MM-DD)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("xlsx", "csv"),
                   help="xlsx or csv; taken from the file name when left out")
    p.add_argument("-o", "--output", required=True, metavar="PATH", help="file to write")
    add_period_arguments(p)
    add_db_argument(p)


def load_register(args: argparse.Namespace):
    """Settings, schema and the register for the period the arguments name."""
    # Not avsteg.bootstrap: an export needs the database, not the mail pipeline's imports.

    settings = settings_from(args)
    schema = load_schema(settings.schema_file)
    # A mistyped path is an error, not an empty register of 0 reports.
    db = open_register(settings.database.url, echo=settings.database.echo, must_exist=True)
    try:
        with db.unit_of_work(readonly=True) as s:
            register = register_rows(s, year=args.year, date_from=args.date_from,
                                     date_to=args.date_to, schema=schema)
    finally:
        db.dispose()
    return schema, register


def run(args: argparse.Namespace) -> int:
    path, fmt = output_path(args.output, formats=EXPORT_FORMATS, fmt=args.format)
    schema, register = load_register(args)  # configuration errors exit 2, a server down 75
    data = build_csv(register, schema) if fmt == "csv" else build_xlsx(
        register, schema, generated_at=dt.datetime.now(dt.UTC)
    )
    path.write_bytes(data)
    active = register.active_reports()
    say(f"Skrev {path} ({fmt}): {len(active)} rapporter, "
        f"{len(register.active_deviations())} avsteg – {register.period.label()}.")
    return 0

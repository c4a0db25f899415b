"""``avsteg board-report``: the Word document for the nämnd about a period's deviations."""
from __future__ import annotations

import argparse
import datetime as dt

from avsteg.commands.common import add_db_argument, output_path, say
from avsteg.commands.export import add_period_arguments, load_register
from avsteg.register.board_report import build_board_report

HELP = "write the board report (Word) with the period's deviations, figures and a chart"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("-o", "--output", required=True, metavar="PATH.docx", help="file to write")
    add_period_arguments(p)
    add_db_argument(p)


def run(args: argparse.Namespace) -> int:
    path, _fmt = output_path(args.output, formats={".docx": "docx"})
    schema, register = load_register(args)  # configuration errors exit 2, a server down 75
    data = build_board_report(register, schema, today=dt.date.today())
    path.write_bytes(data)
    say(f"Skrev {args.output}: {len(register.active_reports())} rapporter, "
        f"{len(register.active_deviations())} avsteg – {register.period.label()}.")
    return 0

"""``avsteg template``: write a blank template (spec 2.2, 4) from the configured schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avsteg.commands.common import output_path
from avsteg.config.schema import load_schema
from avsteg.config.settings import load_settings
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx

HELP = "write a blank template (Word or Excel, Händelserapport or Helårsrapport)"

FORMATS = ("docx", "xlsx")
KINDS = ("event", "annual")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=FORMATS, help="file format (default: from the file name, else docx)"
    )
    parser.add_argument(
        "--kind",
        choices=KINDS,
        default="event",
        help="event = Händelserapport, annual = Helårsrapport (default event)",
    )
    parser.add_argument(
        "-o", "--output", metavar="PATH", required=True, help="where to write the template"
    )


def run(args: argparse.Namespace) -> int:
    out = Path(args.output).expanduser()
    fmt = args.format
    if not out.is_dir():  # a directory gets a file named after the schema, checked below
        out, fmt = output_path(args.output, formats={f".{f}": f for f in FORMATS}, fmt=fmt)
    fmt = fmt or "docx"
    settings = load_settings(args.config)
    schema = load_schema(settings.schema_file)
    if out.is_dir():
        out = out / f"{schema.identifier}-{args.kind}-v{schema.version}.{fmt}"
    build = build_docx if fmt == "docx" else build_xlsx
    out.write_bytes(build(schema, args.kind))
    print(f"wrote {schema.kinds[args.kind]} ({fmt}) to {out}", file=sys.stderr)
    return 0

"""``avsteg template``: write a blank template (spec 2.2, 4) from the configured schema."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avsteg.config.schema import load_schema
from avsteg.config.settings import load_settings
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx

HELP = "write a blank template (Word or Excel, Händelserapport or Helårsrapport)"

FORMATS = ("docx", "xlsx")
KINDS = ("event", "annual")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--format", choices=FORMATS, default="docx", help="file format (default docx)"
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
    settings = load_settings(args.config)
    schema = load_schema(settings.schema_file)
    build = build_docx if args.format == "docx" else build_xlsx
    data = build(schema, args.kind)

    out = Path(args.output)
    if out.is_dir():
        out = out / f"{schema.identifier}-{args.kind}-v{schema.version}.{args.format}"
    elif out.suffix.lower() != f".{args.format}":
        print(f"avsteg: note: {out} does not end in .{args.format}", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(data)
    print(f"wrote {schema.kinds[args.kind]} ({args.format}) to {out}", file=sys.stderr)
    return 0

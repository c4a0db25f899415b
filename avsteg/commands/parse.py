"""``avsteg parse FILE``: read one attachment the way the mailbox worker would (spec 4).

Prints the :class:`ParsedReport` as one JSON object with ``--json``, or a short readable summary
otherwise. Exit 0 whenever the file could be read from disk, whatever its status (a PDF is a
successful ``rejected``); 2 when it cannot be read or the settings are broken.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from datetime import date
from pathlib import Path

from avsteg.bootstrap import build_converter
from avsteg.config.schema import load_schema
from avsteg.config.settings import load_settings
from avsteg.domain.errors import ConfigurationError
from avsteg.domain.vocabulary import PARSE_STATUSES, word
from avsteg.parsers.template import parse_attachment

HELP = "parse one attachment (.docx/.xlsx template) and print what was found"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the attachment to read")
    parser.add_argument("--json", action="store_true", help="print one JSON object to stdout")
    parser.add_argument(
        "--convert",
        action="store_true",
        help="convert .doc/.xls/.odt/.ods with LibreOffice (soffice) before parsing",
    )
    parser.add_argument(
        "--today", type=date.fromisoformat, metavar="YYYY-MM-DD",
        help="the date to validate against (default: today)",
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        print(f"avsteg: {path}: no such file", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"avsteg: {path}: cannot read: {exc}", file=sys.stderr)
        return 2
    try:
        settings = load_settings(args.config)
        schema = load_schema(settings.schema_file)
    except (ConfigurationError, OSError, ValueError) as exc:
        print(f"avsteg: configuration: {exc}", file=sys.stderr)
        return 2

    convert = None
    if args.convert:
        convert = build_converter()
        if convert is None:
            print("avsteg: --convert: soffice (LibreOffice) is not installed; not converting",
                  file=sys.stderr)

    result = parse_attachment(path.name, data, schema, today=args.today, convert=convert)
    if args.json:
        json.dump(result.to_json(), sys.stdout, ensure_ascii=False, indent=2)
        sys.stdout.write("\n")
    else:
        _summary(result.to_json())
    return 0


def _summary(out: dict) -> None:
    print(f"{out['file']}: {word(PARSE_STATUSES, out['status'])} ({out['status']}), "
          f"format {out['format'] or '?'}, mallversion {out['template_version'] or '-'}")
    if out["status"] == "not_a_report":
        return
    report = out["report"]
    for key in ("report_type", "year", "organisation", "contact_name", "contact_email"):
        if key in report:
            print(f"  {key}: {report[key]}")
    for n, dev in enumerate(out["deviations"], 1):
        print(f"  Avsteg {n}: {dev.get('procurement')} / {dev.get('supplier')} "
              f"/ arbetstillfällen {dev.get('jobs_created')}")
    for kind, problems in (("Fel", out["errors"]), ("Varning", out["warnings"])):
        for p in problems:
            where = f" (avsteg {p['deviation']})" if p["deviation"] else ""
            label = f"{p['label']}{where}: " if p["label"] else ""
            print(f"  {kind}: {label}{p['message']}")

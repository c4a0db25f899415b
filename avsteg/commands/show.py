"""``avsteg show AVS-YYYY-NNNN``: everything the register knows about one report.

Every version (when it came, in which message, from which file, its values and deviations),
the problems found (errors and warnings), the replies sent for it, and — with ``--raw`` — the
newest version's message exactly as it arrived (the .eml bytes on stdout). ``--json`` prints one
object; otherwise a readable summary with the schema's Swedish labels.
"""
from __future__ import annotations

import argparse
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from avsteg.bootstrap import open_database, schema_of
from avsteg.commands.common import add_db_argument, print_json, say, settings_from
from avsteg.domain.localtime import show_time
from avsteg.domain.vocabulary import REPLY_KINDS, REPLY_STATUSES, cut_note, outcome_word, word
from avsteg.storage.read_model import ReportDetails, current_raw_message, report_details

HELP = "show one report: every version, its values, problems, replies and the raw message"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", metavar="REF", help="reference number, e.g. AVS-2026-0001")
    add_db_argument(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    out.add_argument("--raw", action="store_true",
                     help="the newest version's message as it arrived (.eml bytes) on stdout")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    raw: bytes | None = None
    found: ReportDetails | None = None
    try:
        with db.unit_of_work(readonly=True) as s:
            if args.raw:
                raw = current_raw_message(s, args.reference)
            else:
                found = report_details(s, args.reference)
    finally:
        db.dispose()
    if raw is not None:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return 0
    if found is None:
        say(f"avsteg show: det finns ingen rapport {args.reference.strip().upper()}")
        return 1
    details = found.to_json()
    if args.json:
        print_json(details)
        return 0
    print_details(details, schema_of(settings))
    return 0


# -- the readable summary ---------------------------------------------------------------------


def _text(value: Any) -> str:
    if value is None or value == []:
        return "–"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}".replace(".", ",")  # a Swedish decimal comma
    return str(value)


def _label(schema: Any, key: str) -> str:
    try:
        return schema.field(key).label
    except KeyError:
        return key


def _when(text: str | None) -> str:
    """An ISO timestamp as local (Stockholm) time, the way people in the stödfunktion read it."""
    return show_time(text)


def print_details(details: dict[str, Any], schema: Any, console: Any = None) -> None:
    console = console or Console(width=None if sys.stdout.isatty() else 110)
    status = details["status"]
    if details["withdrawn_at"]:
        status += f" {_when(details['withdrawn_at'])} – {details['withdrawn_reason']}"
    console.print(f"[bold]{details['reference']}[/bold]  status: {status}  "
                  f"registrerad {_when(details['created_at'])}  "
                  f"aktuell version: {details['current_version']}")
    for v in details["versions"]:
        console.print()
        console.rule(f"Version {v['version']}" + (" (aktuell)" if v["current"] else ""))
        console.print(f"Mottagen {_when(v['received_at'])} från {v['sender'] or '–'}, "
                      f"ämne ”{v['subject'] or ''}”")
        console.print(f"Message-ID {v['message_id'] or '–'} (meddelande #{v['message']}), "
                      f"fil {v['file'] or '–'}, mallversion {v['template_version'] or '–'}")
        table = Table(show_header=False, title="Rapport", title_justify="left")
        table.add_column("Fält", style="bold")
        table.add_column("Värde")
        for f in schema.report_fields:
            table.add_row(f.label, _text(v["report"].get(f.key)))
        console.print(table)
        for number, deviation in enumerate(v["deviations"], start=1):
            table = Table(show_header=False, title=f"{schema.deviation_heading} {number}",
                          title_justify="left")
            table.add_column("Fält", style="bold")
            table.add_column("Värde")
            for f in schema.deviation_fields:
                table.add_row(f.label, _text(deviation.get(f.key)))
            console.print(table)
        for kind, title in (("errors", "Fel"), ("warnings", "Varningar")):
            for p in v[kind]:
                where = f"{schema.deviation_heading} {p['deviation']}: " if p["deviation"] else ""
                label = p["label"] or (_label(schema, p["field"]) if p["field"] else "")
                console.print(f"{title}: {where}{label}{': ' if label else ''}{p['message']}")
    console.print()
    console.rule("Meddelanden")
    for m in details["messages"]:
        again = f", omkörning av #{m['reprocess_of']}" if m["reprocess_of"] else ""
        code = m["outcome"] or m["state"]
        outcome = outcome_word(code)
        # The reason is a code for whoever debugs; it adds nothing when it repeats the outcome.
        reason = f" ({m['reason']})" if m["reason"] and m["reason"] != code else ""
        console.print(f"#{m['message']} {m['message_id'] or '–'}: {outcome}{reason}, "
                      f"behandlat {_when(m['processed_at'])}{again}")
        if m["cut"]:  # the stored .eml (and --raw) is only its header
            console.print(f"    {cut_note(m['size'])}")
        for p in m["errors"]:
            where = f"{schema.deviation_heading} {p['deviation']}: " if p["deviation"] else ""
            console.print(f"    Fel: {where}{p['label'] or ''}{': ' if p['label'] else ''}"
                          f"{p['message']}")
    console.print()
    replies = details["replies"]
    if not replies:
        console.print("Inga svar har skickats för rapporten.")
        return
    table = Table(title="Svar", title_justify="left")
    for header in ("Typ", "Till", "Ämne", "Status", "Skapat", "Skickat"):
        table.add_column(header)
    for r in replies:
        table.add_row(word(REPLY_KINDS, r["kind"]), r["recipient"], r["subject"] or "",
                      word(REPLY_STATUSES, r["status"]),
                      _when(r["created_at"]), _when(r["sent_at"]))
    console.print(table)

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

from avsteg.commands.common import add_db_argument, print_json, say, settings_from

HELP = "show one report: every version, its values, problems, replies and the raw message"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", metavar="REF", help="reference number, e.g. AVS-2026-0001")
    add_db_argument(p)
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="one JSON object on stdout")
    out.add_argument("--raw", action="store_true",
                     help="the newest version's message as it arrived (.eml bytes) on stdout")


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _problem(p: Any) -> dict[str, Any]:
    return {"field": p.field, "deviation": p.deviation, "label": p.label, "message": p.message}


def report_details(s: Any, reference: str) -> dict[str, Any] | None:
    """The report as one JSON-able object, or None when there is no such reference."""
    from sqlalchemy import or_, select
    from sqlalchemy.orm import selectinload

    from avsteg.commands.reprocess import REPROCESS_ACCOUNT
    from avsteg.storage.models import MessageRow, ProblemRow, ReplyRow, ReportVersion
    from avsteg.storage.reports import find_report_by_reference

    report = find_report_by_reference(s, reference)
    if report is None:
        return None
    versions = list(s.scalars(
        select(ReportVersion)
        .where(ReportVersion.report_id == report.id)
        .options(selectinload(ReportVersion.deviations), selectinload(ReportVersion.message))
        .order_by(ReportVersion.version)
    ))
    message_pks = sorted({v.message_id for v in versions})
    # A version registered by ``avsteg reprocess`` came from a copy; its original (rejected,
    # perhaps, with an error reply) belongs to the report's history too.
    originals = s.scalars(
        select(MessageRow.uidvalidity).where(
            MessageRow.id.in_(message_pks), MessageRow.account == REPROCESS_ACCOUNT)
    )
    message_pks = sorted(set(message_pks) | {int(pk) for pk in originals if pk is not None})
    messages = list(s.scalars(
        select(MessageRow).where(MessageRow.id.in_(message_pks)).order_by(MessageRow.id)
    ))
    problems = list(s.scalars(
        select(ProblemRow).where(ProblemRow.message_id.in_(message_pks)).order_by(ProblemRow.id)
    ))
    replies = list(s.scalars(
        select(ReplyRow)
        .where(or_(ReplyRow.report_id == report.id, ReplyRow.message_id.in_(message_pks)))
        .order_by(ReplyRow.id)
    ))
    out_versions = []
    for v in versions:
        mine = [p for p in problems if p.message_id == v.message_id
                and (p.version_id is None or p.version_id == v.id)]
        msg = v.message
        out_versions.append({
            "version": v.version,
            "current": v.version == report.current_version,
            "received_at": _iso(msg.received_at if msg else None),
            "registered_at": _iso(v.created_at),
            "message": msg.id if msg else None,
            "message_id": msg.message_id_header if msg else None,
            "sender": msg.sender if msg else None,
            "subject": msg.subject if msg else None,
            "file": v.filename,
            "template_version": v.template_version,
            "report": dict(v.values or {}),
            "deviations": [dict(d.values or {}) for d in v.deviations],
            "errors": [_problem(p) for p in mine if p.severity == "error"],
            "warnings": [_problem(p) for p in mine if p.severity == "warning"],
        })
    return {
        "reference": report.reference,
        "status": "återkallad" if report.withdrawn_at else "aktuell",
        "current_version": report.current_version,
        "created_at": _iso(report.created_at),
        "withdrawn_at": _iso(report.withdrawn_at),
        "withdrawn_reason": report.withdrawn_reason,
        "versions": out_versions,
        "messages": [{
            "message": row.id,
            "message_id": row.message_id_header,
            "sender": row.sender,
            "received_at": _iso(row.received_at),
            "processed_at": _iso(row.processed_at),
            "state": row.state,
            "outcome": row.outcome,
            "reason": row.reason,
            "reprocess_of": row.uidvalidity if row.account == REPROCESS_ACCOUNT else None,
            "errors": [_problem(p) for p in problems
                       if p.message_id == row.id and p.severity == "error"],
        } for row in messages],
        "replies": [{
            "kind": r.kind,
            "recipient": r.recipient,
            "subject": r.subject,
            "message_id": r.message_id_header,
            "status": r.status,
            "attempts": r.attempts,
            "created_at": _iso(r.created_at),
            "sent_at": _iso(r.sent_at),
            "last_error": r.last_error,
        } for r in replies],
    }


def newest_raw(s: Any, reference: str) -> bytes | None:
    """The raw bytes of the message the current version came from."""
    from avsteg.storage.reports import current_version, find_report_by_reference

    report = find_report_by_reference(s, reference)
    if report is None:
        return None
    return current_version(s, report).message.raw


def run(args: argparse.Namespace) -> int:
    from avsteg.bootstrap import open_database, schema_of

    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    raw: bytes | None = None
    details: dict[str, Any] | None = None
    try:
        with db.unit_of_work(readonly=True) as s:
            if args.raw:
                raw = newest_raw(s, args.reference)
            else:
                details = report_details(s, args.reference)
    finally:
        db.dispose()
    if raw is not None:
        sys.stdout.buffer.write(raw)
        sys.stdout.flush()
        return 0
    if details is None:
        say(f"avsteg show: det finns ingen rapport {args.reference.strip().upper()}")
        return 1
    if args.json:
        print_json(details)
        return 0
    print_details(details, schema_of(settings))
    return 0


# -- the readable summary ---------------------------------------------------------------------


# What people read for the stored codes.
KINDS = {"receipt": "kvittens", "error": "felbesked", "help": "hjälpsvar",
         "reminder": "påminnelse", "digest": "sammanfattning"}
STATUSES = {"queued": "i kö", "sent": "skickat", "failed": "misslyckat"}
OUTCOMES = {"registered": "registrerad", "new_version": "ny version", "duplicate": "dubblett",
            "rejected": "avvisad", "ignored": "ej vår", "received": "mottagen",
            "failed": "misslyckad"}


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
    import datetime as dt

    from avsteg.register.rows import local_time

    if not text:
        return "–"
    return local_time(dt.datetime.fromisoformat(text)).strftime("%Y-%m-%d %H:%M")


def print_details(details: dict[str, Any], schema: Any, console: Any = None) -> None:
    from rich.console import Console
    from rich.table import Table

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
        outcome = OUTCOMES.get(code, code)
        # The reason is a code for whoever debugs; it adds nothing when it repeats the outcome.
        reason = f" ({m['reason']})" if m["reason"] and m["reason"] != code else ""
        console.print(f"#{m['message']} {m['message_id'] or '–'}: {outcome}{reason}, "
                      f"behandlat {_when(m['processed_at'])}{again}")
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
        table.add_row(KINDS.get(r["kind"], r["kind"]), r["recipient"], r["subject"] or "",
                      STATUSES.get(r["status"], r["status"]),
                      _when(r["created_at"]), _when(r["sent_at"]))
    console.print(table)

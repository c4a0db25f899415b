"""``avsteg remind``: the December reminder about the Helårsrapport, by hand.

``--dry-run`` lists who would get which reminder; otherwise the reminders are recorded, queued
and delivered at once (SMTP, or ``worker.outbox_dir`` / ``--outbox``). The same rules as the
scheduled job (:mod:`avsteg.services.jobs`): an organisation gets each reminder at most once a
year. Without ``--which``: a first reminder to whoever has had none, a second one (from
``schedules.second_reminder`` on) to whoever had the first before that date.
"""
from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from avsteg.bootstrap import build_outbox, open_database, schema_of
from avsteg.commands.common import add_db_argument, print_json, say, settings_from
from avsteg.domain.localtime import local_time
from avsteg.domain.replies.reminders import who_owes_annual
from avsteg.services.delivery import deliver_due
from avsteg.services.jobs import month_day, plan_reminders, queue_reminders
from avsteg.storage.read_model.register import register_rows

HELP = "remind organisations that owe this year's Helårsrapport (--dry-run: only list them)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dry-run", action="store_true", help="list who would be reminded; send nothing")
    p.add_argument("--year", type=int, help="the Rapportår (default: this year)")
    p.add_argument("--which", choices=("first", "second"),
                   help="send this reminder to everyone who owes and has not had it")
    add_db_argument(p)
    p.add_argument("--outbox", metavar="DIR", help="write the reminders as .eml files here")
    p.add_argument("--json", action="store_true", help="one JSON object per reminder on stdout")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    schema = schema_of(settings)
    now = dt.datetime.now(dt.UTC)
    today = local_time(now).date()
    year = args.year or today.year
    second_from = month_day(settings.schedules.second_reminder, year)
    db = open_database(settings)
    try:
        with db.unit_of_work(readonly=True) as s:
            plans = plan_reminders(s, schema, year, today=today, which=args.which,
                                   second_from=second_from)
            reports: list[Any] = list(register_rows(s, year=year, schema=schema).reports)
            owing = who_owes_annual(reports, year, schema)
        lines: list[dict[str, Any]] = [{
            "organisation": p.debtor.organisation,
            "contact_name": p.debtor.contact_name,
            "contact_email": p.debtor.contact_email,
            "contact_emails": list(p.debtor.recipients),
            "which": p.which,
            "year": p.year,
            "references": list(p.debtor.references),
            "status": "planned" if args.dry_run else "queued",
        } for p in plans]
        if not args.dry_run and plans:
            ids = queue_reminders(settings, db, plans, schema=schema, now=now)
            outbox = build_outbox(settings, args.outbox)
            delivered = {d.reply_id: d for d in deliver_due(db, outbox, only=ids)}
            sent = sum(1 for d in delivered.values() if d.status == "sent")
            if len(ids) < len(plans):
                say(f"{len(plans) - len(ids)} påminnelser hade redan skickats av någon annan.")
            say(f"{sent} av {len(ids)} påminnelser skickade.")
    finally:
        db.dispose()
    if args.json:
        for line in lines:
            print_json(line)
    else:
        what = "skulle få" if args.dry_run else "får"
        if not lines and not owing:
            say(f"Ingen saknar en helårsrapport för {year}: alla som skickat händelserapporter "
                "har också skickat en helårsrapport.")
        elif not lines:
            who = "den som saknar" if len(owing) == 1 else f"de {len(owing)} som saknar"
            which = {"first": "den första ", "second": "den andra "}.get(args.which or "", "")
            say(f"Ingen ny påminnelse om helårsrapport för {year}: {who} den har redan fått "
                f"{which}påminnelsen.")
        for line in lines:  # the command's result, like ``avsteg list``'s table: stdout
            kind = "första" if line["which"] == "first" else "andra"
            print(f"{line['organisation']}: {', '.join(line['contact_emails'])} {what} {kind} "
                  f"påminnelsen ({', '.join(line['references'])})")
    return 0

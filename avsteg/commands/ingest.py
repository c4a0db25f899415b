"""``avsteg ingest FILE.eml …``: messages saved as files, through the whole pipeline."""
from __future__ import annotations

import argparse
from pathlib import Path

from avsteg.bootstrap import build_outbox, build_pipeline, open_database
from avsteg.commands.common import add_db_argument, print_json, say, settings_from
from avsteg.domain.errors import ConfigurationError
from avsteg.services.delivery import deliver_due

HELP = "run saved messages (.eml) through the pipeline as if they had arrived in the mailbox"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("files", nargs="+", metavar="FILE.eml")
    add_db_argument(p)
    p.add_argument("--outbox", metavar="DIR", help="write replies as .eml files here (default: SMTP)")
    p.add_argument("--json", action="store_true", help="one JSON object per message on stdout")
    p.add_argument("--no-replies", action="store_true", help="register, but answer nobody")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if not (args.outbox or args.no_replies or settings.smtp.host or settings.worker.outbox_dir):
        raise ConfigurationError("replies have nowhere to go: give --outbox DIR, set smtp.host, "
                                 "or use --no-replies")
    db = open_database(settings)
    pipeline = build_pipeline(settings, db, send_replies=not args.no_replies)
    outbox = build_outbox(settings, args.outbox) if pipeline.replies.send else None
    failures = 0
    for name in args.files:
        path = Path(name)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            say(f"avsteg: cannot read {name}: {exc}")
            failures += 1
            continue
        handled = pipeline.handle(raw)
        reply_path = None
        if outbox is not None and handled.reply_ids:
            for delivery in deliver_due(db, outbox, only=handled.reply_ids):
                reply_path = str(delivery.path) if delivery.path else reply_path
        if handled.outcome == "failed":
            failures += 1
        result = {"file": name, **handled.summary(), "reply": reply_path}
        if args.json:
            print_json(result)
        else:
            refs = ", ".join(handled.references)
            say(f"{name}: {handled.outcome} {refs} ({handled.reason})"
                + (f" → {reply_path}" if reply_path else ""))
    db.dispose()
    return 1 if failures else 0

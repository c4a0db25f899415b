"""``avsteg reprocess MESSAGE-ID``: run a stored message through the pipeline again.

The use case (copies, duplicate checks, who is answered) is :mod:`avsteg.services.reprocess`;
this module wires it to the command line.
"""
from __future__ import annotations

import argparse

from avsteg.bootstrap import build_outbox, build_pipeline, open_database
from avsteg.commands.common import add_db_argument, print_json, say, settings_from
from avsteg.domain.vocabulary import outcome_word
from avsteg.services.delivery import deliver_due
from avsteg.services.reprocess import reprocess

HELP = "run a stored message through the pipeline again (e.g. after a schema fix)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("message_id", metavar="MESSAGE-ID",
                   help="the message's Message-ID (with or without <>), or #ID for a stored row")
    add_db_argument(p)
    p.add_argument("--no-replies", action="store_true", help="answer nobody")
    p.add_argument("--outbox", metavar="DIR", help="write replies as .eml files here (default: SMTP)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    try:
        pipeline = build_pipeline(settings, db, send_replies=not args.no_replies)
        try:
            result = reprocess(pipeline, args.message_id, replies=not args.no_replies)
        except LookupError:
            say(f"avsteg reprocess: inget meddelande med Message-ID {args.message_id} finns lagrat")
            return 1
        handled = result.handled
        reply_paths: list[str] = []
        if handled.reply_ids:
            outbox = build_outbox(settings, args.outbox)
            for delivery in deliver_due(db, outbox, only=handled.reply_ids):
                reply_paths.append(str(delivery.path) if delivery.path else delivery.status)
    finally:
        db.dispose()
    out = {
        **handled.summary(),
        "original": result.original_pk,
        "message": handled.message_pk,
        "previous_outcome": result.previous_outcome,
        "reason": handled.reason,
        "replies": reply_paths,
    }
    if args.json:
        print_json(out)
    else:
        refs = ", ".join(handled.references) or "–"
        before = outcome_word(result.previous_outcome) or "ej behandlat"
        now = outcome_word(handled.outcome)
        reason = f" ({handled.reason})" if handled.reason and handled.reason != handled.outcome \
            else ""
        say(f"Meddelande #{result.original_pk} ({handled.message_id}): "
            f"tidigare {before}, nu {now}{reason}; referenser: {refs}; "
            f"svar: {len(reply_paths)}")
    return 1 if handled.outcome == "failed" else 0

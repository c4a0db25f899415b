"""``avsteg register-anyway MESSAGE-ID``: register a report that was set aside for a person.

For a report from a sender domain outside the allowed ones (or one set aside as possibly
spoofed): it is run through the pipeline as if its domain were allowed, the sender gets the
receipt, and the act is recorded with the person's name. To allow the whole domain from now on,
use ``avsteg trust-domain DOMAIN`` instead.
"""
from __future__ import annotations

import argparse
from collections.abc import Iterable

from avsteg.bootstrap import build_outbox, build_pipeline, open_database
from avsteg.commands.common import (
    actor_from,
    add_actor_argument,
    add_db_argument,
    print_json,
    say,
    settings_from,
)
from avsteg.config.settings import Settings
from avsteg.services import pending as service
from avsteg.services.delivery import deliver_due
from avsteg.storage.database import Database

HELP = "register a report that was set aside (unknown sender domain); the sender gets the receipt"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("message_id", metavar="MESSAGE-ID",
                   help="the message's Message-ID (<> optional) or its pending id (M12)")
    p.add_argument("--reason", help="why (kept in the history)")
    add_actor_argument(p)
    add_db_argument(p)
    p.add_argument("--outbox", metavar="DIR",
                   help="write the receipt here as .eml instead of leaving it to the worker")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    try:
        pipeline = build_pipeline(settings, db)
        try:
            result = service.register_anyway(pipeline, args.message_id, actor=actor_from(args),
                                             reason=args.reason)
        except service.NotPending:
            say(f"avsteg register-anyway: ingen rapport väntar under {args.message_id} "
                "(register-anyway gäller okänd avsändardomän och misstänkt förfalskning; "
                "se avsteg pending)")
            return 1
        handled = result.handled
        sent = deliver_now(settings, db, handled.reply_ids, args.outbox)
    finally:
        db.dispose()
    if args.json:
        print_json({**handled.summary(), "original": f"M{result.original_pk}", "replies": sent})
    refs = ", ".join(handled.references) or "–"
    say(f"M{result.original_pk}: {handled.outcome} ({handled.reason}); referenser: {refs}")
    if handled.reply_ids and not sent:
        say("Svaret ligger i utkorgen och skickas av arbetsprocessen (avsteg run) vid nästa varv.")
    return 1 if handled.outcome == "failed" else 0


def deliver_now(settings: Settings, db: Database, reply_ids: Iterable[int],
                outbox_dir: str | None) -> list[str]:
    """Deliver freshly queued replies at once when they have somewhere to go (an --outbox
    folder, ``worker.outbox_dir`` or SMTP); otherwise they wait in the outbox for the worker.
    What each became: a file path, or the delivery status."""
    ids = list(reply_ids)
    if not ids or not (outbox_dir or settings.worker.outbox_dir or settings.smtp.host):
        return []
    outbox = build_outbox(settings, outbox_dir)
    return [str(d.path) if d.path else d.status for d in deliver_due(db, outbox, only=ids)]

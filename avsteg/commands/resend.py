"""``avsteg resend ID``: queue a reply that could not be delivered again (the worker sends it)."""
from __future__ import annotations

import argparse

from avsteg.bootstrap import open_database
from avsteg.commands.common import (
    actor_from,
    add_actor_argument,
    add_db_argument,
    print_json,
    say,
    settings_from,
)
from avsteg.services import pending as service

HELP = "send a reply that could not be delivered again (queued for the worker)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("item", metavar="ID",
                   help="the pending id of the reply (R3), its Message-ID, or the Message-ID of "
                        "the message it answers")
    p.add_argument("--note", help="why (kept in the history), e.g. the address was corrected")
    add_actor_argument(p)
    add_db_argument(p)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def run(args: argparse.Namespace) -> int:
    db = open_database(settings_from(args), must_exist=True)
    try:
        try:
            reply_pk = service.resend(db, args.item, actor=actor_from(args), note=args.note)
        except service.NotPending:
            say(f"avsteg resend: inget svar som inte kom fram finns under {args.item} "
                "(se avsteg pending --kind undelivered-reply)")
            return 1
    finally:
        db.dispose()
    if args.json:
        print_json({"status": "queued", "id": f"R{reply_pk}"})
    say(f"R{reply_pk} ligger i utkorgen igen och skickas av arbetsprocessen vid nästa varv.")
    return 0

"""``avsteg pending``: what waits for a person (spec 3), and ``avsteg pending resolve ID``.

The list is the one the digest, ``avsteg status`` and the web app show; each item names the
command lines that act on it (register anyway, trust the domain, send again, mark handled).
"""
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
from avsteg.config.settings import Settings
from avsteg.domain.localtime import local_time
from avsteg.services import pending as service

HELP = "what waits for a person: unknown senders, unreadable mail, stale rejections, undelivered replies"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--json", action="store_true",
                   help='one JSON object per line: {"kind", "message_id", "from", "subject", '
                        '"received_at", "reason", "reference", "id", "actions"}')
    p.add_argument("--kind", action="append", choices=service.KINDS,
                   help="only items of this kind (may be repeated)")
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    r = sub.add_parser("resolve", help="mark an item handled, with a note; it leaves the list",
                       description="Mark an item handled, with a note (kept in the history); "
                                   "it leaves the list.")
    r.add_argument("item", metavar="ID", help="the item's id (M12, R3) or its message's Message-ID")
    r.add_argument("--note", required=True, help="what was done, or why nothing needs doing")
    add_actor_argument(r)
    # Also after the action word; SUPPRESS keeps a value given before it.
    r.add_argument("--db", metavar="URL", default=argparse.SUPPRESS, help="database URL")
    r.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS, help="settings file")
    r.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                   help="one JSON object on stdout")




def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    try:
        if args.action == "resolve":
            return _resolve(args, settings, db)
        items = service.pending_items(
            db, kinds=args.kind,
            remind_rejected_after_days=settings.policy.remind_rejected_after_days)
    finally:
        db.dispose()
    if args.json:
        for item in items:
            print_json(item.to_json())
        return 0
    print_items(items)
    return 0


def _resolve(args: argparse.Namespace, settings: Settings, db) -> int:
    try:
        item = service.resolve(
            db, args.item, actor=actor_from(args), note=args.note,
            remind_rejected_after_days=settings.policy.remind_rejected_after_days)
    except service.NotPending:
        say(f"avsteg pending resolve: inget väntar på en person under {args.item} "
            "(se avsteg pending)")
        return 1
    except ValueError:
        say("avsteg pending resolve: skriv en anteckning med --note (vad som gjordes, eller "
            "varför inget behövs)")
        return 2
    if getattr(args, "json", False):
        print_json({"status": "resolved", **item.to_json()})
    say(f"{item.id} ({item.label}) är hanterad och borta från listan. Anteckning: {args.note}")
    return 0


def print_items(items: list[service.PendingItem]) -> None:
    if not items:
        print("Inget väntar på en person.")
        return
    counts = ", ".join(f"{service.KIND_LABELS[k].lower()} {n}"
                       for k, n in service.count_by_kind(items).items())
    print(f"{len(items)} att hantera ({counts}):")
    for item in items:
        when = local_time(item.received_at).strftime("%Y-%m-%d %H:%M") if item.received_at else "–"
        subject = f" ”{item.subject}”" if item.subject else ""
        reference = f" [{item.reference}]" if item.reference else ""
        print()
        print(f"{item.id}  {item.label}{reference}  {when}  {item.sender or 'okänd avsändare'}"
              f"{subject}")
        if item.message_id:
            print(f"    Message-ID: {item.message_id}")
        print(f"    {item.reason}")
        for command in item.commands():
            print(f"    → {command}")

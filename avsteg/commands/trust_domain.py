"""``avsteg trust-domain DOMAIN``: allow a sender domain from now on (subdomains included).

Kept in the database (``trusted_domains``) beside ``policy.allowed_sender_domains`` and the
schema's organisations; the worker uses it from its next message on. Reports of that domain
already set aside are registered at once (their senders get receipts) unless ``--no-register``.
"""
from __future__ import annotations

import argparse

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.commands.common import (
    actor_from,
    add_actor_argument,
    add_db_argument,
    print_json,
    say,
    settings_from,
)
from avsteg.commands.register_anyway import deliver_now
from avsteg.domain.localtime import local_time
from avsteg.services import pending as service

HELP = "allow a sender domain from now on, and register its reports that were set aside"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("domain", metavar="DOMAIN", nargs="?", help="e.g. higab.se (subdomains count)")
    p.add_argument("--list", action="store_true", help="list the domains people have trusted")
    p.add_argument("--reason", help="why (kept in the history)")
    p.add_argument("--no-register", action="store_true",
                   help="only trust the domain; leave its waiting reports on the pending list")
    add_actor_argument(p)
    add_db_argument(p)
    p.add_argument("--outbox", metavar="DIR",
                   help="write receipts here as .eml instead of leaving them to the worker")
    p.add_argument("--json", action="store_true", help="JSON on stdout")


def run(args: argparse.Namespace) -> int:
    if not args.list and not args.domain:
        say("avsteg trust-domain: ange en domän, t.ex. avsteg trust-domain higab.se (eller --list)")
        return 2
    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    try:
        if args.list:
            return _list(args, db)
        try:
            trusted = service.trust_domain(db, args.domain, actor=actor_from(args),
                                           reason=args.reason)
        except ValueError:
            say(f"avsteg trust-domain: {args.domain!r} är inget domännamn (t.ex. higab.se)")
            return 2
        results: list[service.RegisteredAnyway] = []
        if trusted.waiting and not args.no_register:
            results = service.register_waiting(build_pipeline(settings, db), trusted,
                                               actor=actor_from(args), reason=args.reason)
            deliver_now(settings, db, [i for r in results for i in r.handled.reply_ids],
                        args.outbox)
    finally:
        db.dispose()
    if args.json:
        print_json({"domain": trusted.domain, "added": trusted.added,
                    "waiting": [i.to_json() for i in trusted.waiting],
                    "registered": [r.handled.summary() for r in results]})
    say(f"{trusted.domain} är {'nu' if trusted.added else 'redan'} en betrodd avsändardomän.")
    for r in results:
        say(f"  M{r.original_pk}: {r.handled.outcome} {', '.join(r.handled.references)}")
    if trusted.waiting and args.no_register:
        say(f"  {len(trusted.waiting)} rapport(er) från domänen väntar fortfarande: "
            "avsteg register-anyway MESSAGE-ID")
    return 1 if any(r.handled.outcome == "failed" for r in results) else 0


def _list(args: argparse.Namespace, db) -> int:
    rows = service.trusted_domains(db)
    for row in rows:
        if args.json:
            print_json({"domain": row.domain, "added_at": row.added_at.isoformat(),
                        "added_by": row.added_by, "reason": row.reason})
        else:
            print(f"{row.domain}  {local_time(row.added_at):%Y-%m-%d}  {row.added_by}"
                  + (f"  {row.reason}" if row.reason else ""))
    if not rows and not args.json:
        say("Inga betrodda domäner utöver inställningen och mallens organisationer.")
    return 0

"""``avsteg user add|list|remove``: the web app's local accounts (small installations, the demo).

The password is asked for twice at a terminal, or read as one line from standard input when that
is not a terminal (``echo "$PASSWORD" | avsteg user add anna --role handläggare``).
"""

from __future__ import annotations

import argparse
import getpass
import sys

from avsteg.bootstrap import open_database
from avsteg.commands.common import add_db_argument, print_json, say, settings_from
from avsteg.web.accounts import accounts, add_account, remove_account

HELP = "the web app's local accounts: add (or change), list, remove"
ROLES = ("handläggare", "läsare")


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add an account, or give an existing one a new role/password")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=ROLES)
    add_db_argument(add)
    lst = sub.add_parser("list", help="list the accounts")
    lst.add_argument("--json", action="store_true", help="one JSON object per line")
    add_db_argument(lst)
    rm = sub.add_parser("remove", help="remove an account (its open web sessions end)")
    rm.add_argument("name", metavar="NAME")
    add_db_argument(rm)
    for action in (add, lst, rm):  # `avsteg user add NAME --config FILE` reads as people type it
        action.add_argument("--config", metavar="FILE", default=argparse.SUPPRESS,
                            help="settings file (TOML); AVSTEG_* variables win")


def read_password() -> str | None:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Lösenord: ")
    if first != getpass.getpass("Lösenord igen: "):
        say("avsteg user: lösenorden är olika")
        return None
    return first


def run(args: argparse.Namespace) -> int:
    # Adding the first account may come before the worker's first start; listing never creates.
    db = open_database(settings_from(args), must_exist=args.action != "add")
    try:
        if args.action == "list":
            rows = accounts(db)
            for a in rows:
                if args.json:
                    print_json({"name": a.name, "role": a.role, "created_at": a.created_at})
                else:
                    print(f"{a.name}\t{a.role}\t{a.created_at}")
            if not rows and not args.json:
                say("Inga lokala konton.")
            return 0
        if args.action == "remove":
            if not remove_account(db, args.name):
                say(f"avsteg user: det finns inget konto {args.name}")
                return 1
            say(f"Kontot {args.name} är borttaget; dess inloggningar i webben är avslutade.")
            return 0
        password = read_password()
        if password is None:
            return 2
        try:
            created = add_account(db, args.name, args.role, password)
        except ValueError as exc:
            say(f"avsteg user: {exc}")
            return 2
        say(f"Kontot {args.name} ({args.role}) är skapat." if created else
            f"Kontot {args.name} ({args.role}) är ändrat; dess inloggningar i webben är avslutade.")
        return 0
    finally:
        db.dispose()

"""``avsteg check``: settings, schema, database, OAuth token, IMAP login and folders, SMTP login.

One line per check (``OK``/``FEL`` and what was found), nothing touched (spec 4). Exit 0 when
every check passes, 1 when one fails, 2 when the settings themselves are wrong.
"""
from __future__ import annotations

import argparse
import os

from avsteg.bootstrap import build_outbox, make_mailbox
from avsteg.commands.common import add_db_argument, settings_from
from avsteg.config.settings import missing_for_mail
from avsteg.domain.errors import ConfigurationError
from avsteg.services.checks import run_checks, standard_checks

HELP = "check settings, schema, database and the mail logins without touching any mail"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)


def run(args: argparse.Namespace) -> int:
    try:
        settings = settings_from(args)
    except ConfigurationError as exc:
        print(f"FEL settings: {exc}")
        return 2
    source = args.config or os.environ.get("AVSTEG_CONFIG") or "no settings file"
    variables = sum(1 for k in os.environ if k.startswith("AVSTEG_") and "__" in k)
    missing = missing_for_mail(settings)
    if missing:
        print("FEL settings: missing " + ", ".join(missing))
    else:
        print(f"OK  settings: {source}, {variables} AVSTEG_ variables")
    results = run_checks(standard_checks(settings, mailbox_factory=lambda: make_mailbox(settings),
                                         outbox_factory=lambda: build_outbox(settings)))
    for result in results:
        print(result.line(), flush=True)
    if missing:
        return 2
    return 0 if all(r.ok for r in results) else 1

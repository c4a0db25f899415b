"""``avsteg withdraw REF --reason TEXT``: take a report out of the register, keeping its history.

Nothing is deleted: the report gets ``withdrawn_at`` and the reason, its versions stay, ``avsteg
list`` and the export show it as ``återkallad`` and leave it out of the figures. Withdrawing a
report that is withdrawn already changes nothing (the first reason and time stand).
"""
from __future__ import annotations

import argparse

from avsteg.bootstrap import open_database
from avsteg.commands.common import actor_from, add_db_argument, print_json, say, settings_from
from avsteg.storage.history import SYSTEM_ACTOR, record_action
from avsteg.storage.reports import find_report_by_reference, withdraw_report

HELP = "withdraw a report (återkalla): kept with its history, left out of the register's figures"
NO_REASON = "Inget skäl angivet"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("reference", metavar="REF", help="reference number, e.g. AVS-2026-0001")
    p.add_argument("--reason", help="why (kept with the report; shown by show and in the export's "
                   f"Rapporter sheet; default: {NO_REASON!r})")
    p.add_argument("--by", metavar="NAME", help="who withdraws it, for the history (default: "
                   "the login name)")
    add_db_argument(p)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


def withdraw(db, reference: str, reason: str, actor: str = SYSTEM_ACTOR) -> tuple[str, dict]:
    """``("withdrawn" | "already" | "missing", details)``."""
    if not reason.strip():
        raise ValueError("a reason is required")
    with db.unit_of_work() as s:
        report = find_report_by_reference(s, reference)
        if report is None:
            return "missing", {"reference": reference.strip().upper()}
        status = "already" if report.withdrawn_at is not None else "withdrawn"
        if status == "withdrawn":
            withdraw_report(s, report, reason.strip())
            record_action(s, actor=actor, action="withdraw", report_id=report.id,
                          reason=reason.strip())
        assert report.withdrawn_at is not None
        return status, {
            "reference": report.reference,
            "withdrawn_at": report.withdrawn_at.isoformat(),
            "reason": report.withdrawn_reason,
        }


def run(args: argparse.Namespace) -> int:
    db = open_database(settings_from(args), must_exist=True)
    try:
        try:
            reason = NO_REASON if args.reason is None else args.reason
            status, details = withdraw(db, args.reference, reason, actor_from(args))
        except ValueError:
            say("avsteg withdraw: ange ett skäl med --reason")
            return 2
    finally:
        db.dispose()
    if args.json:
        print_json({"status": status, **details})
    if status == "missing":
        say(f"avsteg withdraw: det finns ingen rapport {details['reference']}")
        return 1
    if status == "already":
        say(f"{details['reference']} var redan återkallad ({details['withdrawn_at'][:16]}): "
            f"{details['reason']}")
        return 0
    say(f"{details['reference']} är återkallad. Skäl: {details['reason']}")
    return 0

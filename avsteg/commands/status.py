"""``avsteg status``: is the worker alive, and is anything waiting?"""
from __future__ import annotations

import argparse
import datetime as dt

from avsteg.bootstrap import open_database
from avsteg.commands.common import add_db_argument, print_json, settings_from
from avsteg.domain.errors import LOGIN_REFUSED
from avsteg.domain.localtime import show_time
from avsteg.services.pending import count_by_kind, pending_items
from avsteg.storage.database import Database
from avsteg.storage.read_model import service_status

HELP = "last successful poll, backlog, queued and failed replies"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", action="store_true",
                   help="exit 1 when unhealthy: no successful poll within 3 poll intervals, or a refused login")


def gather(db: Database, now: dt.datetime) -> dict:
    with db.unit_of_work(readonly=True) as s:
        status = service_status(s)
    return {
        "polls": [
            {
                "account": p.account, "folder": p.folder,
                "last_poll_at": p.last_poll_at.isoformat() if p.last_poll_at else None,
                "last_success_at": p.last_success_at.isoformat() if p.last_success_at else None,
                "last_error": p.last_error,
            }
            for p in status.polls
        ],
        "backlog": status.backlog,
        "failed_messages": status.message_states.get("failed", 0),
        "outcomes": dict(status.outcomes),
        "replies_queued": status.replies.get("queued", 0),
        "replies_failed": status.replies.get("failed", 0),
        "replies_sent": status.replies.get("sent", 0),
    }


def problems(polls: list[dict], now: dt.datetime, poll_interval_seconds: float) -> list[str]:
    """Why the worker is not healthy (empty: healthy). ``--json`` and ``--check`` both use it.

    Unhealthy: no successful poll within three intervals (plus a minute), or the latest poll
    of a mailbox ended in a refused login — that does not heal by itself, however recent the
    last success.
    """
    found = []
    limit = dt.timedelta(seconds=3 * poll_interval_seconds + 60)
    last = max((p["last_success_at"] for p in polls if p["last_success_at"]), default=None)
    if last is None:
        found.append("no successful poll yet")
    elif now - dt.datetime.fromisoformat(last) > limit:
        found.append(f"no successful poll since {show_time(last)}")
    for p in polls:
        if p["last_error"] and LOGIN_REFUSED in p["last_error"]:
            found.append(f"{p['account']}: {p['last_error']}")
    return found


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    now = dt.datetime.now(dt.UTC)
    try:
        info = gather(db, now)
        waiting = pending_items(
            db, now=now, remind_rejected_after_days=settings.policy.remind_rejected_after_days)
    finally:
        db.dispose()
    info["pending"] = {"count": len(waiting), "kinds": count_by_kind(waiting)}
    found = problems(info["polls"], now, settings.worker.poll_interval_seconds)
    healthy = not found
    if args.json:
        print_json({**info, "healthy": healthy, "problems": found})
    else:
        for p in info["polls"] or [{"account": "-", "folder": "-", "last_success_at": None,
                                     "last_poll_at": None, "last_error": None}]:
            print(f"mailbox {p['account']}/{p['folder']}: last successful poll "
                  f"{show_time(p['last_success_at'], 'never')}"
                  + (f" (last error: {p['last_error']})" if p["last_error"] else ""))
        print(f"backlog: {info['backlog']} messages waiting ({info['failed_messages']} failed at least once)")
        print(f"replies: {info['replies_queued']} queued, {info['replies_failed']} failed, {info['replies_sent']} sent")
        kinds = ", ".join(f"{k} {n}" for k, n in info["pending"]["kinds"].items())
        print(f"pending: {info['pending']['count']} waiting for a person"
              + (f" ({kinds}; see avsteg pending)" if kinds else ""))
        print("outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(info["outcomes"].items())) or "none"))
        print("health: " + ("OK" if healthy else "FEL – " + "; ".join(found)) + " (times: Stockholm)")
    return 0 if healthy or not args.check else 1

"""``avsteg run [--once] [--no-replies]``: the mailbox worker."""
from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from avsteg.bootstrap import build_worker, make_mailbox, open_database, scheduled_jobs
from avsteg.commands.common import add_db_argument, say, settings_from
from avsteg.commands.worker_service import Service, run_service
from avsteg.config.settings import Settings, require_mail_settings
from avsteg.domain.errors import TransientError
from avsteg.logs import setup_logging

EX_TEMPFAIL = 75

HELP = "watch the mailbox: register reports, answer senders, file messages away"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_db_argument(p)
    p.add_argument("--once", action="store_true", help="poll once and exit (cron, systemd timers)")
    p.add_argument("--no-replies", action="store_true",
                   help="register without answering anyone (backfill of a mailbox's history)")
    p.add_argument("--log-format", choices=("text", "json"), help="overrides worker.log_format")


def run(args: argparse.Namespace) -> int:
    settings = settings_from(args)
    if args.no_replies:
        settings.worker.send_replies = False
    require_mail_settings(settings, replies=not args.no_replies)  # all missing ones at once
    setup_logging(args.log_format or settings.worker.log_format)
    try:
        return _run(args, settings, open_database)
    except TransientError as exc:
        # Ours and temporary (database or mailbox unreachable): nothing was answered or moved;
        # the next run retries. EX_TEMPFAIL tells cron/systemd it is worth trying again.
        say(f"avsteg run: {exc}; nothing was answered, the next run tries again")
        return EX_TEMPFAIL


def _run(args: argparse.Namespace, settings: Settings, open_database: Callable[..., Any]) -> int:
    db = open_database(settings)
    try:
        if not args.once:
            run_service(Service(settings, build_worker(settings, db),
                                watcher_factory=lambda: make_mailbox(settings),
                                extra_jobs=scheduled_jobs(settings, db)))
            return 0
        worker = build_worker(settings, db, send_replies=not args.no_replies)
        report = _poll_with_progress(worker) if args.no_replies else worker.poll_once()
        counts: dict[str, int] = {}
        for h in report.handled:
            counts[h.outcome] = counts.get(h.outcome, 0) + 1
        summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "nothing new"
        say(f"avsteg run --once: {report.seen} in {worker.folder}; {summary}; "
            f"{report.delivered} replies sent; {report.filed} filed away")
        return 1 if counts.get("failed") else 0
    finally:
        db.dispose()


def _poll_with_progress(worker):
    """Backfill: a progress bar on stderr while the history is registered."""
    # rich.progress only for a backfill: the worker's start-up does not pay for it.
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress("[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn(), transient=False) as bar:
        task = bar.add_task("Registrerar", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        return worker.poll_once(progress=progress)

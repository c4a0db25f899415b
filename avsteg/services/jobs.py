"""The register's scheduled jobs: the weekly digest and the December reminders.

:func:`add_jobs` is called by the service (:mod:`avsteg.commands.worker_service`) with its APScheduler;
each job is off unless configured (``schedules.digest_address``, ``schedules.reminders``).

Jobs only *queue* mail in the outbox; the worker's poll delivers whatever is due (one thread
delivers, so a reply is never sent twice by two threads racing over the same queued row).

Sending once, whatever happens:

* a reminder is recorded (``reminders_sent``, unique per organisation, year and kind) in the
  same unit of work that queues it; a second worker or a restart finds the record and skips it;
* a digest carries a Message-ID derived from its day, and the outbox's Message-ID is unique.

Late is better than never: the reminder check runs daily (and shortly after start) and acts
whenever today is on or after the configured date, so a worker that was down on 1 December
still reminds when it comes back. In one run an organisation gets at most one reminder, and a
second reminder only follows a first one sent before the second date.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from avsteg.config.schema import load_schema
from avsteg.config.settings import Settings
from avsteg.domain.errors import ConfigurationError
from avsteg.domain.localtime import TIMEZONE, local_time
from avsteg.domain.register import ProblemLine
from avsteg.domain.replies.addresses import message_bytes
from avsteg.domain.replies.digest import (
    compose_digest,
    digest_message_id,
)
from avsteg.domain.replies.reminders import Debtor, Which, compose_reminder, who_owes_annual
from avsteg.domain.schema import Schema
from avsteg.services.pending import PendingItem, collect_pending
from avsteg.storage import ledger
from avsteg.storage import outbox as reply_store
from avsteg.storage.database import Database, Session
from avsteg.storage.read_model import digest_data, register_rows

log = logging.getLogger("avsteg.jobs")

REMINDER_CHECK_HOUR = 8  # local time; the check also runs once shortly after start
DIGEST_DAYS = 7


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def month_day(text: str, year: int) -> dt.date:
    """``"12-01"`` in ``year`` as a date; a bad setting stops the service at start-up."""
    try:
        month, day = (int(part) for part in text.strip().split("-"))
        return dt.date(year, month, day)
    except ValueError as exc:
        raise ConfigurationError(f"schedules: {text!r} is not a date MM-DD") from exc


# -- the weekly digest ----------------------------------------------------------------------


def queue_digest(settings: Settings, db: Database, *, schema: Schema | None = None,
                 now: dt.datetime | None = None) -> int | None:
    """Queue this week's digest; the reply's id, or None when it was queued already."""
    address = settings.schedules.digest_address
    if not address:
        return None
    # Imported here: openpyxl (with numpy) adds ~0.3 s to the worker's start-up for a weekly job.
    from avsteg.register.export import build_xlsx  # see above: start-up time

    schema = schema or load_schema(settings.schema_file)
    now = now or _utcnow()
    service = settings.policy.service_address
    message_id = digest_message_id(local_time(now).date(), service)
    with db.unit_of_work(readonly=True) as s:
        if reply_store.reply_exists(s, message_id):
            log.info("digest %s was queued already", message_id)
            return None
        data = digest_data(s, now - dt.timedelta(days=DIGEST_DAYS), now)
        waiting = collect_pending(
            s, now=now, remind_rejected_after_days=settings.policy.remind_rejected_after_days)
        data = dataclasses.replace(data, pending=[_pending_line(i) for i in waiting])
        register = register_rows(s, schema=schema)
    xlsx = build_xlsx(register, schema, generated_at=now)
    message = compose_digest(data, to=address, xlsx=xlsx, service_address=service,
                             service_name=settings.policy.service_name, now=now)
    with db.unit_of_work() as s:
        if reply_store.reply_exists(s, message_id):
            return None
        row = reply_store.queue_reply(
            s, message=None, report=None, kind="digest", recipient=address,
            subject=str(message["Subject"]), message_id_header=message_id,
            raw=message_bytes(message), now=now,
        )
        log.info("digest queued for %s (%d new, %d changed, %d waiting)", address,
                 len(data.new_reports), len(data.changed_reports), data.waiting)
        return row.id


def _pending_line(item: PendingItem) -> ProblemLine:
    commands = item.commands()
    action = f" Åtgärd: {commands[0]}" if commands else ""
    return ProblemLine(item.received_at, item.sender, item.subject,
                       f"{item.id} {item.label}: {item.reason}{action}")


# -- December reminders ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReminderPlan:
    """One reminder that is due: to whom, which one, for which year."""

    debtor: Debtor
    year: int
    which: Which


def plan_reminders(
    s: Session,
    schema: Schema,
    year: int,
    *,
    today: dt.date,
    which: Which | None = None,
    second_from: dt.date | None = None,
) -> list[ReminderPlan]:
    """Who gets which reminder now.

    ``which`` forces one kind (to everyone who owes and has not had it). Without it: a first
    reminder to whoever has had none; from ``second_from`` on, a second one to whoever had
    the first before that date and still owes (someone reminded late for the first time is
    not reminded again the next day).
    """
    # ReportRow carries the status who_owes_annual needs to leave withdrawn reports out.
    reports: Sequence[Any] = register_rows(s, year=year, schema=schema).reports
    debtors = who_owes_annual(reports, year, schema)
    sent = ledger.reminders_sent_in(s, year)
    plans = []
    for debtor in debtors:
        first_at, second_at = sent.get((debtor.key, "first")), sent.get((debtor.key, "second"))
        kind: Which | None = None
        if which == "first":
            kind = "first" if first_at is None else None
        elif which == "second":
            kind = "second" if second_at is None else None
        elif first_at is None:
            kind = "first"
        elif (second_at is None and second_from is not None and today >= second_from
              and local_time(first_at).date() < second_from):
            kind = "second"
        if kind is not None:
            plans.append(ReminderPlan(debtor, year, kind))
    return plans


def queue_reminders(settings: Settings, db: Database, plans: Sequence[ReminderPlan], *,
                    schema: Schema, now: dt.datetime | None = None) -> list[int]:
    """Record and queue each reminder in one unit of work; skip those recorded meanwhile."""
    # Imported here: python-docx adds ~0.3 s to the worker's start-up for a December job.
    from avsteg.forms.docx_template import build_docx  # see above: start-up time

    now = now or _utcnow()
    template = (f"{schema.kinds['annual']}.docx", build_docx(schema, "annual"),
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    ids = []
    for plan in plans:
        message = compose_reminder(
            plan.debtor, plan.year, plan.which, schema, settings.policy.service_address,
            settings.policy.service_name, now, attachments=[template],
        )
        with db.unit_of_work() as s:
            if not ledger.record_reminder(s, plan.debtor.key, plan.year, plan.which, now=now):
                log.info("%s reminder %s to %s was sent already", plan.which, plan.year,
                         plan.debtor.organisation)
                continue
            row = reply_store.queue_reply(
                s, message=None, report=None, kind="reminder", recipient=plan.debtor.contact_email,
                subject=str(message["Subject"]), message_id_header=str(message["Message-ID"]),
                raw=message_bytes(message), now=now,
            )
            ids.append(row.id)
        log.info("%s reminder %s queued for %s (%s)", plan.which, plan.year,
                 plan.debtor.organisation, plan.debtor.contact_email)
    return ids


def run_reminder_check(settings: Settings, db: Database, *, schema: Schema | None = None,
                       now: dt.datetime | None = None) -> list[int]:
    """The daily job: queue whatever reminder is due today (nothing before the first date)."""
    now = now or _utcnow()
    today = local_time(now).date()
    first = month_day(settings.schedules.first_reminder, today.year)
    second = month_day(settings.schedules.second_reminder, today.year)
    if today < first:
        return []
    schema = schema or load_schema(settings.schema_file)
    with db.unit_of_work(readonly=True) as s:
        plans = plan_reminders(s, schema, today.year, today=today, second_from=second)
    return queue_reminders(settings, db, plans, schema=schema, now=now)


# -- wiring into the service's scheduler -----------------------------------------------------


def _logged(name: str, fn: Any, *args: Any) -> Any:
    def job() -> None:
        try:
            fn(*args)
        except Exception:  # a failed job is logged and tried again at its next time
            log.exception("scheduled job %s failed; it runs again at its next time", name)
    job.__name__ = f"avsteg_{name}"
    return job


def add_jobs(scheduler: Any, settings: Settings, db: Database) -> list[str]:
    """Add the configured jobs to an APScheduler 3 scheduler; returns their ids."""
    from apscheduler.triggers.cron import CronTrigger

    config = settings.schedules
    added = []
    if config.digest_address:
        scheduler.add_job(
            _logged("digest", queue_digest, settings, db),
            CronTrigger(day_of_week=config.digest_day_of_week, hour=config.digest_hour,
                        minute=0, timezone=TIMEZONE),
            id="digest", name="weekly digest", max_instances=1, coalesce=True,
            misfire_grace_time=6 * 3600, replace_existing=True,
        )
        added.append("digest")
    if config.reminders:
        for text in (config.first_reminder, config.second_reminder):
            month_day(text, 2000)  # a typo in the settings fails at start, not in December
        scheduler.add_job(
            _logged("reminders", run_reminder_check, settings, db),
            CronTrigger(hour=REMINDER_CHECK_HOUR, minute=0, timezone=TIMEZONE),
            id="reminders", name="December reminders", max_instances=1, coalesce=True,
            misfire_grace_time=None, replace_existing=True,
            next_run_time=_utcnow() + dt.timedelta(minutes=1),  # catch up after a restart
        )
        added.append("reminders")
    return added

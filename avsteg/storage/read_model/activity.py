"""What happened lately, and what waits: the weekly digest's facts and the service's status."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import Session

from avsteg.domain.register import DigestData, ProblemLine, ReportLine
from avsteg.domain.vocabulary import CHANGE_NEW, CHANGE_NEW_VERSION, CHANGE_WITHDRAWN
from avsteg.storage import models as m
from avsteg.storage.ledger import poll_states
from avsteg.storage.outbox import outbox_counts
from avsteg.storage.read_model.views import PollView, ServiceStatus
from avsteg.storage.reports import current_version, current_versions


def _line(report: m.Report, version: m.ReportVersion, change: str) -> ReportLine:
    return ReportLine(
        reference=report.reference, version=version.version,
        organisation=version.organisation or "", report_type=version.report_type or "",
        year=version.year, deviations=len(version.deviations),
        jobs_created=sum(d.jobs_created or 0 for d in version.deviations), change=change,
    )


def digest_data(s: Session, since: dt.datetime, until: dt.datetime) -> DigestData:
    """What the digest says about ``[since, until)``: new, changed, rejected, failed, undelivered."""
    new, changed = [], []
    touched = select(m.ReportVersion.report_id).where(
        m.ReportVersion.created_at >= since, m.ReportVersion.created_at < until)
    query = (
        select(m.Report)
        .where(or_(m.Report.id.in_(touched),
                   and_(m.Report.withdrawn_at >= since, m.Report.withdrawn_at < until)))
        .order_by(m.Report.year, m.Report.number)
    )
    for report in s.scalars(query):
        newest = current_version(s, report)
        if report.withdrawn_at is not None and since <= report.withdrawn_at < until:
            changed.append(_line(report, newest, CHANGE_WITHDRAWN))
        elif since <= report.created_at < until:
            new.append(_line(report, newest, CHANGE_NEW))
        elif report.current_version > 1 and since <= newest.created_at < until:
            changed.append(_line(report, newest, CHANGE_NEW_VERSION))

    rejected = [
        ProblemLine(row.processed_at, row.sender, row.subject, _rejection(s, row))
        for row in s.scalars(
            select(m.MessageRow)
            .where(m.MessageRow.outcome == "rejected", m.MessageRow.processed_at >= since,
                   m.MessageRow.processed_at < until)
            .order_by(m.MessageRow.id)
        )
    ]
    failed = [
        ProblemLine(row.received_at, row.sender, row.subject,
                    f"{row.attempts} försök; senaste fel: {row.last_error or 'okänt'}")
        for row in s.scalars(
            select(m.MessageRow).where(m.MessageRow.state == "failed").order_by(m.MessageRow.id)
        )
    ]
    # A reply gives up within hours of being queued; a day's overlap catches those queued
    # just before the previous digest without listing old failures week after week.
    replies = [
        ProblemLine(row.created_at, row.recipient, row.subject,
                    f"{row.kind}, {row.attempts} försök; {row.last_error or 'okänt fel'}")
        for row in s.scalars(
            select(m.ReplyRow)
            .where(m.ReplyRow.status == "failed",
                   m.ReplyRow.created_at >= since - dt.timedelta(days=1))
            .order_by(m.ReplyRow.id)
        )
    ]
    active = current_versions(s)
    return DigestData(
        period_start=since, period_end=until, new_reports=new, changed_reports=changed,
        rejected_messages=rejected, failed_messages=failed, failed_replies=replies,
        register_reports=len(active),
        register_deviations=sum(len(v.deviations) for v in active),
    )


def _rejection(s: Session, row: m.MessageRow) -> str:
    first = s.scalars(
        select(m.ProblemRow.message)
        .where(m.ProblemRow.message_id == row.id, m.ProblemRow.severity == "error")
        .order_by(m.ProblemRow.id)
        .limit(1)
    ).first()
    count = s.execute(
        select(func.count(m.ProblemRow.id)).where(
            m.ProblemRow.message_id == row.id, m.ProblemRow.severity == "error")
    ).scalar_one()
    if first is None:
        return f"Ingen läsbar mall ({row.reason or 'okänd orsak'})."
    more = f" (och {count - 1} fel till)" if count > 1 else ""
    return f"{first}{more}"


def service_status(s: Session) -> ServiceStatus:
    """Polls per mailbox folder, messages per state and outcome, replies per status."""
    polls = tuple(PollView(p.account, p.folder, p.last_poll_at, p.last_success_at, p.last_error)
                  for p in poll_states(s))
    states = s.execute(
        select(m.MessageRow.state, func.count()).group_by(m.MessageRow.state)).all()
    outcomes = s.execute(
        select(m.MessageRow.outcome, func.count()).where(m.MessageRow.outcome.is_not(None))
        .group_by(m.MessageRow.outcome)).all()
    return ServiceStatus(
        polls=polls,
        message_states={state: int(n) for state, n in states},
        outcomes={str(outcome): int(n) for outcome, n in outcomes},
        replies=outbox_counts(s),
    )

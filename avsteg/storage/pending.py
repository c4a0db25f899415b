"""What waits for a person (spec 3, *att hantera*), as the database knows it.

Five kinds of rows wait, found in three places:

* set aside on the message itself (``messages.pending``: ``unknown-domain``, ``unreadable``,
  ``suspected-spoofing``) — the pipeline or the robustness checks put it there;
* derived from other rows: a message that failed for a reason of ours until the worker gave up
  (listed as ``unreadable``), a rejected message whose sender registered nothing afterwards
  (``rejected-no-correction``), a reply that failed for good (``undelivered-reply``).

A derived item leaves the list when its cause goes away (the sender sent a correction, the reply
was queued again) or when a person marks it handled (``pending_handled``). Also here: the sender
domains a person trusts.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avsteg.storage.messages import utcnow
from avsteg.storage.models import (
    MessageRow,
    PendingHandled,
    ProblemRow,
    ReplyRow,
    Report,
    ReportVersion,
    TrustedDomain,
)


@dataclass(frozen=True)
class WaitingRow:
    """One row that waits for a person, with the technical detail (English) of why."""

    kind: str
    message_pk: int | None
    reply_pk: int | None
    message_id: str | None  # the Message-ID header of the message concerned
    sender: str | None
    subject: str | None
    received_at: dt.datetime | None
    detail: str | None  # messages.reason, last_error, or the reply's last error
    reference: str | None = None
    recipient: str | None = None  # undelivered replies: to whom
    reply_kind: str | None = None
    attempts: int = 0
    since: dt.datetime | None = None  # when it started to wait (processed_at, reply created)
    set_aside: bool = False  # on messages.pending (else derived from other rows)
    cut_size: int | None = None  # the message's size when only its headers were stored


# -- trusted domains ------------------------------------------------------------------------


def trusted_domains(s: Session) -> list[str]:
    return list(s.scalars(select(TrustedDomain.domain).order_by(TrustedDomain.domain)))


def trusted_domain_rows(s: Session) -> list[TrustedDomain]:
    return list(s.scalars(select(TrustedDomain).order_by(TrustedDomain.domain)))


def add_trusted_domain(
    s: Session, domain: str, *, actor: str, reason: str | None = None, now: dt.datetime | None = None
) -> bool:
    """Trust ``domain`` (already normalised); False when it was trusted before (kept as it was)."""
    if s.get(TrustedDomain, domain) is not None:
        return False
    s.add(TrustedDomain(domain=domain, added_at=now or utcnow(), added_by=actor[:200],
                        reason=reason))
    s.flush()
    return True


# -- what waits -------------------------------------------------------------------------------


def _message_row(kind: str, m: MessageRow, detail: str | None, *, set_aside: bool = False
                 ) -> WaitingRow:
    return WaitingRow(
        kind=kind, message_pk=m.id, reply_pk=None, message_id=m.message_id_header,
        sender=m.sender, subject=m.subject, received_at=m.received_at, detail=detail,
        attempts=m.attempts or 0, since=m.processed_at or m.stored_at, set_aside=set_aside,
        cut_size=m.size if m.cut else None,
    )


def _handled(s: Session, kind: str) -> tuple[set[int], set[int]]:
    """Message and reply ids of ``kind`` that a person marked handled."""
    rows = s.execute(
        select(PendingHandled.message_id, PendingHandled.reply_id).where(PendingHandled.kind == kind)
    )
    messages, replies = set(), set()
    for message_id, reply_id in rows:
        if reply_id is not None:
            replies.add(int(reply_id))
        elif message_id is not None:
            messages.add(int(message_id))
    return messages, replies


def set_aside_rows(s: Session) -> list[WaitingRow]:
    query = select(MessageRow).where(MessageRow.pending.is_not(None)).order_by(MessageRow.id)
    return [_message_row(str(m.pending), m, m.reason or m.last_error, set_aside=True)
            for m in s.scalars(query)]


def exhausted_rows(s: Session, *, max_attempts: int) -> list[WaitingRow]:
    """Messages that failed for a reason of ours until the worker stopped trying."""
    handled, _ = _handled(s, "unreadable")
    query = (
        select(MessageRow)
        .where(MessageRow.state == "failed", MessageRow.attempts >= max_attempts,
               MessageRow.pending.is_(None))
        .order_by(MessageRow.id)
    )
    return [_message_row("unreadable", m, m.last_error) for m in s.scalars(query)
            if m.id not in handled]


def stale_rejection_rows(s: Session, *, rejected_before: dt.datetime) -> list[WaitingRow]:
    """Rejected messages older than ``rejected_before`` after which their sender registered
    nothing (no report version from a message of theirs received at or after it).

    The registrations per sender are gathered once (one grouped query) rather than asked per
    rejected message, so the list stays fast with tens of thousands of reports.
    """
    handled, _ = _handled(s, "rejected-no-correction")
    candidates = list(s.scalars(
        select(MessageRow)
        .where(MessageRow.outcome == "rejected", MessageRow.processed_at <= rejected_before,
               MessageRow.pending.is_(None), MessageRow.reprocessed_from.is_(None))
        .order_by(MessageRow.id)
    ))
    candidates = [m for m in candidates if m.id not in handled]
    if not candidates:
        return []
    # Senders are compared case-folded in Python: SQL's lower() folds ASCII only on SQLite
    # (and on a PostgreSQL with a C locale), so "Åsa@…" and "åsa@…" would be two people.
    latest: dict[str, dt.datetime] = {}
    registered = (
        select(MessageRow.sender, func.max(MessageRow.received_at))
        .join(ReportVersion, ReportVersion.message_id == MessageRow.id)
        .where(MessageRow.sender.is_not(None))
        .group_by(MessageRow.sender)
    )
    for sender, when in s.execute(registered):
        if sender and when is not None:
            key = sender.casefold()
            latest[key] = max(latest.get(key, _aware(when)), _aware(when))
    stale = []
    for m in candidates:
        last = latest.get((m.sender or "").casefold())
        if last is not None and m.received_at is not None and last >= m.received_at:
            continue  # corrected (or registered something else) since
        stale.append(m)
    first_error: dict[int, str] = {}
    if stale:
        errors = s.execute(
            select(ProblemRow.message_id, ProblemRow.message)
            .where(ProblemRow.message_id.in_([m.id for m in stale]), ProblemRow.severity == "error")
            .order_by(ProblemRow.id)
        )
        for message_pk, text in errors:
            first_error.setdefault(int(message_pk), text)
    return [_message_row("rejected-no-correction", m, first_error.get(m.id, m.reason))
            for m in stale]


def undelivered_rows(s: Session) -> list[WaitingRow]:
    _, handled = _handled(s, "undelivered-reply")
    query = (
        select(ReplyRow, MessageRow, Report.reference)
        .outerjoin(MessageRow, ReplyRow.message_id == MessageRow.id)
        .outerjoin(Report, ReplyRow.report_id == Report.id)
        .where(ReplyRow.status == "failed")
        .order_by(ReplyRow.id)
    )
    out = []
    for reply, message, reference in s.execute(query):
        if reply.id in handled:
            continue
        out.append(WaitingRow(
            kind="undelivered-reply", reply_pk=reply.id,
            message_pk=message.id if message is not None else None,
            message_id=message.message_id_header if message is not None else reply.message_id_header,
            sender=message.sender if message is not None else reply.recipient,
            subject=message.subject if message is not None else reply.subject,
            received_at=message.received_at if message is not None else reply.created_at,
            detail=reply.last_error, reference=reference, recipient=reply.recipient,
            reply_kind=reply.kind, attempts=reply.attempts, since=reply.created_at,
        ))
    return out


def _aware(value: dt.datetime) -> dt.datetime:
    # max() over a UtcDateTime column comes back as the driver's type on SQLite: naive UTC text.
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


# -- acting -----------------------------------------------------------------------------------


def mark_handled(
    s: Session, kind: str, *, message_pk: int | None = None, reply_pk: int | None = None,
    actor: str, note: str | None = None, now: dt.datetime | None = None,
) -> None:
    """A derived item leaves the list for good (a second mark changes nothing)."""
    existing = s.scalars(select(PendingHandled).where(
        PendingHandled.kind == kind,
        PendingHandled.message_id.is_(None) if message_pk is None
        else PendingHandled.message_id == message_pk,
        PendingHandled.reply_id.is_(None) if reply_pk is None
        else PendingHandled.reply_id == reply_pk,
    )).first()
    if existing is not None:
        return
    s.add(PendingHandled(kind=kind, message_id=message_pk, reply_id=reply_pk,
                         handled_at=now or utcnow(), handled_by=actor[:200], note=note))
    s.flush()


def find_messages(s: Session, key: str) -> list[MessageRow]:
    """Stored messages by ``#123``/``M123`` (row id) or Message-ID (with or without <>)."""
    text = key.strip()
    if text[:1] in "#Mm" and text[1:].isdigit():
        row = s.get(MessageRow, int(text[1:]))
        return [row] if row is not None else []
    bare = text.strip("<>")
    return list(s.scalars(
        select(MessageRow).where(MessageRow.message_id_header.in_({bare, f"<{bare}>"}))
        .order_by(MessageRow.id)
    ))


def find_replies(s: Session, key: str) -> list[ReplyRow]:
    """Replies by ``R45`` (row id) or their own Message-ID (with or without <>)."""
    text = key.strip()
    if text[:1] in "Rr" and text[1:].isdigit():
        row = s.get(ReplyRow, int(text[1:]))
        return [row] if row is not None else []
    bare = text.strip("<>")
    return list(s.scalars(
        select(ReplyRow).where(ReplyRow.message_id_header.in_({bare, f"<{bare}>"}))
    ))


def references_of_messages(s: Session, message_pks: Iterable[int]) -> dict[int, list[str]]:
    """The reports each message registered a version of (one query for all of them)."""
    pks = sorted(set(message_pks))
    if not pks:
        return {}
    query = (
        select(ReportVersion.message_id, Report.reference)
        .join(Report, ReportVersion.report_id == Report.id)
        .where(ReportVersion.message_id.in_(pks)).order_by(Report.id)
    )
    out: dict[int, list[str]] = {}
    for message_pk, reference in s.execute(query):
        refs = out.setdefault(int(message_pk), [])
        if reference not in refs:
            refs.append(reference)
    return out


def report_by_reference(s: Session, references: Iterable[str]) -> Report | None:
    for reference in references:
        report = s.scalars(select(Report).where(Report.reference == reference)).first()
        if report is not None:
            return report
    return None

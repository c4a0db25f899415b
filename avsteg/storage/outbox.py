"""The outbox: replies are stored before they are sent, and kept after.

Composing a reply and delivering it are separate: the pipeline queues the finished message
(its bytes and our Message-ID) in the same unit of work that registers the report, so a reply
is never sent for something that was rolled back, and never lost when SMTP is down. The sender
loop takes :func:`due_replies`, and marks each sent, or failed with a backoff.

State machine: ``queued`` → ``sent``; ``queued`` → ``queued`` (temporary failure, retried
after ``base · 2^(attempts-1)`` seconds, at most ``max_delay``) → … → ``failed`` (permanent
failure, or ``max_attempts`` used up; left for a person).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avsteg.storage.messages import utcnow
from avsteg.storage.models import REPLY_KINDS, MessageRow, ReplyRow, Report

DEFAULT_BACKOFF_SECONDS = 30.0
DEFAULT_MAX_ATTEMPTS = 8
DEFAULT_MAX_DELAY_SECONDS = 6 * 3600.0


def queue_reply(
    s: Session,
    *,
    message: MessageRow | None,
    report: Report | None,
    kind: str,
    recipient: str,
    subject: str | None,
    message_id_header: str,
    raw: bytes,
    now: dt.datetime | None = None,
) -> ReplyRow:
    """Put a composed reply in the outbox, due at once."""
    if kind not in REPLY_KINDS:
        raise ValueError(f"unknown reply kind {kind!r}")
    now = now or utcnow()
    row = ReplyRow(
        message_id=message.id if message is not None else None,
        report_id=report.id if report is not None else None,
        kind=kind,
        recipient=recipient.strip().lower(),
        subject=subject,
        message_id_header=message_id_header.strip(),
        raw=raw,
        status="queued",
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    s.add(row)
    s.flush()
    return row


def due_replies(s: Session, now: dt.datetime | None = None, *, limit: int = 50) -> list[ReplyRow]:
    """Queued replies whose time has come, oldest first.

    On PostgreSQL the rows are locked (SKIP LOCKED) until the unit of work ends: a second
    sender skips them only while that unit of work is open. Sending outside it is safe as
    long as one worker (the lease holder) sends.
    """
    query = (
        select(ReplyRow)
        .where(ReplyRow.status == "queued", ReplyRow.next_attempt_at <= (now or utcnow()))
        .order_by(ReplyRow.next_attempt_at, ReplyRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(s.scalars(query))


def mark_reply_sent(s: Session, reply: ReplyRow, now: dt.datetime | None = None) -> None:
    reply.status = "sent"
    reply.attempts += 1
    reply.sent_at = now or utcnow()
    reply.next_attempt_at = None
    reply.last_error = None
    s.flush()


def backoff_delay(
    attempts: int,
    *,
    base_seconds: float = DEFAULT_BACKOFF_SECONDS,
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS,
) -> dt.timedelta:
    """How long to wait after the ``attempts``-th failure: base, 2·base, 4·base, … capped."""
    exponent = max(attempts - 1, 0)
    seconds = base_seconds * (2 ** min(exponent, 30))
    return dt.timedelta(seconds=min(seconds, max_delay_seconds))


def mark_reply_failed(
    s: Session,
    reply: ReplyRow,
    error: str,
    *,
    permanent: bool,
    now: dt.datetime | None = None,
    base_seconds: float = DEFAULT_BACKOFF_SECONDS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS,
) -> None:
    """Count a failed delivery: retry later with backoff, or give up (permanent / too many)."""
    now = now or utcnow()
    reply.attempts += 1
    reply.last_error = error[:4000]
    if permanent or reply.attempts >= max_attempts:
        reply.status = "failed"
        reply.next_attempt_at = None
    else:
        reply.status = "queued"
        reply.next_attempt_at = now + backoff_delay(
            reply.attempts, base_seconds=base_seconds, max_delay_seconds=max_delay_seconds
        )
    s.flush()


def replies_sent_to(s: Session, recipient: str, since: dt.datetime) -> int:
    """Replies queued or sent to ``recipient`` since ``since`` (the per-sender rate limit)."""
    query = select(func.count(ReplyRow.id)).where(
        ReplyRow.recipient == recipient.strip().lower(),
        ReplyRow.created_at >= since,
        ReplyRow.status != "failed",
    )
    return int(s.execute(query).scalar_one())


def unproductive_replies_to(s: Session, recipient: str, since: dt.datetime) -> int:
    """Replies to ``recipient`` since ``since`` for messages that registered nothing.

    The per-sender rate limit counts these: error and help replies and "already registered"
    receipts are what a mail loop or a confused sender produces without end. A receipt for a
    report that entered the register answers something a person really sent, and is never held
    back (nor counted).
    """
    query = (
        select(func.count(ReplyRow.id))
        .join(MessageRow, ReplyRow.message_id == MessageRow.id)
        .where(
            ReplyRow.recipient == recipient.strip().lower(),
            ReplyRow.created_at >= since,
            ReplyRow.status != "failed",
            MessageRow.outcome.not_in(("registered", "new_version")),
        )
    )
    return int(s.execute(query).scalar_one())


def replies_for_message(s: Session, message: MessageRow) -> list[ReplyRow]:
    return list(
        s.scalars(select(ReplyRow).where(ReplyRow.message_id == message.id).order_by(ReplyRow.id))
    )


def outbox_counts(s: Session) -> dict[str, int]:
    """How many replies are in each state (for ``avsteg status``)."""
    rows = s.execute(select(ReplyRow.status, func.count(ReplyRow.id)).group_by(ReplyRow.status))
    return {status: int(count) for status, count in rows}


def requeue_reply(s: Session, reply: ReplyRow, now: dt.datetime | None = None) -> None:
    """A person asks for a failed reply to be sent again: queued, due now, attempts afresh.

    The last error stays on the row until the next attempt replaces it.
    """
    reply.status = "queued"
    reply.attempts = 0
    reply.next_attempt_at = now or utcnow()
    s.flush()


def reply_exists(s: Session, message_id: str) -> bool:
    """Whether a reply with this Message-ID was queued already (a digest is queued once)."""
    query = select(ReplyRow.id).where(ReplyRow.message_id_header == message_id)
    return s.execute(query).first() is not None

"""The message ledger: every email kept raw, with where it came from and what became of it.

Identity of a stored message (the choice the pipeline relies on):

* Came by IMAP: its mailbox position (account, folder, UIDVALIDITY, UID) is unique. Seeing the
  same position again returns the same row, so a retry after a crash never stores it twice.
* Given as a file (``avsteg ingest``): no position; the same raw bytes again (same sha256) are
  the same row, so ingesting a file twice, or retrying it, does not store it twice.
* The same Message-ID under another position (or in other bytes) is a NEW row. Message-ID is
  deliberately not unique: the second copy is kept, and the pipeline gives it the outcome
  ``duplicate`` (found with :func:`find_processed_by_message_id`). Nothing is lost.

Life of a row: ``received`` → ``processed`` (with an outcome and a reason) or ``failed`` (a
reason of ours; retried until ``max_attempts``, then left for a person). Store the raw message
in its own unit of work *before* processing it, and record a failure in a fresh unit of work
after the processing one rolled back (:func:`mark_failed` takes the row's id for that).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from avsteg.domain.message import MailboxPosition
from avsteg.domain.report import Problem
from avsteg.storage.models import OUTCOMES, AttachmentRow, MessageRow, ProblemRow, ReportVersion


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


Position = MailboxPosition  # where a message sits in a mailbox (domain type)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def store_raw_message(
    s: Session,
    raw: bytes,
    *,
    message_id: str | None,
    sender: str | None,
    subject: str | None,
    received_at: dt.datetime | None,
    position: Position | None,
    now: dt.datetime | None = None,
    cut_size: int | None = None,
) -> tuple[MessageRow, bool]:
    """Keep a message's bytes; return its row and whether it was stored just now.

    ``cut_size``: ``raw`` is only the headers of a message of this size (over the size limit;
    the whole stays in the mailbox).

    Safe against a second worker storing the same position at the same moment: the unique
    constraint decides, and the loser gets the winner's row.
    """
    digest = sha256_hex(raw)
    existing = _find_same(s, digest, position)
    if existing is not None:
        return existing, False
    row = MessageRow(
        raw=raw,
        sha256=digest,
        size=len(raw) if cut_size is None else cut_size,
        cut=cut_size is not None,
        message_id_header=message_id,
        sender=sender,
        subject=subject,
        received_at=received_at,
        stored_at=now or utcnow(),
        account=position.account if position else None,
        folder=position.folder if position else None,
        uidvalidity=position.uidvalidity if position else None,
        uid=position.uid if position else None,
        state="received",
        attempts=0,
    )
    try:
        with s.begin_nested():
            s.add(row)
    except IntegrityError:
        existing = _find_same(s, digest, position)
        if existing is None:
            raise
        return existing, False
    return row, True


def _find_same(s: Session, digest: str, position: Position | None) -> MessageRow | None:
    if position is not None:
        return find_message_by_position(s, position)
    query = (
        select(MessageRow)
        .where(MessageRow.sha256 == digest, MessageRow.account.is_(None),
               MessageRow.reprocessed_from.is_(None))  # a reprocessed copy is never "the same"
        .order_by(MessageRow.id)
        .limit(1)
    )
    return s.scalars(query).first()


def find_message_by_position(s: Session, position: Position) -> MessageRow | None:
    return s.scalars(
        select(MessageRow).where(
            MessageRow.account == position.account,
            MessageRow.folder == position.folder,
            MessageRow.uidvalidity == position.uidvalidity,
            MessageRow.uid == position.uid,
        )
    ).first()


def find_processed_by_message_id(
    s: Session, message_id: str, *, exclude: MessageRow | None = None
) -> MessageRow | None:
    """The first processed message with this Message-ID (other than ``exclude``), if any."""
    return _first_processed(s, MessageRow.message_id_header == message_id, exclude)


def find_processed_duplicate(s: Session, row: MessageRow) -> MessageRow | None:
    """An earlier processed copy of ``row``: same Message-ID, or (without one) the same bytes."""
    if row.message_id_header:
        return find_processed_by_message_id(s, row.message_id_header, exclude=row)
    return _first_processed(s, MessageRow.sha256 == row.sha256, row)


def _first_processed(s: Session, key: Any, exclude: MessageRow | None) -> MessageRow | None:
    # Filter on the indexed key only and pick the state in Python: with ``state = 'processed'``
    # in the WHERE clause SQLite chose the state index, which matches nearly every row, and a
    # backfill slowed with every message (O(N²)). One Message-ID has a handful of rows at most.
    query = select(MessageRow.id, MessageRow.state).where(key)
    if exclude is not None:
        query = query.where(MessageRow.id != exclude.id)
    first = min((pk for pk, state in s.execute(query) if state == "processed"), default=None)
    return None if first is None else s.get(MessageRow, first)


def positions_in_folder(
    s: Session, account: str, folder: str, uidvalidity: int
) -> dict[int, tuple[str, str | None, int]]:
    """UID → (state, outcome, attempts) of the messages stored from one mailbox folder."""
    rows = s.execute(
        select(MessageRow.uid, MessageRow.state, MessageRow.outcome, MessageRow.attempts).where(
            MessageRow.account == account,
            MessageRow.folder == folder,
            MessageRow.uidvalidity == uidvalidity,
        )
    )
    return {int(uid): (state, outcome, attempts or 0)
            for uid, state, outcome, attempts in rows if uid is not None}


# -- reprocessing a stored message ---------------------------------------------------------


def find_original(s: Session, message_id: str) -> MessageRow | None:
    """The first stored row of a message: ``#123`` (row id) or its Message-ID, <> optional.

    Copies made by reprocessing are never "the original".
    """
    text = message_id.strip()
    if text.startswith("#") and text[1:].isdigit():
        return s.get(MessageRow, int(text[1:]))
    bare = text.strip("<>")
    query = (
        select(MessageRow)
        .where(MessageRow.message_id_header.in_({bare, f"<{bare}>"}),
               MessageRow.reprocessed_from.is_(None))
        .order_by(MessageRow.id)
        .limit(1)
    )
    return s.scalars(query).first()


def registered_from(s: Session, original: MessageRow) -> bool:
    """Whether any report version came from this message (the original or any copy of it)."""
    same = select(MessageRow.id).where(
        (MessageRow.id == original.id) | (MessageRow.reprocessed_from == original.id))
    query = select(ReportVersion.id).where(ReportVersion.message_id.in_(same)).limit(1)
    return s.execute(query).first() is not None


def store_reprocess_copy(s: Session, original: MessageRow, *, now: dt.datetime) -> MessageRow:
    """A fresh row with the original's bytes, pointing back at it (``reprocessed_from``).

    The original keeps its outcome and reason; the copy gets the new ones. A copy has no
    mailbox position, so no worker files it away.
    """
    row = MessageRow(
        raw=original.raw, sha256=original.sha256, size=original.size, cut=original.cut,
        message_id_header=original.message_id_header, sender=original.sender,
        subject=original.subject, received_at=original.received_at, stored_at=now,
        state="received", attempts=0, reprocessed_from=original.id,
    )
    s.add(row)
    s.flush()
    return row


def get_message(s: Session, message_pk: int) -> MessageRow | None:
    return s.get(MessageRow, message_pk)


def mark_processed(
    s: Session,
    message: MessageRow,
    *,
    outcome: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> None:
    """Record what was done with a message and why; the row keeps its raw bytes."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r}")
    message.state = "processed"
    message.outcome = outcome
    message.reason = reason
    message.attempts = (message.attempts or 0) + 1
    message.last_error = None
    message.processed_at = now or utcnow()
    s.flush()


def mark_failed(
    s: Session, message: MessageRow | int, error: str, *, now: dt.datetime | None = None
) -> None:
    """Count a failed attempt (a reason of ours); call in a new unit of work after a rollback.

    An atomic UPDATE, so it needs no loaded row and two workers cannot lose a count.
    """
    pk = message if isinstance(message, int) else message.id
    s.execute(
        update(MessageRow)
        .where(MessageRow.id == pk, MessageRow.state != "processed")
        .values(
            state="failed",
            attempts=MessageRow.attempts + 1,
            last_error=error[:4000],
            processed_at=None,
        )
        .execution_options(synchronize_session=False)
    )
    # A row object loaded in this session is refreshed rather than left stale.
    if isinstance(message, MessageRow):
        s.refresh(message)


def pending_messages(s: Session, *, max_attempts: int, limit: int = 100) -> list[MessageRow]:
    """Messages stored but not processed yet (new, or failed fewer than ``max_attempts``)."""
    query = (
        select(MessageRow)
        .where(MessageRow.state.in_(("received", "failed")), MessageRow.attempts < max_attempts)
        .order_by(MessageRow.id)
        .limit(limit)
    )
    return list(s.scalars(query))


def add_attachment(
    s: Session,
    message: MessageRow,
    *,
    filename: str | None,
    content_type: str | None,
    data: bytes | None = None,
    size: int | None = None,
    sha256: str | None = None,
    origin: str | None = None,
    format: str | None = None,
    parse_status: str | None = None,
) -> AttachmentRow:
    """Record a file found in a message; pass ``data`` or both ``size`` and ``sha256``."""
    if data is not None:
        size, sha256 = len(data), sha256_hex(data)
    if size is None or sha256 is None:
        raise ValueError("add_attachment needs data, or size and sha256")
    row = AttachmentRow(
        message_id=message.id,
        filename=filename,
        content_type=content_type,
        size=size,
        sha256=sha256,
        origin=origin,
        format=format,
        parse_status=parse_status,
    )
    s.add(row)
    s.flush()
    return row


def record_problems(
    s: Session,
    message: MessageRow,
    problems: Iterable[Problem],
    *,
    severity: str,
    version: ReportVersion | None = None,
    attachment: AttachmentRow | None = None,
) -> list[ProblemRow]:
    """Keep the errors or warnings found in a message (warnings of a version name it)."""
    rows = [
        ProblemRow(
            message_id=message.id,
            version_id=version.id if version is not None else None,
            attachment_id=attachment.id if attachment is not None else None,
            severity=severity,
            field=p.field,
            deviation=p.deviation,
            label=p.label,
            message=p.message,
        )
        for p in problems
    ]
    s.add_all(rows)
    s.flush()
    return rows

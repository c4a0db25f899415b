"""What the pipeline writes about a message itself: the headers it read, and a failure.

The raw message is stored before it is read (``Pipeline.store_raw``); these fill in what the
one read found, on success inside the unit of work that handles the message, on failure in a
unit of work of its own after that one rolled back.
"""
from __future__ import annotations

import datetime as dt

from avsteg.domain.errors import DatabaseUnavailable, TransientError
from avsteg.domain.message import InboundMessage
from avsteg.storage import messages as message_store
from avsteg.storage.database import Database
from avsteg.storage.history import set_aside
from avsteg.storage.models import MessageRow


def record_headers(row: MessageRow, msg: InboundMessage, now: dt.datetime) -> None:
    """What the message says about itself, for people and for duplicate checks. Received: its
    Date (never later than it was stored), else when the server received it, else stored."""
    row.message_id_header = msg.message_id
    row.sender = msg.sender or None
    row.subject = msg.subject
    stored = row.stored_at or now
    if msg.date:
        row.received_at = sent_at(msg.date, stored)
    elif row.received_at is None:
        row.received_at = stored


def record_failure(db: Database, message_pk: int, error: str, msg: InboundMessage | None) -> None:
    """A failure tied to this message: counted, its headers kept, set aside as ``unreadable``.

    Raises :class:`DatabaseUnavailable` when even that cannot be written: then the database is
    down after all, and the poll must stop rather than go on to the next message.
    """
    try:
        with db.unit_of_work() as s:
            message_store.mark_failed(s, message_pk, error)
            row = message_store.get_message(s, message_pk)
            if row is not None:
                if msg is not None:
                    record_headers(row, msg, row.stored_at)
                set_aside(s, row, "unreadable")
    except TransientError as second:
        raise DatabaseUnavailable(f"could not record the failure: {second}") from second


def sent_at(date: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """The Date header as the time received, but never in the future: the reference year
    (AVS-<year>-NNNN) must not follow a sender's wrong clock (or a forged Date) to 2100."""
    if date is None:
        return now
    return min(date, now) if date.tzinfo and now.tzinfo else date

"""Delivering queued replies: the outbox table → an Outbox adapter (SMTP or a folder).

A reply is marked sent only after the server accepted it, in its own small transaction. The one
window for a double reply is therefore between the SMTP server's "250 OK" and that commit: a
crash exactly there sends the reply again on restart. Every other crash either sends nothing
yet (the reply stays queued) or has already recorded the delivery.
"""
from __future__ import annotations

import email
import email.policy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from avsteg.domain.clock import SYSTEM_CLOCK, Clock
from avsteg.domain.errors import LoginRefusedError, TransientError
from avsteg.ingest.ports import Outbox, PermanentDeliveryError, TemporaryDeliveryError
from avsteg.storage import outbox as reply_store
from avsteg.storage.database import Database
from avsteg.storage.models import ReplyRow

log = logging.getLogger("avsteg.delivery")


@dataclass(frozen=True)
class Delivery:
    reply_id: int
    status: str  # sent | queued | failed
    path: Path | None = None  # where a folder outbox wrote it
    error: str | None = None


def as_email(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.SMTP)  # type: ignore[return-value]


def deliver_due(
    db: Database,
    outbox: Outbox,
    *,
    clock: Clock = SYSTEM_CLOCK,
    only: Sequence[int] | None = None,
    limit: int = 100,
    backoff_seconds: float = 30.0,
    max_attempts: int = 8,
    on_sent: Callable[[bytes], None] | None = None,
) -> list[Delivery]:
    """Try every reply that is due (or just ``only``); returns what happened to each.

    ``clock`` decides what is due and when a temporary failure may be tried again.
    """
    now = clock.now
    with db.unit_of_work() as s:
        if only is not None:
            due = [r for r in (s.get(ReplyRow, i) for i in only) if r and r.status == "queued"]
        else:
            due = reply_store.due_replies(s, now(), limit=limit)
        work = [(r.id, r.raw) for r in due]
    results = []
    for reply_id, raw in work:
        results.append(
            _deliver_one(db, outbox, reply_id, raw, now, backoff_seconds, max_attempts, on_sent)
        )
    return results


def _deliver_one(db, outbox, reply_id, raw, now, backoff_seconds, max_attempts, on_sent) -> Delivery:
    try:
        path = outbox.deliver(as_email(raw))
    except LoginRefusedError:
        # Our credentials, not this reply: it stays queued with its attempts uncounted, and
        # the rest of the batch is not tried (each would be another refused login).
        raise
    except TemporaryDeliveryError as exc:
        with db.unit_of_work() as s:
            row = s.get(ReplyRow, reply_id)
            reply_store.mark_reply_failed(
                s, row, str(exc), permanent=False, now=now(),
                base_seconds=backoff_seconds, max_attempts=max_attempts,
            )
            status = row.status
        log.warning("reply %s not delivered yet: %s", reply_id, exc)
        return Delivery(reply_id, status, error=str(exc))
    except PermanentDeliveryError as exc:
        with db.unit_of_work() as s:
            reply_store.mark_reply_failed(s, s.get(ReplyRow, reply_id), str(exc), permanent=True, now=now())
        log.error("reply %s refused by the server: %s", reply_id, exc)
        return Delivery(reply_id, "failed", error=str(exc))
    with db.unit_of_work() as s:
        reply_store.mark_reply_sent(s, s.get(ReplyRow, reply_id), now=now())
    if on_sent is not None:
        try:
            on_sent(raw)  # e.g. a copy into the Sent folder; never worth a second delivery
        except TransientError as exc:
            log.warning("reply %s sent, but its copy was not kept: %s", reply_id, exc)
    return Delivery(reply_id, "sent", path=Path(path) if path else None)

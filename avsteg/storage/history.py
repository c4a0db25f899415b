"""What people did with the register, and messages set aside for them.

The stödfunktion acts on the register from the command line and the web app; both record each
action here, so a report's story (who withdrew it, who registered an unknown sender's report
anyway, who corrected a field and why) is told in one place. A message that waits for a person
carries the reason on its row (``messages.pending``); acting on it clears that and adds a row.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from avsteg.storage.messages import utcnow
from avsteg.storage.models import SET_ASIDE_KINDS, HistoryRow, MessageRow

SYSTEM_ACTOR = "avsteg"
"""The actor of what the service does by itself on a person's behalf."""


def record_action(
    s: Session,
    *,
    actor: str,
    action: str,
    report_id: int | None = None,
    message_id: int | None = None,
    reason: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> HistoryRow:
    row = HistoryRow(
        at=at or utcnow(),
        actor=actor[:200],
        action=action,
        report_id=report_id,
        message_id=message_id,
        reason=reason,
        details=details,
    )
    s.add(row)
    s.flush()
    return row


def history_of_report(s: Session, report_id: int) -> list[HistoryRow]:
    return list(
        s.scalars(select(HistoryRow).where(HistoryRow.report_id == report_id).order_by(HistoryRow.id))
    )


def history_of_message(s: Session, message_id: int) -> list[HistoryRow]:
    return list(
        s.scalars(
            select(HistoryRow).where(HistoryRow.message_id == message_id).order_by(HistoryRow.id)
        )
    )


def set_aside(s: Session, message: MessageRow, kind: str) -> None:
    """Mark a message as waiting for a person (spec 3): it stays listed until someone acts."""
    if kind not in SET_ASIDE_KINDS:
        raise ValueError(f"unknown set-aside kind {kind!r}; expected one of {SET_ASIDE_KINDS}")
    message.pending = kind


def clear_set_aside(
    s: Session, message: MessageRow, *, actor: str, action: str, reason: str | None = None,
    details: dict[str, Any] | None = None,
) -> HistoryRow:
    """A person acted on a set-aside message: it leaves the pending list, the act is recorded."""
    kind = message.pending
    message.pending = None
    return record_action(
        s, actor=actor, action=action, message_id=message.id, reason=reason,
        details={"pending": kind, **(details or {})},
    )

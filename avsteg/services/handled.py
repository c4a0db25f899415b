"""What the pipeline is told (:class:`ReplyPolicy`) and what it says back (:class:`Handled`).

Kept apart from the pipeline so the worker, the commands and the tests can speak about a
handled message without the machinery that handles it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from avsteg.domain.report import Problem
from avsteg.ingest.ports import Outcome as Filing


@dataclass(frozen=True)
class ReplyPolicy:
    service_address: str
    service_name: str
    per_sender_per_hour: int = 10
    send: bool = True  # False for a backfill: register everything, answer nobody
    # Answer only when the message's outcome is one of these (None: whatever it is). Used by
    # ``avsteg reprocess``: a sender hears again only when the outcome changed for them.
    only_outcomes: tuple[str, ...] | None = None
    # Spec 3, first start: mail from the mailbox that was older than this when the service first
    # saw it is registered and filed but never answered. None: no limit (a person's own
    # ``avsteg ingest`` of files, a reprocess, a register-anyway answer whatever the age).
    reply_window: dt.timedelta | None = None


@dataclass(frozen=True)
class Handled:
    """What became of one message; the JSON line of ``avsteg ingest``."""

    message_pk: int
    message_id: str | None
    outcome: str  # registered | duplicate | new_version | rejected | ignored | failed
    reason: str
    references: tuple[str, ...] = ()
    errors: tuple[Problem, ...] = ()
    reply_ids: tuple[int, ...] = ()
    sender: str | None = None

    def summary(self) -> dict[str, Any]:
        """The fields every command prints about a handled message (JSON-ready)."""
        return {
            "message_id": self.message_id,
            "outcome": self.outcome,
            "references": list(self.references),
            "errors": [p.to_json() for p in self.errors],
            "reason": self.reason,
        }

    @property
    def filed_as(self) -> Filing | None:
        return filing_for(self.outcome)


def filing_for(outcome: str | None) -> Filing | None:
    """Where the mailbox puts a message after this outcome; None: leave it (not ours, failed)."""
    if outcome in ("registered", "new_version", "duplicate"):
        return "processed"
    if outcome == "rejected":
        return "rejected"
    return None

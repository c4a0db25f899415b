"""What the read model gives back: frozen, plain values, no database session behind them.

The CLI (``list``, ``show``, ``status``), the scheduled jobs and the web app read the register
through :mod:`avsteg.storage.read_model` and get these. Codes stay codes (``registered``,
``receipt``); the Swedish words are :mod:`avsteg.domain.vocabulary`'s business. Times are UTC
instants; :mod:`avsteg.domain.localtime` shows them to people.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from avsteg.domain.vocabulary import CURRENT, WITHDRAWN

T = TypeVar("T")

StatusFilter = Literal["current", "withdrawn"]
SortKey = Literal["reference", "received", "organisation", "report_type", "year", "deviations",
                  "jobs_created", "status"]


def _iso(moment: dt.datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a query: its items, and how many there are in all (for a pager)."""

    items: tuple[T, ...]
    total: int
    offset: int = 0
    limit: int | None = None


@dataclass(frozen=True)
class ReportSummary:
    """One line of the register: a report's current version, its deviations counted."""

    reference: str
    version: int
    organisation: str | None
    report_type: str | None
    year: int | None
    deviations: int
    jobs_created: int
    message_id: str | None
    received_at: dt.datetime | None
    withdrawn_at: dt.datetime | None

    @property
    def status(self) -> str:
        return WITHDRAWN if self.withdrawn_at is not None else CURRENT

    def to_json(self) -> dict[str, Any]:
        """The line ``avsteg list --json`` prints."""
        return {
            "reference": self.reference, "version": self.version,
            "organisation": self.organisation, "report_type": self.report_type,
            "year": self.year, "deviations": self.deviations, "jobs_created": self.jobs_created,
            "message_id": self.message_id, "received_at": _iso(self.received_at),
            "status": self.status,
        }


@dataclass(frozen=True)
class Figures:
    """The figures of a filtered register (web app, above Registret's table)."""

    reports: int
    withdrawn: int
    deviations: int  # of the reports that are not withdrawn
    jobs_created: int  # of the reports that are not withdrawn


@dataclass(frozen=True)
class ProblemView:
    severity: str  # "error" | "warning"
    field: str | None
    deviation: int | None
    label: str | None
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"field": self.field, "deviation": self.deviation, "label": self.label,
                "message": self.message}


@dataclass(frozen=True)
class VersionView:
    """One registered template of a report, where it came from, and what was wrong with it."""

    version: int
    current: bool
    received_at: dt.datetime | None
    registered_at: dt.datetime
    message: int | None  # the stored message's row id
    message_id: str | None
    sender: str | None
    subject: str | None
    file: str | None
    template_version: str | None
    report: Mapping[str, Any]
    deviations: tuple[Mapping[str, Any], ...]
    errors: tuple[ProblemView, ...]
    warnings: tuple[ProblemView, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "version": self.version, "current": self.current,
            "received_at": _iso(self.received_at), "registered_at": _iso(self.registered_at),
            "message": self.message, "message_id": self.message_id, "sender": self.sender,
            "subject": self.subject, "file": self.file, "template_version": self.template_version,
            "report": dict(self.report), "deviations": [dict(d) for d in self.deviations],
            "errors": [p.to_json() for p in self.errors],
            "warnings": [p.to_json() for p in self.warnings],
        }


@dataclass(frozen=True)
class MessageView:
    """A stored message that belongs to a report's story, and what was done with it."""

    message: int
    message_id: str | None
    sender: str | None
    subject: str | None
    received_at: dt.datetime | None
    processed_at: dt.datetime | None
    state: str
    outcome: str | None
    reason: str | None
    reprocessed_from: int | None  # a copy made by ``avsteg reprocess`` of that message
    errors: tuple[ProblemView, ...]
    size: int = 0  # of the whole message
    cut: bool = False  # only its headers are stored; the whole message is in the mailbox

    def to_json(self) -> dict[str, Any]:
        return {
            "message": self.message, "message_id": self.message_id, "sender": self.sender,
            "received_at": _iso(self.received_at), "processed_at": _iso(self.processed_at),
            "state": self.state, "outcome": self.outcome, "reason": self.reason,
            "reprocess_of": self.reprocessed_from,
            "errors": [p.to_json() for p in self.errors],
            "size": self.size, "cut": self.cut,
        }


@dataclass(frozen=True)
class ReplyView:
    kind: str
    recipient: str
    subject: str | None
    message_id: str | None
    status: str
    attempts: int
    created_at: dt.datetime | None
    sent_at: dt.datetime | None
    last_error: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "recipient": self.recipient, "subject": self.subject,
            "message_id": self.message_id, "status": self.status, "attempts": self.attempts,
            "created_at": _iso(self.created_at), "sent_at": _iso(self.sent_at),
            "last_error": self.last_error,
        }


@dataclass(frozen=True)
class HistoryEntry:
    """Something a person (or the service for them) did to the report or one of its messages."""

    at: dt.datetime
    actor: str
    action: str
    message: int | None
    reason: str | None
    details: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        return {"at": _iso(self.at), "actor": self.actor, "action": self.action,
                "message": self.message, "reason": self.reason,
                "details": dict(self.details) if self.details is not None else None}


@dataclass(frozen=True)
class ReportDetails:
    """Everything the register knows about one report (``avsteg show``, the report's web page)."""

    reference: str
    current_version: int
    created_at: dt.datetime
    withdrawn_at: dt.datetime | None
    withdrawn_reason: str | None
    versions: tuple[VersionView, ...]
    messages: tuple[MessageView, ...]
    replies: tuple[ReplyView, ...]
    history: tuple[HistoryEntry, ...]

    @property
    def status(self) -> str:
        return WITHDRAWN if self.withdrawn_at is not None else CURRENT

    def to_json(self) -> dict[str, Any]:
        """The object ``avsteg show --json`` prints."""
        return {
            "reference": self.reference, "status": self.status,
            "current_version": self.current_version, "created_at": _iso(self.created_at),
            "withdrawn_at": _iso(self.withdrawn_at), "withdrawn_reason": self.withdrawn_reason,
            "versions": [v.to_json() for v in self.versions],
            "messages": [m.to_json() for m in self.messages],
            "replies": [r.to_json() for r in self.replies],
            "history": [h.to_json() for h in self.history],
        }


@dataclass(frozen=True)
class PollView:
    account: str
    folder: str
    last_poll_at: dt.datetime | None
    last_success_at: dt.datetime | None
    last_error: str | None


@dataclass(frozen=True)
class ServiceStatus:
    """Is the worker alive, and is anything waiting (``avsteg status``, health checks)."""

    polls: tuple[PollView, ...]
    message_states: Mapping[str, int]  # state code → messages
    outcomes: Mapping[str, int]  # outcome code → messages
    replies: Mapping[str, int]  # reply status code → replies

    @property
    def backlog(self) -> int:
        return self.message_states.get("received", 0) + self.message_states.get("failed", 0)

"""The register as plain rows, and the figures derived from them.

The export, the board report and the reminders read these dataclasses instead of the
database models, so that they stay pure functions (rows + schema in, bytes out) that are
tested without a database. :mod:`avsteg.storage.read_model` builds them from storage.

Keys that name schema fields (``jobs_created``, ``measures`` …) are the schema's keys; what a
person reads (headers, group names) comes from the schema's labels and options.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from avsteg.domain.localtime import local_time
from avsteg.domain.schema import Schema
from avsteg.domain.vocabulary import CURRENT, SUPERSEDED, WITHDRAWN  # noqa: F401 - the rows' statuses


@dataclass(frozen=True)
class ReportRow:
    """The newest version of one report, with its deviations counted and summed."""

    reference: str
    version: int
    received_at: dt.datetime  # when this (newest) version arrived
    organisation: str
    report_type: str
    year: int | None
    contact_name: str | None
    contact_email: str | None
    deviations: int
    jobs_created: int
    status: str = CURRENT  # CURRENT | WITHDRAWN
    message_id: str | None = None
    registered_at: dt.datetime | None = None  # when version 1 arrived; None: same as received_at
    values: Mapping[str, Any] = field(default_factory=dict)  # every report field, by schema key
    withdrawn_at: dt.datetime | None = None
    withdrawn_reason: str | None = None

    @property
    def withdrawn(self) -> bool:
        return self.status == WITHDRAWN

    @property
    def first_received_at(self) -> dt.datetime:
        return self.registered_at or self.received_at


@dataclass(frozen=True)
class DeviationRow:
    """One deviation of a report's newest version; ``values`` holds every deviation field."""

    reference: str
    version: int
    position: int  # 1-based, as "Avsteg 1", "Avsteg 2" in the template
    values: Mapping[str, Any]

    def get(self, key: str) -> Any:
        return self.values.get(key)


@dataclass(frozen=True)
class VersionRow:
    """One version of one report, for the history sheet and the reminders."""

    reference: str
    version: int
    received_at: dt.datetime
    message_id: str | None
    organisation: str
    report_type: str
    year: int | None
    contact_name: str | None = None
    contact_email: str | None = None
    deviations: int = 0
    jobs_created: int = 0
    sender: str | None = None  # the From address of the message
    file_name: str | None = None  # the attachment the version was read from
    values: Mapping[str, Any] = field(default_factory=dict)  # every report field, by schema key


@dataclass(frozen=True)
class ActionRow:
    """Something a person did to a report (the history table), for the Historik sheet."""

    reference: str
    at: dt.datetime
    actor: str
    action: str  # code: withdraw, undo-withdraw, correct, register-anyway, … (vocabulary.ACTIONS)
    reason: str | None = None
    version: int | None = None  # the version it made (a correction), if any
    details: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Period:
    """What a register or board report covers: a report year and/or a range of arrival dates."""

    year: int | None = None
    date_from: dt.date | None = None
    date_to: dt.date | None = None

    def contains(self, report: ReportRow) -> bool:
        """Year on the report's Rapportår; dates on the day version 1 arrived (local time)."""
        if self.year is not None and report.year != self.year:
            return False
        day = local_time(report.first_received_at).date()
        after_start = self.date_from is None or day >= self.date_from
        return after_start and (self.date_to is None or day <= self.date_to)

    def label(self) -> str:
        """Swedish text for titles: ``2026``, ``2026-01-01 – 2026-06-30``, ``alla år``."""
        parts: list[str] = []
        if self.year is not None:
            parts.append(f"Rapportår {self.year}")
        if self.date_from or self.date_to:
            start = self.date_from.isoformat() if self.date_from else ""
            end = self.date_to.isoformat() if self.date_to else ""
            parts.append(f"mottagna {start} – {end}".replace("  ", " ").strip())
        return ", ".join(parts) if parts else "Alla rapporter"


@dataclass
class Register:
    """The newest version of each report, their deviations, and every version (Historik)."""

    reports: list[ReportRow]
    deviations: list[DeviationRow]
    versions: list[VersionRow] = field(default_factory=list)
    period: Period = field(default_factory=Period)
    actions: list[ActionRow] = field(default_factory=list)  # people's acts, oldest first

    def report_index(self) -> dict[str, ReportRow]:
        return {r.reference: r for r in self.reports}

    def active_reports(self) -> list[ReportRow]:
        return [r for r in self.reports if not r.withdrawn]

    def active_deviations(self) -> list[tuple[ReportRow, DeviationRow]]:
        """Deviations of reports that are not withdrawn, each with its report, in register order."""
        index = self.report_index()
        out = []
        for d in self.deviations:
            report = index.get(d.reference)
            if report is not None and not report.withdrawn:
                out.append((report, d))
        return out

    def filtered(self, period: Period) -> Register:
        """The part of the register inside ``period`` (versions follow their reports)."""
        reports = [r for r in self.reports if period.contains(r)]
        keep = {r.reference for r in reports}
        return Register(
            reports=reports,
            deviations=[d for d in self.deviations if d.reference in keep],
            versions=[v for v in self.versions if v.reference in keep],
            period=period,
            actions=[a for a in self.actions if a.reference in keep],
        )


_SWEDISH_ORDER = str.maketrans({"å": "z\u0001", "ä": "z\u0002", "ö": "z\u0003", "é": "e"})


def swedish_sort_key(text: str) -> str:
    """Alphabetical order as a Swedish reader expects it: … x y z å ä ö."""
    return text.casefold().translate(_SWEDISH_ORDER)


def organisation_key(name: str) -> str:
    """One key for the same organisation typed with other case or spacing."""
    return " ".join(name.split()).casefold()


def multichoice_text(value: Any) -> Any:
    """A multiple choice as people read it in a cell: ``Anställning; Praktik``."""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return value


# -- what the weekly digest tells (read model gathers, replies.digest writes)


@dataclass(frozen=True)
class ReportLine:
    """A report that is new or changed in the period (its newest version)."""

    reference: str
    version: int
    organisation: str
    report_type: str
    year: int | None
    deviations: int
    jobs_created: int
    change: str  # Swedish: "ny", "ny version", "återkallad"


@dataclass(frozen=True)
class ProblemLine:
    """Something that waits for a person: a rejected or failed message, a reply not delivered."""

    when: dt.datetime | None
    who: str | None  # the sender or recipient
    subject: str | None
    detail: str  # why (Swedish where it comes from us, the technical error otherwise)


@dataclass(frozen=True)
class DigestData:
    period_start: dt.datetime
    period_end: dt.datetime
    new_reports: Sequence[ReportLine] = ()
    changed_reports: Sequence[ReportLine] = ()
    rejected_messages: Sequence[ProblemLine] = ()
    failed_messages: Sequence[ProblemLine] = ()
    failed_replies: Sequence[ProblemLine] = ()
    # What waits for a person: the list of ``avsteg pending`` (spec 3), one line per item.
    pending: Sequence[ProblemLine] = ()
    register_reports: int = 0  # reports in the register, withdrawn ones left out
    register_deviations: int = 0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def waiting(self) -> int:
        """How many items wait for a person: the length of the pending list."""
        return len(self.pending)


def choices_shown(values: Any, key: str, schema: Schema) -> list[str]:
    """A multiple choice with what `Annat` is: ``["Praktik", "Annat (mentorskap)"]``."""
    chosen = values.get(key) or ()
    chosen = [chosen] if isinstance(chosen, str) else list(chosen)
    for f in schema.fields:
        text = values.get(f.key) if f.describes == key else None
        if text and f.describes_option in chosen:
            chosen[chosen.index(f.describes_option)] = f"{f.describes_option} ({text})"
    return chosen

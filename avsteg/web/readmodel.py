"""What the pages show, read from storage as plain values (the web app never speaks SQL).

Registret is filtered, searched, sorted and paged here over the register's plain rows
(:mod:`avsteg.register.query`); a report's whole story comes from the same reads as
``avsteg show`` plus the history table.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from avsteg.commands.show import report_details
from avsteg.domain.schema import Schema
from avsteg.parsers.mail import read_message
from avsteg.register.query import register_rows
from avsteg.register.rows import (
    CURRENT,
    WITHDRAWN,
    Register,
    ReportRow,
    Summary,
    organisation_key,
    summarise,
    swedish_sort_key,
)
from avsteg.storage import Database, find_report_by_reference, get_message, history_of_report

STATUSES = (CURRENT, WITHDRAWN)
SORTS: dict[str, Callable[[ReportRow], Any]] = {
    "referens": lambda r: r.reference,
    "inkommen": lambda r: r.received_at,
    "organisation": lambda r: swedish_sort_key(r.organisation),
    "typ": lambda r: r.report_type,
    "ar": lambda r: r.year or 0,
    "avsteg": lambda r: r.deviations,
    "arbetstillfallen": lambda r: r.jobs_created,
    "status": lambda r: r.status,
}


@dataclass(frozen=True)
class Filters:
    year: int | None = None
    organisation: str = ""
    report_type: str = ""
    status: str = ""
    q: str = ""
    sort: str = "inkommen"
    descending: bool = True
    page: int = 1


@dataclass
class Figures:
    reports: int = 0
    withdrawn: int = 0
    deviations: int = 0
    jobs_created: int = 0


@dataclass
class RegisterPage:
    rows: list[ReportRow]
    figures: Figures
    total_rows: int
    page: int
    pages: int
    years: list[int]
    organisations: list[str]
    report_types: list[str]


def _matches(report: ReportRow, texts: Sequence[str], needle: str) -> bool:
    return any(needle in t.casefold() for t in texts if t)


def _select(register: Register, f: Filters) -> Register:
    """The reports of ``register`` that pass the filters (and their deviations and versions)."""
    org = organisation_key(f.organisation) if f.organisation else ""
    needle = f.q.strip().casefold()
    texts: dict[str, list[str]] = {}
    if needle:
        for d in register.deviations:
            texts.setdefault(d.reference, []).extend(
                str(d.get(k) or "") for k in ("procurement", "supplier"))
    chosen = [
        r for r in register.reports
        if (f.year is None or r.year == f.year)
        and (not org or organisation_key(r.organisation) == org)
        and (not f.report_type or r.report_type == f.report_type)
        and (not f.status or r.status == f.status)
        and (not needle or _matches(r, [r.reference, r.organisation, *texts.get(r.reference, [])],
                                    needle))
    ]
    keep = {r.reference for r in chosen}
    return Register(
        reports=chosen,
        deviations=[d for d in register.deviations if d.reference in keep],
        versions=[v for v in register.versions if v.reference in keep],
        period=register.period,
    )


def filtered_register(db: Database, schema: Schema, f: Filters) -> Register:
    """Exactly the set Registret shows for ``f`` (all pages), for the .xlsx download."""
    with db.unit_of_work(readonly=True) as s:
        register = register_rows(s, schema=schema)
    selected = _select(register, f)
    key = SORTS.get(f.sort, SORTS["inkommen"])
    selected.reports.sort(key=key, reverse=f.descending)
    return selected


def register_page(db: Database, schema: Schema, f: Filters, page_size: int) -> RegisterPage:
    with db.unit_of_work(readonly=True) as s:
        register = register_rows(s, schema=schema)
    selected = _select(register, f)
    key = SORTS.get(f.sort, SORTS["inkommen"])
    rows = sorted(selected.reports, key=key, reverse=f.descending)
    figures = Figures(
        reports=len(rows),
        withdrawn=sum(1 for r in rows if r.withdrawn),
        deviations=sum(r.deviations for r in rows if not r.withdrawn),
        jobs_created=sum(r.jobs_created for r in rows if not r.withdrawn),
    )
    pages = max(1, -(-len(rows) // page_size))
    page = min(max(1, f.page), pages)
    names: dict[str, str] = {}
    for r in register.reports:
        names.setdefault(organisation_key(r.organisation), r.organisation)
    return RegisterPage(
        rows=rows[(page - 1) * page_size: page * page_size],
        figures=figures,
        total_rows=len(rows),
        page=page,
        pages=pages,
        years=sorted({r.year for r in register.reports if r.year is not None}, reverse=True),
        organisations=sorted(names.values(), key=swedish_sort_key),
        report_types=sorted({r.report_type for r in register.reports if r.report_type}),
    )


def summary_for(db: Database, schema: Schema, year: int | None) -> tuple[Summary, Register]:
    with db.unit_of_work(readonly=True) as s:
        register = register_rows(s, year=year, schema=schema)
    return summarise(register, schema), register


def register_years(db: Database, schema: Schema) -> list[int]:
    with db.unit_of_work(readonly=True) as s:
        register = register_rows(s, schema=schema)
    return sorted({r.year for r in register.reports if r.year is not None}, reverse=True)


# -- a report's whole story ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    where: str  # "Rapport" or "Avsteg 2"
    label: str
    before: Any
    after: Any


@dataclass(frozen=True)
class HistoryEntry:
    at: dt.datetime
    actor: str
    action: str
    reason: str | None
    details: dict[str, Any]


@dataclass
class Story:
    reference: str
    details: dict[str, Any]  # as ``avsteg show --json`` prints it
    history: list[HistoryEntry]
    changes: dict[int, list[Change]]  # version number → what changed from the version before
    made_by: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    attachments: dict[int, list[tuple[int, str, int]]] = field(default_factory=dict)

    @property
    def withdrawn(self) -> bool:
        return bool(self.details.get("withdrawn_at"))

    @property
    def current(self) -> dict[str, Any]:
        return next(v for v in self.details["versions"] if v["current"])


def _label(schema: Schema, key: str) -> str:
    for fld in (*schema.report_fields, *schema.deviation_fields):
        if fld.key == key:
            return fld.label
    return key


def version_changes(schema: Schema, before: dict[str, Any], after: dict[str, Any]) -> list[Change]:
    """What differs between two versions: report fields, then each deviation's fields."""
    out: list[Change] = []
    for key in [f.key for f in schema.report_fields]:
        old, new = before["report"].get(key), after["report"].get(key)
        if old != new:
            out.append(Change("Rapport", _label(schema, key), old, new))
    old_devs, new_devs = before["deviations"], after["deviations"]
    for i in range(max(len(old_devs), len(new_devs))):
        where = f"Avsteg {i + 1}"
        if i >= len(old_devs):
            out.append(Change(where, "Avsteg", None, "tillagt"))
            continue
        if i >= len(new_devs):
            out.append(Change(where, "Avsteg", "fanns", "borttaget"))
            continue
        for key in [f.key for f in schema.deviation_fields]:
            old, new = old_devs[i].get(key), new_devs[i].get(key)
            if old != new:
                out.append(Change(where, _label(schema, key), old, new))
    return out


def report_story(db: Database, schema: Schema, reference: str) -> Story | None:
    with db.unit_of_work(readonly=True) as s:
        details = report_details(s, reference)
        if details is None:
            return None
        report = find_report_by_reference(s, reference)
        assert report is not None
        rows = history_of_report(s, report.id)
        made_by = {v.version: (v.made_by, v.change_reason) for v in report.versions if v.made_by}
        raws = {m["message"]: get_message(s, m["message"]) for m in details["messages"]}
        raw_bytes = {pk: row.raw for pk, row in raws.items() if row is not None}
    history = [HistoryEntry(h.at, h.actor, h.action, h.reason, dict(h.details or {}))
               for h in rows]
    versions = details["versions"]
    changes = {b["version"]: version_changes(schema, a, b) for a, b in zip(versions, versions[1:])}
    attachments = {pk: [(i, a.filename, len(a.data)) for i, a in enumerate(_files(raw))]
                   for pk, raw in raw_bytes.items()}
    return Story(details["reference"], details, history, changes, made_by, attachments)


def _files(raw: bytes) -> list[Any]:
    return [a for a in read_message(raw).attachments if not a.inline]


def message_bytes(db: Database, reference: str, message_pk: int) -> bytes | None:
    """The raw message, only when it belongs to this report (no browsing other mail by id)."""
    with db.unit_of_work(readonly=True) as s:
        details = report_details(s, reference)
        if details is None or message_pk not in {m["message"] for m in details["messages"]}:
            return None
        row = get_message(s, message_pk)
        return row.raw if row is not None else None


def attachment_of(db: Database, reference: str, message_pk: int, index: int
                  ) -> tuple[str, str, bytes] | None:
    raw = message_bytes(db, reference, message_pk)
    if raw is None:
        return None
    files = _files(raw)
    if not 0 <= index < len(files):
        return None
    a = files[index]
    return a.filename, a.content_type, a.data


def with_page(f: Filters, page: int) -> Filters:
    return replace(f, page=page)


def report_id(s: Any, reference: str) -> int | None:
    report = find_report_by_reference(s, reference)
    return report.id if report is not None else None

"""What the pages show, read through :mod:`avsteg.storage.read_model` (the web app speaks no SQL).

Registret is filtered, searched, sorted and paged by the database (``list_reports``, with the
figures of the same set from ``register_figures``); Sammanställning is summed by the database
(``register_summary``); a report's whole story is
``report_details`` plus what changed between its versions and who made a corrected one.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any

from avsteg.domain.figures import Summary
from avsteg.domain.register import Register
from avsteg.domain.schema import Schema
from avsteg.domain.vocabulary import CURRENT, WITHDRAWN
from avsteg.parsers.mail.reader import read_message
from avsteg.storage import Database
from avsteg.storage.read_model import (
    Figures,
    ReportDetails,
    ReportSummary,
    VersionView,
    list_reports,
    matching_report_ids,
    message_raw,
    register_choices,
    register_choices_mark,
    register_figures,
    register_rows,
    register_stamp,
    register_summary,
    report_details,
    report_order,
    version_authors,
)

STATUSES = (CURRENT, WITHDRAWN)
_STATUS_CODES = {CURRENT: "current", WITHDRAWN: "withdrawn"}
# The sort keys in the page's address (Swedish) → the read model's.
SORTS = {
    "referens": "reference", "inkommen": "received", "organisation": "organisation",
    "typ": "report_type", "ar": "year", "avsteg": "deviations",
    "arbetstillfallen": "jobs_created", "status": "status",
}


@dataclass(frozen=True)
class Filters:
    year: int | None = None
    organisation: str = ""
    report_type: str = ""
    status: str = ""  # "" | "aktuell" | "återkallad"
    q: str = ""
    sort: str = "inkommen"
    descending: bool = True
    page: int = 1

    def query(self) -> dict[str, Any]:
        """The read model's filter arguments."""
        return {"year": self.year, "organisation": self.organisation or None,
                "report_type": self.report_type or None,
                "status": _STATUS_CODES.get(self.status), "search": self.q or None}


@dataclass
class RegisterPage:
    rows: tuple[ReportSummary, ...]
    figures: Figures
    total_rows: int
    page: int
    pages: int
    years: list[int]
    organisations: list[str]
    report_types: list[str]


class ChoicesCache:
    """Registret's filter choices (years, organisations, report types), kept per database.

    ``register_choices`` reads every current version (a DISTINCT over the register) and every
    Registret page needs it; the choices change only when a version is added. So they are read
    again only when :func:`register_choices_mark` (the newest version's id: one index lookup)
    has moved, or after ``max_age`` seconds — which also bounds how long a version committed
    late with a smaller id (concurrent writers on PostgreSQL) could stay out of the lists.
    """

    def __init__(self, max_age: float = 60.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._kept: weakref.WeakKeyDictionary[Database, tuple[int, float, dict[str, list[Any]]]]
        self._kept = weakref.WeakKeyDictionary()

    def get(self, db: Database, s: Any) -> dict[str, list[Any]]:
        mark = register_choices_mark(s)
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(db)
        if kept is not None and kept[0] == mark and now - kept[1] < self.max_age:
            return kept[2]
        choices = register_choices(s)
        with self._lock:
            self._kept[db] = (mark, now, choices)
        return choices


CHOICES = ChoicesCache()


def register_page(db: Database, f: Filters, page_size: int) -> RegisterPage:
    sort = SORTS.get(f.sort, "received")
    with db.unit_of_work(readonly=True) as s:
        choices = CHOICES.get(db, s)
        figures = register_figures(s, **f.query())
        pages = max(1, -(-figures.reports // page_size))
        page = min(max(1, f.page), pages)
        found = list_reports(s, **f.query(), sort=sort,  # type: ignore[arg-type]
                             descending=f.descending, offset=(page - 1) * page_size,
                             limit=page_size, total=figures.reports)
    return RegisterPage(
        rows=found.items, figures=figures, total_rows=found.total, page=page, pages=pages,
        years=choices["years"], organisations=choices["organisations"],
        report_types=choices["report_types"],
    )


def filtered_register(db: Database, schema: Schema, f: Filters) -> Register:
    """Exactly the reports Registret shows for ``f`` (every page), as the export reads them."""
    sort = SORTS.get(f.sort, "received")
    with db.unit_of_work(readonly=True) as s:
        references = report_order(s, **f.query(), sort=sort,  # type: ignore[arg-type]
                                  descending=f.descending)
        register = register_rows(s, schema=schema, only=matching_report_ids(**f.query()))
    order = {reference: i for i, reference in enumerate(references)}
    return Register(
        reports=sorted((r for r in register.reports if r.reference in order),
                       key=lambda r: order[r.reference]),
        deviations=[d for d in register.deviations if d.reference in order],
        versions=[v for v in register.versions if v.reference in order],
        actions=[a for a in register.actions if a.reference in order],
        period=register.period,
    )


class FiguresCache:
    """Sammanställning's figures per year, kept until the register changes.

    Summing a large register takes the database a few hundred milliseconds; reports arrive a
    few times a day. So the figures are summed again only when ``register_stamp`` (two cheap
    reads) says a version was added or a report withdrawn or restored since.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: dict[int | None, tuple[tuple[Any, ...], Summary]] = {}

    def get(self, db: Database, schema: Schema, year: int | None) -> Summary:
        with db.unit_of_work(readonly=True) as s:
            stamp = register_stamp(s)
            with self._lock:
                kept = self._kept.get(year)
            if kept is not None and kept[0] == stamp:
                return kept[1]
            summary = register_summary(s, schema, year=year)
        with self._lock:
            self._kept[year] = (stamp, summary)
        return summary


def summary_for(db: Database, schema: Schema, year: int | None,
                cache: FiguresCache | None = None) -> Summary:
    """Sammanställning's figures, summed by the database (the page must not load the rows)."""
    if cache is not None:
        return cache.get(db, schema, year)
    with db.unit_of_work(readonly=True) as s:
        return register_summary(s, schema, year=year)


def register_for_year(db: Database, schema: Schema, year: int | None) -> Register:
    """The whole register of a year as rows, for the board report."""
    with db.unit_of_work(readonly=True) as s:
        return register_rows(s, year=year, schema=schema)


def register_years(db: Database) -> list[int]:
    with db.unit_of_work(readonly=True) as s:
        return list(register_choices(s)["years"])


# -- a report's whole story ------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    where: str  # "Rapport" or "Avsteg 2"
    label: str
    before: Any
    after: Any


@dataclass
class Story:
    details: ReportDetails
    changes: dict[int, list[Change]]  # version number → what changed from the version before
    made_by: dict[int, tuple[str, str | None]] = field(default_factory=dict)
    attachments: dict[int, list[tuple[int, str, int]]] = field(default_factory=dict)

    @property
    def reference(self) -> str:
        return self.details.reference

    @property
    def withdrawn(self) -> bool:
        return self.details.withdrawn_at is not None

    @property
    def status(self) -> str:
        return WITHDRAWN if self.withdrawn else CURRENT

    @property
    def current(self) -> VersionView:
        return next(v for v in self.details.versions if v.current)


def _label(schema: Schema, key: str) -> str:
    for fld in (*schema.report_fields, *schema.deviation_fields):
        if fld.key == key:
            return fld.label
    return key


def version_changes(schema: Schema, before: VersionView, after: VersionView) -> list[Change]:
    """What differs between two versions: report fields, then each deviation's fields."""
    out: list[Change] = []
    for key in [f.key for f in schema.report_fields]:
        old, new = before.report.get(key), after.report.get(key)
        if old != new:
            out.append(Change("Rapport", _label(schema, key), old, new))
    old_devs, new_devs = before.deviations, after.deviations
    for i in range(max(len(old_devs), len(new_devs))):
        where = f"Avsteg {i + 1}"
        if i >= len(old_devs):
            out.append(Change(where, "Avsteg", None, "tillagt"))
        elif i >= len(new_devs):
            out.append(Change(where, "Avsteg", "fanns", "borttaget"))
        else:
            out += [Change(where, _label(schema, f.key), old_devs[i].get(f.key),
                           new_devs[i].get(f.key))
                    for f in schema.deviation_fields
                    if old_devs[i].get(f.key) != new_devs[i].get(f.key)]
    return out


def report_story(db: Database, schema: Schema, reference: str) -> Story | None:
    with db.unit_of_work(readonly=True) as s:
        details = report_details(s, reference)
        if details is None:
            return None
        made_by = version_authors(s, details.reference)
        raws = {m.message: message_raw(s, m.message) for m in details.messages}
    versions = details.versions
    changes = {b.version: version_changes(schema, a, b) for a, b in zip(versions, versions[1:])}
    attachments = {pk: [(i, a.filename, len(a.data)) for i, a in enumerate(_files(raw))]
                   for pk, raw in raws.items() if raw is not None}
    return Story(details, changes, made_by, attachments)


def _files(raw: bytes) -> list[Any]:
    return [a for a in read_message(raw).attachments if not a.inline]


def message_bytes(db: Database, reference: str, message_pk: int) -> bytes | None:
    """The raw message, only when it belongs to this report (no browsing other mail by id)."""
    with db.unit_of_work(readonly=True) as s:
        details = report_details(s, reference)
        if details is None or message_pk not in {m.message for m in details.messages}:
            return None
        return message_raw(s, message_pk)


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

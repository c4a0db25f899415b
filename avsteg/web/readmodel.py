"""What the pages show, read through :mod:`avsteg.storage.read_model` (the web app speaks no SQL).

Registret is filtered, searched, sorted and paged by the database (``list_reports``, with the
figures of the same set from ``register_figures``); Sammanställning is summed by the database
(``register_summary``); a report's whole story is
``report_details`` plus what changed between its versions and who made a corrected one.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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
    register_figures,
    register_rows,
    register_stamp,
    register_summary,
    report_details,
    report_order,
    version_authors,
)

T = TypeVar("T")
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


class Kept(Generic[T]):
    """Values read from the register, each kept until the register changes.

    Registret's filter choices (a DISTINCT over every current version, on every page) and
    Sammanställning's figures (a few hundred milliseconds on a large register) change only when
    a version is added or a report withdrawn or restored, a few times a day. So a value is read
    again only when :func:`register_stamp` (two cheap reads) has moved, or after ``max_age``
    seconds, which bounds how long a version committed late with a smaller id (concurrent
    writers on PostgreSQL) could stay out of it.
    """

    def __init__(self, max_age: float = 60.0) -> None:
        self.max_age = max_age
        self._lock = threading.Lock()
        self._kept: dict[Hashable, tuple[tuple[Any, ...], float, T]] = {}

    def get(self, s: Any, key: Hashable, read: Callable[[], T]) -> T:
        """The value under ``key``, from ``read()`` (in the session ``s``) when not kept."""
        stamp = register_stamp(s)
        now = time.monotonic()
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and kept[0] == stamp and now - kept[1] < self.max_age:
            return kept[2]
        value = read()
        with self._lock:
            self._kept[key] = (stamp, now, value)
        return value


def register_page(db: Database, f: Filters, page_size: int,
                  kept: Kept[dict[str, list[Any]]] | None = None) -> RegisterPage:
    """One page of Registret; ``kept``: the app's choices, read again only after a change."""
    sort = SORTS.get(f.sort, "received")
    with db.unit_of_work(readonly=True) as s:
        choices = (kept.get(s, "choices", lambda: register_choices(s)) if kept is not None
                   else register_choices(s))
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


def summary_for(db: Database, schema: Schema, year: int | None,
                kept: Kept[Summary] | None = None) -> Summary:
    """Sammanställning's figures, summed by the database (the page must not load the rows)."""
    with db.unit_of_work(readonly=True) as s:
        if kept is None:
            return register_summary(s, schema, year=year)
        return kept.get(s, year, lambda: register_summary(s, schema, year=year))


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

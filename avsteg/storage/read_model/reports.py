"""The register's reports as people look them up: a filtered, sorted, paged list, and one report
with its whole story (versions, deviations, messages, problems, replies, history).

Callers pass an open session (``db.unit_of_work(readonly=True)``) and get frozen values from
:mod:`avsteg.storage.read_model.views`; nothing returned keeps the session alive.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, case, func, or_, select, union
from sqlalchemy.orm import Session, selectinload

from avsteg.storage.folding import contains_folded
from avsteg.storage.models import (
    DeviationRow,
    HistoryRow,
    MessageRow,
    ProblemRow,
    ReplyRow,
    Report,
    ReportVersion,
)
from avsteg.storage.read_model.views import (
    Figures,
    HistoryEntry,
    MessageView,
    Page,
    ProblemView,
    ReplyView,
    ReportDetails,
    ReportSummary,
    SortKey,
    StatusFilter,
    VersionView,
)
from avsteg.storage.reports import find_report_by_reference

_RECEIVED = func.coalesce(MessageRow.received_at, MessageRow.stored_at)
_DEVIATIONS = (
    select(func.count(DeviationRow.id))
    .where(DeviationRow.version_id == ReportVersion.id)
    .correlate(ReportVersion)
    .scalar_subquery()
)
_JOBS = (
    select(func.coalesce(func.sum(DeviationRow.jobs_created), 0))
    .where(DeviationRow.version_id == ReportVersion.id)
    .correlate(ReportVersion)
    .scalar_subquery()
)
_SORTS: dict[str, Any] = {
    "reference": (Report.year, Report.number),
    "received": (_RECEIVED, Report.year, Report.number),
    "organisation": (ReportVersion.organisation, Report.year, Report.number),
    "report_type": (ReportVersion.report_type, Report.year, Report.number),
    "year": (ReportVersion.year, Report.year, Report.number),
    "deviations": (_DEVIATIONS, Report.year, Report.number),
    "jobs_created": (_JOBS, Report.year, Report.number),
    "status": (Report.withdrawn_at.is_not(None), Report.year, Report.number),
}
SORT_KEYS: tuple[str, ...] = tuple(_SORTS)


def _matching(
    *,
    year: int | None = None,
    organisation: str | None = None,
    report_type: str | None = None,
    status: StatusFilter | None = None,
    search: str | None = None,
    with_message: bool = False,
) -> Select[Any]:
    """The current versions that pass the filters (see :func:`list_reports`).

    The message is joined only when the sort needs it: the figures of the whole register then
    join two tables, not three (bench/web.py, Registret's first page).
    """
    query = (
        select(ReportVersion)
        .join(Report, and_(Report.id == ReportVersion.report_id,
                           Report.current_version == ReportVersion.version))
    )
    if with_message:
        query = query.join(MessageRow, MessageRow.id == ReportVersion.message_id)
    if year is not None:
        query = query.where(ReportVersion.year == year)
    if organisation is not None:
        query = query.where(ReportVersion.organisation == organisation)
    if report_type is not None:
        query = query.where(ReportVersion.report_type == report_type)
    if status == "current":
        query = query.where(Report.withdrawn_at.is_(None))
    elif status == "withdrawn":
        query = query.where(Report.withdrawn_at.is_not(None))
    if search and search.strip():
        query = query.where(ReportVersion.id.in_(_found_versions(search.strip())))
    return query


def _found_versions(text: str) -> Any:
    """The versions whose report, message or a deviation contains ``text``, ignoring case in
    every alphabet (:func:`~avsteg.storage.folding.contains_folded`: "örebro" finds "Örebro"
    on SQLite and on a PostgreSQL whatever its locale).

    A UNION of one select per table rather than one OR over a join: each part can use its own
    trigram index on PostgreSQL (migration 0007), and none makes a pass per version.
    """
    def has(column: Any) -> Any:
        return contains_folded(column, text)

    return union(
        select(ReportVersion.id).where(or_(
            has(ReportVersion.organisation), has(ReportVersion.contact_name),
            has(ReportVersion.contact_email), has(ReportVersion.filename))),
        select(ReportVersion.id).join(Report, Report.id == ReportVersion.report_id)
        .where(has(Report.reference)),
        select(ReportVersion.id).join(MessageRow, MessageRow.id == ReportVersion.message_id)
        .where(or_(has(MessageRow.sender), has(MessageRow.subject))),
        select(DeviationRow.version_id).where(or_(has(DeviationRow.procurement),
                                                  has(DeviationRow.supplier))),
    )


def matching_report_ids(
    *,
    year: int | None = None,
    organisation: str | None = None,
    report_type: str | None = None,
    status: StatusFilter | None = None,
    search: str | None = None,
) -> Select[Any]:
    """The ids of the reports :func:`list_reports` gives for these filters, as a subquery
    (for :func:`~.register.register_rows` ``only=``: the export of exactly that set)."""
    return _matching(year=year, organisation=organisation, report_type=report_type,
                     status=status, search=search).with_only_columns(ReportVersion.report_id)


def report_order(
    s: Session,
    *,
    year: int | None = None,
    organisation: str | None = None,
    report_type: str | None = None,
    status: StatusFilter | None = None,
    search: str | None = None,
    sort: SortKey = "reference",
    descending: bool = False,
) -> list[str]:
    """The references :func:`list_reports` gives for these filters, in its order: the export of
    a filtered Registret keeps the page's order without building every line of the list."""
    if sort not in _SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {SORT_KEYS}")
    query = _matching(year=year, organisation=organisation, report_type=report_type,
                      status=status, search=search, with_message=sort == "received")
    order = [c.desc() if descending else c.asc() for c in _SORTS[sort]]
    return list(s.scalars(query.with_only_columns(Report.reference).order_by(*order)))


def list_reports(
    s: Session,
    *,
    year: int | None = None,
    organisation: str | None = None,
    report_type: str | None = None,
    status: StatusFilter | None = None,
    search: str | None = None,
    sort: SortKey = "reference",
    descending: bool = False,
    offset: int = 0,
    limit: int | None = None,
    total: int | None = None,
) -> Page[ReportSummary]:
    """The register, one line per report (its current version).

    ``year``: the Rapportår the current version reports. ``organisation``, ``report_type``:
    exactly as registered (the choices a filter offers come from the register itself).
    ``status``: ``"current"`` or ``"withdrawn"``; None lists both. ``search``: free text found
    (ignoring case, Swedish letters too) in the reference, organisation, contact, sender,
    subject, file name, or a deviation's procurement or supplier. ``sort``: one of
    :data:`SORT_KEYS`, ties broken by reference. ``offset``/``limit``: the page;
    ``Page.total`` counts every match; ``total``: that count when the caller has it already
    (``register_figures(...).reports`` of the same filters), so a search is not run again.
    """
    if sort not in _SORTS:
        raise ValueError(f"unknown sort {sort!r}; expected one of {SORT_KEYS}")
    filters: dict[str, Any] = {"year": year, "organisation": organisation,
                               "report_type": report_type, "status": status, "search": search}
    if total is None:
        total = int(s.execute(select(func.count()).select_from(_matching(**filters).subquery()))
                    .scalar_one())
    query = _matching(**filters, with_message=sort == "received")
    order = [c.desc() if descending else c.asc() for c in _SORTS[sort]]
    query = query.order_by(*order).options(
        selectinload(ReportVersion.report), selectinload(ReportVersion.message),
        selectinload(ReportVersion.deviations),
    )
    if offset:
        query = query.offset(offset)
    if limit is not None:
        query = query.limit(limit)
    items = tuple(_summary(v) for v in s.scalars(query))
    return Page(items=items, total=total, offset=offset, limit=limit)


def register_figures(
    s: Session,
    *,
    year: int | None = None,
    organisation: str | None = None,
    report_type: str | None = None,
    status: StatusFilter | None = None,
    search: str | None = None,
) -> Figures:
    """The figures of exactly the set :func:`list_reports` gives for the same filters.

    Deviations and jobs count only reports that are not withdrawn, as in the export.
    """
    # One statement, the matching versions a CTE used twice: PostgreSQL then finds them (a
    # search: four trigram lookups) once, not once per figure (bench/web.py, a search).
    matching = _matching(year=year, organisation=organisation, report_type=report_type,
                         status=status, search=search).with_only_columns(
        ReportVersion.id.label("version_id"),
        Report.withdrawn_at.is_not(None).label("withdrawn"),
    ).cte("matching")
    per_version = (
        select(DeviationRow.version_id, func.count().label("deviations"),
               func.sum(DeviationRow.jobs_created).label("jobs"))
        .join(matching, matching.c.version_id == DeviationRow.version_id)
        .where(matching.c.withdrawn.is_(False))
        .group_by(DeviationRow.version_id)
        .subquery("per_version")
    )
    reports, withdrawn, deviations, jobs = s.execute(select(
        func.count(), func.coalesce(func.sum(case((matching.c.withdrawn, 1), else_=0)), 0),
        func.coalesce(func.sum(per_version.c.deviations), 0),
        func.coalesce(func.sum(per_version.c.jobs), 0),
    ).select_from(matching).outerjoin(per_version,
                                      per_version.c.version_id == matching.c.version_id)).one()
    return Figures(reports=int(reports or 0), withdrawn=int(withdrawn or 0),
                   deviations=int(deviations or 0), jobs_created=int(jobs or 0))


def _summary(v: ReportVersion) -> ReportSummary:
    return ReportSummary(
        reference=v.report.reference, version=v.version, organisation=v.organisation,
        report_type=v.report_type, year=v.year, deviations=len(v.deviations),
        jobs_created=sum(d.jobs_created or 0 for d in v.deviations),
        message_id=v.message.message_id_header, received_at=v.message.received_at,
        withdrawn_at=v.report.withdrawn_at,
    )


def register_choices(s: Session) -> dict[str, list[Any]]:
    """The values a filter can offer: years, organisations and report types in the register."""
    current = (
        select(ReportVersion.year, ReportVersion.organisation, ReportVersion.report_type)
        .join(Report, and_(Report.id == ReportVersion.report_id,
                           Report.current_version == ReportVersion.version))
        .distinct()  # a few hundred combinations, not one row per report
    )
    rows = s.execute(current).all()
    return {
        "years": sorted({r.year for r in rows if r.year is not None}, reverse=True),
        "organisations": sorted({r.organisation for r in rows if r.organisation}),
        "report_types": sorted({r.report_type for r in rows if r.report_type}),
    }


def report_details(s: Session, reference: str) -> ReportDetails | None:
    """One report's whole story, or None when there is no such reference."""
    report = find_report_by_reference(s, reference)
    if report is None:
        return None
    versions = list(s.scalars(
        select(ReportVersion)
        .where(ReportVersion.report_id == report.id)
        .options(selectinload(ReportVersion.deviations), selectinload(ReportVersion.message))
        .order_by(ReportVersion.version)
    ))
    version_messages = {v.message_id for v in versions}
    # A version registered by ``avsteg reprocess`` came from a copy; its original (rejected,
    # perhaps, with an error reply) belongs to the report's history too.
    originals = s.scalars(select(MessageRow.reprocessed_from).where(
        MessageRow.id.in_(version_messages), MessageRow.reprocessed_from.is_not(None)))
    message_pks = sorted(version_messages | {int(pk) for pk in originals if pk is not None})
    messages = list(s.scalars(
        select(MessageRow).where(MessageRow.id.in_(message_pks)).order_by(MessageRow.id)))
    problems = list(s.scalars(
        select(ProblemRow).where(ProblemRow.message_id.in_(message_pks)).order_by(ProblemRow.id)))
    replies = s.scalars(
        select(ReplyRow)
        .where(or_(ReplyRow.report_id == report.id, ReplyRow.message_id.in_(message_pks)))
        .order_by(ReplyRow.id))
    history = s.scalars(
        select(HistoryRow)
        .where(or_(HistoryRow.report_id == report.id, HistoryRow.message_id.in_(message_pks)))
        .order_by(HistoryRow.id))
    return ReportDetails(
        reference=report.reference, current_version=report.current_version,
        created_at=report.created_at, withdrawn_at=report.withdrawn_at,
        withdrawn_reason=report.withdrawn_reason,
        versions=tuple(_version(v, report.current_version, problems) for v in versions),
        messages=tuple(_message(m, problems) for m in messages),
        replies=tuple(_reply(r) for r in replies),
        history=tuple(HistoryEntry(h.at, h.actor, h.action, h.message_id, h.reason, h.details)
                      for h in history),
    )


def _problem(p: ProblemRow) -> ProblemView:
    return ProblemView(p.severity, p.field, p.deviation, p.label, p.message)


def _version(v: ReportVersion, current: int, problems: Sequence[ProblemRow]) -> VersionView:
    mine = [_problem(p) for p in problems
            if p.message_id == v.message_id and (p.version_id is None or p.version_id == v.id)]
    msg = v.message
    return VersionView(
        version=v.version, current=v.version == current,
        received_at=msg.received_at if msg else None, registered_at=v.created_at,
        message=msg.id if msg else None, message_id=msg.message_id_header if msg else None,
        sender=msg.sender if msg else None, subject=msg.subject if msg else None,
        file=v.filename, template_version=v.template_version, report=dict(v.values or {}),
        deviations=tuple(dict(d.values or {}) for d in v.deviations),
        errors=tuple(p for p in mine if p.severity == "error"),
        warnings=tuple(p for p in mine if p.severity == "warning"),
    )


def _message(row: MessageRow, problems: Sequence[ProblemRow]) -> MessageView:
    return MessageView(
        message=row.id, message_id=row.message_id_header, sender=row.sender,
        subject=row.subject, received_at=row.received_at, processed_at=row.processed_at,
        state=row.state, outcome=row.outcome, reason=row.reason,
        reprocessed_from=row.reprocessed_from,
        errors=tuple(_problem(p) for p in problems
                     if p.message_id == row.id and p.severity == "error"),
        size=row.size or 0, cut=bool(row.cut),
    )


def _reply(r: ReplyRow) -> ReplyView:
    return ReplyView(
        kind=r.kind, recipient=r.recipient, subject=r.subject, message_id=r.message_id_header,
        status=r.status, attempts=r.attempts, created_at=r.created_at, sent_at=r.sent_at,
        last_error=r.last_error,
    )


def current_raw_message(s: Session, reference: str) -> bytes | None:
    """The raw bytes of the message the report's current version came from."""
    report = find_report_by_reference(s, reference)
    if report is None:
        return None
    return s.scalars(
        select(MessageRow.raw)
        .join(ReportVersion, ReportVersion.message_id == MessageRow.id)
        .where(ReportVersion.report_id == report.id,
               ReportVersion.version == report.current_version)
    ).first()


def message_raw(s: Session, message_pk: int) -> bytes | None:
    """One stored message exactly as it arrived (the .eml a person downloads)."""
    return s.scalars(select(MessageRow.raw).where(MessageRow.id == message_pk)).first()


def version_authors(s: Session, reference: str) -> dict[int, tuple[str, str | None]]:
    """Versions a person made in the web app: version number → (who, why)."""
    rows = s.execute(
        select(ReportVersion.version, ReportVersion.made_by, ReportVersion.change_reason)
        .join(Report, Report.id == ReportVersion.report_id)
        .where(Report.reference == reference.strip().upper(), ReportVersion.made_by.is_not(None))
    )
    return {int(v): (str(who), why) for v, who, why in rows}

"""The Sammanställning summed by the database, for a register too large to load as rows.

:func:`avsteg.domain.figures.summarise` sums a loaded register in Python, which is right for
the export and the board report (they need the rows anyway) but took seconds for the web
page of a large register (a year of 20,000 reports loaded just to be counted). Here the same
figures come from three grouped queries over the current versions of the reports that are not
withdrawn: one per organisation spelling and year, one per typ av insats, one per målgrupp
(the options are kept as JSON arrays, so each dialect's own function unnests them). Each
sums per report first and then per group, so no aggregate needs DISTINCT. The
rules beyond plain sums stay in :func:`avsteg.domain.figures.summary_of`.
"""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, cast, func, select, text, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from avsteg.domain.figures import Slice, Summary, Totals, summary_of
from avsteg.domain.schema import Schema
from avsteg.storage.models import DeviationRow, MessageRow, Report, ReportVersion


def _current(year: int | None, *, described: bool = True) -> Subquery:
    """The newest version of every report that is not withdrawn (within ``year``).

    ``described``: with its organisation, year and arrival; the sums per option need only the
    ids, and leaving out the messages saves a join of the whole register.
    """
    report_year = func.coalesce(ReportVersion.year, Report.year)
    query = (
        select(Report.id.label("report_id"), ReportVersion.id.label("version_id"))
        .join(ReportVersion, and_(ReportVersion.report_id == Report.id,
                                  ReportVersion.version == Report.current_version))
        .where(Report.withdrawn_at.is_(None))
    )
    if described:
        query = query.add_columns(
            func.coalesce(ReportVersion.organisation, "").label("organisation"),
            report_year.label("year"),
            # When the version arrived: its message, or when it was made (a person's correction).
            func.coalesce(MessageRow.received_at, ReportVersion.created_at).label("received"),
        ).outerjoin(MessageRow, MessageRow.id == ReportVersion.message_id)
    if year is not None:
        query = query.where(report_year == year)
    return query.subquery("current")


_MEASURED = ("jobs_created", "employments", "internships", "fulltime_months")


def _per_version() -> Subquery:
    """Each version's deviations counted and summed (a report's figures, before grouping)."""
    return (
        select(DeviationRow.version_id, func.count().label("deviations"),
               *(func.sum(getattr(DeviationRow, key)).label(key) for key in _MEASURED))
        .group_by(DeviationRow.version_id)
        .subquery("per_version")
    )


def _grouped(rows: Any) -> list[ColumnElement[Any]]:
    """Reports (one row each in ``rows``) and the sums of their figures, for a GROUP BY.

    Summing per report first and then per group keeps every aggregate a plain one: a
    ``count(DISTINCT report)`` over the deviations would make PostgreSQL sort instead of hash.
    """
    return [func.count(), func.coalesce(func.sum(rows.c.deviations), 0),
            *(func.coalesce(func.sum(rows.c[key]), 0) for key in _MEASURED)]


def _totals(reports: Any, deviations: Any, jobs: Any, employments: Any, internships: Any,
            months: Any) -> Totals:
    return Totals(reports=int(reports or 0), deviations=int(deviations or 0),
                  jobs_created=int(jobs or 0), employments=int(employments or 0),
                  internships=int(internships or 0),
                  fulltime_months=Decimal(str(months or 0)))


def _slices(s: Session, current: Subquery) -> list[Slice]:
    figures = _per_version()
    rows = s.execute(
        select(current.c.organisation, current.c.year, func.max(current.c.received),
               *_grouped(figures))
        .select_from(current)
        .outerjoin(figures, figures.c.version_id == current.c.version_id)
        .group_by(current.c.organisation, current.c.year)
    )
    return [Slice(organisation, year, newest, _totals(*sums))
            for organisation, year, newest, *sums in rows]


def _per_option(s: Session, current: Subquery, column: Any) -> dict[str, Totals]:
    """Sums per option of a multiple choice: a deviation counts under each of its options."""
    if s.get_bind().dialect.name == "postgresql":
        # A value that is not an array (none is written so; an old or hand-made row) is read
        # as no options instead of failing the page.
        array = case((func.jsonb_typeof(column) == "array", column),
                     else_=cast("[]", JSONB))
        options = func.jsonb_array_elements_text(array).table_valued("value")
    else:
        options = func.json_each(column).table_valued("value")
    option = options.c.value
    per_report = (
        select(option.label("option"), func.count().label("deviations"),
               *(func.sum(getattr(DeviationRow, key)).label(key) for key in _MEASURED))
        .select_from(current)
        .join(DeviationRow, DeviationRow.version_id == current.c.version_id)
        .join(options, true())
        .where(option.is_not(None))
        .group_by(current.c.report_id, option)
        .subquery("per_report")
    )
    rows = s.execute(select(per_report.c.option, *_grouped(per_report))
                     .group_by(per_report.c.option))
    return {str(value): _totals(*sums) for value, *sums in rows}


def register_summary(s: Session, schema: Schema, *, year: int | None = None) -> Summary:
    """The same figures as ``summarise(register_rows(s, year=year), schema)``, summed in SQL."""
    if s.get_bind().dialect.name == "postgresql":
        # PostgreSQL guesses 100 options per JSON array, so a whole register looks costly
        # enough to JIT-compile, which cost 650 ms here for queries that run in 100 ms
        # (bench/web.py). Only for this transaction.
        s.execute(text("SET LOCAL jit = off"))
    reports = _current(year, described=False)
    return summary_of(
        _slices(s, _current(year)),
        _per_option(s, reports, DeviationRow.measures),
        _per_option(s, reports, DeviationRow.target_groups),
        schema,
    )


def register_stamp(s: Session) -> tuple[Any, ...]:
    """A value that changes whenever the figures may: a new version, a withdrawal or its undo.

    Versions are only ever added (a report's current version is always its newest row), so
    the newest version id changes with every new one; the withdrawn reports' count, the sum of
    their ids and the newest withdrawal time change when one is withdrawn or restored. Two cheap reads, so a page can keep figures until this changes.
    """
    newest_version = s.scalar(select(func.max(ReportVersion.id)))
    withdrawn = s.execute(
        select(func.count(), func.sum(Report.id), func.max(Report.withdrawn_at))
        .where(Report.withdrawn_at.is_not(None))
    ).one()
    return (newest_version, *withdrawn)

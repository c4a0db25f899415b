"""The Sammanställning summed by the database, for a register too large to load as rows.

:func:`avsteg.domain.figures.summarise` sums a loaded register in Python, which is right for
the export and the board report (they need the rows anyway) but took seconds for the web
page of a large register (a year of 20,000 reports loaded just to be counted). Here the same
figures come from two grouped queries over the current versions of the reports that are not
withdrawn:

* per combination of options (typ av insats × målgrupp, as stored): the deviations and their
  sums. A register has a few dozen combinations, so spreading them over each option (a
  deviation counts under each of its options) is done in Python on a handful of rows;
* per organisation spelling and year: the reports and their sums, and for each option how
  many reports have a deviation with it (a per-version "has this option" flag, summed).

Both are plain hash aggregates. Unnesting the JSON arrays instead (``jsonb_array_elements_text``)
made PostgreSQL count distinct reports per option over 200,000 rows: twice as slow on a
20,000-report register (bench/web.py). The rules beyond plain sums stay in
:func:`avsteg.domain.figures.summary_of`.
"""
from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Subquery,
    and_,
    case,
    exists,
    func,
    literal,
    select,
    text,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from avsteg.domain.figures import Slice, Summary, Totals, summary_of
from avsteg.domain.schema import Schema
from avsteg.storage.models import DeviationRow, MessageRow, Report, ReportVersion

_KINDS = ("measures", "target_groups")
_MEASURED = ("jobs_created", "employments", "internships", "fulltime_months")


def _current(year: int | None) -> Subquery:
    """The newest version of every report that is not withdrawn (within ``year``), with its
    organisation, year and when it arrived."""
    report_year = func.coalesce(ReportVersion.year, Report.year)
    query = (
        select(
            Report.id.label("report_id"),
            ReportVersion.id.label("version_id"),
            func.coalesce(ReportVersion.organisation, "").label("organisation"),
            report_year.label("year"),
            # When the version arrived: its message, or when it was made (a person's correction).
            func.coalesce(MessageRow.received_at, ReportVersion.created_at).label("received"),
        )
        .join(ReportVersion, and_(ReportVersion.report_id == Report.id,
                                  ReportVersion.version == Report.current_version))
        .outerjoin(MessageRow, MessageRow.id == ReportVersion.message_id)
        .where(Report.withdrawn_at.is_(None))
    )
    if year is not None:
        query = query.where(report_year == year)
    return query.subquery("current")


def _sums(columns: Any) -> list[ColumnElement[Any]]:
    return [func.coalesce(func.sum(getattr(columns, key)), 0) for key in _MEASURED]


def _totals(reports: Any, deviations: Any, jobs: Any, employments: Any, internships: Any,
            months: Any) -> Totals:
    return Totals(reports=int(reports or 0), deviations=int(deviations or 0),
                  jobs_created=int(jobs or 0), employments=int(employments or 0),
                  internships=int(internships or 0),
                  fulltime_months=Decimal(str(months or 0)))


def _options_of(value: Any) -> list[str]:
    """The options of a stored multiple choice (a JSON list; anything else has none)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def _per_combination(s: Session, current: Subquery) -> dict[str, dict[str, Totals]]:
    """Deviations and their sums per option (``reports`` still 0: counted per slice)."""
    rows = s.execute(
        select(DeviationRow.measures, DeviationRow.target_groups, func.count(),
               *_sums(DeviationRow))
        .select_from(current)
        .join(DeviationRow, DeviationRow.version_id == current.c.version_id)
        .group_by(DeviationRow.measures, DeviationRow.target_groups)
    )
    out: dict[str, dict[str, Totals]] = {kind: {} for kind in _KINDS}
    for measures, target_groups, deviations, *sums in rows:
        combination = _totals(0, deviations, *sums)
        for kind, value in zip(_KINDS, (measures, target_groups), strict=True):
            # An option listed twice counts twice, as summarise() counts it.
            for option in _options_of(value):
                out[kind].setdefault(option, Totals()).merge(combination)
    return out


def _has(s: Session, column: Any, option: str) -> ColumnElement[bool]:
    """Whether a deviation's stored list of options holds ``option``."""
    if s.get_bind().dialect.name == "postgresql":
        return type_coerce(column, JSONB).has_key(option)  # jsonb ? 'option'
    element = func.json_each(column).table_valued("value")
    return exists(select(literal(1)).select_from(element).where(element.c.value == option))


def _per_slice(s: Session, current: Subquery, options: Sequence[tuple[str, str]]
               ) -> tuple[list[Slice], list[int]]:
    """The slices, and per option (in ``options`` order) how many reports have it."""
    flags = [func.max(case((_has(s, getattr(DeviationRow, kind), option), 1), else_=0))
             .label(f"has_{n}") for n, (kind, option) in enumerate(options)]
    per_version = (
        select(DeviationRow.version_id, func.count().label("deviations"),
               *(func.sum(getattr(DeviationRow, key)).label(key) for key in _MEASURED), *flags)
        .join(current, current.c.version_id == DeviationRow.version_id)
        .group_by(DeviationRow.version_id)
        .subquery("per_version")
    )
    rows = s.execute(
        select(current.c.organisation, current.c.year, func.max(current.c.received),
               func.count(), func.coalesce(func.sum(per_version.c.deviations), 0),
               *_sums(per_version.c),
               *(func.coalesce(func.sum(per_version.c[f"has_{n}"]), 0)
                 for n in range(len(options))))
        .select_from(current)
        .outerjoin(per_version, per_version.c.version_id == current.c.version_id)
        .group_by(current.c.organisation, current.c.year)
    )
    slices, having = [], [0] * len(options)
    for organisation, year, newest, *figures in rows:
        slices.append(Slice(organisation, year, newest, _totals(*figures[:6])))
        for n, count in enumerate(figures[6:]):
            having[n] += int(count or 0)
    return slices, having


def register_summary(s: Session, schema: Schema, *, year: int | None = None) -> Summary:
    """The same figures as ``summarise(register_rows(s, year=year), schema)``, summed in SQL."""
    if s.get_bind().dialect.name == "postgresql":
        # The plans cost more than PostgreSQL's JIT threshold on a whole register, and
        # compiling cost 650 ms here for queries that run in 100 ms (bench/web.py).
        # Only for this transaction.
        s.execute(text("SET LOCAL jit = off"))
    current = _current(year)
    by_option = _per_combination(s, current)
    # Reports are counted for the options the register holds; summary_of() lists the schema's
    # other options with zeros.
    options = [(kind, option) for kind in _KINDS for option in by_option[kind]]
    slices, having = _per_slice(s, current, options)
    for (kind, option), reports in zip(options, having, strict=True):
        by_option[kind][option].reports = reports
    return summary_of(slices, by_option["measures"], by_option["target_groups"], schema)


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

"""Reads the register from the database into the plain rows the export and board report use.

The export, the board report and the reminders work on :mod:`avsteg.domain.register` rows and
never see the database. Values stored as JSON (dates as ISO text, decimals as
numbers) are given back their schema types here, so a date is a ``date`` again.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.engine import Row
from sqlalchemy.orm import Session

from avsteg.config.schema import default_schema
from avsteg.domain.register import (
    CURRENT,
    WITHDRAWN,
    ActionRow,
    DeviationRow,
    Period,
    Register,
    ReportRow,
    VersionRow,
)
from avsteg.domain.schema import Field, Schema
from avsteg.storage import models as m

# The field types :func:`typed` changes; a value of any other type is given back as it is.
_TYPED = ("date", "integer", "year", "decimal", "multichoice")
# The deviation's typed columns: what the register sums; they win over the JSON copy.
_TYPED_COLUMNS = ("jobs_created", "employments", "internships", "fulltime_months",
                   "procurement", "supplier")
_CHOICE_COLUMNS = ("measures", "target_groups")


def typed(f: Field | None, value: Any) -> Any:
    """A JSON-stored value with its schema type back (date, int, Decimal, list)."""
    if value is None or f is None:
        return value
    try:
        if f.type == "date" and isinstance(value, str):
            return dt.date.fromisoformat(value[:10])
        if f.type in ("integer", "year") and isinstance(value, (str, float)):
            return int(value)
        if f.type == "decimal" and not isinstance(value, Decimal):
            return Decimal(str(value))
        if f.type == "multichoice" and isinstance(value, str):
            return [value]
    except (ValueError, InvalidOperation):
        return value
    return value


def _converters(fields: Iterable[Field]) -> dict[str, Field]:
    """The fields whose JSON values :func:`typed` changes, by key (the last of a key wins)."""
    by_key = {f.key: f for f in fields}
    return {k: f for k, f in by_key.items() if f.type in _TYPED}


def _typed_values(values: dict[str, Any] | None, types: dict[str, Field]) -> dict[str, Any]:
    """A copy of ``values`` (in its order) with :func:`typed` applied to the keys it changes."""
    out = dict(values or {})
    for key, f in types.items():
        if key in out:
            out[key] = typed(f, out[key])
    return out


def _received(v: Row[Any]) -> dt.datetime:
    """When a version arrived: its message's time, or the version's own without one."""
    return v.received_at or v.created_at


def _deviation_values(d: Row[Any], types: dict[str, Field]) -> dict[str, Any]:
    values = _typed_values(d.values, types)
    for key in _TYPED_COLUMNS:
        column = getattr(d, key)
        if column is not None:
            values[key] = column
    for key in _CHOICE_COLUMNS:
        column = getattr(d, key)
        if column:
            values[key] = list(column)
    return values


Scope = Callable[[Any], list[ColumnElement[bool]]]


def _scope(year: int | None, only: Select[Any] | None) -> Scope:
    """The conditions that keep a report id column to the reports asked for."""
    current = None
    if year is not None:
        current = (
            select(m.ReportVersion.report_id)
            .join(m.Report, and_(m.Report.id == m.ReportVersion.report_id,
                                 m.Report.current_version == m.ReportVersion.version))
            .where(or_(m.ReportVersion.year == year,
                       and_(m.ReportVersion.year.is_(None), m.Report.year == year)))
        )

    def where(report_id: Any) -> list[ColumnElement[bool]]:
        return [report_id.in_(q) for q in (current, only) if q is not None]
    return where


def _versions(session: Session, scope: Scope) -> dict[int, list[Row[Any]]]:
    """Every version of the reports in scope with its message's time, id and sender, by report
    (in reference order), oldest version first."""
    V, R, M = m.ReportVersion, m.Report, m.MessageRow
    query = (
        select(R.id.label("report_id"), R.reference, R.year.label("report_year"),
               R.current_version, R.withdrawn_at, R.withdrawn_reason,
               V.id.label("version_id"), V.version, V.organisation, V.report_type, V.year,
               V.contact_name, V.contact_email, V.filename, V.values, V.created_at,
               M.received_at, M.message_id_header, M.sender)
        .select_from(R)
        .join(V, V.report_id == R.id)
        .outerjoin(M, M.id == V.message_id)
        .where(*scope(R.id))
        .order_by(R.reference, V.version)
    )
    out: dict[int, list[Row[Any]]] = {}
    rows: Iterable[Row[Any]] = session.connection().execute(query)
    for row in rows:
        out.setdefault(row.report_id, []).append(row)
    return out


def _newest(rows: Sequence[Row[Any]]) -> Row[Any]:
    """The report's current version (the highest number if the pointer names none)."""
    for row in rows:
        if row.version == row.current_version:
            return row
    return max(rows, key=lambda r: r.version)


def _deviations(session: Session, scope: Scope, newest: set[int]
                ) -> tuple[dict[int, tuple[int, int]], dict[int, list[Row[Any]]]]:
    """Per version: how many deviations and the jobs they created; the rows of the newest."""
    D, V = m.DeviationRow, m.ReportVersion
    query = (
        select(D.version_id, D.position, *(getattr(D, k) for k in _TYPED_COLUMNS),
               *(getattr(D, k) for k in _CHOICE_COLUMNS), D.values)
        .join(V, V.id == D.version_id)
        .where(*scope(V.report_id))
        .order_by(D.version_id, D.position, D.id)
    )
    counts: dict[int, tuple[int, int]] = {}
    rows: dict[int, list[Row[Any]]] = {}
    for d in session.connection().execute(query):
        number, jobs = counts.get(d.version_id, (0, 0))
        counts[d.version_id] = (number + 1, jobs + (d.jobs_created or 0))
        if d.version_id in newest:
            rows.setdefault(d.version_id, []).append(d)
    return counts, rows


def register_rows(
    session: Session,
    *,
    year: int | None = None,
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    schema: Schema | None = None,
    only: Select[Any] | None = None,
) -> Register:
    """The newest version of each report (and every version for Historik) within the period.

    ``year`` selects on the report's Rapportår; ``date_from``/``date_to`` (inclusive) on the
    local date the report's first version arrived. Withdrawn reports are included, marked
    ``återkallad``; the export and the board report leave them out of their figures.
    ``only``: a select of report ids (e.g. :func:`~.reports.matching_report_ids`) to keep to.
    The year and ``only`` are applied in SQL, so a year or a filtered set of a large register
    loads only its own reports and their history (the period is checked again below, exactly).

    Three selects of plain columns (versions with their message, deviations, history), no ORM
    objects: a year of a large register is read in a fraction of the time the objects took.
    """
    if schema is None:
        schema = default_schema()
    report_types = _converters(schema.report_fields)
    deviation_types = _converters(schema.deviation_fields)
    in_scope = _scope(year, only)
    # The selects go to the connection, past the ORM's autoflush: flush what the caller's
    # unit of work changed (a job's session), so it is read as the ORM query read it.
    session.flush()
    versions = _versions(session, in_scope)
    newest_of = {report_id: _newest(rows) for report_id, rows in versions.items()}
    counts, current_deviations = _deviations(
        session, in_scope, {v.version_id for v in newest_of.values()})

    reports: list[ReportRow] = []
    deviations: list[DeviationRow] = []
    version_rows: list[VersionRow] = []
    for report_id, rows in versions.items():
        first, newest = rows[0], newest_of[report_id]
        reference = first.reference
        for v in rows:
            number, jobs = counts.get(v.version_id, (0, 0))
            version_rows.append(VersionRow(
                reference=reference,
                version=v.version,
                received_at=_received(v),
                message_id=v.message_id_header,
                organisation=v.organisation or "",
                report_type=v.report_type or "",
                year=v.year,
                contact_name=v.contact_name,
                contact_email=v.contact_email,
                deviations=number,
                jobs_created=jobs,
                sender=v.sender,
                file_name=v.filename,
                values=_typed_values(v.values, report_types),
            ))
        number, jobs = counts.get(newest.version_id, (0, 0))
        reports.append(ReportRow(
            reference=reference,
            version=newest.version,
            received_at=_received(newest),
            organisation=newest.organisation or "",
            report_type=newest.report_type or "",
            year=newest.year if newest.year is not None else newest.report_year,
            contact_name=newest.contact_name,
            contact_email=newest.contact_email,
            deviations=number,
            jobs_created=jobs,
            status=WITHDRAWN if newest.withdrawn_at is not None else CURRENT,
            withdrawn_at=newest.withdrawn_at,
            withdrawn_reason=newest.withdrawn_reason,
            message_id=newest.message_id_header,
            registered_at=_received(first),
            values=_typed_values(newest.values, report_types),
        ))
        for d in current_deviations.get(newest.version_id, ()):
            deviations.append(DeviationRow(
                reference=reference, version=newest.version, position=d.position,
                values=_deviation_values(d, deviation_types),
            ))
    register = Register(reports=reports, deviations=deviations, versions=version_rows,
                        actions=_actions(session, in_scope))
    return register.filtered(Period(year=year, date_from=date_from, date_to=date_to))


def _actions(session: Session, scope: Scope) -> list[ActionRow]:
    """Every act of a person on the reports in scope (history rows that name one), oldest first."""
    H = m.HistoryRow
    rows = session.connection().execute(
        select(H.at, H.actor, H.action, H.reason, H.details, m.Report.reference)
        .join(m.Report, m.Report.id == H.report_id)
        .where(*scope(H.report_id))
        .order_by(H.at, H.id)
    )
    out = []
    for h in rows:
        details = dict(h.details or {})
        version = details.get("version")
        out.append(ActionRow(reference=h.reference, at=h.at, actor=h.actor, action=h.action,
                             reason=h.reason, details=details,
                             version=version if isinstance(version, int) else None))
    return out

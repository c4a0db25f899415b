"""register_rows as it was before it read columns with Core selects (ORM objects, selectinload).

Kept only as the reference tests/integration/test_register_rows.py compares the faster
:func:`avsteg.storage.read_model.register.register_rows` to: both must give the same Register.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session, selectinload

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


def _fields(schema: Schema, scope: str) -> dict[str, Field]:
    fields = schema.report_fields if scope == "report" else schema.deviation_fields
    return {f.key: f for f in fields}


def _received(version: m.ReportVersion) -> dt.datetime:
    message = version.message
    return (message.received_at if message is not None and message.received_at else None) \
        or version.created_at


def _deviation_values(row: m.DeviationRow, fields: dict[str, Field]) -> dict[str, Any]:
    values = {k: typed(fields.get(k), v) for k, v in (row.values or {}).items()}
    # The typed columns are what the register sums; they win over the JSON copy.
    for key in ("jobs_created", "employments", "internships", "fulltime_months",
                "procurement", "supplier"):
        column = getattr(row, key, None)
        if column is not None:
            values[key] = column
    for key in ("measures", "target_groups"):
        column = getattr(row, key, None)
        if column:
            values[key] = list(column)
    return values


def _jobs(deviations: list[m.DeviationRow]) -> int:
    return sum(d.jobs_created or 0 for d in deviations)


def register_rows_before(
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
    loads only its own reports (the period is checked again below, exactly).
    """
    if schema is None:
        schema = default_schema()
    report_fields = _fields(schema, "report")
    deviation_fields = _fields(schema, "deviation")
    query = (
        select(m.Report)
        .options(
            selectinload(m.Report.versions).selectinload(m.ReportVersion.deviations),
            selectinload(m.Report.versions).selectinload(m.ReportVersion.message),
        )
        .order_by(m.Report.reference)
    )
    if year is not None:
        current = (
            select(m.ReportVersion.report_id)
            .join(m.Report, and_(m.Report.id == m.ReportVersion.report_id,
                                 m.Report.current_version == m.ReportVersion.version))
            .where(or_(m.ReportVersion.year == year,
                       and_(m.ReportVersion.year.is_(None), m.Report.year == year)))
        )
        query = query.where(m.Report.id.in_(current))
    if only is not None:
        query = query.where(m.Report.id.in_(only))
    reports: list[ReportRow] = []
    deviations: list[DeviationRow] = []
    versions: list[VersionRow] = []
    for report in session.scalars(query):
        if not report.versions:
            continue
        by_number = {v.version: v for v in report.versions}
        newest = by_number.get(report.current_version) or max(
            report.versions, key=lambda v: v.version
        )
        first = min(report.versions, key=lambda v: v.version)
        for v in report.versions:
            versions.append(
                VersionRow(
                    reference=report.reference,
                    version=v.version,
                    received_at=_received(v),
                    message_id=v.message.message_id_header if v.message else None,
                    organisation=v.organisation or "",
                    report_type=v.report_type or "",
                    year=v.year,
                    contact_name=v.contact_name,
                    contact_email=v.contact_email,
                    deviations=len(v.deviations),
                    jobs_created=_jobs(v.deviations),
                    sender=v.message.sender if v.message else None,
                    file_name=v.filename,
                    values={k: typed(report_fields.get(k), value)
                            for k, value in (v.values or {}).items()},
                )
            )
        reports.append(
            ReportRow(
                reference=report.reference,
                version=newest.version,
                received_at=_received(newest),
                organisation=newest.organisation or "",
                report_type=newest.report_type or "",
                year=newest.year if newest.year is not None else report.year,
                contact_name=newest.contact_name,
                contact_email=newest.contact_email,
                deviations=len(newest.deviations),
                jobs_created=_jobs(newest.deviations),
                status=WITHDRAWN if report.withdrawn_at is not None else CURRENT,
                withdrawn_at=report.withdrawn_at,
                withdrawn_reason=report.withdrawn_reason,
                message_id=newest.message.message_id_header if newest.message else None,
                registered_at=_received(first),
                values={k: typed(report_fields.get(k), v)
                        for k, v in (newest.values or {}).items()},
            )
        )
        for d in newest.deviations:
            deviations.append(
                DeviationRow(
                    reference=report.reference,
                    version=newest.version,
                    position=d.position,
                    values=_deviation_values(d, deviation_fields),
                )
            )
    register = Register(reports=reports, deviations=deviations, versions=versions,
                        actions=_actions(session))
    return register.filtered(Period(year=year, date_from=date_from, date_to=date_to))


def _actions(session: Session) -> list[ActionRow]:
    """Every act of a person on a report (the history rows that name one), oldest first."""
    rows = session.execute(
        select(m.HistoryRow, m.Report.reference)
        .join(m.Report, m.Report.id == m.HistoryRow.report_id)
        .order_by(m.HistoryRow.at, m.HistoryRow.id)
    )
    out = []
    for h, reference in rows:
        details = dict(h.details or {})
        version = details.get("version")
        out.append(ActionRow(reference=reference, at=h.at, actor=h.actor, action=h.action,
                             reason=h.reason, details=details,
                             version=version if isinstance(version, int) else None))
    return out

"""The register: reports under reference numbers, their versions and deviations.

A report gets its reference (``AVS-2026-0001``) from a per-year counter that is race-free on
both databases: one ``INSERT … ON CONFLICT DO UPDATE SET last_number = last_number + 1
RETURNING last_number`` statement. It locks the year's row until the unit of work ends, so two
workers wait for each other, and a rolled-back unit of work gives its number back (gapless).

A corrected template becomes version 2, 3, … of the same report; the newest is current
(``reports.current_version``). Nothing is deleted; a withdrawal only sets ``withdrawn_at``.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from avsteg.domain.report import ParsedReport, jsonable
from avsteg.storage.messages import utcnow
from avsteg.storage.models import (
    AttachmentRow,
    DeviationRow,
    MessageRow,
    ReferenceCounter,
    ReplyRow,
    Report,
    ReportVersion,
)
from avsteg.storage.sql import upsert_insert

REFERENCE_PREFIX = "AVS"
REFERENCE_PATTERN = re.compile(r"\bAVS-(\d{4})-(\d{4,})\b", re.IGNORECASE)


def format_reference(year: int, number: int) -> str:
    return f"{REFERENCE_PREFIX}-{year}-{number:04d}"


def references_in(text: str | None) -> list[str]:
    """Reference numbers written in a text (a subject line), upper-cased, in order, once each."""
    found: list[str] = []
    for match in REFERENCE_PATTERN.finditer(text or ""):
        ref = format_reference(int(match.group(1)), int(match.group(2)))
        if ref not in found:
            found.append(ref)
    return found


def next_reference(s: Session, year: int) -> str:
    """Hand out the next reference number of ``year``: gapless, never twice."""
    return format_reference(year, _next_number(s, year))


def _next_number(s: Session, year: int) -> int:
    statement = (
        upsert_insert(s, ReferenceCounter)
        .values(year=year, last_number=1)
        .on_conflict_do_update(
            index_elements=[ReferenceCounter.year],
            set_={"last_number": ReferenceCounter.last_number + 1},
        )
        .returning(ReferenceCounter.last_number)
    )
    return int(s.execute(statement).scalar_one())


def register_report(
    s: Session,
    *,
    message: MessageRow,
    parsed: ParsedReport,
    attachment_sha256: str,
    attachment: AttachmentRow | None = None,
    year: int | None = None,
    now: dt.datetime | None = None,
) -> Report:
    """A new report with a fresh reference, version 1 and its deviations.

    Warnings are not stored here: record them with
    :func:`avsteg.storage.messages.record_problems` (``version=`` the new version).

    ``year`` numbers the reference; by default the report's own year (``Rapportår``), else
    the current year.
    """
    now = now or utcnow()
    ref_year = year or _as_int(parsed.report.get("year")) or now.year
    number = _next_number(s, ref_year)
    report = Report(
        reference=format_reference(ref_year, number),
        year=ref_year,
        number=number,
        current_version=1,
        created_at=now,
    )
    s.add(report)
    s.flush()
    _add_version_row(s, report, 1, message, parsed, attachment_sha256, attachment, now)
    return report


def add_version(
    s: Session,
    report: Report,
    *,
    message: MessageRow,
    parsed: ParsedReport,
    attachment_sha256: str,
    attachment: AttachmentRow | None = None,
    now: dt.datetime | None = None,
) -> ReportVersion:
    """A corrected template: the next version of ``report``, which becomes current.

    The version number comes from one atomic UPDATE … RETURNING on the report's row, so two
    corrections arriving at once get 2 and 3, never 2 twice.
    """
    now = now or utcnow()
    number = s.execute(
        update(Report)
        .where(Report.id == report.id)
        .values(current_version=Report.current_version + 1)
        .returning(Report.current_version)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    s.refresh(report)
    return _add_version_row(
        s, report, int(number), message, parsed, attachment_sha256, attachment, now
    )


def _add_version_row(
    s: Session,
    report: Report,
    number: int,
    message: MessageRow,
    parsed: ParsedReport,
    attachment_sha256: str,
    attachment: AttachmentRow | None,
    now: dt.datetime,
) -> ReportVersion:
    values = {key: jsonable(value) for key, value in parsed.report.items()}
    version = ReportVersion(
        report_id=report.id,
        version=number,
        message_id=message.id,
        attachment_id=attachment.id if attachment is not None else None,
        attachment_sha256=attachment_sha256,
        filename=parsed.file,
        template_version=parsed.template_version,
        organisation=values.get("organisation"),
        report_type=values.get("report_type"),
        year=_as_int(values.get("year")),
        contact_name=values.get("contact_name"),
        contact_email=values.get("contact_email"),
        values=values,
        created_at=now,
    )
    s.add(version)
    s.flush()
    for position, deviation in enumerate(parsed.deviations, start=1):
        s.add(_deviation_row(version, position, deviation))
    s.flush()
    return version


def _deviation_row(
    version: ReportVersion, position: int, deviation: dict[str, Any]
) -> DeviationRow:
    return DeviationRow(
        version_id=version.id,
        position=position,
        organisation=version.organisation,
        report_type=version.report_type,
        year=version.year,
        procurement=deviation.get("procurement"),
        supplier=deviation.get("supplier"),
        jobs_created=_as_int(deviation.get("jobs_created")),
        employments=_as_int(deviation.get("employments")),
        internships=_as_int(deviation.get("internships")),
        fulltime_months=_as_decimal(deviation.get("fulltime_months")),
        measures=list(deviation.get("measures") or []),
        target_groups=list(deviation.get("target_groups") or []),
        values={key: jsonable(value) for key, value in deviation.items()},
    )


def _as_int(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _as_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except ArithmeticError:
        return None


def withdraw_report(
    s: Session, report: Report, reason: str, *, now: dt.datetime | None = None
) -> None:
    """Take a report out of the register without deleting anything."""
    report.withdrawn_at = now or utcnow()
    report.withdrawn_reason = reason
    s.flush()


# -- finding reports ----------------------------------------------------------------------


def find_report_by_reference(s: Session, reference: str) -> Report | None:
    return s.scalars(select(Report).where(Report.reference == reference.strip().upper())).first()


def find_version_by_attachment_sha(s: Session, sha256: str) -> ReportVersion | None:
    """The first registered version made from exactly this file (the same file sent twice)."""
    query = (
        select(ReportVersion)
        .where(ReportVersion.attachment_sha256 == sha256)
        .options(joinedload(ReportVersion.report))
        .order_by(ReportVersion.id)
        .limit(1)
    )
    return s.scalars(query).first()


def _id_variants(message_ids: Iterable[str]) -> set[str]:
    """Message-IDs as written in headers, with and without angle brackets."""
    variants: set[str] = set()
    for raw in message_ids:
        bare = raw.strip().strip("<>").strip()
        if bare:
            variants.update({bare, f"<{bare}>"})
    return variants


def find_reports_for_thread(s: Session, message_ids: Sequence[str]) -> list[Report]:
    """Reports a reply belongs to, from its In-Reply-To/References Message-IDs.

    A Message-ID may be one of our replies (a receipt): its report, and every report
    registered from the message it answered (a receipt may name several). It may also be the
    sender's own earlier message that was registered.
    """
    ids = _id_variants(message_ids)
    if not ids:
        return []
    report_ids: set[int] = set()
    message_pks: set[int] = set()
    for report_id, message_pk in s.execute(
        select(ReplyRow.report_id, ReplyRow.message_id).where(ReplyRow.message_id_header.in_(ids))
    ):
        if report_id is not None:
            report_ids.add(report_id)
        if message_pk is not None:
            message_pks.add(message_pk)
    message_pks.update(
        s.scalars(select(MessageRow.id).where(MessageRow.message_id_header.in_(ids)))
    )
    if message_pks:
        report_ids.update(
            s.scalars(
                select(ReportVersion.report_id).where(ReportVersion.message_id.in_(message_pks))
            )
        )
    if not report_ids:
        return []
    return list(s.scalars(select(Report).where(Report.id.in_(report_ids)).order_by(Report.id)))


def find_report_for_thread(s: Session, message_ids: Sequence[str]) -> Report | None:
    """The one report a reply belongs to; None when there is none or more than one."""
    reports = find_reports_for_thread(s, message_ids)
    return reports[0] if len(reports) == 1 else None


def current_version(s: Session, report: Report) -> ReportVersion:
    return s.scalars(
        select(ReportVersion)
        .where(
            ReportVersion.report_id == report.id, ReportVersion.version == report.current_version
        )
        .options(selectinload(ReportVersion.deviations))
    ).one()


def current_versions(
    s: Session, *, year: int | None = None, include_withdrawn: bool = False
) -> list[ReportVersion]:
    """The newest version of each report, with report, message and deviations loaded.

    ``year`` filters on the year the current version reports (``Rapportår``). Ordered by
    reference.
    """
    query = (
        select(ReportVersion)
        .join(
            Report,
            and_(
                Report.id == ReportVersion.report_id,
                Report.current_version == ReportVersion.version,
            ),
        )
        .options(
            joinedload(ReportVersion.report),
            joinedload(ReportVersion.message),
            selectinload(ReportVersion.deviations),
        )
        .order_by(Report.year, Report.number)
    )
    if year is not None:
        query = query.where(ReportVersion.year == year)
    if not include_withdrawn:
        query = query.where(Report.withdrawn_at.is_(None))
    return list(s.scalars(query).unique())

"""What a person changes in the register: undo a withdrawal, a corrected version.

A correction never edits the sender's versions: it is a new version that copies the current one
with one value changed, marked with who made it and why, and points at the message of the version
it corrects (where its values came from).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from avsteg.domain.report import ParsedReport
from avsteg.storage.models import Report, ReportVersion
from avsteg.storage.reports import add_version, current_version


def restore_report(s: Session, report: Report) -> None:
    """Undo a withdrawal: the report counts again (history keeps that it was withdrawn)."""
    report.withdrawn_at = None
    report.withdrawn_reason = None
    s.flush()


def current_values(s: Session, report: Report) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The current version's report values and deviations, as stored (JSON values)."""
    version = current_version(s, report)
    return dict(version.values or {}), [dict(d.values or {}) for d in version.deviations]


def add_correction(
    s: Session,
    report: Report,
    *,
    made_by: str,
    reason: str,
    report_values: dict[str, Any],
    deviations: list[dict[str, Any]],
) -> ReportVersion:
    base = current_version(s, report)
    parsed = ParsedReport(
        file=base.filename or "", format=None, status="accepted",
        template_version=base.template_version, report=report_values, deviations=deviations,
    )
    version = add_version(s, report, message=base.message, parsed=parsed,
                          attachment_sha256=base.attachment_sha256)
    version.made_by = made_by[:200]
    version.change_reason = reason
    s.flush()
    return version

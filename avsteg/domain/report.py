"""What a parsed template is, independent of the file format it came in.

Readers (Word, Excel) produce a :class:`FoundTemplate`: raw values keyed by schema key, as
people typed them. Validation turns that into a :class:`ParsedReport`: normalised values,
errors and warnings. Both are plain values so they can be tested and stored without a framework.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

# A value as a reader found it. Word gives text lines (one per paragraph in the value cell,
# so choice lists keep their shape); Excel gives typed cell values.
RawValue = str | list[str] | int | float | Decimal | bool | dt.date | dt.datetime | None

Status = Literal["accepted", "rejected", "not_a_report"]


@dataclass
class FoundTemplate:
    """Raw label/value pairs a reader found in one file."""

    format: str  # "docx" | "xlsx"
    identifier: str | None = None  # core property `identifier` (None when retyped)
    version: str | None = None  # core property `version`
    report: dict[str, RawValue] = field(default_factory=dict)
    deviations: list[dict[str, RawValue]] = field(default_factory=list)
    recognised_labels: int = 0  # distinct schema fields seen; tells a report from other documents
    date1904: bool = False  # Excel's 1904 date system, for serial numbers typed as dates


@dataclass(frozen=True)
class Problem:
    """One thing the sender must fix (error) or may want to check (warning)."""

    field: str | None
    deviation: int | None  # 1-based deviation number, None for report fields and the whole file
    label: str | None  # the label as printed in the template
    message: str  # Swedish: what was found and what is expected

    def to_json(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "deviation": self.deviation,
            "label": self.label,
            "message": self.message,
        }


@dataclass
class ParsedReport:
    """The outcome of reading one attachment; the JSON of ``avsteg parse``."""

    file: str
    format: str | None
    status: Status
    template_version: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    deviations: list[dict[str, Any]] = field(default_factory=list)
    errors: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    # The parser itself failed (a bug of ours): ``status`` says ``rejected`` with a polite
    # message for ``avsteg parse``, but the pipeline must not answer the sender — it fails the
    # message so it is retried, and a person looks at the log.
    crashed: bool = False

    @property
    def accepted(self) -> bool:
        return self.status == "accepted"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "format": self.format,
            "template_version": self.template_version,
            "status": self.status,
            "report": {k: jsonable(v) for k, v in self.report.items()},
            "deviations": [{k: jsonable(v) for k, v in d.items()} for d in self.deviations],
            "errors": [p.to_json() for p in self.errors],
            "warnings": [p.to_json() for p in self.warnings],
        }


def jsonable(value: Any) -> Any:
    """Normalised values as spec 2.4 prints them: ISO dates, JSON numbers, lists."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def rejected_file(file: str, fmt: str | None, message: str) -> ParsedReport:
    """A file we could not read as a template at all (encrypted, PDF, broken, hostile, …)."""
    return ParsedReport(
        file=file,
        format=fmt,
        status="rejected",
        errors=[Problem(field=None, deviation=None, label=None, message=message)],
    )

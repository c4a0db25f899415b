"""What a handläggare does to a report, each act recorded in the history (who, when, why).

Used by the web app; each function is one unit of work, so the change and its history row are
committed together or not at all. Pending-list actions (register anyway, trust a domain, …) are
:mod:`avsteg.services.pending`'s; :func:`reprocess_by` wraps :mod:`avsteg.services.reprocess`
with the history row of the person who asked for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avsteg.domain.report import FoundTemplate, jsonable
from avsteg.domain.schema import Field, Schema
from avsteg.domain.validation import normalise_cell
from avsteg.services.pipeline import Pipeline
from avsteg.services.reprocess import Reprocessed, reprocess
from avsteg.storage import Database, find_report_by_reference, record_action, withdraw_report
from avsteg.storage.corrections import add_correction, current_values, restore_report


class ActionRefused(ValueError):
    """The act cannot be done as asked; the message is Swedish, for the person who asked."""


@dataclass(frozen=True)
class Done:
    reference: str
    message: str  # Swedish, shown after the act


def withdraw(db: Database, reference: str, *, actor: str, reason: str) -> Done:
    reason = reason.strip()
    if not reason:
        raise ActionRefused("Skriv ett skäl till att rapporten dras tillbaka.")
    with db.unit_of_work() as s:
        report = find_report_by_reference(s, reference)
        if report is None:
            raise LookupError(reference)
        if report.withdrawn_at is not None:
            raise ActionRefused(f"{report.reference} är redan återkallad.")
        withdraw_report(s, report, reason)
        record_action(s, actor=actor, action="withdraw", report_id=report.id, reason=reason)
        return Done(report.reference, f"{report.reference} är återkallad.")


def undo_withdraw(db: Database, reference: str, *, actor: str, reason: str = "") -> Done:
    with db.unit_of_work() as s:
        report = find_report_by_reference(s, reference)
        if report is None:
            raise LookupError(reference)
        if report.withdrawn_at is None:
            raise ActionRefused(f"{report.reference} är inte återkallad.")
        before = {"withdrawn_at": report.withdrawn_at.isoformat(),
                  "withdrawn_reason": report.withdrawn_reason}
        restore_report(s, report)
        record_action(s, actor=actor, action="undo-withdraw", report_id=report.id,
                      reason=reason.strip() or None, details=before)
        return Done(report.reference, f"{report.reference} är åter aktuell.")


def _field(schema: Schema, key: str, scope: str) -> Field:
    fields = schema.report_fields if scope == "report" else schema.deviation_fields
    for f in fields:
        if f.key == key:
            return f
    raise ActionRefused("Det fältet finns inte i mallen.")


def normalised(f: Field, text: str) -> Any:
    """The value typed in the form, read as the parser reads a template cell."""
    cell = normalise_cell([text], f, FoundTemplate(format="docx"))
    if cell.error is not None:
        raise ActionRefused(f"{f.label}: värdet ”{text}” kan inte läsas ({f.type}).")
    if cell.value is None and f.required is True:
        raise ActionRefused(f"{f.label} måste fyllas i.")
    return jsonable(cell.value)


def correct(db: Database, schema: Schema, reference: str, *, actor: str, target: str,
            value: str, reason: str) -> Done:
    """A new version with one value changed. ``target`` is ``report.KEY`` or ``N.KEY`` (deviation N)."""
    reason = reason.strip()
    if not reason:
        raise ActionRefused("Skriv ett skäl till rättelsen.")
    scope, _, key = target.partition(".")
    f = _field(schema, key, "report" if scope == "report" else "deviation")
    new_value = normalised(f, value)
    with db.unit_of_work() as s:
        report = find_report_by_reference(s, reference)
        if report is None:
            raise LookupError(reference)
        values, deviations = current_values(s, report)
        if scope == "report":
            old = values.get(key)
            values[key] = new_value
        else:
            if not scope.isdigit() or not 1 <= int(scope) <= len(deviations):
                raise ActionRefused("Det avsteget finns inte i rapporten.")
            old = deviations[int(scope) - 1].get(key)
            deviations[int(scope) - 1][key] = new_value
        if old == new_value:
            raise ActionRefused(f"{f.label} har redan det värdet.")
        version = add_correction(s, report, made_by=actor, reason=reason,
                                 report_values=values, deviations=deviations)
        where = "rapporten" if scope == "report" else f"avsteg {scope}"
        record_action(s, actor=actor, action="correct", report_id=report.id, reason=reason,
                      details={"version": version.version, "field": key, "label": f.label,
                               "where": where, "before": old, "after": new_value})
        return Done(report.reference,
                    f"{report.reference}: version {version.version} skapad med rättat {f.label}.")


def reprocess_by(pipeline: Pipeline, message_pk: int, *, actor: str,
                 reason: str | None = None) -> Reprocessed:
    """Run a stored message through the pipeline again; the person's act lands in the history."""
    result = reprocess(pipeline, f"#{message_pk}")
    handled = result.handled
    with pipeline.db.unit_of_work() as s:
        record_action(s, actor=actor, action="reprocess", message_id=message_pk, reason=reason,
                      details={"outcome": handled.outcome, "references": list(handled.references),
                               "previous_outcome": result.previous_outcome,
                               "copy": handled.message_pk})
    return result

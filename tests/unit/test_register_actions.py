"""A handläggare's acts on a report: each with its history row; the sender's versions untouched."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.config.settings import load_settings
from avsteg.samples import first_batch
from avsteg.services import report_actions as actions
from avsteg.storage import Database, find_report_by_reference, history_of_report


@pytest.fixture()
def registered(tmp_path: Path) -> tuple[Database, str]:
    settings = load_settings(database={"url": f"sqlite:///{tmp_path / 'a.sqlite'}"})
    db = open_database(settings)
    pipeline = build_pipeline(settings, db)
    sample = first_batch(pipeline.schema, settings.policy.service_address, dt.date.today())[1]
    handled = pipeline.handle(sample.raw)  # Framtiden's Helårsrapport, three deviations
    assert handled.outcome == "registered"
    return db, handled.references[0]


def _versions(db: Database, ref: str) -> list[tuple[int, dict, list[dict], str | None]]:
    with db.unit_of_work(readonly=True) as s:
        report = find_report_by_reference(s, ref)
        assert report is not None
        return [(v.version, dict(v.values), [dict(d.values) for d in v.deviations], v.made_by)
                for v in report.versions]


def test_a_correction_is_a_new_version_by_that_person(registered) -> None:
    db, ref = registered
    schema = build_pipeline(load_settings(database={"url": str(db.url)}), db).schema
    before = _versions(db, ref)
    done = actions.correct(db, schema, ref, actor="Anna", target="2.jobs_created", value="3",
                           reason="Felräknat")
    assert "version 2" in done.message
    after = _versions(db, ref)
    assert after[0] == before[0]  # the sender's version is exactly as it was
    number, values, deviations, made_by = after[1]
    assert number == 2 and made_by == "Anna" and values == before[0][1]
    assert deviations[1]["jobs_created"] == 3 and before[0][2][1]["jobs_created"] == 2
    assert [d for i, d in enumerate(deviations) if i != 1] == \
        [d for i, d in enumerate(before[0][2]) if i != 1]
    with db.unit_of_work(readonly=True) as s:
        report = find_report_by_reference(s, ref)
        assert report is not None and report.current_version == 2
        (row,) = history_of_report(s, report.id)
    assert (row.actor, row.action, row.reason) == ("Anna", "correct", "Felräknat")
    assert row.details and row.details["before"] == 2 and row.details["after"] == 3


@pytest.mark.parametrize(("target", "value", "reason", "message"), [
    ("2.jobs_created", "många", "x", "kan inte läsas"),
    ("report.organisation", "", "x", "måste fyllas i"),
    ("9.supplier", "AB", "x", "finns inte"),
    ("report.nonsense", "AB", "x", "finns inte"),
    ("2.jobs_created", "2", "x", "redan det värdet"),
    ("2.jobs_created", "3", "  ", "skäl"),
])
def test_a_correction_that_cannot_be_made_is_refused(registered, target, value, reason,
                                                      message) -> None:
    db, ref = registered
    schema = build_pipeline(load_settings(database={"url": str(db.url)}), db).schema
    with pytest.raises(actions.ActionRefused, match=message):
        actions.correct(db, schema, ref, actor="Anna", target=target, value=value, reason=reason)
    assert len(_versions(db, ref)) == 1


def test_withdraw_and_undo_are_both_in_the_history(registered) -> None:
    db, ref = registered
    with pytest.raises(actions.ActionRefused):
        actions.withdraw(db, ref, actor="Anna", reason=" ")
    actions.withdraw(db, ref, actor="Anna", reason="Dubblett")
    with pytest.raises(actions.ActionRefused):
        actions.withdraw(db, ref, actor="Bo", reason="igen")
    actions.undo_withdraw(db, ref, actor="Bo")
    with db.unit_of_work(readonly=True) as s:
        report = find_report_by_reference(s, ref)
        assert report is not None and report.withdrawn_at is None
        rows = history_of_report(s, report.id)
    assert [(r.actor, r.action, r.reason) for r in rows] == [
        ("Anna", "withdraw", "Dubblett"), ("Bo", "undo-withdraw", None)]
    assert rows[1].details and rows[1].details["withdrawn_reason"] == "Dubblett"
    with pytest.raises(LookupError):
        actions.withdraw(db, "AVS-1999-0001", actor="Anna", reason="x")

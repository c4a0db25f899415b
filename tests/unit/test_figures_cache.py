"""Sammanställning keeps its figures until the register changes, and never shows stale ones.

The web page sums a large register in the database once and keeps the result
(``Kept``); every event that moves a figure must make it sum again: a new report, a
corrected version, a withdrawal, and undoing one.
"""

from __future__ import annotations

from avsteg.domain.figures import Summary, summarise
from avsteg.storage import Database
from avsteg.storage.corrections import add_correction, current_values, restore_report
from avsteg.storage.read_model import register_rows, register_summary
from avsteg.storage.reports import find_report_by_reference, withdraw_report
from avsteg.web.readmodel import Kept, summary_for
from tests.support import emails
from tests.unit.test_read_model import REPORTS, SCHEMA, filled, register  # noqa: F401


def fresh(db: Database, year: int | None = None) -> Summary:
    with db.unit_of_work(readonly=True) as s:
        summed = register_summary(s, SCHEMA, year=year)
        assert summed == summarise(register_rows(s, year=year, schema=SCHEMA), SCHEMA)
        return summed


def test_the_kept_figures_follow_every_change(register):  # noqa: F811
    db, pipeline, references = register
    cache: Kept[Summary] = Kept()
    first = summary_for(db, SCHEMA, None, cache)
    assert first == fresh(db) and first.total.reports == 2
    assert summary_for(db, SCHEMA, None, cache) is first  # nothing changed: kept, not summed again
    assert summary_for(db, SCHEMA, 2026, cache) == fresh(db, 2026)

    # A new report.
    handled = pipeline.handle(emails.simple(
        filled(7, "Trafikkontoret", 2026), message_id="cache-1@goteborg.se",
        subject="Avstegsrapport Trafikkontoret"))
    assert handled.outcome == "registered"
    after_new = summary_for(db, SCHEMA, None, cache)
    assert after_new == fresh(db) and after_new.total.reports == 3
    assert summary_for(db, SCHEMA, 2026, cache).total.reports == 2

    # A person's correction: one more job in the first deviation.
    with db.unit_of_work() as s:
        report = find_report_by_reference(s, references[0])
        values, deviations = current_values(s, report)
        deviations[0]["jobs_created"] = int(deviations[0]["jobs_created"]) + 1
        add_correction(s, report, made_by="Bengt Bänk", reason="Fel summa",
                       report_values=values, deviations=deviations)
    corrected = summary_for(db, SCHEMA, None, cache)
    assert corrected == fresh(db)
    assert corrected.total.jobs_created == after_new.total.jobs_created + 1

    # Withdrawn, then restored.
    with db.unit_of_work() as s:
        withdraw_report(s, find_report_by_reference(s, references[0]), "Dubblett")
    withdrawn = summary_for(db, SCHEMA, None, cache)
    assert withdrawn == fresh(db) and withdrawn.total.reports == 2
    with db.unit_of_work() as s:
        restore_report(s, find_report_by_reference(s, references[0]))
    restored = summary_for(db, SCHEMA, None, cache)
    assert restored == fresh(db) and restored.total.reports == 3
    assert restored == corrected


def test_without_a_cache_the_page_sums_each_time(register):  # noqa: F811
    db, _, _ = register
    assert summary_for(db, SCHEMA, None) == fresh(db)
    assert summary_for(db, SCHEMA, None) is not summary_for(db, SCHEMA, None)


def test_kept_figures_are_summed_again_after_max_age(register):  # noqa: F811
    db, _, _ = register
    cache: Kept[Summary] = Kept(max_age=0)
    first = summary_for(db, SCHEMA, None, cache)
    again = summary_for(db, SCHEMA, None, cache)
    assert again == first == fresh(db) and again is not first

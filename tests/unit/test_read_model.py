"""The read model of the register (``avsteg.storage.read_model``): the queries ``list``, ``show``,
``status``, the jobs and the web app use, on SQLite with reports registered by the real pipeline."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.config.schema import default_schema
from avsteg.config.settings import load_settings
from avsteg.domain.vocabulary import CURRENT, WITHDRAWN
from avsteg.forms.docx_template import build_docx
from avsteg.services.reprocess import reprocess
from avsteg.storage.history import record_action
from avsteg.storage.read_model import (
    SORT_KEYS,
    list_reports,
    register_choices,
    report_details,
    service_status,
)
from avsteg.storage.reports import find_report_by_reference, withdraw_report
from tests.support import emails
from tests.support.fill import FillStyle, fill_docx, sample_report

SCHEMA = default_schema()
TEMPLATE = build_docx(SCHEMA, "event")
# (organisation, year) of the three reports registered below, in reference order.
REPORTS = [("Stadsbyggnadsförvaltningen", 2025), ("Lokalförvaltningen", 2026),
           ("Förvaltnings AB Framtiden", 2026)]


def filled(seed: int, organisation: str, year: int) -> bytes:
    report, deviations = sample_report(kind="event", seed=seed)
    report.update(organisation=organisation, year=year)
    return fill_docx(TEMPLATE, report, deviations, FillStyle())


@pytest.fixture
def register(tmp_path: Path):
    """Three registered reports, the last one withdrawn; yields (db, pipeline, references)."""
    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'r.sqlite'}"})
    db = open_database(settings)
    pipeline = build_pipeline(settings, db)
    references = []
    for n, (organisation, year) in enumerate(REPORTS):
        handled = pipeline.handle(emails.simple(
            filled(n, organisation, year), message_id=f"rm-{n}@goteborg.se",
            subject=f"Avstegsrapport {organisation}"))
        assert handled.outcome == "registered", handled
        references.extend(handled.references)
    with db.unit_of_work() as s:
        withdraw_report(s, find_report_by_reference(s, references[2]), "Skickad av misstag")
    yield db, pipeline, references
    db.dispose()


def test_list_is_the_whole_register_by_reference(register):
    db, _pipeline, refs = register
    with db.unit_of_work(readonly=True) as s:
        page = list_reports(s)
    assert page.total == 3 and [r.reference for r in page.items] == refs
    assert [r.status for r in page.items] == [CURRENT, CURRENT, WITHDRAWN]
    assert [(r.organisation, r.year) for r in page.items] == REPORTS
    first = page.items[0]
    assert first.version == 1 and first.deviations == 1 and first.jobs_created >= 1000
    assert first.message_id == "rm-0@goteborg.se" and first.received_at is not None
    assert set(first.to_json()) == {"reference", "version", "organisation", "report_type", "year",
                                    "deviations", "jobs_created", "message_id", "received_at",
                                    "status"}


@pytest.mark.parametrize(("filters", "expected"), [
    ({"year": 2026}, [1, 2]),
    ({"organisation": "Lokalförvaltningen"}, [1]),
    ({"status": "current"}, [0, 1]),
    ({"status": "withdrawn"}, [2]),
    ({"search": "framtiden"}, [2]),  # organisation, any case
    ({"search": "rm-1@"}, []),  # the Message-ID is not searched
    ({"search": "Avstegsrapport Stadsbyggnads"}, [0]),  # the subject
    ({"year": 2026, "status": "current"}, [1]),
])
def test_list_filters(register, filters, expected):
    db, _pipeline, refs = register
    with db.unit_of_work(readonly=True) as s:
        page = list_reports(s, **filters)
    assert [r.reference for r in page.items] == [refs[i] for i in expected]
    assert page.total == len(expected)


def test_list_search_finds_a_reference_typed_in_lower_case(register):
    db, _pipeline, refs = register
    with db.unit_of_work(readonly=True) as s:
        assert [r.reference for r in list_reports(s, search=refs[1].lower()).items] == [refs[1]]


def test_list_sorts_and_pages(register):
    db, _pipeline, refs = register
    with db.unit_of_work(readonly=True) as s:
        by_name = list_reports(s, sort="organisation")
        newest_first = list_reports(s, sort="reference", descending=True)
        second_page = list_reports(s, sort="reference", offset=1, limit=1)
        for key in SORT_KEYS:
            assert list_reports(s, sort=key).total == 3
        with pytest.raises(ValueError):
            list_reports(s, sort="password")  # type: ignore[arg-type]
    assert [r.organisation for r in by_name.items] == sorted(o for o, _y in REPORTS)
    assert [r.reference for r in newest_first.items] == refs[::-1]
    assert [r.reference for r in second_page.items] == [refs[1]]
    assert (second_page.total, second_page.offset, second_page.limit) == (3, 1, 1)


def test_choices_offer_what_is_in_the_register(register):
    db, _pipeline, _refs = register
    with db.unit_of_work(readonly=True) as s:
        choices = register_choices(s)
    assert choices["years"] == [2026, 2025]
    assert choices["organisations"] == sorted(o for o, _y in REPORTS)
    assert choices["report_types"] == ["Händelserapport"]


def test_details_tell_the_whole_story_with_history(register):
    db, _pipeline, refs = register
    with db.unit_of_work() as s:
        report = find_report_by_reference(s, refs[2])
        record_action(s, actor="lena@goteborg.se", action="withdraw", report_id=report.id,
                      reason="Skickad av misstag", at=dt.datetime(2026, 3, 6, tzinfo=dt.UTC))
    with db.unit_of_work(readonly=True) as s:
        details = report_details(s, f"  {refs[2].lower()} ")
        assert report_details(s, "AVS-1999-0001") is None
    assert details is not None
    assert details.reference == refs[2] and details.status == WITHDRAWN
    assert details.withdrawn_reason == "Skickad av misstag"
    [version] = details.versions
    assert version.current and version.report["organisation"] == REPORTS[2][0]
    assert len(version.deviations) == 1 and version.errors == ()
    [message] = details.messages
    assert (message.message_id, message.outcome, message.reprocessed_from) == (
        "rm-2@goteborg.se", "registered", None)
    assert [r.kind for r in details.replies] == ["receipt"]
    assert [(h.actor, h.action) for h in details.history] == [("lena@goteborg.se", "withdraw")]
    shown = details.to_json()
    assert shown["history"][0]["at"] == "2026-03-06T00:00:00+00:00"
    assert shown["messages"][0]["reprocess_of"] is None


def test_a_reprocessed_copy_points_at_its_original(register):
    db, pipeline, refs = register
    result = reprocess(pipeline, "rm-0@goteborg.se")
    assert result.handled.outcome == "duplicate"
    with db.unit_of_work(readonly=True) as s:
        details = report_details(s, refs[0])
        page = list_reports(s)
    assert details is not None
    assert [m.message for m in details.messages] == [result.original_pk]  # the copy made no version
    assert page.total == 3  # nothing registered twice


def test_service_status_counts_messages_and_replies(register):
    db, _pipeline, _refs = register
    with db.unit_of_work(readonly=True) as s:
        status = service_status(s)
    assert status.message_states == {"processed": 3} and status.backlog == 0
    assert status.outcomes == {"registered": 3}
    assert status.replies == {"queued": 3}
    assert status.polls == ()

"""A crash inside the parser is a bug of ours: ``avsteg parse`` says so politely, but the
pipeline never answers the sender with it — the message fails and is retried (spec 3)."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.config.schema import default_schema
from avsteg.config.settings import load_settings
from avsteg.forms.docx_template import build_docx
from avsteg.parsers import template
from avsteg.parsers.office.safety import REJECTIONS
from avsteg.storage.models import MessageRow, ReplyRow
from tests.support import emails
from tests.support.fill import FillStyle, fill_docx, sample_report

SCHEMA = default_schema()


def _filled() -> bytes:
    report, deviations = sample_report(kind="event", seed=11)
    return fill_docx(build_docx(SCHEMA, "event"), report, deviations, FillStyle())


def _boom(*_args, **_kwargs):
    raise KeyError("a bug in a reader")


def test_a_crash_is_marked_as_a_crash(monkeypatch):
    monkeypatch.setattr(template, "_parse", _boom)
    parsed = template.parse_attachment("r.docx", _filled(), SCHEMA)
    assert parsed.crashed and parsed.status == "rejected"
    assert [e.message for e in parsed.errors] == [REJECTIONS["internal"]]
    assert "crashed" not in parsed.to_json()  # ``avsteg parse --json`` is unchanged


def test_an_ordinary_rejection_is_not_a_crash():
    parsed = template.parse_attachment("r.pdf", b"%PDF-1.7\n...", SCHEMA)
    assert parsed.status == "rejected" and not parsed.crashed


def test_the_pipeline_fails_the_message_and_answers_nobody(tmp_path: Path, monkeypatch):
    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'r.sqlite'}"})
    db = open_database(settings)
    try:
        pipeline = build_pipeline(settings, db)
        monkeypatch.setattr(template, "_parse", _boom)
        handled = pipeline.handle(emails.simple(_filled(), message_id="crash-2@goteborg.se"))
        assert handled.outcome == "failed" and handled.reply_ids == ()
        with db.unit_of_work(readonly=True) as s:
            row = s.get(MessageRow, handled.message_pk)
            assert row.state == "failed" and row.attempts == 1
            assert s.execute(select(func.count()).select_from(ReplyRow)).scalar_one() == 0
    finally:
        db.dispose()

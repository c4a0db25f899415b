"""One bad message never stops the mailbox: the pipeline on SQLite with hostile input.

Raw bytes first (committed before the message is read, read once), hostile bodies in bounded
time, a failure tied to one message sets it aside and the next goes on, an unavailable database
stops without setting anything aside, spoofed and over-size messages are set aside, replies to
messages with hundreds of files stay short. The same on PostgreSQL: tests/integration/test_poison.py.
"""
from __future__ import annotations

import dataclasses
import email
import email.policy
import time
from pathlib import Path

import pytest
from sqlalchemy.orm import undefer

import avsteg.services.pipeline as pipeline_module
from avsteg.bootstrap import build_pipeline
from avsteg.config.settings import load_settings
from avsteg.domain.errors import DatabaseUnavailable
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.services.delivery import deliver_due
from avsteg.storage import Database, sha256_hex
from avsteg.storage.models import MessageRow, ReplyRow, Report
from tests.support import emails as E
from tests.unit.test_hostile_mail import hostile_body, html_message
from tests.unit.test_triage import EXO_FAIL


@pytest.fixture
def env(tmp_path: Path):
    db = Database(f"sqlite:///{tmp_path}/r.sqlite")
    db.upgrade()
    settings = load_settings(None, database={"url": "sqlite://"})
    pipeline = build_pipeline(settings, db)
    outbox = FolderOutbox(tmp_path / "out")
    yield db, pipeline, outbox
    db.dispose()


def rows(db: Database) -> list[MessageRow]:
    with db.unit_of_work(readonly=True) as s:
        return list(s.query(MessageRow).options(undefer(MessageRow.raw)).order_by(MessageRow.id))


def count(db: Database, model) -> int:
    with db.unit_of_work(readonly=True) as s:
        return s.query(model).count()


def good_report(n: int) -> bytes:
    from tests.support.worker_env import report_message

    return report_message(n, tag="good")


def test_the_raw_bytes_are_committed_before_the_message_is_read(env, monkeypatch):
    db, pipeline, _ = env
    raw = good_report(1)
    seen: list[int] = []

    def read(self, data: bytes, size: int | None = None):
        seen.extend(r.id for r in rows(db) if r.raw == data and r.sha256 == sha256_hex(data))
        raise RuntimeError("the reader blew up")

    monkeypatch.setattr(pipeline_module.Pipeline, "read", read)
    handled = pipeline.handle(raw)
    assert seen == [handled.message_pk]  # in the database, committed, before the read
    [row] = rows(db)
    assert row.state == "failed" and row.pending == "unreadable" and row.raw == raw


def test_a_message_is_parsed_once(env, monkeypatch):
    db, pipeline, _ = env
    calls = []
    real = pipeline_module.read_message

    def counting(raw, **kwargs):
        calls.append(len(raw))
        return real(raw, **kwargs)

    monkeypatch.setattr(pipeline_module, "read_message", counting)
    handled = pipeline.handle(good_report(2))
    assert handled.outcome == "registered" and len(calls) == 1
    [row] = rows(db)
    assert row.message_id_header == "good2@goteborg.se"
    assert row.sender == "person2@trafikkontoret.goteborg.se" and row.subject == "Avstegsrapport 2"


def test_a_poison_message_is_set_aside_and_the_next_one_goes_on(env, monkeypatch):
    db, pipeline, outbox = env
    real = pipeline_module.parse_attachment

    def crash_on_poison(name, data, *args, **kwargs):
        if "666" in name:
            raise RecursionError("a bug of ours on this one file")
        return real(name, data, *args, **kwargs)

    monkeypatch.setattr(pipeline_module, "parse_attachment", crash_on_poison)
    poison = pipeline.handle(good_report(666))
    good = pipeline.handle(good_report(3))
    assert poison.outcome == "failed" and good.outcome == "registered"
    assert [d.status for d in deliver_due(db, outbox, only=good.reply_ids)] == ["sent"]
    first, second = rows(db)
    assert (first.state, first.pending, first.message_id_header) == ("failed", "unreadable",
                                                                     "good666@goteborg.se")
    assert "RecursionError" in (first.last_error or "")
    assert second.state == "processed" and second.pending is None
    # Fixed (the bug is gone): the retry registers it and it leaves the pending list.
    monkeypatch.setattr(pipeline_module, "parse_attachment", real)
    again = pipeline.process(poison.message_pk)
    assert again.outcome == "registered"
    assert rows(db)[0].pending is None


def test_an_unavailable_database_sets_nothing_aside(env, monkeypatch):
    db, pipeline, _ = env
    pk, _fresh = pipeline.store_raw(good_report(4))

    def down(*_args, **_kwargs):
        raise DatabaseUnavailable("database: OperationalError: server closed the connection")

    monkeypatch.setattr(pipeline_module.message_store, "find_processed_duplicate", down)
    with pytest.raises(DatabaseUnavailable):
        pipeline.process(pk)
    [row] = rows(db)
    assert row.pending is None and row.state == "received"  # retried later, not set aside


def test_a_5_mb_hostile_html_message_is_handled_within_the_bound(env):
    db, pipeline, _ = env
    raw = html_message(hostile_body("<a "), subject="Fråga om avsteg")
    started = time.perf_counter()
    handled = pipeline.handle(raw)
    assert time.perf_counter() - started < 3.0
    assert handled.outcome == "ignored"  # a question without a file: for a person, untouched
    assert rows(db)[0].raw == raw


def test_a_spoofed_city_sender_is_set_aside_never_registered_or_answered(env):
    db, pipeline, _ = env
    from tests.support.worker_env import report_docx

    raw = E.simple(report_docx(7), "Avstegsrapport.docx", sender="kommundirektor@goteborg.se",
                   extra={"Authentication-Results": EXO_FAIL}, message_id="spoof@goteborg.se")
    handled = pipeline.handle(raw)
    assert handled.outcome == "ignored" and handled.reason == "suspected-spoofing"
    assert handled.reply_ids == () and count(db, Report) == 0 and count(db, ReplyRow) == 0
    assert rows(db)[0].pending == "suspected-spoofing"
    # The same report without the failed check (internal mail) is registered as usual.
    internal = E.simple(report_docx(7), "Avstegsrapport.docx", sender="kommundirektor@goteborg.se",
                        message_id="internal@goteborg.se")
    assert pipeline.handle(internal).outcome == "registered"


def test_an_oversize_message_is_stored_whole_set_aside_and_answered_in_swedish(env):
    db, pipeline, outbox = env
    small = dataclasses.replace(pipeline, max_message_bytes=1024 * 1024)
    raw = E.simple(b"z" * 1_500_000, "Avstegsrapport.pdf", content_type="application/pdf",
                   subject="Avstegsrapport")
    handled = small.handle(raw)
    assert handled.outcome == "rejected"
    [row] = rows(db)
    assert row.raw == raw and row.size == len(raw) and row.pending == "unreadable"
    [delivery] = deliver_due(db, outbox, only=handled.reply_ids)
    reply = email.message_from_bytes(delivery.path.read_bytes(), policy=email.policy.default)
    body = reply.get_body(("plain",)).get_content()
    assert "för stort" in body and "1 MB" in body


def test_a_reply_about_hundreds_of_files_lists_the_first_and_counts_the_rest(env):
    db, pipeline, outbox = env
    parts = [(f"bilaga-{i:03d}.pdf", b"%PDF-1.4 x" + bytes([i % 256])) for i in range(300)]
    msg = email.message.EmailMessage()
    msg["From"] = "anna@trafikkontoret.goteborg.se"
    msg["To"] = E.SERVICE
    msg["Subject"] = "Avstegsrapporter"
    msg["Message-ID"] = "<many@goteborg.se>"
    msg.set_content("Hej")
    for name, data in parts:
        msg.add_attachment(data, maintype="application", subtype="pdf", filename=name)
    handled = pipeline.handle(msg.as_bytes())
    assert handled.outcome == "rejected"
    [delivery] = deliver_due(db, outbox, only=handled.reply_ids)
    reply = email.message_from_bytes(delivery.path.read_bytes(), policy=email.policy.default)
    body = reply.get_body(("plain",)).get_content()
    assert body.count("bilaga-") == 20 and "och 280 till" in body
    assert len(delivery.path.read_bytes()) < 200_000

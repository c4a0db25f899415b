"""The pending list (spec 3, *att hantera*) and its actions, on SQLite and PostgreSQL.

Real pipeline, real database, replies written to a folder: a report from an unknown domain is
set aside (no reply, no register entry), listed, and registered anyway or its domain trusted; a
stale rejection and an undelivered reply are derived; every action lands in the history.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import pytest

from avsteg.bootstrap import build_pipeline
from avsteg.cli import main
from avsteg.config.settings import load_settings
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.services import jobs
from avsteg.services import pending as service
from avsteg.services.delivery import deliver_due
from avsteg.storage import Database, history_of_message, mark_failed, set_aside
from avsteg.storage import outbox as reply_store
from avsteg.storage.models import MessageRow, ReplyRow, ReportVersion
from tests.integration.test_pipeline import count, filled_docx
from tests.support import emails

pytestmark = pytest.mark.integration

SPEC_KEYS = {"kind", "message_id", "from", "subject", "received_at", "reason", "reference"}


@pytest.fixture
def env(database: Database, tmp_path: Path):
    settings = load_settings(None, database={"url": "sqlite://"})
    pipeline = build_pipeline(settings, database)
    outbox = FolderOutbox(tmp_path / "out")

    def handle(raw: bytes):
        handled = pipeline.handle(raw)
        deliver_due(database, outbox, only=handled.reply_ids)
        return handled

    return pipeline, database, handle


def outsider(seed: int, sender: str = "kalle.anka@konsult.example", n: int = 1) -> bytes:
    return emails.simple(filled_docx(seed=seed), sender=sender, message_id=f"out-{n}@x.example")


def test_a_report_from_an_unknown_domain_waits_and_is_registered_anyway(env):
    pipeline, db, handle = env
    handled = handle(outsider(1))
    assert handled.outcome == "ignored" and "outside-domains" in handled.reason
    assert handled.reply_ids == () and count(db, ReportVersion) == 0

    [item] = service.pending_items(db)
    assert (item.kind, item.sender, item.domain) == ("unknown-domain", "kalle.anka@konsult.example",
                                                     "konsult.example")
    assert item.message_id == "out-1@x.example" and "konsult.example" in item.reason
    assert set(item.to_json()) >= SPEC_KEYS
    assert item.actions == ("register-anyway", "trust-domain", "resolve")

    result = service.register_anyway(pipeline, "<out-1@x.example>", actor="Anna Handläggare",
                                     reason="Konsult åt Higab")
    assert result.handled.outcome == "registered" and len(result.handled.reply_ids) == 1
    assert count(db, ReportVersion) == 1
    assert service.pending_items(db) == []
    with db.unit_of_work(readonly=True) as s:
        original = s.get(MessageRow, result.original_pk)
        copy = s.get(MessageRow, result.handled.message_pk)
        assert original.outcome == "ignored" and original.pending is None  # its story stands
        assert copy.reprocessed_from == original.id
        [act] = history_of_message(s, original.id)
        assert (act.actor, act.action, act.reason) == ("Anna Handläggare", "register-anyway",
                                                       "Konsult åt Higab")
        reply = s.get(ReplyRow, result.handled.reply_ids[0])
        assert reply.kind == "receipt" and reply.recipient == "kalle.anka@konsult.example"
    with pytest.raises(service.NotPending):  # not twice
        service.register_anyway(pipeline, "out-1@x.example", actor="Bo")


def test_trusting_a_domain_registers_its_waiting_reports_and_every_later_one(env):
    pipeline, db, handle = env
    handle(outsider(1, "a@avd.konsult.example", n=1))
    handle(outsider(2, "b@konsult.example", n=2))
    handle(outsider(3, "c@annan.example", n=3))
    assert len(service.pending_items(db)) == 3

    trusted = service.trust_domain(db, "@Konsult.Example.", actor="Bo", reason="Avtal 2026")
    assert trusted.domain == "konsult.example" and trusted.added
    assert sorted(i.sender for i in trusted.waiting) == ["a@avd.konsult.example", "b@konsult.example"]
    results = service.register_waiting(pipeline, trusted, actor="Bo")
    assert [r.handled.outcome for r in results] == ["registered", "registered"]
    assert [i.sender for i in service.pending_items(db)] == ["c@annan.example"]

    later = handle(outsider(4, "d@konsult.example", n=4))  # the pipeline allows it from now on
    assert later.outcome == "registered" and later.reply_ids
    assert not service.trust_domain(db, "konsult.example", actor="Bo").added
    with pytest.raises(ValueError):
        service.trust_domain(db, "inte en domän", actor="Bo")


def test_a_stale_rejection_waits_until_corrected_or_resolved(env):
    pipeline, db, handle = env
    broken = emails.simple(filled_docx(seed=5, reason=None), sender="eva@goteborg.se",
                           message_id="broken@goteborg.se")
    assert handle(broken).outcome == "rejected"
    now = dt.datetime.now(dt.UTC)
    assert service.pending_items(db, now=now + dt.timedelta(days=13)) == []
    [item] = service.pending_items(db, now=now + dt.timedelta(days=15))
    assert item.kind == "rejected-no-correction" and item.sender == "eva@goteborg.se"
    assert "Skäl till avsteg" in item.reason  # the first problem the sender was told about
    assert service.pending_items(db, now=now + dt.timedelta(days=15),
                                 remind_rejected_after_days=30) == []

    fixed = emails.simple(filled_docx(seed=5), sender="Eva@goteborg.se", message_id="fixed@goteborg.se")
    assert handle(fixed).outcome == "registered"
    assert service.pending_items(db, now=now + dt.timedelta(days=15)) == []

    other = emails.simple(filled_docx(seed=6, reason=None), sender="olle@goteborg.se",
                          message_id="other@goteborg.se")
    handle(other)
    [item] = service.pending_items(db, now=now + dt.timedelta(days=15))
    with pytest.raises(ValueError):
        service.resolve(db, item.id, actor="Bo", note=" ", now=now + dt.timedelta(days=15))
    service.resolve(db, "other@goteborg.se", actor="Bo", note="Ringde Olle",
                    now=now + dt.timedelta(days=15))
    assert service.pending_items(db, now=now + dt.timedelta(days=40)) == []
    with db.unit_of_work(readonly=True) as s:
        [act] = history_of_message(s, item.message_pk)
        assert (act.action, act.reason, act.details) == ("resolve", "Ringde Olle",
                                                         {"pending": "rejected-no-correction"})


def test_an_undelivered_reply_is_listed_and_sent_again(env):
    pipeline, db, handle = env
    handled = pipeline.handle(emails.simple(filled_docx(seed=7), sender="per@goteborg.se",
                                            message_id="per@goteborg.se"))
    with db.unit_of_work() as s:
        reply_store.mark_reply_failed(s, s.get(ReplyRow, handled.reply_ids[0]),
                                      "550 5.1.1 mailbox unavailable", permanent=True)
    [item] = service.pending_items(db)
    assert item.kind == "undelivered-reply" and item.id == f"R{handled.reply_ids[0]}"
    assert item.reference == handled.references[0] and "550 5.1.1" in item.reason
    assert item.message_id == "per@goteborg.se" and item.actions == ("resend", "resolve")

    service.resend(db, item.id, actor="Bo", note="Adressen rättad")
    assert service.pending_items(db) == []
    with db.unit_of_work(readonly=True) as s:
        assert s.get(ReplyRow, handled.reply_ids[0]).status == "queued"
    with pytest.raises(service.NotPending):
        service.resend(db, item.id, actor="Bo")


def test_a_set_aside_item_resolved_leaves_the_list(env):
    _pipeline, db, handle = env
    handle(outsider(1))
    [item] = service.pending_items(db)
    service.resolve(db, item.id, actor="Bo", note="Skräppost")
    assert service.pending_items(db) == []
    with pytest.raises(service.NotPending):
        service.resolve(db, "out-1@x.example", actor="Bo", note="igen")


def test_the_cli_lists_and_acts(database: Database, tmp_path: Path, capsys, monkeypatch):
    url = database.url.render_as_string(hide_password=False)
    monkeypatch.setenv("AVSTEG_DATABASE__URL", url)
    mail = tmp_path / "outsider.eml"
    mail.write_bytes(outsider(1))
    assert main(["ingest", str(mail), "--outbox", str(tmp_path / "out"), "--json"]) == 0
    line = json.loads(capsys.readouterr().out)
    assert line["outcome"] == "ignored" and line["reason"].startswith("outside-domains")

    assert main(["pending", "--json"]) == 0
    [item] = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert set(item) >= SPEC_KEYS and item["kind"] == "unknown-domain"
    assert main(["status", "--json"]) in (0, 1)
    status = json.loads(capsys.readouterr().out)
    assert status["pending"] == {"count": 1, "kinds": {"unknown-domain": 1}}

    assert main(["pending"]) == 0
    text = capsys.readouterr().out
    assert "avsteg register-anyway out-1@x.example" in text
    assert "avsteg trust-domain konsult.example" in text

    assert main(["register-anyway", "out-1@x.example", "--by", "Anna", "--outbox",
                 str(tmp_path / "out"), "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["outcome"] == "registered" and len(done["replies"]) == 1
    assert Path(done["replies"][0]).is_file()
    assert main(["pending", "--json"]) == 0
    assert capsys.readouterr().out == ""
    assert main(["register-anyway", "out-1@x.example"]) == 1
    assert main(["trust-domain", "konsult.example", "--by", "Anna", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added"] is True
    assert main(["trust-domain", "--list", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["added_by"] == "Anna"
    assert main(["pending", "resolve", "M999", "--note", "x"]) == 1


def test_unreadable_and_spoofed_messages_wait_with_their_reason(env):
    pipeline, db, handle = env
    crashed, _ = pipeline.store_raw(emails.simple(filled_docx(seed=8), message_id="crash@goteborg.se"))
    for _ in range(service.DEFAULT_MAX_ATTEMPTS - 1):
        with db.unit_of_work() as s:
            mark_failed(s, crashed, "RuntimeError: the parser crashed")
    assert service.pending_items(db) == []  # still being retried
    with db.unit_of_work() as s:
        mark_failed(s, crashed, "RuntimeError: the parser crashed")
    [gave_up] = service.pending_items(db)
    assert gave_up.kind == "unreadable" and "5 försök" in gave_up.reason
    assert "the parser crashed" in gave_up.reason

    spoofed = handle(emails.simple(filled_docx(seed=9), message_id="spoof@goteborg.se",
                                   sender="chef@goteborg.se"))
    with db.unit_of_work() as s:
        set_aside(s, s.get(MessageRow, spoofed.message_pk), "suspected-spoofing")
    kinds = {i.kind: i for i in service.pending_items(db)}
    assert set(kinds) == {"unreadable", "suspected-spoofing"}
    assert kinds["suspected-spoofing"].reference == spoofed.references[0]
    assert kinds["suspected-spoofing"].actions == ("register-anyway", "resolve")
    service.resolve(db, gave_up.id, actor="Bo", note="Trasig fil, avsändaren kontaktad")
    assert [i.kind for i in service.pending_items(db)] == ["suspected-spoofing"]


def test_the_digest_lists_what_waits(database: Database, tmp_path: Path):
    settings = load_settings(None, schedules={"digest_address": "stod@ink.goteborg.se"})
    pipeline = build_pipeline(settings, database)
    pipeline.handle(outsider(1))
    reply_id = jobs.queue_digest(settings, database)
    with database.unit_of_work(readonly=True) as s:
        digest = email.message_from_bytes(s.get(ReplyRow, reply_id).raw, policy=email.policy.default)
    body = digest.get_body(("plain",)).get_content()
    waiting = body.split("Väntar på en person")[1].split("Avvisade meddelanden")[0]
    assert "kalle.anka@konsult.example" in waiting and "Okänd avsändardomän" in waiting
    assert "avsteg register-anyway out-1@x.example" in waiting
    assert "1 att hantera" in digest["Subject"]

"""``avsteg show``, ``withdraw`` and ``reprocess`` on SQLite, with reports registered by the real
pipeline from emails built with the test builders and filled templates."""
from __future__ import annotations

import dataclasses
import email
import email.policy
import json
import tomllib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.cli import main
from avsteg.commands.show import print_details
from avsteg.config.schema import default_schema, schema_from_dict
from avsteg.config.settings import load_settings
from avsteg.forms.docx_template import build_docx
from avsteg.services.reprocess import reprocess
from avsteg.storage.models import MessageRow, ReplyRow, Report, ReportVersion
from avsteg.storage.read_model import report_details
from tests.support import emails
from tests.support.fill import FillStyle, fill_docx, sample_report

SCHEMA = default_schema()
TEMPLATE = build_docx(SCHEMA, "event")


def filled(seed: int = 0, **deviation_changes) -> bytes:
    report, deviations = sample_report(kind="event", seed=seed)
    deviations[0].update(deviation_changes)
    return fill_docx(TEMPLATE, report, deviations, FillStyle())


@pytest.fixture
def env(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'register.sqlite'}"
    settings = load_settings(None, database={"url": url})
    db = open_database(settings)
    pipeline = build_pipeline(settings, db)
    yield url, db, pipeline
    db.dispose()


def count(db, model, *where) -> int:
    with db.unit_of_work(readonly=True) as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def schema_without_required_reason():
    """The schema after a 'fix': Skäl till avsteg is no longer required."""
    data = tomllib.loads((Path(__file__).parents[2] / "avsteg/config/schema.toml").read_text("utf-8"))
    for f in data["deviation_fields"]:
        if f["key"] == "reason":
            f["required"] = False
    return schema_from_dict(data)


def registered_with_correction(db, pipeline) -> tuple[str, bytes]:
    """A report and a correction sent as a reply to its receipt; returns (reference, raw fix)."""
    first = pipeline.handle(emails.simple(filled(seed=1)))
    assert first.outcome == "registered"
    with db.unit_of_work(readonly=True) as s:
        receipt_id = s.get(ReplyRow, first.reply_ids[0]).message_id_header
    fix = emails.simple(filled(seed=1, supplier="Rättad Leverantör AB"), subject="Re: Avstegsrapport",
                        message_id="fix-1@goteborg.se", extra={"In-Reply-To": receipt_id})
    second = pipeline.handle(fix)
    assert second.outcome == "new_version" and second.references == first.references
    return first.references[0], fix


# -- show -------------------------------------------------------------------------------------

def test_show_json_lists_every_version_values_and_replies(env, capsys):
    url, db, pipeline = env
    reference, _fix = registered_with_correction(db, pipeline)

    assert main(["show", reference.lower(), "--db", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["reference"] == reference and shown["status"] == "aktuell"
    assert [v["version"] for v in shown["versions"]] == [1, 2]
    assert [v["current"] for v in shown["versions"]] == [False, True]
    assert [v["message_id"] for v in shown["versions"]] == ["simple-1@goteborg.se", "fix-1@goteborg.se"]
    assert shown["versions"][0]["deviations"][0]["supplier"] != "Rättad Leverantör AB"
    assert shown["versions"][1]["deviations"][0]["supplier"] == "Rättad Leverantör AB"
    assert shown["versions"][1]["file"] == "Avstegsrapport.docx"
    expected_report, _ = sample_report(kind="event", seed=1)
    assert shown["versions"][1]["report"]["organisation"] == expected_report["organisation"]
    assert [r["kind"] for r in shown["replies"]] == ["receipt", "receipt"]
    assert all(reference in r["subject"] for r in shown["replies"])


def test_show_warnings_belong_to_their_version(env, capsys):
    url, _db, pipeline = env
    handled = pipeline.handle(emails.simple(filled(seed=2, case_number=None)))
    assert handled.outcome == "registered"
    assert main(["show", handled.references[0], "--db", url, "--json"]) == 0
    version = json.loads(capsys.readouterr().out)["versions"][0]
    assert [(w["field"], w["deviation"]) for w in version["warnings"]] == [("case_number", 1)]
    assert version["errors"] == []


def test_show_human_uses_the_schema_labels(env):
    from rich.console import Console

    _url, db, pipeline = env
    reference, _fix = registered_with_correction(db, pipeline)
    with db.unit_of_work(readonly=True) as s:
        details = report_details(s, reference).to_json()
    console = Console(record=True, width=200)
    print_details(details, SCHEMA, console=console)
    text = console.export_text()
    for label in ("Förvaltning/bolag", "Leverantör", "Antal arbetstillfällen", "Avsteg 1",
                  "Version 1", "Version 2 (aktuell)"):
        assert label in text
    assert "Rättad Leverantör AB" in text
    assert "supplier" not in text  # keys are for code; people read labels


def test_show_raw_writes_the_newest_message_bytes(env, capsysbinary):
    url, db, pipeline = env
    reference, fix = registered_with_correction(db, pipeline)
    assert main(["show", reference, "--db", url, "--raw"]) == 0
    assert capsysbinary.readouterr().out == fix


def test_show_unknown_reference_fails(env, capsys):
    url, _db, _pipeline = env
    assert main(["show", "AVS-2026-9999", "--db", url, "--json"]) == 1
    assert capsys.readouterr().out == ""


# -- withdraw ---------------------------------------------------------------------------------

def test_withdraw_keeps_history_and_list_shows_it(env, capsys):
    url, db, pipeline = env
    reference, _fix = registered_with_correction(db, pipeline)
    assert main(["withdraw", reference, "--reason", "Skickad av misstag", "--db", url]) == 0
    with db.unit_of_work(readonly=True) as s:
        report = s.scalars(select(Report).where(Report.reference == reference)).one()
        assert report.withdrawn_reason == "Skickad av misstag" and report.withdrawn_at is not None
        first_time = report.withdrawn_at
    assert count(db, ReportVersion) == 2  # nothing deleted

    # A second withdrawal changes nothing.
    assert main(["withdraw", reference, "--reason", "Annat skäl", "--db", url]) == 0
    with db.unit_of_work(readonly=True) as s:
        report = s.scalars(select(Report).where(Report.reference == reference)).one()
        assert (report.withdrawn_reason, report.withdrawn_at) == ("Skickad av misstag", first_time)

    capsys.readouterr()
    assert main(["list", "--db", url, "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # The register leaves it out, or marks it withdrawn; it is never current again …
    assert all(line["status"] == "återkallad" for line in listed if line["reference"] == reference)
    assert main(["show", reference, "--db", url, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["status"] == "återkallad" and len(shown["versions"]) == 2  # … history stays


def test_withdraw_unknown_reference(env):
    url, _db, _pipeline = env
    assert main(["withdraw", "AVS-2026-0404", "--reason", "x", "--db", url]) == 1


# -- reprocess --------------------------------------------------------------------------------

def test_rejected_message_is_registered_after_a_schema_fix(env):
    _url, db, pipeline = env
    raw = emails.simple(filled(seed=3, reason=None), message_id="noreason-1@goteborg.se")
    first = pipeline.handle(raw)
    assert first.outcome == "rejected" and [e.field for e in first.errors] == ["reason"]
    assert count(db, ReplyRow, ReplyRow.kind == "error") == 1

    fixed = dataclasses.replace(pipeline, schema=schema_without_required_reason())
    result = reprocess(fixed, "<noreason-1@goteborg.se>")
    assert result.previous_outcome == "rejected" and not result.was_registered
    assert result.handled.outcome == "registered" and len(result.handled.references) == 1
    # The outcome changed for the sender: a receipt, threaded to the original message.
    assert len(result.handled.reply_ids) == 1
    with db.unit_of_work(readonly=True) as s:
        reply = s.get(ReplyRow, result.handled.reply_ids[0])
        assert reply.kind == "receipt"
        receipt = email.message_from_bytes(reply.raw, policy=email.policy.default)
        original = s.get(MessageRow, first.message_pk)
        copy = s.get(MessageRow, result.handled.message_pk)
        assert (original.outcome, original.reason) == ("rejected", first.reason)  # history kept
        assert copy.raw == original.raw and copy.reprocessed_from == original.id
        assert copy.account is None and copy.uidvalidity is None  # no mailbox position
    assert receipt["In-Reply-To"] == "<noreason-1@goteborg.se>"
    assert result.handled.references[0] in receipt.get_content()

    # Again: the same file is in the register now, so it is a duplicate and nobody is answered.
    again = reprocess(fixed, "noreason-1@goteborg.se")
    assert again.was_registered and again.handled.outcome == "duplicate"
    assert again.handled.references == result.handled.references
    assert again.handled.reply_ids == ()
    assert count(db, Report) == 1


def test_plain_reprocess_registers_nothing_twice_and_answers_nobody(env):
    _url, db, pipeline = env
    first = pipeline.handle(emails.simple(filled(seed=4)))
    assert first.outcome == "registered"
    result = reprocess(pipeline, "simple-1@goteborg.se")
    assert result.handled.outcome == "duplicate"
    assert result.handled.references == first.references
    assert result.handled.reply_ids == ()
    assert count(db, Report) == 1 and count(db, ReportVersion) == 1
    assert count(db, ReplyRow) == 1  # the first receipt only


def test_still_rejected_after_reprocess_gets_no_second_error_reply(env):
    _url, db, pipeline = env
    pipeline.handle(emails.simple(filled(seed=5, reason=None), message_id="bad-1@goteborg.se"))
    result = reprocess(pipeline, "bad-1@goteborg.se")
    assert result.handled.outcome == "rejected" and result.handled.reply_ids == ()
    assert count(db, ReplyRow) == 1


def test_no_replies_flag_and_cli(env, tmp_path, capsys, monkeypatch):
    url, db, pipeline = env
    pipeline.handle(emails.simple(filled(seed=6, reason=None), message_id="quiet-1@goteborg.se"))
    fixed = dataclasses.replace(pipeline, schema=schema_without_required_reason())
    quiet = reprocess(fixed, "quiet-1@goteborg.se", replies=False)
    assert quiet.handled.outcome == "registered" and quiet.handled.reply_ids == ()

    # Through the command line (packaged schema): the stored message by its row id.
    assert main(["reprocess", f"#{quiet.original_pk}", "--db", url, "--json",
                 "--outbox", str(tmp_path / "out")]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["previous_outcome"], out["outcome"]) == ("rejected", "rejected")
    assert out["replies"] == []
    assert main(["reprocess", "nobody@nowhere", "--db", url]) == 1
    assert count(db, Report) == 1


def test_a_failed_message_is_processed_in_place(env):
    from avsteg.storage.messages import mark_failed

    _url, db, pipeline = env
    pk, _fresh = pipeline.store_raw(emails.simple(filled(seed=7), message_id="crash-1@goteborg.se"))
    with db.unit_of_work() as s:
        mark_failed(s, pk, "OperationalError: database is locked")
    result = reprocess(pipeline, "crash-1@goteborg.se")
    assert result.handled.message_pk == pk and result.handled.outcome == "registered"
    assert len(result.handled.reply_ids) == 1
    assert count(db, MessageRow) == 1

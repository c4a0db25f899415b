"""The whole pipeline on real databases (SQLite and PostgreSQL), from raw email bytes to the
register and the reply, for every shape of message spec section 3 talks about."""
from __future__ import annotations

import email
import email.policy
import json
from pathlib import Path

import pytest

from avsteg.bootstrap import build_pipeline
from avsteg.cli import main
from avsteg.config.settings import load_settings
from avsteg.forms.docx_template import build_docx
from avsteg.forms.xlsx_template import build_xlsx
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.services.delivery import deliver_due
from avsteg.storage import Database
from avsteg.storage.models import MessageRow, ReplyRow, ReportVersion
from tests.support import emails
from tests.support.fill import FillStyle, fill_docx, fill_xlsx, sample_report

pytestmark = pytest.mark.integration


def filled_docx(seed: int = 0, kind: str = "event", **changes) -> bytes:
    report, deviations = sample_report(kind=kind, seed=seed)
    deviations[0].update(changes)
    return fill_docx(build_docx(_schema(), kind), report, deviations, FillStyle())


def filled_xlsx(seed: int = 0) -> bytes:
    report, deviations = sample_report(kind="annual", n_deviations=2, seed=seed)
    return fill_xlsx(build_xlsx(_schema(), "annual"), report, deviations, FillStyle(number="excel"))


def _schema():
    from avsteg.config.schema import default_schema

    return default_schema()


@pytest.fixture
def env(database: Database, tmp_path: Path):
    settings = load_settings(None, database={"url": "sqlite://"})  # the tests pass their own database
    pipeline = build_pipeline(settings, database)
    outbox = FolderOutbox(tmp_path / "out")

    def handle(raw: bytes):
        handled = pipeline.handle(raw)
        deliveries = deliver_due(database, outbox, only=handled.reply_ids)
        replies = [email.message_from_bytes(d.path.read_bytes(), policy=email.policy.default)
                   for d in deliveries if d.path]
        return handled, replies

    return pipeline, database, handle


def count(db: Database, model) -> int:
    from sqlalchemy import func, select

    with db.unit_of_work(readonly=True) as s:
        return int(s.execute(select(func.count()).select_from(model)).scalar_one())


@pytest.mark.parametrize(
    "build",
    [
        lambda d: emails.simple(d),
        lambda d: emails.outlook_inline_image(d),
        lambda d: emails.apple_mail(d),
        lambda d: emails.octet_stream_upper(d),
        lambda d: emails.zipped(d),
        lambda d: emails.forwarded(d),
        lambda d: emails.winmail(d),
        lambda d: emails.smime_signed(d),
        lambda d: emails.latin1(d),
        lambda d: emails.no_id_no_date(d),
    ],
    ids=["simple", "outlook", "apple", "octet-upper", "zip", "forward", "winmail", "smime",
         "latin1", "no-id"],
)
def test_every_client_shape_registers_and_gets_a_receipt(env, build):
    _pipeline, db, handle = env
    raw = build(filled_docx())
    handled, replies = handle(raw)
    assert handled.outcome == "registered", handled
    assert len(handled.references) == 1 and handled.references[0].startswith("AVS-")
    assert len(replies) == 1
    reply = replies[0]
    original = email.message_from_bytes(raw, policy=email.policy.default)
    assert reply["Auto-Submitted"] == "auto-replied"
    assert reply["Subject"].startswith("Re: ")
    if original["Message-ID"]:
        assert reply["In-Reply-To"] == original["Message-ID"]
    assert handled.references[0] in reply.get_content()
    assert count(db, ReportVersion) == 1


def test_excel_annual_report(env):
    _p, db, handle = env
    xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    handled, replies = handle(emails.simple(filled_xlsx(), "Helårsrapport.xlsx", content_type=xlsx))
    assert handled.outcome == "registered"
    assert "Avsteg 2" in replies[0].get_content()


@pytest.mark.parametrize(
    "raw, reason",
    [
        (emails.out_of_office(), "auto"),
        (emails.newsletter(), "list"),
        (emails.bounce(), "bounce"),
        (emails.human_question(), "human"),
    ],
    ids=["out-of-office", "newsletter", "bounce", "question"],
)
def test_mail_that_is_not_ours_is_ignored_without_reply(env, raw, reason):
    _p, db, handle = env
    handled, replies = handle(raw)
    assert handled.outcome == "ignored"
    assert replies == []
    assert count(db, ReplyRow) == 0


def test_report_from_outside_the_allowed_domains_is_left_for_a_person(env):
    _p, db, handle = env
    handled, replies = handle(emails.outsider(filled_docx()))
    assert handled.outcome == "ignored"
    assert replies == [] and count(db, ReportVersion) == 0


def test_pdf_named_avsteg_gets_help_and_is_rejected(env):
    _p, db, handle = env
    handled, replies = handle(emails.pdf_report(emails.dummy_pdf()))
    assert handled.outcome == "rejected"
    assert len(replies) == 1
    body = replies[0].get_body(preferencelist=("plain",)).get_content()
    assert ".docx" in body and "ingenting har registrerats" in body.lower()
    attached = [p.get_filename() for p in replies[0].iter_attachments()]
    assert any(name.endswith(".docx") for name in attached)  # a blank template to start from


def test_defective_template_is_rejected_with_the_field_named(env):
    _p, db, handle = env
    handled, replies = handle(emails.simple(filled_docx(supplier_orgnr="556677-8891")))
    assert handled.outcome == "rejected"
    assert [e.field for e in handled.errors] == ["supplier_orgnr"]
    body = replies[0].get_content()
    assert "Leverantörens organisationsnummer" in body and "Avsteg 1" in body
    assert count(db, ReportVersion) == 0


def test_same_message_again_is_a_duplicate_without_reply(env):
    _p, db, handle = env
    raw = emails.simple(filled_docx())
    first, _ = handle(raw)
    again, replies = handle(raw)
    assert (first.outcome, again.outcome) == ("registered", "duplicate")
    assert replies == []
    # Same Message-ID, different bytes (a resend through another server): still a duplicate.
    resent = raw.replace(b"Subject: ", b"X-Resent: yes\r\nSubject: ", 1)
    third, replies = handle(resent)
    assert third.outcome == "duplicate" and replies == []
    assert count(db, ReportVersion) == 1 and count(db, ReplyRow) == 1


def test_same_file_in_a_new_message_gets_the_existing_reference(env):
    _p, db, handle = env
    doc = filled_docx()
    first, _ = handle(emails.simple(doc, message_id="a@goteborg.se"))
    second, replies = handle(emails.simple(doc, message_id="b@goteborg.se"))
    assert second.outcome == "duplicate"
    assert second.references == first.references
    assert first.references[0] in replies[0].get_content()
    assert count(db, ReportVersion) == 1


def test_correction_as_reply_to_the_receipt_is_a_new_version(env):
    _p, db, handle = env
    first, replies = handle(emails.simple(filled_docx(), message_id="orig@goteborg.se"))
    receipt_id = replies[0]["Message-ID"]
    corrected = emails.simple(
        filled_docx(jobs_created=2000), message_id="fix@goteborg.se", subject="Re: Kvittens",
        extra={"In-Reply-To": receipt_id, "References": receipt_id},
    )
    handled, replies = handle(corrected)
    assert handled.outcome == "new_version"
    assert handled.references == first.references
    assert "version 2" in replies[0].get_content().lower()
    with db.unit_of_work(readonly=True) as s:
        from avsteg.storage.reports import current_versions

        current = current_versions(s)
        assert len(current) == 1 and current[0].version == 2
    assert count(db, ReportVersion) == 2  # the first version is kept


def test_correction_with_the_reference_in_the_subject(env):
    _p, db, handle = env
    first, _ = handle(emails.simple(filled_docx(), message_id="o@goteborg.se"))
    handled, _ = handle(emails.simple(filled_docx(jobs_created=1500), message_id="n@goteborg.se",
                                      subject=f"Rättad rapport {first.references[0]}"))
    assert handled.outcome == "new_version" and handled.references == first.references


def test_two_templates_in_one_message_are_two_reports(env):
    _p, db, handle = env
    zipped = emails.zip_bytes({"a.docx": filled_docx(seed=1), "b.docx": filled_docx(seed=2)})
    handled, replies = handle(emails.simple(zipped, "rapporter.zip", content_type="application/zip"))
    assert handled.outcome == "registered"
    assert len(handled.references) == 2
    assert all(ref in replies[0].get_content() for ref in handled.references)


def test_rate_limit_per_sender(env):
    pipeline, db, handle = env
    pipeline.replies = type(pipeline.replies)(**{**pipeline.replies.__dict__, "per_sender_per_hour": 2})
    outcomes = []
    for i in range(4):
        handled, replies = handle(emails.pdf_report(emails.dummy_pdf(), message_id=f"p{i}@goteborg.se"))
        outcomes.append((handled.outcome, len(replies)))
    assert outcomes == [("rejected", 1), ("rejected", 1), ("rejected", 0), ("rejected", 0)]


def test_raw_message_is_kept_with_its_hash(env):
    import hashlib

    _p, db, handle = env
    raw = emails.simple(filled_docx())
    handle(raw)
    from sqlalchemy import select

    with db.unit_of_work(readonly=True) as s:
        row = s.scalars(select(MessageRow)).one()
        assert row.raw == raw and row.sha256 == hashlib.sha256(raw).hexdigest()
        assert row.outcome == "registered" and row.state == "processed"
        assert {a.filename for a in row.attachments} >= {"Avstegsrapport.docx"}


def test_a_failure_of_ours_is_retried_not_answered(env, monkeypatch):
    pipeline, db, handle = env
    import avsteg.services.pipeline as module

    def broken(*args, **kwargs):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(module.report_store, "register_report", broken)
    handled, replies = handle(emails.simple(filled_docx()))
    assert handled.outcome == "failed" and replies == []
    assert count(db, ReportVersion) == 0 and count(db, ReplyRow) == 0
    monkeypatch.undo()
    retried = pipeline.process(handled.message_pk)
    assert retried.outcome == "registered"
    assert count(db, ReportVersion) == 1 and count(db, ReplyRow) == 1


def test_ingest_command_json_contract(tmp_path: Path, capsys):
    files = []
    for name, raw in {
        "report.eml": emails.simple(filled_docx()),
        "question.eml": emails.human_question(),
        "broken.eml": emails.simple(filled_docx(supplier_orgnr="556677-8891"), message_id="x@goteborg.se"),
    }.items():
        (tmp_path / name).write_bytes(raw)
        files.append(str(tmp_path / name))
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    assert main(["ingest", *files, "--db", db, "--outbox", str(tmp_path / "out"), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["outcome"] for line in lines] == ["registered", "ignored", "rejected"]
    assert set(lines[0]) == {"file", "message_id", "outcome", "references", "errors", "reason",
                             "reply"}
    assert lines[0]["reply"] and Path(lines[0]["reply"]).exists()
    assert lines[1]["reply"] is None
    assert lines[2]["errors"][0]["field"] == "supplier_orgnr"
    assert main(["list", "--db", db, "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(listed) == 1 and listed[0]["reference"] == lines[0]["references"][0]
    assert listed[0]["deviations"] == 1


def test_rate_limit_never_holds_back_a_receipt_for_a_new_report(env):
    """A coordinator sending twelve reports in December gets twelve receipts; the limit is for
    replies that register nothing (errors, help, "already registered"): what a loop produces."""
    pipeline, db, handle = env
    pipeline.replies = type(pipeline.replies)(**{**pipeline.replies.__dict__, "per_sender_per_hour": 2})
    docs = [filled_docx(seed=i) for i in range(5)]
    answered = [len(handle(emails.simple(doc, message_id=f"r{i}@goteborg.se"))[1])
                for i, doc in enumerate(docs)]
    assert answered == [1] * 5 and count(db, ReportVersion) == 5
    doc = docs[0]  # the first report's file again (the same bytes), three times: a loop
    again = [len(handle(emails.simple(doc, message_id=f"d{i}@goteborg.se"))[1]) for i in range(3)]
    assert again == [1, 1, 0]

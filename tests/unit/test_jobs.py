"""The register's scheduled jobs on SQLite: December reminders (exactly the owing organisations,
never twice, also across restarts), the weekly digest (contents, the register attached, once per
day) and ``add_jobs`` (only what is configured). Reports come in through the real pipeline."""
from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import io
import json
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.cli import main
from avsteg.config.schema import default_schema
from avsteg.config.settings import load_settings
from avsteg.domain.errors import ConfigurationError
from avsteg.domain.replies.digest import DigestData, compose_digest
from avsteg.forms.docx_template import build_docx
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.services import jobs
from avsteg.services.delivery import deliver_due
from avsteg.storage import messages as message_store
from avsteg.storage import outbox as reply_store
from avsteg.storage.database import Database
from avsteg.storage.models import ReminderSent, ReplyRow, Report
from avsteg.storage.reports import find_report_by_reference, withdraw_report
from tests.support import emails
from tests.support.fill import FillStyle, fill_docx, sample_report

SCHEMA = default_schema()
EVENT, ANNUAL = SCHEMA.kinds["event"], SCHEMA.kinds["annual"]
TEMPLATES = {"event": build_docx(SCHEMA, "event"), "annual": build_docx(SCHEMA, "annual")}
STHLM = ZoneInfo("Europe/Stockholm")
YEAR = 2025  # the Rapportår of the sample values


def at(month: int, day: int, hour: int = 8, year: int = YEAR) -> dt.datetime:
    return dt.datetime(year, month, day, hour, 0, tzinfo=STHLM)


def report_mail(n: int, organisation: str, kind: str = "event", contact: str | None = None,
                **deviation_changes) -> bytes:
    report, deviations = sample_report(kind=kind, seed=n)
    slug = "".join(c for c in organisation.split()[0].lower() if c.isascii() and c.isalnum())
    report.update(organisation=organisation, year=YEAR, contact_name=f"Person {n}",
                  contact_email=contact or f"person{n}@{slug}.goteborg.se")
    deviations[0].update(deviation_changes)
    docx = fill_docx(TEMPLATES[kind], report, deviations, FillStyle())
    return emails.simple(docx, f"{SCHEMA.kinds[kind]}.docx", message_id=f"m{n}@goteborg.se",
                         sender=f"avsandare{n}@goteborg.se")


@pytest.fixture
def env(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'register.sqlite'}"
    settings = load_settings(None, database={"url": url}, schedules={
        "digest_address": "stodfunktionen@ink.goteborg.se", "reminders": True,
        "first_reminder": "12-01", "second_reminder": "12-15"})
    db = open_database(settings)
    yield settings, db, build_pipeline(settings, db)
    db.dispose()


def handle_at(pipeline, when: dt.datetime, raw: bytes):
    return dataclasses.replace(pipeline, clock=lambda: when.astimezone(dt.UTC)).handle(raw)


def count(db, model, *where) -> int:
    with db.unit_of_work(readonly=True) as s:
        return int(s.execute(select(func.count()).select_from(model).where(*where)).scalar_one())


def reminders_queued(db, ids) -> list[tuple[str, str]]:
    """(recipient, X-Avsteg-Reminder) of the queued reminders, sorted."""
    out = []
    with db.unit_of_work(readonly=True) as s:
        for i in ids:
            row = s.get(ReplyRow, i)
            assert row.kind == "reminder" and row.status == "queued"
            msg = email.message_from_bytes(row.raw, policy=email.policy.default)
            out.append((row.recipient, msg["X-Avsteg-Reminder"]))
    return sorted(out)


# -- December reminders ----------------------------------------------------------------------

def test_reminders_reach_exactly_the_owing_organisations_once(env):
    settings, db, pipeline = env
    quiet = dataclasses.replace(pipeline, replies=dataclasses.replace(pipeline.replies, send=False))
    for n, org, kind in [(1, "Trafikkontoret", "event"), (2, "Higab AB", "event"),
                         (3, "Higab AB", "annual"), (4, "Renova AB", "annual"),
                         (5, "Park- och naturförvaltningen", "event"),
                         (6, "Trafikkontoret", "event")]:
        assert handle_at(quiet, at(3, n), report_mail(n, org, kind)).outcome == "registered"

    assert jobs.run_reminder_check(settings, db, now=at(11, 30)) == []  # not December yet
    first = jobs.run_reminder_check(settings, db, now=at(12, 1))
    # Trafikkontoret's newest report names its contact; Higab sent its Helårsrapport, Renova
    # only a Helårsrapport: neither owes.
    assert reminders_queued(db, first) == [
        ("person5@park.goteborg.se", f"{YEAR} first"),
        ("person6@trafikkontoret.goteborg.se", f"{YEAR} first"),
    ]
    with db.unit_of_work(readonly=True) as s:
        body = email.message_from_bytes(s.get(ReplyRow, first[1]).raw, policy=email.policy.default)
    assert body["Subject"].startswith("Påminnelse")
    assert any(p.get_filename() == f"{ANNUAL}.docx" for p in body.iter_attachments())

    # A restart the same day, and the next days: nothing is sent twice.
    restarted = Database(settings.database.url)
    assert jobs.run_reminder_check(settings, restarted, now=at(12, 1, 9)) == []
    assert jobs.run_reminder_check(settings, restarted, now=at(12, 2)) == []
    restarted.dispose()

    # Park sends its Helårsrapport; Kulturförvaltningen starts to owe (its first event report).
    handle_at(quiet, at(12, 5), report_mail(7, "Park- och naturförvaltningen", "annual"))
    handle_at(quiet, at(12, 10), report_mail(8, "Kulturförvaltningen", "event"))

    # The worker was down on the 15th; on the 16th: the second reminder only to those still
    # missing who had the first, and a (late) first one to the newcomer.
    late = jobs.run_reminder_check(settings, db, now=at(12, 16))
    assert reminders_queued(db, late) == [
        ("person6@trafikkontoret.goteborg.se", f"{YEAR} second"),
        ("person8@kulturfrvaltningen.goteborg.se", f"{YEAR} first"),
    ]
    assert jobs.run_reminder_check(settings, db, now=at(12, 17)) == []
    assert count(db, ReminderSent) == 4
    assert count(db, ReplyRow, ReplyRow.kind == "reminder") == 4


def test_a_reminder_is_recorded_only_with_its_queued_message(env, monkeypatch):
    settings, db, pipeline = env
    handle_at(pipeline, at(3, 1), report_mail(1, "Trafikkontoret"))

    def outbox_down(*args, **kwargs):
        raise RuntimeError("the outbox table is unreachable")

    monkeypatch.setattr(jobs.reply_store, "queue_reply", outbox_down)
    with pytest.raises(RuntimeError):
        jobs.run_reminder_check(settings, db, now=at(12, 1))
    assert count(db, ReminderSent) == 0  # rolled back with the reply: it is sent next time
    monkeypatch.undo()
    assert len(jobs.run_reminder_check(settings, db, now=at(12, 1, 9))) == 1
    assert count(db, ReminderSent) == 1


def test_remind_command_dry_run_then_send(env, tmp_path, capsys):
    settings, db, pipeline = env
    handle_at(pipeline, at(3, 1), report_mail(1, "Trafikkontoret"))
    handle_at(pipeline, at(3, 2), report_mail(2, "Higab AB", "annual"))
    url = settings.database.url

    assert main(["remind", "--dry-run", "--year", str(YEAR), "--db", url, "--json"]) == 0
    planned = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(p["organisation"], p["which"], p["status"]) for p in planned] == [
        ("Trafikkontoret", "first", "planned")]
    assert count(db, ReminderSent) == 0

    out = tmp_path / "out"
    assert main(["remind", "--year", str(YEAR), "--which", "first", "--db", url,
                 "--outbox", str(out)]) == 0
    written = list(out.glob("*.eml"))
    assert len(written) == 1
    sent = email.message_from_bytes(written[0].read_bytes(), policy=email.policy.default)
    assert sent["To"].addresses[0].addr_spec == "person1@trafikkontoret.goteborg.se"
    assert count(db, ReplyRow, ReplyRow.kind == "reminder", ReplyRow.status == "sent") == 1

    capsys.readouterr()
    assert main(["remind", "--year", str(YEAR), "--which", "first", "--db", url, "--json",
                 "--outbox", str(out)]) == 0
    assert capsys.readouterr().out == ""  # nobody gets the first reminder twice
    assert len(list(out.glob("*.eml"))) == 1


# -- the weekly digest -----------------------------------------------------------------------

def test_digest_lists_the_week_and_attaches_the_register(env, tmp_path):
    settings, db, pipeline = env
    monday = dt.datetime(2026, 3, 16, 7, 0, tzinfo=STHLM)
    old = handle_at(pipeline, monday - dt.timedelta(days=10), report_mail(1, "Trafikkontoret"))
    gone = handle_at(pipeline, monday - dt.timedelta(days=10), report_mail(2, "Renova AB"))
    new = handle_at(pipeline, monday - dt.timedelta(days=3), report_mail(3, "Higab AB"))
    with db.unit_of_work(readonly=True) as s:
        receipt = s.get(ReplyRow, old.reply_ids[0]).message_id_header
    fix_report, fix_devs = sample_report(kind="event", seed=1)
    fix_report.update(organisation="Trafikkontoret", year=YEAR)
    fix = emails.simple(fill_docx(TEMPLATES["event"], fix_report, fix_devs, FillStyle()),
                        subject="Re: rättelse", message_id="fix@goteborg.se",
                        extra={"In-Reply-To": receipt})
    assert handle_at(pipeline, monday - dt.timedelta(days=2), fix).outcome == "new_version"
    rejected = handle_at(pipeline, monday - dt.timedelta(days=2),
                         report_mail(4, "Kulturförvaltningen", reason=None))
    assert rejected.outcome == "rejected"
    with db.unit_of_work() as s:
        withdraw_report(s, find_report_by_reference(s, gone.references[0]), "Dubblett",
                        now=monday - dt.timedelta(days=1))
        reply_store.mark_reply_failed(s, s.get(ReplyRow, rejected.reply_ids[0]),
                                      "550 5.1.1 mailbox unavailable", permanent=True)
    crashed, _ = pipeline.store_raw(report_mail(5, "Lokalförvaltningen"))
    with db.unit_of_work() as s:
        message_store.mark_failed(s, crashed, "OperationalError: database is locked")

    reply_id = jobs.queue_digest(settings, db, now=monday)
    assert reply_id is not None
    assert jobs.queue_digest(settings, db, now=monday + dt.timedelta(hours=2)) is None  # once a day

    with db.unit_of_work(readonly=True) as s:
        row = s.get(ReplyRow, reply_id)
        assert (row.kind, row.recipient, row.status) == ("digest", "stodfunktionen@ink.goteborg.se",
                                                         "queued")
        digest = email.message_from_bytes(row.raw, policy=email.policy.default)
    assert "vecka 12 2026" in digest["Subject"]
    body = digest.get_body(("plain",)).get_content()
    news = body.split("NYA RAPPORTER")[1].split("ÄNDRADE RAPPORTER")[0]
    changed = body.split("ÄNDRADE RAPPORTER")[1].split("ATT HANTERA")[0]
    waiting = body.split("ATT HANTERA")[1]
    assert new.references[0] in news and old.references[0] not in news
    assert f"{old.references[0]} (ny version, version 2)" in changed
    assert f"{gone.references[0]} (återkallad)" in changed
    assert "avsandare4@goteborg.se" in waiting and "Fältet är tomt. Fyll i Skäl till avsteg." in waiting
    assert "database is locked" in waiting
    assert "550 5.1.1 mailbox unavailable" in waiting
    assert "Registret har nu 2 rapporter" in body  # the withdrawn one is not counted

    [attachment] = list(digest.iter_attachments())
    assert attachment.get_filename() == "Avstegsregistret 2026-03-16.xlsx"
    workbook = load_workbook(io.BytesIO(attachment.get_content()), read_only=True)
    assert "Rapporter" in workbook.sheetnames
    cells = {c for r in workbook["Rapporter"].iter_rows(values_only=True) for c in r}
    assert {old.references[0], new.references[0]} <= cells

    deliveries = deliver_due(db, FolderOutbox(tmp_path / "out"), only=[reply_id])
    assert [d.status for d in deliveries] == ["sent"]


def test_compose_digest_for_a_quiet_week():
    now = dt.datetime(2026, 3, 23, 6, 0, tzinfo=dt.UTC)
    data = DigestData(period_start=now - dt.timedelta(days=7), period_end=now)
    message = compose_digest(data, to="stod@goteborg.se", xlsx=b"PK\x03\x04 workbook",
                             service_address="socialhansyn@ink.goteborg.se",
                             service_name="Stödfunktionen", now=now)
    body = message.get_body(("plain",)).get_content()
    assert "Inga nya rapporter." in body and "Inga ändrade rapporter." in body
    assert "att hantera" not in message["Subject"]
    assert message["Message-ID"] == "<digest.2026-03-23.avsteg@ink.goteborg.se>"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_content() == b"PK\x03\x04 workbook"


# -- add_jobs --------------------------------------------------------------------------------

def scheduler():
    from apscheduler.schedulers.background import BackgroundScheduler

    return BackgroundScheduler(timezone="Europe/Stockholm")


def test_add_jobs_adds_nothing_unless_configured(tmp_path):
    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'x.sqlite'}"})
    s = scheduler()
    assert jobs.add_jobs(s, settings, db=None) == []
    assert s.get_jobs() == []


def test_add_jobs_schedules_digest_and_reminder_check(env):
    settings, db, _pipeline = env
    settings.schedules.digest_day_of_week = "fri"
    settings.schedules.digest_hour = 6
    s = scheduler()
    assert jobs.add_jobs(s, settings, db) == ["digest", "reminders"]
    by_id = {job.id: job for job in s.get_jobs()}
    wednesday = dt.datetime(2026, 3, 4, 12, 0, tzinfo=STHLM)
    assert by_id["digest"].trigger.get_next_fire_time(None, wednesday) == dt.datetime(
        2026, 3, 6, 6, 0, tzinfo=STHLM)
    assert by_id["reminders"].trigger.get_next_fire_time(None, wednesday) == dt.datetime(
        2026, 3, 5, 8, 0, tzinfo=STHLM)

    by_id["digest"].func()  # what the scheduler runs: the digest is queued
    assert count(db, ReplyRow, ReplyRow.kind == "digest") == 1
    assert count(db, Report) == 0

    only_digest = settings.model_copy(deep=True)
    only_digest.schedules.reminders = False
    assert jobs.add_jobs(scheduler(), only_digest, db) == ["digest"]


def test_a_bad_reminder_date_fails_at_start(env):
    settings, db, _pipeline = env
    settings.schedules.first_reminder = "1 december"
    with pytest.raises(ConfigurationError):
        jobs.add_jobs(scheduler(), settings, db)

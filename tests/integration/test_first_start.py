"""First start against a mailbox with old mail (spec 3): registered and filed, never answered.

A real Dovecot and aiosmtpd, the real command configured only by AVSTEG_… variables. Mail older
than ``policy.reply_window_days`` when the service first sees it (by its Date, else the server's
arrival time) is handled as usual but gets no reply; new mail is answered; ``run --once
--no-replies`` answers nobody at all; the outcome says why nobody was answered.
"""
from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.support import emails
from tests.support.worker_env import (
    PROCESSED,
    REJECTED,
    append_all,
    avsteg,
    folder_ids,
    reject_message,
    replies_by_original,
    report_docx,
    sender_of,
    worker_environ,
)

pytestmark = pytest.mark.integration


def dated(n: int, days_ago: float | None, tag: str) -> bytes:
    date = None if days_ago is None else dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    return emails.simple(report_docx(n), f"Avstegsrapport {n}.docx", sender=sender_of(n),
                         subject=f"Avstegsrapport {n}", message_id=f"{tag}{n}@goteborg.se",
                         date=date)


def test_old_mail_is_registered_but_not_answered(dovecot, mail_user, smtp_server, db_url, tmp_path):
    old = [dated(i, 30 + i, "old") for i in range(3)]
    new = [dated(10, 1, "new"), dated(11, None, "new")]  # no Date: the arrival time counts
    append_all(dovecot, mail_user, [*old, reject_message(1, tag="oldpdf"), *new])
    with dovecot.client(mail_user) as client:  # no Date, arrived a month ago (INTERNALDATE)
        client.append("INBOX", dated(12, None, "old"),
                      msg_time=dt.datetime.now(dt.UTC) - dt.timedelta(days=30))
    env = worker_environ(dovecot, mail_user, smtp_server, db_url,
                         POLICY__REPLY_WINDOW_DAYS="7")
    avsteg(["run", "--once"], env, cwd=tmp_path)

    assert set(folder_ids(dovecot, mail_user, PROCESSED)) == {
        "old0@goteborg.se", "old1@goteborg.se", "old2@goteborg.se", "old12@goteborg.se",
        "new10@goteborg.se", "new11@goteborg.se"}
    assert set(folder_ids(dovecot, mail_user, REJECTED)) == {"oldpdf1@goteborg.se"}
    # The PDF is dated 2026-03-05 (emails.DATE): old too, so no help reply either.
    assert set(replies_by_original(smtp_server)) == {"new10@goteborg.se", "new11@goteborg.se"}
    listed = [json.loads(x) for x in avsteg(["list", "--json"], env, cwd=tmp_path).stdout.split("\n")
              if x]
    assert len(listed) == 6


def test_the_outcome_says_why_nobody_was_answered(database, tmp_path):
    from avsteg.bootstrap import build_pipeline
    from avsteg.config.settings import load_settings
    from avsteg.domain.message import MailboxPosition

    pipeline = build_pipeline(load_settings(None), database)
    position = MailboxPosition("u@h", "INBOX", 1, 1)
    old = pipeline.handle(dated(1, 8, "o"), position=position)
    assert old.outcome == "registered" and old.reply_ids == ()
    assert old.reason == "registered; not answered: older than the reply window"
    fresh = pipeline.handle(dated(2, 6, "f"), position=MailboxPosition("u@h", "INBOX", 1, 2))
    assert fresh.outcome == "registered" and len(fresh.reply_ids) == 1
    # No Date: the server's arrival time decides.
    arrived = dt.datetime.now(dt.UTC) - dt.timedelta(days=9)
    undated = pipeline.handle(dated(3, None, "u"), position=MailboxPosition("u@h", "INBOX", 1, 3),
                              received_at=arrived)
    assert undated.reply_ids == () and "reply window" in undated.reason
    # A file given to `avsteg ingest` by a person is answered whatever its age.
    assert len(pipeline.handle(dated(4, 300, "i")).reply_ids) == 1


def test_backfill_answers_nobody_then_run_answers_only_new_mail(dovecot, mail_user, smtp_server,
                                                               db_url, tmp_path):
    append_all(dovecot, mail_user, [dated(i, 2, "recent") for i in range(2)])
    env = worker_environ(dovecot, mail_user, smtp_server, db_url,
                         POLICY__REPLY_WINDOW_DAYS="7")
    avsteg(["run", "--once", "--no-replies"], env, cwd=tmp_path)
    assert smtp_server.messages == []
    assert len(folder_ids(dovecot, mail_user, PROCESSED)) == 2
    append_all(dovecot, mail_user, [dated(5, 0, "later")])
    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert set(replies_by_original(smtp_server)) == {"later5@goteborg.se"}

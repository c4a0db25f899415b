"""The worker when something around it fails: SMTP 451/550, a dropped IMAP connection, no database.

Real Dovecot, aiosmtpd and databases; the faults are real too (the SMTP server answers 451/550,
``doveadm kick`` drops the IMAP session, PostgreSQL is stopped, the database URL points nowhere).
"""
from __future__ import annotations

import json
import logging
import time

import pytest

from avsteg.domain.errors import TransientError
from tests.support.worker_env import (
    PROCESSED,
    append_all,
    assert_worked_off_once,
    avsteg,
    db_facts,
    folder_ids,
    mixed_backlog,
    replies_by_original,
    report_message,
    restart_postgres,
    run_until_empty,
    start_private_postgres,
    worker_environ,
    worker_settings,
)

pytestmark = pytest.mark.integration


def _reply_states(db_url: str) -> dict[str, str]:
    return {mid: status for mid, status, _h in db_facts(db_url)["replies"]}


def test_smtp_451_keeps_replies_queued_then_delivers_each_once(dovecot, mail_user, smtp_server,
                                                               workers, db_url):
    append_all(dovecot, mail_user, [report_message(i, tag="t451") for i in range(2)])
    worker = workers(worker_settings(dovecot, mail_user, smtp_server, db_url,
                                     SMTP__BACKOFF_SECONDS="0.3"))
    smtp_server.refuse_next(4, "451 4.3.0 Try again later")

    first = worker.poll_once()
    assert [h.outcome for h in first.handled] == ["registered", "registered"]
    assert first.delivered == 0 and smtp_server.messages == []
    assert set(_reply_states(db_url).values()) == {"queued"}
    # Filed away all the same: the reply waits in the outbox, not the message in INBOX.
    assert set(folder_ids(dovecot, mail_user, PROCESSED)) == {"t4510@goteborg.se", "t4511@goteborg.se"}

    deadline = time.monotonic() + 20
    while set(_reply_states(db_url).values()) != {"sent"}:
        assert time.monotonic() < deadline, _reply_states(db_url)
        time.sleep(0.2)
        report = worker.poll_once()
        assert report.handled == []  # nothing is processed again while replies are retried
    replies = replies_by_original(smtp_server)
    assert replies.keys() == {"t4510@goteborg.se", "t4511@goteborg.se"}
    assert all(len(v) == 1 for v in replies.values())
    time.sleep(0.5)
    run_until_empty(worker)
    assert len(smtp_server.messages) == 2


def test_smtp_550_marks_the_reply_failed_and_never_retries(dovecot, mail_user, smtp_server,
                                                           workers, tmp_path, caplog):
    db_url = f"sqlite:///{tmp_path}/f.sqlite"
    append_all(dovecot, mail_user, [report_message(1, tag="t550")])
    worker = workers(worker_settings(dovecot, mail_user, smtp_server, db_url,
                                     SMTP__BACKOFF_SECONDS="0.1"))
    smtp_server.refuse_next(1, "550 5.1.1 No such user")
    with caplog.at_level(logging.ERROR, logger="avsteg.delivery"):
        worker.poll_once()
    assert any("refused by the server" in r.getMessage() and "550" in r.getMessage()
               for r in caplog.records)
    assert _reply_states(db_url) == {"t5501@goteborg.se": "failed"}
    time.sleep(0.3)
    for _ in range(3):
        worker.poll_once()
    assert smtp_server.messages == []
    assert _reply_states(db_url) == {"t5501@goteborg.se": "failed"}

    env = worker_environ(dovecot, mail_user, smtp_server, db_url)
    status = json.loads(avsteg(["status", "--json"], env, cwd=tmp_path).stdout)
    assert status["replies_failed"] == 1 and status["replies_queued"] == 0
    assert status["outcomes"] == {"registered": 1}
    assert "1 failed" in avsteg(["status"], env, cwd=tmp_path).stdout


def test_imap_connection_dropped_mid_batch(dovecot, mail_user, smtp_server, workers, db_url):
    backlog = mixed_backlog(15, tag="kick")
    append_all(dovecot, mail_user, [m.raw for m in backlog])
    worker = workers(worker_settings(dovecot, mail_user, smtp_server, db_url,
                                     IMAP__BATCH_SIZE="4"))
    kicked = []

    def kick(done: int, total: int) -> None:
        if done in (3, 6, 7):  # within a batch, at a batch's end, and right after a reconnect
            dovecot.kick(mail_user)
            kicked.append(done)

    try:
        worker.poll_once(progress=kick)
    except TransientError:
        pass  # allowed: the poll may give up; the next one must finish the job
    assert kicked, "the kicks never happened"
    run_until_empty(worker)

    assert_worked_off_once(dovecot, mail_user, smtp_server, db_url, backlog)


def test_bad_database_url_for_one_poll(dovecot, mail_user, smtp_server, tmp_path):
    """``avsteg run --once`` with a database that is not there: mail stays, nobody answered."""
    append_all(dovecot, mail_user, [report_message(1, tag="nodb")])
    dead = "postgresql+psycopg://postgres@127.0.0.1:9/avsteg"  # port 9: nobody listens
    env = worker_environ(dovecot, mail_user, smtp_server, dead)
    result = avsteg(["run", "--once"], env, cwd=tmp_path, check=False)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert folder_ids(dovecot, mail_user, "INBOX") == {"nodb1@goteborg.se": ()}  # still unread
    assert smtp_server.messages == []

    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/ok.sqlite")
    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert set(folder_ids(dovecot, mail_user, PROCESSED)) == {"nodb1@goteborg.se"}
    assert list(replies_by_original(smtp_server)) == ["nodb1@goteborg.se"]


@pytest.mark.slow
def test_postgresql_stopped_mid_poll_and_back(dovecot, mail_user, smtp_server, workers):
    cluster = start_private_postgres()
    try:
        db_url = cluster.create_database("faults")
        # The shared test cluster runs with synchronous_commit=off, which with an immediate
        # stop loses commits already acknowledged: a production setting never does that.
        cluster.sql("ALTER DATABASE faults SET synchronous_commit = on")
        backlog = mixed_backlog(10, tag="pgdown")
        append_all(dovecot, mail_user, [m.raw for m in backlog])
        worker = workers(worker_settings(dovecot, mail_user, smtp_server, db_url))

        def stop_after_two(done: int, total: int) -> None:
            if done == 2:
                cluster.stop()

        with pytest.raises(TransientError):
            worker.poll_once(progress=stop_after_two)
        answered_while_down = len(smtp_server.messages)
        assert answered_while_down <= 2  # only what was finished before the database went away
        with pytest.raises(TransientError):  # still down: the poll fails, nothing is touched
            worker.poll_once()
        assert len(smtp_server.messages) == answered_while_down
        inbox = folder_ids(dovecot, mail_user, "INBOX")
        assert len(inbox) >= len(backlog) - 2
        assert all(flags == () for flags in inbox.values())  # read with PEEK: still unread

        restart_postgres(cluster)
        run_until_empty(worker)
        assert_worked_off_once(dovecot, mail_user, smtp_server, db_url, backlog)
        assert db_facts(db_url)["states"] == {"processed": len(backlog)}
    finally:
        cluster.stop()
        import shutil

        shutil.rmtree(cluster.base_dir, ignore_errors=True)

"""``avsteg run`` as an operator runs it: a child process configured only by AVSTEG_… variables.

Against a real Dovecot and aiosmtpd, on SQLite and PostgreSQL: reports and rejects are filed
away, human mail is left exactly as it was (unread, flags unchanged), each answered message gets
one reply, a second run changes nothing; the keyword mode; ``--no-replies`` backfill and
``avsteg status``; SIGTERM ends the service within 10 s after the message in hand.
"""
from __future__ import annotations

import json
import signal
import time

import pytest

from tests.support import emails
from tests.support.worker_env import (
    PROCESSED,
    REJECTED,
    append_all,
    avsteg,
    db_facts,
    folder_ids,
    human_message,
    mixed_backlog,
    parse,
    reject_message,
    replies_by_original,
    report_message,
    spawn,
    worker_environ,
)

pytestmark = pytest.mark.integration


def _mailbox(dovecot, user):
    """Three reports, one PDF to reject, three kinds of human mail (one flagged, one read)."""
    reports = [report_message(i, tag="cli") for i in range(3)]
    append_all(dovecot, user, reports[:2])
    append_all(dovecot, user, [reject_message(1, tag="clipdf")])
    append_all(dovecot, user, [human_message(0, tag="clih")])  # a question, unread
    append_all(dovecot, user, [human_message(1, tag="clih")], flags=("\\Flagged",))  # newsletter
    append_all(dovecot, user, [human_message(2, tag="clih")], flags=("\\Seen",))  # out-of-office
    append_all(dovecot, user, reports[2:])
    return {
        "reports": {f"cli{i}@goteborg.se" for i in range(3)},
        "rejects": {"clipdf1@goteborg.se"},
        "human": {"clih0@goteborg.se": (), "clih1@goteborg.se": ("\\Flagged",),
                  "clih2@goteborg.se": ("\\Seen",)},
    }


def _snapshot(dovecot, user):
    return {f: folder_ids(dovecot, user, f) for f in ("INBOX", PROCESSED, REJECTED)}


def test_run_once_files_answers_and_leaves_human_mail_alone(dovecot, mail_user, smtp_server,
                                                            db_url, tmp_path):
    expect = _mailbox(dovecot, mail_user)
    assert dovecot.folders(mail_user) == ["INBOX"]  # the target folders do not exist yet
    env = worker_environ(dovecot, mail_user, smtp_server, db_url)

    first = avsteg(["run", "--once"], env, cwd=tmp_path)
    assert "3 registered" in first.stderr and "1 rejected" in first.stderr

    assert set(folder_ids(dovecot, mail_user, PROCESSED)) == expect["reports"]
    assert set(folder_ids(dovecot, mail_user, REJECTED)) == expect["rejects"]
    assert folder_ids(dovecot, mail_user, "INBOX") == expect["human"]  # flags as they were

    replies = replies_by_original(smtp_server)
    assert set(replies) == expect["reports"] | expect["rejects"]
    assert all(len(ids) == 1 for ids in replies.values()), replies
    for received in smtp_server.messages:
        assert received.rcpt_tos == (parse(received.raw)["To"].addresses[0].addr_spec,)
        assert received.rcpt_tos[0].endswith("@trafikkontoret.goteborg.se")
        assert received.mail_from == emails.SERVICE

    listed = avsteg(["list", "--json"], env, cwd=tmp_path).stdout.splitlines()
    register = [json.loads(line) for line in listed]
    assert sorted(r["message_id"] for r in register) == sorted(expect["reports"])
    assert len({r["reference"] for r in register}) == 3

    before = _snapshot(dovecot, mail_user)
    second = avsteg(["run", "--once"], env, cwd=tmp_path)
    assert "nothing new" in second.stderr
    assert len(smtp_server.messages) == 4
    assert _snapshot(dovecot, mail_user) == before


def test_keyword_mode_tags_in_place(dovecot, mail_user, smtp_server, tmp_path):
    expect = _mailbox(dovecot, mail_user)
    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/k.sqlite",
                         folders=False)
    avsteg(["run", "--once"], env, cwd=tmp_path)

    assert dovecot.folders(mail_user) == ["INBOX"]
    inbox = folder_ids(dovecot, mail_user, "INBOX")
    for mid in expect["reports"]:
        assert inbox[mid] == ("AvstegProcessed",)
    for mid in expect["rejects"]:
        assert inbox[mid] == ("AvstegRejected",)
    for mid, flags in expect["human"].items():
        assert inbox[mid] == flags
    assert len(smtp_server.messages) == 4

    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert folder_ids(dovecot, mail_user, "INBOX") == inbox
    assert len(smtp_server.messages) == 4


def test_no_replies_backfill_then_status(dovecot, mail_user, smtp_server, tmp_path):
    backlog = mixed_backlog(10, tag="bf")
    append_all(dovecot, mail_user, [m.raw for m in backlog])
    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/b.sqlite")

    avsteg(["run", "--once", "--no-replies"], env, cwd=tmp_path)
    reports = {m.message_id for m in backlog if m.kind == "report"}
    register = [json.loads(x) for x in avsteg(["list", "--json"], env, cwd=tmp_path).stdout.splitlines()]
    assert sorted(r["message_id"] for r in register) == sorted(reports)
    assert smtp_server.messages == []
    assert db_facts(env["AVSTEG_DATABASE__URL"])["replies"] == []  # nothing queued for later

    # The service proper, afterwards, answers nobody for the history either.
    avsteg(["run", "--once"], env, cwd=tmp_path)
    assert smtp_server.messages == []

    status = json.loads(avsteg(["status", "--json"], env, cwd=tmp_path).stdout)
    (poll,) = status["polls"]
    assert poll["folder"] == "INBOX" and poll["last_success_at"] and poll["last_error"] is None
    assert status["backlog"] == 0
    assert status["replies_queued"] == status["replies_failed"] == status["replies_sent"] == 0
    assert status["outcomes"]["registered"] == len(reports)
    text = avsteg(["status"], env, cwd=tmp_path).stdout
    assert "last successful poll 20" in text and "backlog: 0" in text


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("idle", ["false", "true"])
def test_sigterm_finishes_the_message_in_hand_and_exits(dovecot, mail_user, smtp_server,
                                                        tmp_path, idle):
    backlog = mixed_backlog(25, tag=f"term{idle}")
    append_all(dovecot, mail_user, [m.raw for m in backlog])
    db_url = f"sqlite:///{tmp_path}/t.sqlite"
    env = worker_environ(dovecot, mail_user, smtp_server, db_url, WORKER__IDLE=idle,
                         WORKER__POLL_INTERVAL_SECONDS="30")
    log = tmp_path / "run.log"
    proc = spawn(["run"], env, cwd=tmp_path, log=log)
    try:
        _wait_for(lambda: log.read_text().count('"event": "message"') >= 3, 60, "three messages")
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        rc = proc.wait(timeout=10)
        took = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert rc == 0, log.read_text()[-3000:]
    assert took < 10

    facts = db_facts(db_url)
    # Whatever was started was finished: nothing half-done, every queued reply went out.
    assert set(facts["states"]) == {"processed"}, facts["states"]
    assert {status for _mid, status, _h in facts["replies"]} <= {"sent"}
    done = sum(facts["states"].values())
    assert 3 <= done, done
    if idle == "false":
        assert done < len(backlog), "SIGTERM came too late to show anything"

    # The rest, later: nothing twice.
    avsteg(["run", "--once"], env, cwd=tmp_path)
    replies = replies_by_original(smtp_server)
    answered = {m.message_id for m in backlog if m.kind != "human"}
    assert set(replies) == answered
    assert all(len(v) == 1 for v in replies.values()), replies


def test_sigterm_while_waiting_exits_quickly(dovecot, mail_user, smtp_server, tmp_path):
    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/w.sqlite",
                         WORKER__IDLE="true", WORKER__POLL_INTERVAL_SECONDS="60")
    log = tmp_path / "run.log"
    proc = spawn(["run"], env, cwd=tmp_path, log=log)
    try:
        _wait_for(lambda: "worker started" in log.read_text(), 30, "the service to start")
        time.sleep(1.0)  # in IDLE by now
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        rc = proc.wait(timeout=10)
        assert time.monotonic() - started < 10
        assert rc == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_json_log_has_one_line_per_message(dovecot, mail_user, smtp_server, tmp_path):
    """Operators read `journalctl -u avsteg` / `docker compose logs`: one JSON object per line,
    one line per handled message, with its outcome and reference."""
    expect = _mailbox(dovecot, mail_user)
    env = worker_environ(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path / 'log.sqlite'}")
    run = avsteg(["run", "--once"], env, cwd=tmp_path)
    events = [json.loads(line) for line in run.stderr.splitlines() if line.startswith("{")]
    handled = [e for e in events if e.get("event") == "message"]
    assert len(handled) == 7  # every message in the folder, human mail included
    by_id = {e["message_id"]: e for e in handled}
    for mid in expect["reports"]:
        assert by_id[mid]["outcome"] == "registered"
        assert by_id[mid]["references"][0].startswith("AVS-")
    for mid in expect["rejects"]:
        assert by_id[mid]["outcome"] == "rejected"
    for mid in expect["human"]:
        assert by_id[mid]["outcome"] == "ignored" and by_id[mid]["references"] == []
    assert all({"time", "level", "uid", "reason"} <= set(e) for e in handled)

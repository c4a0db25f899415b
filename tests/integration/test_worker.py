"""The worker in-process against real servers: two workers at once, IDLE, a new UIDVALIDITY.

Built the way ``avsteg run`` builds it (``build_worker`` with Settings from AVSTEG_… values),
talking to a real Dovecot, aiosmtpd and SQLite/PostgreSQL.
"""
from __future__ import annotations

import threading
import time

import pytest

from avsteg.bootstrap import make_mailbox
from avsteg.commands.worker_service import Service
from avsteg.domain.errors import TransientError
from avsteg.storage.database import Database
from tests.support import emails
from tests.support.worker_env import (
    PROCESSED,
    REJECTED,
    append_all,
    assert_worked_off_once,
    db_facts,
    mixed_backlog,
    register,
    replies_by_original,
    report_docx,
    report_message,
    run_until_empty,
    spawn,
    worker_environ,
    worker_settings,
)

pytestmark = pytest.mark.integration


def test_two_worker_threads_on_one_database(dovecot, mail_user, smtp_server, workers, db_url):
    backlog = mixed_backlog(30, tag="two")
    append_all(dovecot, mail_user, [m.raw for m in backlog])
    settings = worker_settings(dovecot, mail_user, smtp_server, db_url, IMAP__BATCH_SIZE="5")
    pair = [workers(settings), workers(settings)]
    assert pair[0].holder != pair[1].holder
    handled: list[list[str]] = [[], []]
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(i: int) -> None:
        try:
            start.wait()
            for _ in range(15):
                report = pair[i].poll_once()
                handled[i].extend(h.message_id for h in report.handled)
                time.sleep(0.01)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert not set(handled[0]) & set(handled[1])  # never the same message in both
    assert sorted(handled[0] + handled[1]) == sorted(m.message_id for m in backlog)
    assert_worked_off_once(dovecot, mail_user, smtp_server, db_url, backlog)


@pytest.mark.slow
def test_two_worker_processes_on_one_database(dovecot, mail_user, smtp_server, postgres_db_url,
                                              tmp_path):
    backlog = mixed_backlog(30, tag="proc")
    append_all(dovecot, mail_user, [m.raw for m in backlog])
    env = worker_environ(dovecot, mail_user, smtp_server, postgres_db_url,
                         WORKER__POLL_INTERVAL_SECONDS="0.2", IMAP__BATCH_SIZE="3")
    # Migrate first: two processes migrating one fresh PostgreSQL database at the same moment
    # collide in CREATE TABLE (reported to the lead; storage/database.py is not ours). Not with
    # `avsteg status`: commands that only read never create the register.
    fresh = Database(postgres_db_url)
    fresh.upgrade()
    fresh.dispose()
    procs = [spawn(["run"], env, cwd=tmp_path, log=tmp_path / f"w{i}.log") for i in (0, 1)]
    try:
        deadline = time.monotonic() + 60
        while len(smtp_server.messages) < 24 and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.0)  # a little longer: anything doubled would show now
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(15)
    logs = [(tmp_path / f"w{i}.log").read_text() for i in (0, 1)]
    assert all('"event": "message"' in log or "another worker holds" in log for log in logs)
    assert_worked_off_once(dovecot, mail_user, smtp_server, postgres_db_url, backlog)


def test_idle_wakes_the_service_within_seconds(dovecot, mail_user, smtp_server, workers,
                                               tmp_path):
    settings = worker_settings(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/i.sqlite",
                               WORKER__IDLE="true", WORKER__POLL_INTERVAL_SECONDS="300")
    worker = workers(settings)
    service = Service(settings, worker, watcher_factory=lambda: make_mailbox(settings))
    runner = threading.Thread(target=service.run_forever, daemon=True)
    runner.start()
    try:
        deadline = time.monotonic() + 20
        while service.polls < 1:  # the first poll runs at start; from then on only IDLE wakes it
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.5)
        latencies = []
        for i in range(3):
            appended = time.monotonic()
            append_all(dovecot, mail_user, [report_message(i, tag="idle")])
            while len(smtp_server.messages) < i + 1:
                assert time.monotonic() - appended < 30, "IDLE did not wake the service"
                time.sleep(0.02)
            latencies.append(time.monotonic() - appended)
    finally:
        service.stop.set()
        runner.join(15)
    assert not runner.is_alive()
    print(f"\nAPPEND → reply: {', '.join(f'{x:.2f} s' for x in latencies)}")
    # With a 300 s poll interval only IDLE can explain an answer within half a minute.
    assert max(latencies) < 30


def test_new_uidvalidity_rescans_without_doubles(dovecot, mail_user, smtp_server, workers,
                                                 db_url):
    folder = "Avsteg/Inkorg"
    backlog = mixed_backlog(10, tag="uv")
    no_id = emails.simple(report_docx(9000), "Avstegsrapport utan id.docx", message_id=None,
                          sender="utan.id@goteborg.se")
    append_all(dovecot, mail_user, [m.raw for m in backlog] + [no_id], folder=folder)
    worker = workers(worker_settings(dovecot, mail_user, smtp_server, db_url,
                                     IMAP__FOLDER=folder))
    first_uidvalidity = worker.mailbox.open()
    run_until_empty(worker)
    replies_before = len(smtp_server.messages)
    register_before = register(db_url)
    assert replies_before == 1 + sum(m.kind != "human" for m in backlog)

    # A person recreates the folder and puts everything back into it (a restore, a migration).
    with dovecot.client(mail_user) as client:
        client.rename_folder(folder, "Avsteg/Gammal")
        client.create_folder(folder)
        for source in ("Avsteg/Gammal", PROCESSED, REJECTED):
            client.select_folder(source)
            uids = client.search("ALL")
            if uids:
                client.copy(uids, folder)
        client.unselect_folder()
    try:
        report = worker.poll_once()
    except TransientError:  # the open connection noticed the change first
        report = worker.poll_once()
    assert worker.mailbox.open() != first_uidvalidity
    assert report.seen == len(backlog) + 1
    run_until_empty(worker)

    assert len(smtp_server.messages) == replies_before, replies_by_original(smtp_server)
    assert register(db_url) == register_before
    facts = db_facts(db_url)
    assert set(facts["versions"].values()) == {1}
    outcomes = {(mid, outcome) for (mid, outcome) in facts["outcomes"]}
    for m in backlog:
        if m.kind == "human":
            assert (m.message_id, "ignored") in outcomes
            assert facts["outcomes"][(m.message_id, "ignored")] == 2

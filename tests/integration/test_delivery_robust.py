"""Replies under stress, against real Dovecot, aiosmtpd and PostgreSQL.

* Two workers, a 5-second lease and a slow SMTP server that first answers 451: every reply
  leaves exactly once (each reply is claimed at send time; the lease is renewed as delivery
  goes on). Before, 60 replies went out with 23 duplicates.
* IDLE: bursts of 40 APPENDs 50 ms apart are all answered within seconds (a wake-up during a
  poll causes another poll; before, APScheduler skipped it and messages waited a whole interval).
* An SMTP outage: replies queued during it leave within seconds of its end, without a poll.
"""
from __future__ import annotations

import threading
import time

import pytest

from avsteg.bootstrap import make_mailbox
from avsteg.commands.worker_service import Service
from avsteg.domain.errors import TransientError
from tests.support.worker_env import (
    append_all,
    db_facts,
    replies_by_original,
    report_message,
    worker_settings,
)

pytestmark = pytest.mark.integration


def _sent_count(db_url: str) -> int:
    return sum(1 for _mid, status, _h in db_facts(db_url)["replies"] if status == "sent")


def test_two_workers_short_lease_slow_smtp_no_duplicates(dovecot, mail_user, smtp_server, workers,
                                                         postgres_db_url):
    count = 30
    append_all(dovecot, mail_user, [report_message(i, tag="lease") for i in range(count)])
    settings = worker_settings(dovecot, mail_user, smtp_server, postgres_db_url,
                               WORKER__LEASE_SECONDS="5", SMTP__RETRY_SECONDS="0.5")
    pair = [workers(settings), workers(settings)]
    smtp_server.slow_down(0.3)  # 30 replies: 9 s of delivery, longer than the lease
    smtp_server.refuse_for(4.0)  # and a 451 phase first, so replies queue up behind it
    errors: list[BaseException] = []
    done = threading.Event()

    def run(worker) -> None:
        while not done.is_set():
            try:
                worker.poll_once()
                worker.flush_outbox()  # between polls, as the service does, without a lease
            except TransientError:
                pass  # e.g. lost the lease to the other worker: the next poll goes on
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return
            time.sleep(0.05)

    threads = [threading.Thread(target=run, args=(w,)) for w in pair]
    for t in threads:
        t.start()
    try:
        deadline = time.monotonic() + 120
        while _sent_count(postgres_db_url) < count and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(3.0)  # any duplicate would arrive now
    finally:
        done.set()
        for t in threads:
            t.join(60)
    assert errors == []
    replies = replies_by_original(smtp_server)
    assert len(replies) == count, sorted(replies)
    duplicates = {mid: ids for mid, ids in replies.items() if len(ids) > 1}
    assert duplicates == {}
    assert len(smtp_server.messages) == count


def _start(settings, worker) -> tuple[Service, threading.Thread]:
    service = Service(settings, worker, watcher_factory=lambda: make_mailbox(settings))
    runner = threading.Thread(target=service.run_forever, daemon=True)
    runner.start()
    deadline = time.monotonic() + 20
    while service.polls < 1:
        assert time.monotonic() < deadline, "the first poll never ran"
        time.sleep(0.05)
    return service, runner


def test_idle_bursts_are_all_answered_within_seconds(dovecot, mail_user, smtp_server, workers,
                                                     tmp_path):
    settings = worker_settings(dovecot, mail_user, smtp_server, f"sqlite:///{tmp_path}/b.sqlite",
                               WORKER__IDLE="true", WORKER__POLL_INTERVAL_SECONDS="300")
    service, runner = _start(settings, workers(settings))
    try:
        time.sleep(0.5)
        total = 0
        for burst in range(2):
            with dovecot.client(mail_user) as client:
                for i in range(40):
                    client.append("INBOX", report_message(burst * 100 + i, tag="burst"))
                    time.sleep(0.05)
            total += 40
            appended = time.monotonic()
            while len(smtp_server.messages) < total:
                # A lost wake-up would leave messages until the 300 s poll interval.
                assert time.monotonic() - appended < 30, (
                    f"burst {burst}: {len(smtp_server.messages)}/{total} answered after 30 s")
                time.sleep(0.05)
    finally:
        service.stop.set()
        runner.join(15)
    assert all(len(v) == 1 for v in replies_by_original(smtp_server).values())


def test_replies_leave_within_seconds_of_an_smtp_outage_end(dovecot, mail_user, smtp_server,
                                                            workers, tmp_path):
    db_url = f"sqlite:///{tmp_path}/o.sqlite"
    settings = worker_settings(dovecot, mail_user, smtp_server, db_url,
                               WORKER__POLL_INTERVAL_SECONDS="300", SMTP__BACKOFF_SECONDS="30",
                               SMTP__RETRY_SECONDS="1")
    append_all(dovecot, mail_user, [report_message(i, tag="outage") for i in range(5)])
    ends = smtp_server.refuse_for(6.0)
    service, runner = _start(settings, workers(settings))
    try:
        assert smtp_server.messages == []  # polled during the outage: all queued
        while len(smtp_server.messages) < 5:
            # Backoff alone (30 s) or the next poll (300 s) would take far longer.
            assert time.monotonic() - ends < 10, "replies still queued 10 s after the outage"
            time.sleep(0.05)
        after = time.monotonic() - ends
    finally:
        service.stop.set()
        runner.join(15)
    assert after < 10
    assert all(len(v) == 1 for v in replies_by_original(smtp_server).values())
    print(f"5 replies delivered {after:.1f} s after a 6 s outage ended")

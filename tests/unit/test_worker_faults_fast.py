"""The worker's retries, backoff, leases and mailbox faults, on fakes and a fake clock.

The same worker code that tests/integration/test_worker*.py run against Dovecot and aiosmtpd,
here with the failures made to order: a 451 three times, a 550, a connection that drops while
fetching or moving, a folder recreated under a new UIDVALIDITY, a message our code chokes on,
a second worker, a lease that runs out. Time moves only when a test says so.
"""
from __future__ import annotations

import datetime as dt
import sys

import pytest

from avsteg.domain.errors import TransientError
from avsteg.services.pipeline import Pipeline
from avsteg.storage import ledger
from tests.support import emails
from tests.support.worker_env import Sent, report_message
from tests.support.worker_rig import (
    BACKOFF_SECONDS,
    LEASE_SECONDS,
    PROCESSED,
    Rig,
    assert_each_once,
    backlog,
)


def _one_report(rig: Rig, n: int = 1, tag: str = "one") -> Sent:
    sent = Sent("report", f"{tag}{n}@goteborg.se", report_message(n, tag=tag))
    rig.deliver([sent])
    return sent


# -- replies: retries and backoff ------------------------------------------------------------


def test_a_temporary_smtp_failure_is_retried_with_doubling_backoff_and_sent_once(rig: Rig):
    sent = _one_report(rig)
    rig.outbox.fail_temporarily(3)
    worker = rig.start()
    t0 = rig.clock.now()

    first = worker.poll_once()
    assert [h.outcome for h in first.handled] == ["registered"] and first.delivered == 0
    # Filed away at once: the reply waits in the outbox, not the message in the inbox.
    assert rig.mailbox.in_folder(PROCESSED) == [sent.raw]
    [reply] = rig.replies()
    assert (reply.status, reply.attempts) == ("queued", 1)
    assert reply.next_attempt_at == t0 + dt.timedelta(seconds=BACKOFF_SECONDS)

    # Retried after base, 2·base, 4·base seconds — not a second earlier — then accepted.
    for attempt, delay in ((2, BACKOFF_SECONDS), (3, 2 * BACKOFF_SECONDS), (4, 4 * BACKOFF_SECONDS)):
        rig.clock.advance(delay - 1)
        assert worker.poll_once().handled == [] and rig.outbox.attempts == attempt - 1
        rig.clock.advance(1)
        report = worker.poll_once()
        assert report.handled == []  # nothing is processed again while a reply is retried
        assert rig.outbox.attempts == attempt and report.delivered == (attempt == 4)
    [reply] = rig.replies()
    assert (reply.status, reply.attempts, reply.next_attempt_at) == ("sent", 4, None)
    rig.clock.advance(hours=6)
    worker.poll_once()
    assert rig.answered() == {sent.message_id: 1} and rig.outbox.attempts == 4


def test_a_reply_that_keeps_failing_is_given_up_after_max_attempts(rig: Rig):
    rig.max_reply_attempts = 3
    _one_report(rig)
    rig.outbox.fail_temporarily(100)
    worker = rig.start()
    for _ in range(10):
        worker.poll_once()
        rig.clock.advance(hours=1)
    [reply] = rig.replies()
    assert (reply.status, reply.attempts, reply.next_attempt_at) == ("failed", 3, None)
    assert "451" in (reply.last_error or "")
    assert rig.outbox.attempts == 3 and rig.outbox.accepted == []


def test_a_permanent_smtp_refusal_is_never_retried(rig: Rig):
    sent = _one_report(rig)
    rig.outbox.fail_permanently()
    worker = rig.start()
    worker.poll_once()
    for _ in range(3):
        rig.clock.advance(hours=1)
        worker.poll_once()
    [reply] = rig.replies()
    assert (reply.status, reply.attempts) == ("failed", 1) and "550" in (reply.last_error or "")
    assert rig.outbox.attempts == 1
    assert rig.mailbox.in_folder(PROCESSED) == [sent.raw]  # registered and filed all the same


def test_a_backfill_registers_and_files_but_answers_nobody(rig: Rig):
    sent = backlog(5)
    rig.deliver(sent)
    rig.run_until_done(rig.start(send=False))
    assert rig.outbox.attempts == 0 and rig.replies() == []
    assert sum(rig.versions_by_message().values()) == 3
    assert len(rig.mailbox.messages) == 1  # the human mail, untouched


# -- leases ---------------------------------------------------------------------------------


def test_a_second_worker_skips_the_folder_while_the_first_works_it(rig: Rig):
    sent = backlog(5)
    rig.deliver(sent)
    first, second = rig.start(), rig.start()
    assert first.holder != second.holder
    during = []
    rig.mailbox.hook("fetch", before=lambda uid: during.append(second.poll_once()))
    report = first.poll_once()
    assert len(report.handled) == 5
    assert during and all(r.skipped_lease and not r.handled for r in during)
    after = second.poll_once()  # the lease was given back: the second worker may poll now
    assert not after.skipped_lease and after.handled == []
    assert_each_once(rig, sent)


def test_a_worker_whose_lease_ran_out_stops_before_the_next_message(rig: Rig):
    sent = backlog(5)
    rig.deliver(sent)
    slow, other = rig.start(), rig.start()

    def stall(uid: int) -> None:
        if uid == 3:  # the slow worker hangs for longer than its lease; another takes over
            rig.clock.advance(LEASE_SECONDS + 1)
            with other.db.unit_of_work() as s:
                assert ledger.acquire_lease(s, other.lease_name, other.holder,
                                            ttl_seconds=LEASE_SECONDS, now=rig.clock.now())

    rig.mailbox.hook("fetch", before=stall)
    with pytest.raises(TransientError, match="lost the lease"):
        slow.poll_once()
    assert len(rig.mailbox.filed) == 2  # the two messages it finished before it stalled
    rest = other.poll_once()
    assert len(rest.handled) == 3
    assert_each_once(rig, sent)


# -- the mailbox misbehaves ------------------------------------------------------------------


def test_a_connection_dropped_while_fetching_is_resumed_by_the_next_poll(rig: Rig):
    sent = backlog(6)
    rig.deliver(sent)
    rig.mailbox.drop_connection("fetch", after=2)
    worker = rig.start()
    with pytest.raises(TransientError, match="connection lost"):
        worker.poll_once()
    assert len(rig.mailbox.fetched) == 2
    rig.run_until_done(worker)
    assert sorted(rig.mailbox.fetched) == sorted(set(rig.mailbox.fetched))  # each read once
    assert_each_once(rig, sent)


def test_a_failed_move_is_redone_without_processing_or_answering_again(rig: Rig):
    sent = backlog(4)
    rig.deliver(sent)
    rig.mailbox.drop_connection("file_away")
    worker = rig.start()
    failing_at = rig.clock.now()
    with pytest.raises(TransientError):
        worker.poll_once()
    state = rig.poll_state()
    assert state is not None and "connection lost" in (state.last_error or "")
    assert state.last_success_at is None and state.last_poll_at == failing_at
    assert len(rig.outbox.accepted) == 1  # the first report was answered before the move failed

    rig.clock.advance(60)
    reports = rig.run_until_done(worker)
    assert reports[0].filed == 4 and len(reports[0].handled) == 3  # the first is only filed
    state = rig.poll_state()
    assert state is not None and state.last_error is None
    assert state.last_success_at == rig.clock.now()
    assert_each_once(rig, sent)


def test_a_new_uidvalidity_rescans_the_folder_without_doubles(rig: Rig):
    sent = backlog(5)
    rig.deliver(sent)
    worker = rig.start()
    rig.run_until_done(worker)
    replies, versions = len(rig.outbox.accepted), rig.versions_by_message()

    # A person recreates the folder and puts everything back (a restore, a migration).
    rig.mailbox.recreate_folder(keep_filed=True)
    report = worker.poll_once()
    assert report.seen == 5
    assert sorted(h.outcome for h in report.handled) == [
        "duplicate", "duplicate", "duplicate", "duplicate", "ignored"]
    rig.run_until_done(worker)
    assert len(rig.outbox.accepted) == replies and rig.versions_by_message() == versions
    humans = [m for m in rig.mailbox.messages.values()]
    assert len(humans) == 1 and humans[0].flags == set()


def test_a_uidvalidity_change_in_the_middle_of_a_poll_acts_on_no_stale_uid(rig: Rig):
    sent = backlog(5)
    rig.deliver(sent)
    changed = []

    def recreate(uid: int) -> None:
        if uid == 3 and not changed:
            changed.append(rig.mailbox.recreate_folder())

    rig.mailbox.hook("fetch", before=recreate)
    worker = rig.start()
    with pytest.raises(TransientError, match="UIDVALIDITY"):
        worker.poll_once()
    rig.run_until_done(worker)
    assert_each_once(rig, sent)
    assert {v for v, _uid in rig.stored_positions()} == {1000, 1001}


def test_a_message_our_code_chokes_on_is_retried_then_left_alone(rig: Rig, monkeypatch):
    poison = emails.simple(emails.dummy_docx(), sender="giftig@goteborg.se",
                           message_id="poison@goteborg.se")
    sent = backlog(4)
    rig.deliver(sent)
    poison_uid = rig.mailbox.deliver(poison)
    pipeline_module = sys.modules[Pipeline.__module__]
    real_triage = pipeline_module.triage

    def buggy_triage(msg, *args, **kwargs):
        if msg.sender == "giftig@goteborg.se":
            raise KeyError("a bug of ours")
        return real_triage(msg, *args, **kwargs)

    monkeypatch.setattr(pipeline_module, "triage", buggy_triage)
    worker = rig.start(max_attempts=3)
    outcomes = [h.outcome for h in worker.poll_once().handled]  # the poll goes on past it
    assert outcomes.count("failed") == 1 and len(outcomes) == 5
    for _ in range(5):
        rig.clock.advance(60)
        worker.poll_once()
    assert rig.mailbox.fetched.count(poison_uid) == 3  # max_attempts, then left for a person
    [(state, attempts, error)] = rig.sql(
        "SELECT state, attempts, last_error FROM messages WHERE message_id_header = :m",
        m="poison@goteborg.se")
    assert (state, attempts) == ("failed", 3) and "a bug of ours" in error
    assert rig.mailbox.messages[poison_uid].flags == set()  # still unread in the inbox
    assert "poison@goteborg.se" not in rig.answered()  # nobody is told about our bug
    assert_each_once(rig, sent, unprocessed=(poison,))

"""The worker's crash-safe order of steps, on fakes: a crash after any step loses nothing.

    fetch → store raw (commit) → triage … register, queue the reply (one commit)
    → deliver (SMTP accepts) → mark sent (commit) → file away

Each test kills the worker (``kill -9``: no ``finally`` reaches the database, the lease stays
taken) right after one of these steps, starts a new worker on the same database, mailbox and
SMTP server, and checks that every message was stored once, every report registered once,
every sender answered once, mail filed once, and human mail left unread where it was. The
real-server version of this is tests/integration/test_crash_safety.py (SIGKILL, Dovecot).
"""
from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from avsteg.services.worker import Worker
from tests.support.worker_rig import LEASE_SECONDS, Crash, Rig, assert_each_once, backlog


def _original(message: Any) -> str:
    return str(message["In-Reply-To"]).strip("<>")


class CrashPlan:
    """Counts the step events of a run and kills the worker at the chosen ones."""

    def __init__(self, rig: Rig, crash_at: set[int] | Callable[[str, int], bool]) -> None:
        self.rig = rig
        self.events: list[str] = []
        self.crashes: list[str] = []
        self.resent: Counter[str] = Counter()  # replies accepted but not yet marked sent
        self._decide = (crash_at if callable(crash_at)
                        else lambda _step, n: n in crash_at)
        mailbox, outbox = rig.mailbox, rig.outbox
        mailbox.hook("fetch", before=lambda uid: self.step("fetched"))
        outbox.hook(before=lambda m: self.step("registered"),
                    after=lambda m: self.step("accepted", _original(m)))
        mailbox.hook("file_away", before=lambda uid, o: self.step("answered-or-known"),
                     after=lambda uid, o: self.step("filed"))

    def watch(self, worker: Worker) -> Worker:
        """Also count "stored": the raw message committed, nothing else done yet."""
        process = worker.pipeline.process

        def crashing_process(message_pk: int, **kw: Any):
            self.step("stored")
            return process(message_pk, **kw)

        worker.pipeline.process = crashing_process  # type: ignore[method-assign]
        return worker

    def step(self, name: str, original: str | None = None) -> None:
        self.events.append(name)
        if self._decide(name, len(self.events)):
            self.crashes.append(name)
            if name == "accepted" and original:
                self.resent[original] += 1
            self.rig.crash()


STEPS = ["fetched", "stored", "registered", "accepted", "answered-or-known", "filed"]


@pytest.mark.parametrize("step", STEPS)
def test_a_crash_after_each_step_loses_nothing_and_doubles_nothing(rig: Rig, step: str):
    sent = backlog(5)  # report, report, PDF to reject, report, human mail
    rig.deliver(sent)
    # Kill the worker the second time it passes ``step`` (the first message is done by then).
    seen: Counter[str] = Counter()

    def second_time(name: str, _n: int) -> bool:
        seen[name] += 1
        return name == step and seen[name] == 2

    plan = CrashPlan(rig, second_time)
    with pytest.raises(Crash):
        rig.run_until_done(plan.watch(rig.start()))
    assert plan.crashes == [step]
    replies_before = len(rig.outbox.accepted)

    restarted = plan.watch(rig.start())
    reports = rig.run_until_done(restarted)
    # The dead worker still held the folder's lease: the new one waited for it to expire.
    assert reports[0].skipped_lease and not reports[1].skipped_lease
    assert len(rig.outbox.accepted) > replies_before or step == "filed"
    assert_each_once(rig, sent, resent=plan.resent)
    if step == "accepted":  # the one window the design admits: the same reply, sent again
        assert sum(plan.resent.values()) == 1


def test_a_crash_at_every_step_in_turn(rig: Rig):
    """Kill the worker again and again, each time a few steps further on, until it finishes."""
    sent = backlog(6)
    rig.deliver(sent)
    rng = random.Random(20260309)  # fixed: the same schedule on every run
    next_crash = rng.randint(2, 5)

    def scheduled(_name: str, n: int) -> bool:
        nonlocal next_crash
        if n == next_crash:
            next_crash += rng.randint(2, 5)
            return True
        return False

    plan = CrashPlan(rig, scheduled)
    for _life in range(100):
        try:
            rig.run_until_done(plan.watch(rig.start()))
            break
        except Crash:
            continue
    else:
        raise AssertionError("the worker never finished")
    assert len(plan.crashes) >= 6 and set(plan.crashes) >= {"stored", "registered", "filed"}, plan.crashes
    assert_each_once(rig, sent, resent=plan.resent)


def test_a_crash_before_anything_was_stored_leaves_the_mailbox_as_it_was(rig: Rig):
    sent = backlog(3)
    rig.deliver(sent)
    plan = CrashPlan(rig, {1})
    with pytest.raises(Crash):
        plan.watch(rig.start()).poll_once()
    assert plan.crashes == ["fetched"]
    assert rig.sql("SELECT count(*) FROM messages") == [(0,)]
    assert len(rig.mailbox.messages) == 3 and rig.outbox.attempts == 0
    # The lease of the dead worker holds for exactly its time, then a new worker carries on.
    restarted = rig.start()
    rig.clock.advance(LEASE_SECONDS - 1)
    assert restarted.poll_once().skipped_lease
    rig.clock.advance(1)
    report = restarted.poll_once()
    assert not report.skipped_lease and len(report.handled) == 3
    assert_each_once(rig, sent)

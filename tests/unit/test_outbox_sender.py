"""OutboxSender with an in-memory outbox: claims, outages and probes (SQLite, a fake server).

The same behaviour against aiosmtpd and PostgreSQL: tests/integration/test_delivery_robust.py.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

import pytest

from avsteg.ingest.ports import TemporaryDeliveryError
from avsteg.services.delivery import OutboxSender
from avsteg.storage import Database, acquire_lease, queue_reply
from avsteg.storage.models import ReplyRow

T0 = dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)


@dataclass
class FakeOutbox:
    """Refuses while ``down`` is true; records what it accepted."""

    down: bool = False
    sent: list[str] = field(default_factory=list)
    tries: int = 0

    def deliver(self, message: EmailMessage) -> Path | None:
        self.tries += 1
        if self.down:
            raise TemporaryDeliveryError("451 4.3.2 try later")
        self.sent.append(str(message["Message-ID"]))
        return None


@dataclass
class Clocks:
    now: dt.datetime = T0
    mono: float = 0.0

    def advance(self, seconds: float) -> None:
        self.now += dt.timedelta(seconds=seconds)
        self.mono += seconds


@pytest.fixture
def db(tmp_path: Path):
    database = Database(f"sqlite:///{tmp_path}/o.sqlite")
    database.upgrade()
    yield database
    database.dispose()


def _queue(db: Database, n: int) -> list[int]:
    ids = []
    with db.unit_of_work() as s:
        for i in range(n):
            raw = (f"From: a@avsteg\r\nTo: x{i}@goteborg.se\r\nMessage-ID: <r{i}@avsteg>\r\n"
                   f"Subject: kvitto\r\n\r\nhej\r\n").encode()
            ids.append(queue_reply(s, message=None, report=None, kind="receipt",
                                   recipient=f"x{i}@goteborg.se", subject="kvitto",
                                   message_id_header=f"<r{i}@avsteg>", raw=raw, now=T0).id)
    return ids


def _attempts(db: Database) -> dict[int, tuple[str, int]]:
    with db.unit_of_work(readonly=True) as s:
        return {r.id: (r.status, r.attempts) for r in s.query(ReplyRow)}


def test_an_outage_costs_one_attempt_and_its_end_sends_everything_at_once(db):
    clocks, outbox = Clocks(), FakeOutbox(down=True)
    sender = OutboxSender(db, outbox, backoff_seconds=30, clock=lambda: clocks.now,
                          monotonic=lambda: clocks.mono, retry_seconds=5)
    _queue(db, 10)
    assert sender.flush() and outbox.tries == 1  # the first refusal: the others are not tried
    # The outage goes on (shorter than the first reply's 30 s backoff, after which its retry is
    # a counted attempt again): probes after 5, then 10 more seconds.
    for _ in range(6):
        clocks.advance(4)
        sender.flush()
    probes = outbox.tries - 1
    assert 1 <= probes <= 3
    assert [a for _s, a in _attempts(db).values()] == [1] + [0] * 9  # probes are not charged
    outbox.down = False
    clocks.advance(15)
    results = sender.flush()
    assert sorted(outbox.sent) == sorted(f"<r{i}@avsteg>" for i in range(10))
    assert {r.status for r in results} == {"sent"}
    assert {s for s, _a in _attempts(db).values()} == {"sent"}


def test_a_reply_claimed_by_another_worker_is_not_sent(db):
    clocks, outbox = Clocks(), FakeOutbox()
    [reply_id] = _queue(db, 1)
    with db.unit_of_work() as s:  # a live worker elsewhere is sending it right now
        assert acquire_lease(s, f"reply:{reply_id}", "otherhost:1:abc", ttl_seconds=600, now=T0)
    sender = OutboxSender(db, outbox, clock=lambda: clocks.now, monotonic=lambda: clocks.mono)
    assert sender.flush() == [] and outbox.tries == 0
    clocks.advance(601)  # its claim expired (that worker is gone): ours now
    assert [d.status for d in sender.flush()] == ["sent"] and outbox.sent == ["<r0@avsteg>"]
    assert sender.flush() == []  # sent: never again


def test_a_claim_of_a_dead_process_on_this_host_is_taken_over_at_once(db):
    import socket

    clocks, outbox = Clocks(), FakeOutbox()
    [reply_id] = _queue(db, 1)
    dead = f"{socket.gethostname()}:999999:deadbeef"  # no such pid
    with db.unit_of_work() as s:
        assert acquire_lease(s, f"reply:{reply_id}", dead, ttl_seconds=600, now=T0)
    sender = OutboxSender(db, outbox, clock=lambda: clocks.now, monotonic=lambda: clocks.mono)
    assert [d.status for d in sender.flush()] == ["sent"]

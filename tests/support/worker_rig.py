"""A worker on fakes: the real pipeline and SQLite, an in-memory mailbox and outbox, a fake clock.

What the fast worker tests share. A :class:`Rig` is one "machine": a database file, a mail
server (:class:`FakeMailbox`), an SMTP server (:class:`FakeOutbox`) and a clock, which all
survive a crash; :meth:`Rig.start` starts a worker "process" on it (its own pipeline, lease
holder and access to the database). :meth:`Rig.crash` ends that process the way ``kill -9`` does: from the chosen
point on it runs no more code that reaches the database, so no ``finally`` releases its lease
and no open transaction commits. The mailbox and outbox hooks say where to crash.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import event, select, text

from avsteg.config.schema import default_schema
from avsteg.domain.clock import FakeClock
from avsteg.domain.schema import Schema
from avsteg.domain.triage import Policy
from avsteg.ingest.fakes import FakeMailbox, FakeOutbox
from avsteg.services.handled import ReplyPolicy
from avsteg.services.pipeline import Pipeline
from avsteg.services.worker import PollReport, Worker
from avsteg.storage import ledger
from avsteg.storage.database import Database
from avsteg.storage.models import PollState, ReplyRow
from tests.support import emails
from tests.support.worker_env import Sent, mixed_backlog

_SCHEMA = default_schema()  # read once: a frozen value, the same for every rig
PROCESSED = "Avsteg/Behandlade"
REJECTED = "Avsteg/Avvisade"
START = dt.datetime(2026, 3, 9, 7, 30, tzinfo=dt.UTC)  # a Monday, after the messages' dates
LEASE_SECONDS = 120.0
BACKOFF_SECONDS = 30.0


class Crash(BaseException):
    """The worker process dies here (not an Exception: no ``except Exception`` sees it)."""


class ProcessDatabase:
    """One worker process's access to the database; once ``dead``, every unit of work dies too.

    All "processes" of a rig share one engine (a process of its own would only add SQLite
    connects and a cold statement cache — most of the run time, and nothing under test); what
    makes them separate processes is that a dead one can no longer reach the database.
    """

    def __init__(self, shared: Database) -> None:
        self._shared = shared
        self.dead = False

    @contextlib.contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[Any]:
        if self.dead:
            raise Crash("the process is gone")
        with self._shared.unit_of_work(readonly=readonly) as session:
            yield session

    def __getattr__(self, name: str) -> Any:
        return getattr(self._shared, name)


def _without_fsync(dbapi_connection: Any, _record: Any) -> None:
    """``synchronous = OFF``: a simulated ``kill -9`` keeps the operating system's buffers as a
    real one does, and surviving a power cut is SQLite's business, not these tests'."""
    dbapi_connection.execute("PRAGMA synchronous = OFF")


def migrated_template(directory: Path) -> Path:
    """A migrated, empty SQLite file to copy for each test (migrating takes ~0.3 s; a copy 1 ms)."""
    path = directory / "template.sqlite"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@dataclass
class Rig:
    db_path: Path
    schema: Schema = field(default_factory=lambda: _SCHEMA)
    clock: FakeClock = field(default_factory=lambda: FakeClock(START))
    mailbox: FakeMailbox = field(init=False)
    outbox: FakeOutbox = field(default_factory=FakeOutbox)
    max_reply_attempts: int = 8
    current: Worker | None = None
    _shared: Database | None = None

    def __post_init__(self) -> None:
        self.mailbox = FakeMailbox(processed_folder=PROCESSED, rejected_folder=REJECTED,
                                   clock=self.clock)

    # -- processes -----------------------------------------------------------------------------
    def start(self, *, send: bool = True, max_attempts: int = 5) -> Worker:
        """A fresh worker process: its own engine, pipeline and lease holder name."""
        db = ProcessDatabase(self.database)
        pipeline = Pipeline(
            db=db,
            schema=self.schema,
            policy=Policy(service_address=emails.SERVICE, allowed_sender_domains=("goteborg.se",)),
            replies=ReplyPolicy(service_address=emails.SERVICE, service_name="Avstegsregistret",
                                send=send),
            clock=self.clock.now,
            max_attempts=max_attempts,
        )
        self.mailbox.close()  # a new process has a connection of its own
        self.current = Worker(
            pipeline=pipeline, db=db, mailbox=self.mailbox,
            outbox=self.outbox if send else None, account=self.mailbox.account,
            folder=self.mailbox.folder, lease_seconds=LEASE_SECONDS,
            backoff_seconds=BACKOFF_SECONDS, max_reply_attempts=self.max_reply_attempts,
            clock=self.clock,
        )
        return self.current

    def crash(self, *_args: Any) -> None:
        """Kill the current worker process here (use as a hook: ``before=rig.crash``)."""
        assert self.current is not None
        db = self.current.db
        assert isinstance(db, ProcessDatabase)
        db.dead = True
        raise Crash("kill -9")

    @property
    def database(self) -> Database:
        """The one engine on the rig's SQLite file; commits skip fsync (see _without_fsync)."""
        if self._shared is None:
            self._shared = Database(f"sqlite:///{self.db_path}")
            event.listen(self._shared.engine, "connect", _without_fsync)
        return self._shared

    def close(self) -> None:
        if self._shared is not None:
            self._shared.dispose()

    # -- driving -------------------------------------------------------------------------------
    def deliver(self, backlog: list[Sent]) -> dict[int, Sent]:
        return {self.mailbox.deliver(m.raw): m for m in backlog}

    def run_until_done(self, worker: Worker, polls: int = 20) -> list[PollReport]:
        """Poll until a poll finds nothing to do (the lease of a dead worker is waited out)."""
        reports = []
        for _ in range(polls):
            report = worker.poll_once()
            reports.append(report)
            if report.skipped_lease:
                self.clock.advance(LEASE_SECONDS)  # a dead holder's lease runs out
                continue
            if not report.handled and not report.retried and not report.filed \
                    and not report.delivered:
                return reports
        raise AssertionError(f"the worker never settled: {reports[-3:]}")

    # -- looking -------------------------------------------------------------------------------
    def sql(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        with self.database.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(query), params)]

    def versions_by_message(self) -> Counter[str]:
        """Register versions per Message-ID of the message that brought them."""
        rows = self.sql(
            "SELECT m.message_id_header FROM report_versions v JOIN messages m"
            " ON m.id = v.message_id")
        return Counter(mid for (mid,) in rows)

    def stored_positions(self) -> Counter[tuple[int, int]]:
        rows = self.sql("SELECT uidvalidity, uid FROM messages WHERE uid IS NOT NULL")
        return Counter((int(v), int(u)) for v, u in rows)

    def replies(self) -> list[ReplyRow]:
        """The outbox table, oldest first (rows stay readable after the session)."""
        with self.database.unit_of_work(readonly=True) as s:
            return list(s.scalars(select(ReplyRow).order_by(ReplyRow.id)))

    def poll_state(self) -> PollState | None:
        with self.database.unit_of_work(readonly=True) as s:
            return ledger.get_poll_state(s, self.mailbox.account, self.mailbox.folder)

    def answered(self) -> Counter[str]:
        """How many replies the SMTP server accepted per original Message-ID."""
        return Counter({mid: len(r) for mid, r in self.outbox.answered().items()})


def backlog(n: int = 5) -> list[Sent]:
    """``n`` (≤ 10) messages: reports, a PDF to reject, human mail (worker_env's mixed backlog).

    Built once: every test has a database and a mailbox of its own, so the same messages serve.
    """
    return list(_backlog()[:n])


@lru_cache(maxsize=1)
def _backlog() -> tuple[Sent, ...]:
    return tuple(mixed_backlog(10, tag="w"))



def assert_each_once(rig: Rig, sent: list[Sent], *, resent: Counter[str] | None = None,
                     unprocessed: tuple[bytes, ...] = ()) -> None:
    """Nothing lost, nothing registered twice, everyone answered once, human mail untouched.

    ``resent``: replies (by original Message-ID) that went out again because the worker died
    between the SMTP server's acceptance and our "sent" commit — the one window the design
    admits (see ingest/delivery.py). Each copy must be the same bytes, the same Message-ID.
    ``unprocessed``: messages our code failed on, stored but left in the inbox, unanswered.
    """
    resent = resent or Counter()
    reports = {m.message_id for m in sent if m.kind == "report"}
    rejects = {m.message_id for m in sent if m.kind == "reject"}
    humans = [m for m in sent if m.kind == "human"]
    assert rig.versions_by_message() == Counter({mid: 1 for mid in reports})
    stored = rig.stored_positions()
    assert len(stored) == len(sent) + len(unprocessed) and set(stored.values()) == {1}
    answered = rig.answered()
    assert set(answered) == reports | rejects, answered
    for mid, count in answered.items():
        expected = 1 + resent[mid]
        assert count == expected, (mid, count)
        copies = {r.as_bytes() for r in rig.outbox.answered()[mid]}
        assert len(copies) == 1, f"two different replies to {mid}"
    states = {r.status for r in rig.replies()}
    assert states == {"sent"}, [(r.id, r.status, r.last_error) for r in rig.replies()]
    filed = Counter((v, uid) for v, uid, _outcome in rig.mailbox.filed)
    assert set(filed.values()) <= {1}, filed
    assert sorted(rig.mailbox.in_folder(PROCESSED)) == sorted(m.raw for m in sent
                                                              if m.kind == "report")
    assert sorted(rig.mailbox.in_folder(REJECTED)) == sorted(m.raw for m in sent
                                                             if m.kind == "reject")
    inbox = {m.raw: m for m in rig.mailbox.messages.values()}
    assert sorted(inbox) == sorted([m.raw for m in humans] + list(unprocessed))
    assert all(m.flags == set() for m in inbox.values())  # never read, never tagged

"""A worker on fakes: the real pipeline and SQLite, an in-memory mailbox and outbox, a fake clock.

What the fast worker tests share. A :class:`Rig` is one "machine": a database file, a mail
server (:class:`FakeMailbox`), an SMTP server (:class:`FakeOutbox`) and a clock, which all
survive a crash; :meth:`Rig.start` starts a worker "process" on it (its own engine, pipeline,
lease holder). :meth:`Rig.crash` ends that process the way ``kill -9`` does: from the chosen
point on it runs no more code that reaches the database, so no ``finally`` releases its lease
and no open transaction commits. The mailbox and outbox hooks say where to crash.
"""
from __future__ import annotations

import contextlib
import datetime as dt
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
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


class ProcessDatabase(Database):
    """One process's connection to the database; once ``dead``, every unit of work dies too.

    Commits skip fsync (``synchronous = OFF``): a simulated ``kill -9`` keeps the operating
    system's buffers as a real one does, and surviving a power cut is SQLite's business, not
    this test's; on a busy disk the fsyncs were most of the run time.
    """

    dead = False

    def __init__(self, url: str) -> None:
        super().__init__(url)
        event.listen(self.engine, "connect", _without_fsync)

    @contextlib.contextmanager
    def unit_of_work(self, *, readonly: bool = False) -> Iterator[Any]:
        if self.dead:
            raise Crash("the process is gone")
        with super().unit_of_work(readonly=readonly) as session:
            yield session


def _without_fsync(dbapi_connection: Any, _record: Any) -> None:
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
    _processes: list[ProcessDatabase] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mailbox = FakeMailbox(processed_folder=PROCESSED, rejected_folder=REJECTED,
                                   clock=self.clock)

    # -- processes -----------------------------------------------------------------------------
    def start(self, *, send: bool = True, max_attempts: int = 5) -> Worker:
        """A fresh worker process: its own engine, pipeline and lease holder name."""
        db = ProcessDatabase(f"sqlite:///{self.db_path}")
        self._processes.append(db)
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

    def close(self) -> None:
        for db in self._processes:
            db.dispose()

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
        db = Database(f"sqlite:///{self.db_path}")
        try:
            with db.engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(query), params)]
        finally:
            db.dispose()

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
        db = Database(f"sqlite:///{self.db_path}")
        try:
            with db.unit_of_work(readonly=True) as s:
                return list(s.scalars(select(ReplyRow).order_by(ReplyRow.id)))
        finally:
            db.dispose()

    def poll_state(self) -> PollState | None:
        db = Database(f"sqlite:///{self.db_path}")
        try:
            with db.unit_of_work(readonly=True) as s:
                return ledger.get_poll_state(s, self.mailbox.account, self.mailbox.folder)
        finally:
            db.dispose()

    def answered(self) -> Counter[str]:
        """How many replies the SMTP server accepted per original Message-ID."""
        return Counter({mid: len(r) for mid, r in self.outbox.answered().items()})


def backlog(n: int = 5, tag: str = "w") -> list[Sent]:
    """``n`` messages: reports, a PDF to reject, human mail (worker_env's mixed backlog)."""
    return mixed_backlog(n, tag=tag)


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

"""The storage layer on SQLite: migrations, the message ledger, the register, outbox, leases.

The ``scenario_*`` functions take a migrated :class:`Database` and are also run on PostgreSQL
by tests/integration/test_storage_postgres.py, so both engines are held to the same behaviour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import func, select, text

from avsteg.domain.errors import TransientError
from avsteg.domain.report import ParsedReport, Problem
from avsteg.storage import (
    Database,
    MailboxPosition,
    acquire_lease,
    add_attachment,
    add_version,
    backoff_delay,
    current_versions,
    due_replies,
    find_message_by_position,
    find_processed_by_message_id,
    find_report_by_reference,
    find_report_for_thread,
    find_reports_for_thread,
    find_version_by_attachment_sha,
    get_message,
    get_poll_state,
    lease_holder,
    mark_failed,
    mark_processed,
    mark_reply_failed,
    mark_reply_sent,
    next_reference,
    pending_messages,
    queue_reply,
    record_poll,
    record_problems,
    record_reminder,
    references_in,
    register_report,
    release_lease,
    reminder_sent,
    renew_lease,
    replies_sent_to,
    store_raw_message,
    withdraw_report,
)
from avsteg.storage.models import (
    Base,
    MessageRow,
    ProblemRow,
    ReplyRow,
    Report,
    ReportVersion,
)

T0 = dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)
APP_TABLES = {
    "attachments",
    "deviations",
    "history",
    "leases",
    "messages",
    "pending_handled",
    "poll_state",
    "problems",
    "reference_counters",
    "reminders_sent",
    "replies",
    "report_versions",
    "reports",
    "trusted_domains",
    "web_sessions",
}


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'register.sqlite'}"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[Database]:
    database = Database(sqlite_url)
    database.upgrade()
    yield database
    database.dispose()


# -- builders -----------------------------------------------------------------------------


def parsed(
    organisation: str = "Park- och naturförvaltningen",
    *,
    year: int = 2026,
    jobs: tuple[int, ...] = (3,),
    file: str = "avsteg.docx",
    warnings: tuple[Problem, ...] = (),
) -> ParsedReport:
    deviations = [
        {
            "procurement": f"Skötsel av parker {i}",
            "supplier": f"Grönt & Skönt AB {i}",
            "supplier_orgnr": "556677-8899",
            "deviation_date": dt.date(year, 3, i),
            "measures": ["Anställning", "Praktik"],
            "target_groups": ["Nyanlända"],
            "jobs_created": n,
            "employments": n - 1 if n else 0,
            "internships": 1 if n else 0,
            "fulltime_months": Decimal("2.5"),
            "comment": None,
        }
        for i, n in enumerate(jobs, start=1)
    ]
    return ParsedReport(
        file=file,
        format="docx",
        status="accepted",
        template_version="1",
        report={
            "report_type": "Händelserapport",
            "year": year,
            "organisation": organisation,
            "contact_name": "Anna Andersson",
            "contact_email": "anna.andersson@pn.goteborg.se",
            "contact_phone": None,
            "report_date": dt.date(year, 3, 6),
        },
        deviations=deviations,
        warnings=list(warnings),
    )


def store(s, raw: bytes = b"Subject: avsteg\r\n\r\nhej", *, mid="<m1@pn.goteborg.se>", pos=None):
    row, _new = store_raw_message(
        s,
        raw,
        message_id=mid,
        sender="anna@pn.goteborg.se",
        subject="Avsteg",
        received_at=T0,
        position=pos,
        now=T0,
    )
    return row


def store_bare(s, raw: bytes, *, mid: str | None = None, position: MailboxPosition | None = None,
               received_at: dt.datetime | None = None) -> tuple[MessageRow, bool]:
    """Store as a file or a header-less message is stored: nothing known but the bytes (and
    where they were found); returns the row and whether it is new."""
    return store_raw_message(s, raw, message_id=mid, sender=None, subject=None,
                             received_at=received_at, position=position)


def reply(s, mid: str, *, message: MessageRow | None = None, report: Report | None = None,
          kind: str = "receipt", recipient: str = "a@goteborg.se", subject: str = "Re: x",
          raw: bytes = b"r", now: dt.datetime | None = None) -> ReplyRow:
    """Queue a reply with the Message-ID ``mid``; the rest as a test needs it."""
    return queue_reply(s, message=message, report=report, kind=kind, recipient=recipient,
                       subject=subject, message_id_header=mid, raw=raw, now=now)


def at_once(work: Callable[[int], None], threads: int) -> None:
    """Run ``work(i)`` in ``threads`` threads released together by a barrier, so that they
    collide; an exception in any of them fails the test."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            work(i)
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    assert errors == []


# -- scenarios shared with the PostgreSQL tests -------------------------------------------


def scenario_migrations_up_and_down(url: str) -> None:
    database = Database(url)
    try:
        assert not APP_TABLES & set(database.table_names())  # really empty to begin with
        assert database.current_revision() is None
        database.upgrade()
        assert APP_TABLES <= set(database.table_names())
        assert database.current_revision() == Database.head_revision()
        database.downgrade()
        assert not APP_TABLES & set(database.table_names())
        assert database.current_revision() is None
        database.upgrade()  # and up again on the same database
        assert APP_TABLES <= set(database.table_names())
        # Each step down and up again keeps what the register holds.
        with database.unit_of_work() as s:
            store(s, b"kept", mid="<kept@x>")
        for revision in ("0001", "head"):
            if revision == "head":
                database.upgrade()
            else:
                database.downgrade(revision)
            with database.engine.connect() as connection:
                ids = connection.exec_driver_sql("SELECT message_id_header FROM messages").all()
            assert ids == [("<kept@x>",)]
        assert database.current_revision() == Database.head_revision()
    finally:
        database.dispose()


def scenario_models_match_migrations(database: Database) -> None:
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def scenario_versions(database: Database) -> None:
    with database.unit_of_work() as s:
        m1 = store(s, b"one", mid="<one@x>")
        m2 = store(s, b"two", mid="<two@x>")
        m3 = store(s, b"three", mid="<three@x>")
        a = register_report(
            s, message=m1, parsed=parsed("Org A", jobs=(3, 4)), attachment_sha256="a1", now=T0
        )
        b = register_report(
            s, message=m2, parsed=parsed("Org B", year=2025), attachment_sha256="b1", now=T0
        )
        assert (a.reference, b.reference) == ("AVS-2026-0001", "AVS-2025-0001")
        v2 = add_version(
            s, a, message=m3, parsed=parsed("Org A rättad", jobs=(5,)), attachment_sha256="a2"
        )
        assert (v2.version, a.current_version) == (2, 2)
    with database.unit_of_work(readonly=True) as s:
        current = current_versions(s)
        versions = s.scalars(select(ReportVersion).order_by(ReportVersion.id)).all()
    # Ordered by reference; deviations eager-loaded, so readable after the session closed.
    assert [(v.report.reference, v.version, v.organisation) for v in current] == [
        ("AVS-2025-0001", 1, "Org B"),
        ("AVS-2026-0001", 2, "Org A rättad"),
    ]
    assert [d.jobs_created for d in current[1].deviations] == [5]
    assert current[1].message.message_id_header == "<three@x>"
    # Version 1 is kept untouched.
    assert [(v.version, v.organisation, v.attachment_sha256) for v in versions] == [
        (1, "Org A", "a1"),
        (1, "Org B", "b1"),
        (2, "Org A rättad", "a2"),
    ]
    with database.unit_of_work(readonly=True) as s:
        assert [v.organisation for v in current_versions(s, year=2025)] == ["Org B"]
        v1 = find_version_by_attachment_sha(s, "a1")
        assert v1 is not None and v1.version == 1 and v1.report.reference == "AVS-2026-0001"
        assert find_version_by_attachment_sha(s, "nope") is None
        deviations = s.scalars(select(ReportVersion)).first().deviations  # type: ignore[union-attr]
        assert [d.position for d in deviations] == [1, 2]
        assert deviations[1].fulltime_months == Decimal("2.5")
        assert deviations[1].measures == ["Anställning", "Praktik"]
        assert deviations[1].values["deviation_date"] == "2026-03-02"
        assert deviations[1].values["fulltime_months"] == 2.5
    with database.unit_of_work() as s:
        report = find_report_by_reference(s, " avs-2025-0001 ")
        assert report is not None
        withdraw_report(s, report, "Inskickad av misstag")
    with database.unit_of_work(readonly=True) as s:
        assert [v.report.reference for v in current_versions(s)] == ["AVS-2026-0001"]
        assert len(current_versions(s, include_withdrawn=True)) == 2


def scenario_outbox(database: Database) -> None:
    with database.unit_of_work() as s:
        queued = reply(s, "<r1@avsteg>", message=store(s), recipient="Anna@PN.goteborg.se",
                       subject="Re: Avsteg", raw=b"raw reply", now=T0)
        reply_id = queued.id
    with database.unit_of_work() as s:
        assert [r.id for r in due_replies(s, T0)] == [reply_id]
        assert replies_sent_to(s, "anna@pn.goteborg.se", T0 - dt.timedelta(hours=1)) == 1
        assert replies_sent_to(s, "anna@pn.goteborg.se", T0 + dt.timedelta(seconds=1)) == 0
        [due] = due_replies(s, T0)
        mark_reply_failed(s, due, "421 try later", permanent=False, now=T0, base_seconds=30)
    with database.unit_of_work() as s:
        assert due_replies(s, T0 + dt.timedelta(seconds=29)) == []
        [due] = due_replies(s, T0 + dt.timedelta(seconds=30))
        assert (due.status, due.attempts, due.last_error) == ("queued", 1, "421 try later")
        mark_reply_failed(s, due, "421 again", permanent=False, now=T0 + dt.timedelta(seconds=30))
        assert due.next_attempt_at == T0 + dt.timedelta(seconds=90)  # 30 s, then 60 s
    with database.unit_of_work() as s:
        [due] = due_replies(s, T0 + dt.timedelta(seconds=90))
        mark_reply_sent(s, due, now=T0 + dt.timedelta(seconds=91))
    with database.unit_of_work(readonly=True) as s:
        assert due_replies(s, T0 + dt.timedelta(days=1)) == []
        sent = s.get(ReplyRow, reply_id)
        assert sent is not None
        assert (sent.status, sent.attempts, sent.sent_at) == (
            "sent",
            3,
            T0 + dt.timedelta(seconds=91),
        )
        assert sent.sent_at.tzinfo is not None
    with database.unit_of_work() as s:
        bad = reply(s, "<r2@avsteg>", kind="reminder", recipient="x@goteborg.se",
                    subject="Påminnelse", now=T0)
        mark_reply_failed(s, bad, "550 no such user", permanent=True, now=T0)
        assert (bad.status, bad.next_attempt_at) == ("failed", None)
        assert replies_sent_to(s, "x@goteborg.se", T0 - dt.timedelta(hours=1)) == 0


def scenario_leases(database: Database) -> None:
    """The "mailbox" lease, 60 s long; each call in a unit of work of its own, ``at`` seconds
    after T0."""

    def acquire(worker: str, at: int) -> bool:
        with database.unit_of_work() as s:
            return acquire_lease(s, "mailbox", worker, ttl_seconds=60,
                                 now=T0 + dt.timedelta(seconds=at))

    def renew(worker: str, at: int) -> bool:
        with database.unit_of_work() as s:
            return renew_lease(s, "mailbox", worker, ttl_seconds=60,
                               now=T0 + dt.timedelta(seconds=at))

    def release(worker: str) -> bool:
        with database.unit_of_work() as s:
            return release_lease(s, "mailbox", worker)

    def holder(at: int) -> str | None:
        with database.unit_of_work() as s:
            return lease_holder(s, "mailbox", T0 + dt.timedelta(seconds=at))

    assert acquire("w1", 0)
    assert not acquire("w2", 59)
    assert renew("w1", 50)
    # Renewed until T0+110: still held at T0+100.
    assert not acquire("w2", 100)
    assert holder(100) == "w1"
    # Expired: taken over; the old holder can neither renew nor release it.
    assert acquire("w2", 111)
    assert not renew("w1", 112)
    assert not release("w1")
    assert holder(112) == "w2"
    assert release("w2")
    assert holder(112) is None
    assert acquire("w1", 113)


def scenario_lease_race(database: Database, workers: int = 8) -> None:
    """Workers grab an expired lease at once: exactly one wins."""
    with database.unit_of_work() as s:
        assert acquire_lease(s, "race", "old", ttl_seconds=1, now=T0)
    winners: list[str] = []

    def worker(i: int) -> None:
        with database.unit_of_work() as s:
            if acquire_lease(s, "race", f"w{i}", ttl_seconds=60, now=T0 + dt.timedelta(seconds=5)):
                winners.append(f"w{i}")

    at_once(worker, workers)
    assert len(winners) == 1
    with database.unit_of_work(readonly=True) as s:
        assert lease_holder(s, "race", T0 + dt.timedelta(seconds=6)) == winners[0]


def scenario_reference_race(database: Database, threads: int = 2, each: int = 50) -> list[str]:
    """Threads allocate references at once, one unit of work each: all distinct, gapless."""
    got: list[str] = []
    lock = threading.Lock()

    def worker(_i: int) -> None:
        for _ in range(each):
            with database.unit_of_work() as s:
                # Read first, as the pipeline does, then write: on SQLite this only
                # works because a unit of work takes the write lock when it begins.
                s.execute(select(func.count(Report.id))).scalar_one()
                time.sleep(0.001)
                reference = next_reference(s, 2026)
            with lock:
                got.append(reference)

    at_once(worker, threads)
    total = threads * each
    assert sorted(got) == [f"AVS-2026-{n:04d}" for n in range(1, total + 1)]
    return got


def scenario_store_same_position_once(database: Database) -> None:
    position = MailboxPosition("socialhansyn@ink.goteborg.se", "INBOX", 7, 42)
    with database.unit_of_work() as s:
        first, new1 = store_bare(s, b"raw", mid="<a@x>", position=position)
    with database.unit_of_work() as s:
        again, new2 = store_bare(s, b"raw", mid="<a@x>", position=position)
    assert (new1, new2, again.id) == (True, False, first.id)


# -- SQLite --------------------------------------------------------------------------------


def test_migrations_upgrade_and_downgrade_an_empty_database(sqlite_url: str) -> None:
    scenario_migrations_up_and_down(sqlite_url)


def test_models_and_migrations_describe_the_same_schema(db: Database) -> None:
    scenario_models_match_migrations(db)


def test_sqlite_runs_in_wal_mode_with_foreign_keys(db: Database, sqlite_url: str) -> None:
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(TransientError, match="IntegrityError"), db.unit_of_work() as s:
        s.add(ProblemRow(message_id=999, severity="error", message="x"))
    # The file itself is in WAL mode (seen from a plain sqlite3 connection).
    path = sqlite_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as plain:
        assert plain.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_unit_of_work_commits_or_rolls_back(db: Database) -> None:
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        store(s, b"lost")
        raise RuntimeError("bug")
    with db.unit_of_work() as s:
        store(s, b"kept")
    with db.unit_of_work(readonly=True) as s:
        assert [m.raw for m in s.scalars(select(MessageRow))] == [b"kept"]


def test_store_raw_message_identity_rules(db: Database) -> None:
    inbox = MailboxPosition("acct", "INBOX", 1, 10)
    with db.unit_of_work() as s:
        first, new = store_raw_message(
            s,
            b"bytes-1",
            message_id="<m@x>",
            sender="a@goteborg.se",
            subject="Avsteg",
            received_at=T0,
            position=inbox,
            now=T0,
        )
        assert new
        same, new_again = store_bare(s, b"bytes-1", mid="<m@x>", position=inbox)
        assert (same.id, new_again) == (first.id, False)
        # Same Message-ID from another position: a new row (the pipeline calls it a duplicate).
        other, new_other = store_bare(s, b"bytes-1", mid="<m@x>",
                                      position=MailboxPosition("acct", "INBOX", 1, 11))
        assert new_other and other.id != first.id
        # Given as a file: identity is the content; the same bytes again are the same row.
        f1, n1 = store_bare(s, b"file")
        f2, n2 = store_bare(s, b"file")
        assert (n1, n2, f2.id) == (True, False, f1.id)
        assert find_processed_by_message_id(s, "<m@x>") is None
        mark_processed(s, first, outcome="registered", reason="AVS-2026-0001", now=T0)
        assert find_processed_by_message_id(s, "<m@x>").id == first.id  # type: ignore[union-attr]
        assert find_processed_by_message_id(s, "<m@x>", exclude=first) is None
        first_id = first.id
    with db.unit_of_work(readonly=True) as s:
        row = find_message_by_position(s, inbox)
        assert row is not None and row.id == first_id
        assert row.raw == b"bytes-1"
        assert row.sha256 == hashlib.sha256(b"bytes-1").hexdigest() and row.size == 7
        assert (row.state, row.outcome, row.reason, row.processed_at) == (
            "processed",
            "registered",
            "AVS-2026-0001",
            T0,
        )
        assert row.received_at == T0 and row.received_at.tzinfo is not None


def test_failed_messages_are_retried_up_to_a_limit(db: Database) -> None:
    with db.unit_of_work() as s:
        message_pk = store(s).id
    for attempt in range(3):
        with pytest.raises(TransientError), db.unit_of_work() as s:
            row = get_message(s, message_pk)
            mark_processed(s, row, outcome="registered")  # then the database "fails":
            s.execute(text("SELECT * FROM no_such_table"))
        with db.unit_of_work() as s:  # the failure is recorded in a fresh unit of work
            assert [m.id for m in pending_messages(s, max_attempts=3)] == [message_pk]
            mark_failed(s, message_pk, f"boom {attempt}")
    with db.unit_of_work(readonly=True) as s:
        row = get_message(s, message_pk)
        assert (row.state, row.attempts, row.last_error, row.outcome) == (
            "failed",
            3,
            "boom 2",
            None,
        )
        assert pending_messages(s, max_attempts=3) == []
        assert [m.id for m in pending_messages(s, max_attempts=4)] == [message_pk]


def test_register_report_keeps_values_deviations_and_warnings(db: Database) -> None:
    warning = Problem(
        field="case_number", deviation=1, label="Diarienummer", message="Diarienummer saknas."
    )
    with db.unit_of_work() as s:
        message = store(s)
        attachment = add_attachment(
            s,
            message,
            filename="avsteg.docx",
            content_type="application/x",
            data=b"docx",
            origin="attachment",
            format="docx",
            parse_status="accepted",
        )
        report = register_report(
            s,
            message=message,
            parsed=parsed(jobs=(3, 0), warnings=(warning,)),
            attachment_sha256=attachment.sha256,
            attachment=attachment,
            now=T0,
        )
        assert report.reference == "AVS-2026-0001"
        record_problems(
            s,
            message,
            [warning],
            severity="warning",
            version=report.versions[0],
            attachment=attachment,
        )
    with db.unit_of_work(readonly=True) as s:
        [version] = current_versions(s)
        assert version.values["report_date"] == "2026-03-06"
        assert version.values["organisation"] == "Park- och naturförvaltningen"
        assert (version.report_type, version.year, version.contact_email) == (
            "Händelserapport",
            2026,
            "anna.andersson@pn.goteborg.se",
        )
        assert [
            (d.position, d.jobs_created, d.employments, d.internships) for d in version.deviations
        ] == [(1, 3, 2, 1), (2, 0, 0, 0)]
        assert version.deviations[0].organisation == "Park- och naturförvaltningen"
        assert version.deviations[0].values["supplier_orgnr"] == "556677-8899"
        [problem] = version.problems
        assert (problem.severity, problem.field, problem.deviation, problem.label) == (
            "warning",
            "case_number",
            1,
            "Diarienummer",
        )
        assert problem.attachment_id == version.attachment_id is not None


def test_versions_and_current_versions(db: Database) -> None:
    scenario_versions(db)


def test_thread_lookup_finds_the_report_of_a_receipt(db: Database) -> None:
    with db.unit_of_work() as s:
        original = store(s, b"orig", mid="<orig@pn.goteborg.se>")
        one = register_report(s, message=original, parsed=parsed("A"), attachment_sha256="1")
        receipt = reply(s, "<receipt-1@avsteg>", message=original, report=one)
        multi = store(s, b"multi", mid="<multi@pn.goteborg.se>")
        two = register_report(s, message=multi, parsed=parsed("B"), attachment_sha256="2")
        three = register_report(s, message=multi, parsed=parsed("C"), attachment_sha256="3")
        reply(s, "<receipt-2@avsteg>", message=multi, subject="Re: y")
        assert receipt.id
        ids = (one.id, two.id, three.id)
    with db.unit_of_work(readonly=True) as s:
        assert find_report_for_thread(s, ["<unknown@x>", "receipt-1@avsteg"]).id == ids[0]  # type: ignore[union-attr]
        assert find_report_for_thread(s, ["<orig@pn.goteborg.se>"]).id == ids[0]  # type: ignore[union-attr]
        assert [r.id for r in find_reports_for_thread(s, ["<receipt-2@avsteg>"])] == [
            ids[1],
            ids[2],
        ]
        assert find_report_for_thread(s, ["<receipt-2@avsteg>"]) is None  # ambiguous
        assert find_reports_for_thread(s, ["<unknown@x>"]) == []
        assert find_reports_for_thread(s, []) == []


def test_references_in_a_subject() -> None:
    assert references_in("Re: Kvittens avs-2026-0007 och AVS-2026-0012, AVS-2026-0007") == [
        "AVS-2026-0007",
        "AVS-2026-0012",
    ]
    assert references_in("AVS-26-1 XAVS-2026-0001") == []
    assert references_in(None) == []


def test_reference_numbers_per_year_and_given_back_on_rollback(db: Database) -> None:
    with db.unit_of_work() as s:
        assert [next_reference(s, 2026) for _ in range(3)] == [
            "AVS-2026-0001",
            "AVS-2026-0002",
            "AVS-2026-0003",
        ]
        assert next_reference(s, 2027) == "AVS-2027-0001"
    with pytest.raises(RuntimeError), db.unit_of_work() as s:
        assert next_reference(s, 2026) == "AVS-2026-0004"
        raise RuntimeError("registration failed")
    with db.unit_of_work() as s:
        assert next_reference(s, 2026) == "AVS-2026-0004"  # no gap


def test_reference_numbers_are_race_free_on_sqlite(db: Database) -> None:
    got = scenario_reference_race(db, threads=2, each=50)
    assert len(set(got)) == 100


def test_storing_the_same_position_twice_gives_one_row(db: Database) -> None:
    scenario_store_same_position_once(db)


def test_outbox_state_machine_and_backoff(db: Database) -> None:
    scenario_outbox(db)


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, base_seconds=30).total_seconds() for n in (1, 2, 3, 4)] == [
        30,
        60,
        120,
        240,
    ]
    assert backoff_delay(40, base_seconds=30, max_delay_seconds=3600).total_seconds() == 3600


def test_reply_gives_up_after_max_attempts(db: Database) -> None:
    with db.unit_of_work() as s:
        digest = reply(s, "<d@avsteg>", kind="digest", recipient="b@goteborg.se",
                       subject="Vecka", raw=b"d", now=T0)
        for _ in range(2):
            mark_reply_failed(s, digest, "timeout", permanent=False, now=T0, max_attempts=3)
            assert digest.status == "queued"
        mark_reply_failed(s, digest, "timeout", permanent=False, now=T0, max_attempts=3)
        assert (digest.status, digest.attempts) == ("failed", 3)


def test_leases_take_over_after_expiry(db: Database) -> None:
    scenario_leases(db)


def test_only_one_worker_gets_an_expired_lease(db: Database) -> None:
    scenario_lease_race(db)


def test_poll_state_and_reminders(db: Database) -> None:
    with db.unit_of_work() as s:
        record_poll(s, "acct", "INBOX", uidvalidity=7, last_uid=12, now=T0)
        record_poll(
            s, "acct", "INBOX", error="connection refused", now=T0 + dt.timedelta(minutes=1)
        )
        assert record_reminder(s, "Org A", 2026, "first", now=T0)
        assert not record_reminder(s, "Org A", 2026, "first", now=T0)
        assert record_reminder(s, "Org A", 2026, "second", now=T0)
    with db.unit_of_work(readonly=True) as s:
        state = get_poll_state(s, "acct", "INBOX")
        assert state is not None
        assert (
            state.uidvalidity,
            state.last_uid,
            state.last_success_at,
            state.last_poll_at,
            state.last_error,
        ) == (
            7,
            12,
            T0,
            T0 + dt.timedelta(minutes=1),
            "connection refused",
        )
        assert reminder_sent(s, "Org A", 2026, "first") and not reminder_sent(
            s, "Org B", 2026, "first"
        )


def test_unreachable_postgresql_is_a_transient_error() -> None:
    import socket

    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    database = Database(f"postgresql+psycopg://postgres@127.0.0.1:{port}/avsteg")
    with pytest.raises(TransientError, match="OperationalError"), database.unit_of_work() as s:
        next_reference(s, 2026)
    with pytest.raises(TransientError):
        database.upgrade()
    database.dispose()

"""No value from a message can fail a database write (storage/values.py).

``scenario_hostile_values`` takes a migrated Database and is also run on PostgreSQL by
tests/integration/test_poison.py, where it matters most: PostgreSQL refuses what SQLite keeps.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from avsteg.domain.report import ParsedReport, Problem
from avsteg.storage import (
    Database,
    MailboxPosition,
    add_attachment,
    find_processed_by_message_id,
    mark_failed,
    mark_processed,
    queue_reply,
    record_problems,
    register_report,
    store_raw_message,
)
from avsteg.storage.models import AttachmentRow, DeviationRow, MessageRow, ReplyRow, ReportVersion
from avsteg.storage.values import fit_json, fit_text

T0 = dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)
LONE = "\ud800"  # a lone surrogate, as a broken encoding leaves it
LONG_ID = "<" + "x" * 4000 + "@goteborg.se>"


def test_fit_text():
    assert fit_text("vanlig") == "vanlig"
    assert fit_text("a\x00b" + LONE + "c") == "a\ufffdb\ufffdc"
    cut = fit_text("y" * 5000, 998)
    assert len(cut) == 998 and cut.startswith("yyy") and "avkortat" in cut
    # Two long values that share their beginning stay two values.
    assert fit_text("y" * 5000 + "1", 998) != fit_text("y" * 5000 + "2", 998)
    assert fit_text("x" * 40, 16) == "x" * 16  # a code column: no room for a marker
    assert fit_json({"k\x00": ["v" + LONE, 1, None]}) == {"k\ufffd": ["v\ufffd", 1, None]}


def scenario_hostile_values(db: Database) -> None:
    """Every message-derived column with hostile lengths and characters, on one database."""
    sender = "a" * 2000 + "@goteborg.se"
    with db.unit_of_work() as s:
        row, _ = store_raw_message(
            s, b"raw bytes \x00 kept as they are", message_id=LONG_ID, sender=sender,
            subject="Ämne \x00 med NUL och " + LONE, received_at=T0,
            position=MailboxPosition("acct", "INBOX", 1, 1), now=T0,
        )
        add_attachment(s, row, filename="mall\x00" + LONE + ".docx" + "n" * 5000,
                       content_type="application/" + "x" * 1000, data=b"docx",
                       origin="zip\x00/")
        record_problems(s, row, [Problem(field="f" * 200, deviation=None, label="L\x00",
                                         message="fel " + LONE)], severity="error")
        parsed = ParsedReport(
            file="mall\x00.docx", status="accepted", format="docx", template_version="v" * 200,
            report={"organisation": "Org\x00" + LONE, "report_type": "t" * 300, "year": 2026,
                    "contact_email": "c" * 500 + "@goteborg.se", "contact_name": "N\x00"},
            deviations=[{"procurement": "P\x00" + LONE, "supplier": "S" * 10_000,
                         "jobs_created": 99_999_999_999, "employments": 3,
                         "fulltime_months": Decimal("123456789012.5")}],
            errors=[], warnings=[],
        )
        register_report(s, message=row, parsed=parsed, attachment_sha256="0" * 64, year=2026,
                        now=T0)
        queue_reply(s, message=row, report=None, kind="receipt", recipient="r" * 400 + "@goteborg.se",
                    subject="Re: " + LONE, message_id_header="<reply-" + "z" * 2000 + "@avsteg>",
                    raw=b"reply", now=T0)
        mark_processed(s, row, outcome="registered", reason="r\x00" + LONE, now=T0)
        pk = row.id
    with db.unit_of_work() as s:
        mark_failed(s, pk, "an error \x00 quoting a value " + LONE)  # a Core UPDATE, cleaned too
    with db.unit_of_work(readonly=True) as s:
        stored = s.get(MessageRow, pk)
        assert stored is not None
        assert len(stored.message_id_header or "") == 998 and "avkortat" in stored.message_id_header
        assert len(stored.sender or "") == 998
        assert "\x00" not in (stored.subject or "") and "\ufffd" in (stored.subject or "")
        attachment = s.scalars(select(AttachmentRow)).one()
        assert len(attachment.content_type or "") == 255 and "\x00" not in (attachment.filename or "")
        version = s.scalars(select(ReportVersion)).one()
        assert len(version.contact_email or "") == 320 and len(version.template_version or "") == 32
        assert version.values["organisation"] == "Org\ufffd\ufffd"
        assert len(version.report_type or "") == 64 and "\x00" not in (version.filename or "")
        deviation = s.scalars(select(DeviationRow)).one()
        assert deviation.jobs_created is None and deviation.employments == 3  # typed column empty
        assert deviation.fulltime_months is None
        assert deviation.values["jobs_created"] == 99_999_999_999  # the number itself is kept
        reply = s.scalars(select(ReplyRow)).one()
        assert len(reply.recipient) == 320 and len(reply.message_id_header) == 998
    with db.unit_of_work() as s:
        again, fresh = store_raw_message(
            s, b"other", message_id=LONG_ID, sender=None, subject=None, received_at=T0,
            position=MailboxPosition("acct", "INBOX", 1, 2), now=T0)
        assert fresh
        # The same over-long Message-ID fits to the same value: found as a duplicate.
        assert find_processed_by_message_id(s, again.message_id_header or "",
                                            exclude=again) is not None


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    db = Database(f"sqlite:///{tmp_path}/v.sqlite")
    db.upgrade()
    yield db
    db.dispose()


def test_hostile_values_on_sqlite(sqlite_db: Database) -> None:
    scenario_hostile_values(sqlite_db)

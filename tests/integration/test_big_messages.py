"""A message over ``policy.max_message_bytes`` in a real mailbox: ``avsteg run --once`` fetches
its headers only, stores them with the real size, answers in Swedish that it is too large (a
real aiosmtpd server, or Graph's sendMail), files it away whole, and registers the others.

Dovecot and the Graph test server (tests/support) play the mailbox; the limits are small
(1 MB) so the test is quick, and the byte bound of a fetch is smaller than two messages.
"""
from __future__ import annotations

import pytest

from avsteg.ingest.ports import header_part
from avsteg.storage.database import Database
from tests.support import emails
from tests.support.graph_env import PROCESSED as GRAPH_PROCESSED
from tests.support.graph_env import REJECTED as GRAPH_REJECTED
from tests.support.graph_env import folder_state, graph_environ
from tests.support.worker_env import (
    PROCESSED,
    REJECTED,
    _bare,
    append_all,
    avsteg,
    folder_ids,
    parse,
    register,
    report_message,
    worker_environ,
)

pytestmark = pytest.mark.integration

LIMIT = 1024 * 1024
LIMITS = {"POLICY__MAX_MESSAGE_BYTES": str(LIMIT), "IMAP__BATCH_BYTES": "600000",
          "IMAP__BATCH_SIZE": "3"}


def big_message(tag: str, size: int = 3 * LIMIT) -> bytes:
    """A report-like message (the subject says avsteg) with a large PDF of random bytes."""
    import random

    data = random.Random(size).randbytes(size)
    return emails.simple(data, "Avstegsrapport.pdf", content_type="application/pdf",
                         subject="Avstegsrapport med bilder", message_id=f"{tag}@goteborg.se",
                         sender="stor@trafikkontoret.goteborg.se")


def stored(db_url: str, message_id: str) -> tuple[bytes, int, bool, str | None, str | None]:
    from sqlalchemy import select

    from avsteg.storage.models import MessageRow

    db = Database(db_url)
    try:
        with db.unit_of_work(readonly=True) as s:
            row = s.scalars(select(MessageRow).where(
                MessageRow.message_id_header == message_id)).one()
            return row.raw, row.size, row.cut, row.pending, row.outcome
    finally:
        db.dispose()


def too_large_reply(raw_replies: list[bytes], original: str) -> str:
    [reply] = [parse(r) for r in raw_replies if _bare(parse(r)["In-Reply-To"]) == original]
    assert "[Ej registrerad]" in str(reply["Subject"])
    return reply.get_body(("plain",)).get_content()


def test_imap_a_message_over_the_limit_is_answered_filed_and_kept_by_its_headers(
        dovecot, mail_user, smtp_server, db_url, tmp_path):
    big = big_message("big-imap")
    reports = [report_message(n, tag="imap") for n in range(4)]
    append_all(dovecot, mail_user, [reports[0], reports[1], big, reports[2], reports[3]])
    env = worker_environ(dovecot, mail_user, smtp_server, db_url, **LIMITS)

    avsteg(["run", "--once"], env, cwd=tmp_path)

    raw, size, cut, pending, outcome = stored(db_url, "big-imap@goteborg.se")
    assert cut and size == len(big) and raw == header_part(big) and len(raw) < 4096
    assert pending == "unreadable" and outcome == "rejected"
    body = too_large_reply([m.raw for m in smtp_server.messages], "big-imap@goteborg.se")
    assert "Meddelandet är för stort för att läsas (gränsen är 1 MB)" in body
    # Filed away whole and still unread; the reports registered and filed.
    assert folder_ids(dovecot, mail_user, REJECTED) == {"big-imap@goteborg.se": ()}
    [(_uid, _flags, kept)] = dovecot.fetch_all(mail_user, REJECTED)
    assert kept == big
    assert set(folder_ids(dovecot, mail_user, PROCESSED)) == {f"imap{n}@goteborg.se"
                                                              for n in range(4)}
    assert sorted(r["message_id"] for r in register(db_url)) == sorted(
        f"imap{n}@goteborg.se" for n in range(4))
    assert len(smtp_server.messages) == 5  # four receipts, one too-large reply; nothing twice

    pending = avsteg(["pending", "--json"], env, cwd=tmp_path).stdout
    assert "finns kvar i brevlådan" in pending


def test_graph_a_message_over_the_limit_is_answered_filed_and_kept_by_its_headers(
        graph_server, db_url, tmp_path):
    big = big_message("big-graph")
    reports = [report_message(n, tag="graph") for n in range(3)]
    for i, raw in enumerate([reports[0], big, reports[1], reports[2]]):
        graph_server.deliver(raw, received=f"2026-11-20T08:00:0{i}Z")
    env = graph_environ(graph_server, db_url, POLICY__MAX_MESSAGE_BYTES=str(LIMIT))

    avsteg(["run", "--once"], env, cwd=tmp_path)

    raw, size, cut, pending, outcome = stored(db_url, "big-graph@goteborg.se")
    assert cut and size == len(big) and raw == header_part(big) and len(raw) < 4096
    assert pending == "unreadable" and outcome == "rejected"
    body = too_large_reply(list(graph_server.sent), "big-graph@goteborg.se")
    assert "Meddelandet är för stort för att läsas (gränsen är 1 MB)" in body
    assert folder_state(graph_server, GRAPH_REJECTED) == {"big-graph@goteborg.se": False}
    [kept] = graph_server.in_folder(GRAPH_REJECTED)
    assert kept.raw == big
    assert set(folder_state(graph_server, GRAPH_PROCESSED)) == {f"graph{n}@goteborg.se"
                                                                for n in range(3)}
    assert len(register(db_url)) == 3 and len(graph_server.sent) == 4

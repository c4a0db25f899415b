"""Messages too large to fetch whole, and fetches bounded by bytes (no server: fakes, literals).

The adapters cut a message over ``policy.max_message_bytes`` to its headers; the worker stores
those with the real size (``messages.cut``), answers in Swedish that it is too large, sets it
aside and files it away. The real-server versions are tests/integration/test_big_messages.py.
"""
from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator

import httpx
import pytest
from rich.console import Console

from avsteg.commands.show import print_details
from avsteg.domain.vocabulary import cut_note
from avsteg.ingest.graph_client import GraphClient, GraphUnavailable
from avsteg.ingest.imap_fetch import Batch, content, plan
from avsteg.ingest.ports import header_part
from avsteg.services.pending import pending_items
from avsteg.storage.read_model import report_details
from tests.support import emails
from tests.support.worker_env import report_message
from tests.support.worker_rig import PROCESSED, REJECTED, Rig

LIMIT = 200_000


# -- planning the FETCH round trips ------------------------------------------------------------


def test_batches_are_bounded_by_count_and_by_bytes_in_order():
    sizes = [(1, 10), (2, 10), (3, 10), (4, 10), (5, 10)]
    assert plan(sizes, max_count=2, max_bytes=1000, max_message=None) == [
        Batch((1, 2), True), Batch((3, 4), True), Batch((5,), True)]
    sizes = [(1, 400), (2, 400), (3, 400), (4, 100)]
    assert plan(sizes, max_count=50, max_bytes=1000, max_message=None) == [
        Batch((1, 2), True), Batch((3, 4), True)]


def test_a_message_larger_than_the_byte_bound_travels_alone():
    sizes = [(1, 10), (2, 5000), (3, 10)]
    assert plan(sizes, max_count=50, max_bytes=1000, max_message=10_000) == [
        Batch((1,), True), Batch((2,), True), Batch((3,), True)]


def test_a_message_over_the_limit_is_fetched_by_its_headers_only():
    sizes = [(1, 10), (2, 20_000), (3, 30_000), (4, 10), (5, 10_000)]
    assert plan(sizes, max_count=50, max_bytes=1000, max_message=10_000) == [
        Batch((1,), True), Batch((2, 3), False), Batch((4,), True), Batch((5,), True)]


def test_the_fetched_bytes_are_found_under_the_partial_headers_key():
    assert content({b"BODY[]": b"whole"}, True) == b"whole"
    assert content({b"BODY[HEADER]<0>": b"Subject: x\r\n\r\n"}, False) == b"Subject: x\r\n\r\n"
    assert content({b"FLAGS": ()}, False) is None


def test_the_header_part_ends_at_the_first_blank_line():
    assert header_part(b"Subject: a\r\nFrom: b\r\n\r\nbody\r\n\r\nmore") == \
        b"Subject: a\r\nFrom: b\r\n\r\n"
    assert header_part(b"Subject: a\nX: b\n\nbody") == b"Subject: a\nX: b\n\n"
    assert header_part(b"Subject: " + b"x" * 100, limit=20) == (b"Subject: " + b"x" * 100)[:20]


# -- the worker on fakes -----------------------------------------------------------------------


def _big(subject: str, message_id: str, size: int = 3 * LIMIT) -> bytes:
    return emails.simple(b"\x00\x01" * (size // 2), "Avstegsrapport.pdf",
                         content_type="application/pdf", subject=subject, message_id=message_id,
                         sender="stor@trafikkontoret.goteborg.se")


def _rows(rig: Rig) -> dict[str, tuple]:
    return {mid: (raw, size, bool(cut), pending, outcome) for mid, raw, size, cut, pending, outcome
            in rig.sql("SELECT message_id_header, raw, size, cut, pending, outcome FROM messages")}


def test_a_message_over_the_limit_is_stored_by_its_headers_answered_and_filed(rig):
    big = _big("Avstegsrapport november", "big@goteborg.se")
    small = [report_message(n, tag="s") for n in range(3)]
    human_big = _big("Bilder från personalfesten", "party@goteborg.se")
    rig.mailbox.max_message_bytes = LIMIT
    uids = [rig.mailbox.deliver(small[0]), rig.mailbox.deliver(big),
            rig.mailbox.deliver(human_big), rig.mailbox.deliver(small[1]),
            rig.mailbox.deliver(small[2])]
    worker = rig.start()
    worker.pipeline.max_message_bytes = LIMIT
    rig.run_until_done(worker)

    rows = _rows(rig)
    raw, size, cut, pending, outcome = rows["big@goteborg.se"]
    assert cut and size == len(big) and raw == header_part(big) and len(raw) < 2000
    assert b"Subject: Avstegsrapport november" in raw and raw.endswith(b"\r\n\r\n")
    assert pending == "unreadable" and outcome == "rejected"
    # Answered once, in Swedish, as too large; the whole message filed away in the mailbox.
    [reply] = rig.outbox.answered()["big@goteborg.se"]
    body = reply.get_body(("plain",)).get_content()
    assert "Meddelandet är för stort" in body and "0 MB" not in body
    assert rig.mailbox.in_folder(REJECTED) == [big]
    # Mail that is not ours stays in the inbox untouched, unanswered, listed for a person.
    raw, size, cut, pending, outcome = rows["party@goteborg.se"]
    assert cut and size == len(human_big) and outcome == "ignored" and pending == "unreadable"
    assert "party@goteborg.se" not in rig.outbox.answered()
    assert rig.mailbox.in_folder(rig.mailbox.folder) == [human_big]
    # The others were registered from their whole bytes.
    assert sorted(rig.mailbox.in_folder(PROCESSED)) == sorted(small)
    assert all(not rows[f"s{n}@goteborg.se"][2] and rows[f"s{n}@goteborg.se"][4] == "registered"
               for n in range(3))
    assert rig.mailbox.fetched == uids

    # What a person reads: the pending list says it was too large and is kept in the mailbox.
    items = {i.message_id: i for i in pending_items(rig.database, now=rig.clock.now())}
    assert cut_note(len(big)) in items["big@goteborg.se"].reason
    assert "finns kvar i brevlådan" in items["party@goteborg.se"].reason


def test_the_read_model_says_which_stored_messages_are_cut(rig):
    """What ``avsteg show`` and the report page read: a message row marked cut, with its size
    (marked by hand here: a cut message itself never registers a report)."""
    rig.mailbox.deliver(report_message(1, tag="ok"))
    rig.run_until_done(rig.start())
    with rig.database.engine.begin() as c:
        c.exec_driver_sql("UPDATE messages SET cut = 1, size = 123456789")
    [(ref,)] = rig.sql("SELECT reference FROM reports")
    with rig.database.unit_of_work(readonly=True) as s:
        details = report_details(s, ref)
    assert details is not None
    [m] = details.messages
    assert m.cut and m.size == 123456789
    assert m.to_json()["cut"] is True and m.to_json()["size"] == 123456789
    assert cut_note(m.size).startswith("Meddelandet var för stort (117,7 MB)")
    console = Console(record=True, width=200)
    print_details(details.to_json(), rig.schema, console)  # what ``avsteg show`` prints
    assert cut_note(123456789) in console.export_text()


def test_a_message_at_the_limit_is_fetched_whole(rig):
    raw = report_message(5, tag="edge")
    rig.mailbox.max_message_bytes = len(raw)
    rig.mailbox.deliver(raw)
    [fetched] = list((rig.mailbox.open(), rig.mailbox.fetch(rig.mailbox.uids()))[1])
    assert fetched.complete and fetched.raw == raw and fetched.size == len(raw)
    rig.mailbox.max_message_bytes = len(raw) - 1
    [fetched] = list(rig.mailbox.fetch(rig.mailbox.uids()))
    assert not fetched.complete and fetched.raw == header_part(raw)


# -- Graph: $value streamed, never read past the limit ---------------------------------------


class Body:
    """A response body in 64 KB chunks that counts how many were drawn."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.drawn = 0

    def __iter__(self) -> Iterator[bytes]:
        for start in range(0, len(self.data), 65536):
            self.drawn += 1
            yield self.data[start : start + 65536]


def _client(handler) -> GraphClient:
    return GraphClient("https://graph.test/v1.0", lambda: "t",
                       transport=httpx.MockTransport(handler), sleep=lambda s: None)


def test_graph_download_stops_after_the_limit_and_keeps_the_real_size():
    raw = _big("Avstegsrapport", "g@goteborg.se", size=2_000_000)
    body = Body(raw)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("Accept-Encoding"))
        return httpx.Response(200, content=iter(body), headers={"Content-Length": str(len(raw))})

    got = _client(handler).download("users/m/messages/A/$value", limit=LIMIT, head=70_000)
    # Content-Length says it is too large: only the head is read, not the 31 chunks of the whole.
    assert not got.complete and got.size == len(raw) and got.data == raw[:70_000]
    assert body.drawn == 2 and seen == ["identity"]
    # Without Content-Length: read until the limit is passed, then stop.
    unsized = Body(raw)
    got = _client(lambda r: httpx.Response(200, content=iter(unsized))).download(
        "users/m/messages/A/$value", limit=LIMIT)
    assert not got.complete and got.size is None and got.data == raw[: LIMIT + 1]
    assert unsized.drawn == LIMIT // 65536 + 1
    got = _client(lambda r: httpx.Response(200, content=iter(Body(raw)))).download(
        "users/m/messages/A/$value", limit=len(raw))
    assert got.complete and got.data == raw and got.size is None


def test_graph_download_retries_a_connection_lost_while_reading():
    raw = b"Subject: x\r\n\r\n" + b"y" * 300_000
    calls = []

    def broken() -> Iterator[bytes]:
        yield raw[:65536]
        raise httpx.ReadError("connection reset")

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(200, content=broken() if len(calls) == 1 else iter([raw]))

    got = _client(handler).download("users/m/messages/A/$value", limit=LIMIT)
    assert len(calls) == 2 and not got.complete and got.data == raw[: LIMIT + 1]

    def always(request: httpx.Request) -> httpx.Response:
        def body() -> Iterator[bytes]:
            raise httpx.ReadError("reset")
            yield b""
        return httpx.Response(200, content=body())

    with pytest.raises(GraphUnavailable, match="while reading"):
        _client(always).download("users/m/messages/A/$value", limit=LIMIT)


def test_the_reply_about_a_cut_message_names_the_limit():
    """The Swedish text the sender gets is the reader's existing one, with the limit in MB."""
    from avsteg.parsers.mail.reader import read_message

    raw = _big("Avstegsrapport", "r@goteborg.se", size=3 * 1024 * 1024)
    msg = read_message(header_part(raw), max_message_bytes=1024 * 1024, size=len(raw))
    [att] = msg.attachments
    assert msg.raw_size == len(raw) and msg.subject == "Avstegsrapport"
    assert att.problem and "för stort" in att.problem and "1 MB" in att.problem
    parsed = email.message_from_bytes(header_part(raw), policy=email.policy.default)
    assert parsed["Message-ID"] == "<r@goteborg.se>"

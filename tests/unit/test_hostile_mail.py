"""Hostile message shapes are read in bounded time, and every file a sender meant is found.

Each hostile HTML shape here took the stdlib ``HTMLParser`` seconds to minutes (repeated ``<a ``:
6 s for 40 KB, 125 s for 100 KB; a 5 MB body never finished). The bound asserted is generous
(2 s for a 5 MB body); ``bench/hostile_html.py`` measures the same shapes against reading the same
number of plain-text bytes.
"""
from __future__ import annotations

import base64
import time

import pytest

from avsteg.parsers.mail import reader as mail
from avsteg.parsers.mail.reader import read_message
from avsteg.parsers.mail.text import html_to_text
from tests.support import emails as E

FIVE_MB = 5 * 1024 * 1024
BOUND_SECONDS = 2.0

HOSTILE_SHAPES = {
    "repeated <a": "<a ",
    "repeated <a with attribute": "<a b=",
    "unclosed end tags": "</a ",
    "bare end tags": "</",
    "<! declarations": "<!",
    "unclosed comments": "<!--",
    "processing instructions": "<?",
    "deep nesting": "<div>",
}


def html_message(body: bytes, *, subject: str = "Avstegsrapport", charset: str = "utf-8") -> bytes:
    head = (f"From: Anna <anna@trafikkontoret.goteborg.se>\r\nTo: {E.SERVICE}\r\n"
            f"Subject: {subject}\r\nMessage-ID: <hostile@goteborg.se>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/html; charset={charset}\r\n\r\n").encode()
    return head + body


def hostile_body(shape: str, size: int = FIVE_MB) -> bytes:
    unit = shape.encode()
    return unit * (size // len(unit))


@pytest.mark.parametrize("name", list(HOSTILE_SHAPES))
def test_a_5_mb_hostile_html_body_is_read_within_the_bound(name):
    raw = html_message(hostile_body(HOSTILE_SHAPES[name]))
    started = time.perf_counter()
    msg = read_message(raw)
    elapsed = time.perf_counter() - started
    assert elapsed < BOUND_SECONDS, f"{name}: {elapsed:.2f} s"
    assert msg.subject == "Avstegsrapport" and msg.raw_size == len(raw)


def test_deeply_nested_mime_is_read_within_the_bound():
    parts = [b"From: a@goteborg.se\r\nSubject: nest\r\nMIME-Version: 1.0\r\n"]
    depth = 20_000
    for i in range(depth):
        parts.append(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i))
    parts.append(b"Content-Type: text/plain\r\n\r\nhej\r\n")
    parts.extend(b"--b%d--\r\n" % i for i in reversed(range(depth)))
    raw = b"".join(parts)
    started = time.perf_counter()
    msg = read_message(raw)
    assert time.perf_counter() - started < BOUND_SECONDS
    assert msg.subject == "nest"


def test_html_text_is_still_read_well():
    markup = ("<html><head><title>x</title><style>p{}</style></head><body><p>Hej &amp; "
              "v&auml;lkommen</p><div>Rad 2<br>Rad 3</div><script>bad()</script></body></html>")
    assert html_to_text(markup) == "Hej & välkommen\n\nRad 2\nRad 3"
    assert html_to_text("") == "" and html_to_text("bara text") == "bara text"
    assert html_to_text("<p>a\x00b</p>") == "ab"


def _many_attachments(count: int, template_at: int | None, template: bytes) -> bytes:
    parts = []
    for i in range(count):
        if i == template_at:
            data, name = template, "Avstegsrapport.docx"
        else:
            data, name = b"%PDF-1.4 bilaga " + str(i).encode(), f"bilaga-{i:03d}.pdf"
        parts.append(
            b"--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n"
            b'Content-Disposition: attachment; filename="' + name.encode() + b'"\r\n\r\n'
            + base64.encodebytes(data) + b"\r\n")
    return (b"From: a@trafikkontoret.goteborg.se\r\nSubject: Avsteg\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n"
            b"Hej\r\n" + b"".join(parts) + b"--b--\r\n")


def test_a_template_that_is_attachment_500_of_500_is_found():
    docx = E.dummy_docx()
    msg = read_message(_many_attachments(500, 499, docx))
    found = [a for a in msg.attachments if a.filename == "Avstegsrapport.docx"]
    assert len(found) == 1 and found[0].data == docx
    # ... and after 2,000 other files too; the other files stop at the part budget.
    msg = read_message(_many_attachments(2000, 1999, docx))
    assert [a.data for a in msg.attachments if a.filename == "Avstegsrapport.docx"] == [docx]
    assert len(msg.attachments) <= mail.MAX_PARTS + 1


def test_an_attachment_over_max_attachment_bytes_is_not_read_and_says_why():
    big = b"x" * 300_000
    msg = read_message(E.simple(big, "stor.pdf", content_type="application/pdf"),
                       max_attachment_bytes=100_000)
    [att] = msg.attachments
    assert att.data == b"" and att.problem and "större än" in att.problem
    assert read_message(E.simple(big, "stor.pdf", content_type="application/pdf")).attachments[0].data == big


def test_a_message_over_max_message_bytes_keeps_its_headers_only():
    raw = E.simple(b"y" * 2_000_000, "stor.pdf", content_type="application/pdf",
                   subject="Avstegsrapport stor")
    msg = read_message(raw, max_message_bytes=1024 * 1024)
    assert msg.subject == "Avstegsrapport stor" and msg.raw_size == len(raw)
    [att] = msg.attachments
    assert att.problem and "för stort" in att.problem and "1 MB" in att.problem

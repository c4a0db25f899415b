"""read_message on every shape of mail the mailbox gets (tests/support/emails.py)."""
from __future__ import annotations

import io
import time
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avsteg.parsers.mail.containers import TNEF_BROKEN, ZIP_PROBLEMS
from avsteg.parsers.mail.reader import MAX_PARTS, read_message
from tests.support import emails as E

DOCX_TYPE = E.DOCX


@pytest.fixture(scope="module")
def docx() -> bytes:
    return E.dummy_docx("Avsteg 1")


def files(msg):
    return [a for a in msg.attachments if not a.inline]


def test_simple_message_headers(docx):
    msg = read_message(E.simple(docx, extra={"Reply-To": "Svar <Svar@Trafikkontoret.GOTEBORG.se>",
                                             "Cc": "a@goteborg.se, B <b@GOTEBORG.SE>",
                                             "In-Reply-To": "<r1@x>",
                                             "References": "<r0@x> <r1@x>"}))
    assert msg.message_id == "simple-1@goteborg.se"
    assert msg.sender == "anna.svensson@trafikkontoret.goteborg.se"
    assert msg.sender_name == "Anna Svensson"
    assert msg.reply_to == "Svar@trafikkontoret.goteborg.se"
    assert msg.cc == ("a@goteborg.se", "b@goteborg.se")
    assert msg.to == (E.SERVICE,)
    assert msg.in_reply_to == ("r1@x",)
    assert msg.references == ("r0@x", "r1@x")
    assert msg.date == E.DATE and msg.date.tzinfo is not None
    assert msg.return_path is None
    assert msg.headers["subject"] == ("Avstegsrapport",)
    assert "Här kommer vår rapport" in msg.text and "\r" not in msg.text
    [att] = msg.attachments
    assert (att.filename, att.data, att.origin, att.inline) == ("Avstegsrapport.docx", docx, "", False)
    assert att.content_type == DOCX_TYPE
    assert len(att.sha256) == 64


def test_outlook_inline_image_is_marked_inline(docx):
    msg = read_message(E.outlook_inline_image(docx))
    inline = [a for a in msg.attachments if a.inline]
    assert [a.filename for a in inline] == ["image001.png"]
    assert inline[0].data == E.PNG_1X1
    [doc] = files(msg)
    assert doc.filename == "Avstegsrapport Trafikkontoret.docx" and doc.data == docx
    assert msg.text.startswith("Hej!\nBifogar rapporten.")  # plain text preferred over HTML


def test_apple_mail_rfc2231_continuations_and_nfd_name(docx):
    msg = read_message(E.apple_mail(docx))
    [doc] = files(msg)
    assert doc.filename == "Avstegsrapport för Stadsdel Örgryte-Härlanda.docx"  # NFC
    assert doc.data == docx and doc.origin == "" and not doc.inline
    assert msg.content_type == "multipart/alternative"
    assert msg.text == "Hej, här är rapporten."


def test_octet_stream_recognised_by_bytes_and_upper_case_name(docx):
    [doc] = read_message(E.octet_stream_upper(docx)).attachments
    assert doc.filename == "AVSTEGSRAPPORT.DOCX"
    assert doc.content_type == DOCX_TYPE
    assert doc.data == docx


def test_octet_stream_pdf_recognised():
    [pdf] = read_message(E.simple(E.dummy_pdf(), "scan", content_type="application/octet-stream")
                         ).attachments
    assert pdf.content_type == "application/pdf"


def test_zip_members_become_attachments(docx):
    raw = E.zipped(docx, member="mapp/Avstegsrapport.docx",
                   extra_members={"__MACOSX/._x": b"junk", "annat.xlsx": b"not really"})
    msg = read_message(raw)
    by_name = {a.filename: a for a in msg.attachments}
    assert set(by_name) == {"Avstegsrapport.docx", "annat.xlsx"}
    assert by_name["Avstegsrapport.docx"].origin == "rapporter.zip/mapp/"
    assert by_name["Avstegsrapport.docx"].data == docx
    assert by_name["Avstegsrapport.docx"].content_type == DOCX_TYPE
    assert by_name["annat.xlsx"].origin == "rapporter.zip/"


def test_zip_with_windows_oem_names(docx):
    # Windows' own zip writes names in cp850 without the UTF-8 flag: write a placeholder name of
    # the same length, then put the cp850 bytes in its place (local and central headers).
    oem = "Avstegsrapport_Älvstranden.docx".encode("cp850")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(zipfile.ZipInfo("x" * len(oem)), docx)
    patched = buf.getvalue().replace(b"x" * len(oem), oem)
    [att] = read_message(E.simple(patched, "arkiv.zip", content_type="application/zip")).attachments
    assert att.filename == "Avstegsrapport_Älvstranden.docx" and att.data == docx


def test_nested_zip_opened_one_level_only(docx):
    inner = E.zip_bytes({"mall.docx": docx})
    middle = E.zip_bytes({"inner.zip": inner, "b.docx": docx})
    msg = read_message(E.simple(middle, "yttre.zip", content_type="application/zip"))
    paths = sorted(a.path for a in msg.attachments)
    assert paths == ["yttre.zip/b.docx", "yttre.zip/inner.zip/mall.docx"]
    outer = E.zip_bytes({"middle.zip": middle})
    msg = read_message(E.simple(outer, "tre.zip", content_type="application/zip"))
    problems = {a.path: a.problem for a in msg.attachments}
    assert problems["tre.zip/middle.zip/inner.zip"] == ZIP_PROBLEMS["nested"]
    assert problems["tre.zip/middle.zip/b.docx"] is None


def _set_encrypted_flag(data: bytes) -> bytes:
    out = bytearray(data)
    for sig, flag_offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = out.find(sig)
        while pos != -1:
            out[pos + flag_offset] |= 0x01
            pos = out.find(sig, pos + 4)
    return bytes(out)


def test_encrypted_zip_becomes_problem_attachment(docx):
    locked = _set_encrypted_flag(E.zip_bytes({"mall.docx": docx}))
    [att] = read_message(E.simple(locked, "avsteg.zip", content_type="application/zip")).attachments
    assert att.filename == "avsteg.zip" and att.problem == ZIP_PROBLEMS["encrypted"]
    assert "lösenord" in att.problem


def test_zip_bomb_refused_from_directory():
    bomb = E.zip_bytes({"big.docx": b"\0" * (8 * 1024 * 1024)})
    assert len(bomb) < 100_000
    [att] = read_message(E.simple(bomb, "bomb.zip", content_type="application/zip")).attachments
    assert att.problem == ZIP_PROBLEMS["ratio"]


def test_forwarded_message_attachments_keep_origin(docx):
    msg = read_message(E.forwarded(docx))
    assert msg.forwarded
    assert msg.sender == "chef@trafikkontoret.goteborg.se"  # the reply goes to the forwarder
    [att] = msg.attachments
    assert (att.filename, att.origin, att.data) == ("Avstegsrapport.docx", "vidarebefordrat/", docx)
    assert msg.text == "Vidarebefordrar rapporten från min kollega."


def test_forward_of_a_forward_and_base64_encoded_rfc822(docx):
    inner = E.forwarded(docx)
    wrapped = E.simple(inner, "fwd.eml", content_type="message/rfc822")
    msg = read_message(wrapped)
    docs = [a for a in msg.attachments if a.data == docx]
    assert [a.origin for a in docs] == ["vidarebefordrat/"]


def test_tnef_builder_is_read_by_tnefparse(docx):
    from tnefparse.tnef import TNEF

    tnef = TNEF(E.tnef_bytes([("Avstegsrapport åäö.docx", docx)]))
    [att] = tnef.attachments
    assert att.long_filename() == "Avstegsrapport åäö.docx"
    assert att.data == docx


def test_winmail_dat_attachments(docx):
    msg = read_message(E.winmail(docx))
    [att] = msg.attachments
    assert att.filename == "Avstegsrapport Kretslopp och vatten.docx"
    assert att.origin == "winmail.dat/" and att.data == docx
    assert att.content_type == DOCX_TYPE


def test_broken_winmail_dat_is_a_problem(docx):
    broken = E.tnef_bytes([("a.docx", docx)])[:200]
    msg = read_message(E.winmail(docx, tnef=b"\x78\x9f\x3e\x22" + b"\xff" * 40))
    [att] = msg.attachments
    assert att.filename == "winmail.dat" and att.problem == TNEF_BROKEN
    msg = read_message(E.winmail(docx, tnef=broken))  # truncated: never raises
    assert all(a.data != docx for a in msg.attachments)


def test_smime_signed_reads_content_and_ignores_signature(docx):
    msg = read_message(E.smime_signed(docx))
    assert [a.filename for a in msg.attachments] == ["Avstegsrapport.docx"]
    assert msg.attachments[0].data == docx
    assert msg.text == "Signerad rapport."


def test_smime_encrypted_is_a_problem_attachment():
    msg = read_message(E.smime_encrypted())
    [att] = msg.attachments
    assert att.data == b"" and "krypterat" in att.problem


@pytest.mark.parametrize("charset", ["iso-8859-1", "windows-1252", "x-unknown"])
def test_latin1_windows1252_and_unknown_charsets(docx, charset):
    msg = read_message(E.latin1(docx, charset=charset))
    assert msg.subject == "Avstegsrapport för Älvstranden"
    assert msg.sender_name == "Åsa Löfgren"
    assert "åäö ÅÄÖ" in msg.text
    [att] = msg.attachments
    assert att.filename == "Avstegsrapport_Älvstranden.docx" and att.data == docx


def test_raw_8bit_utf8_headers(docx):
    raw = E.simple(docx).replace(b"Subject: Avstegsrapport",
                                 "Subject: Rättad avstegsrapport".encode())
    assert read_message(raw).subject == "Rättad avstegsrapport"


def test_missing_message_id_and_date(docx):
    msg = read_message(E.no_id_no_date(docx))
    assert msg.message_id is None and msg.date is None
    assert [a.data for a in msg.attachments] == [docx]


def test_broken_date_is_none(docx):
    raw = E.simple(docx).replace(b"Date: Thu, 05 Mar 2026", b"Date: torsdag i mars")
    assert read_message(raw).date is None


def test_bounce():
    msg = read_message(E.bounce())
    assert msg.return_path == "" and msg.content_type == "multipart/report"
    assert msg.sender == "MAILER-DAEMON@mx.goteborg.se"
    assert msg.attachments == ()


def test_pdf_and_nameless_part():
    msg = read_message(E.pdf_report(E.dummy_pdf()))
    [pdf] = msg.attachments
    assert (pdf.filename, pdf.content_type) == ("avstegsrapport.pdf", "application/pdf")
    nameless = E.simple(b"\x00\x01binary", "x.bin", content_type="application/octet-stream")
    nameless = nameless.replace(b'; filename="x.bin"', b"")
    [att] = read_message(nameless).attachments
    assert att.filename == "bilaga-1.bin" and att.data == b"\x00\x01binary"


def test_html_only_body_becomes_text():
    raw = (b"From: a@goteborg.se\r\nSubject: x\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
           b"<html><head><style>p{}</style></head><body><p>Hej &amp; v\xc3\xa4lkommen</p>"
           b"<p>Rad 2</p></body></html>")
    assert read_message(raw).text == "Hej & välkommen\n\nRad 2"


@pytest.mark.parametrize("raw", [
    b"", b"\x00\xff" * 100, b"garbage without headers", b"From: \r\n\r\n",
    b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\nContent-Type: message/rfc822\r\n\r\n",
    b"Content-Type: multipart/mixed\r\n\r\nno boundary", b"Content-Type: text/plain; charset=\xff\r\n\r\nx",
    b"Content-Type: multipart/mixed; boundary=a\r\n\r\n" + b"--a\r\nContent-Type: multipart/mixed; boundary=a\r\n\r\n" * 3000,
    b"Subject: =?utf-8?q?unterminated\r\nFrom: <<<@@@>>>\r\nDate: 99 Foo 99999\r\n\r\nx",
    b"Content-Disposition: attachment; filename*0*=bogus''%ZZ%; filename*1=x\r\n\r\nabc",
])
def test_never_raises_on_garbage(raw):
    msg = read_message(raw)
    assert msg.raw_size == len(raw)


def test_part_cap_and_speed():
    parts = b"".join(
        b"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; "
        b'filename="f%d.bin"\r\n\r\nxyz\r\n' % i for i in range(2000)
    )
    raw = b"From: a@goteborg.se\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n" + parts + b"--b--\r\n"
    start = time.perf_counter()
    msg = read_message(raw)
    elapsed = time.perf_counter() - start
    assert len(msg.attachments) < MAX_PARTS
    assert elapsed < 5


def test_large_attachment_round_trip():
    big = bytes(range(256)) * (20 * 1024 * 4)  # 20 MB
    raw = E.simple(big, "stor.bin", content_type="application/octet-stream")
    start = time.perf_counter()
    [att] = read_message(raw).attachments
    assert att.data == big
    assert time.perf_counter() - start < 10


def test_message_above_raw_cap_keeps_headers_and_says_why(docx, monkeypatch):
    from avsteg.parsers.mail import reader as mail  # the module itself: its cap is patched

    monkeypatch.setattr(mail, "MAX_RAW_BYTES", 10_000)
    msg = mail.read_message(E.simple(docx))
    assert msg.subject == "Avstegsrapport" and msg.message_id == "simple-1@goteborg.se"
    [att] = msg.attachments
    assert att.data == b"" and "för stort" in att.problem


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_never_raises_on_damaged_corpus_messages(docx, data):
    raw = bytearray(data.draw(st.sampled_from([
        E.outlook_inline_image(docx), E.apple_mail(docx), E.winmail(docx), E.forwarded(docx),
        E.zipped(docx), E.latin1(docx), E.smime_signed(docx), E.bounce(),
    ])))
    for _ in range(data.draw(st.integers(1, 20))):
        pos = data.draw(st.integers(0, len(raw) - 1))
        raw[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(raw) // 2, len(raw)))
    msg = read_message(bytes(raw[:cut]))
    assert msg.raw_size == cut
    assert all(a.filename for a in msg.attachments)

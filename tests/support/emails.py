"""Builders of raw emails shaped like the ones the mailbox really gets.

Each function returns the bytes of one message. Those that carry a file take its bytes as a
parameter, so pipeline tests can pass real templates (``avsteg.forms``) and unit tests can
pass :func:`dummy_docx`. Shapes: Outlook (inline signature image), Apple Mail (attachments inside
``multipart/alternative``, RFC 2231 names with continuations, decomposed Unicode), a phone's
``application/octet-stream`` with ``.DOCX``, a zip, a forward, ``winmail.dat``, S/MIME signed and
encrypted, Latin-1 and Windows-1252, no Message-ID/Date, a bounce, an out-of-office reply, a
newsletter, an outsider, a question without attachment, a PDF.
"""
from __future__ import annotations

import base64
import io
import struct
import unicodedata
import zipfile
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
SERVICE = "socialhansyn@ink.goteborg.se"
SENDER = "anna.svensson@trafikkontoret.goteborg.se"
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
DATE = datetime(2026, 3, 5, 9, 30, tzinfo=UTC)


def dummy_docx(text: str = "Avstegsrapport") -> bytes:
    """A small real .docx (python-docx) carrying the template's identifier and version."""
    from docx import Document

    doc = Document()
    doc.add_paragraph(text)
    doc.core_properties.identifier = "avstegsrapport"
    doc.core_properties.version = "1"
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def dummy_pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


def zip_bytes(members: dict[str, bytes], utf8_names: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 5, 9, 30, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    raw = buf.getvalue()
    return raw


def _headers(msg, *, sender: str, subject: str, message_id: str | None, date: datetime | None,
             to: str = SERVICE, sender_name: str | None = "Anna Svensson",
             extra: dict[str, str] | None = None) -> None:
    msg["From"] = formataddr((sender_name, sender)) if sender_name else sender
    msg["To"] = to
    msg["Subject"] = subject
    if date is not None:
        msg["Date"] = format_datetime(date)
    if message_id is not None:
        msg["Message-ID"] = f"<{message_id}>"
    msg["MIME-Version"] = "1.0"
    for name, value in (extra or {}).items():
        msg[name] = value


def _bytes(msg) -> bytes:
    return msg.as_bytes(policy=policy.SMTP)


def simple(attachment: bytes | None, filename: str = "Avstegsrapport.docx", *,
           sender: str = SENDER, sender_name: str | None = "Anna Svensson",
           subject: str = "Avstegsrapport",
           message_id: str | None = "simple-1@goteborg.se", date: datetime | None = DATE,
           content_type: str = DOCX, extra: dict[str, str] | None = None,
           body: str = "Hej! Här kommer vår rapport.\n/Anna") -> bytes:
    """A plain multipart/mixed message with one attachment (or none)."""
    msg = EmailMessage()
    _headers(msg, sender=sender, subject=subject, message_id=message_id, date=date, extra=extra,
             sender_name=sender_name)
    msg.set_content(body)
    if attachment is not None:
        maintype, subtype = content_type.split("/", 1)
        msg.add_attachment(attachment, maintype=maintype, subtype=subtype, filename=filename)
    return _bytes(msg)


def outlook_inline_image(docx: bytes, filename: str = "Avstegsrapport Trafikkontoret.docx",
                         **kw) -> bytes:
    """Outlook: mixed[related[alternative[plain, html], image001.png inline], docx]."""
    outer = MIMEMultipart("mixed")
    _headers(outer, sender=kw.get("sender", SENDER), subject=kw.get("subject", "Avsteg mars"),
             message_id=kw.get("message_id", "outlook-1@goteborg.se"), date=DATE)
    related = MIMEMultipart("related")
    alt = MIMEMultipart("alternative")
    alt.attach(MIMEText("Hej!\nBifogar rapporten.\n\nMed vänlig hälsning\nAnna", "plain", "utf-8"))
    alt.attach(MIMEText('<html><body><p>Hej!</p><p>Bifogar rapporten.</p>'
                        '<img src="cid:image001.png@01DA"></body></html>', "html", "utf-8"))
    related.attach(alt)
    img = MIMEBase("image", "png", name="image001.png")
    img.set_payload(base64.encodebytes(PNG_1X1).decode())
    img["Content-Transfer-Encoding"] = "base64"
    img["Content-ID"] = "<image001.png@01DA>"
    img["Content-Disposition"] = 'inline; filename="image001.png"'
    related.attach(img)
    outer.attach(related)
    att = MIMEApplication(docx, _subtype=DOCX.split("/")[1])
    att.add_header("Content-Disposition", "attachment", filename=("utf-8", "", filename))
    outer.attach(att)
    return _bytes(outer)


def _rfc2231_continued(param: str, value: str, chunk: int = 20) -> str:
    """``filename*0*=utf-8''…; filename*1*=…`` as Apple Mail writes long non-ASCII names."""
    from urllib.parse import quote

    encoded = quote(value.encode("utf-8"), safe="")
    parts = []
    pieces = [encoded[i:i + chunk] for i in range(0, len(encoded), chunk)]
    # never split a %XX escape between pieces
    fixed: list[str] = []
    carry = ""
    for p in pieces:
        p = carry + p
        cut = p.rfind("%")
        if cut != -1 and cut > len(p) - 3:
            p, carry = p[:cut], p[cut:]
        else:
            carry = ""
        fixed.append(p)
    if carry:
        fixed.append(carry)
    for i, piece in enumerate(fixed):
        prefix = "utf-8''" if i == 0 else ""
        parts.append(f"{param}*{i}*={prefix}{piece}")
    return ";\r\n\t".join(parts)


def apple_mail(docx: bytes, filename: str = "Avstegsrapport för Stadsdel Örgryte-Härlanda.docx",
               **kw) -> bytes:
    """Apple Mail: alternative[plain, related[mixed[html, docx inline, html]]]; NFD names."""
    name = unicodedata.normalize("NFD", filename)
    b64 = base64.encodebytes(docx).decode().replace("\n", "\r\n")
    boundary_a, boundary_r, boundary_m = "Apple-Mail=_A1", "Apple-Mail=_R2", "Apple-Mail=_M3"
    head = EmailMessage()
    _headers(head, sender=kw.get("sender", SENDER), subject=kw.get("subject", "Rapport avsteg"),
             message_id=kw.get("message_id", "apple-1@goteborg.se"), date=DATE)
    lines = [
        head.as_string(policy=policy.SMTP).rstrip("\r\n"),
        f'Content-Type: multipart/alternative; boundary="{boundary_a}"', "",
        f"--{boundary_a}",
        "Content-Type: text/plain; charset=utf-8", "Content-Transfer-Encoding: 8bit", "",
        "Hej, här är rapporten.", "",
        f"--{boundary_a}",
        f'Content-Type: multipart/related; type="text/html"; boundary="{boundary_r}"', "",
        f"--{boundary_r}",
        f'Content-Type: multipart/mixed; boundary="{boundary_m}"', "",
        f"--{boundary_m}",
        "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit", "",
        "<html><body>Hej, här är rapporten.</body></html>",
        f"--{boundary_m}",
        "Content-Disposition: inline;\r\n\t" + _rfc2231_continued("filename", name),
        f"Content-Type: {DOCX};\r\n\t" + _rfc2231_continued("name", name),
        "Content-Transfer-Encoding: base64", "",
        b64.rstrip("\r\n"),
        f"--{boundary_m}",
        "Content-Type: text/html; charset=utf-8", "Content-Transfer-Encoding: 8bit", "",
        "<html><body>/Anna</body></html>",
        f"--{boundary_m}--", "",
        f"--{boundary_r}--", "",
        f"--{boundary_a}--", "",
    ]
    return "\r\n".join(lines).encode("utf-8")


def octet_stream_upper(docx: bytes, filename: str = "AVSTEGSRAPPORT.DOCX", **kw) -> bytes:
    """A phone's mail app: application/octet-stream and an upper-case name."""
    kw.setdefault("message_id", "phone-1@goteborg.se")
    return simple(docx, filename, content_type="application/octet-stream", **kw)


def zipped(docx: bytes, member: str = "Avstegsrapport.docx", zipname: str = "rapporter.zip",
           *, extra_members: dict[str, bytes] | None = None, **kw) -> bytes:
    data = zip_bytes({member: docx, **(extra_members or {})})
    kw.setdefault("message_id", "zip-1@goteborg.se")
    return simple(data, zipname, content_type="application/zip", **kw)


def forwarded(docx: bytes, filename: str = "Avstegsrapport.docx", *,
              forwarder: str = "chef@trafikkontoret.goteborg.se", **kw) -> bytes:
    """A person forwards (as attachment) a colleague's message that carries the template."""
    inner = simple(docx, filename, sender="kollega@trafikkontoret.goteborg.se",
                   message_id="inner-1@goteborg.se", subject="Avstegsrapport")
    msg = EmailMessage()
    _headers(msg, sender=forwarder, sender_name="Chef Chefsson",
             subject=kw.get("subject", "VB: Avstegsrapport"),
             message_id=kw.get("message_id", "fwd-1@goteborg.se"), date=DATE)
    msg.set_content("Vidarebefordrar rapporten från min kollega.")
    from email import message_from_bytes

    msg.add_attachment(message_from_bytes(inner, policy=policy.default), filename="Avstegsrapport.eml")
    return _bytes(msg)


# --- TNEF (winmail.dat) ---------------------------------------------------------------------

def _tnef_attr(level: int, name: int, atype: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, atype, len(data)) + data + struct.pack("<H", checksum)


def _mapi_unicode(prop_id: int, value: str) -> bytes:
    raw = value.encode("utf-16-le") + b"\x00\x00"
    pad = (-len(raw)) % 4
    return struct.pack("<HHII", 0x001F, prop_id, 1, len(raw)) + raw + b"\x00" * pad


def tnef_bytes(files: list[tuple[str, bytes]], body: str = "Hej, rapporten bifogas.") -> bytes:
    """A minimal valid TNEF stream (what Outlook sends as winmail.dat) holding ``files``.

    Layout (MS-OXTNEF): signature, key, attTnefVersion, attOemCodepage, attMessageClass, then
    per file attAttachRendData (opens an attachment), attAttachTitle (8.3 name, cp1252),
    attAttachData (the bytes) and attAttachment (MAPI props: PR_ATTACH_LONG_FILENAME, Unicode).
    """
    out = struct.pack("<IH", 0x223E9F78, 0x0001)
    out += _tnef_attr(1, 0x9006, 0x0008, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += _tnef_attr(1, 0x9007, 0x0006, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += _tnef_attr(1, 0x8008, 0x0007, b"IPM.Microsoft Mail.Note\x00")  # attMessageClass
    out += _tnef_attr(1, 0x800C, 0x0002, body.encode("cp1252") + b"\x00")  # attBody
    for name, data in files:
        short = name.encode("cp1252", "replace")[:12] + b"\x00"
        out += _tnef_attr(2, 0x9002, 0x0006, b"\x01\x00\xff\xff\xff\xff" + b"\x00" * 8)
        out += _tnef_attr(2, 0x8010, 0x0001, short)
        out += _tnef_attr(2, 0x800F, 0x0006, data)
        props = struct.pack("<I", 1) + _mapi_unicode(0x3707, name)
        out += _tnef_attr(2, 0x9005, 0x0006, props)
    return out


def winmail(docx: bytes, filename: str = "Avstegsrapport Kretslopp och vatten.docx", *,
            tnef: bytes | None = None, **kw) -> bytes:
    """Outlook with rich text: the attachment is inside winmail.dat (application/ms-tnef)."""
    data = tnef if tnef is not None else tnef_bytes([(filename, docx)])
    msg = EmailMessage()
    _headers(msg, sender=kw.get("sender", SENDER), subject=kw.get("subject", "Avstegsrapport"),
             message_id=kw.get("message_id", "tnef-1@goteborg.se"), date=DATE)
    msg.set_content("Hej, rapporten bifogas.")
    msg.add_attachment(data, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return _bytes(msg)


# --- S/MIME ---------------------------------------------------------------------------------

def smime_signed(docx: bytes, filename: str = "Avstegsrapport.docx", **kw) -> bytes:
    """multipart/signed: the content (text + template) and a detached smime.p7s."""
    outer = MIMEMultipart("signed", protocol="application/pkcs7-signature", micalg="sha-256")
    _headers(outer, sender=kw.get("sender", SENDER), subject=kw.get("subject", "Avstegsrapport"),
             message_id=kw.get("message_id", "signed-1@goteborg.se"), date=DATE)
    content = MIMEMultipart("mixed")
    content.attach(MIMEText("Signerad rapport.", "plain", "utf-8"))
    att = MIMEApplication(docx, _subtype=DOCX.split("/")[1])
    att.add_header("Content-Disposition", "attachment", filename=filename)
    content.attach(att)
    outer.attach(content)
    sig = MIMEApplication(b"0\x82\x01\x00fake-pkcs7-signature", _subtype="pkcs7-signature",
                          name="smime.p7s")
    sig.add_header("Content-Disposition", "attachment", filename="smime.p7s")
    outer.attach(sig)
    return _bytes(outer)


def smime_encrypted(**kw) -> bytes:
    """An opaque application/pkcs7-mime enveloped message: nothing inside can be read."""
    msg = MIMEApplication(b"0\x80\x06\x09*\x86H\x86\xf7\r\x01\x07\x03encrypted", _subtype="pkcs7-mime",
                          name="smime.p7m")
    msg.set_param("smime-type", "enveloped-data")
    msg.add_header("Content-Disposition", "attachment", filename="smime.p7m")
    _headers(msg, sender=kw.get("sender", SENDER), subject=kw.get("subject", "Avstegsrapport"),
             message_id=kw.get("message_id", "enc-1@goteborg.se"), date=DATE)
    return _bytes(msg)


# --- charsets and missing headers -----------------------------------------------------------

def latin1(docx: bytes, filename: str = "Avstegsrapport_Älvstranden.docx",
           charset: str = "iso-8859-1", **kw) -> bytes:
    """Subject as an ISO-8859-1 encoded word, 8-bit body in ``charset``, RFC 2047 file name."""
    body = "Hej!\nHär är rapporten för Älvstranden – åäö ÅÄÖ.\n".encode(
        "cp1252" if charset.lower() in ("windows-1252", "x-unknown") else "latin-1",
        "replace")
    b64 = base64.encodebytes(docx).decode().replace("\n", "\r\n").rstrip()
    enc_name = "=?iso-8859-1?q?" + "".join(
        c if c.isalnum() and ord(c) < 128 else f"={b:02X}" for c, b in
        zip(filename, filename.encode("latin-1"))) + "?="
    lines = [
        "From: =?iso-8859-1?q?=C5sa_L=F6fgren?= <asa.lofgren@alvstranden.goteborg.se>",
        f"To: {SERVICE}",
        "Subject: =?iso-8859-1?q?Avstegsrapport_f=F6r_=C4lvstranden?=",
        f"Date: {format_datetime(DATE)}",
        f"Message-ID: <{kw.get('message_id', 'latin1-1@goteborg.se')}>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/mixed; boundary="b1"', "", "--b1",
        f"Content-Type: text/plain; charset={charset}", "Content-Transfer-Encoding: 8bit", "",
    ]
    tail = [
        "--b1", f'Content-Type: {DOCX}; name="{enc_name}"',
        f'Content-Disposition: attachment; filename="{enc_name}"',
        "Content-Transfer-Encoding: base64", "", b64, "--b1--", "",
    ]
    return ("\r\n".join(lines) + "\r\n").encode("ascii") + body + (
        "\r\n" + "\r\n".join(tail)).encode("ascii")


def no_id_no_date(docx: bytes, **kw) -> bytes:
    return simple(docx, message_id=None, date=None, **kw)


# --- mail we must not answer ----------------------------------------------------------------

def bounce(original_subject: str = "Re: Avstegsrapport", **kw) -> bytes:
    """A delivery report (multipart/report) from MAILER-DAEMON with a null return path."""
    lines = [
        "Return-Path: <>",
        "From: Mail Delivery System <MAILER-DAEMON@mx.goteborg.se>",
        f"To: {SERVICE}",
        "Subject: Undelivered Mail Returned to Sender",
        f"Date: {format_datetime(DATE)}",
        f"Message-ID: <{kw.get('message_id', 'bounce-1@mx.goteborg.se')}>",
        "MIME-Version: 1.0",
        'Content-Type: multipart/report; report-type=delivery-status; boundary="r1"', "",
        "--r1", "Content-Type: text/plain; charset=us-ascii", "",
        "This is the mail system. Your message could not be delivered.", "",
        "--r1", "Content-Type: message/delivery-status", "",
        "Reporting-MTA: dns; mx.goteborg.se", "",
        "Final-Recipient: rfc822; nobody@goteborg.se", "Action: failed", "Status: 5.1.1", "",
        "--r1", "Content-Type: text/rfc822-headers", "",
        f"From: {SERVICE}", f"Subject: {original_subject}", "",
        "--r1--", "",
    ]
    return "\r\n".join(lines).encode("ascii")


def out_of_office(**kw) -> bytes:
    return simple(None, subject="Automatiskt svar: Avstegsrapport",
                  message_id=kw.get("message_id", "ooo-1@goteborg.se"),
                  body="Jag är på semester till och med vecka 32.",
                  extra={"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"})


def newsletter(**kw) -> bytes:
    return simple(None, sender="nyheter@upphandling.goteborg.se", sender_name="Nyheter",
                  subject="Nyhetsbrev mars",
                  message_id=kw.get("message_id", "news-1@goteborg.se"), body="Nyheter.",
                  extra={"List-Id": "Nyheter <nyheter.goteborg.se>", "Precedence": "bulk",
                         "List-Unsubscribe": "<mailto:unsubscribe@goteborg.se>"})


def outsider(docx: bytes, **kw) -> bytes:
    return simple(docx, sender="kalle.anka@gmail.com", sender_name="Kalle Anka",
                  message_id=kw.get("message_id", "outsider-1@gmail.com"))


def human_question(**kw) -> bytes:
    return simple(None, subject="Fråga om avsteg", message_id=kw.get("message_id", "q-1@goteborg.se"),
                  body="Hej! Måste vi rapportera ett avsteg om leverantören själv anställer?")


def pdf_report(pdf: bytes, filename: str = "avstegsrapport.pdf", **kw) -> bytes:
    return simple(pdf, filename, content_type="application/pdf", subject=kw.get("subject", "Rapport"),
                  message_id=kw.get("message_id", "pdf-1@goteborg.se"))

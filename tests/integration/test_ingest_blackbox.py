"""Issue #3 as an outsider checks it: `avsteg ingest --json` on mail shaped like real clients'.

Nothing here comes from the project's own mail builders: every message is written out by hand,
header by header, the way Outlook 365, Outlook's TNEF (winmail.dat), Apple Mail, Gmail,
Thunderbird, phones, Exchange (bounces, out-of-office) and list servers write them. Templates are
made with `avsteg template` and filled with python-docx/openpyxl. Binary oddities (a
password-protected .docx, a .doc, a zip bomb, a PDF) are built by the small writers below. The
messages run through the real command in a subprocess, in the order a mailbox would deliver them,
and each JSON line and reply .eml is checked against spec section 3.
"""
from __future__ import annotations

import base64
import email
import email.policy
import io
import json
import os
import random
import re
import struct
import subprocess
import sys
import unicodedata
import urllib.parse
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path

import docx
import openpyxl
import pytest

pytestmark = pytest.mark.integration


def noise(size: int, *, seed: int) -> bytes:
    """Random-looking bytes that are the same on every run (fixed seeds, honest reruns)."""
    return random.Random(seed).randbytes(size)

SERVICE = "socialhansyn@ink.goteborg.se"
NOW = datetime.now(UTC).replace(microsecond=0)
DATE = format_datetime(NOW)
YEAR = NOW.year
REF = re.compile(rf"AVS-{YEAR}-\d{{4}}")
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


# --- templates: `avsteg template`, then filled as a person does --------------------------------

def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "avsteg", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


def luhn_orgnr(base9: str) -> str:
    digits = [int(c) for c in base9]
    total = sum(d if i % 2 else (2 * d if 2 * d < 10 else 2 * d - 9) for i, d in enumerate(digits))
    return f"{base9[:6]}-{base9[6:]}{(10 - total % 10) % 10}"


def report_values(org: str = "Stadsmiljöförvaltningen") -> dict[str, object]:
    return {"Typ av rapport": ["Händelserapport"], "Förvaltning/bolag": org,
            "Kontaktperson": "Åsa Öberg", "E-post": "asa.oberg@stadsmiljo.goteborg.se",
            "Telefon": "031-365 10 00", "Datum": f"{YEAR}-03-05"}


def deviation(procurement: str, supplier: str, jobs: str = "3", **extra: object) -> dict[str, object]:
    values: dict[str, object] = {
        "Upphandling/avtal": procurement, "Diarienummer": "SMF 2025-01234", "Leverantör": supplier,
        "Leverantörens organisationsnummer": luhn_orgnr("556036079"),
        "Avtalet gäller från": f"{YEAR - 1}-01-01", "Avtalet gäller till": f"{YEAR + 1}-12-31",
        "Datum för avsteget": f"5 mars {YEAR}", "Skäl till avsteg": "Leverantören hade egen modell.",
        "Modell som använts i stället": "Arbetsmarknadsenhetens modell",
        "Typ av insats": ["Praktik"], "Målgrupp": ["Nyanlända", "Unga"],
        "Antal arbetstillfällen": jobs, "varav anställningar": "1", "varav praktikplatser": "2",
    }
    values.update(extra)
    return values


def _label(text: str) -> str:
    return text.split("\n")[0].replace("*", "").strip().rstrip(":")


def fill_docx(blank: bytes, report: dict, deviations: list[dict]) -> bytes:
    doc = docx.Document(io.BytesIO(blank))
    tables = doc.tables
    for table, values in zip(tables, [report, *deviations]):
        for row in table.rows:
            label, cell = _label(row.cells[0].text), row.cells[1]
            if label not in values:
                continue
            value = values[label]
            if isinstance(value, list):  # mark the chosen boxes ☐ → ☒
                for p in cell.paragraphs:
                    option = p.text.replace("☐", "").strip()
                    if option in value:
                        for run in p.runs:
                            run.text = run.text.replace("☐", "☒")
            else:
                cell.paragraphs[0].text = str(value)
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def fill_xlsx(blank: bytes, report: dict, deviations: list[dict]) -> bytes:
    wb = openpyxl.load_workbook(io.BytesIO(blank))
    ws = wb["Rapport"]
    for row in ws.iter_rows(min_col=1, max_col=2):
        label = _label(str(row[0].value or ""))
        if label in report:
            value = report[label]
            row[1].value = "; ".join(value) if isinstance(value, list) else value
    ws = wb["Avsteg"]
    headers = [_label(str(c.value or "")) for c in ws[1]]
    for n, values in enumerate(deviations, start=2):
        for col, label in enumerate(headers, start=1):
            if label in values:
                value = values[label]
                ws.cell(n, col).value = ", ".join(value) if isinstance(value, list) else value
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


# --- binary oddities ---------------------------------------------------------------------------

def cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal but well-formed OLE compound file (MS-CFB v3) with the given streams.

    Each stream is padded to at least 4096 bytes so it lives in regular sectors (no mini stream).
    """
    names = list(streams)
    sectors: list[bytes] = []
    fat: list[int] = [0xFFFFFFFD, 0xFFFFFFFE]  # sector 0: the FAT, sector 1: the directory
    starts = []
    for name in names:
        data = streams[name].ljust(4096, b"\0")
        streams[name] = data
        count = -(-len(data) // 512)
        start = 2 + len(sectors)
        starts.append(start)
        for i in range(count):
            sectors.append(data[i * 512:(i + 1) * 512].ljust(512, b"\0"))
            fat.append(start + i + 1 if i < count - 1 else 0xFFFFFFFE)
    assert len(fat) <= 128 and len(names) <= 3

    def entry(name: str, kind: int, left: int, right: int, child: int, start: int, size: int) -> bytes:
        raw = (name + "\0").encode("utf-16-le") if name else b""
        return (raw.ljust(64, b"\0") + struct.pack("<HBB", len(raw), kind, 1)
                + struct.pack("<III", left, right, child) + b"\0" * 16 + b"\0" * 4 + b"\0" * 16
                + struct.pack("<IQ", start, size))

    none = 0xFFFFFFFF
    # red-black tree by (length, upper-case name); a chain to the right is a valid tree
    order = sorted(range(len(names)), key=lambda i: (len(names[i]), names[i].upper()))
    entries = [entry("Root Entry", 5, none, none, order[0] + 1, 0xFFFFFFFE, 0)]
    for i, name in enumerate(names):
        pos = order.index(i)
        right = order[pos + 1] + 1 if pos + 1 < len(order) else none
        entries.append(entry(name, 2, none, right, none, starts[i], len(streams[name])))
    while len(entries) < 4:
        entries.append(b"\0" * 64 + struct.pack("<HBB", 0, 0, 0)
                       + struct.pack("<III", none, none, none) + b"\0" * 48)
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 16
              + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
              + struct.pack("<I", 0) + b"\xff" * 4 * 108)
    fat_sector = b"".join(struct.pack("<I", v) for v in fat).ljust(512, b"\xff")
    return header + fat_sector + b"".join(entries) + b"".join(sectors)


def encrypted_docx() -> bytes:
    """What Word writes for "Kryptera med lösenord": an OLE file holding EncryptedPackage."""
    info = struct.pack("<HHI", 4, 4, 0x40) + b"<?xml version=\"1.0\"?><encryption/>"
    return cfb({"EncryptionInfo": info, "EncryptedPackage": struct.pack("<Q", 9000) + noise(9000, seed=1)})


def legacy_doc() -> bytes:
    fib = struct.pack("<HH", 0xA5EC, 0x00C1) + b"\0" * 60
    return cfb({"WordDocument": fib, "1Table": b"\0" * 10})


def pdf(text: str) -> bytes:
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream"]
    out, offsets = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", []
    for i, body in enumerate(objs, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    return out + b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)


def zip_of(members: dict[str, bytes], utf8_names: bool = True) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(2026, 3, 5, 10, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            if not utf8_names:  # Windows Explorer: cp437/cp850 names, no UTF-8 flag
                info.filename = name.encode("cp850").decode("cp437")
            zf.writestr(info, data)
    return out.getvalue()


def zip_bomb() -> bytes:
    """One member that inflates 1000:1 to 200 MB, the kind that takes a naive reader down."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        with zf.open("Avstegsrapport.docx", "w", force_zip64=True) as fh:
            chunk = b"\0" * (1 << 20)
            for _ in range(200):
                fh.write(chunk)
    return out.getvalue()


def tnef(files: list[tuple[str, bytes]], subject: str) -> bytes:
    """An Outlook winmail.dat (MS-OXTNEF), laid out as Outlook writes it for a rich-text mail."""

    def attr(level: int, ident: int, data: bytes) -> bytes:
        return struct.pack("<BII", level, ident, len(data)) + data + struct.pack("<H", sum(data) & 0xFFFF)

    def dtr(d: datetime) -> bytes:
        return struct.pack("<7H", d.year, d.month, d.day, d.hour, d.minute, d.second, (d.weekday() + 1) % 7)

    def mapi(props: list[tuple[int, int, bytes]]) -> bytes:
        out = struct.pack("<I", len(props))
        for ptype, pid, value in props:
            out += struct.pack("<HH", ptype, pid)
            if ptype in (0x0003,):
                out += value
            else:
                out += struct.pack("<II", 1, len(value)) + value + b"\0" * (-len(value) % 4)
        return out

    rtf = b"{\\rtf1\\ansi\\ansicpg1252 Hej! H\\'e4r \\'e4r rapporten.\\par}"
    rtf_comp = struct.pack("<IIII", len(rtf) + 12, len(rtf), 0x414C454D, 0) + rtf  # "MELA": stored
    out = struct.pack("<IH", 0x223E9F78, 0x1D2A)
    out += attr(1, 0x00089006, struct.pack("<I", 0x00010000))  # attTnefVersion
    out += attr(1, 0x00069007, struct.pack("<II", 1252, 0))  # attOemCodepage
    out += attr(1, 0x00078008, b"IPM.Note\0")  # attMessageClass
    out += attr(1, 0x00018004, subject.encode("cp1252") + b"\0")  # attSubject
    out += attr(1, 0x00038005, dtr(NOW))  # attDateSent
    out += attr(1, 0x00069003, mapi([(0x0102, 0x1009, rtf_comp),  # PR_RTF_COMPRESSED
                                      (0x0003, 0x3FDE, struct.pack("<I", 28591))]))
    for name, data in files:
        short = (re.sub(r"[^A-Za-z0-9]", "", name.rsplit(".", 1)[0]).upper()[:6] + "~1."
                 + name.rsplit(".", 1)[1].upper()[:3])
        out += attr(2, 0x00069002, struct.pack("<HIHHI", 1, 0xFFFFFFFF, 0, 0, 0))  # attAttachRendData
        out += attr(2, 0x00018010, short.encode("cp1252") + b"\0")  # attAttachTitle (8.3)
        out += attr(2, 0x00038012, dtr(NOW))
        out += attr(2, 0x00038013, dtr(NOW))
        out += attr(2, 0x0006800F, data)  # attAttachData
        out += attr(2, 0x00069005, mapi([  # attAttachment
            (0x0003, 0x3705, struct.pack("<I", 1)),  # PR_ATTACH_METHOD = by value
            (0x001F, 0x3707, (name + "\0").encode("utf-16-le")),  # PR_ATTACH_LONG_FILENAME
            (0x001F, 0x3703, ("." + name.rsplit(".", 1)[1] + "\0").encode("utf-16-le")),
            (0x001E, 0x370E, DOCX_TYPE.encode() + b"\0"),  # PR_ATTACH_MIME_TAG
            (0x0003, 0x0E20, struct.pack("<I", len(data))),  # PR_ATTACH_SIZE
            (0x0003, 0x370B, struct.pack("<I", 0xFFFFFFFF)),  # PR_RENDERING_POSITION
        ]))
    return out


# --- MIME writing, the way the clients do it ---------------------------------------------------

def b64(data: bytes) -> str:
    text = base64.b64encode(data).decode()
    return "\r\n".join(text[i:i + 76] for i in range(0, len(text), 76))


def qp_latin1(text: str) -> str:
    import quopri

    return quopri.encodestring(text.replace("\n", "\r\n").encode("latin-1")).decode()


def rfc2047_b(text: str) -> str:
    return "=?utf-8?B?" + base64.b64encode(text.encode()).decode() + "?="


def rfc2231(text: str) -> str:
    return "utf-8''" + urllib.parse.quote(text, safe="")


def headers(frm: str, subject: str, msgid: str | None, *, to: str = SERVICE, extra: str = "") -> str:
    lines = [f"From: {frm}", f"To: {to}", f"Subject: {subject}", f"Date: {DATE}"]
    if msgid:
        lines.append(f"Message-ID: <{msgid}>")
    return "\r\n".join(lines) + "\r\n" + extra + "MIME-Version: 1.0\r\n"


def outlook365(frm: str, subject: str, msgid: str, files: list[tuple[str, bytes, str]],
               extra: str = "", rfc2231_names: bool = True) -> bytes:
    """Outlook 365/2016: mixed > related > alternative, a signature logo by cid:, attachments."""
    atts = ""
    for name, data, ctype in files:
        cd = (f"attachment;\r\n\tfilename*={rfc2231(name)}" if rfc2231_names else
              f'attachment; filename="{rfc2047_b(name)}";\r\n\tsize={len(data)};\r\n'
              f'\tcreation-date="{DATE}";\r\n\tmodification-date="{DATE}"')
        atts += (f"--_004_mixed_\r\nContent-Type: {ctype};\r\n\tname=\"{rfc2047_b(name)}\"\r\n"
                 f"Content-Description: {rfc2047_b(name)}\r\nContent-Disposition: {cd}\r\n"
                 f"Content-Transfer-Encoding: base64\r\n\r\n{b64(data)}\r\n\r\n")
    text = headers(frm, subject, msgid, extra=(
        "Thread-Topic: Avstegsrapport\r\nThread-Index: AdqXyZ1234567890abcdef==\r\n"
        "Accept-Language: sv-SE, en-US\r\nContent-Language: sv-SE\r\nX-MS-Has-Attach: yes\r\n"
        "X-MS-TNEF-Correlator:\r\nmsip_labels:\r\n" + extra)) + (
        'Content-Type: multipart/mixed;\r\n\tboundary="_004_mixed_"\r\n\r\n'
        "--_004_mixed_\r\nContent-Type: multipart/related;\r\n\tboundary=\"_003_related_\";\r\n"
        '\ttype="multipart/alternative"\r\n\r\n'
        "--_003_related_\r\nContent-Type: multipart/alternative;\r\n\tboundary=\"_000_alt_\"\r\n\r\n"
        "--_000_alt_\r\nContent-Type: text/plain; charset=\"iso-8859-1\"\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp_latin1("Hej!\n\nHär kommer vår avstegsrapport.\n\nMed vänlig hälsning\nÅsa\n")
        + "\r\n--_000_alt_\r\nContent-Type: text/html; charset=\"iso-8859-1\"\r\n"
        "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
        + qp_latin1('<html><body><p>Hej!</p><p>Här kommer vår avstegsrapport.</p>'
                    '<img src="cid:image001.png@01DA6F2B.5C1E2A10"></body></html>')
        + "\r\n--_000_alt_--\r\n\r\n"
        "--_003_related_\r\nContent-Type: image/png; name=\"image001.png\"\r\n"
        "Content-Description: image001.png\r\n"
        "Content-Disposition: inline; filename=\"image001.png\"; size=70\r\n"
        "Content-ID: <image001.png@01DA6F2B.5C1E2A10>\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + b64(PNG) + "\r\n\r\n--_003_related_--\r\n\r\n" + atts + "--_004_mixed_--\r\n")
    return text.encode("ascii")


def simple(frm: str, subject: str, msgid: str | None, files: list[tuple[str, bytes, str]] = (),
           *, extra: str = "", body: str = "Hej, se bifogad fil.\n", disposition: str = "attachment",
           top: str = "multipart/mixed") -> bytes:
    """Thunderbird / phones: one text part and the files, RFC 2231 names."""
    parts = [f"Content-Type: text/plain; charset=UTF-8; format=flowed\r\n"
             f"Content-Transfer-Encoding: 8bit\r\n\r\n{body}"]
    for name, data, ctype in files:
        parts.append(f"Content-Type: {ctype}; name=\"{rfc2047_b(name)}\"\r\n"
                     f"Content-Disposition: {disposition}; filename*={rfc2231(name)}\r\n"
                     f"Content-Transfer-Encoding: base64\r\n\r\n{b64(data)}\r\n")
    body_text = "".join(f"--------------B0undary\r\n{p}\r\n" for p in parts)
    return (headers(frm, subject, msgid, extra=extra)
            + f'Content-Type: {top}; boundary="------------B0undary"\r\n\r\n'
            "This is a multi-part message in MIME format.\r\n"
            + body_text + "--------------B0undary--\r\n").encode("utf-8")


def apple_mail(frm: str, subject: str, msgid: str, name: str, data: bytes) -> bytes:
    """Apple Mail: alternative > (plain, mixed > (html, inline attachment, html)), NFD names."""
    nfd = unicodedata.normalize("NFD", name)
    return (headers(frm, subject, msgid, extra="X-Mailer: Apple Mail (2.3774.300.61.1.2)\r\n")
            + 'Content-Type: multipart/alternative;\r\n\tboundary="Apple-Mail=_ALT"\r\n\r\n'
            "--Apple-Mail=_ALT\r\nContent-Transfer-Encoding: quoted-printable\r\n"
            "Content-Type: text/plain;\r\n\tcharset=utf-8\r\n\r\nHej!=0A=0ARapporten bifogas.=0A\r\n"
            "--Apple-Mail=_ALT\r\nContent-Type: multipart/mixed;\r\n\tboundary=\"Apple-Mail=_MIX\"\r\n\r\n"
            "--Apple-Mail=_MIX\r\nContent-Transfer-Encoding: 7bit\r\n"
            "Content-Type: text/html;\r\n\tcharset=us-ascii\r\n\r\n<html><body>Hej!<br></body></html>\r\n"
            "--Apple-Mail=_MIX\r\nContent-Disposition: inline;\r\n\t"
            f"filename*={rfc2231(nfd)}\r\nContent-Type: {DOCX_TYPE};\r\n\tx-unix-mode=0644;\r\n"
            f"\tname=\"{rfc2047_b(nfd)}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64(data)}\r\n"
            "--Apple-Mail=_MIX\r\nContent-Transfer-Encoding: 7bit\r\n"
            "Content-Type: text/html;\r\n\tcharset=us-ascii\r\n\r\n<html><body><br>/Per</body></html>\r\n"
            "--Apple-Mail=_MIX--\r\n\r\n--Apple-Mail=_ALT--\r\n").encode("ascii")


def gmail_forward(frm: str, msgid: str, name: str, data: bytes) -> bytes:
    body = ("---------- Forwarded message ---------\r\nFr=C3=A5n: Kalle Ek <kalle.ek@goteborg.se>\r\n"
            f"Date: ons 4 mars {YEAR} 10:12\r\nSubject: Avstegsrapport\r\nTo: Per <per@goteborg.se>\r\n")
    return (headers(frm, "Fwd: Avstegsrapport", msgid)
            + 'Content-Type: multipart/mixed; boundary="000000000000a1b2c3"\r\n\r\n'
            '--000000000000a1b2c3\r\nContent-Type: multipart/alternative; boundary="000000000000a1b2c2"\r\n\r\n'
            '--000000000000a1b2c2\r\nContent-Type: text/plain; charset="UTF-8"\r\n'
            f"Content-Transfer-Encoding: quoted-printable\r\n\r\n{body}\r\n"
            '--000000000000a1b2c2\r\nContent-Type: text/html; charset="UTF-8"\r\n\r\n'
            '<div dir="ltr"><div class="gmail_quote">---------- Forwarded message ---------</div></div>\r\n'
            "--000000000000a1b2c2--\r\n"
            f'--000000000000a1b2c3\r\nContent-Type: {DOCX_TYPE}; \r\n\tname="{name}"\r\n'
            f'Content-Disposition: attachment; filename="{name}"\r\nContent-Transfer-Encoding: base64\r\n'
            f"Content-ID: <f_m1abc0>\r\nX-Attachment-Id: f_m1abc0\r\n\r\n{b64(data)}\r\n"
            "--000000000000a1b2c3--\r\n").encode("ascii")


def outlook_forward_as_attachment(frm: str, msgid: str, inner: bytes) -> bytes:
    return (headers(frm, "VB: Avstegsrapport Park", msgid)
            + 'Content-Type: multipart/mixed;\r\n\tboundary="_002_fwd_"\r\n\r\n'
            '--_002_fwd_\r\nContent-Type: text/plain; charset="us-ascii"\r\n\r\nSe bifogat.\r\n\r\n'
            '--_002_fwd_\r\nContent-Type: message/rfc822\r\n'
            'Content-Disposition: attachment;\r\n\tcreation-date="Thu, 05 Mar 2026 10:00:00 GMT"\r\n\r\n'
            ).encode("ascii") + inner + b"\r\n--_002_fwd_--\r\n"


def smime_signed(frm: str, msgid: str, name: str, data: bytes) -> bytes:
    inner = ('Content-Type: multipart/mixed;\r\n\tboundary="_inner_"\r\n\r\n'
             '--_inner_\r\nContent-Type: text/plain; charset="us-ascii"\r\n\r\nRapport bifogas.\r\n\r\n'
             f'--_inner_\r\nContent-Type: {DOCX_TYPE}; name="{name}"\r\n'
             f'Content-Disposition: attachment; filename="{name}"\r\n'
             f"Content-Transfer-Encoding: base64\r\n\r\n{b64(data)}\r\n\r\n--_inner_--\r\n")
    sig = b"\x30\x82\x05\x00\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x07\x02" + noise(600, seed=2)
    return (headers(frm, "Avstegsrapport (signerad)", msgid)
            + 'Content-Type: multipart/signed;\r\n\tprotocol="application/x-pkcs7-signature";\r\n'
            '\tmicalg=SHA1; boundary="----=_NextPart_000_0007"\r\n\r\n'
            "This is a multipart message in MIME format.\r\n\r\n------=_NextPart_000_0007\r\n"
            + inner + "\r\n------=_NextPart_000_0007\r\n"
            'Content-Type: application/x-pkcs7-signature; name="smime.p7s"\r\n'
            "Content-Transfer-Encoding: base64\r\n"
            'Content-Disposition: attachment; filename="smime.p7s"\r\n\r\n'
            + b64(sig) + "\r\n\r\n------=_NextPart_000_0007--\r\n").encode("ascii")


def winmail(frm: str, msgid: str, name: str, data: bytes) -> bytes:
    return (headers(frm, "Avstegsrapport", msgid, extra="X-MS-Has-Attach: yes\r\nX-MS-TNEF-Correlator: <00000000A1B2@goteborg.se>\r\n")
            + 'Content-Type: multipart/mixed;\r\n\tboundary="_000_tnef_"\r\n\r\n'
            '--_000_tnef_\r\nContent-Type: text/plain; charset="iso-8859-1"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n" + qp_latin1("Hej! Här är rapporten.\n")
            + '\r\n--_000_tnef_\r\nContent-Type: application/ms-tnef; name="winmail.dat"\r\n'
            'Content-Disposition: attachment; filename="winmail.dat"\r\n'
            "Content-Transfer-Encoding: base64\r\n\r\n" + b64(tnef([(name, data)], "Avstegsrapport"))
            + "\r\n\r\n--_000_tnef_--\r\n").encode("ascii")


def bounce(msgid: str, original: bytes) -> bytes:
    return (b"Return-Path: <>\r\n" + headers(
        "Mail Delivery System <MAILER-DAEMON@mx1.goteborg.se>", "Undelivered Mail Returned to Sender",
        msgid, extra="Auto-Submitted: auto-replied\r\n").encode()
        + b'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="B1"\r\n\r\n'
        b"--B1\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver your message.\r\n"
        b"--B1\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx1.goteborg.se\r\n\r\n"
        b"Final-Recipient: rfc822; nobody@goteborg.se\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        b"--B1\r\nContent-Type: message/rfc822\r\n\r\n" + original + b"\r\n--B1--\r\n")


def exchange_ndr(msgid: str, original: bytes) -> bytes:
    """Exchange Online's NDR: no MAILER-DAEMON and, saved from a mailbox, no Return-Path either."""
    return (headers("Microsoft Outlook <MicrosoftExchange329e71ec88ae4615bbc36ab6ce41109e@goteborg.se>",
                    "Det gick inte att leverera: Avstegsrapport", msgid,
                    extra="X-MS-Exchange-Message-Is-Ndr:\r\nContent-Language: sv-SE\r\n").encode()
            + b'Content-Type: multipart/report; report-type=delivery-status;\r\n\tboundary="_ndr_"\r\n\r\n'
            b"--_ndr_\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nLeveransen misslyckades.\r\n"
            b"--_ndr_\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns;x.outlook.com\r\n\r\n"
            b"--_ndr_\r\nContent-Type: message/rfc822\r\n\r\n" + original + b"\r\n--_ndr_--\r\n")


# --- the corpus and what spec 3 demands of each message ------------------------------------------

@dataclass
class Case:
    name: str
    raw: bytes
    outcome: str
    refs: int = 0  # number of distinct references expected
    reply: bool = False
    to: str | None = None  # where the reply must go
    mentions: list[str] = field(default_factory=list)  # text the reply must contain
    same_refs_as: str | None = None  # the references must equal those of this earlier case
    errors: list[tuple[str, int | None]] = field(default_factory=list)  # (label, deviation)


def gbg(name: str) -> str:
    return f"{name}@goteborg.se"


@pytest.fixture(scope="module")
def blanks(tmp_path_factory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("blanks")
    out = {}
    for fmt, kind in (("docx", "event"), ("xlsx", "annual"), ("docx", "annual")):
        path = folder / f"{kind}.{fmt}"
        done = _cli("template", "--format", fmt, "--kind", kind, "-o", str(path))
        assert done.returncode == 0, done.stderr
        out[f"{kind}.{fmt}"] = path.read_bytes()
    return out


def annual_values() -> dict[str, object]:
    values = report_values("Park- och naturförvaltningen")
    values.update({"Typ av rapport": ["Helårsrapport"], "Rapportår": str(YEAR)})
    return values


def xxe_docx(valid: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(valid))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "word/document.xml":
                data = data.replace(b"?>", b'?><!DOCTYPE w [<!ENTITY x SYSTEM "file:///etc/passwd">]>', 1)
                data = data.replace("Stadsmiljöförvaltningen".encode(), b"&x;", 1)
            dst.writestr(info, data)
    return out.getvalue()


def ingest(files: list[Path], db: str, outbox: Path, env: dict[str, str] | None = None) -> list[dict]:
    done = _cli("ingest", *map(str, files), "--db", db, "--outbox", str(outbox), "--json", env=env)
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    assert len(lines) == len(files), done.stdout + done.stderr
    assert all(set(r) == {"file", "message_id", "outcome", "references", "errors",
                         "reason", "reply"}
               for r in lines)
    return lines


def read_reply(path: str) -> email.message.EmailMessage:
    return email.message_from_bytes(Path(path).read_bytes(), policy=email.policy.default)


def check(case: Case, result: dict, seen: dict[str, dict], service: str = SERVICE) -> list[str]:
    """Every way ``result`` (one JSON line and its reply) falls short of ``case``."""
    bad = []
    if result["outcome"] != case.outcome:
        bad.append(f"outcome {result['outcome']} != {case.outcome}")
    refs = result["references"]
    if case.same_refs_as is not None:
        if refs != seen[case.same_refs_as]["references"]:
            bad.append(f"references {refs} != those of {case.same_refs_as}")
    elif len(set(refs)) != case.refs or not all(REF.fullmatch(r) for r in refs):
        bad.append(f"references {refs}, expected {case.refs} new AVS-{YEAR}-NNNN")
    if case.outcome == "rejected" and not result["errors"]:
        bad.append("rejected without saying why (errors is empty)")
    if any(set(e) != {"field", "deviation", "label", "message"} or not e["message"]
           for e in result["errors"]):
        bad.append(f"malformed errors {result['errors']}")
    for label, number in case.errors:
        if not any(e["label"] == label and e["deviation"] == number for e in result["errors"]):
            bad.append(f"no error for {label!r} (avsteg {number}) in {result['errors']}")
    if not case.reply:
        if result["reply"] is not None:
            bad.append(f"unexpected reply {result['reply']}")
        return bad
    if result["reply"] is None:
        return bad + ["no reply"]
    reply = read_reply(result["reply"])
    original = email.message_from_bytes(case.raw, policy=email.policy.compat32)
    if reply["Auto-Submitted"] != "auto-replied":
        bad.append("reply not Auto-Submitted: auto-replied")
    if service.casefold() not in str(reply["From"]).casefold():
        bad.append(f"reply From {reply['From']}")
    to = str(reply["To"])
    if case.to and case.to.casefold() != reply["To"].addresses[0].addr_spec.casefold():
        bad.append(f"reply To {to!r}, expected {case.to}")
    mailboxes = reply["To"].addresses
    if len(mailboxes) != 1 or reply["Bcc"] or reply["Cc"] or "\n" in to:
        bad.append(f"header injection in the reply: {to!r}")
    subject = str(reply["Subject"])
    if not subject.startswith(("Re:", "RE:", "SV:")):
        bad.append(f"reply subject {subject!r}")
    msgid = original["Message-ID"]
    if msgid and (reply["In-Reply-To"] != msgid.strip() or msgid.strip() not in str(reply["References"])):
        bad.append(f"not threaded: In-Reply-To {reply['In-Reply-To']} References {reply['References']}")
    part = reply.get_body(("plain",))
    if part is None or part.get_content_charset() != "utf-8":
        return bad + ["no plain UTF-8 text part"]
    text = part.get_content()
    for ref in refs:
        if ref not in text:
            bad.append(f"{ref} not in the reply")
    for needle in case.mentions:
        if needle.casefold() not in text.casefold():
            bad.append(f"{needle!r} not in the reply")
    for label, number in case.errors:
        line = next((ln for ln in text.splitlines() if label in ln), "")
        if not line or (number and f"Avsteg {number}" not in line):
            bad.append(f"reply has no line for {label!r} (Avsteg {number})")
    if case.outcome == "rejected" and "registrerat" not in text and "registrerats" not in text:
        bad.append("error reply does not say that nothing was registered")
    return bad


def run_corpus(cases: list[Case], folder: Path, db: str, seen: dict[str, dict],
               env: dict[str, str] | None = None, service: str = SERVICE) -> list[str]:
    files = []
    folder.mkdir(parents=True, exist_ok=True)
    for i, case in enumerate(cases):
        path = folder / f"{len(seen) + i:03d}-{case.name}.eml"
        path.write_bytes(case.raw)
        files.append(path)
    outbox = folder / "outbox"
    before = len(list(outbox.glob("*.eml"))) if outbox.exists() else 0
    results = ingest(files, db, outbox, env)
    failures = []
    written = len(list(outbox.glob("*.eml"))) - before if outbox.exists() else 0
    if written != sum(r["reply"] is not None for r in results):
        failures.append(f"{written} replies written, {sum(r['reply'] is not None for r in results)} reported")
    for case, result in zip(cases, results):
        seen[case.name] = result
        failures += [f"{case.name}: {p}" for p in check(case, result, seen, service)]
    return failures


def test_ingest_corpus(blanks: dict[str, bytes], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'register.sqlite'}"
    seen: dict[str, dict] = {}

    def event(tag: str, org: str = "Stadsmiljöförvaltningen", **changes: object) -> bytes:
        return fill_docx(blanks["event.docx"], report_values(org),
                         [deviation(f"Parkskötsel {tag}", f"Grönt & Skönt {tag} AB", **changes)])

    docs = {t: event(t) for t in ("o365", "o2016", "apple", "gmail", "fwd", "tnef", "mobile",
                                  "latin", "smime", "zip", "two", "mixed", "inject", "noid", "oof2",
                                  "fwd2", "nob", "unk", "raw8", "future")}
    annual = fill_xlsx(blanks["annual.xlsx"], annual_values(),
                       [deviation("Fordonstvätt", "Tvätt AB", "4"), deviation("Catering", "Mat AB", "0",
                        **{"varav anställningar": "0", "varav praktikplatser": "0"})])
    invalid = event("fel", **{"Leverantör": "", "Leverantörens organisationsnummer": "556036-0790",
                              "varav anställningar": "5"})
    kalle = "Kalle Ek <kalle.ek@goteborg.se>"
    inner = simple(kalle, "Avstegsrapport Park", "inner-1@goteborg.se",
                   [("Avstegsrapport Park.docx", docs["fwd"], DOCX_TYPE)])
    good = "Händelserapport"
    cases = [
        Case("outlook365", outlook365(f"{rfc2047_b('Åsa Öberg')} <{gbg('asa.oberg')}>", "Avstegsrapport mars",
                                      "AM0PR01MB1234.eurprd01.prod.outlook.com@goteborg.se",
                                      [("Avstegsrapport händelse.docx", docs["o365"], DOCX_TYPE)]),
             "registered", 1, True, gbg("asa.oberg"),
             ["Stadsmiljöförvaltningen", good, str(YEAR), "Parkskötsel o365", "Grönt & Skönt o365 AB"]),
        Case("outlook2016-reply-to", outlook365(
            f"=?iso-8859-1?Q?=D6berg=2C_=C5sa?= <{gbg('asa.oberg')}>", "=?iso-8859-1?Q?Avstegsrapport_f=F6r_mars?=",
            "o2016-1@goteborg.se", [("Avstegsrapport – mars.docx", docs["o2016"], DOCX_TYPE)],
            extra=f"Reply-To: {gbg('registrator.smf')}\r\n", rfc2231_names=False),
            "registered", 1, True, gbg("registrator.smf"), ["Parkskötsel o2016"]),
        Case("apple-mail", apple_mail("Per Holm <per.holm@ink.goteborg.se>", "Rapport", "APPLE-1@ink.goteborg.se",
                                      "Händelserapport – återvinning.docx", docs["apple"]),
             "registered", 1, True, "per.holm@ink.goteborg.se", ["Parkskötsel apple"]),
        Case("gmail-forward", gmail_forward(f"Per <{gbg('per')}>", "CAGmail1@mail.gmail.com",
                                            "Avstegsrapport.docx", docs["gmail"]),
             "registered", 1, True, gbg("per"), ["Parkskötsel gmail"]),
        Case("outlook-forward-as-attachment", outlook_forward_as_attachment(f"Per <{gbg('per')}>", "fwd-1@goteborg.se", inner),
             "registered", 1, True, gbg("per"), ["Parkskötsel fwd"]),
        Case("winmail-dat", winmail(f"Lena <{gbg('lena')}>", "tnef-1@goteborg.se", "Händelserapport avsteg.docx", docs["tnef"]),
             "registered", 1, True, gbg("lena"), ["Parkskötsel tnef"]),
        Case("thunderbird-xlsx-annual", simple(f"Ola <{gbg('ola')}>", "Helårsrapport avsteg", "tb-1@goteborg.se",
                                               [(f"Årsrapport avsteg {YEAR}.xlsx", annual, XLSX_TYPE)],
                                               extra="User-Agent: Mozilla Thunderbird\r\n"),
             "registered", 1, True, gbg("ola"), ["Helårsrapport", "Fordonstvätt", "Catering", "Tvätt AB", "Mat AB"]),
        Case("android-octet-stream", simple("Per.Persson@GOTEBORG.SE", "avsteg", "android-1@goteborg.se",
                                            [("AVSTEG.DOCX", docs["mobile"], "application/octet-stream")]),
             "registered", 1, True, "per.persson@goteborg.se", ["Parkskötsel mobile"]),
        Case("latin1-8bit", (f"From: Åke Lind <{gbg('ake.lind')}>\r\nTo: {SERVICE}\r\n"
                             f"Subject: Avstegsrapport för Kultur\r\nDate: {DATE}\r\nMessage-ID: <latin-1@goteborg.se>\r\n"
                             "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"L\"\r\n\r\n"
                             "--L\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
                             "Content-Transfer-Encoding: quoted-printable\r\n\r\n"
                             + qp_latin1("Hej, här är vår rapport. Hälsningar Åke\n")
                             + f"\r\n--L\r\nContent-Type: {DOCX_TYPE}; name=\"rapport_kultur.docx\"\r\n"
                             "Content-Disposition: attachment; filename=\"rapport_kultur.docx\"\r\n"
                             f"Content-Transfer-Encoding: base64\r\n\r\n{b64(docs['latin'])}\r\n--L--\r\n"
                             ).encode("latin-1"),
             "registered", 1, True, gbg("ake.lind"), ["Parkskötsel latin"]),
        Case("smime-signed", smime_signed(f"Eva <{gbg('eva.10')}>", "smime-1@goteborg.se", "Avstegsrapport.docx", docs["smime"]),
             "registered", 1, True, gbg("eva.10"), ["Parkskötsel smime"]),
        Case("zip-windows", simple(f"Eva <{gbg('eva.11')}>", "Rapporter", "zip-1@goteborg.se",
                                   [("Rapporter.zip", zip_of({"Avstegsrapport för park.docx": docs["zip"],
                                                              "__MACOSX/._x.docx": b"\0\5\26\7"}, utf8_names=False),
                                     "application/x-zip-compressed")]),
             "registered", 1, True, gbg("eva.11"), ["Parkskötsel zip"]),
        Case("two-templates", simple(f"Eva <{gbg('eva.12')}>", "Två rapporter", "two-1@goteborg.se",
                                     [("Avsteg park.docx", docs["two"], DOCX_TYPE),
                                      ("Avsteg år.xlsx", fill_xlsx(blanks["annual.xlsx"], annual_values(),
                                                                   [deviation("Snöröjning", "Snö AB")]), XLSX_TYPE)]),
             "registered", 2, True, gbg("eva.12"), ["Parkskötsel two", "Snöröjning"]),
        Case("one-good-one-bad", simple(f"Eva <{gbg('eva.13')}>", "Avsteg", "mixed-1@goteborg.se",
                                        [("bra.docx", docs["mixed"], DOCX_TYPE), ("dålig.docx", invalid, DOCX_TYPE)]),
             "registered", 1, True, gbg("eva.13"), ["Parkskötsel mixed", "dålig.docx"],
             errors=[("Leverantör", 1)]),
        Case("invalid-template", simple(f"Eva <{gbg('eva.14')}>", "Avsteg", "invalid-1@goteborg.se",
                                        [("Avstegsrapport.docx", invalid, DOCX_TYPE)]),
             "rejected", 0, True, gbg("eva.14"), ["Avstegsrapport.docx"],
             errors=[("Leverantör", 1), ("Leverantörens organisationsnummer", 1)]),
        Case("password-protected", outlook365(f"Eva <{gbg('eva.15')}>", "Avstegsrapport", "enc-1@goteborg.se",
                                              [("Avstegsrapport.docx", encrypted_docx(), DOCX_TYPE)]),
             "rejected", 0, True, gbg("eva.15"), ["lösenord"]),
        Case("zip-bomb", simple(f"Eva <{gbg('eva.16')}>", "Rapport", "bomb-1@goteborg.se",
                                [("avsteg.zip", zip_bomb(), "application/zip")]),
             "rejected", 0, True, gbg("eva.16"), [".docx"]),
        Case("truncated-docx", simple(f"Eva <{gbg('eva.17')}>", "Avstegsrapport", "trunc-1@goteborg.se",
                                      [("Avstegsrapport.docx", docs["o365"][: len(docs["o365"]) // 2], DOCX_TYPE)]),
             "rejected", 0, True, gbg("eva.17"), ["skadad"]),
        Case("pdf", simple(f"Eva <{gbg('eva.18')}>", "Rapport", "pdf-1@goteborg.se",
                           [("Avstegsrapport.pdf", pdf("Avstegsrapport"), "application/pdf")]),
             "rejected", 0, True, gbg("eva.18"), ["PDF", ".docx"]),
        Case("legacy-doc", simple(f"Eva <{gbg('eva.19')}>", "Avstegsrapport", "doc-1@goteborg.se",
                                  [("Avstegsrapport.doc", legacy_doc(), "application/msword")]),
             "rejected", 0, True, gbg("eva.19"), [".doc", ".docx"]),
        Case("xxe-docx", simple(f"Eva <{gbg('eva.20')}>", "Avstegsrapport", "xxe-1@goteborg.se",
                                [("avsteg.docx", xxe_docx(docs["o365"]), DOCX_TYPE)]),
             "rejected", 0, True, gbg("eva.20"), [".docx"]),
        Case("exe-as-docx", simple(f"Eva <{gbg('eva.21')}>", "Avstegsrapport", "exe-1@goteborg.se",
                                   [("Avstegsrapport.docx", b"MZ\x90\0" + noise(2000, seed=3), DOCX_TYPE)]),
             "rejected", 0, True, gbg("eva.21"), [".docx"]),
        Case("photo-of-paper", simple(f"Eva <{gbg('eva.22')}>", "Avstegsrapport", "photo-1@goteborg.se",
                                      [("IMG_2041.JPG", PNG, "image/jpeg")], extra="X-Mailer: iPhone Mail (21E236)\r\n"),
             "rejected", 0, True, gbg("eva.22"), [".docx"]),
        Case("bounce", bounce("bounce-1@mx1.goteborg.se", inner), "ignored"),
        Case("exchange-ndr", exchange_ndr("ndr-1@goteborg.se", inner), "ignored"),
        Case("read-receipt", headers(f"Eva <{gbg('eva.25')}>", "Läst: Avstegsrapport", "mdn-1@goteborg.se").encode()
             + b'Content-Type: multipart/report; report-type=disposition-notification; boundary="M"\r\n\r\n'
               b"--M\r\nContent-Type: text/plain\r\n\r\nLast.\r\n--M\r\n"
               b"Content-Type: message/disposition-notification\r\n\r\nDisposition: manual-action/MDN-sent-manually; displayed\r\n"
               b"--M--\r\n", "ignored"),
        Case("oof-exchange", outlook365(f"Eva <{gbg('eva.26')}>", "Automatiskt svar: Avstegsrapport", "oof-1@goteborg.se",
                                        [("Avstegsrapport.docx", docs["oof2"], DOCX_TYPE)],
                                        extra="Auto-Submitted: auto-generated\r\nX-Auto-Response-Suppress: All\r\n"
                                              "X-MS-Exchange-Generated-Message-Source: Mailbox Rules Agent\r\n"),
             "ignored"),
        Case("oof-legacy", outlook365(f"Eva <{gbg('eva.27')}>", "Automatiskt svar: Avstegsrapport", "oof-2@goteborg.se",
                                      [("semester.pdf", pdf("Semester"), "application/pdf")],
                                      extra="X-Auto-Response-Suppress: All\r\n"), "ignored"),
        Case("newsletter-with-template", simple(f"Nyhetsbrev <{gbg('nyhetsbrev')}>", "Ny mall för avstegsrapport",
                                                "news-1@goteborg.se", [("Avstegsrapport.docx", docs["o365"][:0] + event("news"), DOCX_TYPE)],
                                                extra="List-Unsubscribe: <mailto:unsub@goteborg.se>\r\nPrecedence: bulk\r\n"),
             "ignored"),
        Case("outsider-gmail", simple("Kalle <kalle.anka@gmail.com>", "Avstegsrapport", "out-1@mail.gmail.com",
                                      [("Avstegsrapport.docx", event("gmailcom"), DOCX_TYPE)]), "ignored"),
        Case("spoofed-display-name", simple(f'"{gbg("eva.30")}" <eva@evilgoteborg.se>', "Avstegsrapport", "spoof-1@x.se",
                                            [("Avstegsrapport.docx", event("spoof"), DOCX_TYPE)]), "ignored"),
        Case("own-address", simple(f"Stödfunktionen <{SERVICE}>", "Re: Avstegsrapport", "own-1@ink.goteborg.se",
                                   [("Avstegsrapport.docx", event("own"), DOCX_TYPE)]), "ignored"),
        Case("reply-to-outside", simple(f"Eva <{gbg('eva.32')}>", "Avstegsrapport", "rto-1@goteborg.se",
                                        [("Avstegsrapport.docx", event("rto"), DOCX_TYPE)],
                                        extra="Reply-To: eva.privat@hotmail.com\r\n"), "ignored"),
        Case("question", simple(f"Eva <{gbg('eva.33')}>", "Fråga om avsteg", "q-1@goteborg.se", body="Hur gör jag?\n"),
             "ignored"),
        Case("unrelated-attachment", simple(f"Eva <{gbg('eva.34')}>", "Semesterlista", "sem-1@goteborg.se",
                                            [("Semester.xlsx", blanks["annual.xlsx"][:0] + _plain_xlsx(), XLSX_TYPE)]),
             "ignored"),
        Case("header-injection", simple(f"{rfc2047_b('Eva' + chr(13) + chr(10) + 'Bcc: evil@gmail.com')} <{gbg('eva.35')}>",
                                        rfc2047_b("Avsteg\r\nBcc: evil@gmail.com"), "inj-1@goteborg.se",
                                        [("Avsteg.docx", docs["inject"], DOCX_TYPE)]),
             "registered", 1, True, gbg("eva.35"), ["Parkskötsel inject"]),
        Case("own-word-document", simple(f"Eva <{gbg('eva.w')}>", "Avsteg", "word-1@goteborg.se",
                                         [("Avsteg Park.docx", _plain_docx(), DOCX_TYPE)]),
             "rejected", 0, True, gbg("eva.w"), ["mall"]),
        Case("signature-logo-only", outlook365(f"Eva <{gbg('eva.l')}>", "Avstegsrapport kommer snart",
                                               "logo-1@goteborg.se", []), "ignored"),
        Case("smime-opaque-signed", headers(f"Eva <{gbg('eva.o')}>", "Avstegsrapport", "p7m-1@goteborg.se").encode()
             + b'Content-Type: application/pkcs7-mime; smime-type=signed-data; name="smime.p7m"\r\n'
               b'Content-Disposition: attachment; filename="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
             + b64(b"\x30\x82\x10\x00" + noise(3000, seed=4)).encode() + b"\r\n",
             "rejected", 0, True, gbg("eva.o"), ["sign"]),
        Case("smime-encrypted", headers(f"Eva <{gbg('eva.e')}>", "Avstegsrapport", "p7e-1@goteborg.se").encode()
             + b'Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name="smime.p7m"\r\n'
               b'Content-Disposition: attachment; filename="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\n\r\n'
             + b64(b"\x30\x82\x10\x00" + noise(3000, seed=5)).encode() + b"\r\n",
             "rejected", 0, True, gbg("eva.e"), ["krypter"]),
        Case("forward-of-forward", outlook_forward_as_attachment(
            f"Chef <{gbg('chef')}>", "fwd-2@goteborg.se",
            outlook_forward_as_attachment(f"Per <{gbg('per.f')}>", "fwd-3@goteborg.se",
                                          simple(kalle, "Avsteg", "inner-2@goteborg.se",
                                                 [("Avsteg.docx", docs["fwd2"], DOCX_TYPE)]))),
             "registered", 1, True, gbg("chef"), ["Parkskötsel fwd2"]),
        Case("missing-final-boundary", simple(f"Eva <{gbg('eva.b')}>", "Avsteg", "nob-1@goteborg.se",
                                              [("Avsteg.docx", docs["nob"], DOCX_TYPE)]).rsplit(b"--------------B0undary--", 1)[0],
             "registered", 1, True, gbg("eva.b"), ["Parkskötsel nob"]),
        Case("unknown-reference-in-subject", simple(f"Eva <{gbg('eva.u')}>", "Rättelse AVS-2019-0042", "unk-1@goteborg.se",
                                                    [("Avsteg.docx", docs["unk"], DOCX_TYPE)]),
             "registered", 1, True, gbg("eva.u"), ["Parkskötsel unk"]),
        Case("raw-utf8-filename", simple(f"Eva <{gbg('eva.r')}>", "Rapport", "raw8-1@goteborg.se",
                                         [("Avstegsrapport för park.docx", docs["raw8"], DOCX_TYPE)])
             .replace(rfc2231("Avstegsrapport för park.docx").encode(), '"Avstegsrapport för park.docx"'.encode())
             .replace(b"filename*=", b"filename="),
             "registered", 1, True, gbg("eva.r"), ["Avstegsrapport för park.docx"]),
        Case("date-in-the-future", simple(f"Eva <{gbg('eva.f')}>", "Avsteg", "future-1@goteborg.se",
                                          [("Avsteg.docx", docs["future"], DOCX_TYPE)])
             .replace(DATE.encode(), b"Fri, 01 Jan 2100 10:00:00 +0100"),
             "registered", 1, True, gbg("eva.f"), ["Parkskötsel future"]),
        Case("no-message-id", simple(f"Eva <{gbg('eva.36')}>", "Avsteg", None, [("Avsteg.docx", docs["noid"], DOCX_TYPE)]),
             "registered", 1, True, gbg("eva.36"), ["Parkskötsel noid"]),
    ]
    failures = run_corpus(cases, tmp_path, db, seen)
    assert seen["no-message-id"]["message_id"] is None
    assert seen["outlook365"]["message_id"].strip("<>") == "AM0PR01MB1234.eurprd01.prod.outlook.com@goteborg.se"
    all_refs = [r for res in seen.values() for r in res["references"]]
    assert len(all_refs) == len(set(all_refs)), "a reference number was handed out twice"

    # --- phase 2: the same things again, and corrections --------------------------------------
    receipt = read_reply(seen["outlook365"]["reply"])
    ref1 = seen["outlook365"]["references"][0]
    corrected = event("o365", **{"Antal arbetstillfällen": "7", "varav anställningar": "3"})
    apple_ref = seen["apple-mail"]["references"][0]
    gmail_receipt = read_reply(seen["gmail-forward"]["reply"])
    redelivered = b"Received: from mx2.goteborg.se by mx1; " + DATE.encode() + b"\r\n" + cases[0].raw
    cases2 = [
        Case("same-message-again", cases[0].raw, "duplicate", same_refs_as="outlook365"),
        Case("same-message-id-redelivered", redelivered, "duplicate", same_refs_as="outlook365"),
        Case("same-file-new-message", simple(f"Åsa <{gbg('asa.oberg')}>", "Avstegsrapport igen", "again-1@goteborg.se",
                                             [("kopia.docx", docs["o365"], DOCX_TYPE)]),
             "duplicate", reply=True, to=gbg("asa.oberg"), same_refs_as="outlook365", mentions=[ref1]),
        Case("correction-in-reply-to", outlook365(
            f"{rfc2047_b('Åsa Öberg')} <{gbg('asa.oberg')}>", f"SV: {receipt['Subject']}", "corr-1@goteborg.se",
            [("Avstegsrapport rättad.docx", corrected, DOCX_TYPE)],
            extra=f"In-Reply-To: {receipt['Message-ID']}\r\nReferences: {receipt['References']} {receipt['Message-ID']}\r\n"),
             "new_version", reply=True, to=gbg("asa.oberg"), same_refs_as="outlook365", mentions=["version 2", "7"]),
        Case("correction-by-subject", simple("Per Holm <per.holm@ink.goteborg.se>", f"Rättelse {apple_ref}",
                                             "corr-2@ink.goteborg.se", [("rättad.docx", event("apple", jobs="9"), DOCX_TYPE)]),
             "new_version", reply=True, to="per.holm@ink.goteborg.se", same_refs_as="apple-mail", mentions=["version 2"]),
        Case("invalid-correction", simple(f"Per <{gbg('per')}>", f"Re: {gmail_receipt['Subject']}", "corr-3@goteborg.se",
                                          [("Avstegsrapport.docx", invalid, DOCX_TYPE)],
                                          extra=f"In-Reply-To: {gmail_receipt['Message-ID']}\r\n"),
             "rejected", reply=True, to=gbg("per"), errors=[("Leverantör", 1)]),
        Case("pdf-in-reply-to-receipt", simple("Per Holm <per.holm@ink.goteborg.se>",
                                               f"SV: {read_reply(seen['apple-mail']['reply'])['Subject']}",
                                               "pdfre-1@ink.goteborg.se", [("scan.pdf", pdf("Rapport"), "application/pdf")]),
             "rejected", reply=True, to="per.holm@ink.goteborg.se", mentions=["PDF"]),
        Case("newsletter-again", cases[[c.name for c in cases].index("newsletter-with-template")].raw, "ignored"),
    ]
    failures += run_corpus(cases2, tmp_path, db, seen)

    # --- phase 3: policy from the environment ---------------------------------------------
    env = {"AVSTEG_POLICY__ALLOWED_SENDER_DOMAINS": '["goteborg.se", "gmail.com"]',
           "AVSTEG_POLICY__SERVICE_ADDRESS": "avsteg@test.goteborg.se"}
    cases3 = [
        Case("gmail-allowed-by-env", simple("Kalle <kalle.anka@gmail.com>", "Avstegsrapport", "out-2@mail.gmail.com",
                                            [("Avstegsrapport.docx", event("gmail2"), DOCX_TYPE)]),
             "registered", 1, True, "kalle.anka@gmail.com"),
        Case("new-own-address", simple("avsteg@test.goteborg.se", "Avsteg", "own-2@test.goteborg.se",
                                       [("Avstegsrapport.docx", event("own2"), DOCX_TYPE)]), "ignored"),
        Case("hotmail-still-outside", simple("x@hotmail.com", "Avsteg", "hot-1@hotmail.com",
                                             [("Avstegsrapport.docx", event("hot"), DOCX_TYPE)]), "ignored"),
    ]
    failures += run_corpus(cases3, tmp_path / "p3", db, seen, env=env, service="avsteg@test.goteborg.se")
    assert not failures, "\n".join(failures)


def _plain_docx() -> bytes:
    """A Word document someone wrote themselves instead of filling in the template."""
    doc = docx.Document()
    doc.add_paragraph("Avsteg i parkupphandlingen: leverantören anställde tre personer via AMF.")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def _plain_xlsx() -> bytes:
    wb = openpyxl.Workbook()
    wb.active.append(["Namn", "Vecka"])
    wb.active.append(["Eva", 29])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def test_replies_are_rate_limited_but_reports_still_registered(blanks: dict[str, bytes], tmp_path: Path) -> None:
    """Spec 3: replies are rate-limited per sender. A receipt for a report that entered the
    register is never held back; replies that register nothing (here: a template sent again
    and again, as a mail loop would) are capped."""
    files = []
    docs = [fill_docx(blanks["event.docx"], report_values(), [deviation(f"Tvätt {n}", f"Tvätt {n} AB")])
            for n in range(3)]
    for n in range(6):
        path = tmp_path / f"{n}.eml"
        path.write_bytes(simple(f"Eva <{gbg('eva')}>", "Avsteg", f"rate-{n}@goteborg.se",
                                [("Avsteg.docx", docs[n % 3], DOCX_TYPE)]))
        files.append(path)
    results = ingest(files, f"sqlite:///{tmp_path / 'r.sqlite'}", tmp_path / "out",
                     env={"AVSTEG_POLICY__REPLIES_PER_SENDER_PER_HOUR": "2"})
    assert [r["outcome"] for r in results] == ["registered"] * 3 + ["duplicate"] * 3
    assert [r["reply"] is not None for r in results] == [True, True, True, True, True, False]

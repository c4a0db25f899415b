"""Hostile and wrong files: each is `rejected` with a Swedish message saying what to send instead.

Every input is built here. Nothing may raise, nothing may take long, and no message may be the
"internal error" fallback: each case must be recognised by its own rule.
"""
from __future__ import annotations

import random
import struct
import time
import zipfile
import zlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from avsteg.config.schema import default_schema
from avsteg.parsers.office.ooxml import UnsafeXml, parse_xml
from avsteg.parsers.office.safety import MAX_FILE_BYTES, REJECTIONS, sniff
from avsteg.parsers.template import looks_like_template, parse_attachment
from tests.unit.test_readers import W_NS, make_docx, make_xlsx, p, tbl, tr, zip_parts

SCHEMA = default_schema()
OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
GIB = 1 << 30


# -- builders ----------------------------------------------------------------------------------
def ole_blob(*streams: str) -> bytes:
    """Enough of a compound file for sniffing: the magic, a header, directory entry names."""
    header = OLE + b"\x00" * 504
    return header + b"".join(s.encode("utf-16-le").ljust(64, b"\x00") for s in streams) + b"\x00" * 1024


def odf(mime: str) -> bytes:
    parts = {"mimetype": mime, "content.xml": "<office:document-content/>",
             "META-INF/manifest.xml": "<manifest/>"}
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in parts.items():
            zf.writestr(name, text, compress_type=zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED)
    return buf.getvalue()


def _deflated_zeros(size: int) -> bytes:
    """A raw deflate stream of ``size`` zero bytes, built without compressing ``size`` bytes:
    after a full flush the compressor restarts, so every 16 MiB chunk compresses identically."""
    chunk = 16 << 20
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = comp.compress(b"\0" * chunk) + comp.flush(zlib.Z_FULL_FLUSH)
    return block * (size // chunk) + comp.flush(zlib.Z_FINISH)


def _crc_zeros(size: int) -> int:
    crc, chunk = 0, b"\0" * (16 << 20)
    for _ in range(size // len(chunk)):
        crc = zlib.crc32(chunk, crc)
    return crc


def handmade_zip(name: str, stream: bytes, crc: int, declared_size: int) -> bytes:
    """A one-member deflated zip whose headers declare ``declared_size`` (honest or not)."""
    fname = name.encode()
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(stream), declared_size,
                        len(fname), 0) + fname
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(stream),
                          declared_size, len(fname), 0, 0, 0, 0, 0, 0) + fname
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(central), len(local) + len(stream), 0)
    return local + stream + central + eocd


@pytest.fixture(scope="module")
def gigabyte_bomb() -> bytes:
    data = handmade_zip("word/document.xml", _deflated_zeros(GIB), _crc_zeros(GIB), GIB)
    assert len(data) < 1_100_000  # a 1 MB file…
    return data


BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + "".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1) + ";") * 10 if i > 1 else "&lol;" * 10}">' for i in range(1, 10))
    + f']><w:document xmlns:w="{W_NS}"><w:body><w:p><w:r><w:t>&lol9;</w:t></w:r></w:p></w:body></w:document>'
)
XXE = (
    '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<w:document xmlns:w="{W_NS}"><w:body><w:tbl><w:tr><w:tc><w:p><w:r><w:t>Leverantör</w:t></w:r></w:p></w:tc>'
    "<w:tc><w:p><w:r><w:t>&xxe;</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:body></w:document>"
)


def parse(name: str, data: bytes, **kw):  # type: ignore[no-untyped-def]
    return parse_attachment(name, data, SCHEMA, **kw)


def assert_rejected(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.status == "rejected", result
    assert len(result.errors) == 1
    message = result.errors[0].message
    assert message != REJECTIONS["internal"]
    for needle in needles:
        assert needle.casefold() in message.casefold(), (needle, message)
    assert result.report == {} and result.deviations == []


# -- each wrong input --------------------------------------------------------------------------
def test_file_over_the_size_cap() -> None:
    result = parse("stor.docx", b"PK\x03\x04" + b"\0" * MAX_FILE_BYTES)
    assert_rejected(result, "för stor", "20,0 MB", ".docx")


def test_gigabyte_zip_bomb_refused_fast(gigabyte_bomb: bytes) -> None:
    start = time.perf_counter()
    result = parse("bomb.docx", gigabyte_bomb)
    elapsed = time.perf_counter() - start
    assert_rejected(result, "orimlig", ".docx")
    assert elapsed < 1.0  # sanity bound only; the refusal comes from the zip directory


def test_zip_bomb_with_lying_sizes_is_not_inflated() -> None:
    size = 256 << 20
    data = handmade_zip("word/document.xml", _deflated_zeros(size), _crc_zeros(size), 1000)
    start = time.perf_counter()
    result = parse("bomb.docx", data)
    assert_rejected(result, ".docx")
    assert time.perf_counter() - start < 1.0


def test_too_many_members() -> None:
    data = zip_parts({f"word/media/x{i}.xml": "<x/>" for i in range(1001)})
    assert_rejected(parse("många.docx", data), "för många delar")


def test_billion_laughs_in_document_xml() -> None:
    start = time.perf_counter()
    result = parse("lol.docx", make_docx("", document=BILLION_LAUGHS))
    assert_rejected(result, "DOCTYPE/ENTITY", ".docx")
    assert time.perf_counter() - start < 1.0


def test_xxe_in_document_xml() -> None:
    result = parse("xxe.docx", make_docx("", document=XXE))
    assert_rejected(result, "säkerhetsskäl")
    assert "root:" not in str(result.to_json())


def test_entities_in_utf16_part_are_refused_too() -> None:
    with pytest.raises(UnsafeXml):
        parse_xml(XXE.replace('encoding="UTF-8"', "").encode("utf-16"))


def test_entities_in_a_worksheet() -> None:
    rows = '<row r="1"><c r="A1" t="inlineStr"><is><t>Leverantör</t></is></c></row>'
    data = make_xlsx([("Avsteg", rows)])
    import io

    src = zipfile.ZipFile(io.BytesIO(data))
    parts = {n: src.read(n) for n in src.namelist()}
    parts["xl/worksheets/sheet1.xml"] = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]>' + parts[
        "xl/worksheets/sheet1.xml"].split(b"?>", 1)[1]
    assert_rejected(parse("x.xlsx", zip_parts(parts)), "DOCTYPE/ENTITY")


def test_encrypted_office_file() -> None:
    data = ole_blob("Root Entry", "EncryptionInfo", "EncryptedPackage")
    assert sniff("rapport.docx", data) == "ole-encrypted"
    result = parse("rapport.docx", data)
    assert_rejected(result, "lösenord", "skicka filen igen")
    assert result.format == "ole-encrypted"


@pytest.mark.parametrize("stream, name, needle", [
    ("WordDocument", "rapport.doc", ".docx"), ("Workbook", "rapport.xls", ".xlsx"),
    ("Book", "gammal.xls", ".xlsx"),
])
def test_legacy_office_files(stream: str, name: str, needle: str) -> None:
    result = parse(name, ole_blob("Root Entry", stream))
    assert_rejected(result, "spara som", needle)
    assert result.format == name.rsplit(".", 1)[1]


@pytest.mark.parametrize("mime, kind, needle", [
    ("application/vnd.oasis.opendocument.text", "odt", ".docx"),
    ("application/vnd.oasis.opendocument.spreadsheet", "ods", ".xlsx"),
])
def test_opendocument_files(mime: str, kind: str, needle: str) -> None:
    result = parse(f"rapport.{kind}", odf(mime))
    assert result.format == kind
    assert_rejected(result, "spara", needle)


def test_pdf() -> None:
    assert_rejected(parse("rapport.pdf", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj"), "PDF", ".docx", ".xlsx")


def test_rtf() -> None:
    assert_rejected(parse("rapport.docx", b"{\\rtf1\\ansi Leverant\\'f6r}"), "RTF", ".docx")


def test_truncated_docx() -> None:
    data = make_docx(tbl(tr("Leverantör", "Städ AB")) + p("x" * 5000))
    result = parse("trasig.docx", data[: len(data) // 2])
    assert result.format == "docx"
    assert_rejected(result, "skadad", ".docx")


def test_corrupt_deflate_data_inside_a_docx() -> None:
    data = bytearray(make_docx(tbl(tr("Leverantör", "Städ AB" * 200))))
    start = data.index(b"word/document.xml") + len("word/document.xml")
    for i in range(start + 10, start + 60):
        data[i] ^= 0x5A
    assert_rejected(parse("trasig.docx", bytes(data)), "skadad")


def test_random_bytes_and_empty_and_plain_zip() -> None:
    noise = random.Random(7).randbytes(50_000)
    assert_rejected(parse("rapport.docx", noise), "inte i ett format")
    assert_rejected(parse("rapport.docx", b""), "tom")
    assert_rejected(parse("bilagor.zip", zip_parts({"a.txt": "hej"})), "zip-arkiv")


def test_password_protected_zip_member() -> None:
    data = bytearray(make_docx(tbl(tr("Leverantör", "Städ AB"))))
    # Set the "encrypted" flag bit in every local and central header, as a zip tool would.
    for sig, off in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        pos = data.find(sig)
        while pos >= 0:
            data[pos + off] |= 1
            pos = data.find(sig, pos + 4)
    assert_rejected(parse("rapport.docx", bytes(data)), "lösenord")


def test_sniff_reads_bytes_not_names() -> None:
    docx = make_docx(tbl(tr("Leverantör", "Städ AB")))
    assert sniff("rapport.pdf", docx) == "docx"
    assert sniff("rapport.docx", make_xlsx([("Blad1", "")])) == "xlsx"
    assert sniff("x", b"%PDF-1.4") == "pdf"
    assert sniff("x.doc", ole_blob("Root Entry")) == "doc"


def test_not_a_report_docx_and_xlsx() -> None:
    minutes = make_docx(p("Protokoll") + p("Datum: 2026-03-05") + tbl(tr("Närvarande", "Anna")))
    budget = make_xlsx([("Budget", '<row r="1"><c r="A1" t="inlineStr"><is><t>Konto</t></is></c><c r="B1"><v>5</v></c></row>')])
    for name, data in (("protokoll.docx", minutes), ("budget.xlsx", budget)):
        result = parse(name, data)
        assert result.status == "not_a_report" and result.errors == []
        assert not looks_like_template(name, data, SCHEMA)


def test_looks_like_template() -> None:
    ours = make_docx(p("Hej"), identifier="avstegsrapport", version="1")
    retyped = make_docx(tbl(tr("Leverantör", "A"), tr("Diarienummer", "1"), tr("Kontaktperson", "B"),
                            tr("Förvaltning/bolag", "C")))
    assert looks_like_template("a.docx", ours, SCHEMA)
    assert looks_like_template("a.docx", retyped, SCHEMA)
    assert not looks_like_template("a.pdf", b"%PDF-1.4", SCHEMA)
    assert not looks_like_template("a.docx", ours[:100], SCHEMA)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_files_never_raise_nor_hit_the_fallback(data: st.DataObject) -> None:
    base = data.draw(st.sampled_from([
        make_docx(tbl(tr("Leverantör", "Städ AB"), tr("Diarienummer", "1"))),
        make_xlsx([("Avsteg", '<row r="1"><c r="A1" t="inlineStr"><is><t>Leverantör</t></is></c></row>')]),
    ]))
    blob = bytearray(base)
    for _ in range(data.draw(st.integers(1, 8))):
        blob[data.draw(st.integers(0, len(blob) - 1))] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(blob) // 2, len(blob)))
    result = parse_attachment("x.docx", bytes(blob[:cut]), SCHEMA)
    assert result.status in ("rejected", "not_a_report", "accepted")
    assert all(e.message != REJECTIONS["internal"] for e in result.errors)

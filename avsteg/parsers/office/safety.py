"""What kind of file is this, and may we open it? Decided from the bytes, never the name.

People send PDFs of the template, password-protected Word files, old ``.doc`` files, LibreOffice
files and, once in a while, something hostile. Each of those gets a precise Swedish answer that
says what to send instead; this module names the format (:func:`sniff`) and holds those answers
(:data:`REJECTIONS`). The extension only breaks ties the bytes cannot (a zip we cannot open).
"""
from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable

from avsteg.parsers.office.archive import DEFAULT_LIMITS, declared_member_count

MAX_FILE_BYTES = 20 * 1024 * 1024

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
ZIP_MAGICS = (b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")
_ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_EXCEL_STREAMS = ("Workbook".encode("utf-16-le"), "Book".encode("utf-16-le"))
_ODF_MIMETYPES = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}
_EXT_KIND = {
    "docx": "docx", "docm": "docx", "dotx": "docx", "dotm": "docx",
    "xlsx": "xlsx", "xlsm": "xlsx", "xltx": "xlsx", "xltm": "xlsx",
    "doc": "doc", "dot": "doc", "xls": "xls", "xlt": "xls",
    "odt": "odt", "ods": "ods", "pdf": "pdf", "rtf": "rtf", "zip": "zip",
}

_SEND_INSTEAD = (
    "Skicka i stället mallen som en Word-fil (.docx) eller Excel-fil (.xlsx) "
    "som bilaga i ett nytt mejl."
)

# Rejection reason → the Swedish message the sender reads. Keys are stable (logs, tests).
REJECTIONS: dict[str, str] = {
    "empty": "Filen är tom. " + _SEND_INSTEAD,
    "too_big": (
        "Filen är för stor ({size} MB; gränsen är {limit} MB). En ifylld mall är normalt mindre än "
        "1 MB. Ta bort inklistrade bilder och skicka mallen igen som .docx eller .xlsx."
    ),
    "ole-encrypted": (
        "Filen är skyddad med lösenord, så vi kan inte läsa den. Ta bort lösenordet "
        "(i Word/Excel: Arkiv > Info > Skydda dokument > Kryptera med lösenord, töm fältet), "
        "spara och skicka filen igen."
    ),
    "encrypted": (
        "Filen är krypterad eller skyddad med lösenord, så vi kan inte läsa den. Ta bort "
        "lösenordet, spara och skicka filen igen som .docx eller .xlsx."
    ),
    "doc": (
        "Filen är i det gamla Word-formatet (.doc), som vi inte kan läsa. Öppna den i Word, "
        "välj Spara som och spara som Word-dokument (.docx), och skicka den nya filen."
    ),
    "xls": (
        "Filen är i det gamla Excel-formatet (.xls), som vi inte kan läsa. Öppna den i Excel, "
        "välj Spara som och spara som Excel-arbetsbok (.xlsx), och skicka den nya filen."
    ),
    "ole": (
        "Filen är i ett äldre Office-format som vi inte kan läsa. Spara den som .docx eller "
        ".xlsx (Arkiv > Spara som) och skicka den nya filen."
    ),
    "odt": (
        "Filen är ett OpenDocument-dokument (.odt). Spara den som Word-dokument (.docx) "
        "(Arkiv > Spara som > Word 2007–365) och skicka den nya filen."
    ),
    "ods": (
        "Filen är ett OpenDocument-kalkylblad (.ods). Spara den som Excel-arbetsbok (.xlsx) "
        "(Arkiv > Spara som > Excel 2007–365) och skicka den nya filen."
    ),
    "pdf": (
        "Filen är en PDF. En PDF går inte att läsa in i registret. " + _SEND_INSTEAD
        + " Mallen finns att få från stödfunktionen."
    ),
    "rtf": "Filen är i RTF-format, som vi inte kan läsa. " + _SEND_INSTEAD,
    "broken": (
        "Filen är skadad eller ofullständig och går inte att öppna. Öppna mallen i Word eller "
        "Excel, spara den på nytt och skicka den igen som .docx eller .xlsx."
    ),
    "zip_bomb": (
        "Filen är ett arkiv med orimligt mycket innehåll (för många delar, eller så packas den "
        "upp till en orimlig storlek) och har av säkerhetsskäl inte lästs. " + _SEND_INSTEAD
    ),
    "entities": (
        "Filen innehåller XML-konstruktioner (DOCTYPE/ENTITY) som en vanlig Word- eller "
        "Excel-fil aldrig har, och har av säkerhetsskäl inte lästs. Fyll i en ny mall och "
        "skicka den som .docx eller .xlsx."
    ),
    "zip": (
        "Filen är ett zip-arkiv, inte en ifylld mall. Packa upp den och skicka mallen som "
        ".docx eller .xlsx."
    ),
    "unknown": "Filen är inte i ett format vi kan läsa. " + _SEND_INSTEAD,
    "internal": (
        "Filen kunde inte läsas på grund av ett fel hos oss. Försök gärna igen senare, eller "
        "kontakta stödfunktionen om felet kvarstår."
    ),
}

CONVERTED_WARNING = (
    "Filen var i formatet .{kind} och har omvandlats automatiskt innan den lästes. Kontrollera "
    "uppgifterna i kvittensen, och skicka gärna .docx eller .xlsx nästa gång."
)


def rejection(reason: str, messages: dict[str, str] | None = None, **values: object) -> str:
    """The Swedish message for ``reason``; the schema may override it as ``file_<reason>``."""
    override = (messages or {}).get("file_" + reason.replace("-", "_"))
    text = override or REJECTIONS.get(reason) or REJECTIONS["unknown"]
    return text.format(**values) if values else text


def extension_kind(filename: str) -> str | None:
    ext = filename.rsplit(".", 1)[-1].casefold() if "." in filename else ""
    return _EXT_KIND.get(ext)


def sniff(filename: str, data: bytes) -> str:
    """The format of ``data``: docx, xlsx, ole-encrypted, doc, xls, ole, odt, ods, pdf, rtf,
    zip, empty or unknown. Reads only magic bytes and, for a zip, its central directory."""
    if not data:
        return "empty"
    head = data[:1024]
    if data.startswith(OLE_MAGIC):
        return _sniff_ole(filename, data)
    if is_zip(data):
        return _sniff_zip(filename, data)
    if b"%PDF-" in head:
        return "pdf"
    if head.lstrip(b"\xef\xbb\xbf \r\n\t").startswith(b"{\\rtf"):
        return "rtf"
    return "unknown"


def _sniff_ole(filename: str, data: bytes) -> str:
    # The directory of an encrypted OOXML file names the stream "EncryptedPackage" (MS-OFFCRYPTO).
    if _ENCRYPTED_PACKAGE in data:
        return "ole-encrypted"
    if _WORD_STREAM in data:
        return "doc"
    if any(stream in data for stream in _EXCEL_STREAMS):
        return "xls"
    by_name = extension_kind(filename)
    return by_name if by_name in ("doc", "xls") else "ole"


def _sniff_zip(filename: str, data: bytes) -> str:
    odf = odf_kind(data)
    if odf is not None:
        return odf
    declared = declared_member_count(data)
    if declared is not None and declared > DEFAULT_LIMITS.max_members:
        return _sniff_broken_zip(filename, data)  # refused later; do not list a huge directory
    try:
        names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    except Exception:  # noqa: BLE001 - a broken zip: decide from what the local headers show
        return _sniff_broken_zip(filename, data)
    return zip_kind(filename, (n.lstrip("/").casefold() for n in names))


def is_zip(data: bytes) -> bool:
    return data.startswith(ZIP_MAGICS)


def odf_kind(data: bytes) -> str | None:
    """``odt``/``ods`` when ``data`` starts like an OpenDocument file, else None.

    ODF puts an uncompressed "mimetype" member first, so its type is readable at a fixed offset.
    """
    if data[30:38] == b"mimetype":
        for mime, kind in _ODF_MIMETYPES.items():
            if data[38:38 + len(mime)] == mime:
                return kind
    return None


def zip_kind(filename: str, folded_names: Iterable[str]) -> str:
    """The format of a readable zip from its member names (stripped of "/" and casefolded):
    odt, ods, docx, xlsx or zip. Lets a caller that opened the zip anyway skip a second read of
    its directory."""
    folded = list(folded_names)
    if "mimetype" in folded and any(n == "content.xml" for n in folded):
        by_name = extension_kind(filename)
        return by_name if by_name in ("odt", "ods") else "odt"
    if any(n.startswith("word/") for n in folded):
        return "docx"
    if any(n.startswith("xl/") for n in folded):
        return "xlsx"
    return "zip"


def _sniff_broken_zip(filename: str, data: bytes) -> str:
    """A zip without a readable directory (truncated): name it by the local headers or the name."""
    head = data[:65536]
    if b"word/" in head:
        return "docx"
    if b"xl/" in head:
        return "xlsx"
    by_name = extension_kind(filename)
    return by_name if by_name in ("docx", "xlsx", "odt", "ods") else "zip"

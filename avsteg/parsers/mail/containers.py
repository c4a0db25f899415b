"""Files inside files: zip attachments and Outlook ``winmail.dat`` (TNEF), opened with caps.

Both are strangers' containers. A zip is opened through ``avsteg.parsers.office.archive`` (directory
checked before anything is inflated; every read capped) and expanded at most one level deep (a
zip in a zip is opened, a zip in that is not). A TNEF stream is read with tnefparse. Whatever
cannot be opened safely becomes an :class:`Attachment` with a Swedish ``problem`` so the sender
can be told what to send instead.

:class:`Walk` is the state of one message's walk: attachments found, text found, and the budget
(number of parts, decoded bytes) that keeps a hostile message from taking the worker down.
"""
from __future__ import annotations

import hashlib
import logging
import mimetypes
import re
import struct
import unicodedata
from dataclasses import dataclass, field

from avsteg.domain.message import WINMAIL, Attachment
from avsteg.parsers.mail.text import decode_bytes
from avsteg.parsers.office.archive import (
    DEFAULT_LIMITS,
    UnsafeArchive,
    ZipLimits,
    open_zip,
    read_member,
)
from avsteg.parsers.office.safety import sniff

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 20_000
TNEF_MAGIC = b"\x78\x9f\x3e\x22"
_JUNK = ("__macosx/", ".ds_store", "thumbs.db", "desktop.ini")

_SEND_DIRECT = "Skicka i stället mallen direkt som bilaga (.docx eller .xlsx)."
ZIP_PROBLEMS = {
    "encrypted": "Zip-filen är skyddad med lösenord, så vi kan inte öppna den. " + _SEND_DIRECT,
    "broken": "Zip-filen är skadad eller ofullständig och går inte att öppna. " + _SEND_DIRECT,
    "members": "Zip-filen innehåller för många filer och har inte öppnats. " + _SEND_DIRECT,
    "size": "Zip-filen packas upp till en orimlig storlek och har inte öppnats. " + _SEND_DIRECT,
    "ratio": "Zip-filen packas upp till en orimlig storlek och har inte öppnats. " + _SEND_DIRECT,
    "nested": "Zip-filen ligger i flera lager av zip-filer och har inte packats upp. "
    + _SEND_DIRECT,
}
TNEF_BROKEN = (
    "Bilagan winmail.dat (från Outlook) är skadad och går inte att läsa. Skicka mallen igen, "
    "gärna med meddelandet i formatet HTML eller oformaterad text i stället för RTF."
)


@dataclass
class Walk:
    """What one walk over a message has found so far, and what it may still spend."""

    max_parts: int
    max_bytes: int
    attachments: list[Attachment] = field(default_factory=list)
    forwarded: bool = False
    truncated: bool = False
    parts: int = 0
    spent: int = 0
    invented: int = 0
    _plain: list[str] = field(default_factory=list)
    _html: list[str] = field(default_factory=list)
    _inner: list[str] = field(default_factory=list)  # text of forwarded messages, TNEF bodies

    def take_part(self) -> bool:
        self.parts += 1
        if self.parts > self.max_parts:
            self.truncated = True
            return False
        return True

    def fits(self, size: int) -> bool:
        if self.spent + size > self.max_bytes:
            self.truncated = True
            return False
        return True

    def spend(self, size: int) -> None:
        self.spent += size

    def add(self, attachment: Attachment) -> None:
        self.attachments.append(attachment)

    def invent_name(self, content_type: str) -> str:
        self.invented += 1
        ext = mimetypes.guess_extension(content_type or "", strict=False) or ".bin"
        return f"bilaga-{self.invented}{ext}"

    def add_text(self, text: str, html: bool, forwarded: bool) -> None:
        if sum(map(len, self._plain + self._html + self._inner)) > MAX_TEXT_CHARS:
            return
        (self._inner if forwarded else self._html if html else self._plain).append(text)

    def text(self) -> str:
        """The sender's own words: plain parts, else HTML parts, else forwarded/TNEF text."""
        for chosen in (self._plain, self._html, self._inner):
            joined = "\n\n".join(t.strip() for t in chosen if t.strip())
            if joined:
                return joined[:MAX_TEXT_CHARS]
        return ""


def make_attachment(name: str, ctype: str, data: bytes, origin: str, inline: bool = False,
                    problem: str | None = None) -> Attachment:
    return Attachment(
        filename=name, content_type=ctype, data=data, sha256=hashlib.sha256(data).hexdigest(),
        origin=origin, inline=inline, problem=problem,
    )


_GENERIC_TYPES = frozenset({
    "application/octet-stream", "application/binary", "application/unknown",
    "application/force-download", "application/x-download", "application/download",
    "application/x-unknown", "binary/octet-stream", "application/zip-compressed", "",
})
_KIND_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "odt": "application/vnd.oasis.opendocument.text",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "pdf": "application/pdf",
    "rtf": "application/rtf",
    "zip": "application/zip",
}


def recognise_type(filename: str, declared: str, data: bytes) -> str:
    """The declared type, or for a generic one (octet-stream) the type the bytes and name show."""
    declared = declared.lower()
    if declared not in _GENERIC_TYPES:
        return declared
    kind = sniff(filename, data)
    if kind in _KIND_TYPES:
        return _KIND_TYPES[kind]
    guessed, _ = mimetypes.guess_type(filename.lower(), strict=False)
    return guessed or declared or "application/octet-stream"


def clean_filename(name: str) -> str:
    name = unicodedata.normalize("NFC", name).replace("\x00", "")
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    return re.sub(r"\s+", " ", name).strip().strip('"').strip()


def is_tnef(ctype: str, name: str, data: bytes) -> bool:
    return (
        ctype in ("application/ms-tnef", "application/vnd.ms-tnef")
        or name.casefold() == "winmail.dat"
        or data.startswith(TNEF_MAGIC)
    )


def is_zip(name: str, data: bytes) -> bool:
    """A zip archive people packed files into (not an OOXML/ODF file, which is a zip too)."""
    if not data.startswith(b"PK"):
        return False
    return sniff(name, data) == "zip"


def _member_name(info_name: str, flag_bits: int) -> str:
    """Zip names without the UTF-8 flag are in the OEM code page: cp850 on Swedish Windows."""
    if flag_bits & 0x800:
        return info_name
    try:
        raw = info_name.encode("cp437")  # how zipfile decoded them
    except UnicodeEncodeError:
        return info_name
    try:
        return raw.decode("utf-8")  # 7-Zip and macOS write UTF-8 without the flag
    except UnicodeDecodeError:
        return raw.decode("cp850")


def expand_zip(name: str, data: bytes, origin: str, w: Walk, zip_depth: int) -> None:
    """Add the members of zip ``name`` (origin ``name/``), or one attachment with a problem."""
    remaining = max(w.max_bytes - w.spent, 0)
    limits = ZipLimits(
        max_members=DEFAULT_LIMITS.max_members,
        max_member_bytes=min(DEFAULT_LIMITS.max_member_bytes, remaining),
        max_total_bytes=min(DEFAULT_LIMITS.max_total_bytes, remaining),
    )
    try:
        zf = open_zip(data, limits)
    except UnsafeArchive as exc:
        w.add(make_attachment(name, "application/zip", data, origin,
                              problem=ZIP_PROBLEMS.get(exc.reason, ZIP_PROBLEMS["broken"])))
        return
    with zf:
        for info in zf.infolist():
            if info.is_dir() or not w.take_part():
                continue
            path = _member_name(info.filename, info.flag_bits).replace("\\", "/").lstrip("/")
            if path.casefold().startswith(_JUNK[0]) or any(
                path.casefold().endswith(j) for j in _JUNK[1:]
            ) or path.rsplit("/", 1)[-1].startswith("._"):
                continue
            folder, _, base = path.rpartition("/")
            member_origin = f"{origin}{name}/" + (f"{folder}/" if folder else "")
            base = clean_filename(base) or w.invent_name("")
            try:
                member = read_member(zf, info.filename, limits)
            except (UnsafeArchive, KeyError) as exc:
                reason = exc.reason if isinstance(exc, UnsafeArchive) else "broken"
                w.add(make_attachment(base, "application/octet-stream", b"", member_origin,
                                      problem=ZIP_PROBLEMS.get(reason, ZIP_PROBLEMS["broken"])))
                continue
            w.spend(len(member))
            if is_zip(base, member):
                if zip_depth == 0:
                    expand_zip(base, member, member_origin, w, zip_depth + 1)
                else:
                    w.add(make_attachment(base, "application/zip", member, member_origin,
                                          problem=ZIP_PROBLEMS["nested"]))
                continue
            ctype = recognise_type(base, "application/octet-stream", member)
            w.add(make_attachment(base, ctype, member, member_origin))


def expand_tnef(name: str, data: bytes, origin: str, w: Walk) -> None:
    """Add the files inside an Outlook TNEF stream (origin ``winmail.dat/``)."""
    try:
        from tnefparse.tnef import TNEF

        if not _tnef_complete(data):
            raise ValueError("truncated TNEF stream")
        tnef = TNEF(data, do_checksum=False)
        found = [(_tnef_filename(att), bytes(att.data or b"")) for att in tnef.attachments]
        body = tnef.body
        if not found and not tnef.has_body():
            raise ValueError("TNEF stream with neither files nor text")
    except Exception:
        log.info("TNEF stream %s could not be read", name, exc_info=True)
        w.add(make_attachment(name, "application/ms-tnef", data, origin, problem=TNEF_BROKEN))
        return
    origin += WINMAIL
    if isinstance(body, bytes):
        body = decode_bytes(body, None)
    if isinstance(body, str) and body.strip():
        w.add_text(body, html=False, forwarded=True)
    for filename, content in found:
        if not w.take_part():
            return
        if not w.fits(len(content)):
            continue
        w.spend(len(content))
        filename = clean_filename(filename) or w.invent_name("")
        if is_zip(filename, content):
            expand_zip(filename, content, origin, w, zip_depth=0)
            continue
        ctype = recognise_type(filename, "application/octet-stream", content)
        w.add(make_attachment(filename, ctype, content, origin))


def _tnef_complete(data: bytes) -> bool:
    """Whether the attribute records cover the stream exactly.

    tnefparse silently cuts a truncated record short, which would hand on a damaged file.
    Each record: level (1), id (4), length (4), data (length), checksum (2).
    """
    offset = 6
    while offset < len(data):
        if offset + 9 > len(data):
            return False
        (length,) = struct.unpack_from("<I", data, offset + 5)
        offset += 11 + length
    return offset == len(data) and len(data) > 6


def _tnef_filename(att: object) -> str:
    """The long (Unicode) file name, else the 8.3 title decoded as cp1252.

    tnefparse's ``TNEFAttachment.name`` decodes the title as UTF-8 and raises on a Windows-1252
    "å", so the raw ``_name`` is read here instead.
    """
    for prop in getattr(att, "mapi_attrs", ()):
        if getattr(prop, "name", None) == 0x3707:  # PR_ATTACH_LONG_FILENAME
            value = prop.data
            if isinstance(value, bytes):
                value = decode_bytes(value.rstrip(b"\x00"), None)
            if isinstance(value, str) and value.strip("\x00").strip():
                return value.strip("\x00")
    raw = getattr(att, "_name", b"")
    if isinstance(raw, bytes):
        raw = decode_bytes(raw.rstrip(b"\x00"), None)
    return str(raw).strip("\x00")

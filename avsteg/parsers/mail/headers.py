"""Headers of a raw message → plain values: decoded text, addresses, Message-IDs, dates.

Split from :mod:`avsteg.parsers.mail.reader` (the MIME walk). Nothing here raises on a hostile header.

Address headers (From, Reply-To, To, Cc, Return-Path) are split into mailboxes *before* RFC 2047
decoding (``email.utils.getaddresses`` on the raw value), and only then is each display name
decoded. Decoding first breaks the structure: ``=?utf-8?q?Andersson=2C_=C3=85sa?=`` would become
two mailboxes, and an encoded name holding a line break or ``<x@y>`` would lose or replace the
real address. Other headers are decoded here (:func:`decode_words`) rather than with
mail-parser's ``decode_header_part``, which drops every non-ASCII letter of an encoded word in an
unknown charset (``=?x-unknown?q?R=E4ttad?=`` → ``Rttad``); we fall back to UTF-8, then
Windows-1252, which is what Swedish mail is.
"""
from __future__ import annotations

import re
from datetime import UTC, datetime
from email.header import decode_header
from email.message import Message
from email.utils import getaddresses, parsedate_to_datetime

from avsteg.parsers.mail import text as mail_text

MAX_HEADERS = 1000
ADDRESS_HEADERS = frozenset({"from", "reply-to", "to", "cc", "return-path"})


def decode_words(value: str) -> str:
    """Decode RFC 2047 words and raw 8-bit text; unknown charsets fall back to UTF-8/cp1252."""
    value = recover_8bit(value)
    value = re.sub(r"\r?\n(?=[ \t])", "", value)
    if "=?" not in value:
        return value.strip()
    try:
        chunks = decode_header(value)
    except Exception:  # noqa: BLE001 - malformed encoded word: keep it as written
        return value.strip()
    out = []
    for chunk, charset in chunks:
        out.append(chunk if isinstance(chunk, str) else mail_text.decode_bytes(chunk, charset))
    return "".join(out).strip()


def recover_8bit(value: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogates: read them as UTF-8, else cp1252."""
    if not isinstance(value, str):
        value = str(value)
    if not any("\udc80" <= ch <= "\udcff" for ch in value):
        return value
    data = value.encode("utf-8", "surrogateescape")
    return mail_text.decode_bytes(data, None)


def header_map(msg: Message) -> dict[str, list[str]]:
    headers: dict[str, list[str]] = {}
    for i, (name, value) in enumerate(msg.raw_items()):
        if i >= MAX_HEADERS:
            break
        try:
            text = decode_words(str(value)[:20000])
        except Exception:  # noqa: BLE001
            text = ""
        headers.setdefault(str(name).strip().lower(), []).append(text)
    return headers


def first(headers: dict[str, list[str]], name: str) -> str | None:
    values = headers.get(name)
    return values[0] if values else None


def address_headers(msg: Message) -> dict[str, list[str]]:
    """The address headers as written (8-bit recovered, unfolded), RFC 2047 words still encoded."""
    found: dict[str, list[str]] = {}
    for i, (name, value) in enumerate(msg.raw_items()):
        if i >= MAX_HEADERS:
            break
        key = str(name).strip().lower()
        if key in ADDRESS_HEADERS:
            try:
                text = re.sub(r"\r?\n(?=[ \t])", "", recover_8bit(str(value)[:20000]))
            except Exception:  # noqa: BLE001
                text = ""
            found.setdefault(key, []).append(text)
    return found


def _raw_addresses(headers: dict[str, list[str]], name: str) -> list[tuple[str, str]]:
    """(display name, address) pairs: split on the raw value, then each name decoded."""
    found: list[tuple[str, str]] = []
    for value in headers.get(name) or []:
        try:
            pairs = getaddresses([value])
        except Exception:  # noqa: BLE001 - a header the stdlib cannot split: nobody to answer
            pairs = []
        for display, address in pairs:
            if address and "@" in address:
                display = " ".join(decode_words(display).split()) if display else ""
                found.append((display, address))
    return found


def bare_address(address: str) -> str:
    """``Name.Surname@GOTEBORG.SE`` → ``Name.Surname@goteborg.se`` (local part kept as written)."""
    address = address.strip().strip("<>").strip()
    local, at, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}" if at else address


def first_address(headers: dict[str, list[str]], name: str) -> tuple[str, str]:
    pairs = _raw_addresses(headers, name)
    if not pairs:
        return "", ""
    return pairs[0][0].strip(), bare_address(pairs[0][1])


def all_addresses(headers: dict[str, list[str]], name: str) -> tuple[str, ...]:
    return tuple(bare_address(a) for _, a in _raw_addresses(headers, name))


def return_path(headers: dict[str, list[str]]) -> str | None:
    values = headers.get("return-path")
    if not values:
        return None
    value = values[-1].strip()  # the one the final MTA added
    if value.replace(" ", "") in ("<>", ""):
        return ""
    _, address = first_address({"return-path": [value]}, "return-path")
    return address or ""


def message_id(value: str | None) -> str | None:
    if not value:
        return None
    ids = message_ids(value)
    return ids[0] if ids else None


def message_ids(value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    found = re.findall(r"<([^<>\s]+)>", value)
    if not found:
        found = [v.strip("<>") for v in value.split() if v.strip("<>")]
    return tuple(found)


def parse_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

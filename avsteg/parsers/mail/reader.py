"""Raw email bytes → :class:`InboundMessage`: every file a sender could have meant, found anywhere.

People send the template from Outlook (inline signature logos, ``winmail.dat``), Apple Mail
(attachments inside ``multipart/alternative``, RFC 2231 names in decomposed Unicode), phones
(``application/octet-stream`` with an upper-case ``.DOCX``), as a zip, as a forwarded message,
or S/MIME-signed. :func:`read_message` is pure and never raises: a hopeless message still
becomes an :class:`InboundMessage` with whatever could be read, so the pipeline can store it and
leave it for a person.

Library choice:

* The MIME walk uses the standard library's ``email`` with the ``compat32`` policy. mail-parser
  flattens forwarded messages (it lists ``Avstegsrapport.eml`` and the ``.docx`` inside it side
  by side, with no link between them, so ``origin`` cannot be told) and silently drops parts
  without a file name; ``policy.default`` raises on some malformed headers when they are
  *read*. ``compat32`` keeps the raw values and never raises on access. Speed is the same
  (about 2 ms for a typical message with a template, both ways).
* Headers and addresses are read in ``mail_headers`` (addresses split before RFC 2047 names
  are decoded, 8-bit recovered).
* Zip attachments and ``winmail.dat`` are opened in ``mail_containers`` (archive caps,
  tnefparse); text and charsets in ``mail_text``.

Memory: the stdlib parser peaks at about 9x the raw size (it keeps the message as lists of
lines), so messages above :data:`MAX_RAW_BYTES` are read for their headers only; decoded
attachments are capped at :data:`MAX_DECODED_BYTES` and the walk at :data:`MAX_PARTS` parts. A
message with a 20 MB attachment parses in about 0.7 s.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import logging
import quopri
import re
from email import policy
from email.message import Message
from email.parser import BytesParser

from avsteg.domain.message import FORWARDED, InboundMessage
from avsteg.parsers.mail import headers as H
from avsteg.parsers.mail import text as mail_text
from avsteg.parsers.mail.containers import (
    Walk,
    clean_filename,
    expand_tnef,
    expand_zip,
    is_tnef,
    is_zip,
    make_attachment,
    recognise_type,
)
from avsteg.parsers.mail.headers import decode_words, recover_8bit

log = logging.getLogger(__name__)

MAX_RAW_BYTES = 64 * 1024 * 1024  # Exchange Online refuses more than 35 MB by default
MAX_PARTS = 500
MAX_DECODED_BYTES = 150 * 1024 * 1024
MAX_DEPTH = 40

SIGNATURE_TYPES = frozenset({
    "application/pkcs7-signature", "application/x-pkcs7-signature", "application/pgp-signature",
})
PKCS7_MIME = frozenset({"application/pkcs7-mime", "application/x-pkcs7-mime"})
REPORT_PARTS = frozenset({
    "message/delivery-status", "message/disposition-notification", "text/rfc822-headers",
    "message/feedback-report", "message/global-delivery-status", "message/global-headers",
})
EMBEDDED_MESSAGES = frozenset({"message/rfc822", "message/global"})

ENCRYPTED = (
    "Meddelandet är krypterat (S/MIME), så vi kan inte läsa det eller dess bilagor. "
    "Skicka mallen igen i ett okrypterat mejl."
)
OPAQUE_SIGNED = (
    "Meddelandet är signerat i ett format (S/MIME, opaque signed) som vi inte kan läsa. "
    "Skicka mallen igen utan signering, eller med en vanlig fristående signatur."
)
MESSAGE_TOO_BIG = (
    "Meddelandet är för stort för att läsas (gränsen är {limit} MB). Skicka mallen i ett eget "
    "mejl utan andra bilagor."
)
TOO_BIG = (
    "Bilagan har inte lästs eftersom meddelandets bilagor tillsammans är större än {limit} MB. "
    "Skicka mallen i ett eget mejl."
)
ATTACHMENT_TOO_BIG = (
    "Bilagan har inte lästs eftersom den är större än {limit} MB. En avstegsrapport är mycket "
    "mindre än så: skicka mallen som en egen bilaga (.docx eller .xlsx)."
)
TEMPLATE_SUFFIXES = (".docx", ".xlsx", ".docm", ".xlsm", ".zip", ".dat", ".eml")
"""Parts with these names are read even after :data:`MAX_PARTS` other parts: a template that is
attachment 500 of 500 is still found."""
MAX_EXTRA_PARTS = 100


def read_message(raw: bytes, *, max_message_bytes: int | None = None,
                 max_attachment_bytes: int | None = None, size: int | None = None
                 ) -> InboundMessage:
    """Parse ``raw`` (an RFC 5322 message); never raises.

    Above ``max_message_bytes`` (``policy.max_message_bytes``) only the headers are read; an
    attachment above ``max_attachment_bytes`` (``policy.max_attachment_bytes``) is not decoded.
    Either becomes an attachment whose ``problem`` tells the sender, in Swedish, what to send.
    ``size``: the whole message's size when ``raw`` is only its headers (a cut message).
    """
    raw = bytes(raw or b"")
    size = len(raw) if size is None else max(size, len(raw))
    max_raw = min(MAX_RAW_BYTES, max_message_bytes or MAX_RAW_BYTES)
    if size > max_raw:
        # The stdlib parser holds the message as lists of lines (~9x its size at peak): above
        # the cap, keep the headers and tell the sender instead.
        log.warning("message of %d bytes exceeds %d; headers only", size, max_raw)
        limit = max(max_raw // (1024 * 1024), 1)
        too_big = make_attachment("meddelande.eml", "message/rfc822", b"", "",
                                  problem=MESSAGE_TOO_BIG.format(limit=limit))
        return dataclasses.replace(_build(_headers_only(raw), raw, walk=False),
                                   attachments=(too_big,), raw_size=size)
    try:
        msg = BytesParser(policy=policy.compat32).parsebytes(raw)
    except Exception:
        log.warning("email parser failed; reading headers only", exc_info=True)
        msg = _headers_only(raw)
    try:
        return _build(msg, raw, max_attachment=max_attachment_bytes or MAX_DECODED_BYTES)
    except Exception:
        log.warning("message walk failed; keeping headers only", exc_info=True)
        return _build(_headers_only(raw), raw, walk=False)


MAX_HEADER_BYTES = 1024 * 1024


def _headers_only(raw: bytes) -> Message:
    head = re.split(rb"\r?\n\r?\n", raw[:MAX_HEADER_BYTES], maxsplit=1)[0]
    try:
        return BytesParser(policy=policy.compat32).parsebytes(head, headersonly=True)
    except Exception:  # noqa: BLE001
        return Message()


def _build(msg: Message, raw: bytes, walk: bool = True,
           max_attachment: int = MAX_DECODED_BYTES) -> InboundMessage:
    headers = H.header_map(msg)
    addresses = H.address_headers(msg)
    walker = Walk(max_parts=MAX_PARTS, max_bytes=MAX_DECODED_BYTES, max_attachment=max_attachment,
                  max_extra_parts=MAX_EXTRA_PARTS)
    if walk:
        _walk(msg, walker, origin="", depth=0, forwarded=False)
    if walker.truncated:
        log.warning("message has more than %d parts or %d bytes; rest not read",
                    MAX_PARTS, MAX_DECODED_BYTES)
    sender_name, sender = H.first_address(addresses, "from")
    _, reply_to = H.first_address(addresses, "reply-to")
    return InboundMessage(
        message_id=H.message_id(H.first(headers, "message-id")),
        sender=sender or "",
        sender_name=sender_name or None,
        reply_to=reply_to or None,
        return_path=H.return_path(addresses),
        to=H.all_addresses(addresses, "to"),
        cc=H.all_addresses(addresses, "cc"),
        subject=H.first(headers, "subject") or "",
        date=H.parse_date(H.first(headers, "date")),
        in_reply_to=H.message_ids(H.first(headers, "in-reply-to")),
        references=H.message_ids(" ".join(headers.get("references", ()))),
        headers={k: tuple(v) for k, v in headers.items()},
        content_type=_safe_content_type(msg),
        text=walker.text(),
        attachments=tuple(walker.attachments),
        forwarded=walker.forwarded,
        raw_size=len(raw),
    )


# --- the MIME walk ---------------------------------------------------------------------------


def _walk(part: Message, w: Walk, origin: str, depth: int, forwarded: bool) -> None:
    if depth > MAX_DEPTH:
        return
    ctype = _safe_content_type(part)
    if not w.take_part(priority=_may_be_template(part, ctype)):
        return
    if ctype in EMBEDDED_MESSAGES:
        inner = _embedded(part)
        if inner is not None:
            w.forwarded = True
            inner_origin = origin if origin.endswith(FORWARDED) else origin + FORWARDED
            _walk(inner, w, inner_origin, depth + 1, True)
        return
    if ctype in REPORT_PARTS or ctype in SIGNATURE_TYPES:
        return  # delivery-status blocks and detached signatures (smime.p7s) carry no files
    if part.is_multipart():
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else ():
            if isinstance(child, Message):
                _walk(child, w, origin, depth + 1, forwarded)
        return
    _leaf(part, ctype, w, origin, forwarded)


def _leaf(part: Message, ctype: str, w: Walk, origin: str, forwarded: bool) -> None:
    filename = part_filename(part)
    disposition = _disposition(part)
    if filename.casefold() == "smime.p7s":
        return
    if ctype in ("text/plain", "text/html") and not filename and disposition != "attachment":
        w.add_text(mail_text.body_text(part, ctype), html=ctype == "text/html", forwarded=forwarded)
        return
    if ctype in PKCS7_MIME or filename.casefold().endswith(".p7m"):
        smime_type = (part.get_param("smime-type") or "")
        signed = isinstance(smime_type, str) and smime_type.lower() == "signed-data"
        name = filename or ("signerat-meddelande.p7m" if signed else "krypterat-meddelande.p7m")
        w.add(make_attachment(name, ctype, b"", origin, False, OPAQUE_SIGNED if signed else ENCRYPTED))
        return
    name = filename or w.invent_name(ctype)
    if _encoded_size(part) > w.max_attachment:
        limit = max(w.max_attachment // (1024 * 1024), 1)
        w.add(make_attachment(name, ctype, b"", origin, False, ATTACHMENT_TOO_BIG.format(limit=limit)))
        return
    if not w.fits(_encoded_size(part)):
        limit = MAX_DECODED_BYTES // (1024 * 1024)
        w.add(make_attachment(name, ctype, b"", origin, False, TOO_BIG.format(limit=limit)))
        return
    data = _payload_bytes(part)
    w.spend(len(data))
    if is_tnef(ctype, name, data):
        expand_tnef(name, data, origin, w)
        return
    if is_zip(name, data):
        expand_zip(name, data, origin, w, zip_depth=0)
        return
    inline = (
        ctype.startswith("image/")
        and disposition != "attachment"
        and (disposition == "inline" or bool(part.get("content-id")))
    )
    w.add(make_attachment(name, recognise_type(name, ctype, data), data, origin, inline))


def _may_be_template(part: Message, ctype: str) -> bool:
    """Whether a part over the budget is still worth reading: it may hold a template."""
    if part.is_multipart() or ctype in EMBEDDED_MESSAGES:
        return True  # containers cost nothing by themselves; their parts are counted
    return part_filename(part).casefold().endswith(TEMPLATE_SUFFIXES)


def _embedded(part: Message) -> Message | None:
    """The message inside a message/rfc822 part (parsed by us when it was encoded)."""
    payload = part.get_payload()
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    data: object
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        if cte not in ("base64", "quoted-printable"):
            return payload[0]
        # RFC 2046 forbids encoding message/rfc822, but clients do it; compat32 then parses the
        # encoded text as a headerless message, so decode it and parse the real one.
        encoded = payload[0].as_string()
        data = _decode_cte(encoded.encode("ascii", "surrogateescape"), cte)
    else:
        data = part.get_payload(decode=True)
    if isinstance(data, bytes) and data.strip():
        return BytesParser(policy=policy.compat32).parsebytes(data)
    return None


def _decode_cte(data: bytes, cte: str) -> bytes:
    try:
        if cte == "base64":
            return base64.b64decode(b"".join(data.split()) + b"==", validate=False)
        return quopri.decodestring(data)
    except (ValueError, binascii.Error):
        return b""


def _payload_bytes(part: Message) -> bytes:
    raw = part.get_payload()
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    if cte == "base64" and isinstance(raw, str):
        # a2b_base64 skips line breaks itself; compat32 first splits the payload into lines,
        # which costs several copies of a large attachment.
        try:
            return binascii.a2b_base64(raw.encode("ascii", "surrogateescape"))
        except (binascii.Error, ValueError):
            pass  # bad padding: the stdlib's lenient decoder below
    try:
        data = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding: keep what is there
        data = None
    if isinstance(data, bytes):
        return data
    if isinstance(raw, str):
        return raw.encode("ascii", "surrogateescape")
    return b""


def _encoded_size(part: Message) -> int:
    payload = part.get_payload()
    size = len(payload) if isinstance(payload, str) else 0
    cte = str(part.get("content-transfer-encoding", "")).strip().lower()
    return size * 3 // 4 if cte == "base64" else size


# --- names and types -------------------------------------------------------------------------

def part_filename(part: Message) -> str:
    """A part's file name, decoded (RFC 2231 with continuations, RFC 2047), NFC, no path."""
    try:
        name = part.get_filename() or ""
    except Exception:  # noqa: BLE001 - a broken RFC 2231 parameter
        name = ""
    if "\ufffd" in name:
        # A raw 8-bit name (Gmail, Outlook for Mac: filename="Händelse.docx" in UTF-8): compat32
        # hands header values with 8-bit bytes back as U+FFFD, so read the raw header instead.
        name = _raw_8bit_filename(part) or name
    return clean_filename(decode_words(name) if name else "")


_RAW_NAME = re.compile(r'(?:^|;)\s*(filename|name)\s*=\s*(?:"([^"]*)"|([^;\s]+))', re.IGNORECASE)


def _raw_8bit_filename(part: Message) -> str:
    """``filename=`` (else ``name=``) as written, 8-bit bytes read as UTF-8, else cp1252."""
    found: dict[str, str] = {}
    for header, value in part.raw_items():
        if str(header).lower() not in ("content-disposition", "content-type"):
            continue
        text = re.sub(r"\r?\n(?=[ \t])", "", recover_8bit(str(value)))
        for match in _RAW_NAME.finditer(text):
            found.setdefault(match.group(1).lower(), match.group(2) or match.group(3) or "")
    return found.get("filename") or found.get("name") or ""


def _disposition(part: Message) -> str:
    try:
        return (part.get_content_disposition() or "").lower()
    except Exception:  # noqa: BLE001
        return ""


def _safe_content_type(part: Message) -> str:
    try:
        return part.get_content_type().lower()
    except Exception:  # noqa: BLE001
        return "application/octet-stream"

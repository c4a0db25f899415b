"""What an email is once parsed: plain values the rest of the service can reason about.

The mail parser (``avsteg.parsers.mail.reader``) turns raw bytes into an :class:`InboundMessage`;
triage, the pipeline and the replies only ever see these values, never a MIME tree. Every
attachment a sender could have meant (direct, in a zip, in a forwarded message, in an Outlook
``winmail.dat``) is flattened into :class:`Attachment` with an ``origin`` saying where it was
found, so that "is there a template in here?" is a loop over one tuple.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

# Origins of attachments found inside something else (prefixes of Attachment.origin).
FORWARDED = "vidarebefordrat/"
WINMAIL = "winmail.dat/"


@dataclass(frozen=True)
class MailboxPosition:
    """Where a message sits on the IMAP server: stable as long as the folder's UIDVALIDITY is."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


@dataclass(frozen=True)
class Attachment:
    """One file the message carries, wherever in the message it was found."""

    filename: str  # decoded (RFC 2231/2047); never empty ("bilaga-N.bin" is invented)
    content_type: str  # as declared, or recognised from name/magic bytes for octet-stream
    data: bytes
    sha256: str
    origin: str  # "" direct; else "vidarebefordrat/", "arkiv.zip/", "winmail.dat/" …
    inline: bool  # an inline picture in the body (signature logos), not a file meant to be sent
    problem: str | None = None  # Swedish: why the container could not be opened safely

    @property
    def path(self) -> str:
        """Where it was found and its name, as a person would say it: ``arkiv.zip/mall.docx``."""
        return f"{self.origin}{self.filename}"


@dataclass(frozen=True)
class InboundMessage:
    """A received message: the headers that matter, the text for people, every attachment."""

    message_id: str | None  # without <>; None when missing
    sender: str  # bare address of From, domain lower-cased ("" when unreadable)
    sender_name: str | None
    reply_to: str | None  # bare address of Reply-To
    return_path: str | None  # "" for a null return path <>, None when the header is absent
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str  # decoded
    date: datetime | None  # timezone-aware; None when missing or broken
    in_reply_to: tuple[str, ...]  # Message-IDs without <>
    references: tuple[str, ...]  # Message-IDs without <>
    headers: Mapping[str, tuple[str, ...]]  # lower-cased name → every value, decoded
    content_type: str  # of the top-level part
    text: str  # the body for people (plain text, or text from HTML), truncated
    attachments: tuple[Attachment, ...]
    forwarded: bool  # a message/rfc822 part was found
    raw_size: int

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (any case), or None."""
        values = self.headers.get(name.lower())
        return values[0] if values else None

    @property
    def reply_address(self) -> str:
        """Where an answer goes: Reply-To when present, else From (spec 3)."""
        return self.reply_to or self.sender

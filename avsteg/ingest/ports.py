"""The two edges of the worker: where mail comes from (Mailbox) and where replies go (Outbox).

Small protocols so the pipeline can run against the real IMAP/SMTP adapters in production and
against in-memory fakes in unit tests. Every adapter translates its library's errors into the
domain's TransientError (ours: retry later) at this boundary; the core never sees imapclient or
smtplib exceptions.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from avsteg.domain.errors import AvstegError, LoginRefusedError, TransientError
from avsteg.domain.message import MailboxPosition

Outcome = Literal["processed", "rejected"]


@dataclass(frozen=True)
class FetchedMessage:
    position: MailboxPosition
    raw: bytes
    flags: tuple[str, ...]  # as the server reported them before we read (never changed by us)
    # When the server received it (IMAP INTERNALDATE): the message's age when it has no Date.
    arrived_at: dt.datetime | None = None
    # The whole message's size as the server reports it (None: not told).
    size: int | None = None
    # False: the message is over ``policy.max_message_bytes`` and ``raw`` holds only its
    # headers; the whole message stays in the mailbox (filed away like any other).
    complete: bool = True


_BLANK_LINE = re.compile(rb"\r?\n\r?\n")


def header_part(data: bytes, limit: int = 1024 * 1024) -> bytes:
    """The header section of (the first bytes of) a message, with its blank line: what a cut
    message keeps. Without a blank line in the first ``limit`` bytes, those bytes."""
    head = data[:limit]
    found = _BLANK_LINE.search(head)
    return head[: found.end()] if found else head


class Mailbox(Protocol):
    """One folder of one account. Reading never marks a message as read."""

    def open(self) -> int:
        """Connect (when needed) and select the folder read-write; returns its UIDVALIDITY."""
        ...

    def uids(self, after: int = 0) -> list[int]:
        """UIDs greater than ``after`` of messages not yet filed away, ascending."""
        ...

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        """The raw bytes of these messages (BODY.PEEK[]: \\Seen is left as it was); of a message
        over the size limit only its headers, marked ``complete=False``."""
        ...

    def file_away(self, uid: int, outcome: Outcome) -> None:
        """Move the message to the processed/rejected folder, or tag it when none is set."""
        ...

    def wait_for_news(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True when the server reported new messages."""
        ...

    def close(self) -> None: ...


class Outbox(Protocol):
    """Where composed replies go: an SMTP server, or a folder of .eml files."""

    def deliver(self, message: EmailMessage) -> Path | None:
        """One attempt. Returns the file written (folder outboxes) or None (SMTP).

        Raises TemporaryDeliveryError (try again later) or PermanentDeliveryError (never).
        """
        ...


@runtime_checkable
class TokenProvider(Protocol):
    """An OAuth2 access token source that can be told its last token was refused."""

    def __call__(self) -> str: ...

    def invalidate(self) -> None: ...


TokenSource = TokenProvider | Callable[[], str]
"""What the adapters accept for XOAUTH2: a plain callable, or a provider that can be invalidated."""


def refresh_token(source: TokenSource) -> None:
    """Drop a cached token after the server refused it, when the source supports that."""
    if isinstance(source, TokenProvider):
        source.invalidate()


class MailboxAuthError(LoginRefusedError):
    """Raised when the IMAP server refuses our login: a configuration problem, ours to fix.

    Not transient (see LoginRefusedError): ``run --once`` exits 1, the service backs off.
    """


class SmtpAuthError(LoginRefusedError):
    """Raised when the SMTP server refuses our login. The reply stays queued, its attempts
    uncounted: a wrong password is ours to fix, not the reply's fault."""


class TemporaryDeliveryError(TransientError):
    """Raised on a 4xx reply, a refused login, a dropped or timed-out connection: retry later."""


class PermanentDeliveryError(AvstegError):
    """Raised on a 5xx reply to MAIL/RCPT/DATA: this message will never be accepted as is.

    ``code`` and ``server_text`` are what the server said, for the outbox's record.
    """

    def __init__(self, code: int, server_text: str) -> None:
        super().__init__(f"{code} {server_text}")
        self.code = code
        self.server_text = server_text

"""In-memory Mailbox and Outbox: the worker's edges without a server, for fast unit tests.

They keep the promises of the ports that the worker relies on, and nothing more: UIDs ascend
and mean something only with the folder's UIDVALIDITY; reading never changes flags; filing away
moves a message out of the folder (or tags it when no folder is configured); a delivery either
is accepted, fails for now, or fails for good. On top of that they can misbehave on request, the
way real servers do — a connection that drops during a fetch or a move, a folder recreated
under a new UIDVALIDITY, an SMTP server answering 451 or 550 — and they record what was asked
of them, so a test can say "filed once", "answered once", "never touched".

``hook(operation, before=…, after=…)`` runs a function around an operation; a test raises from
it to cut the worker off at exactly that step (a crash), which no real server can do on cue.
The real adapters (imap_mailbox, smtp_outbox) are tested against Dovecot and aiosmtpd.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

from avsteg.domain.clock import SYSTEM_CLOCK, Clock
from avsteg.domain.errors import TransientError
from avsteg.domain.message import MailboxPosition
from avsteg.ingest.ports import (
    FetchedMessage,
    Outcome,
    PermanentDeliveryError,
    TemporaryDeliveryError,
    header_part,
)

MailboxOperation = Literal["open", "uids", "fetch", "file_away"]
Hook = Callable[..., None]


class FakeConnectionLost(TransientError):
    """Raised where the real adapter raises ConnectionLost: the server hung up on us."""


class FakeUidValidityChanged(TransientError):
    """Raised when the folder's UIDVALIDITY changed since ``open()``: known UIDs are void."""


@dataclass
class FakeMessage:
    """One message on the fake server."""

    uid: int
    raw: bytes
    flags: set[str] = field(default_factory=set)


@dataclass
class _Fault:
    operation: MailboxOperation
    after: int  # fetch: messages handed out before the connection drops
    remaining: int


class FakeMailbox:
    """The ``Mailbox`` port in memory: one watched folder and the folders mail is filed into."""

    def __init__(
        self,
        *,
        account: str = "avsteg@fake.test",
        folder: str = "INBOX",
        uidvalidity: int = 1000,
        processed_folder: str | None = "Avsteg/Behandlade",
        rejected_folder: str | None = "Avsteg/Avvisade",
        processed_keyword: str = "AvstegProcessed",  # the defaults of ImapSettings
        rejected_keyword: str = "AvstegRejected",
        clock: Clock = SYSTEM_CLOCK,
        max_message_bytes: int | None = None,
    ) -> None:
        self.account = account
        self.max_message_bytes = max_message_bytes  # larger: headers only, as the adapters do
        self.folder = folder
        self.uidvalidity = uidvalidity
        self._targets: dict[Outcome, str | None] = {
            "processed": processed_folder, "rejected": rejected_folder}
        self._keywords: dict[Outcome, str] = {
            "processed": processed_keyword, "rejected": rejected_keyword}
        self.clock = clock
        self.messages: dict[int, FakeMessage] = {}  # the watched folder, by UID
        self.folders: dict[str, list[FakeMessage]] = {}  # where filed mail went
        # every file_away that took effect: (UIDVALIDITY, UID, outcome)
        self.filed: list[tuple[int, int, Outcome]] = []
        self.fetched: list[int] = []  # every UID handed out by fetch()
        self.sent_copies: list[bytes] = []  # append_sent()
        self.opens = 0
        self.closes = 0
        self._next_uid = 1
        self._selected: int | None = None  # UIDVALIDITY seen by the last open()
        self._news = False
        self._faults: list[_Fault] = []
        self._hooks: dict[tuple[str, str], list[Hook]] = {}

    # -- what a sender (or a person) does to the mailbox --------------------------------------

    def deliver(self, raw: bytes, flags: Sequence[str] = ()) -> int:
        """A message arrives in the watched folder; returns its UID."""
        uid = self._next_uid
        self._next_uid += 1
        self.messages[uid] = FakeMessage(uid, raw, set(flags))
        self._news = True
        return uid

    def recreate_folder(self, *, keep_filed: bool = False) -> int:
        """A person recreates the folder and puts everything back: a new UIDVALIDITY, new UIDs.

        With ``keep_filed`` what was filed away is copied back too (a restore from backup).
        Returns the new UIDVALIDITY.
        """
        old = sorted(self.messages.values(), key=lambda m: m.uid)
        if keep_filed:
            old += [m for filed in self.folders.values() for m in filed]
        self.uidvalidity += 1
        self.messages = {}
        self._next_uid = 1
        for message in old:
            self.deliver(message.raw, sorted(message.flags))
        return self.uidvalidity

    # -- misbehaviour on request ---------------------------------------------------------------

    def drop_connection(self, on: MailboxOperation, *, after: int = 0, times: int = 1) -> None:
        """The next ``times`` calls of ``on`` fail as a dropped connection does.

        For ``fetch`` the connection drops after ``after`` messages were handed out.
        """
        self._faults.append(_Fault(on, after, times))

    def hook(self, operation: MailboxOperation, *, before: Hook | None = None,
             after: Hook | None = None) -> None:
        """Call ``before`` / ``after`` around each call of ``operation``.

        Arguments: ``open`` none; ``fetch`` the UID about to be handed out (before only);
        ``file_away`` the UID and the outcome.
        """
        if before is not None:
            self._hooks.setdefault((operation, "before"), []).append(before)
        if after is not None:
            self._hooks.setdefault((operation, "after"), []).append(after)

    # -- the port ------------------------------------------------------------------------------

    def open(self) -> int:
        self._run_hooks("open", "before")
        self._maybe_drop("open")
        self.opens += 1
        self._selected = self.uidvalidity
        self._run_hooks("open", "after")
        return self.uidvalidity

    def uids(self, after: int = 0) -> list[int]:
        self._check("uids")
        self._news = False
        hidden = set(self._keywords.values())
        return sorted(uid for uid, m in self.messages.items()
                      if uid > after and "\\Deleted" not in m.flags and not m.flags & hidden)

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        self._check("fetch")
        fault = self._take_fault("fetch")
        handed = 0
        for uid in list(uids):
            self._run_hooks("fetch", "before", uid)
            if fault is not None and handed >= fault.after:
                self._selected = None
                raise FakeConnectionLost("fetch: connection lost (injected)")
            if self._selected != self.uidvalidity:
                raise FakeUidValidityChanged("UIDVALIDITY changed during fetch")
            message = self.messages.get(uid)
            if message is None:
                continue  # gone meanwhile, as IMAP answers for a UID that is no more
            self.fetched.append(uid)
            handed += 1
            size = len(message.raw)
            complete = self.max_message_bytes is None or size <= self.max_message_bytes
            yield FetchedMessage(
                position=MailboxPosition(self.account, self.folder, self.uidvalidity, uid),
                raw=message.raw if complete else header_part(message.raw),
                flags=tuple(sorted(message.flags)),
                size=size, complete=complete,
            )

    def file_away(self, uid: int, outcome: Outcome) -> None:
        self._run_hooks("file_away", "before", uid, outcome)
        self._check("file_away")
        message = self.messages.get(uid)
        if message is not None:  # UID MOVE of a UID that is gone is no error in IMAP either
            target = self._targets[outcome]
            if target is None:
                message.flags.add(self._keywords[outcome])
            else:
                del self.messages[uid]
                self.folders.setdefault(target, []).append(message)
            self.filed.append((self.uidvalidity, uid, outcome))
        self._run_hooks("file_away", "after", uid, outcome)

    def wait_for_news(self, timeout: float) -> bool:
        if not self._news:
            self.clock.sleep(timeout)
        news, self._news = self._news, False
        return news

    def close(self) -> None:
        self.closes += 1
        self._selected = None

    def append_sent(self, raw: bytes) -> bool:
        """A copy of a sent reply, as ``imap.sent_folder`` keeps it."""
        self.sent_copies.append(raw)
        return True

    # -- looking at the result -----------------------------------------------------------------

    def in_folder(self, name: str) -> list[bytes]:
        """Raw messages in ``name`` (the watched folder or a folder mail was filed into)."""
        if name == self.folder:
            return [m.raw for m in sorted(self.messages.values(), key=lambda m: m.uid)]
        return [m.raw for m in self.folders.get(name, [])]

    # -- inside --------------------------------------------------------------------------------

    def _check(self, operation: MailboxOperation) -> None:
        if operation != "fetch":
            self._maybe_drop(operation)
        if self._selected is None:
            raise FakeConnectionLost(f"{operation}: not connected (call open() first)")
        if self._selected != self.uidvalidity:
            raise FakeUidValidityChanged(
                f"UIDVALIDITY of {self.folder} changed from {self._selected} to {self.uidvalidity}")

    def _maybe_drop(self, operation: MailboxOperation) -> None:
        if self._take_fault(operation) is not None:
            self._selected = None
            raise FakeConnectionLost(f"{operation}: connection lost (injected)")

    def _take_fault(self, operation: MailboxOperation) -> _Fault | None:
        for fault in self._faults:
            if fault.operation == operation and fault.remaining > 0:
                fault.remaining -= 1
                return fault
        return None

    def _run_hooks(self, operation: str, when: str, *args: Any) -> None:
        for hook in self._hooks.get((operation, when), []):
            hook(*args)


class FakeOutbox:
    """The ``Outbox`` port in memory: accepted replies are kept, failures come on request."""

    def __init__(self) -> None:
        self.accepted: list[EmailMessage] = []
        self.attempts = 0
        self._failures: list[Exception] = []
        self._before: list[Hook] = []
        self._after: list[Hook] = []

    def fail_temporarily(self, times: int = 1, text: str = "451 4.3.0 Try again later") -> None:
        """The next ``times`` deliveries fail as a 4xx answer or a refused connection does."""
        self._failures += [TemporaryDeliveryError(text) for _ in range(times)]

    def fail_permanently(self, times: int = 1, code: int = 550,
                         text: str = "5.1.1 No such user") -> None:
        """The next ``times`` deliveries are refused for good (a 5xx answer)."""
        self._failures += [PermanentDeliveryError(code, text) for _ in range(times)]

    def hook(self, *, before: Hook | None = None, after: Hook | None = None) -> None:
        """``before(message)`` runs before the server decides, ``after(message)`` once it
        accepted (the message counts as delivered whatever the hook does then)."""
        if before is not None:
            self._before.append(before)
        if after is not None:
            self._after.append(after)

    def deliver(self, message: EmailMessage) -> Path | None:
        self.attempts += 1
        for hook in self._before:
            hook(message)
        if self._failures:
            raise self._failures.pop(0)
        self.accepted.append(message)
        for hook in self._after:
            hook(message)
        return None

    def answered(self) -> dict[str, list[EmailMessage]]:
        """Accepted replies by the Message-ID they answer (In-Reply-To, without <>)."""
        out: dict[str, list[EmailMessage]] = {}
        for message in self.accepted:
            original = str(message.get("In-Reply-To", "")).strip().strip("<>")
            out.setdefault(original, []).append(message)
        return out


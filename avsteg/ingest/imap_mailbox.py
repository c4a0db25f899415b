"""The mailbox the worker reads: one IMAP folder, via imapclient.

Why it looks the way it does:

* Messages are read with ``BODY.PEEK[]`` so \\Seen never changes: mail that is not ours must stay
  unread for the person who handles it (spec 3). Sizes first, then bodies in batches bounded by
  bytes; a message over ``policy.max_message_bytes`` by its headers only (``imap_fetch``).
* A dropped connection is normal (server restarts, idle timeouts, Microsoft 365 closing sessions
  after an hour). Each operation reconnects once, transparently, and otherwise raises the domain's
  TransientError; imapclient, imaplib, socket and ssl errors never leave this module.
* UIDs only mean something together with the folder's UIDVALIDITY. When a reconnect finds a new
  UIDVALIDITY, the operation fails (TransientError) instead of acting on the wrong message; the
  next ``open()`` reports the new value.
* Filing away prefers MOVE, falls back to COPY + \\Deleted + UID EXPUNGE (never a plain EXPUNGE,
  which would also remove what a person marked deleted), and tags the message with a keyword when
  no processed/rejected folder is configured.
* IDLE is renewed at most every ``idle_renew_seconds`` (RFC 2177 asks for < 29 minutes).
"""
from __future__ import annotations

import contextlib
import logging
import ssl
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from typing import Self, TypeVar

from imapclient import IMAPClient
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError, LoginError

from avsteg.config.settings import ImapSettings
from avsteg.domain.errors import ConfigurationError, LoginRefusedError, TransientError
from avsteg.ingest import imap_fetch
from avsteg.ingest.connection_errors import describe, server_text
from avsteg.ingest.imap_responses import aware_utc, has_news, response_text
from avsteg.ingest.ports import (
    FetchedMessage,
    MailboxAuthError,
    MailboxPosition,
    Outcome,
    TokenSource,
    refresh_token,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

_DROPPED = (IMAPClientAbortError, OSError, EOFError)  # OSError covers socket.timeout, SSLError
DEFAULT_IDLE_RENEW_SECONDS = 25 * 60


class ConnectionLost(TransientError):
    """Raised when the connection dropped and could not be resumed for this operation."""


class UidValidityChanged(TransientError):
    """Raised when a reconnect finds the folder's UIDVALIDITY changed: known UIDs are void."""


class ImapMailbox:
    """The ``Mailbox`` port over IMAP. Not thread-safe: one worker thread owns it."""

    def __init__(
        self,
        settings: ImapSettings,
        token_provider: TokenSource | None = None,
        *,
        idle_renew_seconds: float = DEFAULT_IDLE_RENEW_SECONDS,
        use_idle: bool = True,
        use_move: bool = True,
        ssl_context: ssl.SSLContext | None = None,
        max_message_bytes: int | None = None,
    ) -> None:
        if not settings.host or not settings.username:
            raise ConfigurationError("imap.host and imap.username must be set")
        if settings.auth == "xoauth2" and token_provider is None:
            raise ConfigurationError("imap.auth = xoauth2 needs a token provider")
        if settings.auth == "password" and settings.password is None:
            raise ConfigurationError("imap.password must be set (or imap.auth = xoauth2)")
        self.settings = settings
        self._token = token_provider
        self._idle_renew = max(0.05, idle_renew_seconds)
        self._use_idle = use_idle
        self._use_move = use_move  # False simulates a server without MOVE (tests, odd servers)
        self._ssl_context = ssl_context
        self._max_message = max_message_bytes  # larger: headers only (see imap_fetch)
        self._client: IMAPClient | None = None
        self._uidvalidity: int | None = None
        self._known_folders: set[str] = set()
        self._connections = 0  # sessions opened so far; a change means we may have missed news
        self._high_uid: int | None = None  # highest UID uids() has reported

    @property
    def account(self) -> str:
        """The ledger's name for this mailbox: ``imap.account`` or ``username@host``."""
        return self.settings.account or f"{self.settings.username}@{self.settings.host}"

    # -- the port ----------------------------------------------------------------------------

    def open(self) -> int:
        """Connect if needed, select the folder read-write, return its UIDVALIDITY."""
        previous, self._uidvalidity = self._uidvalidity, None  # accept whatever it is now
        if self._client is None:
            self._ensure_connected()
        else:
            self._run("select", self._select)
        assert self._uidvalidity is not None
        if self._uidvalidity != previous:
            self._high_uid = None  # UIDs seen under another UIDVALIDITY mean nothing
        return self._uidvalidity

    def uids(self, after: int = 0) -> list[int]:
        """UIDs above ``after`` that are neither \\Deleted nor tagged with our keywords."""
        found = self._search(after)
        self._high_uid = max([self._high_uid or 0, after, *found])
        return found

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        """Messages in ``uids`` order, \\Seen untouched, in batches bounded by count and bytes
        (``imap.batch_size``, ``imap.batch_bytes``); over ``max_message_bytes`` headers only."""
        s = self.settings
        wanted = list(uids)
        sizes = self._run("fetch sizes", partial(imap_fetch.fetch_sizes, uids=wanted))
        batches = imap_fetch.plan([(u, sizes[u]) for u in wanted if u in sizes],
                                  max_count=s.batch_size, max_bytes=s.batch_bytes,
                                  max_message=self._max_message)
        for batch in batches:
            data = self._run("fetch", partial(imap_fetch.fetch_batch, batch=batch))
            assert self._uidvalidity is not None
            for uid in batch.uids:
                item = data.pop(uid, None)  # let go of each message once it is handed on
                raw = None if item is None else imap_fetch.content(item, batch.complete)
                if item is None or raw is None:
                    continue  # expunged by someone else in the meantime
                yield FetchedMessage(
                    position=MailboxPosition(self.account, s.folder, self._uidvalidity, uid),
                    raw=raw,
                    flags=tuple(response_text(flag) for flag in item.get(b"FLAGS", ())),
                    arrived_at=aware_utc(item.get(b"INTERNALDATE")),
                    size=sizes[uid], complete=batch.complete,
                )
                del item, raw

    def _search(self, after: int) -> list[int]:
        criteria: list[str] = ["NOT", "DELETED"]
        for keyword in (self.settings.processed_keyword, self.settings.rejected_keyword):
            criteria += ["NOT", "KEYWORD", keyword]
        if after > 0:
            criteria = ["UID", f"{after + 1}:*", *criteria]
        found = self._run("search", lambda c: c.search(criteria))
        # "n:*" always matches the highest UID, even below n: filter here.
        return sorted(uid for uid in found if uid > after)

    def file_away(self, uid: int, outcome: Outcome) -> None:
        """MOVE to the outcome's folder (created when missing), or add the outcome's keyword."""
        s = self.settings
        folder = s.processed_folder if outcome == "processed" else s.rejected_folder
        if not folder:
            keyword = s.processed_keyword if outcome == "processed" else s.rejected_keyword
            self._run("tag", lambda c: c.add_flags([uid], [keyword], silent=True))
            return

        def move(client: IMAPClient) -> None:
            self._ensure_folder(client, folder)
            if self._use_move and client.has_capability("MOVE"):
                client.move([uid], folder)
                return
            client.copy([uid], folder)
            client.add_flags([uid], [b"\\Deleted"], silent=True)
            if client.has_capability("UIDPLUS"):
                client.uid_expunge([uid])
            else:  # a plain EXPUNGE would also remove what a person marked deleted
                log.warning("server lacks UIDPLUS; uid %s left flagged \\Deleted in %s", uid, s.folder)

        self._run("file away", move)

    def wait_for_news(self, timeout: float) -> bool:
        """IDLE (renewed every ``idle_renew_seconds``) or sleep + NOOP, up to ``timeout`` s.

        True when there may be new messages: the server announced some, or the connection had to
        be re-established (what arrived in between was never announced).
        """
        deadline = time.monotonic() + max(0.0, timeout)
        connections = self._connections
        # A message that arrived since uids() was announced in the answer to some other command
        # and will not be announced again: look for it before waiting.
        if self._high_uid is not None and self._search(self._high_uid):
            return True
        if not (self._use_idle and self._run("capability", lambda c: c.has_capability("IDLE"))):
            time.sleep(max(0.0, timeout))
            news = self._run("noop", lambda c: has_news(c.noop()[1]))
            return news or self._connections != connections
        # Dovecot reports changes made before IDLE began only when IDLE ends: ask first.
        if self._run("noop", lambda c: has_news(c.noop()[1])):
            return True
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            chunk = min(remaining, self._idle_renew)
            try:
                news = self._run("idle", partial(self._idle_once, seconds=chunk), retry=False)
            except ConnectionLost as exc:
                log.info("%s; reconnecting", exc)
                self._ensure_connected()
                return True
            if news or self._connections != connections:
                return True

    def close(self) -> None:
        """Log out; errors are irrelevant at this point."""
        client, self._client = self._client, None
        if client is not None:
            _logout(client)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- beyond the port ---------------------------------------------------------------------

    def append_sent(self, raw: bytes) -> bool:
        """Keep a copy of a sent reply in ``imap.sent_folder`` (\\Seen); False when unset."""
        folder = self.settings.sent_folder
        if not folder:
            return False

        def append(client: IMAPClient) -> None:
            self._ensure_folder(client, folder)
            client.append(folder, raw, flags=(b"\\Seen",))

        self._run("append", append)
        return True

    # -- connection handling -----------------------------------------------------------------

    def _run(self, what: str, operation: Callable[[IMAPClient], T], *, retry: bool = True) -> T:
        """Run ``operation``; after a dropped connection reconnect and (``retry``) try once more."""
        for attempt in (1, 2):
            client = self._ensure_connected()
            try:
                return operation(client)
            except _DROPPED as exc:
                self._drop()
                if attempt == 2 or not retry:
                    raise ConnectionLost(f"IMAP {what} failed: connection lost: {exc}") from exc
                log.info("IMAP connection lost during %s (%s); reconnecting", what, exc)
            except IMAPClientError as exc:  # a NO or BAD answer: the connection is still fine
                raise TransientError(f"IMAP {what} refused by the server: {exc}") from exc
        raise AssertionError("unreachable")

    def _ensure_connected(self) -> IMAPClient:
        if self._client is not None:
            return self._client
        client = self._session()
        try:
            self._client = client
            self._select(client)
        except (*_DROPPED, IMAPClientError, TransientError) as exc:
            self._drop(client)
            if isinstance(exc, TransientError):
                raise
            raise TransientError(f"IMAP session setup failed: {exc}") from exc
        self._connections += 1
        log.debug("connected to IMAP %s as %s", self.settings.host, self.settings.username)
        return client

    def _session(self) -> IMAPClient:
        """A new connection, TLS as configured, logged in; no folder selected."""
        s = self.settings
        try:
            client = IMAPClient(s.host, s.effective_port, ssl=s.ssl,
                                ssl_context=self._ssl_context, timeout=s.timeout_seconds)
        except (*_DROPPED, IMAPClientError) as exc:
            reason = describe(exc, service="IMAP", tls=s.ssl, port=s.effective_port)
            raise TransientError(f"cannot connect to IMAP {s.host}:{s.effective_port}: {reason}") from exc
        try:
            if not s.ssl and s.starttls:
                client.starttls(self._ssl_context or ssl.create_default_context())
            self._login(client)
        except (*_DROPPED, IMAPClientError, TransientError, LoginRefusedError) as exc:
            self._drop(client)
            if isinstance(exc, TransientError | LoginRefusedError):
                raise
            reason = describe(exc, service="IMAP", tls=s.ssl, port=s.effective_port)
            raise TransientError(f"IMAP session setup failed: {reason}") from exc
        return client

    def inspect(self) -> dict[str, int | None]:
        """``avsteg check``: each configured folder's message count (None: missing), read with
        EXAMINE on a session of its own — nothing is selected read-write, created or flagged."""
        s = self.settings
        names = [s.folder, *(f for f in (s.processed_folder, s.rejected_folder, s.sent_folder) if f)]
        client = self._session()
        try:
            return {name: int(client.select_folder(name, readonly=True).get(b"EXISTS", 0))
                    if client.folder_exists(name) else None for name in dict.fromkeys(names)}
        except (*_DROPPED, IMAPClientError) as exc:
            raise TransientError(f"IMAP folder check failed: {server_text(exc)}") from exc
        finally:
            _logout(client)

    def _login(self, client: IMAPClient) -> None:
        s = self.settings
        server = f"{s.host}:{s.effective_port}"
        if s.auth == "password":
            user, password = s.username or "", s.password or ""
            try:
                if (user + password).isascii():
                    client.login(user, password)
                else:  # LOGIN sends ASCII only; AUTHENTICATE PLAIN carries UTF-8 (RFC 4616)
                    client.plain_login(user, password)
            except LoginError as exc:
                raise MailboxAuthError("IMAP", server, s.username or "", server_text(exc)) from exc
            return
        assert self._token is not None
        for attempt in (1, 2):
            try:
                client.oauth2_login(s.username, self._token())
                return
            except LoginError as exc:
                if attempt == 2:
                    raise MailboxAuthError("IMAP", server, s.username or "",
                                           f"XOAUTH2: {server_text(exc)}") from exc
                log.info("XOAUTH2 token refused; fetching a fresh one")
                refresh_token(self._token)

    def _select(self, client: IMAPClient) -> None:
        info = client.select_folder(self.settings.folder, readonly=False)
        uidvalidity = int(info[b"UIDVALIDITY"])
        previous, self._uidvalidity = self._uidvalidity, uidvalidity
        if previous is not None and previous != uidvalidity:
            raise UidValidityChanged(
                f"UIDVALIDITY of {self.settings.folder} changed from {previous} to {uidvalidity}"
            )

    def _ensure_folder(self, client: IMAPClient, folder: str) -> None:
        if folder in self._known_folders:
            return
        if not client.folder_exists(folder):
            try:
                client.create_folder(folder)
            except IMAPClientAbortError:
                raise
            except IMAPClientError:
                if not client.folder_exists(folder):  # not a race with another client: real
                    raise
            log.info("created IMAP folder %s", folder)
        self._known_folders.add(folder)

    def _idle_once(self, client: IMAPClient, seconds: float) -> bool:
        """One IDLE command of at most ``seconds``; True as soon as new messages are reported."""
        end = time.monotonic() + seconds
        news = False
        client.idle()
        try:
            while not news:
                left = end - time.monotonic()
                if left <= 0:
                    break
                responses = client.idle_check(timeout=left)
                news = has_news(responses)
                if not responses and end - time.monotonic() > 0.01:
                    break  # woken without a line: EOF (idle_done will raise) or a partial line
        finally:
            _text_done, more = client.idle_done()
        return news or has_news(more)

    def _drop(self, client: IMAPClient | None = None) -> None:
        """Forget a broken connection without waiting on it."""
        client = client or self._client
        if client is self._client:
            self._client = None
        if client is not None:
            with contextlib.suppress(Exception):  # it is broken already
                client.shutdown()


def _logout(client: IMAPClient) -> None:
    """LOGOUT, or just close the socket when the connection is gone already."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - the connection may already be gone
        with contextlib.suppress(Exception):
            client.shutdown()

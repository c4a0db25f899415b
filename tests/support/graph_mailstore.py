"""The state of the Microsoft Graph test server: folders, messages, tokens, delta rounds, faults.

What a test does to the mailbox (deliver a message, mark it read, inject a fault) and what it
looks at afterwards (folders, what was sent, every request) goes through :class:`GraphServer`;
the HTTP side (graph_http.py) reads and changes this state under its lock.
"""
from __future__ import annotations

import email
import email.policy
import itertools
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from tests.support.graph_ca import TestCA

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
WELL_KNOWN = {"inbox": "Inbox", "sentitems": "Sent Items", "deleteditems": "Deleted Items",
              "drafts": "Drafts", "archive": "Archive", "junkemail": "Junk Email"}


@dataclass
class Folder:
    id: str
    name: str
    parent: str | None  # None: a top-level folder (its parent is msgfolderroot)
    well_known: str | None = None


@dataclass
class Message:
    immutable_id: str
    rest_id: str  # the ordinary id: changes with every move (Graph docs, "immutable identifiers")
    folder: str
    raw: bytes
    is_read: bool
    received: str  # receivedDateTime, ISO 8601 UTC
    seq: int  # change sequence number (delta)
    internet_message_id: str = ""  # the Message-ID header, read once on delivery


@dataclass
class Fault:
    method: str | None
    pattern: re.Pattern[str]
    kind: str  # "status", "drop", "drop-after" or "revoke"
    status: int = 0
    retry_after: str | None = None
    count: int = 1


@dataclass
class App:
    tenant_id: str
    client_id: str
    client_secret: str | None
    mailbox: str
    certificate: Any = None  # cryptography x509.Certificate for certificate credentials
    permissions: set[str] = field(default_factory=lambda: {"Mail.ReadWrite", "Mail.Send"})


class GraphServer:
    """State and controls of the test server; the HTTP side is :class:`_Handler`."""

    def __init__(self, ca: TestCA, app: App, *, token_lifetime: int = 3599,
                 max_page_size: int = 10) -> None:
        self.ca = ca
        self.app = app
        self.token_lifetime = token_lifetime
        self.max_page_size = max_page_size  # Graph pages are small (the docs say 10 by default)
        self.lock = threading.RLock()
        self.folders: dict[str, Folder] = {}
        self.messages: dict[str, Message] = {}  # by immutable id
        self.removals: list[tuple[str, str, str, int]] = []  # (folder, immutable id, rest id, seq)
        self.rounds: dict[str, dict[str, Any]] = {}  # skiptoken → an unfinished delta round
        self.delta_tokens: dict[str, tuple[str, int, str]] = {}  # token → (folder, seq, $select)
        self.tokens: dict[str, float] = {}  # access token → expiry (time.time())
        self.sent: list[bytes] = []  # MIME of every sendMail, in order
        self.requests: list[tuple[str, str, int]] = []  # (method, path, status)
        self.faults: list[Fault] = []
        self._seq = itertools.count(1)
        self.httpd: Any = None  # the ThreadingHTTPServer, once started
        for key, name in WELL_KNOWN.items():
            self._add_folder(name, None, well_known=key)

    # -- addresses ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self.httpd is not None
        return f"https://127.0.0.1:{self.httpd.server_address[1]}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1.0"

    @property
    def authority(self) -> str:
        return self.url

    def environ(self, **extra: str) -> dict[str, str]:
        """``AVSTEG_…`` variables (and the CA) that point avsteg at this server."""
        env = {
            "AVSTEG_MAILBOX__TRANSPORT": "graph",
            "AVSTEG_GRAPH__TENANT_ID": self.app.tenant_id,
            "AVSTEG_GRAPH__CLIENT_ID": self.app.client_id,
            "AVSTEG_GRAPH__MAILBOX": self.app.mailbox,
            "AVSTEG_GRAPH__BASE_URL": self.base_url,
            "AVSTEG_GRAPH__AUTHORITY": self.authority,
            "SSL_CERT_FILE": str(self.ca.ca_file),
            "REQUESTS_CA_BUNDLE": str(self.ca.ca_file),
        }
        if self.app.client_secret:
            env["AVSTEG_GRAPH__CLIENT_SECRET"] = self.app.client_secret
        env.update(extra)
        return env

    # -- what a test does to the mailbox -------------------------------------------------------
    def deliver(self, raw: bytes, folder: str = "inbox", *, is_read: bool = False,
                received: str | None = None) -> str:
        """Put a message in a folder (as Exchange would on delivery); returns its immutable id."""
        with self.lock:
            f = self.folder_by_ref(folder)
            assert f is not None, folder
            imm = "AAkALgAAAAAAHYQDEapmEc2byACqAC-EWg0A" + secrets.token_urlsafe(24)
            received = received or time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            self.messages[imm] = Message(imm, self._rest_id(), f.id, raw, is_read, received,
                                         next(self._seq), internet_message_id(raw))
            return imm

    def mark_read(self, immutable_id: str, is_read: bool = True) -> None:
        """A person reads a message in Outlook (a change that delta reports)."""
        with self.lock:
            m = self.messages[immutable_id]
            m.is_read = is_read
            m.seq = next(self._seq)

    def delete_folder(self, path: str) -> None:
        """A person deletes a folder in Outlook: it and its messages go to Deleted Items."""
        with self.lock:
            f = self.folder_by_path(path)
            assert f is not None, path
            bin_ = self.folder_by_ref("deleteditems")
            assert bin_ is not None
            for m in self.messages.values():
                if m.folder == f.id:
                    seq = next(self._seq)
                    self.removals.append((f.id, m.immutable_id, m.rest_id, seq))
                    m.folder, m.rest_id, m.seq = bin_.id, self._rest_id(), seq
            f.parent = bin_.id

    def in_folder(self, path: str) -> list[Message]:
        """Messages in a folder path such as ``Inbox`` or ``Avsteg/Registrerade``."""
        with self.lock:
            f = self.folder_by_path(path)
            return [] if f is None else [m for m in self.messages.values() if m.folder == f.id]

    def folder_by_path(self, path: str) -> Folder | None:
        parent: Folder | None = None
        for i, part in enumerate(p for p in path.split("/") if p):
            found = self.folder_by_ref(part) if i == 0 and part.lower() in WELL_KNOWN else None
            if found is None:
                found = next((f for f in self.folders.values() if f.name.lower() == part.lower()
                              and f.parent == (parent.id if parent else None)), None)
            if found is None:
                return None
            parent = found
        return parent

    def fail(self, pattern: str, status: int, *, count: int = 1, retry_after: str | None = None,
             method: str | None = None) -> None:
        """The next ``count`` requests whose path matches ``pattern`` get ``status``."""
        with self.lock:
            self.faults.append(Fault(method, re.compile(pattern), "status", status, retry_after, count))

    def drop(self, pattern: str, *, count: int = 1, method: str | None = None,
             after: bool = False) -> None:
        """The next ``count`` matching requests: the connection is closed without an answer,
        before the request is carried out, or (``after``) once it has been."""
        with self.lock:
            self.faults.append(Fault(method, re.compile(pattern), "drop-after" if after else "drop",
                                     count=count))

    def forget_delta_tokens(self) -> None:
        """Every delta link handed out so far answers 410 Gone from now on."""
        with self.lock:
            self.delta_tokens.clear()

    def expire_access_tokens(self) -> None:
        """Every access token issued so far is refused (401) from now on."""
        with self.lock:
            self.tokens.clear()

    def revoke_tokens_at(self, pattern: str, *, method: str | None = None) -> None:
        """At the next matching request, every access token issued so far is refused (401) from
        then on, that request included: a revocation at a known point of the work, not a moment
        in time that a fast machine may already have passed."""
        with self.lock:
            self.faults.append(Fault(method, re.compile(pattern), "revoke"))

    def count(self, method: str, pattern: str, status: int | None = None) -> int:
        rx = re.compile(pattern)
        with self.lock:
            return sum(1 for m, p, s in self.requests
                       if m == method and rx.search(p) and (status is None or s == status))

    # -- internals used by the handler ---------------------------------------------------------
    def _rest_id(self) -> str:
        return "AAMkAGI2TG93AAA" + secrets.token_urlsafe(24)

    def _add_folder(self, name: str, parent: str | None, *, well_known: str | None = None) -> Folder:
        f = Folder("AAMkAGVmMDEzFolder" + secrets.token_urlsafe(16), name, parent, well_known)
        self.folders[f.id] = f
        return f

    def folder_by_ref(self, ref: str) -> Folder | None:
        """A folder by id or well-known name (both are accepted wherever Graph takes an id)."""
        if ref in self.folders:
            return self.folders[ref]
        return next((f for f in self.folders.values() if f.well_known == ref.lower()), None)

    def message_by_ref(self, ref: str) -> Message | None:
        """By immutable or ordinary id. Graph accepts either in requests (our reading of the
        docs; a client that always asks for immutable ids never depends on it)."""
        if ref in self.messages:
            return self.messages[ref]
        return next((m for m in self.messages.values() if m.rest_id == ref), None)

    def next_seq(self) -> int:
        return next(self._seq)




def internet_message_id(raw: bytes) -> str:
    header = email.message_from_bytes(raw, policy=email.policy.default)["Message-ID"]
    return str(header or "").strip()



"""A real SMTP server for the tests: aiosmtpd in a thread, recording what it accepts.

It can be told to refuse the next messages (``451``, ``550``), to require a login, and it checks
AUTH PLAIN/LOGIN passwords and XOAUTH2 bearer tokens itself. Fixtures are re-exported by
tests/support/servers.py, the registered plugin.
"""
from __future__ import annotations

import asyncio
import base64
import json
import secrets
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.support.net import TlsFiles, free_port


@dataclass(frozen=True)
class ReceivedMessage:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    raw: bytes
    mail_options: tuple[str, ...]
    auth_user: str | None


@dataclass
class RecordingHandler:
    """Records what arrives; can be told to refuse the next messages with a given reply."""

    messages: list[ReceivedMessage] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # XOAUTH2 bearer token -> user
    require_auth: bool = False
    delay_seconds: float = 0.0  # a slow server: each DATA is answered this much later
    refuse_until: float = 0.0  # time.monotonic() until which every DATA gets a 451
    _refusals: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def refuse_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        with self._lock:
            self._refusals.extend([reply] * count)

    async def handle_MAIL(
        self, server: Any, session: Any, envelope: Any, address: str, mail_options: list[str]
    ) -> str:
        if self.require_auth and not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay_seconds:
            await asyncio.sleep(self.delay_seconds)
        if time.monotonic() < self.refuse_until:
            return "451 4.3.2 System not accepting network messages"
        with self._lock:
            refusal = self._refusals.pop(0) if self._refusals else None
        if refusal:
            return refusal
        login = session.login_data
        self.messages.append(
            ReceivedMessage(
                mail_from=envelope.mail_from,
                rcpt_tos=tuple(envelope.rcpt_tos),
                raw=envelope.original_content or envelope.content,
                mail_options=tuple(envelope.mail_options),
                auth_user=login.decode() if isinstance(login, bytes) else login,
            )
        )
        return "250 2.0.0 Message accepted"

    async def auth_XOAUTH2(self, server: Any, args: list[str]) -> Any:
        from aiosmtpd.smtp import AuthResult

        if len(args) < 2:
            return AuthResult(success=False, handled=False, message="501 5.5.2 Initial response required")
        try:
            text = base64.b64decode(args[1]).decode()
            fields = dict(part.split("=", 1) for part in text.split("\x01") if part)
            user, token = fields["user"], fields["auth"].removeprefix("Bearer ")
        except (ValueError, KeyError):
            return AuthResult(success=False, handled=False, message="501 5.5.2 Malformed XOAUTH2")
        if self.tokens.get(token) == user:
            return AuthResult(success=True, auth_data=_Login(user.encode()))
        # Like Gmail/Microsoft: a 334 challenge with a JSON error, then 535 after the empty reply.
        await server.challenge_auth(json.dumps({"status": "401", "schemes": "bearer"}))
        return AuthResult(success=False, handled=False, message="535 5.7.8 Invalid token")

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> Any:
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode()
        ok = self.passwords.get(login) == auth_data.password.decode()
        # handled=False: let aiosmtpd answer 535 itself (True would leave the client waiting).
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


@dataclass(frozen=True)
class _Login:
    login: bytes


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: RecordingHandler
    controller: Any

    @property
    def messages(self) -> list[ReceivedMessage]:
        return self.handler.messages

    def refuse_next(self, count: int = 1, reply: str = "451 4.3.0 Try again later") -> None:
        """Answer the next ``count`` messages' DATA with ``reply`` (e.g. a 451 or a 550)."""
        self.handler.refuse_next(count, reply)

    def refuse_for(self, seconds: float) -> float:
        """An outage: every DATA gets a 451 for ``seconds``; returns when it ends (monotonic)."""
        self.handler.refuse_until = time.monotonic() + seconds
        return self.handler.refuse_until

    def slow_down(self, seconds: float) -> None:
        """Answer each DATA ``seconds`` late (the server stays responsive to other sessions)."""
        self.handler.delay_seconds = seconds

    def add_password(self, user: str, password: str) -> None:
        self.handler.passwords[user] = password

    def add_token(self, user: str, token: str | None = None) -> str:
        token = token or secrets.token_urlsafe(24)
        self.handler.tokens[token] = user
        return token


def start_smtp_server(
    tls_context: ssl.SSLContext | None = None, implicit_tls: bool = False,
    smtputf8: bool = True,
) -> SmtpServer:
    """aiosmtpd on a free port; STARTTLS when ``tls_context`` is given, or implicit TLS.

    ``smtputf8=False``: a server that does not offer SMTPUTF8 (internationalised addresses).
    """
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    kwargs: dict[str, Any] = {
        "authenticator": handler.authenticate,
        "auth_require_tls": False,
        "enable_SMTPUTF8": smtputf8,
    }
    if tls_context is not None and implicit_tls:
        kwargs["ssl_context"] = tls_context
    elif tls_context is not None:
        kwargs["tls_context"] = tls_context
    for attempt in range(5):
        port = free_port()
        controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
        try:
            controller.start()
        except (OSError, RuntimeError):  # the port was taken in between; try another
            if attempt == 4:
                raise
            continue
        return SmtpServer("127.0.0.1", port, handler, controller)
    raise AssertionError("unreachable")


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A recording SMTP server (plain, AUTH PLAIN/LOGIN/XOAUTH2 offered, not required)."""
    server = start_smtp_server()
    try:
        yield server
    finally:
        server.controller.stop()


@pytest.fixture
def smtp_tls_server(tls_files: TlsFiles) -> Iterator[SmtpServer]:
    """Like ``smtp_server`` but offering STARTTLS with the session's self-signed certificate."""
    server = start_smtp_server(tls_files.server_context())
    try:
        yield server
    finally:
        server.controller.stop()

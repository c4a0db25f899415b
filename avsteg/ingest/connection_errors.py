"""Readable one-line reasons for failed mail connections, with a hint where the cause is typical.

An IT person who sets ``ssl = true`` against a plain port sees ``WRONG_VERSION_NUMBER``; the
opposite (a plain connection to an implicit-TLS port such as 993 or 465) just waits for a greeting
that never comes. Both are configuration, not outages, so the message says what to change.
Server texts arrive as ``b'[AUTHENTICATIONFAILED] Authentication failed.'``; people get the words.
"""
from __future__ import annotations

import ast
import re
import socket
import ssl

IMPLICIT_TLS_PORTS = {"IMAP": 993, "SMTP": 465}
PLAIN_PORTS = {"IMAP": 143, "SMTP": 587}


def server_text(value: object) -> str:
    """``b'[AUTHENTICATIONFAILED] Authentication failed.'`` → ``Authentication failed.``"""
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    text = text.strip()
    if re.fullmatch(r"b(['\"]).*\1", text, flags=re.S):
        try:
            literal = ast.literal_eval(text)
            if isinstance(literal, bytes):
                text = literal.decode("utf-8", "replace").strip()
        except (ValueError, SyntaxError):
            pass
    text = re.sub(r"^\[[A-Z0-9-]+(?: [^\]]*)?\]\s*", "", text)  # an IMAP response code
    return " ".join(text.split())


def tls_hint(exc: BaseException, *, service: str, tls: bool, port: int) -> str | None:
    """What to change when ``exc`` looks like TLS on one side only; None otherwise.

    ``tls`` is whether we spoke TLS from the first byte (``imap.ssl``/``smtp.ssl``).
    """
    section = service.lower()
    if tls and isinstance(exc, ssl.SSLError) and "WRONG_VERSION_NUMBER" in str(exc).upper():
        return (f"port {port} does not speak TLS from the first byte: set {section}.ssl = false "
                f"(with {section}.starttls = true), or use port {IMPLICIT_TLS_PORTS[service]}")
    if not tls and isinstance(exc, (TimeoutError, socket.timeout)):
        return (f"no {service} greeting on port {port}: if it is an implicit-TLS port "
                f"(usually {IMPLICIT_TLS_PORTS[service]}) set {section}.ssl = true")
    if not tls and port == IMPLICIT_TLS_PORTS[service]:
        return f"port {port} usually expects TLS from the first byte: set {section}.ssl = true"
    return None


def describe(exc: BaseException, *, service: str, tls: bool, port: int) -> str:
    """The error in one line, followed by the TLS hint when there is one."""
    reason = server_text(exc) or type(exc).__name__
    hint = tls_hint(exc, service=service, tls=tls, port=port)
    return f"{reason} (hint: {hint})" if hint else reason

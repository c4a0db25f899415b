"""Readable login and TLS errors for the person who configures the mailbox."""
from __future__ import annotations

import ssl

from avsteg.domain.errors import LOGIN_REFUSED, LoginRefusedError
from avsteg.ingest.connection_errors import describe, server_text, tls_hint


def test_server_text_drops_bytes_repr_and_response_codes():
    assert server_text("b'[AUTHENTICATIONFAILED] Authentication failed.'") == "Authentication failed."
    assert server_text(b"5.7.139 Authentication unsuccessful") == "5.7.139 Authentication unsuccessful"
    assert server_text("plain words") == "plain words"


def test_ssl_against_a_plain_port_gets_a_hint():
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)")
    hint = tls_hint(exc, service="IMAP", tls=True, port=143)
    assert hint is not None and "imap.ssl = false" in hint and "993" in hint


def test_plain_against_an_implicit_tls_port_gets_a_hint():
    hint = tls_hint(TimeoutError("timed out"), service="SMTP", tls=False, port=465)
    assert hint is not None and "smtp.ssl = true" in hint
    assert "hint: " in describe(TimeoutError("timed out"), service="IMAP", tls=False, port=993)


def test_no_hint_for_an_ordinary_refusal():
    assert tls_hint(ConnectionRefusedError(111, "Connection refused"), service="IMAP", tls=True,
                    port=993) is None


def test_a_refused_login_names_server_and_account_in_one_line():
    exc = LoginRefusedError("IMAP", "outlook.office365.com:993", "socialhansyn@ink.goteborg.se",
                            server_text("b'[AUTHENTICATIONFAILED] Authentication failed.'"))
    text = str(exc)
    assert text == ("IMAP login refused by outlook.office365.com:993 for "
                    "socialhansyn@ink.goteborg.se: Authentication failed.")
    assert LOGIN_REFUSED in text and "\n" not in text and "b'" not in text

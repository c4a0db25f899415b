"""SmtpOutbox against a real aiosmtpd server: delivery, 4xx/5xx classification, auth, TLS."""
from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from typing import Any

import pytest

from avsteg.config.settings import SmtpSettings
from avsteg.domain.errors import TransientError
from avsteg.ingest.ports import PermanentDeliveryError, SmtpAuthError, TemporaryDeliveryError
from avsteg.ingest.smtp_outbox import SmtpOutbox, envelope_recipients
from tests.support.servers import SmtpServer, free_port

pytestmark = pytest.mark.integration

OUR_ADDRESS = "socialhansyn@ink.goteborg.se"
BODY = (
    "Hej Åsa!\n\n"
    "Tack för er avstegsrapport. Den är registrerad som AVS-2026-0001.\n"
    "Organisation: Städ & Fönsterputs i Göteborg AB (556677-8899)\n"
    "Avsteg 1: Lokalvård – leverantör Rent Hus AB – 3 jobb.\n\n"
    "Med vänlig hälsning\nStödfunktionen för social hänsyn i upphandling\n"
)


def reply(to: str = "Åsa Öberg <asa.oberg@goteborg.se>", **headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Stödfunktionen för social hänsyn <{OUR_ADDRESS}>"
    msg["To"] = to
    msg["Subject"] = "Re: Avstegsrapport – kvitto AVS-2026-0001"
    msg["In-Reply-To"] = "<orig-1@goteborg.se>"
    msg["References"] = "<orig-1@goteborg.se>"
    msg["Auto-Submitted"] = "auto-replied"
    msg["Message-ID"] = "<reply-1@ink.goteborg.se>"
    for name, value in headers.items():
        msg[name] = value
    msg.set_content(BODY)
    return msg


def settings(server: SmtpServer, **overrides: Any) -> SmtpSettings:
    values: dict[str, Any] = {
        "host": server.host,
        "port": server.port,
        "ssl": False,
        "starttls": False,
        "auth": "none",
        "timeout_seconds": 5,
    }
    values.update(overrides)
    return SmtpSettings(**values)


def test_delivers_with_headers_and_8bit_body_intact(smtp_server):
    message = reply(Cc="registrator@goteborg.se", Bcc="arkiv@goteborg.se")
    assert message["Content-Transfer-Encoding"] == "8bit"  # what EmailMessage picks for åäö

    assert SmtpOutbox(settings(smtp_server), OUR_ADDRESS).deliver(message) is None

    [received] = smtp_server.messages
    assert received.mail_from == OUR_ADDRESS
    assert received.rcpt_tos == (
        "asa.oberg@goteborg.se",
        "registrator@goteborg.se",
        "arkiv@goteborg.se",
    )
    assert "BODY=8BITMIME" in received.mail_options
    parsed = email.message_from_bytes(received.raw, policy=email.policy.default)
    assert parsed["Subject"] == "Re: Avstegsrapport – kvitto AVS-2026-0001"
    assert parsed["To"] == "Åsa Öberg <asa.oberg@goteborg.se>"
    assert parsed["From"].addresses[0].display_name == "Stödfunktionen för social hänsyn"
    assert parsed["In-Reply-To"] == "<orig-1@goteborg.se>"
    assert parsed["Auto-Submitted"] == "auto-replied"
    assert "Bcc" not in parsed  # blind recipients stay blind
    assert parsed.get_content().replace("\r\n", "\n") == BODY
    assert "Städ & Fönsterputs".encode() in received.raw  # sent as 8-bit, not re-encoded


def test_451_is_temporary_and_the_next_attempt_succeeds(smtp_server):
    smtp_server.refuse_next(1, "451 4.3.0 Mailbox temporarily unavailable")
    outbox = SmtpOutbox(settings(smtp_server), OUR_ADDRESS)
    with pytest.raises(TemporaryDeliveryError, match="451") as info:
        outbox.deliver(reply())
    assert isinstance(info.value, TransientError)
    assert smtp_server.messages == []
    outbox.deliver(reply())
    assert len(smtp_server.messages) == 1


def test_550_is_permanent_with_the_servers_text(smtp_server):
    smtp_server.refuse_next(1, "550 5.1.1 User unknown: asa.oberg@goteborg.se")
    with pytest.raises(PermanentDeliveryError) as info:
        SmtpOutbox(settings(smtp_server), OUR_ADDRESS).deliver(reply())
    assert info.value.code == 550
    assert "User unknown" in info.value.server_text
    assert not isinstance(info.value, TransientError)


def test_unreachable_server_is_temporary():
    unused = SmtpSettings(
        host="127.0.0.1", port=free_port(), starttls=False, auth="none", timeout_seconds=2
    )
    with pytest.raises(TemporaryDeliveryError, match="cannot open SMTP session"):
        SmtpOutbox(unused, OUR_ADDRESS).deliver(reply())


def test_password_login_and_a_refused_password(smtp_server):
    smtp_server.handler.require_auth = True
    smtp_server.add_password("avsteg@ink.goteborg.se", "rätt lösen")
    good = settings(
        smtp_server, auth="password", username="avsteg@ink.goteborg.se", password="rätt lösen"
    )
    SmtpOutbox(good, OUR_ADDRESS).deliver(reply())
    assert [m.auth_user for m in smtp_server.messages] == ["avsteg@ink.goteborg.se"]

    bad = good.model_copy(update={"password": "fel"})
    # A refused login is our configuration, never the message's fault, and not temporary
    # either: the reply stays queued and the worker backs off (spec 4).
    with pytest.raises(SmtpAuthError, match="SMTP login refused by .* for avsteg@ink.goteborg.se"):
        SmtpOutbox(bad, OUR_ADDRESS).deliver(reply())
    assert len(smtp_server.messages) == 1


def test_starttls_is_used_and_never_silently_skipped(smtp_server, smtp_tls_server, tls_files):
    context = tls_files.client_context()
    SmtpOutbox(settings(smtp_tls_server, starttls=True), OUR_ADDRESS, ssl_context=context).deliver(
        reply()
    )
    assert len(smtp_tls_server.messages) == 1
    # A server that does not offer STARTTLS gets nothing in plain text.
    with pytest.raises(TemporaryDeliveryError, match="(?i)starttls"):
        SmtpOutbox(settings(smtp_server, starttls=True), OUR_ADDRESS, ssl_context=context).deliver(
            reply()
        )
    assert smtp_server.messages == []


def test_a_message_without_recipients_is_refused_before_connecting():
    message = reply()
    del message["To"]
    nowhere = SmtpSettings(host="127.0.0.1", port=free_port(), starttls=False, auth="none")
    with pytest.raises(PermanentDeliveryError, match="no recipient"):
        SmtpOutbox(nowhere, OUR_ADDRESS).deliver(message)


def test_envelope_recipients_deduplicates_in_header_order():
    message = reply(
        to="A <a@goteborg.se>, b@goteborg.se", Cc="a@goteborg.se, C <c@goteborg.se>"
    )
    assert envelope_recipients(message) == ["a@goteborg.se", "b@goteborg.se", "c@goteborg.se"]

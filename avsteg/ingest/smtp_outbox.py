"""Sending replies by SMTP: one attempt per call, every failure classified as temporary or permanent.

Retrying and backing off belong to the outbox queue in storage; this adapter only has to say
*which* kind of failure happened. A 5xx answer to MAIL, RCPT or DATA is permanent: the server will
never take this message. Everything else is temporary and ours: 4xx answers, dropped or timed-out
connections, TLS problems. A refused login is neither: it is :class:`SmtpAuthError` (a wrong
password or a revoked app is our configuration, not the message's fault; the reply stays queued
and the worker backs off instead of logging in again and again).
"""
from __future__ import annotations

import base64
import copy
import email.policy
import logging
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import getaddresses
from pathlib import Path

from avsteg.config.settings import SmtpSettings
from avsteg.domain.errors import ConfigurationError, LoginRefusedError
from avsteg.domain.replies.addresses import international
from avsteg.ingest.connection_errors import describe, server_text
from avsteg.ingest.oauth import xoauth2_string
from avsteg.ingest.ports import (
    PermanentDeliveryError,
    SmtpAuthError,
    TemporaryDeliveryError,
    TokenSource,
    refresh_token,
)

log = logging.getLogger(__name__)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def envelope_recipients(message: EmailMessage) -> list[str]:
    """Addresses from To, Cc and Bcc, in that order, without duplicates."""
    fields = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
    seen: dict[str, None] = {}
    for _name, address in getaddresses(fields):
        if address and "@" in address:
            seen.setdefault(address, None)
    return list(seen)


class SmtpOutbox:
    """The ``Outbox`` port over SMTP (STARTTLS or implicit TLS; password, XOAUTH2 or no login)."""

    def __init__(
        self,
        settings: SmtpSettings,
        envelope_from: str,
        token_provider: TokenSource | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        if not settings.host:
            raise ConfigurationError("smtp.host must be set")
        if settings.auth == "xoauth2" and token_provider is None:
            raise ConfigurationError("smtp.auth = xoauth2 needs a token provider")
        if settings.auth == "xoauth2" and not settings.username:
            raise ConfigurationError("smtp.username must be set for smtp.auth = xoauth2")
        self.settings = settings
        self.envelope_from = envelope_from  # our own address: where bounces belong
        self._token = token_provider
        self._ssl_context = ssl_context

    @property
    def server(self) -> str:
        return f"{self.settings.host}:{self.settings.effective_port}"

    def verify(self) -> str:
        """Connect, EHLO, TLS and AUTH as for a delivery, then QUIT; nothing is sent.

        Returns what the server said in EHLO (for ``avsteg check``); raises like ``deliver``.
        """
        smtp = self._connect()
        try:
            lines = _text(smtp.ehlo_resp or b"").splitlines()
            return lines[0] if lines else ""
        finally:
            _quit(smtp)

    def deliver(self, message: EmailMessage) -> Path | None:
        """Send ``message`` once. Raises TemporaryDeliveryError or PermanentDeliveryError."""
        recipients = envelope_recipients(message)
        if not recipients:
            raise PermanentDeliveryError(0, "the message has no recipient (To/Cc/Bcc)")
        outgoing = message
        if "Bcc" in message:  # blind recipients stay blind
            outgoing = copy.deepcopy(message)
            del outgoing["Bcc"]
        # policy.SMTP: CRLF line ends and RFC 2047 headers; 8-bit bodies go out as 8BITMIME.
        # An address with non-ASCII letters needs UTF-8 headers and a server offering SMTPUTF8.
        utf8 = international(outgoing)
        raw = outgoing.as_bytes(policy=email.policy.SMTPUTF8 if utf8 else email.policy.SMTP)
        smtp = self._connect()
        try:
            options = ["BODY=8BITMIME"] if _is_8bit(raw) and smtp.has_extn("8bitmime") else []
            if utf8:
                if not smtp.has_extn("smtputf8"):
                    raise PermanentDeliveryError(
                        553, "the SMTP server does not offer SMTPUTF8, which an address with "
                             f"non-ASCII letters needs: {', '.join(recipients)}")
                options.append("SMTPUTF8")
            refused = smtp.sendmail(self.envelope_from, recipients, raw, mail_options=options)
        except smtplib.SMTPRecipientsRefused as exc:
            answers = list(exc.recipients.values())
            code, text = answers[0]
            if any(400 <= c < 500 for c, _ in answers):
                raise TemporaryDeliveryError(f"SMTP refused the recipients for now: {exc.recipients}") from exc
            raise PermanentDeliveryError(code, _text(text)) from exc
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            if exc.smtp_code >= 500:
                raise PermanentDeliveryError(exc.smtp_code, _text(exc.smtp_error)) from exc
            raise TemporaryDeliveryError(
                f"SMTP answered {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPResponseException as exc:
            raise TemporaryDeliveryError(
                f"SMTP answered {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise TemporaryDeliveryError(f"SMTP delivery failed: {exc}") from exc
        finally:
            _quit(smtp)
        if refused:  # some recipients took it: sending again would duplicate it for them
            log.warning("SMTP refused some recipients of %s: %s", message["Message-ID"], refused)
        return None

    # -- connection ----------------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        host, port = s.host or "", s.effective_port
        context = self._ssl_context or ssl.create_default_context()
        smtp: smtplib.SMTP | None = None
        try:
            if s.ssl:
                smtp = smtplib.SMTP_SSL(host, port, timeout=s.timeout_seconds, context=context)
            else:
                smtp = smtplib.SMTP(host, port, timeout=s.timeout_seconds)
                if s.starttls:  # never fall back to plain text when TLS was asked for
                    smtp.starttls(context=context)
            smtp.ehlo_or_helo_if_needed()
            self._login(smtp)
            return smtp
        except (TemporaryDeliveryError, LoginRefusedError):
            if smtp is not None:
                _quit(smtp)
            raise
        except (smtplib.SMTPException, OSError) as exc:
            if smtp is not None:
                _quit(smtp)
            reason = describe(exc, service="SMTP", tls=s.ssl, port=port)
            raise TemporaryDeliveryError(f"cannot open SMTP session with {host}:{port}: {reason}") from exc

    def _login(self, smtp: smtplib.SMTP) -> None:
        s = self.settings
        if s.auth == "none" or (s.auth == "password" and not s.username):
            return  # a relay that trusts our network: no username configured, no login
        user = s.username or ""
        if s.auth == "password":
            password = s.password or ""
            try:
                if (user + password).isascii() or not smtp.has_extn("auth"):
                    smtp.login(user, password)
                else:  # smtplib encodes credentials as ASCII; "lösenord" needs UTF-8 (RFC 4616)
                    _auth_plain_utf8(smtp, user, password)
            except smtplib.SMTPAuthenticationError as exc:
                raise SmtpAuthError("SMTP", self.server, user,
                                    f"{exc.smtp_code} {server_text(exc.smtp_error)}") from exc
            return
        assert self._token is not None
        for attempt in (1, 2):
            initial = xoauth2_string(user, self._token())
            try:
                # smtplib base64-encodes; a second call carries the server's error challenge,
                # answered with an empty line so the server can finish with 535.
                smtp.auth(
                    "XOAUTH2",
                    lambda challenge=None, initial=initial: initial if challenge is None else "",
                )
                return
            except smtplib.SMTPAuthenticationError as exc:
                if attempt == 2:
                    raise SmtpAuthError(
                        "SMTP", self.server, user,
                        f"XOAUTH2: {exc.smtp_code} {server_text(exc.smtp_error)}",
                    ) from exc
                log.info("SMTP refused the XOAUTH2 token; fetching a fresh one")
                refresh_token(self._token)


def _auth_plain_utf8(smtp: smtplib.SMTP, user: str, password: str) -> None:
    blob = base64.b64encode(b"\0" + user.encode() + b"\0" + password.encode()).decode("ascii")
    code, text = smtp.docmd("AUTH", f"PLAIN {blob}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, text)


def _is_8bit(raw: bytes) -> bool:
    return not raw.isascii()


def _quit(smtp: smtplib.SMTP) -> None:
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()

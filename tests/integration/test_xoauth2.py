"""XOAUTH2 for real: Dovecot checks bearer tokens with a local introspection endpoint, aiosmtpd
checks them itself. Covers the Microsoft 365 case where a token is revoked or expires mid-session.
"""
from __future__ import annotations

import time
from email.message import EmailMessage

import pytest

from avsteg.config.settings import SmtpSettings
from avsteg.ingest.imap_mailbox import ImapMailbox
from avsteg.ingest.oauth import OAuthTokenProvider
from avsteg.ingest.ports import MailboxAuthError, SmtpAuthError
from avsteg.ingest.smtp_outbox import SmtpOutbox

pytestmark = pytest.mark.integration


class Authority:
    """Stands in for Microsoft's token endpoint: hands out a given sequence of tokens."""

    def __init__(self, *tokens: str) -> None:
        self.tokens = list(tokens)
        self.calls: list[bool] = []  # the ``force`` flag of each request

    def __call__(self, force: bool) -> dict[str, object]:
        self.calls.append(force)
        return {"access_token": self.tokens.pop(0), "expires_in": 3599, "token_type": "Bearer"}


def xoauth2_settings(dovecot, user):
    return dovecot.settings_for(user, auth="xoauth2", password=None)


def message() -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "socialhansyn@ink.goteborg.se"
    msg["To"] = "anna@goteborg.se"
    msg["Subject"] = "Kvitto"
    msg.set_content("Tack för rapporten.\n")
    return msg


def test_imap_login_with_a_valid_token(dovecot, mail_user):
    token = dovecot.add_token(mail_user)
    dovecot.append(mail_user, "INBOX", b"Subject: hej\r\n\r\nhej\r\n")
    asked = dovecot.introspection_requests
    with ImapMailbox(xoauth2_settings(dovecot, mail_user), lambda: token) as box:
        box.open()
        assert len(box.uids()) == 1
    assert dovecot.introspection_requests > asked  # Dovecot really asked the endpoint


def test_imap_login_with_an_unknown_token_is_refused(dovecot, mail_user):
    dovecot.add_token(mail_user)  # a valid token exists, but not the one we present
    with pytest.raises(MailboxAuthError, match="login refused .*XOAUTH2"):
        ImapMailbox(xoauth2_settings(dovecot, mail_user), lambda: "not-a-token").open()


def test_a_token_of_another_user_is_refused(dovecot, mail_user):
    other = dovecot.add_user()
    token = dovecot.add_token(other)
    with pytest.raises(MailboxAuthError):
        ImapMailbox(xoauth2_settings(dovecot, mail_user), lambda: token).open()


def test_a_refused_token_is_replaced_at_once(dovecot, mail_user):
    fresh = dovecot.add_token(mail_user)
    authority = Authority("revoked-token", fresh)
    provider = OAuthTokenProvider(authority)
    with ImapMailbox(xoauth2_settings(dovecot, mail_user), provider) as box:
        box.open()
    assert authority.calls == [False, True]  # second request bypassed every cache


def test_token_revoked_mid_session(dovecot, mail_user):
    first = dovecot.add_token(mail_user)
    second = dovecot.add_token(mail_user)
    authority = Authority(first, second)
    dovecot.append(mail_user, "INBOX", b"Subject: a\r\n\r\na\r\n")
    with ImapMailbox(xoauth2_settings(dovecot, mail_user), OAuthTokenProvider(authority)) as box:
        box.open()
        dovecot.revoke_token(first)
        dovecot.kick(mail_user)  # Microsoft 365 ends sessions whose token expired
        time.sleep(0.2)
        assert len(box.uids()) == 1  # reconnected; the cached token was refused and replaced
    assert authority.calls == [False, True]


def test_smtp_xoauth2(smtp_server):
    user = "socialhansyn@ink.goteborg.se"
    smtp_server.handler.require_auth = True
    good = smtp_server.add_token(user)
    authority = Authority("expired-token", good)
    settings = SmtpSettings(
        host=smtp_server.host,
        port=smtp_server.port,
        starttls=False,
        auth="xoauth2",
        username=user,
        timeout_seconds=5,
    )
    SmtpOutbox(settings, user, OAuthTokenProvider(authority)).deliver(message())
    assert [m.auth_user for m in smtp_server.messages] == [user]
    assert authority.calls == [False, True]

    with pytest.raises(SmtpAuthError, match="login refused .*XOAUTH2"):
        SmtpOutbox(settings, user, lambda: "never-valid").deliver(message())
    assert len(smtp_server.messages) == 1

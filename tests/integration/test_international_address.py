"""A report from an address with Swedish letters (``åsa.öberg@…``, RFC 6531) is registered and
answered at that very address, through a real SMTP server (aiosmtpd) offering SMTPUTF8.

Before, composing the receipt raised UnicodeEncodeError (``formataddr``), so the message failed
as a whole and was set aside as unreadable; and stored with the default policy, the address's
local part would have become an RFC 2047 encoded word, i.e. another address. A server without
SMTPUTF8 cannot carry such a reply: it fails for good and waits for a person.
"""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.config.settings import SmtpSettings, load_settings
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.ingest.smtp_outbox import SmtpOutbox
from avsteg.services.delivery import deliver_due
from tests.support import emails
from tests.support.smtp_server import SmtpServer, start_smtp_server
from tests.unit.test_read_model import filled

pytestmark = pytest.mark.integration
ADDRESS = "åsa.öberg@goteborg.se"


def report_from_asa() -> bytes:
    raw = emails.simple(filled(3, "Trafikkontoret", 2026), sender="placeholder@goteborg.se",
                        sender_name=None, message_id="intl-1@goteborg.se")
    # As an SMTPUTF8 message arrives: the header in UTF-8, not encoded.
    return raw.replace(b"From: placeholder@goteborg.se",
                       f"From: Åsa Öberg <{ADDRESS}>".encode())


def registered(tmp_path: Path):
    settings = load_settings(None, database={"url": f"sqlite:///{tmp_path / 'a.sqlite'}"})
    db = open_database(settings)
    handled = build_pipeline(settings, db).handle(report_from_asa())
    assert handled.outcome == "registered", handled
    assert handled.reply_ids
    return db, handled


def outbox(server: SmtpServer) -> SmtpOutbox:
    return SmtpOutbox(SmtpSettings(host=server.host, port=server.port, ssl=False,
                                   starttls=False, auth="none", timeout_seconds=5),
                      envelope_from="socialhansyn@ink.goteborg.se")


def read(raw: bytes) -> email.message.EmailMessage:
    """A message with UTF-8 headers, as a mail program that speaks SMTPUTF8 reads it."""
    return email.message_from_string(raw.decode("utf-8"), policy=email.policy.default)  # type: ignore[return-value]


def test_the_receipt_reaches_the_address_with_swedish_letters(tmp_path: Path) -> None:
    db, handled = registered(tmp_path)
    server = start_smtp_server()
    try:
        results = deliver_due(db, outbox(server), only=handled.reply_ids)
    finally:
        server.controller.stop()
    assert [r.status for r in results] == ["sent"], results
    (sent,) = server.handler.messages
    assert sent.rcpt_tos == (ADDRESS,)
    assert "SMTPUTF8" in sent.mail_options
    reply = read(sent.raw)
    assert reply["To"].addresses[0].addr_spec == ADDRESS
    assert reply["To"].addresses[0].display_name == "Åsa Öberg"
    assert handled.references[0] in reply["Subject"]
    db.dispose()


def test_a_folder_outbox_keeps_the_address_as_written(tmp_path: Path) -> None:
    db, handled = registered(tmp_path)
    (result,) = deliver_due(db, FolderOutbox(tmp_path / "svar"), only=handled.reply_ids)
    assert result.path is not None
    reply = read(result.path.read_bytes())
    assert reply["To"].addresses[0].addr_spec == ADDRESS
    db.dispose()


def test_without_smtputf8_the_reply_fails_for_good_and_waits_for_a_person(tmp_path: Path) -> None:
    db, handled = registered(tmp_path)
    server = start_smtp_server(smtputf8=False)
    try:
        (result,) = deliver_due(db, outbox(server), only=handled.reply_ids)
    finally:
        server.controller.stop()
    assert result.status == "failed" and "SMTPUTF8" in (result.error or ""), result
    assert server.handler.messages == []
    db.dispose()

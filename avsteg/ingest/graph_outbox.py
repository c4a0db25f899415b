"""Replies sent through Microsoft Graph: ``POST /users/{mailbox}/sendMail`` with the MIME message.

The reply is the very EmailMessage the SMTP outbox would send (threading headers,
``Auto-Submitted``, our Message-ID), serialised the same way and base64-encoded as the MIME
variant of sendMail asks (``Content-Type: text/plain``). Graph answers ``202 Accepted`` and keeps
a copy in Sent Items. Throttling and 5xx are waited out by the client.

A connection that drops after the ``sendMail`` went out leaves us not knowing whether Graph took
it. Sent Items is asked for a message with the reply's Message-ID: found, it was sent; not
found, it is sent once more at once. Exchange files the Sent Items copy asynchronously, so a
copy that is on its way but not there yet means a second reply: the same narrow window as an
SMTP server that took the message and dropped the connection before saying so.
"""
from __future__ import annotations

import base64
import email.policy
import logging
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from avsteg.config.settings import GraphSettings
from avsteg.domain.errors import ConfigurationError, TransientError
from avsteg.domain.replies.addresses import international
from avsteg.ingest.graph_client import GraphClient, GraphError, GraphUnavailable
from avsteg.ingest.ports import PermanentDeliveryError, TemporaryDeliveryError

log = logging.getLogger(__name__)


class GraphOutbox:
    """The ``Outbox`` port over Graph's sendMail (as the mailbox ``graph.mailbox``)."""

    def __init__(self, settings: GraphSettings, client: GraphClient) -> None:
        if not settings.mailbox:
            raise ConfigurationError("graph.mailbox must be set")
        self.settings = settings
        self.client = client
        self._user = f"users/{quote(settings.mailbox, safe='@')}"
        self._path = f"{self._user}/sendMail"

    def deliver(self, message: EmailMessage) -> Path | None:
        """Send ``message`` once; TemporaryDeliveryError or PermanentDeliveryError otherwise."""
        if not any(message.get(h) for h in ("To", "Cc", "Bcc")):
            raise PermanentDeliveryError(0, "the message has no recipient (To/Cc/Bcc)")
        # UTF-8 headers only where an address needs them (Exchange Online accepts them).
        raw = message.as_bytes(
            policy=email.policy.SMTPUTF8 if international(message) else email.policy.SMTP)
        body = base64.b64encode(raw).decode("ascii")
        try:
            self._send(body, str(message.get("Message-ID") or ""))
        except GraphError as exc:
            if exc.status in (400, 413, 415, 422):
                # The request itself is refused (bad MIME, a recipient Exchange will not take,
                # too large): the same bytes will never go through.
                raise PermanentDeliveryError(exc.status, str(exc)) from exc
            raise TemporaryDeliveryError(str(exc)) from exc
        except TransientError as exc:  # no token, Graph unavailable, app refused (403)
            raise TemporaryDeliveryError(str(exc)) from exc
        return None

    def _send(self, body: str, message_id: str, tries: int = 3) -> None:
        """POST sendMail; after a dropped connection, look in Sent Items before sending again."""
        for attempt in range(1, tries + 1):
            try:
                self.client.post_text(self._path, body, idempotent=False)
                return
            except GraphUnavailable as exc:
                if not exc.maybe_done:
                    raise
                if message_id and self._in_sent_items(message_id):
                    log.info("reply %s was sent before the connection dropped", message_id)
                    return
                if attempt == tries:
                    raise
                log.info("reply %s not in Sent Items after a dropped connection; sending it "
                         "again", message_id)

    def _in_sent_items(self, message_id: str) -> bool:
        """Whether Sent Items holds a message with this Message-ID; False when it cannot tell."""
        literal = message_id.strip().replace("'", "''")
        try:
            page = self.client.get_json(
                f"{self._user}/mailFolders/sentitems/messages",
                params={"$filter": f"internetMessageId eq '{literal}'", "$select": "id", "$top": "1"})
        except GraphError as exc:
            log.warning("could not look in Sent Items for %s: %s", message_id, exc)
            return False
        return bool(page.get("value"))

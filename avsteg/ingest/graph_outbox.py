"""Replies sent through Microsoft Graph: ``POST /users/{mailbox}/sendMail`` with the MIME message.

The reply is the very EmailMessage the SMTP outbox would send (threading headers,
``Auto-Submitted``, our Message-ID), serialised the same way and base64-encoded as the MIME
variant of sendMail asks (``Content-Type: text/plain``). Graph answers ``202 Accepted`` and keeps
a copy in Sent Items. Throttling and 5xx are waited out by the client; a ``sendMail`` that may
have reached Graph is not repeated at once (it could be a second copy): it stays queued.
"""
from __future__ import annotations

import base64
import email.policy
from email.message import EmailMessage
from pathlib import Path
from urllib.parse import quote

from avsteg.config.settings import GraphSettings
from avsteg.domain.errors import ConfigurationError, TransientError
from avsteg.ingest.graph_client import GraphClient, GraphError
from avsteg.ingest.ports import PermanentDeliveryError, TemporaryDeliveryError


class GraphOutbox:
    """The ``Outbox`` port over Graph's sendMail (as the mailbox ``graph.mailbox``)."""

    def __init__(self, settings: GraphSettings, client: GraphClient) -> None:
        if not settings.mailbox:
            raise ConfigurationError("graph.mailbox must be set")
        self.settings = settings
        self.client = client
        self._path = f"users/{quote(settings.mailbox, safe='@')}/sendMail"

    def deliver(self, message: EmailMessage) -> Path | None:
        """Send ``message`` once; TemporaryDeliveryError or PermanentDeliveryError otherwise."""
        if not any(message.get(h) for h in ("To", "Cc", "Bcc")):
            raise PermanentDeliveryError(0, "the message has no recipient (To/Cc/Bcc)")
        raw = message.as_bytes(policy=email.policy.SMTP)
        body = base64.b64encode(raw).decode("ascii")
        try:
            self.client.post_text(self._path, body, idempotent=False)
        except GraphError as exc:
            if exc.status in (400, 413, 415, 422):
                # The request itself is refused (bad MIME, a recipient Exchange will not take,
                # too large): the same bytes will never go through.
                raise PermanentDeliveryError(exc.status, str(exc)) from exc
            raise TemporaryDeliveryError(str(exc)) from exc
        except TransientError as exc:  # no token, Graph unavailable, app refused (403)
            raise TemporaryDeliveryError(str(exc)) from exc
        return None

"""``avsteg check`` for the Microsoft Graph transport: token, mailbox, folders, send permission.

Nothing is touched: the folders are looked up, never made; no message is read, moved or sent.
Whether the app may send is asked by a ``sendMail`` that Graph must refuse before sending
anything: a message without recipients. Graph checks the caller's permission on the mailbox
before it validates the message (our reading of its behaviour; the documentation does not
promise an order), so ``403 ErrorAccessDenied`` means "no Mail.Send for this mailbox" and a
``400`` about recipients means "allowed". Any other answer is shown as it is.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from avsteg.config.settings import Settings
from avsteg.domain.errors import AvstegError
from avsteg.ingest.graph_client import GraphError


class GraphCheckFailed(AvstegError):
    """Raised by a Graph check with the sentence to print after ``FEL``."""


class GraphChecks:
    """The four checks share one client, one token and one folder lookup."""

    def __init__(self, settings: Settings, mailbox_factory: Callable[[], Any]) -> None:
        self.settings = settings
        self._factory = mailbox_factory
        self._mailbox: Any = None

    @property
    def box(self) -> Any:
        if self._mailbox is None:
            self._mailbox = self._factory()
        return self._mailbox

    def token(self) -> str:
        g = self.settings.graph
        token = self.box.client._token()  # noqa: SLF001 - the same token the worker would use
        return (f"access token for app {g.client_id} from {g.authority.rstrip('/')}/{g.tenant_id} "
                f"({len(token)} characters, scope {g.scope})")

    def mailbox(self) -> str:
        g = self.settings.graph
        inbox = self.box.client.get_json(f"{self.box.user_path}/mailFolders/inbox")
        return (f"{g.mailbox} at {g.base_url}: Inbox holds {inbox.get('totalItemCount', '?')} "
                f"messages ({inbox.get('unreadItemCount', '?')} unread); read access granted")

    def folders(self) -> str:
        g = self.settings.graph
        if self.box.check_folder(g.folder) is None:
            raise GraphCheckFailed(f"the folder {g.folder!r} (graph.folder) does not exist in {g.mailbox}")
        parts = [f"{g.folder}: exists"]
        for setting in ("processed_folder", "rejected_folder"):
            path = getattr(g, setting)
            if path:
                there = self.box.check_folder(path) is not None
                parts.append(f"{path} (graph.{setting}): "
                             + ("exists" if there else "missing, created at first use"))
        if not (g.processed_folder or g.rejected_folder):
            parts.append("no processed/rejected folders: handled mail stays where it is")
        return "; ".join(parts)

    def send(self) -> str:
        w = self.settings.worker
        if w.outbox_dir:
            return f"not used: replies are written to {w.outbox_dir} (worker.outbox_dir)"
        if not w.send_replies:
            return "not used: worker.send_replies = false"
        probe = {"message": {"subject": "avsteg check (never sent: no recipients)",
                             "toRecipients": []}, "saveToSentItems": False}
        try:
            self.box.client.post_json(f"{self.box.user_path}/sendMail", probe, idempotent=True)
        except GraphError as exc:
            if exc.status == 400:
                return (f"Mail.Send granted for {self.settings.graph.mailbox} (a message without "
                        f"recipients was refused as expected: {exc.code}); nothing sent")
            raise
        raise GraphCheckFailed("Graph accepted a message without recipients; nothing should "
                               "have been sent, but check the Sent Items folder")

    def close(self) -> None:
        if self._mailbox is not None:
            self._mailbox.close()

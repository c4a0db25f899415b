"""The mailbox the worker reads, through Microsoft Graph (app-only): spec section 6.

The worker was written for IMAP: integer UIDs under a folder's UIDVALIDITY. Graph names messages
with opaque strings and reports a folder's changes with delta queries. This adapter keeps the
``Mailbox`` port as it is and maps between the two through :class:`GraphState` (in the
database): each Graph id seen in the folder gets an integer for good; UIDVALIDITY is a constant.

* ``uids()`` runs one delta round of the folder (``messages/delta``, following
  ``@odata.nextLink`` to the ``@odata.deltaLink``) and stores what changed together with the new
  delta link. ``410 Gone`` (a delta link the server forgot) starts a full round; since the ids
  map to the same UIDs, the worker's records (and, failing that, the pipeline's Message-ID and
  sha256 duplicate checks) make a resync harmless: nothing is handled or answered twice.
* Ids are asked for as immutable ids (``Prefer: IdType="ImmutableId"``), so a message keeps its
  id when it is moved, also by a person and back again.
* ``fetch()`` streams ``/messages/{id}/$value`` (raw MIME), which does not mark a message read,
  and stops after ``policy.max_message_bytes``: a larger message keeps the headers of its first
  bytes and is marked cut (the whole stays in the mailbox, filed away as usual);
  nothing here ever PATCHes a message: human mail is never touched.
* ``file_away()`` moves with ``/messages/{id}/move`` into folders made when missing; the worker
  calls it only after the commit.
* Graph has no IMAP IDLE (change notifications need a public HTTPS endpoint): the poll interval
  drives the worker, and ``wait_for_news`` only sleeps.
"""
from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol
from urllib.parse import quote

from avsteg.config.settings import GraphSettings
from avsteg.domain.errors import ConfigurationError
from avsteg.ingest.graph_client import GraphClient, GraphError, GraphGone, GraphNotFound
from avsteg.ingest.ports import FetchedMessage, MailboxPosition, Outcome, header_part

log = logging.getLogger(__name__)

UIDVALIDITY = 1  # Graph ids map to UIDs for good (GraphState): they never become void
WELL_KNOWN = {  # mailFolder well-known names (Graph v1.0); the first segment of a path may be one
    "archive", "clutter", "conflicts", "conversationhistory", "deleteditems", "drafts", "inbox",
    "junkemail", "localfailures", "msgfolderroot", "outbox", "recoverableitemsdeletions",
    "scheduled", "searchfolders", "sentitems", "serverfailures", "syncissues",
}
SELECT = "id,isRead,receivedDateTime"


class GraphState(Protocol):
    """Delta links and the Graph id → UID map (storage.graph_state.SqlGraphState, or a fake)."""

    def delta_link(self, account: str, folder: str) -> str | None: ...

    def forget_delta_link(self, account: str, folder: str) -> None: ...

    def save_round(self, account: str, folder: str, *, folder_id: str,
                   changed: Sequence[tuple[str, bool | None]], removed: Sequence[str],
                   delta_link: str, full: bool, now: dt.datetime) -> None: ...

    def pending(self, account: str, folder: str, after: int = 0) -> list[int]: ...

    def lookup(self, account: str, folder: str,
               uids: Sequence[int]) -> dict[int, tuple[str, bool | None]]: ...

    def gone(self, account: str, folder: str, uid: int, *, left_in_place: bool = False) -> None: ...


class NoGraphState:
    """The state of a Graph mailbox that must not sync (``avsteg check``: nothing touched)."""

    def __getattr__(self, name: str) -> Any:
        raise ConfigurationError(f"this Graph mailbox has no database to keep its state ({name})")


def _is_lost_sync_state(exc: GraphError) -> bool:
    """410 Gone is what the docs say for a forgotten delta token. Other Graph resources answer
    400 ``syncStateNotFound``/``SyncStateInvalid`` instead; we are not sure Outlook never does,
    so those mean "start again" too."""
    return isinstance(exc, GraphGone) or (exc.status == 400 and "syncstate" in exc.code.lower())


class GraphMailbox:
    """The ``Mailbox`` port over Microsoft Graph. Not thread-safe: one worker thread owns it."""

    def __init__(self, settings: GraphSettings, client: GraphClient, state: GraphState, *,
                 clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                 sleep: Callable[[float], None] = time.sleep,
                 max_message_bytes: int = 40 * 1024 * 1024) -> None:
        if not settings.mailbox:
            raise ConfigurationError("graph.mailbox must be set")
        self.settings = settings
        self.client = client
        self.state = state
        self._clock = clock
        self._sleep = sleep
        self._max_message = max_message_bytes  # read no more of a message (``download``)
        self._user = f"users/{quote(settings.mailbox, safe='@')}"
        self._folder_ids: dict[str, str] = {}
        self._prefer = [("Prefer", 'IdType="ImmutableId"')]

    @property
    def account(self) -> str:
        """The ledger's name for this mailbox: ``graph.account`` or ``graph:<mailbox>``."""
        return self.settings.account or f"graph:{self.settings.mailbox}"

    @property
    def folder(self) -> str:
        return self.settings.folder

    @property
    def user_path(self) -> str:
        """``users/<mailbox>``: where every request of this mailbox starts."""
        return self._user

    # -- the port ----------------------------------------------------------------------------

    def open(self) -> int:
        """Find the folder (a token is fetched on the way); returns the constant UIDVALIDITY."""
        self.folder_id(self.settings.folder, create=False)
        return UIDVALIDITY

    def uids(self, after: int = 0) -> list[int]:
        """One delta round, then the UIDs above ``after`` still in the folder and not filed."""
        self.sync()
        return self.state.pending(self.account, self.folder, after)

    def fetch(self, uids: Sequence[int]) -> Iterator[FetchedMessage]:
        """Raw MIME of each message, in ``uids`` order; isRead is left as it was."""
        known = self.state.lookup(self.account, self.folder, uids)
        for uid in uids:
            if uid not in known:
                continue
            graph_id, is_read = known[uid]
            try:
                got = self.client.download(
                    f"{self._user}/messages/{quote(graph_id, safe='')}/$value",
                    limit=self._max_message, headers=dict(self._prefer))
            except GraphNotFound:
                log.info("message uid %s is no longer in the mailbox; skipped", uid)
                self.state.gone(self.account, self.folder, uid)
                continue
            # Cut: the headers of the first bytes; the size Graph said, else "over the limit".
            size = got.size if got.size is not None else len(got.data)
            yield FetchedMessage(
                position=MailboxPosition(self.account, self.folder, UIDVALIDITY, uid),
                raw=got.data if got.complete else header_part(got.data),
                flags=("\\Seen",) if is_read else (),
                size=size, complete=got.complete,
            )
            del got

    def file_away(self, uid: int, outcome: Outcome) -> None:
        """Move to the outcome's folder (made when missing); without one, leave it in place."""
        s = self.settings
        target = s.processed_folder if outcome == "processed" else s.rejected_folder
        if not target:
            self.state.gone(self.account, self.folder, uid, left_in_place=True)
            return
        graph_id = self.state.lookup(self.account, self.folder, [uid]).get(uid, (None, None))[0]
        if graph_id is None:
            return
        move = f"{self._user}/messages/{quote(graph_id, safe='')}/move"
        for attempt in (1, 2):
            destination = self.folder_id(target, create=True)
            try:
                self.client.post_json(move, {"destinationId": destination}, headers=dict(self._prefer))
                break
            except GraphNotFound:
                if attempt == 1:
                    # The message, or the folder (deleted by a person since we looked it up):
                    # look the folder up again (made if missing) and try once more.
                    self._folder_ids.pop(target, None)
                    continue
                # Moved or deleted by someone else meanwhile: out of the folder either way.
                log.info("message uid %s was gone before it could be moved to %s", uid, target)
        self.state.gone(self.account, self.folder, uid)

    def wait_for_news(self, timeout: float) -> bool:
        """No push without a public endpoint: sleep; the next poll's delta round finds news."""
        self._sleep(max(0.0, timeout))
        return False

    def close(self) -> None:
        self.client.close()

    # -- delta rounds ------------------------------------------------------------------------

    def sync(self) -> None:
        """One delta round of the folder, committed with its new delta link."""
        folder_id = self.folder_id(self.settings.folder, create=False)
        link = self.state.delta_link(self.account, self.folder)
        try:
            self._round(folder_id, link)
        except GraphNotFound:
            # The folder itself is gone (deleted, or made again with a new id): look it up
            # afresh at the next poll, with a full round.
            self._folder_ids.clear()
            self.state.forget_delta_link(self.account, self.folder)
            raise
        except GraphError as exc:
            if link is None or not _is_lost_sync_state(exc):
                raise
            log.warning("Graph no longer knows the delta link of %s (%s): full resync",
                        self.folder, exc)
            self.state.forget_delta_link(self.account, self.folder)
            self._round(folder_id, None)

    def _round(self, folder_id: str, link: str | None) -> None:
        url = link or f"{self._user}/mailFolders/{quote(folder_id, safe='')}/messages/delta"
        params: dict[str, str] | None = None if link else {"$select": SELECT}
        headers = [("Prefer", f"odata.maxpagesize={self.settings.page_size}"), *self._prefer]
        final: dict[str, dict[str, Any] | None] = {}  # id → its last state in this round
        pages = 0
        while True:
            page = self.client.get_json(url, params=params, headers=headers)
            pages += 1
            for item in page.get("value") or []:
                graph_id = item.get("id")
                if not isinstance(graph_id, str):
                    continue
                final.pop(graph_id, None)  # keep the order of the last sighting
                final[graph_id] = None if "@removed" in item else item
            next_link = page.get("@odata.nextLink")
            delta_link = page.get("@odata.deltaLink")
            if isinstance(next_link, str):
                url, params = next_link, None
                continue
            if isinstance(delta_link, str):
                break
            raise GraphError("a delta page had neither @odata.nextLink nor @odata.deltaLink")
        changed = [(gid, item) for gid, item in final.items() if item is not None]
        # Older mail first, so it gets the lower UID and is handled first (a correction after
        # its original); Graph does not promise any order within a round.
        changed.sort(key=lambda pair: str(pair[1].get("receivedDateTime") or ""))
        removed = [gid for gid, item in final.items() if item is None]
        self.state.save_round(
            self.account, self.folder, folder_id=folder_id,
            changed=[(gid, _bool(item.get("isRead"))) for gid, item in changed],
            removed=removed, delta_link=delta_link, full=link is None, now=self._clock())
        log.debug("delta round of %s: %d pages, %d changed, %d removed%s", self.folder, pages,
                  len(changed), len(removed), " (full)" if link is None else "")

    # -- folders -----------------------------------------------------------------------------

    def folder_id(self, path: str, *, create: bool) -> str:
        """The id of a folder path such as ``Inbox`` or ``Avsteg/Registrerade``."""
        cached = self._folder_ids.get(path)
        if cached is not None:
            return cached
        parts = [p for p in path.split("/") if p]
        if not parts:
            raise ConfigurationError(f"empty Graph folder path {path!r}")
        parent: str | None = None
        for i, name in enumerate(parts):
            if i == 0 and name.lower() in WELL_KNOWN:
                parent = str(self.client.get_json(
                    f"{self._user}/mailFolders/{name.lower()}", headers=dict(self._prefer))["id"])
                continue
            found = self._child(parent, name)
            if found is None:
                if not create:
                    raise GraphNotFound(f"Graph folder {path!r} not found in {self.settings.mailbox}"
                                        f" (no {name!r})", status=404, code="ErrorFolderNotFound")
                found = self._create(parent, name)
            parent = found
        assert parent is not None
        self._folder_ids[path] = parent
        return parent

    def check_folder(self, path: str) -> str | None:
        """The folder's id, or None when it does not exist yet (``avsteg check``: nothing made)."""
        try:
            return self.folder_id(path, create=False)
        except GraphNotFound:
            return None

    def _collection(self, parent: str | None) -> str:
        if parent is None:
            return f"{self._user}/mailFolders"
        return f"{self._user}/mailFolders/{quote(parent, safe='')}/childFolders"

    def _child(self, parent: str | None, name: str) -> str | None:
        url: str | None = self._collection(parent)
        params: dict[str, str] | None = {"$top": "100", "$select": "id,displayName"}
        while url:
            page = self.client.get_json(url, params=params, headers=dict(self._prefer))
            for folder in page.get("value") or []:
                if str(folder.get("displayName", "")).casefold() == name.casefold():
                    return str(folder["id"])
            next_link = page.get("@odata.nextLink")
            url, params = (next_link if isinstance(next_link, str) else None), None
        return None

    def _create(self, parent: str | None, name: str) -> str:
        try:
            made = self.client.post_json(self._collection(parent), {"displayName": name},
                                         headers=dict(self._prefer))
        except GraphError as exc:
            if exc.status != 409:  # ErrorFolderExists: another worker (or a person) was first
                raise
            found = self._child(parent, name)
            if found is None:
                raise
            return found
        log.info("created Graph folder %s in %s", name, self.settings.mailbox)
        return str(made["id"])


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None

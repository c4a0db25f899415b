"""What the Microsoft Graph mailbox remembers between polls: delta links and Graph ids → UIDs.

Graph names messages with opaque strings and lists a folder's changes with delta queries; the
worker (and the ``messages`` table's mailbox position) thinks in integer UIDs, as IMAP does. This
module keeps the two together: each Graph id seen in a folder gets a row whose integer primary
key is its UID for good, and each folder keeps the ``@odata.deltaLink`` its last round ended
with. A round's changes and its new delta link are committed together, so a crash in the middle
of a round simply repeats it.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy import select, update

from avsteg.storage.database import Database
from avsteg.storage.graph_models import GraphFolderState, GraphMessage

_CHUNK = 500  # ids per IN (...) list; well below every database's parameter limit


class SqlGraphState:
    """The Graph mailbox's memory in the register's database (the ``GraphState`` port)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def delta_link(self, account: str, folder: str) -> str | None:
        with self.db.unit_of_work(readonly=True) as s:
            row = s.get(GraphFolderState, (account, folder))
            return row.delta_link if row is not None else None

    def forget_delta_link(self, account: str, folder: str) -> None:
        """The server no longer knows the link (410 Gone): the next round is a full one."""
        with self.db.unit_of_work() as s:
            row = s.get(GraphFolderState, (account, folder))
            if row is not None:
                row.delta_link = None

    def save_round(
        self,
        account: str,
        folder: str,
        *,
        folder_id: str,
        changed: Sequence[tuple[str, bool | None]],
        removed: Iterable[str],
        delta_link: str,
        full: bool,
        now: dt.datetime,
    ) -> None:
        """Apply one finished delta round. ``full``: ``changed`` is everything in the folder.

        ``changed`` holds (graph id, isRead) in the order UIDs should be given to new ids.
        """
        with self.db.unit_of_work() as s:
            scope = (GraphMessage.account == account, GraphMessage.folder == folder)
            if full:
                s.execute(update(GraphMessage).where(*scope).values(present=False)
                          .execution_options(synchronize_session=False))
            gone = list(dict.fromkeys(removed))
            for start in range(0, len(gone), _CHUNK):
                s.execute(update(GraphMessage)
                          .where(*scope, GraphMessage.graph_id.in_(gone[start:start + _CHUNK]))
                          .values(present=False).execution_options(synchronize_session=False))
            wanted = dict(changed)  # the last word on each id wins
            existing: dict[str, GraphMessage] = {}
            ids = list(wanted)
            for start in range(0, len(ids), _CHUNK):
                for row in s.scalars(select(GraphMessage).where(
                        *scope, GraphMessage.graph_id.in_(ids[start:start + _CHUNK]))):
                    existing[row.graph_id] = row
            for graph_id, is_read in wanted.items():
                known = existing.get(graph_id)
                if known is None:
                    s.add(GraphMessage(account=account, folder=folder, graph_id=graph_id,
                                       present=True, filed=False, is_read=is_read,
                                       first_seen_at=now))
                    s.flush()  # ids in the order given: older mail gets the lower UID
                else:
                    known.present = True
                    known.is_read = is_read
            state = s.get(GraphFolderState, (account, folder))
            if state is None:
                state = GraphFolderState(account=account, folder=folder)
                s.add(state)
            state.folder_id = folder_id
            state.delta_link = delta_link
            state.synced_at = now

    def pending(self, account: str, folder: str, after: int = 0) -> list[int]:
        """UIDs above ``after`` of messages in the folder that were not filed in place."""
        with self.db.unit_of_work(readonly=True) as s:
            return list(s.scalars(
                select(GraphMessage.id).where(
                    GraphMessage.account == account, GraphMessage.folder == folder,
                    GraphMessage.present.is_(True), GraphMessage.filed.is_(False),
                    GraphMessage.id > after,
                ).order_by(GraphMessage.id)
            ))

    def lookup(self, account: str, folder: str, uids: Sequence[int]) -> dict[int, tuple[str, bool | None]]:
        """UID → (graph id, isRead) for the UIDs of this folder among ``uids``."""
        out: dict[int, tuple[str, bool | None]] = {}
        wanted = list(uids)
        with self.db.unit_of_work(readonly=True) as s:
            for start in range(0, len(wanted), _CHUNK):
                for uid, graph_id, is_read in s.execute(
                        select(GraphMessage.id, GraphMessage.graph_id, GraphMessage.is_read).where(
                            GraphMessage.account == account, GraphMessage.folder == folder,
                            GraphMessage.id.in_(wanted[start:start + _CHUNK]))):
                    out[int(uid)] = (graph_id, is_read)
        return out

    def gone(self, account: str, folder: str, uid: int, *, left_in_place: bool = False) -> None:
        """The message left the folder (moved by us, or vanished) or was filed where it is."""
        values = {"filed": True} if left_in_place else {"present": False}
        with self.db.unit_of_work() as s:
            s.execute(update(GraphMessage).where(
                GraphMessage.account == account, GraphMessage.folder == folder,
                GraphMessage.id == uid).values(**values).execution_options(synchronize_session=False))

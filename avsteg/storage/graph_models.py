"""The Microsoft Graph transport's tables: delta links per folder, Graph ids mapped to UIDs.

Kept apart from models.py (the register's own tables) on the same ``Base``; the package's
``__init__`` imports this module, so ``Base.metadata`` always holds these tables too.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from avsteg.storage.models import Base, UtcDateTime


class GraphFolderState(Base):
    """Where the last Microsoft Graph delta round of a folder ended (its ``@odata.deltaLink``)."""

    __tablename__ = "graph_folders"

    account: Mapped[str] = mapped_column(String(320), primary_key=True)
    folder: Mapped[str] = mapped_column(String(512), primary_key=True)
    folder_id: Mapped[str | None] = mapped_column(String(1024))
    delta_link: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class GraphMessage(Base):
    """A Graph message id (a string) mapped to the integer the worker uses as its UID.

    ``id`` is that integer; it never changes for a Graph id, so a full resync (``410 Gone``)
    finds the same positions again and nothing is handled twice. ``present``: in the folder as
    of the last delta round; ``filed``: handled and, with no folder to move it to, left in place.
    """

    __tablename__ = "graph_messages"
    __table_args__ = (UniqueConstraint("account", "folder", "graph_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(320))
    folder: Mapped[str] = mapped_column(String(512))
    graph_id: Mapped[str] = mapped_column(String(1024))
    present: Mapped[bool] = mapped_column(Boolean, default=True)
    filed: Mapped[bool] = mapped_column(Boolean, default=False)
    is_read: Mapped[bool | None] = mapped_column(Boolean)
    first_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

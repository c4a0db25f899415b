"""The web app's sessions, kept on the server so that signing out (or losing one's account) ends
them for real: a copied cookie is worth nothing once its row has ended.

The cookie carries a random session id; only its SHA-256 hash is stored (``id_hash``), so a
copy of the database does not hand out live sessions. Each request reads one row by primary
key; ``last_seen_at`` is written at most once a minute (the caller decides), so a page view is
not a write. Ended rows stay a while (who was signed in when) and are pruned at sign-in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Index, String, delete, or_, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from avsteg.storage.models import Base, UtcDateTime

SESSION_VIAS = ("local", "oidc")


class WebSessionRow(Base):
    """One signed-in browser: who, since when, last seen, and when (and why) it ended."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        CheckConstraint("via IN ('local', 'oidc')", name="via"),
        Index("ix_web_sessions_name", "name"),
    )

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex of the id
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    via: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # "signed-out", "account-removed", "account-changed", "expired", "replaced"
    ended_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)



def start_session(s: Session, id_hash: str, *, name: str, role: str, via: str,
                  now: dt.datetime) -> WebSessionRow:
    if via not in SESSION_VIAS:
        raise ValueError(f"unknown way of signing in {via!r}; expected one of {SESSION_VIAS}")
    row = WebSessionRow(id_hash=id_hash, name=name, role=role, via=via, created_at=now,
                        last_seen_at=now)
    s.add(row)
    s.flush()
    return row


def find_session(s: Session, id_hash: str) -> WebSessionRow | None:
    """The row (ended or not) by its primary key: the one read each request makes."""
    return s.get(WebSessionRow, id_hash)


def touch_session(s: Session, id_hash: str, now: dt.datetime) -> None:
    s.execute(update(WebSessionRow)
              .where(WebSessionRow.id_hash == id_hash, WebSessionRow.ended_at.is_(None))
              .values(last_seen_at=now))


def end_session(s: Session, id_hash: str, reason: str, now: dt.datetime) -> bool:
    """End one session; False when it had already ended (or never was)."""
    result = s.execute(update(WebSessionRow)
                       .where(WebSessionRow.id_hash == id_hash, WebSessionRow.ended_at.is_(None))
                       .values(ended_at=now, ended_reason=reason))
    return bool(getattr(result, "rowcount", 0))


def end_sessions_of(s: Session, name: str, *, via: str, reason: str, now: dt.datetime) -> int:
    """End every open session of ``name`` signed in ``via`` (an account removed or changed)."""
    result = s.execute(update(WebSessionRow)
                       .where(WebSessionRow.name == name, WebSessionRow.via == via,
                              WebSessionRow.ended_at.is_(None))
                       .values(ended_at=now, ended_reason=reason))
    return int(getattr(result, "rowcount", 0) or 0)


def prune_sessions(s: Session, *, ended_before: dt.datetime, started_before: dt.datetime) -> int:
    """Delete rows that ended before ``ended_before`` or started before ``started_before``
    (long past any expiry). The table holds a few rows per person; a scan is cheap."""
    result = s.execute(delete(WebSessionRow).where(or_(
        WebSessionRow.ended_at < ended_before, WebSessionRow.created_at < started_before)))
    return int(getattr(result, "rowcount", 0) or 0)

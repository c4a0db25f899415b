"""Local accounts of the web app: the rows only; hashing and checking live in avsteg.web.accounts.

Entra ID users are not kept here: their name and role come from the ID token at each sign-in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from avsteg.storage.messages import utcnow
from avsteg.storage.models import Base, UtcDateTime

USER_ROLES = ("handläggare", "läsare")


class UserRow(Base):
    """A local account of the web app (small installations, the demo); Entra ID users are not kept.

    Defined here rather than in :mod:`.models` (which is big enough); ``avsteg.storage``
    imports this module, so the table is in ``Base.metadata`` whenever storage is used.
    """

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('handläggare', 'läsare')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


def find_user(s: Session, name: str) -> UserRow | None:
    return s.scalars(select(UserRow).where(UserRow.name == name)).first()


def list_users(s: Session) -> list[UserRow]:
    return list(s.scalars(select(UserRow).order_by(UserRow.name)))


def save_user(s: Session, name: str, role: str, password_hash: str) -> tuple[UserRow, bool]:
    """Add the account, or give an existing one a new role and password; ``(row, created)``."""
    if role not in USER_ROLES:
        raise ValueError(f"unknown role {role!r}; expected one of {USER_ROLES}")
    row = find_user(s, name)
    created = row is None
    if row is None:
        row = UserRow(name=name, role=role, password_hash=password_hash, created_at=utcnow())
        s.add(row)
    else:
        row.role, row.password_hash = role, password_hash
    s.flush()
    return row, created


def delete_user(s: Session, name: str) -> bool:
    row = find_user(s, name)
    if row is None:
        return False
    s.delete(row)
    s.flush()
    return True

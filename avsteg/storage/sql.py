"""Dialect helpers shared by the storage modules.

``INSERT … ON CONFLICT`` is spelt differently per dialect in SQLAlchemy; PostgreSQL and SQLite
(3.24+) both have it, and it is what makes counters, leases and "send once" records race-free
in a single statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session


def upsert_insert(s: Session, model: Any) -> Any:
    """The dialect's ``insert()`` (with ``on_conflict_do_*``) for ``model``."""
    dialect = s.get_bind().dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(model)
    if dialect == "sqlite":
        from sqlalchemy.dialects import sqlite

        return sqlite.insert(model)
    raise NotImplementedError(f"no INSERT … ON CONFLICT for {dialect}")  # pragma: no cover

"""Migration 0008 (the web app's server-side sessions) goes up and down on SQLite and
PostgreSQL, keeping the register's data, and the table it makes is the one the model describes."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import inspect

from avsteg.storage import Database
from avsteg.storage.web_sessions import find_session, start_session

pytestmark = pytest.mark.integration


def up_and_down(url: str) -> None:
    db = Database(url)
    try:
        db.upgrade("0007")
        assert "web_sessions" not in db.table_names()
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO trusted_domains (domain, added_by, added_at) "
                                 "VALUES ('kept.example', 'test', CURRENT_TIMESTAMP)")
        db.upgrade("0008_web_sessions")
        assert db.current_revision() == "0008_web_sessions"
        assert {c["name"] for c in inspect(db.engine).get_columns("web_sessions")} == {
            "id_hash", "name", "role", "via", "created_at", "last_seen_at", "ended_at",
            "ended_reason"}
        assert {ix["name"] for ix in inspect(db.engine).get_indexes("web_sessions")} == {
            "ix_web_sessions_name"}
        now = dt.datetime(2026, 11, 26, 12, tzinfo=dt.UTC)
        with db.unit_of_work() as s:
            start_session(s, "a" * 64, name="Anna", role="läsare", via="local", now=now)
        with db.unit_of_work(readonly=True) as s:
            row = find_session(s, "a" * 64)
            assert row is not None and row.created_at == now and row.ended_at is None
        db.downgrade("0007")
        assert db.current_revision() == "0007"
        assert "web_sessions" not in db.table_names()
        db.upgrade()
        assert "web_sessions" in db.table_names()
        with db.engine.connect() as conn:
            kept = conn.exec_driver_sql("SELECT domain FROM trusted_domains").all()
        assert kept == [("kept.example",)]
    finally:
        db.dispose()


def test_0008_up_and_down_on_sqlite(tmp_path: Path) -> None:
    up_and_down(f"sqlite:///{tmp_path / 'avsteg.sqlite'}")


def test_0008_up_and_down_on_postgresql(postgres_db_url: str) -> None:
    up_and_down(postgres_db_url)

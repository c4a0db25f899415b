"""Migration 0007 (Registret's indexes) goes up and down on SQLite and PostgreSQL, keeping data,
and PostgreSQL uses the indexes for a filtered Registret on a register of a realistic size."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from avsteg.storage import Database

pytestmark = pytest.mark.integration
INDEXES = {"ix_report_versions_year", "ix_report_versions_organisation",
           "ix_report_versions_report_type"}


def index_names(db: Database) -> set[str]:
    return {ix["name"] for ix in inspect(db.engine).get_indexes("report_versions")}


def up_and_down(url: str) -> None:
    db = Database(url)
    try:
        db.upgrade()
        assert INDEXES <= index_names(db)
        searched = {ix["name"] for ix in inspect(db.engine).get_indexes("deviations")}
        assert {"ix_deviations_procurement_trgm", "ix_deviations_supplier_trgm"} <= searched
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO trusted_domains (domain, added_by, added_at) "
                                 "VALUES ('kept.example', 'test', CURRENT_TIMESTAMP)")
        db.downgrade("0005")
        assert db.current_revision() == "0005"
        assert not INDEXES & index_names(db)
        assert not {ix["name"] for ix in inspect(db.engine).get_indexes("deviations")
                    if ix["name"] and ix["name"].endswith("_trgm")}
        db.upgrade()
        assert db.current_revision() == Database.head_revision()
        assert INDEXES <= index_names(db)
        with db.engine.connect() as conn:
            kept = conn.exec_driver_sql("SELECT domain FROM trusted_domains").all()
        assert kept == [("kept.example",)]
    finally:
        db.dispose()


def test_0007_up_and_down_on_sqlite(tmp_path: Path) -> None:
    up_and_down(f"sqlite:///{tmp_path / 'avsteg.sqlite'}")


def test_0007_up_and_down_on_postgresql(postgres_db_url: str) -> None:
    up_and_down(postgres_db_url)


@pytest.fixture
def pg(postgres_db_url: str) -> Iterator[Database]:
    db = Database(postgres_db_url)
    db.upgrade()
    yield db
    db.dispose()


def test_postgresql_filters_registret_through_the_indexes(pg: Database) -> None:
    with pg.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO messages (id, raw, sha256, size, stored_at, state, attempts) "
            "SELECT 1, ''::bytea, 'x', 0, now(), 'processed', 1")
        conn.exec_driver_sql(
            "INSERT INTO reports (id, reference, year, number, current_version, created_at) "
            "SELECT n, 'AVS-2026-' || n, 2026, n, 1, now() FROM generate_series(1, 20000) n")
        conn.exec_driver_sql(
            "INSERT INTO report_versions (id, report_id, version, message_id, attachment_sha256, "
            "organisation, report_type, year, values, created_at) "
            "SELECT n, n, 1, 1, md5(n::text), 'Förvaltning ' || (n %% 60), "
            "CASE WHEN n %% 2 = 0 THEN 'Helårsrapport' ELSE 'Händelserapport' END, "
            "2020 + (n %% 7), '{}', now() FROM generate_series(1, 20000) n")
        conn.exec_driver_sql("ANALYZE report_versions")
        plan = "\n".join(r[0] for r in conn.exec_driver_sql(
            "EXPLAIN SELECT id FROM report_versions WHERE year = 2024 "
            "AND organisation = 'Förvaltning 7'"))
    assert "ix_report_versions_" in plan, plan
    assert "Seq Scan" not in plan, plan

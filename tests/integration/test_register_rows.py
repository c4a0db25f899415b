"""``register_rows`` reads columns with a few Core selects, and gives exactly the Register the
ORM version gave (kept in :mod:`tests.support.register_rows_before` as the reference).

The register is built from real mail through the pipeline (Word and Excel reports with dates,
decimals and multiple choices; a correction answering its receipt), then a person's correction,
withdrawals with and without an undo, bulk copies, and rows the pipeline would not write but a
database may hold: a report with no deviation, a version without a Rapportår (the report's year
counts), a message without a received time, JSON values that do not parse as their type, and
history rows of reports that fall outside the period asked for. Compared by ``repr`` as well as
``==``, so a ``Decimal('2')`` given back as ``2`` or an aware time given back naive fails.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.config.settings import load_settings
from avsteg.domain.register import Register
from avsteg.domain.schema import Schema
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.samples import correction, first_batch
from avsteg.services import report_actions as actions
from avsteg.services.delivery import deliver_due
from avsteg.storage import Database
from avsteg.storage.bulk import multiply_register
from avsteg.storage.models import DeviationRow, MessageRow, Report, ReportVersion
from avsteg.storage.read_model import (
    SORT_KEYS,
    list_reports,
    matching_report_ids,
    register_rows,
    report_order,
)
from tests.support.register_rows_before import register_rows_before

pytestmark = pytest.mark.integration

TODAY = dt.date(2025, 3, 2)
ORGANISATIONS = ["Lokalförvaltningen", "lokalförvaltningen ", "Trafikkontoret",
                 "Älvstranden Utveckling AB"]


def seeded(url: str, outbox: Path) -> tuple[Database, Schema]:
    settings = load_settings(None, database={"url": url}, policy={"reply_window_days": 100_000})
    db = open_database(settings)
    pipeline = build_pipeline(settings, db)
    out = FolderOutbox(outbox)
    receipt_id, first_ref = None, None
    for sample in first_batch(pipeline.schema, settings.policy.service_address, TODAY):
        handled = pipeline.handle(sample.raw)
        for delivery in deliver_due(db, out, only=handled.reply_ids):
            if receipt_id is None and handled.references and delivery.path is not None:
                receipt = email.message_from_bytes(delivery.path.read_bytes(),
                                                   policy=email.policy.default)
                receipt_id = str(receipt["Message-ID"]).strip("<>")
                first_ref = handled.references[0]
    assert receipt_id and first_ref
    fix = correction(pipeline.schema, settings.policy.service_address, TODAY, receipt_id,
                     first_ref)
    assert pipeline.handle(fix.raw).outcome == "new_version"
    multiply_register(db, reports=150, deviations=420, organisations=ORGANISATIONS,
                      years=[2024, 2025, 2026], seed=11)
    with db.unit_of_work(readonly=True) as s:
        refs = list(s.scalars(select(Report.reference).order_by(Report.id)))
    # A person's acts: corrections (one on a report that already has two versions), a
    # withdrawal that stays, one undone.
    actions.correct(db, pipeline.schema, first_ref, actor="Bengt Bänk", target="1.jobs_created",
                    value="9", reason="Felräknat")
    actions.correct(db, pipeline.schema, refs[1], actor="Anna", target="report.organisation",
                    value="Förvaltnings AB Framtiden (rättad)", reason="Stavning")
    for ref in refs[10:14]:
        actions.withdraw(db, ref, actor="Anna", reason="Dubblett")
    actions.undo_withdraw(db, refs[12], actor="Anna", reason="Inte dubblett")
    with db.unit_of_work() as s:
        versions = {r.reference: r.versions for r in s.scalars(select(Report))}
        # A report with no deviation left, one whose version names no year, a message with
        # no received time (the version's own time counts), values that are not their type.
        for d in versions[refs[20]][-1].deviations:
            s.delete(d)
        versions[refs[21]][-1].year = None
        message = s.get(MessageRow, versions[refs[22]][-1].message_id)
        assert message is not None
        message.received_at = None
        odd = versions[refs[23]][-1]
        odd.values = {**odd.values, "year": "2025", "report_date": "inte ett datum"}
        for n, row in enumerate(s.scalars(select(DeviationRow).order_by(DeviationRow.id))):
            if n % 7 == 0:
                row.values = {**row.values, "deviation_date": "2025-05-01T00:00:00",
                              "fulltime_months": 2.5, "target_groups": "Unga"}
            elif n % 11 == 0:
                row.fulltime_months = None
                row.values = {**row.values, "fulltime_months": "ogiltigt", "jobs_created": "4"}
            elif n % 13 == 0:
                row.measures = []
                row.values = {**row.values, "measures": []}
    return db, pipeline.schema


def same(new: Register, old: Register) -> None:
    assert len(new.reports) == len(old.reports)
    for name in ("reports", "deviations", "versions", "actions"):
        a: list[Any] = getattr(new, name)
        b: list[Any] = getattr(old, name)
        assert a == b, name
        assert [repr(x) for x in a] == [repr(x) for x in b], name
    assert new.period == old.period
    assert new == old


def orders(db: Database) -> None:
    """The export of a filtered Registret keeps the page's order, read as references only."""
    filters: list[dict[str, Any]] = [{}, {"year": 2025, "status": "current"},
                                     {"search": "ab"}, {"organisation": "Trafikkontoret"}]
    with db.unit_of_work(readonly=True) as s:
        for query in filters:
            for sort in SORT_KEYS:
                for descending in (False, True):
                    listed = list_reports(s, **query, sort=sort,  # type: ignore[arg-type]
                                          descending=descending).items
                    assert report_order(s, **query, sort=sort,  # type: ignore[arg-type]
                                        descending=descending) == \
                        [r.reference for r in listed], (query, sort, descending)
        assert len(report_order(s)) > 150


def check(db: Database, schema: Schema) -> None:
    orders(db)
    calls: list[dict[str, Any]] = [
        {}, {"year": 2024}, {"year": 2025}, {"year": 2026}, {"year": 2031},
        {"date_from": dt.date(2025, 3, 2)}, {"date_to": dt.date(2025, 3, 1)},
        {"year": 2025, "date_from": dt.date(2020, 1, 1), "date_to": dt.date(2030, 1, 1)},
        {"only": matching_report_ids(organisation="Trafikkontoret")},
        {"only": matching_report_ids(status="withdrawn")},
        {"only": matching_report_ids(search="AB", year=2025)},
        {"year": 2025, "only": matching_report_ids(status="current")},
    ]
    with db.unit_of_work(readonly=True) as s:
        whole = register_rows(s, schema=schema)
        for kwargs in calls:
            same(register_rows(s, schema=schema, **kwargs),
                 register_rows_before(s, schema=schema, **kwargs))
        # Without a schema: the default one, as the CLI's callers pass none.
        same(register_rows(s, year=2025), register_rows_before(s, year=2025))
        no_year = s.scalars(select(Report.reference).join(
            ReportVersion, ReportVersion.report_id == Report.id).where(
            ReportVersion.year.is_(None))).all()
    # The register held what the comparison is meant to cover.
    assert len(whole.reports) > 150
    assert any(r.withdrawn for r in whole.reports)
    assert any(r.deviations == 0 for r in whole.reports)
    assert any(r.version >= 3 for r in whole.reports)
    assert {a.action for a in whole.actions} >= {"correct", "withdraw", "undo-withdraw"}
    assert no_year
    typed = [d.values.get("fulltime_months") for d in whole.deviations]
    assert any(type(v).__name__ == "Decimal" for v in typed)
    assert any(isinstance(d.values.get("deviation_date"), dt.date) for d in whole.deviations)


@pytest.fixture
def sqlite_register(tmp_path: Path) -> Iterator[tuple[Database, Schema]]:
    db, schema = seeded(f"sqlite:///{tmp_path / 'rows.sqlite'}", tmp_path / "out")
    yield db, schema
    db.dispose()


@pytest.fixture
def postgres_register(postgres_db_url: str, tmp_path: Path
                      ) -> Iterator[tuple[Database, Schema]]:
    db, schema = seeded(postgres_db_url, tmp_path / "out")
    yield db, schema
    db.dispose()


def test_sqlite_rows_as_before(sqlite_register: tuple[Database, Schema]) -> None:
    check(*sqlite_register)


def test_postgresql_rows_as_before(postgres_register: tuple[Database, Schema]) -> None:
    check(*postgres_register)

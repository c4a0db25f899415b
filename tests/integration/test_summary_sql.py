"""Figures summed by the database give exactly what summing the loaded rows gives.

The web page asks PostgreSQL or SQLite for grouped sums (``register_summary``) instead of loading
a year of reports (``register_rows`` + ``summarise``, which the export and board report still
use). This holds the two to one answer on a register with what makes figures hard: the same
organisation typed in other case and spacing, withdrawn reports, a deviation without options,
an option outside the schema, several options on one deviation, and years without reports.
Registret's figures (``register_figures``, one statement) are held to the lines
``list_reports`` gives for the same filters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from avsteg.bootstrap import build_pipeline, open_database
from avsteg.config.settings import load_settings
from avsteg.domain.figures import Summary, summarise
from avsteg.domain.vocabulary import WITHDRAWN
from avsteg.samples import first_batch
from avsteg.storage import Database
from avsteg.storage.bulk import multiply_register
from avsteg.storage.models import DeviationRow
from avsteg.storage.read_model import (
    list_reports,
    register_figures,
    register_rows,
    register_summary,
)

pytestmark = pytest.mark.integration

ORGANISATIONS = ["Lokalförvaltningen", "lokalförvaltningen", "LOKALFÖRVALTNINGEN ",
                 "Okänt  bolag AB", "okänt bolag ab", "Trafikkontoret", "Älvstranden Utveckling AB"]


def seeded(url: str) -> Database:
    settings = load_settings(None, database={"url": url}, policy={"reply_window_days": 100_000})
    db = open_database(settings)
    pipeline = build_pipeline(settings, db, send_replies=False)
    for sample in first_batch(pipeline.schema, settings.policy.service_address,
                              dt.date(2026, 3, 2)):
        pipeline.handle(sample.raw)
    multiply_register(db, reports=240, deviations=700, organisations=ORGANISATIONS,
                      years=[2024, 2025, 2026], seed=7)
    with db.unit_of_work() as s:
        rows = list(s.scalars(select(DeviationRow).order_by(DeviationRow.id)))
        for n, row in enumerate(rows):
            # The typed column and the JSON copy of every value change together, as the
            # pipeline writes them.
            if n % 11 == 0:
                row.measures = []
            elif n % 13 == 0:
                row.measures = [*row.measures, "Egen insats utanför listan"]
            elif n % 17 == 0:
                row.target_groups = ["Unga vuxna", *row.target_groups]
            row.values = {**row.values, "measures": list(row.measures),
                          "target_groups": list(row.target_groups)}
    return db


def same(sql: Summary, python: Summary) -> None:
    assert sql == python
    # Equal dicts may differ in order; the page lists them in this order.
    assert list(sql.by_organisation) == list(python.by_organisation)
    assert list(sql.by_measure) == list(python.by_measure)
    assert list(sql.by_target_group) == list(python.by_target_group)
    assert list(sql.by_year) == list(python.by_year)


def check(db: Database) -> None:
    schema = build_pipeline(load_settings(None), db, send_replies=False).schema
    with db.unit_of_work(readonly=True) as s:
        for year in (None, 2024, 2025, 2026, 2031):
            loaded = register_rows(s, year=year, schema=schema)
            same(register_summary(s, schema, year=year), summarise(loaded, schema))
        whole = register_summary(s, schema)
        every = register_rows(s, schema=schema)
    # The register is not trivial: the checks above compared real figures.
    assert whole.total.reports > 200 and whole.total.deviations > 600
    assert len(whole.by_year) == 3
    assert "Egen insats utanför listan" in whole.by_measure
    assert "Unga vuxna" in whole.by_target_group
    lokal = [name for name in whole.by_organisation if name.casefold() == "lokalförvaltningen"]
    assert len(lokal) == 1, list(whole.by_organisation)
    # Withdrawn reports are in the register but not in its figures.
    assert whole.total.reports == len(every.active_reports()) < len(every.reports)


@pytest.fixture
def sqlite_register(tmp_path: Path) -> Iterator[Database]:
    db = seeded(f"sqlite:///{tmp_path / 'summary.sqlite'}")
    yield db
    db.dispose()


@pytest.fixture
def postgres_register(postgres_db_url: str) -> Iterator[Database]:
    db = seeded(postgres_db_url)
    yield db
    db.dispose()


def test_sqlite_sums_as_python_does(sqlite_register: Database) -> None:
    check(sqlite_register)


def test_postgresql_sums_as_python_does(postgres_register: Database) -> None:
    check(postgres_register)


def check_registret(db: Database) -> None:
    with db.unit_of_work(readonly=True) as s:
        for filters in ({}, {"year": 2025}, {"organisation": "Trafikkontoret"},
                        {"status": "withdrawn"}, {"status": "current", "year": 2026},
                        {"search": "lokalförv"}, {"search": "AVS-2025-00"},
                        {"search": "ingen träff alls"}):
            lines = list_reports(s, **filters).items  # type: ignore[arg-type]
            figures = register_figures(s, **filters)  # type: ignore[arg-type]
            active = [r for r in lines if r.status != WITHDRAWN]
            assert (figures.reports, figures.withdrawn, figures.deviations, figures.jobs_created) \
                == (len(lines), len(lines) - len(active), sum(r.deviations for r in active),
                    sum(r.jobs_created for r in active)), filters
            paged = list_reports(s, **filters, limit=5, total=figures.reports)  # type: ignore
            assert paged.total == len(lines) and paged.items == lines[:5]
        assert register_figures(s).withdrawn > 0


def test_sqlite_registret_figures_are_its_lines(sqlite_register: Database) -> None:
    check_registret(sqlite_register)


def test_postgresql_registret_figures_are_its_lines(postgres_register: Database) -> None:
    check_registret(postgres_register)

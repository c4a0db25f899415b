"""A large register in seconds, and what the database does with the register's queries.

For the benchmarks (``bench/web.py``), which may not speak SQL themselves: :func:`multiply_register`
copies the reports that real mail registered (their values, deviations, messages) into many more
under new references, organisations and years, with bulk inserts; :func:`recorded_statements`
keeps the statements a piece of code sends; :func:`explain` asks PostgreSQL (or SQLite) how it
runs one of them.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, func, insert, select, text

from avsteg.storage.database import Database
from avsteg.storage.models import DeviationRow, MessageRow, Report, ReportVersion

BATCH = 2000


@dataclass(frozen=True)
class Statement:
    sql: str
    params: Any
    seconds: float


def _as_dict(row: Any, skip: Sequence[str] = ("id",)) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__table__.columns if c.key not in skip}


def multiply_register(db: Database, *, reports: int, deviations: int,
                      organisations: Sequence[str], years: Sequence[int],
                      seed: int = 2026) -> None:
    """Add ``reports`` reports with ``deviations`` deviations in all, copied from the register.

    Every copy gets its own small message (sender, subject, Message-ID), reference, organisation,
    year and received time; values and deviation values are the template's with those changed.
    About one in fifty is withdrawn. Ids are assigned here and sequences moved past them.
    """
    rnd = random.Random(seed)
    with db.unit_of_work(readonly=True) as s:
        templates = list(s.scalars(select(ReportVersion).join(Report, Report.id == ReportVersion.report_id)
                                   .where(Report.current_version == ReportVersion.version)))
        if not templates:
            raise ValueError("the register is empty: register a few real reports first")
        template_devs = {t.id: [_as_dict(d, ("id", "version_id")) for d in t.deviations]
                         for t in templates}
        template_rows = [(_as_dict(t, ("id", "report_id", "message_id")), t.id) for t in templates]
        next_ids = {model: int(s.scalar(select(func.coalesce(func.max(model.id), 0))) or 0) + 1
                    for model in (MessageRow, Report, ReportVersion, DeviationRow)}
        numbers: dict[int, int] = {}
        for year, number in s.execute(select(Report.year, func.max(Report.number))
                                      .group_by(Report.year)):
            numbers[int(year)] = int(number)
    per_report = [1] * reports
    for _ in range(max(deviations - reports, 0)):
        per_report[rnd.randrange(reports)] += 1
    start = dt.datetime(min(years), 1, 2, 8, 0, tzinfo=dt.UTC)
    span = (dt.datetime(max(years), 12, 20, tzinfo=dt.UTC) - start).total_seconds()
    message_id, report_id = next_ids[MessageRow], next_ids[Report]
    version_id, deviation_id = next_ids[ReportVersion], next_ids[DeviationRow]
    batch: dict[str, list[dict[str, Any]]] = {"m": [], "r": [], "v": [], "d": []}
    for n in range(reports):
        values, template_id = template_rows[n % len(template_rows)]
        organisation = organisations[rnd.randrange(len(organisations))]
        when = start + dt.timedelta(seconds=span * (n + rnd.random()) / reports)
        year = when.year
        numbers[year] = numbers.get(year, 0) + 1
        reference = f"AVS-{year}-{numbers[year]:04d}"
        sender = f"person{rnd.randrange(5000)}@{organisation.split()[0].lower()}.goteborg.se"
        subject = f"Avstegsrapport {organisation} {reference}"
        raw = (f"From: {sender}\r\nTo: avstegsrapport@goteborg.se\r\nSubject: {subject}\r\n"
               f"Message-ID: <bench-{n}@goteborg.se>\r\nDate: {when:%a, %d %b %Y %H:%M:%S +0000}"
               "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
               "Rapporten bifogas.\r\n").encode()
        batch["m"].append({
            "id": message_id, "raw": raw, "sha256": f"{n:064x}", "size": len(raw),
            "message_id_header": f"bench-{n}@goteborg.se", "sender": sender, "subject": subject,
            "received_at": when, "stored_at": when, "state": "processed", "outcome": "registered",
            "attempts": 1, "processed_at": when})
        withdrawn = rnd.random() < 0.02
        batch["r"].append({
            "id": report_id, "reference": reference, "year": year, "number": numbers[year],
            "current_version": 1, "created_at": when,
            "withdrawn_at": when + dt.timedelta(days=3) if withdrawn else None,
            "withdrawn_reason": "Inskickad två gånger" if withdrawn else None})
        version = dict(values)
        report_values = dict(version.get("values") or {})
        for key, value in (("organisation", organisation), ("year", year)):
            if key in report_values:
                report_values[key] = value
        version.update(id=version_id, report_id=report_id, message_id=message_id, version=1,
                       organisation=organisation, year=year, values=report_values,
                       attachment_id=None, attachment_sha256=f"{n:064x}", created_at=when,
                       filename=f"Avstegsrapport {reference}.docx")
        batch["v"].append(version)
        devs = template_devs[template_id] or [{}]
        for position in range(1, per_report[n] + 1):
            dev = dict(devs[(position - 1) % len(devs)])
            dev_values = dict(dev.get("values") or {})
            jobs = rnd.randint(0, 12)
            dev_values["jobs_created"] = jobs
            dev.update(id=deviation_id, version_id=version_id, position=position,
                       organisation=organisation, year=year, jobs_created=jobs,
                       values=dev_values, supplier=f"Leverantör {rnd.randrange(900)} AB")
            dev.setdefault("measures", [])
            dev.setdefault("target_groups", [])
            batch["d"].append(dev)
            deviation_id += 1
        message_id, report_id, version_id = message_id + 1, report_id + 1, version_id + 1
        if len(batch["m"]) >= BATCH or n == reports - 1:
            _flush(db, batch)
    _move_sequences(db)


def _flush(db: Database, batch: dict[str, list[dict[str, Any]]]) -> None:
    with db.unit_of_work() as s:
        for key, model in (("m", MessageRow), ("r", Report), ("v", ReportVersion),
                           ("d", DeviationRow)):
            if batch[key]:
                s.execute(insert(model), batch[key])
            batch[key].clear()


def _move_sequences(db: Database) -> None:
    """PostgreSQL's id sequences past the ids given here (SQLite needs nothing)."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.unit_of_work() as s:
        for table in ("messages", "reports", "report_versions", "deviations"):
            s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))"))
        s.execute(text("ANALYZE"))


@contextmanager
def recorded_statements(db: Database) -> Iterator[list[Statement]]:
    """The statements sent through ``db`` inside the block, with their times."""
    found: list[Statement] = []
    started: dict[int, float] = {}
    def before(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
               many: bool) -> None:
        started[id(cursor)] = time.perf_counter()

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
              many: bool) -> None:
        begun = started.pop(id(cursor), time.perf_counter())
        found.append(Statement(statement, params, time.perf_counter() - begun))

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)


def explain(db: Database, statement: Statement, analyze: bool = True) -> list[str]:
    """How the database runs ``statement`` (PostgreSQL: EXPLAIN ANALYZE; SQLite: the plan)."""
    with db.engine.connect() as conn:
        if db.engine.dialect.name == "postgresql":
            prefix = "EXPLAIN (ANALYZE, COSTS OFF, TIMING ON) " if analyze else "EXPLAIN "
        else:
            prefix = "EXPLAIN QUERY PLAN "
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cursor = raw.cursor()
        try:
            cursor.execute(prefix + statement.sql, statement.params)
            return [" | ".join(str(c) for c in row) for row in cursor.fetchall()]
        finally:
            cursor.close()
            raw.rollback()

"""The storage layer on a real PostgreSQL 15 (a private cluster started by the fixture).

The behaviour scenarios are the same functions the SQLite unit tests run; here they meet
PostgreSQL's own locking, timestamptz and JSONB.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from avsteg.domain.errors import TransientError
from avsteg.storage import Database, MailboxPosition, next_reference
from avsteg.storage.models import MessageRow
from tests.unit.test_storage import (
    at_once,
    scenario_lease_race,
    scenario_leases,
    scenario_migrations_up_and_down,
    scenario_models_match_migrations,
    scenario_outbox,
    scenario_reference_race,
    scenario_store_same_position_once,
    scenario_versions,
    store_bare,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def pg(postgres_db_url: str) -> Iterator[Database]:
    database = Database(postgres_db_url)
    database.upgrade()
    yield database
    database.dispose()


def test_migrations_upgrade_and_downgrade_an_empty_database(postgres_db_url: str) -> None:
    scenario_migrations_up_and_down(postgres_db_url)


def test_models_and_migrations_describe_the_same_schema(pg: Database) -> None:
    scenario_models_match_migrations(pg)


def test_values_are_jsonb_and_timestamps_timestamptz(pg: Database) -> None:
    with pg.engine.connect() as connection:
        types = dict(
            connection.exec_driver_sql(
                "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns"
                " WHERE column_name IN ('values', 'stored_at', 'fulltime_months')"
            ).all()
        )
    assert types["report_versions.values"] == "jsonb"
    assert types["deviations.values"] == "jsonb"
    assert types["messages.stored_at"] == "timestamp with time zone"
    assert types["deviations.fulltime_months"] == "numeric"


def test_reference_numbers_are_race_free_with_threads(pg: Database) -> None:
    started = time.perf_counter()
    got = scenario_reference_race(pg, threads=2, each=50)
    elapsed = time.perf_counter() - started
    assert len(set(got)) == 100
    print(f"100 references from 2 threads in {elapsed:.2f} s")


def _allocate(url: str, count: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    database = Database(url)
    try:
        references = []
        for _ in range(count):
            with database.unit_of_work() as s:
                references.append(next_reference(s, 2030))
        queue.put(references)
    except BaseException as error:  # noqa: BLE001 - sent back to the test
        queue.put(repr(error))
    finally:
        database.dispose()


def test_reference_numbers_are_race_free_across_processes(pg: Database) -> None:
    context = multiprocessing.get_context("spawn")  # no engine state inherited
    queue = context.Queue()
    url = pg.url.render_as_string(hide_password=False)
    processes = [context.Process(target=_allocate, args=(url, 50, queue)) for _ in range(2)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
    assert all(isinstance(r, list) for r in results), results
    got = [ref for r in results for ref in r]
    assert sorted(got) == [f"AVS-2030-{n:04d}" for n in range(1, 101)]


def test_versions_and_current_versions(pg: Database) -> None:
    scenario_versions(pg)


def test_outbox_state_machine_and_backoff(pg: Database) -> None:
    scenario_outbox(pg)


def test_leases_take_over_after_expiry(pg: Database) -> None:
    scenario_leases(pg)


def test_only_one_worker_gets_an_expired_lease(pg: Database) -> None:
    scenario_lease_race(pg)


def test_storing_the_same_position_twice_gives_one_row(pg: Database) -> None:
    scenario_store_same_position_once(pg)


def test_two_workers_storing_one_position_at_once_keep_one_row(pg: Database) -> None:
    position = MailboxPosition("acct", "INBOX", 3, 99)
    outcomes: list[bool] = []

    def worker(_i: int) -> None:
        with pg.unit_of_work() as s:
            _row, new = store_bare(s, b"raw", mid="<x@y>", position=position)
            time.sleep(0.05)  # hold the transaction open so the others collide
        outcomes.append(new)

    at_once(worker, 4)
    assert sorted(outcomes) == [False, False, False, True]
    with pg.unit_of_work(readonly=True) as s:
        assert s.execute(select(func.count(MessageRow.id))).scalar_one() == 1


def test_a_database_that_goes_away_is_a_transient_error(postgres_cluster, pg: Database) -> None:
    with pg.unit_of_work() as s:
        next_reference(s, 2026)
    name = pg.url.database
    assert name
    postgres_cluster.drop_database(name)  # WITH (FORCE): our pooled connections are cut
    with pytest.raises(TransientError), pg.unit_of_work() as s:
        next_reference(s, 2026)


def test_timestamps_come_back_as_utc(pg: Database) -> None:
    stockholm = dt.timezone(dt.timedelta(hours=1))
    received = dt.datetime(2026, 3, 5, 13, 0, tzinfo=stockholm)
    with pg.unit_of_work() as s:
        row, _ = store_bare(s, b"t", received_at=received)
        pk = row.id
    with pg.unit_of_work(readonly=True) as s:
        again = s.get(MessageRow, pk)
        assert again is not None
        assert again.received_at == received
        assert again.received_at.utcoffset() == dt.timedelta(0)

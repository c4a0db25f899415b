"""``kill -9`` at random moments while ``avsteg run`` works off a backlog through Microsoft Graph.

The IMAP crash test (test_crash_safety.py) on the Graph path: a 40-message backlog in the Graph
test server's Inbox, the worker killed with SIGKILL again and again and started again each time,
then one clean ``avsteg run --once``. Afterwards every report is registered exactly once, every
message is in exactly one folder, human mail is in the Inbox with its read state unchanged, and
a reply went out twice only in the documented window (Graph accepted the sendMail and the
process died before it recorded "sent"), with a kill in between.
"""
from __future__ import annotations

import os
import random
import signal
import time

import pytest

from tests.support.crash_checks import (
    assert_registered_once,
    clean_run_after_kills,
    kill,
    processed_count,
    sent_reply_rows,
    window_duplicates,
)
from tests.support.graph_env import arrival_order, assert_filed, graph_environ, sent_by_original
from tests.support.worker_env import ids_by_kind, mixed_backlog, spawn

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BACKLOG = 40
MAX_KILLS = 30
MIN_KILLS = 10
DEADLINE_SECONDS = 150


def _startup_seconds(env, cwd, log) -> float:
    """How long ``avsteg run`` takes here until its first poll (imports, migrations): lives
    are measured from it, so that kills land in the work on a fast and a loaded machine alike."""
    started = time.monotonic()
    proc = spawn(["run"], env, cwd=cwd, log=log)
    try:
        while time.monotonic() - started < 60:
            if "worker started" in log.read_text(errors="replace"):
                return time.monotonic() - started
            time.sleep(0.05)
        raise AssertionError("avsteg run did not start:\n" + log.read_text()[-3000:])
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def test_sigkill_during_a_graph_backlog_loses_nothing_and_doubles_nothing(
        graph_server, db_url, tmp_path):
    seed = int(os.environ.get("KILL_TEST_SEED") or 1313)
    rng = random.Random(seed)
    backlog = mixed_backlog(BACKLOG, tag="gk")
    read_before = set()
    for i, m in enumerate(backlog):
        graph_server.deliver(m.raw, is_read=i % 7 == 0, received=f"2026-11-20T09:00:{i:02d}Z")
        if i % 7 == 0:
            read_before.add(m.message_id)
    env = graph_environ(graph_server, db_url, WORKER__POLL_INTERVAL_SECONDS="0.5")

    kills: list[int] = [len(graph_server.sent)]  # replies that had reached Graph at each kill
    log = tmp_path / "run.log"
    startup = _startup_seconds(env, tmp_path, log)
    progress: list[int] = [processed_count(db_url)]
    started = time.monotonic()
    extra = 0.0  # grows while lives end before any work (a machine slower than at start-up)
    while len(kills) < MAX_KILLS and time.monotonic() - started < DEADLINE_SECONDS:
        proc = spawn(["run"], env, cwd=tmp_path, log=log)
        time.sleep(startup * rng.uniform(0.8, 1.0) + rng.uniform(0.0, 1.2) + extra)
        kill(proc)
        kills.append(len(graph_server.sent))
        progress.append(processed_count(db_url))
        extra = extra + 0.5 if progress[-1] == progress[-2] else max(0.0, extra - 0.25)
        if len(kills) >= MIN_KILLS and progress[-1] == BACKLOG:
            break
    worked_before_clean_run = clean_run_after_kills(env, tmp_path, db_url, kills, progress,
                                                    min_kills=MIN_KILLS, log=log)
    reports, rejects, human = ids_by_kind(backlog)

    facts = assert_registered_once(env, tmp_path, db_url, reports)

    assert_filed(graph_server, reports, rejects, human, read_before)

    rows = sent_reply_rows(facts, reports | rejects)

    arrived = sent_by_original(graph_server)
    assert set(arrived) == reports | rejects
    order = arrival_order(graph_server)
    duplicates = window_duplicates(arrived, order, rows, kills)
    print(f"\nseed {seed}: processed at each kill {progress}; replies at each kill {kills}")
    print(f"{len(kills)} kills, {worked_before_clean_run}/{BACKLOG} processed before the clean "
          f"run, {len(graph_server.sent)} sendMail, {duplicates} in the documented window")
    assert duplicates <= len(kills)

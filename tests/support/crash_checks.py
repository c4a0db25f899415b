"""What the SIGKILL crash tests check once the kills are over, for IMAP and Graph alike.

test_crash_safety.py (Dovecot + aiosmtpd) and test_graph_crash_safety.py (the Graph test server)
kill ``avsteg run`` in different ways but promise the same: every report registered once, one
reply row per answered message, all sent, and a reply delivered twice only in the documented
window (delivered, then killed before "sent" was recorded) with a kill between the two copies.
The checks live here once so that the two transports are held to the same rule.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tests.support.worker_env import avsteg, db_facts


def processed_count(db_url: str) -> int:
    """Messages in the state ``processed`` (0 while the schema does not exist yet)."""
    try:
        return int(db_facts(db_url)["states"].get("processed", 0))
    except Exception:  # noqa: BLE001 - the schema may not exist before the first start
        return 0


def kill(proc: subprocess.Popen) -> None:
    """SIGKILL one life of ``avsteg run`` and reap it."""
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    time.sleep(0.05)  # a delivery the dead process had finished sending is still accepted


def clean_run_after_kills(env: Mapping[str, str], cwd: Path, db_url: str, kills: Sequence[int],
                          progress: Sequence[int], *, min_kills: int, log: Path) -> int:
    """Check that the kills were enough, did not stop all work and landed in the middle of it;
    then one clean ``avsteg run --once``. Returns how many were processed before it."""
    worked = processed_count(db_url)
    assert len(kills) >= min_kills
    assert worked > 0, log.read_text()[-3000:]
    assert len(set(progress)) >= 3, progress
    avsteg(["run", "--once"], env, cwd=cwd)
    return worked


def assert_registered_once(env: Mapping[str, str], cwd: Path, db_url: str,
                           reports: set[str]) -> dict[str, Any]:
    """``avsteg list`` shows each report once under its own reference; one version each.
    Returns the database facts (worker_env.db_facts) for the checks that follow."""
    facts = db_facts(db_url)
    register = [json.loads(x) for x in avsteg(["list", "--json"], env, cwd=cwd).stdout.splitlines()]
    assert sorted(r["message_id"] for r in register) == sorted(reports)
    assert len({r["reference"] for r in register}) == len(reports)
    assert set(facts["versions"]) == reports and set(facts["versions"].values()) == {1}
    assert set(facts["states"]) == {"processed"}
    return facts


def sent_reply_rows(facts: Mapping[str, Any], answered: set[str]) -> dict[str, tuple[str, str]]:
    """The reply rows (original → (status, Message-ID header)): one per answered message, sent."""
    rows: dict[str, tuple[str, str]] = {}
    for original, status, header in facts["replies"]:
        assert original not in rows, f"two replies composed for {original}"
        rows[original] = (status, header)
    assert set(rows) == answered
    assert {status for status, _ in rows.values()} == {"sent"}
    return rows


def window_duplicates(arrived: Mapping[str, list[str]], order: Sequence[tuple[str, str]],
                      rows: Mapping[str, tuple[str, str]], kills: Sequence[int]) -> int:
    """How many replies went out twice, each excused only by a kill between the two deliveries.

    ``arrived``: original → reply Message-IDs delivered; ``order``: (original, reply) in the
    order of delivery; ``kills``: how many deliveries had arrived when each kill was done. A
    second copy must be the same queued reply (the Message-ID of its row).
    """
    duplicates = 0
    for original, reply_ids in arrived.items():
        assert set(reply_ids) == {rows[original][1].strip("<>")}, (original, reply_ids)
        if len(reply_ids) > 1:
            duplicates += len(reply_ids) - 1
            positions = [i for i, (o, _r) in enumerate(order) if o == original]
            for first, second in zip(positions, positions[1:]):
                assert any(first < k <= second for k in kills), (
                    f"{original} answered twice without a kill in between")
    return duplicates

"""Helpers for the Graph worker tests: the environment for ``avsteg run`` and what to look at.

The same shape as worker_env.py (which serves the IMAP tests): only environment variables
configure the real command, and the result is read from the Graph test server and the database.
"""
from __future__ import annotations

import os
from typing import Any

from tests.support.graph_server import GraphServer
from tests.support.worker_env import _bare, by_original, parse, reply_order

PROCESSED = "Avsteg/Registrerade"
REJECTED = "Avsteg/Avvisade"


def graph_environ(server: GraphServer, db_url: str, *, folders: bool = True,
                  **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    env.update(server.environ())
    env.update({
        "AVSTEG_DATABASE__URL": db_url,
        "AVSTEG_POLICY__ALLOWED_SENDER_DOMAINS": "goteborg.se",
        "AVSTEG_POLICY__REPLY_WINDOW_DAYS": "36500",  # the test mails carry old Date headers
        "AVSTEG_WORKER__POLL_INTERVAL_SECONDS": "1",
        "AVSTEG_WORKER__LOG_FORMAT": "json",
        "AVSTEG_GRAPH__TIMEOUT_SECONDS": "10",
        "AVSTEG_GRAPH__MAX_WAIT_SECONDS": "5",
        "AVSTEG_SMTP__BACKOFF_SECONDS": "0.5",
        "PYTHONUNBUFFERED": "1",
    })
    if folders:
        env["AVSTEG_GRAPH__PROCESSED_FOLDER"] = PROCESSED
        env["AVSTEG_GRAPH__REJECTED_FOLDER"] = REJECTED
    for key, value in extra.items():
        env[f"AVSTEG_{key.upper()}"] = str(value)
    return env


def folder_state(server: GraphServer, path: str) -> dict[str, bool]:
    """Message-ID → isRead, for every message in ``path``."""
    out: dict[str, bool] = {}
    for m in server.in_folder(path):
        mid = _bare(parse(m.raw)["Message-ID"]) or "?"
        assert mid not in out, f"{mid} twice in {path}"
        out[mid] = m.is_read
    return out


def assert_filed(server: GraphServer, reports: set[str], rejects: set[str], human: set[str],
                 read_before: set[str]) -> None:
    """Reports and rejects each moved to their folder once; human mail still in the Inbox with
    its read state as it was (``read_before``), and no message changed but by our moves."""
    assert set(folder_state(server, PROCESSED)) == reports
    assert set(folder_state(server, REJECTED)) == rejects
    inbox = folder_state(server, "Inbox")
    assert set(inbox) == human
    for mid, is_read in inbox.items():
        assert is_read == (mid in read_before), mid
    assert touched_human_mail(server) == 0


def sent_by_original(server: GraphServer) -> dict[str, list[str]]:
    """Message-ID answered (In-Reply-To) → Message-IDs of the replies sent with sendMail."""
    return by_original(arrival_order(server))


def touched_human_mail(server: GraphServer) -> int:
    """Requests that change a message other than by our moves (PATCH, DELETE): must be 0."""
    return sum(1 for method, _path, _status in server.requests if method in ("PATCH", "DELETE"))


def arrival_order(server: GraphServer) -> list[tuple[str, str]]:
    """(In-Reply-To, Message-ID) of each reply sent with sendMail, in the order sent."""
    return reply_order(list(server.sent))


__all__ = ["PROCESSED", "REJECTED", "arrival_order", "assert_filed", "folder_state", "graph_environ",
           "sent_by_original", "touched_human_mail", "Any"]

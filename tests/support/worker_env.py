"""Shared helpers for the worker's integration tests and benchmarks.

The worker tests all need the same things: a mailbox full of realistic messages (reports with
distinct templates, a rejectable PDF, human mail), the ``AVSTEG_…`` environment that points the
real ``avsteg`` command at a Dovecot user, an aiosmtpd server and a database, and ways to look at
the result (the register, the replies that reached the SMTP server, what is in which folder).
Nothing here fakes a server; it only builds input and reads output.
"""
from __future__ import annotations

import email
import email.policy
import io
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from tests.support import emails

REPO = Path(__file__).resolve().parents[2]
PROCESSED = "Avsteg/Behandlade"
REJECTED = "Avsteg/Avvisade"

# -- building messages -------------------------------------------------------------------


@lru_cache(maxsize=4)
def _blank(kind: str) -> bytes:
    from avsteg.config.schema import default_schema
    from avsteg.forms.docx_template import build_docx

    return build_docx(default_schema(), kind)


@lru_cache(maxsize=1)
def _marked_docx() -> bytes:
    """One filled template whose procurement text carries a marker we can vary cheaply."""
    from avsteg.config.schema import default_schema
    from tests.support.fill import FillStyle, fill_docx, sample_report

    schema = default_schema()
    report, deviations = sample_report(schema, "event", 1, seed=7)
    deviations[0]["procurement"] = "Upphandling nr QQ000000QQ"
    return fill_docx(_blank("event"), report, deviations, FillStyle(), schema=schema)


def report_docx(n: int) -> bytes:
    """A valid, filled Händelserapport whose content (and sha256) is unique to ``n``.

    Made by rewriting a marker in word/document.xml of one filled template: about a millisecond
    each, so thousands can be built for the benchmarks. The marker keeps its length, so the
    document stays well formed.
    """
    marker = b"QQ000000QQ"
    number = f"{n:06d}".encode()
    src = zipfile.ZipFile(io.BytesIO(_marked_docx()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                assert marker in data, "marker lost: the filled template changed shape"
                data = data.replace(marker, b"AV" + number + b"AV")
            dst.writestr(info, data)
    return out.getvalue()


def sender_of(n: int) -> str:
    """One sender per message, so the per-sender reply limit never decides a test."""
    return f"person{n}@trafikkontoret.goteborg.se"


def report_message(n: int, *, tag: str = "r") -> bytes:
    return emails.simple(
        report_docx(n), f"Avstegsrapport {n}.docx", sender=sender_of(n),
        subject=f"Avstegsrapport {n}", message_id=f"{tag}{n}@goteborg.se",
    )


def reject_message(n: int, *, tag: str = "pdf") -> bytes:
    return emails.simple(emails.dummy_pdf(), "avstegsrapport.pdf", content_type="application/pdf",
                         sender=sender_of(n), subject=f"Avstegsrapport {n}",
                         message_id=f"{tag}{n}@goteborg.se")


def human_message(n: int, *, tag: str = "h") -> bytes:
    """A question, a newsletter or an out-of-office reply: mail that is not ours."""
    builders = (emails.human_question, emails.newsletter, emails.out_of_office)
    return builders[n % 3](message_id=f"{tag}{n}@goteborg.se")


@dataclass(frozen=True)
class Sent:
    """A message we put in the mailbox, and what should become of it."""

    kind: str  # report | reject | human
    message_id: str
    raw: bytes


def mixed_backlog(n: int, *, tag: str = "m") -> list[Sent]:
    """``n`` messages: roughly 60 % reports, 20 % rejects, 20 % human mail, interleaved."""
    out = []
    for i in range(n):
        slot = i % 5
        if slot in (0, 1, 3):
            out.append(Sent("report", f"{tag}r{i}@goteborg.se", report_message(i, tag=f"{tag}r")))
        elif slot == 2:
            out.append(Sent("reject", f"{tag}pdf{i}@goteborg.se", reject_message(i, tag=f"{tag}pdf")))
        else:
            out.append(Sent("human", f"{tag}h{i}@goteborg.se", human_message(i, tag=f"{tag}h")))
    return out


def ids_by_kind(backlog: Iterable[Sent]) -> tuple[set[str], set[str], set[str]]:
    """Message-IDs of the backlog's reports, rejects and human mail."""
    backlog = list(backlog)

    def ids(kind: str) -> set[str]:
        return {m.message_id for m in backlog if m.kind == kind}

    return ids("report"), ids("reject"), ids("human")


def append_all(dovecot: Any, user: Any, messages: Iterable[bytes], folder: str = "INBOX",
               flags: tuple[str, ...] = ()) -> None:
    """APPEND over one connection (the fixture's ``append`` logs in once per message)."""
    with dovecot.client(user) as client:
        if not client.folder_exists(folder):
            client.create_folder(folder)
        for raw in messages:
            client.append(folder, raw, flags=flags)


# -- configuring the real command -----------------------------------------------------------


def worker_environ(dovecot: Any, user: Any, smtp: Any | None, db_url: str, *,
                   folders: bool = True, **extra: str) -> dict[str, str]:
    """``AVSTEG_…`` variables (spec section 4) for ``avsteg run``; nothing else configures it.

    ``extra`` keys are the variable names without the prefix, e.g. ``WORKER__IDLE="true"``.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    env.update({
        "AVSTEG_IMAP__HOST": dovecot.host,
        "AVSTEG_IMAP__PORT": str(dovecot.port),
        "AVSTEG_IMAP__SSL": "false",
        "AVSTEG_IMAP__USERNAME": user.name,
        "AVSTEG_IMAP__PASSWORD": user.password,
        "AVSTEG_IMAP__TIMEOUT_SECONDS": "10",
        "AVSTEG_DATABASE__URL": db_url,
        "AVSTEG_POLICY__ALLOWED_SENDER_DOMAINS": "goteborg.se",
        "AVSTEG_WORKER__POLL_INTERVAL_SECONDS": "1",
        "AVSTEG_WORKER__IDLE": "false",
        "AVSTEG_WORKER__LOG_FORMAT": "json",
        # The test mail is dated 2026-03-05 (emails.DATE); the reply window of spec 3 would
        # leave it unanswered. Tests of the window set their own.
        "AVSTEG_POLICY__REPLY_WINDOW_DAYS": "36500",
        "PYTHONUNBUFFERED": "1",
    })
    if folders:
        env["AVSTEG_IMAP__PROCESSED_FOLDER"] = PROCESSED
        env["AVSTEG_IMAP__REJECTED_FOLDER"] = REJECTED
    if smtp is not None:
        env.update({
            "AVSTEG_SMTP__HOST": smtp.host,
            "AVSTEG_SMTP__PORT": str(smtp.port),
            "AVSTEG_SMTP__STARTTLS": "false",
            "AVSTEG_SMTP__AUTH": "none",
            "AVSTEG_SMTP__TIMEOUT_SECONDS": "10",
            "AVSTEG_SMTP__BACKOFF_SECONDS": "0.5",
            "AVSTEG_SMTP__RETRY_SECONDS": "0.3",
        })
    for key, value in extra.items():
        env[f"AVSTEG_{key.upper()}"] = str(value)
    return env


def worker_settings(dovecot: Any, user: Any, smtp: Any | None, db_url: str, *,
                    folders: bool = True, **extra: str) -> Any:
    """The same configuration as a Settings object, for in-process workers."""
    from avsteg.config.settings import Settings

    env = worker_environ(dovecot, user, smtp, db_url, folders=folders, **extra)
    saved = {k: v for k, v in os.environ.items() if k.startswith("AVSTEG_")}
    try:
        for k in saved:
            del os.environ[k]
        os.environ.update({k: v for k, v in env.items() if k.startswith("AVSTEG_")})
        return Settings()
    finally:
        for k in [k for k in os.environ if k.startswith("AVSTEG_")]:
            del os.environ[k]
        os.environ.update(saved)


def avsteg(args: list[str], env: Mapping[str, str], *, cwd: Path, timeout: float = 120,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run the real command line in a child process."""
    result = subprocess.run([sys.executable, "-m", "avsteg", *args], env=dict(env), cwd=cwd,
                            capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"avsteg {' '.join(args)} exited {result.returncode}:\n"
                             f"{result.stdout}\n{result.stderr[-4000:]}")
    return result


def spawn(args: list[str], env: Mapping[str, str], *, cwd: Path, log: Path) -> subprocess.Popen:
    """Start ``avsteg …`` in the background, its output going to ``log``."""
    out = open(log, "ab")  # noqa: SIM115 - closed by the child's exit; tests read the file
    return subprocess.Popen([sys.executable, "-m", "avsteg", *args], env=dict(env), cwd=cwd,
                            stdout=out, stderr=subprocess.STDOUT)


# -- running in-process ----------------------------------------------------------------------


def run_until_empty(worker: Any, max_polls: int = 20) -> list[Any]:
    """Poll until a poll finds nothing new and no reply is due; returns the poll reports."""
    reports = []
    for _ in range(max_polls):
        report = worker.poll_once()
        reports.append(report)
        if not report.skipped_lease and not report.handled and not report.retried \
                and not report.delivered and not report.filed:
            return reports
    raise AssertionError(f"the mailbox was not worked off in {max_polls} polls")


# -- looking at the result -------------------------------------------------------------------


def register(db_url: str) -> list[dict]:
    """The register as ``avsteg list --json`` builds it (in-process, same function)."""
    from avsteg.commands.list_reports import register_lines
    from avsteg.storage.database import Database

    db = Database(db_url)
    try:
        return register_lines(db)
    finally:
        db.dispose()


def db_facts(db_url: str) -> dict[str, Any]:
    """Counts straight from the tables: versions per message, replies per message and status."""
    from sqlalchemy import func, select

    from avsteg.storage.database import Database
    from avsteg.storage.models import MessageRow, ReplyRow, ReportVersion

    db = Database(db_url)
    try:
        with db.unit_of_work(readonly=True) as s:
            versions = Counter(
                mid for (mid,) in s.execute(
                    select(MessageRow.message_id_header).join(
                        ReportVersion, ReportVersion.message_id == MessageRow.id))
            )
            replies = [
                (mid, status, header) for mid, status, header in s.execute(
                    select(MessageRow.message_id_header, ReplyRow.status,
                           ReplyRow.message_id_header).join(
                        MessageRow, ReplyRow.message_id == MessageRow.id))
            ]
            states = dict(s.execute(
                select(MessageRow.state, func.count()).group_by(MessageRow.state)).all())
            outcomes = Counter(
                (mid, outcome) for mid, outcome in s.execute(
                    select(MessageRow.message_id_header, MessageRow.outcome)))
        return {"versions": versions, "replies": replies, "states": states, "outcomes": outcomes}
    finally:
        db.dispose()


def parse(raw: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.default)  # type: ignore[return-value]


def _bare(value: str | None) -> str | None:
    if not value:
        return None
    m = re.search(r"<([^>]+)>", value)
    return m.group(1) if m else value.strip()


def reply_order(raws: Iterable[bytes]) -> list[tuple[str, str]]:
    """(In-Reply-To, Message-ID) of each reply, in the order the replies arrived."""
    out = []
    for raw in raws:
        msg = parse(raw)
        out.append((_bare(msg["In-Reply-To"]) or "?", _bare(msg["Message-ID"]) or "?"))
    return out


def by_original(order: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Message-ID answered → the Message-IDs of its replies, in order."""
    out: dict[str, list[str]] = {}
    for original, reply in order:
        out.setdefault(original, []).append(reply)
    return out


def replies_by_original(smtp: Any) -> dict[str, list[str]]:
    """Message-ID answered (In-Reply-To) → the Message-IDs of the replies that arrived, in order."""
    return by_original(reply_order(received.raw for received in list(smtp.messages)))


def folder_ids(dovecot: Any, user: Any, folder: str) -> dict[str, tuple[str, ...]]:
    """Message-ID → flags, for every message in ``folder``."""
    out = {}
    for _uid, flags, raw in dovecot.fetch_all(user, folder):
        mid = _bare(parse(raw)["Message-ID"]) or "?"
        assert mid not in out, f"{mid} twice in {folder}"
        out[mid] = tuple(f for f in flags if f != "\\Recent")
    return out


def assert_worked_off_once(dovecot: Any, user: Any, smtp: Any, db_url: str,
                           backlog: list[Sent]) -> None:
    """After a backlog was worked off: each report registered once (one version), each report
    and reject answered once and filed in its folder, human mail left in INBOX."""
    reports, rejects, human = ids_by_kind(backlog)
    facts = db_facts(db_url)
    assert set(facts["versions"]) == reports and set(facts["versions"].values()) == {1}
    assert sorted(r["message_id"] for r in register(db_url)) == sorted(reports)
    replies = replies_by_original(smtp)
    assert set(replies) == reports | rejects
    assert all(len(v) == 1 for v in replies.values()), replies
    assert set(folder_ids(dovecot, user, PROCESSED)) == reports
    assert set(folder_ids(dovecot, user, REJECTED)) == rejects
    assert set(folder_ids(dovecot, user, "INBOX")) == human


# -- a PostgreSQL of our own, to stop and start -------------------------------------------------


def start_private_postgres() -> Any:
    """A private cluster (tests/support/postgres.py) this test may stop and start at will."""
    from tests.support.postgres import _start_cluster, find_postgres_bin
    from tests.support.require import (
        missing,  # here: the benchmarks import this module without pytest
    )

    bin_dir = find_postgres_bin()
    if bin_dir is None:
        missing("PostgreSQL binaries (initdb, pg_ctl) are not installed (apt-get install postgresql)")
    return _start_cluster(bin_dir)


def restart_postgres(cluster: Any) -> None:
    """Start a cluster stopped with ``cluster.stop()`` again, on the same port and data."""
    options = (
        f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c fsync=off"
        f" -c synchronous_commit=off -c full_page_writes=off"
        f" -c unix_socket_directories={cluster.base_dir} -c max_connections=100"
    )
    cluster.run(str(cluster.bin_dir / "pg_ctl"), "-D", str(cluster.data_dir), "-l",
                str(cluster.base_dir / "postgres.log"), "-o", options, "-w", "-t", "30", "start")


class Workers:
    """Builds in-process workers (build_worker, the real adapters) and closes them afterwards."""

    def __init__(self) -> None:
        self._opened: list[Any] = []

    def __call__(self, settings: Any, **kwargs: Any) -> Any:
        from avsteg.bootstrap import build_worker, open_database

        db = open_database(settings)
        worker = build_worker(settings, db, **kwargs)
        self._opened.append(worker)
        return worker

    def close(self) -> None:
        for worker in self._opened:
            try:
                worker.mailbox.close()
            finally:
                worker.db.dispose()

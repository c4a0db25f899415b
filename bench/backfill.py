"""How fast does a backfill (``avsteg run --once --no-replies``) work off a full mailbox?

APPENDs N filled report messages to a private Dovecot (the test fixture's DovecotServer, run
outside pytest), then measures:

(a) the floor: one batched raw ``BODY.PEEK[]`` fetch of every message with imapclient, the
    attachment taken out with the stdlib ``email`` module, and a bare ``zipfile`` + ``lxml`` read
    of each XML part of it — the least any worker must do;
(b) the worker: ``build_worker(settings, db, send_replies=False).poll_once()`` on SQLite, i.e.
    what ``avsteg run --once --no-replies`` does, in a child process so its peak RSS can be read
    with ``resource.getrusage(RUSAGE_CHILDREN)``.

Prints messages/second of each, their ratio (target ≥ 0.5) and the worker's peak RSS (target
< 200 MB). No timing assertion anywhere: these are figures for people.

    python bench/backfill.py                 # N = 2000
    python bench/backfill.py --n 1000 --n 4000
    python bench/backfill.py --all           # 1000, 2000, 4000
    python bench/backfill.py --n 500 --profile   # cProfile of the worker run, top 25
"""
from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.*
from tests.support.servers import start_dovecot  # noqa: E402

BATCH = 50  # imap.batch_size's default: the floor fetches in the same batches as the worker


def fill_mailbox(server, n: int):
    from tests.support.worker_env import report_message

    user = server.add_user()
    started = time.perf_counter()
    with server.client(user) as client:
        chunk = []
        for i in range(n):
            chunk.append(report_message(i, tag="bench"))
            if len(chunk) == 200 or i == n - 1:
                client.multiappend("INBOX", chunk)
                chunk = []
    return user, time.perf_counter() - started


def floor(server, user) -> tuple[float, int]:
    """Seconds for the cheapest complete read of every message; parts parsed, as a check."""
    from imapclient import IMAPClient
    from lxml import etree

    parts = 0
    started = time.perf_counter()
    with IMAPClient(server.host, server.port, ssl=False, timeout=60) as client:
        client.login(user.name, user.password)
        client.select_folder("INBOX", readonly=True)
        uids = client.search("ALL")
        for start in range(0, len(uids), BATCH):
            data = client.fetch(uids[start:start + BATCH], ["BODY.PEEK[]"])
            for item in data.values():
                msg = email.message_from_bytes(item[b"BODY[]"], policy=email.policy.default)
                for att in msg.iter_attachments():
                    blob = att.get_content()
                    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
                        for name in zf.namelist():
                            if name.endswith(".xml"):
                                etree.fromstring(zf.read(name))
                                parts += 1
    return time.perf_counter() - started, parts


def worker_child(args: argparse.Namespace) -> None:
    """In the child: the worker's backfill, one poll; prints a JSON line with its figures."""
    from avsteg.bootstrap import build_worker, open_database
    from avsteg.config.settings import Settings

    settings = Settings()
    db = open_database(settings)
    worker = build_worker(settings, db, send_replies=False)
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started = time.perf_counter()
    report = worker.poll_once()
    seconds = time.perf_counter() - started
    if profiler is not None:
        import pstats

        profiler.disable()
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("cumulative").print_stats(25)
        stats.sort_stats("tottime").print_stats(20)
    outcomes: dict[str, int] = {}
    for h in report.handled:
        outcomes[h.outcome] = outcomes.get(h.outcome, 0) + 1
    worker.mailbox.close()
    db.dispose()
    print(json.dumps({
        "seconds": seconds, "outcomes": outcomes, "filed": report.filed,
        "self_maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


def run_worker(server, user, workdir: Path, profile: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    env.update({
        "AVSTEG_IMAP__HOST": server.host, "AVSTEG_IMAP__PORT": str(server.port),
        "AVSTEG_IMAP__SSL": "false", "AVSTEG_IMAP__USERNAME": user.name,
        "AVSTEG_IMAP__PASSWORD": user.password,
        "AVSTEG_IMAP__PROCESSED_FOLDER": "Avsteg/Behandlade",
        "AVSTEG_IMAP__REJECTED_FOLDER": "Avsteg/Avvisade",
        "AVSTEG_DATABASE__URL": f"sqlite:///{workdir}/backfill.sqlite",
        "AVSTEG_POLICY__ALLOWED_SENDER_DOMAINS": "goteborg.se",
        "AVSTEG_WORKER__SEND_REPLIES": "false",
    })
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    if profile:
        command.append("--profile")
    result = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"worker child failed:\n{result.stderr[-4000:]}")
    if profile:
        print(result.stderr[-12000:])
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, action="append", help="messages (repeatable); default 2000")
    parser.add_argument("--all", action="store_true", help="1000, 2000 and 4000")
    parser.add_argument("--profile", action="store_true", help="cProfile the worker run")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        worker_child(args)
        return
    sizes = sorted(set([1000, 2000, 4000] if args.all else (args.n or [2000])))
    server, directory = start_dovecot("avsteg-bench-")
    try:
        print(f"{'N':>6} {'append s':>9} {'floor msg/s':>12} {'worker msg/s':>13} {'ratio':>6} "
              f"{'peak RSS MB':>12}  outcomes")
        for n in sizes:
            user, append_seconds = fill_mailbox(server, n)
            floor_seconds, parts = floor(server, user)
            workdir = directory / f"work-{n}"
            workdir.mkdir()
            # Sizes run in ascending order, so RUSAGE_CHILDREN's maximum is this run's peak.
            figures = run_worker(server, user, workdir, args.profile)
            floor_rate = n / floor_seconds
            worker_rate = n / figures["seconds"]
            print(f"{n:>6} {append_seconds:>9.1f} {floor_rate:>12.0f} {worker_rate:>13.0f} "
                  f"{worker_rate / floor_rate:>6.2f} {figures['children_maxrss_kb'] / 1024:>12.0f}  "
                  f"{figures['outcomes']} filed={figures['filed']} "
                  f"(child's own peak {figures['self_maxrss_kb'] / 1024:.0f} MB; {parts} XML parts)",
                  flush=True)
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    print("targets: ratio ≥ 0.5, peak RSS < 200 MB")


if __name__ == "__main__":
    main()

"""How long from an APPEND to the reply arriving at the SMTP server, with IMAP IDLE?

Runs the service as ``avsteg run`` does (Service with the IDLE watcher, APScheduler poll job
with a long interval so only IDLE can explain a quick answer) against a private Dovecot and
aiosmtpd, on SQLite. APPENDs N report messages one at a time, waiting for each reply, and
prints p50/p95/max of APPEND → reply accepted by the SMTP server. Targets: p50 < 2 s, p95 < 5 s.

Then bursts: ``--bursts`` times ``--burst-size`` APPENDs ``--gap`` seconds apart (default 3 × 40,
50 ms apart), without waiting; each message's APPEND → reply, p50/p95/max. Mail that arrives while
a poll runs must cause another poll right after it: a lost wake-up shows as a latency near the
poll interval (300 s here). The floor, measured in the same run: how long Dovecot itself takes to
announce an APPEND to a bare IDLE connection.

    python bench/idle_latency.py [--n 20] [--bursts 3 --burst-size 40 --gap 0.05]
"""
from __future__ import annotations

import argparse
import logging
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.support.*


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20)
    parser.add_argument("--poll-interval", type=float, default=300.0)
    parser.add_argument("--bursts", type=int, default=3)
    parser.add_argument("--burst-size", type=int, default=40)
    parser.add_argument("--gap", type=float, default=0.05)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from avsteg.bootstrap import make_mailbox
    from avsteg.commands.worker_service import Service
    from tests.support.servers import DovecotServer, make_tls_files, start_smtp_server
    from tests.support.worker_env import Workers, append_all, report_message, worker_settings

    directory = Path(tempfile.mkdtemp(prefix="avsteg-idle-"))
    directory.chmod(0o755)  # Dovecot's mail and login users must traverse it
    (directory / "tls").mkdir()
    dovecot = DovecotServer(directory / "dovecot", make_tls_files(directory / "tls"))
    dovecot.directory.mkdir()
    dovecot.start()
    smtp = start_smtp_server()
    workers = Workers()
    try:
        user = dovecot.add_user()
        floor = idle_floor(dovecot, user)
        settings = worker_settings(dovecot, user, smtp, f"sqlite:///{directory}/idle.sqlite",
                                   WORKER__IDLE="true",
                                   WORKER__POLL_INTERVAL_SECONDS=str(args.poll_interval))
        worker = workers(settings)
        service = Service(settings, worker, watcher_factory=lambda: make_mailbox(settings))
        runner = threading.Thread(target=service.run_forever, daemon=True)
        runner.start()
        while service.polls < 1:
            time.sleep(0.05)
        time.sleep(0.5)
        latencies = []
        for i in range(args.n):
            raw = report_message(i, tag="idle")
            appended = time.monotonic()
            append_all(dovecot, user, [raw])
            while len(smtp.messages) < i + 1:
                if time.monotonic() - appended > 60:
                    raise SystemExit(f"no reply to message {i} within 60 s")
                time.sleep(0.005)
            latencies.append(time.monotonic() - appended)
            time.sleep(0.2)
        burst_latencies = run_bursts(dovecot, user, smtp, args)
        service.stop.set()
        runner.join(15)
    finally:
        workers.close()
        smtp.controller.stop()
        dovecot.stop()
        shutil.rmtree(directory, ignore_errors=True)

    print(f"floor: Dovecot announces an APPEND to a bare IDLE connection in {describe(floor)}")
    print(f"APPEND → reply at the SMTP server, {len(latencies)} messages one at a time, "
          f"poll interval {args.poll_interval:.0f} s (only IDLE can be this quick):")
    print(f"  {describe(latencies)}")
    print("  targets: p50 < 2 s, p95 < 5 s")
    print(f"bursts: {args.bursts} × {args.burst_size} APPENDs {args.gap * 1000:.0f} ms apart, "
          f"APPEND → reply for each of {len(burst_latencies)} messages:")
    print(f"  {describe(burst_latencies)}")
    print(f"  a lost wake-up would show as ~{args.poll_interval:.0f} s; target: max < 30 s")


def describe(values: list[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"p50 {statistics.median(ordered):.2f} s   p95 {p95:.2f} s   "
            f"min {ordered[0]:.2f} s   max {ordered[-1]:.2f} s")


def idle_floor(dovecot, user, n: int = 5) -> list[float]:
    """APPEND on one connection → EXISTS seen by another in IDLE (Dovecot's own delay)."""
    from tests.support.worker_env import report_message

    watcher = dovecot.client(user)
    watcher.select_folder("INBOX")
    out = []
    try:
        for i in range(n):
            watcher.idle()
            appended = time.monotonic()
            with dovecot.client(user) as client:
                client.append("INBOX", report_message(10_000 + i, tag="floor"))
            while not any(b"EXISTS" in r for r in watcher.idle_check(timeout=30)):
                if time.monotonic() - appended > 30:
                    raise SystemExit("Dovecot never announced the APPEND")
            out.append(time.monotonic() - appended)
            watcher.idle_done()
        watcher.delete_messages(watcher.search("ALL"))
        watcher.expunge()
    finally:
        watcher.logout()
    return out


def run_bursts(dovecot, user, smtp, args) -> list[float]:
    """Bursts of APPENDs without waiting; each message's time until its reply arrived."""
    from tests.support.worker_env import parse, report_message

    appended: dict[str, float] = {}
    arrived: dict[str, float] = {}
    seen = len(smtp.messages)
    for burst in range(args.bursts):
        with dovecot.client(user) as client:
            for i in range(args.burst_size):
                n = 20_000 + burst * 1000 + i
                client.append("INBOX", report_message(n, tag="burst"))
                appended[f"burst{n}@goteborg.se"] = time.monotonic()
                time.sleep(args.gap)
        deadline = time.monotonic() + args.poll_interval + 30
        while len(arrived) < len(appended):
            if time.monotonic() > deadline:
                raise SystemExit(f"burst {burst}: {len(arrived)}/{len(appended)} answered")
            while seen < len(smtp.messages):
                reply = parse(smtp.messages[seen].raw)
                original = str(reply["In-Reply-To"] or "").strip("<> ")
                arrived.setdefault(original, time.monotonic())
                seen += 1
            time.sleep(0.005)
        time.sleep(1.0)
    return [arrived[mid] - appended[mid] for mid in appended]


if __name__ == "__main__":
    main()

"""How long from an APPEND to the reply arriving at the SMTP server, with IMAP IDLE?

Runs the service as ``avsteg run`` does (Service with the IDLE watcher, APScheduler poll job
with a long interval so only IDLE can explain a quick answer) against a private Dovecot and
aiosmtpd, on SQLite. APPENDs N report messages one at a time, waiting for each reply, and
prints p50/p95/max of APPEND → reply accepted by the SMTP server. Targets: p50 < 2 s, p95 < 5 s.

    python bench/idle_latency.py [--n 20]
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
        service.stop.set()
        runner.join(15)
    finally:
        workers.close()
        smtp.controller.stop()
        dovecot.stop()
        shutil.rmtree(directory, ignore_errors=True)

    ordered = sorted(latencies)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    print(f"APPEND → reply at the SMTP server, {len(latencies)} messages, "
          f"poll interval {args.poll_interval:.0f} s (only IDLE can be this quick):")
    print(f"  p50 {statistics.median(latencies):.2f} s   p95 {p95:.2f} s   "
          f"min {ordered[0]:.2f} s   max {ordered[-1]:.2f} s")
    print("  targets: p50 < 2 s, p95 < 5 s")


if __name__ == "__main__":
    main()

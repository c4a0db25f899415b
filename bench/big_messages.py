"""How much memory does the worker need for a mailbox of large messages?

APPENDs to a private Dovecot (the test fixture's DovecotServer, run outside pytest) N messages
of about 30 MB each (a filled report plus an attachment of random bytes) and one of 120 MB,
with ``policy.max_message_bytes`` at its default of 40 MB, and runs one poll of the worker
(``avsteg run --once --no-replies``) in a child process. In the same run, as the baseline, the
same worker polls a mailbox of N small report messages. Printed for each: the child's RSS once
the worker is built (imports, database, nothing fetched) and its peak RSS (``VmHWM`` of
/proc/self/status in the child; ``ru_maxrss`` would include the parent's peak at fork time).

The target: the peak with large messages is bounded by roughly the byte batch of one FETCH
(``imap.batch_bytes``, 32 MB) plus one message being handled, not by ``imap.batch_size`` × the
message size (50 × 30 MB) or by the 120 MB message, which is fetched by its headers only.
``--code DIR`` runs the worker from another checkout's ``avsteg`` package (e.g. ``git archive
main avsteg | tar -x -C DIR``) to measure the code before the change in the same way.

    python bench/big_messages.py                    # N = 20
    python bench/big_messages.py --n 10 --code /tmp/avsteg-main
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.*
from tests.support.servers import start_dovecot  # noqa: E402

MB = 1024 * 1024


def big_message(n: int, size: int) -> bytes:
    """A filled report and ``bilder.bin`` of random bytes: about ``size`` bytes as MIME."""
    from email.message import EmailMessage

    from tests.support.worker_env import report_docx, sender_of

    msg = EmailMessage()
    msg["From"] = sender_of(n)
    msg["To"] = "socialhansyn@ink.goteborg.se"
    msg["Subject"] = f"Avstegsrapport {n} med bilder"
    msg["Message-ID"] = f"<big{n}@goteborg.se>"
    msg["Date"] = "Thu, 05 Mar 2026 10:00:00 +0100"
    msg.set_content("Hej! Rapporten och bilderna bifogas.")
    msg.add_attachment(report_docx(n), maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document",
                       filename=f"Avstegsrapport {n}.docx")
    msg.add_attachment(os.urandom(size * 3 // 4), maintype="application",
                       subtype="octet-stream", filename="bilder.bin")  # base64: 4/3 larger
    return msg.as_bytes().replace(b"\n", b"\r\n")


def fill(server, messages) -> tuple[object, float, int]:
    """A fresh user whose INBOX holds ``messages`` (an iterable: built one at a time)."""
    user = server.add_user()
    started, total = time.perf_counter(), 0
    with server.client(user) as client:
        for raw in messages:
            client.append("INBOX", raw)
            total += len(raw)
    return user, time.perf_counter() - started, total


def _status_kb(field: str) -> int:
    """``VmHWM`` (peak RSS) or ``VmRSS`` of this process from /proc: unlike ``ru_maxrss``,
    which Linux carries over from the parent through fork and exec, VmHWM starts afresh with
    the new program, so the parent building 120 MB messages does not count."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # not Linux: the best there is


def worker_child() -> None:
    """In the child: one poll of the worker; prints a JSON line with its figures."""
    import avsteg
    from avsteg.bootstrap import build_worker, open_database
    from avsteg.config.settings import Settings

    settings = Settings()
    db = open_database(settings)
    worker = build_worker(settings, db, send_replies=False)
    before = _status_kb("VmHWM")
    started = time.perf_counter()
    report = worker.poll_once()
    seconds = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for h in report.handled:
        outcomes[h.outcome] = outcomes.get(h.outcome, 0) + 1
    worker.mailbox.close()
    db.dispose()
    print(json.dumps({
        "seconds": seconds, "outcomes": outcomes, "filed": report.filed,
        "before_kb": before, "peak_kb": _status_kb("VmHWM"),
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "code": str(Path(avsteg.__file__).parent),
    }))


def run_worker(server, user, workdir: Path, code: Path | None, extra: dict[str, str]) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    env.update({
        "AVSTEG_IMAP__HOST": server.host, "AVSTEG_IMAP__PORT": str(server.port),
        "AVSTEG_IMAP__SSL": "false", "AVSTEG_IMAP__USERNAME": user.name,
        "AVSTEG_IMAP__PASSWORD": user.password,
        "AVSTEG_IMAP__PROCESSED_FOLDER": "Avsteg/Behandlade",
        "AVSTEG_IMAP__REJECTED_FOLDER": "Avsteg/Avvisade",
        "AVSTEG_DATABASE__URL": f"sqlite:///{workdir}/big.sqlite",
        "AVSTEG_POLICY__ALLOWED_SENDER_DOMAINS": "goteborg.se",
        "AVSTEG_WORKER__SEND_REPLIES": "false",
        **{f"AVSTEG_{k}": v for k, v in extra.items()},
    })
    command = [sys.executable, str(Path(__file__).resolve()), "--child"]
    if code is not None:
        command += ["--code", str(code)]
    workdir.mkdir()
    result = subprocess.run(command, env=env, cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"worker child failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20, help="messages of each kind (default 20)")
    parser.add_argument("--size-mb", type=int, default=30, help="size of the large ones (30)")
    parser.add_argument("--huge-mb", type=int, default=120, help="the one over the limit (120)")
    parser.add_argument("--code", type=Path, help="run the worker from this checkout's avsteg")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        if args.code is not None:  # that checkout's avsteg before this one's on the path
            sys.path.insert(0, str(args.code.resolve()))
        worker_child()
        return
    from tests.support.worker_env import report_message

    server, directory = start_dovecot("avsteg-bench-big-")
    try:
        rows = []
        user, secs, total = fill(server, (report_message(i, tag="small") for i in range(args.n)))
        small = run_worker(server, user, directory / "small", args.code, {})
        rows.append((f"{args.n} small", total, secs, small))

        def large():
            for i in range(args.n):
                yield big_message(i, args.size_mb * MB)
            yield big_message(args.n, args.huge_mb * MB)

        user, secs, total = fill(server, large())
        big = run_worker(server, user, directory / "big", args.code, {})
        rows.append((f"{args.n}×{args.size_mb} MB + {args.huge_mb} MB", total, secs, big))
        print(f"worker code: {big['code']}")
        print(f"{'mailbox':<24} {'MB':>6} {'append s':>9} {'poll s':>7} {'RSS built MB':>13} "
              f"{'peak RSS MB':>12}  outcomes")
        for name, size, append_s, f in rows:
            print(f"{name:<24} {size / MB:>6.0f} {append_s:>9.1f} {f['seconds']:>7.1f} "
                  f"{f['before_kb'] / 1024:>13.0f} {f['peak_kb'] / 1024:>12.0f}  "
                  f"{f['outcomes']} filed={f['filed']}")
        extra = (big["peak_kb"] - small["peak_kb"]) / 1024
        print(f"peak above the small-message baseline: {extra:.0f} MB; the mailbox holds "
              f"{rows[1][1] / MB:.0f} MB")
        print("target: about imap.batch_bytes (32 MB) + one message being handled (its bytes, "
              "the stored copy and the MIME parse), not imap.batch_size × the message size, and "
              f"never the {args.huge_mb} MB message whole")
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()

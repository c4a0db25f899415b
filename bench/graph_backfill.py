"""How fast does a backfill through Microsoft Graph work off a full mailbox?

The Graph test server (tests/support/graph_server.py, in this process, over HTTPS with its own
CA) is filled with N filled report messages, twice (one server for each measurement), then:

(a) the floor: what any Graph worker must do — a token, one delta round (small pages), a
    ``$value`` GET per message and its attachment read (stdlib ``email``, bare ``zipfile`` +
    ``lxml``), and a ``move`` POST per message — with one httpx client, no database;
(b) the worker: ``build_worker(settings, db, send_replies=False).poll_once()`` on SQLite (what
    ``avsteg run --once --no-replies`` does with ``mailbox.transport = "graph"``), in a child
    process so its peak RSS can be read.

Prints messages/second of each, their ratio (target ≥ 0.5) and the worker's peak RSS (target
< 200 MB). Figures for people; nothing is asserted. The server shares the machine with both.

    python bench/graph_backfill.py            # N = 500
    python bench/graph_backfill.py --n 1000
"""
from __future__ import annotations

import argparse
import email
import email.policy
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.support.*


def filled_server(n: int):
    from tests.support.graph_server import start_graph_server
    from tests.support.worker_env import report_message

    server = start_graph_server(Path(tempfile.mkdtemp(prefix="avsteg-graph-bench-")))
    for i in range(n):
        server.deliver(report_message(i, tag="gb"), received=f"2026-01-01T00:00:{i % 60:02d}Z")
    return server


def floor(server) -> tuple[float, int]:
    """Seconds for the cheapest complete pass: delta, $value, read, move."""
    import httpx
    from lxml import etree

    app = server.app
    parts = 0
    prefer = [("Prefer", 'IdType="ImmutableId"')]
    started = time.perf_counter()
    with httpx.Client(verify=str(server.ca.ca_file), timeout=60) as http:
        token = http.post(f"{server.url}/{app.tenant_id}/oauth2/v2.0/token", data={
            "grant_type": "client_credentials", "client_id": app.client_id,
            "client_secret": app.client_secret, "scope": "https://graph.microsoft.com/.default",
        }).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        user = f"{server.base_url}/users/{app.mailbox}"
        target = http.post(f"{user}/mailFolders", json={"displayName": "Floor"}).json()["id"]
        url: str | None = f"{user}/mailFolders/inbox/messages/delta?$select=id,isRead,receivedDateTime"
        ids = []
        while url:
            page = http.get(url, headers=[*prefer, ("Prefer", "odata.maxpagesize=50")]).json()
            ids += [item["id"] for item in page["value"]]
            url = page.get("@odata.nextLink")
        for graph_id in ids:
            raw = http.get(f"{user}/messages/{graph_id}/$value", headers=prefer).content
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            for att in msg.iter_attachments():
                with zipfile.ZipFile(io.BytesIO(att.get_content())) as zf:
                    for name in zf.namelist():
                        if name.endswith(".xml"):
                            etree.fromstring(zf.read(name))
                            parts += 1
            http.post(f"{user}/messages/{graph_id}/move", json={"destinationId": target},
                      headers=prefer).raise_for_status()
    return time.perf_counter() - started, parts


def worker_child() -> None:
    from avsteg.bootstrap import build_worker, open_database
    from avsteg.config.settings import Settings

    settings = Settings()
    db = open_database(settings)
    worker = build_worker(settings, db, send_replies=False)
    started = time.perf_counter()
    report = worker.poll_once()
    seconds = time.perf_counter() - started
    outcomes: dict[str, int] = {}
    for h in report.handled:
        outcomes[h.outcome] = outcomes.get(h.outcome, 0) + 1
    worker.mailbox.close()
    db.dispose()
    print(json.dumps({"seconds": seconds, "outcomes": outcomes, "filed": report.filed}))


def run_worker(server, workdir: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVSTEG_")}
    env.update(server.environ())
    env.update({
        "AVSTEG_GRAPH__PROCESSED_FOLDER": "Avsteg/Registrerade",
        "AVSTEG_GRAPH__REJECTED_FOLDER": "Avsteg/Avvisade",
        "AVSTEG_DATABASE__URL": f"sqlite:///{workdir}/graph-backfill.sqlite",
        "AVSTEG_POLICY__ALLOWED_SENDER_DOMAINS": "goteborg.se",
        "AVSTEG_WORKER__SEND_REPLIES": "false",
    })
    result = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--child"], env=env,
                            cwd=workdir, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"worker child failed:\n{result.stderr[-4000:]}")
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["children_maxrss_kb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=500, help="messages (default 500)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        worker_child()
        return
    from tests.support.graph_server import stop_graph_server

    n = args.n
    floor_server, worker_server = filled_server(n), filled_server(n)
    try:
        floor_seconds, parts = floor(floor_server)
        workdir = Path(tempfile.mkdtemp(prefix="avsteg-graph-bench-work-"))
        figures = run_worker(worker_server, workdir)
    finally:
        stop_graph_server(floor_server)
        stop_graph_server(worker_server)
    floor_rate, worker_rate = n / floor_seconds, n / figures["seconds"]
    requests = len(worker_server.requests)
    print(f"{'N':>6} {'floor msg/s':>12} {'worker msg/s':>13} {'ratio':>6} {'peak RSS MB':>12}"
          f" {'requests':>9}  outcomes")
    print(f"{n:>6} {floor_rate:>12.0f} {worker_rate:>13.0f} {worker_rate / floor_rate:>6.2f} "
          f"{figures['children_maxrss_kb'] / 1024:>12.0f} {requests:>9}  {figures['outcomes']} "
          f"filed={figures['filed']} ({parts} XML parts in the floor)")
    print("targets: ratio ≥ 0.5, peak RSS < 200 MB")


if __name__ == "__main__":
    main()

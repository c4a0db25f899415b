"""A register built from real mail through the real pipeline, and the web app serving it live.

The register (what the browser tests look at) comes from ``avsteg.samples`` (the demo's week of
mail: Word and Excel reports, one with mistakes, a forward, a correction answering its receipt)
plus a few more reports and one from a domain outside the allowed ones. Every message goes
through :meth:`Pipeline.handle`, exactly as the worker would run it.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from avsteg.bootstrap import build_pipeline, build_web_app, open_database
from avsteg.config.settings import Settings, load_settings
from avsteg.ingest.folder_outbox import FolderOutbox
from avsteg.samples import correction, first_batch
from avsteg.services.delivery import deliver_due
from avsteg.storage import Database
from avsteg.web.accounts import add_account
from tests.support import emails
from tests.support.net import free_port, wait_for_port
from tests.support.require import missing, need
from tests.support.worker_env import report_docx, report_message

CASEWORKER = ("Anna Handläggare", "rätt-lösenord-1")
READER = ("Lars Läsare", "rätt-lösenord-2")
OUTSIDER_ID = "outsider-1@byggbolaget.example"
OUTSIDER = "kalle.anka@byggbolaget.example"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"]
EXTRA_REPORTS = 6  # beyond the samples, so Registret has more than one page (page_size 5)


@dataclass
class Register:
    settings: Settings
    db: Database
    outbox: Path
    today: dt.date


def web_settings(db_url: str, **web: object) -> Settings:
    settings = load_settings(database={"url": db_url},
                             web={"secret_key": "test-secret-" + "x" * 32, "page_size": 5, **web})
    settings.database.url = db_url
    return settings


def build_register(db_url: str, outbox: Path, **web: object) -> Register:
    """Run the sample week, a correction, more reports and an outsider's report through the pipeline."""
    settings = web_settings(db_url, **web)
    db = open_database(settings)
    pipeline = build_pipeline(settings, db)
    out = FolderOutbox(outbox)
    today = dt.date.today()
    receipt_id, first_ref = None, None
    for sample in first_batch(pipeline.schema, settings.policy.service_address, today):
        handled = pipeline.handle(sample.raw)
        for delivery in deliver_due(db, out, only=handled.reply_ids):
            if receipt_id is None and handled.references and delivery.path is not None:
                receipt = email.message_from_bytes(delivery.path.read_bytes(),
                                                   policy=email.policy.default)
                receipt_id = str(receipt["Message-ID"]).strip("<>")
                first_ref = handled.references[0]
    assert receipt_id and first_ref, "the first sample should have been registered and answered"
    fix = correction(pipeline.schema, settings.policy.service_address, today, receipt_id, first_ref)
    assert pipeline.handle(fix.raw).outcome == "new_version"
    for n in range(1, EXTRA_REPORTS + 1):
        assert pipeline.handle(report_message(n, tag="web")).outcome == "registered"
    # A real report from a domain outside the allowed ones: set aside, waiting in Att hantera.
    outsider = emails.simple(report_docx(99), "Avstegsrapport.docx", sender=OUTSIDER,
                             sender_name="Kalle Anka", subject="Avstegsrapport från Byggbolaget",
                             message_id=OUTSIDER_ID)
    assert pipeline.handle(outsider).outcome == "ignored"
    add_account(db, CASEWORKER[0], "handläggare", CASEWORKER[1])
    add_account(db, READER[0], "läsare", READER[1])
    return Register(settings, db, outbox, today)


class LiveServer:
    """uvicorn serving the app in a thread on a free loopback port."""

    def __init__(self, register: Register) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        app = build_web_app(register.settings, register.db)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning",
                                proxy_headers=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        wait_for_port(self.port, timeout=20, alive=self.thread.is_alive)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def chromium_path() -> str:
    """Debian's chromium; missing it fails in CI (AVSTEG_REQUIRE_SERVERS=1) and skips elsewhere."""
    if Path(CHROMIUM).exists():
        return CHROMIUM
    return need("chromium", "the browser tests drive Debian's chromium (apt-get install chromium)")


AXE_JS = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"


def axe_path() -> Path:
    if AXE_JS.exists():
        return AXE_JS
    missing(f"axe-core is not installed ({AXE_JS}); run: npm ci --prefix tests/web")


def serve(register: Register) -> Iterator[LiveServer]:
    with LiveServer(register) as server:
        yield server

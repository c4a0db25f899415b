"""``avsteg demo``: the whole job end to end on embedded defaults, nothing to configure.

Writes a week's sample mail into a local mailbox folder, runs every message through the real
pipeline into an SQLite file, writes the replies to a folder, answers a correction, exports the
register, and prints what happened.
"""
from __future__ import annotations

import argparse
import datetime as dt
import email
import email.policy
import secrets
import shutil
import sys
from pathlib import Path

from avsteg.bootstrap import build_outbox, build_pipeline, open_database
from avsteg.commands.common import settings_from
from avsteg.commands.list_reports import print_table, register_lines
from avsteg.domain.vocabulary import REGISTERING, REPLY_KINDS, outcome_word
from avsteg.register.export import build_xlsx
from avsteg.samples import correction, first_batch
from avsteg.services.delivery import deliver_due
from avsteg.storage.read_model.register import register_rows
from avsteg.web.accounts import add_account

HELP = "run the whole job on sample mail: SQLite, a local mailbox folder, replies to a folder"
MARKER = ".avsteg-demo"
DEMO_USER = "demo"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dir", default="avsteg-demo", help="where to put the demo's files (default ./avsteg-demo)")


def _fresh_dir(path: Path) -> None:
    """Start from an empty demo folder; never wipe a folder the demo did not make."""
    if path.exists():
        if not (path / MARKER).exists():
            raise SystemExit(f"avsteg demo: {path} exists and was not made by the demo; use --dir")
        shutil.rmtree(path)
    path.mkdir(parents=True)
    (path / MARKER).write_text("made by avsteg demo; safe to delete\n")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console


    console = Console(width=None if sys.stdout.isatty() else 120)
    base = Path(args.dir).resolve()
    _fresh_dir(base)
    inbox, outbox_dir = base / "inkorg", base / "svar"
    inbox.mkdir()
    db_path = base / "avsteg.sqlite"
    settings = settings_from(args, database={"url": f"sqlite:///{db_path}"})
    settings.database.url = f"sqlite:///{db_path}"  # the demo never touches a configured database
    db = open_database(settings)
    pipeline = build_pipeline(settings, db)
    outbox = build_outbox(settings, outbox_dir)
    today = dt.date.today()

    console.rule("[bold]avsteg demo")
    samples = first_batch(pipeline.schema, settings.policy.service_address, today)
    results = []

    def handle(sample):
        (inbox / sample.name).write_bytes(sample.raw)
        handled = pipeline.handle(sample.raw)
        reply = None
        for d in deliver_due(db, outbox, only=handled.reply_ids):
            reply = d.path
        results.append((sample, handled, reply))
        return handled, reply

    for sample in samples:
        handle(sample)

    # Anna answers her receipt with a corrected template.
    first = results[0]
    if first[2] is not None and first[1].references:
        receipt = email.message_from_bytes(first[2].read_bytes(), policy=email.policy.default)
        receipt_id = str(receipt["Message-ID"]).strip("<>")
        handle(correction(pipeline.schema, settings.policy.service_address, today, receipt_id,
                          first[1].references[0]))

    _print_messages(console, results, base)
    print_table(register_lines(db))
    export = _export(db, pipeline.schema, base)
    _print_example_replies(console, results)
    console.print(f"\n[bold]Filer[/bold] i {base}:")
    console.print(f"  inkorg/        {len(results)} e-postmeddelanden (.eml) som kom in")
    console.print(f"  svar/          {sum(1 for *_, r in results if r)} svar som skickades (.eml)")
    console.print("  avsteg.sqlite  registret (SQLite)")
    if export:
        console.print(f"  {export.name}  registret som Excel")
    console.print(f"\nProva: avsteg list --db sqlite:///{db_path}")
    _print_web_hint(console, db, db_path)
    db.dispose()
    return 0


def _print_web_hint(console, db, db_path: Path) -> None:
    """A demo account (handläggare) with a fresh password, and how to browse the register."""
    password = secrets.token_urlsafe(9)
    add_account(db, DEMO_USER, "handläggare", password)
    console.print("\n[bold]Registret i webbläsaren[/bold]:")
    console.print(f"  avsteg web --db sqlite:///{db_path}", markup=False, highlight=False)
    console.print(f"  öppna http://127.0.0.1:8080/ och logga in som {DEMO_USER} "
                  f"med lösenordet {password}", markup=False, highlight=False)


def _print_messages(console, results, base: Path) -> None:
    from rich.table import Table

    table = Table(title="Vad som hände med varje meddelande")
    for h in ("Meddelande", "Avsändare", "Utfall", "Referens", "Svar (i svar/)"):
        table.add_column(h)
    for sample, handled, reply in results:
        table.add_row(sample.story, handled.sender or "",
                      outcome_word(handled.outcome),
                      ", ".join(handled.references),
                      reply.name if reply else "inget svar")
    console.print(table)


def _print_example_replies(console, results) -> None:
    """Show the sender's view: the first receipt and the first error reply, in full."""
    shown = set()
    for _sample, handled, reply in results:
        kind = REPLY_KINDS["receipt"] if handled.outcome in REGISTERING else (
            REPLY_KINDS["error"] if handled.outcome == "rejected" else None)
        if reply is None or kind is None or kind in shown:
            continue
        shown.add(kind)
        msg = email.message_from_bytes(reply.read_bytes(), policy=email.policy.default)
        console.rule(f"{kind.capitalize()} till {msg['To']}: {msg['Subject']}")
        console.print(msg.get_content(), markup=False, highlight=False)


def _export(db, schema, base: Path) -> Path | None:
    path = base / "avstegsregister.xlsx"
    with db.unit_of_work(readonly=True) as s:
        path.write_bytes(build_xlsx(register_rows(s, schema=schema), schema))
    return path

"""``avsteg reprocess MESSAGE-ID``: run a stored message through the pipeline again.

For when the rules changed (a schema fix, a parser bug fixed) after a message was handled.

How it stays honest about history: the original row keeps its outcome and reason. A *copy* of
its raw bytes is stored as a new message row at a mailbox position of its own
(``avsteg:reprocess`` / ``reprocess`` / UIDVALIDITY = the original's id / UID = 1, 2, … per
run), because the ledger treats the same bytes without a position as the same message. The copy
is processed with ``Pipeline.process(..., reprocess=True)``, which skips the Message-ID
duplicate check (the copy shares the original's Message-ID by design) but keeps the same-file
check: a report already registered from this file is answered ``duplicate``, never registered
twice. A message that was rejected and is accepted now is registered.

Replies: by default the sender is answered only when the outcome changed for them — nothing of
the message was registered before and it is registered now; ``--no-replies`` answers nobody.
A message whose processing failed (never processed) is simply processed in place.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING

from avsteg.commands.common import add_db_argument, print_json, say, settings_from

if TYPE_CHECKING:
    from avsteg.ingest.pipeline import Handled

HELP = "run a stored message through the pipeline again (e.g. after a schema fix)"

REPROCESS_ACCOUNT = "avsteg:reprocess"
REPROCESS_FOLDER = "reprocess"
REGISTERING = ("registered", "new_version")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("message_id", metavar="MESSAGE-ID",
                   help="the message's Message-ID (with or without <>), or #ID for a stored row")
    add_db_argument(p)
    p.add_argument("--no-replies", action="store_true", help="answer nobody")
    p.add_argument("--outbox", metavar="DIR", help="write replies as .eml files here (default: SMTP)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")


@dataclass(frozen=True)
class Reprocessed:
    original_pk: int
    previous_outcome: str | None  # of the original row (None: it had never been processed)
    was_registered: bool  # some report version came from this message before
    handled: Handled


def find_original(s, message_id: str):
    """The first stored row of a message: ``#123`` (row id) or its Message-ID, <> optional."""
    from sqlalchemy import select

    from avsteg.storage.models import MessageRow

    text = message_id.strip()
    if text.startswith("#") and text[1:].isdigit():
        return s.get(MessageRow, int(text[1:]))
    bare = text.strip("<>")
    query = (
        select(MessageRow)
        .where(MessageRow.message_id_header.in_({bare, f"<{bare}>"}))
        .where((MessageRow.account.is_(None)) | (MessageRow.account != REPROCESS_ACCOUNT))
        .order_by(MessageRow.id)
        .limit(1)
    )
    return s.scalars(query).first()


def _registered_before(s, original) -> bool:
    """Whether any report version came from this message (the original or any copy)."""
    from sqlalchemy import or_, select

    from avsteg.storage.models import MessageRow, ReportVersion

    same = select(MessageRow.id).where(
        or_(MessageRow.id == original.id,
            (MessageRow.account == REPROCESS_ACCOUNT) & (MessageRow.uidvalidity == original.id))
    )
    query = select(ReportVersion.id).where(ReportVersion.message_id.in_(same)).limit(1)
    return s.execute(query).first() is not None


def reprocess(pipeline, message_id: str, *, replies: bool = True) -> Reprocessed:
    """Run the stored message ``message_id`` through ``pipeline`` again (see the module doc).

    Raises LookupError when no such message is stored.
    """
    from sqlalchemy import func, select

    from avsteg.domain.message import MailboxPosition
    from avsteg.ingest.pipeline import Pipeline
    from avsteg.storage import messages as message_store
    from avsteg.storage.models import MessageRow

    db = pipeline.db
    with db.unit_of_work() as s:
        original = find_original(s, message_id)
        if original is None:
            raise LookupError(f"no stored message {message_id}")
        previous, pk = original.outcome, original.id
        was_registered = _registered_before(s, original)
        copy_pk = None
        if original.state == "processed":
            runs = s.execute(
                select(func.count(MessageRow.id)).where(
                    MessageRow.account == REPROCESS_ACCOUNT, MessageRow.uidvalidity == pk)
            ).scalar_one()
            row, _fresh = message_store.store_raw_message(
                s, original.raw, message_id=original.message_id_header, sender=original.sender,
                subject=original.subject, received_at=original.received_at,
                position=MailboxPosition(
                    REPROCESS_ACCOUNT, REPROCESS_FOLDER, pk, int(runs) + 1),
                now=pipeline.clock(),
            )
            copy_pk = row.id

    # The sender hears again only when nothing was registered before and something is now.
    policy = pipeline.replies
    if not replies or was_registered:
        policy = dataclasses.replace(policy, send=False)
    else:
        policy = dataclasses.replace(policy, only_outcomes=REGISTERING)
    runner: Pipeline = dataclasses.replace(pipeline, replies=policy)
    if copy_pk is None:  # failed or never processed: an ordinary retry, in place
        handled = runner.process(pk)
    else:
        handled = runner.process(copy_pk, reprocess=True)
    return Reprocessed(pk, previous, was_registered, handled)


def run(args: argparse.Namespace) -> int:
    from avsteg.bootstrap import build_outbox, build_pipeline, open_database
    from avsteg.ingest.delivery import deliver_due

    settings = settings_from(args)
    db = open_database(settings, must_exist=True)
    try:
        pipeline = build_pipeline(settings, db, send_replies=not args.no_replies)
        try:
            result = reprocess(pipeline, args.message_id, replies=not args.no_replies)
        except LookupError:
            say(f"avsteg reprocess: inget meddelande med Message-ID {args.message_id} finns lagrat")
            return 1
        handled = result.handled
        reply_paths: list[str] = []
        if handled.reply_ids:
            outbox = build_outbox(settings, args.outbox)
            for delivery in deliver_due(db, outbox, only=handled.reply_ids):
                reply_paths.append(str(delivery.path) if delivery.path else delivery.status)
    finally:
        db.dispose()
    out = {
        **handled.summary(),
        "original": result.original_pk,
        "message": handled.message_pk,
        "previous_outcome": result.previous_outcome,
        "reason": handled.reason,
        "replies": reply_paths,
    }
    if args.json:
        print_json(out)
    else:
        from avsteg.commands.show import OUTCOMES

        refs = ", ".join(handled.references) or "–"
        before = OUTCOMES.get(result.previous_outcome or "", result.previous_outcome)
        now = OUTCOMES.get(handled.outcome, handled.outcome)
        reason = f" ({handled.reason})" if handled.reason and handled.reason != handled.outcome \
            else ""
        say(f"Meddelande #{result.original_pk} ({handled.message_id}): "
            f"tidigare {before or 'ej behandlat'}, nu {now}{reason}; referenser: {refs}; "
            f"svar: {len(reply_paths)}")
    return 1 if handled.outcome == "failed" else 0

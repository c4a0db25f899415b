"""Handling one message, one named step at a time.

    store_raw → read → check_duplicate → triage → parse_templates → register → compose_reply
    → record_outcome                         (one transaction)       then: deliver, file away

The raw bytes are committed on their own before anything else is tried, so nothing a sender
sent can be lost. Everything after that is one unit of work: a report is registered, its reply
queued in the outbox and the message marked processed together, or not at all. A failure of
ours (a bug, a database that is down) rolls that back, counts the attempt and leaves the message
to be retried; nobody is ever answered with an error of ours.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage

from avsteg.domain.errors import Unavailable
from avsteg.domain.message import Attachment, InboundMessage, MailboxPosition
from avsteg.domain.replies.addresses import message_bytes
from avsteg.domain.replies.sender import (
    Outcome,
    RegisteredReport,
    RejectedFile,
    compose_help_reply,
    compose_reply,
)
from avsteg.domain.report import ParsedReport, Problem
from avsteg.domain.schema import Schema
from avsteg.domain.triage import MACHINE_REASONS, Policy, Triage, triage
from avsteg.parsers.mail.reader import read_message
from avsteg.parsers.template import looks_like_template, parse_attachment
from avsteg.services import admission
from avsteg.services.handled import Handled, ReplyPolicy
from avsteg.services.help import BlankTemplates, help_problems
from avsteg.services.records import record_failure, record_headers
from avsteg.storage import messages as message_store
from avsteg.storage import outbox as reply_store
from avsteg.storage import reports as report_store
from avsteg.storage.database import Database
from avsteg.storage.history import set_aside
from avsteg.storage.models import MessageRow, Report

log = logging.getLogger("avsteg.pipeline")

Converter = Callable[[bytes, str], "bytes | None"]


@dataclass
class Pipeline:
    """The pure core wired to the database; adapters (mailbox, outbox) stay outside."""

    db: Database
    schema: Schema
    policy: Policy
    replies: ReplyPolicy
    clock: Callable[[], dt.datetime] = field(
        default=lambda: dt.datetime.now(dt.UTC)
    )
    convert: Converter | None = None
    max_attempts: int = 5
    max_message_bytes: int = 40 * 1024 * 1024
    max_attachment_bytes: int = 25 * 1024 * 1024
    _blanks: BlankTemplates = field(default_factory=BlankTemplates, init=False, repr=False)

    # -- the whole message -------------------------------------------------------------------
    def handle(
        self,
        raw: bytes,
        *,
        position: MailboxPosition | None = None,
        received_at: dt.datetime | None = None,
        cut_size: int | None = None,
    ) -> Handled:
        """``cut_size``: ``raw`` is only the headers of a message this large (over
        ``max_message_bytes``, left whole in the mailbox): stored as such, answered as too large."""
        message_pk, _fresh = self.store_raw(raw, position=position, received_at=received_at,
                                            cut_size=cut_size)
        return self.process(message_pk)

    def store_raw(
        self, raw: bytes, *, position: MailboxPosition | None = None,
        received_at: dt.datetime | None = None, cut_size: int | None = None,
    ) -> tuple[int, bool]:
        """Step 1, its own transaction, before anything reads the message: the bytes, their
        sha256 and where they came from. Nothing in it depends on the content, so no message
        can fail it; the header columns are filled in when the message is read (``process``)."""
        with self.db.unit_of_work() as s:
            row, fresh = message_store.store_raw_message(
                s, raw, message_id=None, sender=None, subject=None, received_at=received_at,
                position=position, now=self.clock(), cut_size=cut_size,
            )
            return row.id, fresh

    def read(self, raw: bytes, size: int | None = None) -> InboundMessage:
        """The one parse of a message, bounded by the size settings (``policy.max_*_bytes``);
        ``size`` that of the whole message when ``raw`` holds its headers only."""
        return read_message(raw, max_message_bytes=self.max_message_bytes,
                            max_attachment_bytes=self.max_attachment_bytes, size=size)

    def process(self, message_pk: int, *, reprocess: bool = False) -> Handled:
        """Steps 2–8 in one unit of work.

        ``reprocess``: the row is a stored copy of a message handled before (``avsteg
        reprocess``), so its Message-ID is known by design and must not make it a duplicate.
        The same-file check still applies: a report already registered is not registered twice.

        A failure is one of two kinds. The database (or a server) being unavailable has nothing
        to do with this message: :class:`Unavailable` is raised, the poll stops, the message is
        tried again later and nothing is set aside. Anything else (a value the database refuses,
        a bug on this message's content) is tied to the message: it is counted, set aside as
        ``unreadable`` for a person, and the worker goes on with the next message. It is still
        retried (up to ``max_attempts``), since a fix of ours may make it readable; success
        takes it off the pending list.
        """
        read: list[InboundMessage] = []  # the parsed message, for the failure record
        try:
            with self.db.unit_of_work() as s:
                row = message_store.get_message(s, message_pk)
                if row is None:
                    raise LookupError(f"message {message_pk} vanished")
                if row.state == "processed":
                    return self._already(s, row)
                msg = self.read(row.raw, size=row.size if row.cut else None)
                read.append(msg)
                return self._process(s, row, msg, reprocess=reprocess)
        except Unavailable as exc:
            log.warning("message %s not handled, the database is unavailable: %s", message_pk, exc)
            raise
        except Exception as exc:
            log.exception("message %s failed; set aside as unreadable, retried later", message_pk)
            error = f"{type(exc).__name__}: {exc}"
            parsed = read[0] if read else None
            record_failure(self.db, message_pk, error, parsed)
            return Handled(message_pk, parsed.message_id if parsed else None, "failed", error,
                           sender=parsed.sender if parsed else None)

    def _already(self, s, row: MessageRow) -> Handled:
        """Seen before (same mailbox position, or the same bytes given again): say so, no reply.

        Mail that was not ours stays not ours (``ignored``), so the mailbox still leaves it
        where it is instead of filing it away as processed; a report names its references.
        """
        outcome = "ignored" if row.outcome == "ignored" else "duplicate"
        return Handled(
            row.id, row.message_id_header, outcome, "already-processed",
            references=_earlier_references(s, row.message_id_header), sender=row.sender,
        )

    def _process(self, s, row: MessageRow, msg: InboundMessage, *, reprocess: bool = False) -> Handled:
        now = self.clock()
        record_headers(row, msg, self.clock())
        too_old = not reprocess and admission.older_than_window(row, self.replies.reply_window)

        if not reprocess:
            # Seen before (a resend, or a rescan after UIDVALIDITY changed): no second reply.
            # Without a Message-ID, the same bytes (a copy put back by a person) are the same
            # message. Mail that was not ours stays not ours: the mailbox leaves it where it is.
            earlier = message_store.find_processed_duplicate(s, row)
            if earlier is not None:
                outcome = "ignored" if earlier.outcome == "ignored" else "duplicate"
                reason = "same-message-id" if msg.message_id else "same-bytes"
                # The references of what the first copy registered (spec 4's JSON), no reply.
                return self._finish(s, row, msg, outcome, reason, now=now,
                                    references=_earlier_references(s, msg.message_id))

        verdict = triage(msg, admission.policy_now(s, self.policy), self._is_template)
        if too_old:  # handled as usual, never answered (spec 3, first start)
            verdict = dataclasses.replace(verdict, reply_allowed=False)
        self._record_attachments(s, row, msg)
        # Too large to read: stored raw all the same, and listed for a person (spec 3), unless
        # a machine sent it. The sender hears why when the message says it is a report.
        pending = verdict.set_aside
        if (row.size or 0) > self.max_message_bytes and verdict.reason not in MACHINE_REASONS:
            pending = pending or "unreadable"
        if verdict.kind == "not_ours":
            reason = admission.set_aside_if_report(s, row, msg, verdict)
            return self._finish(s, row, msg, "ignored", reason, now=now, pending=pending)
        if verdict.kind == "needs_help":
            reply = None
            # The same problems the help reply lists, also as the outcome's errors (ingest
            # --json, the message's record): "rejected" always says why.
            problems = help_problems(msg, self.schema, today=self.clock().date())
            errors = tuple(Problem(field=None, deviation=None, label=None, message=p)
                           for p in problems)
            message_store.record_problems(s, row, errors, severity="error")
            if self._may_reply(s, msg, verdict, now):
                reply = compose_help_reply(
                    msg,
                    problems=problems,
                    schema=self.schema,
                    service_address=self.replies.service_address,
                    service_name=self.replies.service_name,
                    now=now,
                    blank_templates=self._blanks.get(self.schema),
                )
            return self._finish(s, row, msg, "rejected", verdict.reason, reply=reply, kind="help",
                                too_old=too_old, errors=errors, now=now, pending=pending)

        return self._register_templates(s, row, msg, verdict, now, too_old=too_old)

    # -- the report path ---------------------------------------------------------------------
    def _register_templates(self, s, row: MessageRow, msg: InboundMessage, verdict: Triage, now,
                            *, too_old: bool = False):
        registered: list[RegisteredReport] = []
        rejected: list[RejectedFile] = []
        outcomes: list[str] = []
        target = self._correction_target(s, msg)
        year = (row.received_at or now).astimezone(dt.UTC).year  # AVS-<year received>-NNNN

        for attachment in verdict.templates:
            parsed = self._parse(attachment, now)
            if parsed.status == "not_a_report":
                continue
            if not parsed.accepted:
                rejected.append(RejectedFile(attachment.path, parsed.errors, parsed.warnings))
                message_store.record_problems(s, row, parsed.errors, severity="error")
                continue
            same_file = report_store.find_version_by_attachment_sha(s, attachment.sha256)
            if same_file is not None:
                report = same_file.report
                registered.append(self._registered(report, same_file.version, "duplicate", attachment, parsed))
                outcomes.append("duplicate")
                continue
            if target is not None:
                version = report_store.add_version(
                    s, target, message=row, parsed=parsed, attachment_sha256=attachment.sha256, now=now
                )
                message_store.record_problems(s, row, parsed.warnings, severity="warning", version=version)
                registered.append(self._registered(target, version.version, "new_version", attachment, parsed))
                outcomes.append("new_version")
                target = None  # one correction per message; further templates are new reports
                continue
            report = report_store.register_report(
                s, message=row, parsed=parsed, attachment_sha256=attachment.sha256, year=year, now=now
            )
            version = report_store.current_version(s, report)
            message_store.record_problems(s, row, parsed.warnings, severity="warning", version=version)
            registered.append(self._registered(report, 1, "registered", attachment, parsed))
            outcomes.append("registered")

        if not registered and not rejected:
            # Every "template" turned out to be some other document: not ours after all.
            return self._finish(s, row, msg, "ignored", "no-template-content", now=now)

        outcome = _overall(outcomes)
        reason = ", ".join(sorted(set(outcomes))) or "all-rejected"
        reply = None
        registers = any(o in ("registered", "new_version") for o in outcomes)
        if self._may_reply(s, msg, verdict, now, registers=registers):
            reply = compose_reply(
                msg,
                registered=registered,
                rejected=rejected,
                schema=self.schema,
                service_address=self.replies.service_address,
                service_name=self.replies.service_name,
                now=now,
            )
        kind = "receipt" if registered else "error"
        refs = tuple(dict.fromkeys(r.reference for r in registered))
        errors = tuple(p for f in rejected for p in f.errors)
        report_row = None
        if registered:
            report_row = report_store.find_report_by_reference(s, registered[0].reference)
        return self._finish(
            s, row, msg, outcome, reason, reply=reply, kind=kind, references=refs,
            errors=errors, report=report_row, now=now, too_old=too_old,
        )

    def _registered(self, report: Report, version: int, outcome: Outcome, attachment: Attachment,
                    parsed: ParsedReport) -> RegisteredReport:
        return RegisteredReport(
            reference=report.reference,
            version=version,
            outcome=outcome,
            filename=attachment.path,
            report=parsed.report,
            deviations=parsed.deviations,
            warnings=parsed.warnings,
        )

    def _correction_target(self, s, msg: InboundMessage) -> Report | None:
        """A report this message corrects: it answers our receipt, or names the reference."""
        thread = [*msg.in_reply_to, *msg.references]
        if thread:
            report = report_store.find_report_for_thread(s, thread)
            if report is not None:
                return report
        for reference in report_store.references_in(msg.subject):
            report = report_store.find_report_by_reference(s, reference)
            if report is not None:
                return report
        return None

    def _parse(self, attachment: Attachment, now: dt.datetime) -> ParsedReport:
        parsed = parse_attachment(
            attachment.path, attachment.data, self.schema, today=now.date(), convert=self.convert
        )
        if parsed.crashed:
            # parse_attachment never raises; a crash inside it is a bug of ours, and the sender
            # must not be told to fix anything (spec 3): fail the message so it is retried.
            raise RuntimeError(f"the parser crashed on {attachment.path!r} (see the log)")
        return parsed

    def _is_template(self, attachment: Attachment) -> bool:
        return looks_like_template(attachment.filename, attachment.data, self.schema)

    def _record_attachments(self, s, row: MessageRow, msg: InboundMessage) -> None:
        for a in msg.attachments:
            message_store.add_attachment(
                s, row, filename=a.filename, content_type=a.content_type, size=len(a.data),
                sha256=a.sha256, origin=a.origin or None,
            )

    # -- replies ---------------------------------------------------------------------------
    def _may_reply(self, s, msg: InboundMessage, verdict: Triage, now: dt.datetime, *,
                   registers: bool = False) -> bool:
        """Whether to answer: never where triage forbids it; a receipt for something that
        entered the register always; anything else (errors, help, "already registered") at most
        ``per_sender_per_hour`` times an hour per sender, which is what stops a mail loop."""
        if not self.replies.send or not verdict.reply_allowed:
            return False
        if registers:
            return True
        since = now - dt.timedelta(hours=1)
        recent = reply_store.unproductive_replies_to(s, msg.reply_address, since=since)
        if recent >= self.replies.per_sender_per_hour:
            log.warning("rate limit: no reply to %s (%d in the last hour)", msg.reply_address, recent)
            return False
        return True

    def _finish(
        self,
        s,
        row: MessageRow,
        msg: InboundMessage,
        outcome: str,
        reason: str,
        *,
        reply: EmailMessage | None = None,
        kind: str = "receipt",
        references: Sequence[str] = (),
        errors: Sequence[Problem] = (),
        report: Report | None = None,
        now: dt.datetime,
        too_old: bool = False,
        pending: str | None = None,
    ) -> Handled:
        reply_ids: tuple[int, ...] = ()
        if pending is not None:
            set_aside(s, row, pending)
        elif row.pending == "unreadable":
            row.pending = None  # an earlier attempt failed; this one read it: the cause is gone
        only = self.replies.only_outcomes
        if reply is not None and only is not None and outcome not in only:
            reply = None
        if reply is not None:
            queued = reply_store.queue_reply(
                s, message=row, report=report, kind=kind, recipient=msg.reply_address,
                subject=str(reply["Subject"]), message_id_header=str(reply["Message-ID"]),
                raw=message_bytes(reply), now=now,
            )
            reply_ids = (queued.id,)
        if too_old and outcome in admission.ANSWERED_OUTCOMES:
            reason = f"{reason}; {admission.TOO_OLD}"
        message_store.mark_processed(s, row, outcome=outcome, reason=reason, now=now)
        return Handled(
            row.id, msg.message_id, outcome, reason, tuple(references), tuple(errors), reply_ids,
            sender=msg.sender,
        )


def _earlier_references(s, message_id: str | None) -> tuple[str, ...]:
    """References of the reports registered from earlier copies of the message ``message_id``."""
    if not message_id:
        return ()
    return tuple(r.reference for r in report_store.find_reports_for_thread(s, [message_id]))


def _overall(outcomes: Sequence[str]) -> str:
    """One outcome for a message that may carry several templates (the strongest wins)."""
    for candidate in ("registered", "new_version", "duplicate"):
        if candidate in outcomes:
            return candidate
    return "rejected"

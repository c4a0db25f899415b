"""The mailbox worker: find new mail, run it through the pipeline, answer, file away.

One poll, in order, under a database lease so that two workers never work one folder at once:

    open folder (UIDVALIDITY) → ledger: what do we already know here? → file away what was
    processed but not moved (a crash after the commit) → fetch new messages with BODY.PEEK[]
    in batches bounded by bytes (a message over the size limit: its headers, marked cut)
    → pipeline.handle each (commit) → deliver its reply → file it away
    → retry messages that failed for a reason of ours → deliver replies that are due

The order is what makes a ``kill -9`` harmless: the raw message is committed before it is
parsed; the registration, the queued reply and the "processed" mark are one commit; the reply is
delivered after that commit and marked sent after the server accepted it; the message is moved
only after all that. A restart redoes whatever step was cut short and nothing else. The one
window for a double reply is between the SMTP server's acceptance and the "sent" commit.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from avsteg.domain.clock import SYSTEM_CLOCK, Clock
from avsteg.domain.errors import LoginRefusedError, TransientError
from avsteg.ingest.ports import Mailbox, Outbox
from avsteg.services.delivery import DEFAULT_CLAIM_SECONDS, OutboxSender
from avsteg.services.handled import Handled, filing_for
from avsteg.services.holders import dead_local_holder, holder_name
from avsteg.services.pipeline import Pipeline
from avsteg.storage import ledger
from avsteg.storage import messages as message_store
from avsteg.storage.database import Database

log = logging.getLogger("avsteg.worker")


@dataclass
class PollReport:
    seen: int = 0  # messages in the folder that we looked at
    handled: list[Handled] = field(default_factory=list)
    filed: int = 0
    retried: int = 0
    delivered: int = 0
    skipped_lease: bool = False
    stopped: bool = False


@dataclass
class Worker:
    pipeline: Pipeline
    db: Database
    mailbox: Mailbox
    outbox: Outbox | None  # None: answer nobody (backfill)
    account: str
    folder: str
    lease_seconds: float = 120.0
    backoff_seconds: float = 30.0
    max_reply_attempts: int = 8
    stop: threading.Event = field(default_factory=threading.Event)
    holder: str = field(default_factory=holder_name)
    on_sent: Callable[[bytes], None] | None = None
    clock: Clock = SYSTEM_CLOCK  # leases, poll stamps and reply backoff read the time here
    retry_seconds: float = 5.0  # the outbox's own schedule during an SMTP outage
    claim_seconds: float = DEFAULT_CLAIM_SECONDS  # a reply being sent is nobody else's this long
    sender: OutboxSender | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.outbox is not None:
            self.sender = OutboxSender(
                self.db, self.outbox, backoff_seconds=self.backoff_seconds,
                max_attempts=self.max_reply_attempts, on_sent=self.on_sent,
                clock=self.clock.now, monotonic=self.clock.monotonic,
                claim_seconds=max(self.claim_seconds, self.lease_seconds),
                retry_seconds=self.retry_seconds, holder=self.holder,
            )

    @property
    def lease_name(self) -> str:
        return f"mailbox:{self.account}/{self.folder}"

    # -- one poll ----------------------------------------------------------------------------
    def poll_once(self, progress: Callable[[int, int], None] | None = None) -> PollReport:
        """Work off everything new in the folder; safe to call again at any time."""
        report = PollReport()
        if not self._lease(renew=False):
            log.info("another worker holds %s; skipping this poll", self.lease_name)
            report.skipped_lease = True
            return report
        try:
            self._poll(report, progress)
            with self.db.unit_of_work() as s:
                ledger.record_poll(s, self.account, self.folder, now=self.clock.now())
        except (TransientError, LoginRefusedError) as exc:
            # Recorded for ``avsteg status``: a refused login makes ``status --check`` fail.
            # The caller says it (the service's backoff line, or run --once's one line).
            try:
                with self.db.unit_of_work() as s:
                    ledger.record_poll(s, self.account, self.folder, error=str(exc), now=self.clock.now())
            except TransientError:
                pass
            raise
        finally:
            try:
                with self.db.unit_of_work() as s:
                    ledger.release_lease(s, self.lease_name, self.holder)
            except TransientError:
                pass  # it expires by itself
        return report

    def _poll(self, report: PollReport, progress) -> None:
        uidvalidity = self.mailbox.open()
        present = self.mailbox.uids()
        report.seen = len(present)
        known = self._known(uidvalidity)

        # A crash after the commit and before the move: file away now, nothing else.
        for uid in present:
            outcome = known.get(uid)
            if outcome is not None and outcome[0] == "processed":
                target = filing_for(outcome[1])
                if target is not None:
                    self.mailbox.file_away(uid, target)
                    report.filed += 1

        limit = self.pipeline.max_attempts
        new = [uid for uid in present if uid not in known
               or (known[uid][0] != "processed" and known[uid][2] < limit)]
        done = 0
        for fetched in self.mailbox.fetch(new):
            if self.stop.is_set():
                report.stopped = True
                break
            self._lease(renew=True)
            handled = self.pipeline.handle(
                fetched.raw, position=fetched.position, received_at=fetched.arrived_at,
                cut_size=None if fetched.complete  # over the limit, whatever the server said:
                else max(fetched.size or 0, self.pipeline.max_message_bytes + 1))
            report.handled.append(handled)
            _log_handled(handled, fetched.position.uid)
            if handled.outcome != "failed":
                report.delivered += self._deliver(handled.reply_ids)
                if handled.filed_as is not None:
                    self.mailbox.file_away(fetched.position.uid, handled.filed_as)
                    report.filed += 1
            done += 1
            if progress is not None:
                progress(done, len(new))

        if not self.stop.is_set():
            report.retried += self._retry_failed({h.message_pk for h in report.handled})
            report.delivered += self._deliver(None)

    def _known(self, uidvalidity: int) -> dict[int, tuple[str, str | None, int]]:
        """UID → (state, outcome, attempts) of messages of this folder we have stored already."""
        with self.db.unit_of_work(readonly=True) as s:
            return message_store.positions_in_folder(s, self.account, self.folder, uidvalidity)

    def _retry_failed(self, done: set[int]) -> int:
        """Stored messages that failed for a reason of ours and were not in this poll's batch
        (e.g. moved by a person meanwhile, or given to ``avsteg ingest``), tried again."""
        with self.db.unit_of_work(readonly=True) as s:
            pending = [
                (m.id, m.uid, m.account, m.folder)
                for m in message_store.pending_messages(s, max_attempts=self.pipeline.max_attempts)
                if m.id not in done
                and m.reprocessed_from is None  # a copy belongs to ``avsteg reprocess``
                and (m.account is None or (m.account, m.folder) == (self.account, self.folder))
            ]
        count = 0
        for pk, uid, account, folder in pending:
            if self.stop.is_set():
                break
            self._lease(renew=True)  # a slow retry must not let the lease run out under us
            handled = self.pipeline.process(pk)
            _log_handled(handled, uid)
            count += 1
            if handled.outcome == "failed":
                continue
            self._deliver(handled.reply_ids)
            if (
                handled.filed_as
                and account == self.account
                and folder == self.folder
                and uid is not None
            ):
                try:
                    self.mailbox.file_away(uid, handled.filed_as)
                except TransientError as exc:
                    log.warning("could not file away uid %s: %s", uid, exc)
        return count

    def _deliver(self, reply_ids: Iterable[int] | None) -> int:
        """Send these replies (None: every due one), each claimed at send time, the lease
        renewed before each (a slow SMTP server must not let it expire under us)."""
        if self.sender is None:
            return 0
        if reply_ids is not None:
            reply_ids = list(reply_ids)
            if not reply_ids:
                return 0
        results = self.sender.flush(reply_ids, keep_going=lambda: self._lease(renew=True))
        return sum(1 for r in results if r.status == "sent")

    def flush_outbox(self) -> int:
        """Replies due (or a probe during an SMTP outage) between polls: the outbox keeps its
        own short schedule, so replies leave within seconds of an outage's end. Needs no lease:
        every reply is claimed row by row."""
        if self.sender is None:
            return 0
        return sum(1 for r in self.sender.flush(None) if r.status == "sent")

    def _lease(self, *, renew: bool) -> bool:
        with self.db.unit_of_work() as s:
            if renew:
                ok = ledger.renew_lease(s, self.lease_name, self.holder, ttl_seconds=self.lease_seconds,
                                        now=self.clock.now())
                if not ok:
                    raise TransientError(f"lost the lease {self.lease_name}")
                return True
            if ledger.acquire_lease(s, self.lease_name, self.holder,
                                    ttl_seconds=self.lease_seconds, now=self.clock.now()):
                return True
            # A worker on this machine that died without releasing (kill -9, OOM) would block
            # every restart until its lease expires: take over a lease whose process is gone.
            stale = ledger.lease_holder(s, self.lease_name, now=self.clock.now())
            if stale is None or not dead_local_holder(stale):
                return False
            log.warning("taking over %s from %s, which is no longer running", self.lease_name, stale)
            ledger.release_lease(s, self.lease_name, stale)
            return ledger.acquire_lease(s, self.lease_name, self.holder,
                                        ttl_seconds=self.lease_seconds, now=self.clock.now())


def _log_handled(handled: Handled, uid: int | None) -> None:
    log.info(
        "message %s: %s (%s)",
        handled.message_id or f"#{handled.message_pk}",
        handled.outcome,
        handled.reason,
        extra={
            "event": "message",
            "uid": uid,
            "message_pk": handled.message_pk,
            "message_id": handled.message_id,
            "outcome": handled.outcome,
            "reason": handled.reason,
            "references": list(handled.references),
            "sender": handled.sender,
            "replies": len(handled.reply_ids),
        },
    )

"""Delivering queued replies: the outbox table → an Outbox adapter (SMTP or a folder).

Exactly one delivery per reply, with any number of workers: each reply is *claimed* at the moment
it is sent (``storage.outbox.claim_reply``: a lease ``reply:<id>``, and the reply's state
re-checked under it, committed before the SMTP conversation), never sent from a list selected
earlier. A reply is marked sent only after the server accepted it, in the transaction that ends
the claim. The one window for a double reply is therefore between the SMTP server's "250 OK" and
that commit: a crash exactly there sends the reply again (at once when a worker on the same host
sees the claim's holder is dead, else when the claim expires). Every other crash either sends
nothing yet or has recorded it.

An SMTP outage. The first reply refused with a temporary error counts an attempt and backs off
as before; the sender then stops trying the others (nobody hammers a server that is down, and
replies are not charged attempts for the server's trouble) and *probes* instead: every few
seconds (``smtp.retry_seconds``, doubling up to ``PROBE_MAX_FACTOR`` times that: 5 s → 15 s) it tries one
reply waiting in backoff, without counting an attempt. The first probe that goes through ends
the outage: every reply it had put in backoff is due at once, so queued replies leave within
seconds of the server's return, not at their next backoff time or the next poll. A waiting reply
whose own backoff time has come is tried as a counted attempt, so one the server keeps refusing
is still given up after ``max_attempts``.
"""
from __future__ import annotations

import datetime as dt
import email
import email.policy
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path

from avsteg.domain.clock import SYSTEM_CLOCK, Clock
from avsteg.domain.errors import LoginRefusedError, TransientError
from avsteg.ingest.ports import Outbox, PermanentDeliveryError, TemporaryDeliveryError
from avsteg.services.holders import dead_local_holder, holder_name
from avsteg.storage import outbox as reply_store
from avsteg.storage.database import Database
from avsteg.storage.models import ReplyRow

log = logging.getLogger("avsteg.delivery")

PROBE_MAX_FACTOR = 3
DEFAULT_CLAIM_SECONDS = 600.0


@dataclass(frozen=True)
class Delivery:
    reply_id: int
    status: str  # sent | queued | failed
    path: Path | None = None  # where a folder outbox wrote it
    error: str | None = None


def as_email(raw: bytes) -> EmailMessage:
    return email.message_from_bytes(raw, policy=email.policy.SMTP)  # type: ignore[return-value]


@dataclass
class OutboxSender:
    """Sends due replies one claimed row at a time; remembers an SMTP outage and probes it."""

    db: Database
    outbox: Outbox
    backoff_seconds: float = 30.0
    max_attempts: int = 8
    on_sent: Callable[[bytes], None] | None = None
    clock: Callable[[], dt.datetime] = SYSTEM_CLOCK.now
    claim_seconds: float = DEFAULT_CLAIM_SECONDS  # longer than any one SMTP conversation
    retry_seconds: float = 5.0  # first probe during an outage; then doubling
    holder: str = field(default_factory=holder_name)
    monotonic: Callable[[], float] = SYSTEM_CLOCK.monotonic
    # reply id → the next_attempt_at we wrote after a temporary failure (probe candidates)
    _waiting: dict[int, dt.datetime] = field(default_factory=dict, init=False)
    _trouble: bool = field(default=False, init=False)
    _next_probe: float = field(default=0.0, init=False)
    _probe_delay: float = field(default=0.0, init=False)

    def flush(self, only: Sequence[int] | None = None, *, limit: int = 100,
              keep_going: Callable[[], object] | None = None) -> list[Delivery]:
        """Send what is due (or just ``only``); ``keep_going`` runs before each reply (the
        worker renews its lease there, and stops by raising when it lost it)."""
        results: list[Delivery] = []
        if self._trouble:
            proceed, probe = self._probe(keep_going)
            if probe is not None:
                results.append(probe)
            if not proceed:
                return results
        if only is not None:
            ids = list(only)
        else:
            with self.db.unit_of_work(readonly=True) as s:
                ids = reply_store.due_reply_ids(s, self.clock(), limit=limit)
        for reply_id in ids:
            if keep_going is not None:
                keep_going()
            delivery = self._send(reply_id)
            if delivery is None:
                continue  # not due, sent or claimed by another worker meanwhile
            results.append(delivery)
            if delivery.status == "queued":
                self._outage_began()
                break  # the others wait for the probe instead of each paying an attempt
        return results

    # -- one reply ---------------------------------------------------------------------------
    def _send(self, reply_id: int, *, expected: dt.datetime | None = None,
              counted: bool = False) -> Delivery | None:
        """One claimed reply. ``expected``: a reply waiting in backoff (its next_attempt_at as we
        wrote it); a failure then counts as an attempt only when ``counted`` (it was due)."""
        with self.db.unit_of_work() as s:
            raw = reply_store.claim_reply(
                s, reply_id, holder=self.holder, now=self.clock(), hold_seconds=self.claim_seconds,
                expected_next_attempt=expected, take_over=dead_local_holder,
            )
        if raw is None:
            return None
        try:
            path = self.outbox.deliver(as_email(raw))
        except LoginRefusedError:
            # Our credentials, not this reply: it stays queued with its attempts uncounted, and
            # the rest of the batch is not tried (each would be another refused login).
            with self.db.unit_of_work() as s:
                reply_store.release_reply(s, reply_id, self.holder)
            raise
        except TemporaryDeliveryError as exc:
            next_at: dt.datetime | None
            with self.db.unit_of_work() as s:
                row = s.get(ReplyRow, reply_id)
                assert row is not None
                if expected is not None and not counted:  # a probe: no attempt counted
                    row.last_error = str(exc)[:4000]
                    status, next_at = "queued", expected
                else:
                    reply_store.mark_reply_failed(
                        s, row, str(exc), permanent=False, now=self.clock(),
                        base_seconds=self.backoff_seconds, max_attempts=self.max_attempts,
                    )
                    status, next_at = row.status, row.next_attempt_at
                reply_store.release_reply(s, reply_id, self.holder)
            if status == "queued" and next_at is not None:
                self._waiting[reply_id] = next_at
            log.warning("reply %s not delivered yet: %s", reply_id, exc)
            return Delivery(reply_id, status, error=str(exc))
        except PermanentDeliveryError as exc:
            with self.db.unit_of_work() as s:
                row = s.get(ReplyRow, reply_id)
                assert row is not None
                reply_store.mark_reply_failed(s, row, str(exc), permanent=True, now=self.clock())
                reply_store.release_reply(s, reply_id, self.holder)
            self._waiting.pop(reply_id, None)
            log.error("reply %s refused by the server: %s", reply_id, exc)
            return Delivery(reply_id, "failed", error=str(exc))
        with self.db.unit_of_work() as s:
            row = s.get(ReplyRow, reply_id)
            assert row is not None
            reply_store.mark_reply_sent(s, row, now=self.clock())
            reply_store.release_reply(s, reply_id, self.holder)
        self._waiting.pop(reply_id, None)
        if self.on_sent is not None:
            try:
                self.on_sent(raw)  # e.g. a copy into the Sent folder; never worth a second delivery
            except TransientError as exc:
                log.warning("reply %s sent, but its copy was not kept: %s", reply_id, exc)
        return Delivery(reply_id, "sent", path=Path(path) if path else None)

    # -- outages -----------------------------------------------------------------------------
    def _outage_began(self) -> None:
        if not self._trouble:
            log.warning("the outbox server refuses replies for now; probing every %.0f s or more",
                        self.retry_seconds)
        self._trouble = True
        self._probe_delay = self.retry_seconds
        self._next_probe = self.monotonic() + self._probe_delay

    def _probe(self, keep_going: Callable[[], object] | None) -> tuple[bool, Delivery | None]:
        """One reply tried early during an outage; on success every waiting reply is due now.
        Returns whether the flush may go on, and the probe's delivery if one was tried."""
        if not self._waiting:
            self._trouble = False  # nothing of ours waits (sent or given up meanwhile)
            return True, None
        now = self.clock()
        for reply_id, expected in sorted(self._waiting.items(), key=lambda kv: kv[1]):
            if expected > now:
                break
            # Due by its own backoff: a counted attempt, so a reply the server keeps refusing
            # is given up after max_attempts even while the outage lasts.
            if keep_going is not None:
                keep_going()
            delivery = self._send(reply_id, expected=expected, counted=True)
            if delivery is None:
                self._waiting.pop(reply_id, None)
                continue
            if delivery.status == "sent":
                self._outage_ended()
                return True, delivery
            if delivery.status == "failed":
                self._waiting.pop(reply_id, None)
            return False, delivery
        if self.monotonic() < self._next_probe:
            return False, None
        if keep_going is not None:
            keep_going()
        for reply_id, expected in sorted(self._waiting.items(), key=lambda kv: kv[1]):
            delivery = self._send(reply_id, expected=expected)
            if delivery is None:
                self._waiting.pop(reply_id, None)  # claimed, sent or given up elsewhere
                continue
            if delivery.status == "sent":
                self._outage_ended()
                return True, delivery
            self._probe_delay = min(self._probe_delay * 2, self.retry_seconds * PROBE_MAX_FACTOR)
            self._next_probe = self.monotonic() + self._probe_delay
            return False, delivery
        self._trouble = False
        return True, None

    def _outage_ended(self) -> None:
        now = self.clock()
        released = 0
        with self.db.unit_of_work() as s:
            for reply_id, expected in self._waiting.items():
                if reply_store.reschedule_reply(s, reply_id, at=now, expected_next_attempt=expected):
                    released += 1
        log.info("the outbox server accepts replies again; %d waiting replies are due now", released)
        self._waiting.clear()
        self._trouble = False


def deliver_due(
    db: Database,
    outbox: Outbox,
    *,
    clock: Clock = SYSTEM_CLOCK,
    only: Sequence[int] | None = None,
    limit: int = 100,
    backoff_seconds: float = 30.0,
    max_attempts: int = 8,
    on_sent: Callable[[bytes], None] | None = None,
) -> list[Delivery]:
    """Try every reply that is due (or just ``only``) once; what happened to each.

    For one-off commands (``avsteg ingest``, ``reprocess``); the worker keeps an
    :class:`OutboxSender` so that an outage is remembered between polls. ``clock`` decides what
    is due and when a temporary failure may be tried again.
    """
    now = clock.now
    sender = OutboxSender(db, outbox, backoff_seconds=backoff_seconds, max_attempts=max_attempts,
                          on_sent=on_sent, clock=now, monotonic=clock.monotonic)
    results = []
    ids = list(only) if only is not None else None
    if ids is None:
        with db.unit_of_work(readonly=True) as s:
            ids = reply_store.due_reply_ids(s, now(), limit=limit)
    for reply_id in ids:
        delivery = sender._send(reply_id)
        if delivery is not None:
            results.append(delivery)
    return results

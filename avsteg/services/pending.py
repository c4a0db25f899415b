"""The pending list (*att hantera*, spec 3) and what a person can do about each item.

One list for every place that shows it — ``avsteg pending``, ``avsteg status``, the weekly
digest and the web app's "Att hantera" page — and one function per action, each recorded in the
history with the person's name:

* ``register-anyway`` — a report set aside (unknown domain, suspected spoofing) is run through
  the pipeline as if its domain were allowed; the sender gets the receipt;
* ``trust-domain`` — the domain is allowed from then on (and its waiting reports can be
  registered at once);
* ``resolve`` — a person marks the item handled, with a note; it leaves the list;
* ``resend`` — a reply that could not be delivered is queued again.

Item ids are what a person types: ``M<row>`` for a message, ``R<row>`` for a reply. A message's
Message-ID works wherever an ``M`` id does.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from avsteg.domain.localtime import local_time
from avsteg.domain.vocabulary import cut_note
from avsteg.services.handled import Handled
from avsteg.services.pipeline import Pipeline
from avsteg.storage import history
from avsteg.storage import messages as message_store
from avsteg.storage import outbox as reply_store
from avsteg.storage import pending as store
from avsteg.storage.database import Database, Session
from avsteg.storage.models import MessageRow
from avsteg.storage.reports import references_in

KINDS = ("unknown-domain", "unreadable", "suspected-spoofing", "rejected-no-correction",
         "undelivered-reply")
# Set aside on the message itself; the others are derived from other rows.
SET_ASIDE = ("unknown-domain", "unreadable", "suspected-spoofing")
REGISTRABLE = ("unknown-domain", "suspected-spoofing")
DEFAULT_REMIND_REJECTED_AFTER_DAYS = 14
DEFAULT_MAX_ATTEMPTS = 5  # the pipeline's: a message failing this often is left for a person

# What a person can do, per kind (the web app shows these as buttons, the CLI as commands).
ACTIONS: dict[str, tuple[str, ...]] = {
    "unknown-domain": ("register-anyway", "trust-domain", "resolve"),
    "suspected-spoofing": ("register-anyway", "resolve"),
    "unreadable": ("reprocess", "resolve"),
    "rejected-no-correction": ("resolve",),
    "undelivered-reply": ("resend", "resolve"),
}
KIND_LABELS = {  # Swedish, for people
    "unknown-domain": "Okänd avsändardomän",
    "unreadable": "Kunde inte behandlas",
    "suspected-spoofing": "Misstänkt förfalskad avsändare",
    "rejected-no-correction": "Avvisad utan rättelse",
    "undelivered-reply": "Svar som inte kom fram",
}
REPLY_KINDS_SV = {"receipt": "kvittot", "error": "felbeskedet", "help": "hjälpsvaret",
                  "reminder": "påminnelsen", "digest": "veckosammanfattningen"}
_DOMAIN = re.compile(r"^(?=.{1,253}$)(?:[^\W_](?:[\w-]{0,61}[^\W_])?\.)+[^\W\d_]{2,63}$")


class NotPending(ValueError):
    """The item is not (or no longer) on the list, or this action does not fit its kind."""


@dataclass(frozen=True)
class PendingItem:
    """One thing that waits for a person. ``sender`` is the JSON's ``from``."""

    id: str  # M<message row> or R<reply row>: what `avsteg pending resolve` takes
    kind: str
    message_id: str | None  # the Message-ID header
    sender: str | None
    subject: str | None
    received_at: dt.datetime | None
    reason: str  # Swedish, for the person who acts
    reference: str | None
    message_pk: int | None
    reply_pk: int | None
    domain: str | None  # the sender's domain (what trust-domain would trust)
    actions: tuple[str, ...]

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]

    def to_json(self) -> dict[str, Any]:
        """Spec 4's keys, then the id and the actions a person can take."""
        return {
            "kind": self.kind,
            "message_id": self.message_id,
            "from": self.sender,
            "subject": self.subject,
            "received_at": self.received_at.isoformat() if self.received_at else None,
            "reason": self.reason,
            "reference": self.reference,
            "id": self.id,
            "actions": list(self.actions),
        }

    def commands(self) -> list[str]:
        """The command lines that act on this item (shown by ``avsteg pending``)."""
        target = _quote(self.message_id) if self.message_id else self.id
        out = []
        for action in self.actions:
            if action == "register-anyway":
                out.append(f"avsteg register-anyway {target}")
            elif action == "trust-domain" and self.domain:
                out.append(f"avsteg trust-domain {self.domain}")
            elif action == "reprocess":
                out.append(f"avsteg reprocess {target}")
            elif action == "resend":
                out.append(f"avsteg resend {self.id}")
            elif action == "resolve":
                out.append(f"avsteg pending resolve {self.id} --note '…'")
        return out


def _quote(text: str) -> str:
    return f"'{text}'" if re.search(r"[<>\s$&;|]", text) else text


def domain_of(address: str | None) -> str | None:
    if not address or "@" not in address:
        return None
    return address.rpartition("@")[2].strip().strip(".").lower() or None


def normalise_domain(text: str) -> str:
    """``@Higab.se.`` → ``higab.se``; ValueError for what is not a domain name."""
    domain = text.strip().lower().lstrip("@")
    if domain.startswith("*."):
        domain = domain[2:]
    domain = domain.strip(".")
    if not _DOMAIN.match(domain):
        raise ValueError(f"{text!r} is not a domain name (e.g. higab.se)")
    return domain


def within(domain: str | None, parent: str) -> bool:
    return domain is not None and (domain == parent or domain.endswith("." + parent))


# -- the list ---------------------------------------------------------------------------------


def _when(moment: dt.datetime | None) -> str:
    return local_time(moment).strftime("%Y-%m-%d") if moment else "okänt datum"


def _reason(row: store.WaitingRow, *, remind_after_days: int) -> str:
    detail = (row.detail or "").strip()
    if row.kind == "unknown-domain":
        return (f"Avsändarens domän ({domain_of(row.sender) or 'okänd'}) finns inte bland de "
                "tillåtna avsändardomänerna; rapporten är varken registrerad eller besvarad.")
    if row.kind == "suspected-spoofing":
        return f"Avsändaren kunde inte bekräftas (misstänkt förfalskning): {detail or 'okänt skäl'}."
    if row.kind == "unreadable" and row.set_aside:
        why = cut_note(row.cut_size) if row.cut_size else f"{detail or 'okänt skäl'}."
        return f"Meddelandet ser ut som en rapport men kunde inte behandlas: {why}"
    if row.kind == "unreadable":
        return (f"Meddelandet kunde inte behandlas ({row.attempts} försök, fel hos oss): "
                f"{detail or 'okänt fel'}.")
    if row.kind == "rejected-no-correction":
        return (f"Avvisad {_when(row.since)}; ingen rättelse från avsändaren på "
                f"{remind_after_days} dagar. {detail}".strip())
    what = REPLY_KINDS_SV.get(row.reply_kind or "", "svaret")
    return (f"Det gick inte att leverera {what} till {row.recipient} "
            f"({row.attempts} försök): {detail or 'okänt fel'}.")


def _item(row: store.WaitingRow, *, remind_after_days: int) -> PendingItem:
    item_id = f"R{row.reply_pk}" if row.reply_pk is not None else f"M{row.message_pk}"
    return PendingItem(
        id=item_id, kind=row.kind, message_id=row.message_id, sender=row.sender,
        subject=row.subject, received_at=row.received_at,
        reason=_reason(row, remind_after_days=remind_after_days), reference=row.reference,
        message_pk=row.message_pk, reply_pk=row.reply_pk, domain=domain_of(row.sender),
        actions=ACTIONS[row.kind],
    )


def collect_pending(
    s: Session,
    *,
    now: dt.datetime | None = None,
    remind_rejected_after_days: int = DEFAULT_REMIND_REJECTED_AFTER_DAYS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> list[PendingItem]:
    """The pending list read in an open unit of work (for jobs that read more beside it)."""
    now = now or dt.datetime.now(dt.UTC)
    rows = [
        *store.set_aside_rows(s),
        *store.exhausted_rows(s, max_attempts=max_attempts),
        *store.stale_rejection_rows(
            s, rejected_before=now - dt.timedelta(days=remind_rejected_after_days)),
        *store.undelivered_rows(s),
    ]
    registered = store.references_of_messages(
        s, (r.message_pk for r in rows if r.message_pk is not None and not r.reference))
    rows = [_with_reference(r, registered) for r in rows]
    items = [_item(r, remind_after_days=remind_rejected_after_days) for r in rows]
    oldest = dt.datetime.min.replace(tzinfo=dt.UTC)
    return sorted(items, key=lambda i: (i.received_at or oldest, i.id))


def _with_reference(row: store.WaitingRow, registered: dict[int, list[str]]) -> store.WaitingRow:
    """A message that registered something, or names a report in its subject, gets its number."""
    if row.reference or row.message_pk is None:
        return row
    found = registered.get(row.message_pk, [])
    if not found and row.subject:
        found = list(references_in(row.subject))
    return dataclasses.replace(row, reference=found[0]) if found else row


def pending_items(
    db: Database,
    *,
    now: dt.datetime | None = None,
    remind_rejected_after_days: int = DEFAULT_REMIND_REJECTED_AFTER_DAYS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    kinds: Sequence[str] | None = None,
) -> list[PendingItem]:
    """Everything that waits for a person, oldest first (``kinds`` narrows it)."""
    with db.unit_of_work(readonly=True) as s:
        items = collect_pending(s, now=now, remind_rejected_after_days=remind_rejected_after_days,
                                max_attempts=max_attempts)
    return [i for i in items if kinds is None or i.kind in kinds]


def count_by_kind(items: Sequence[PendingItem]) -> dict[str, int]:
    counts = Counter(i.kind for i in items)
    return {kind: counts[kind] for kind in KINDS if counts[kind]}


def find_item(items: Sequence[PendingItem], key: str) -> PendingItem:
    """The item with id ``key`` (``M12``, ``R3``) or Message-ID ``key`` (<> optional)."""
    text = key.strip()
    for item in items:
        if item.id.casefold() == text.casefold():
            return item
    if text.startswith("#") and text[1:].isdigit():
        return find_item(items, f"M{text[1:]}")
    bare = text.strip("<>")
    matches = [i for i in items if i.message_id and i.message_id.strip("<>") == bare]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise NotPending(f"{key} names {len(matches)} items; use the id "
                         f"({', '.join(i.id for i in matches)})")
    raise NotPending(f"nothing waits for a person under {key}")


# -- actions -----------------------------------------------------------------------------------


def _require_note(note: str | None) -> str:
    if note is None or not note.strip():
        raise ValueError("a note is required (what was done, or why nothing needs doing)")
    return note.strip()


def resolve(
    db: Database, key: str, *, actor: str, note: str, now: dt.datetime | None = None,
    remind_rejected_after_days: int = DEFAULT_REMIND_REJECTED_AFTER_DAYS,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> PendingItem:
    """Mark an item handled with a note: it leaves the list, the act is in the history."""
    note = _require_note(note)
    now = now or dt.datetime.now(dt.UTC)
    with db.unit_of_work() as s:
        items = collect_pending(s, now=now, remind_rejected_after_days=remind_rejected_after_days,
                                max_attempts=max_attempts)
        item = find_item(items, key)
        message = s.get(MessageRow, item.message_pk) if item.message_pk is not None else None
        if item.kind in SET_ASIDE and message is not None and message.pending == item.kind:
            history.clear_set_aside(s, message, actor=actor, action="resolve", reason=note)
        else:
            store.mark_handled(s, item.kind, message_pk=None if item.reply_pk else item.message_pk,
                               reply_pk=item.reply_pk, actor=actor, note=note, now=now)
            history.record_action(
                s, actor=actor, action="resolve", message_id=item.message_pk, reason=note,
                details={"pending": item.kind, **({"reply_id": item.reply_pk} if item.reply_pk
                                                  else {})}, at=now)
    return item


@dataclass(frozen=True)
class RegisteredAnyway:
    original_pk: int
    kind: str
    handled: Handled


def register_anyway(
    pipeline: Pipeline, key: str, *, actor: str, reason: str | None = None
) -> RegisteredAnyway:
    """Run a set-aside report through the pipeline as if its sender's domain were allowed.

    A copy of the stored message (``reprocessed_from`` the original) is processed, so the
    original keeps what the service did by itself; the sender gets the receipt (queued in the
    outbox; the reply window does not apply: a person decided). The item leaves the list only
    when the copy was handled; a failure of ours leaves it for another try.
    """
    db = pipeline.db
    with db.unit_of_work() as s:
        candidates = [m for m in store.find_messages(s, key) if m.pending in REGISTRABLE]
        if not candidates:
            raise NotPending(f"no report set aside under {key} (register-anyway is for the "
                             f"kinds {', '.join(REGISTRABLE)})")
        original = candidates[0]
        kind, original_pk = str(original.pending), original.id
        copy_pk = message_store.store_reprocess_copy(s, original, now=pipeline.clock()).id
    trusting = dataclasses.replace(pipeline.policy, allowed_sender_domains=("*",),
                                   trust_authentication_results=False)
    handled = dataclasses.replace(pipeline, policy=trusting).process(copy_pk, reprocess=True)
    if handled.outcome != "failed":
        with db.unit_of_work() as s:
            again = s.get(MessageRow, original_pk)
            assert again is not None
            original = again
            report = store.report_by_reference(s, handled.references)
            details = {"copy": handled.message_pk, "outcome": handled.outcome,
                       "references": list(handled.references)}
            if original.pending == kind:
                history.clear_set_aside(s, original, actor=actor, action="register-anyway",
                                        reason=reason, details=details)
            else:  # someone else acted meanwhile: still say what this person did
                history.record_action(s, actor=actor, action="register-anyway",
                                      message_id=original_pk, reason=reason, details=details)
            if report is not None:
                history.record_action(s, actor=actor, action="register-anyway",
                                      report_id=report.id, message_id=handled.message_pk,
                                      reason=reason, details={"original": original_pk})
    return RegisteredAnyway(original_pk, kind, handled)


@dataclass(frozen=True)
class Trusted:
    domain: str
    added: bool  # False: it was trusted already
    waiting: tuple[PendingItem, ...]  # its reports still set aside (register them?)


def trust_domain(
    db: Database, domain: str, *, actor: str, reason: str | None = None,
    now: dt.datetime | None = None,
) -> Trusted:
    """Allow ``domain`` (and its subdomains) from now on; say which of its reports wait."""
    domain = normalise_domain(domain)
    now = now or dt.datetime.now(dt.UTC)
    with db.unit_of_work() as s:
        added = store.add_trusted_domain(s, domain, actor=actor, reason=reason, now=now)
        if added:
            history.record_action(s, actor=actor, action="trust-domain", reason=reason,
                                  details={"domain": domain}, at=now)
        waiting = tuple(i for i in collect_pending(s, now=now)
                        if i.kind == "unknown-domain" and within(i.domain, domain))
    return Trusted(domain, added, waiting)


def register_waiting(pipeline: Pipeline, trusted: Trusted, *, actor: str,
                     reason: str | None = None) -> list[RegisteredAnyway]:
    """Register the reports of a newly trusted domain that were set aside before."""
    note = reason or f"domänen {trusted.domain} är betrodd"
    return [register_anyway(pipeline, item.id, actor=actor, reason=note)
            for item in trusted.waiting]


def trusted_domains(db: Database) -> list[store.TrustedDomain]:
    with db.unit_of_work(readonly=True) as s:
        return store.trusted_domain_rows(s)


def resend(db: Database, key: str, *, actor: str, note: str | None = None,
           now: dt.datetime | None = None) -> int:
    """Queue a reply that could not be delivered again; the worker sends it. Its row id."""
    now = now or dt.datetime.now(dt.UTC)
    with db.unit_of_work() as s:
        replies = store.find_replies(s, key)
        if not replies:  # a message's id: its failed replies
            for message in store.find_messages(s, key):
                replies += reply_store.replies_for_message(s, message)
        failed = [r for r in replies if r.status == "failed"]
        if not failed:
            raise NotPending(f"no undelivered reply under {key}")
        reply = failed[0]
        reply_store.requeue_reply(s, reply, now=now)
        history.record_action(s, actor=actor, action="resend", message_id=reply.message_id,
                              report_id=reply.report_id, reason=note,
                              details={"reply_id": reply.id, "recipient": reply.recipient,
                                       "last_error": reply.last_error}, at=now)
        return reply.id

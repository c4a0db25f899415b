"""Who may be answered, and what must wait for a person (spec 3), beside the pipeline.

Three rules the pipeline asks about each message:

* the allowed sender domains are the configured ones plus those people have trusted since
  (``avsteg trust-domain``), read per message so a running worker takes them up at once;
* a report (or a failed attempt at one) from outside those domains is never answered nor
  registered by itself, and never dropped either: it is set aside as ``unknown-domain``;
* mail that was older than the reply window when the service first saw it is handled as usual
  but never answered — pointing the service at years of mail must not write to hundreds.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from avsteg.domain.message import InboundMessage
from avsteg.domain.triage import Policy, Triage, says_avsteg
from avsteg.storage import history
from avsteg.storage import pending as pending_store
from avsteg.storage.database import Session
from avsteg.storage.models import MessageRow

log = logging.getLogger("avsteg.pipeline")

TOO_OLD = "not answered: older than the reply window"
# Outcomes that would have been answered but for the reply window (ignored mail never is).
ANSWERED_OUTCOMES = ("registered", "new_version", "duplicate", "rejected")


def policy_now(s: Session, policy: Policy) -> Policy:
    """``policy`` with the domains people have trusted added to the allowed ones."""
    trusted = pending_store.trusted_domains(s)
    if not trusted or "*" in policy.allowed_sender_domains:
        return policy
    return dataclasses.replace(
        policy, allowed_sender_domains=(*policy.allowed_sender_domains, *trusted))


def older_than_window(row: MessageRow, window: dt.timedelta | None) -> bool:
    """Whether a mailbox message was older than ``window`` when it was first stored.

    Its age is ``received_at`` (the Date header, else the server's arrival time) against
    ``stored_at``; messages given as files (no mailbox account) are answered whatever their age.
    """
    if window is None or row.account is None or row.received_at is None:
        return False
    return row.stored_at - row.received_at > window


def set_aside_if_report(s: Session, row: MessageRow, msg: InboundMessage, verdict: Triage) -> str:
    """For mail that is not ours: the reason to record, setting a report from an unknown
    sender domain aside for a person (``unknown-domain``) on the way."""
    files = [a for a in msg.attachments if not a.inline]
    looks_like_a_report = bool(verdict.templates) or (bool(files) and says_avsteg(msg))
    if verdict.reason != "outside-domains" or not looks_like_a_report:
        return verdict.reason
    history.set_aside(s, row, "unknown-domain")
    log.warning("message %s from %s: a report from outside the allowed sender domains, set "
                "aside for a person", msg.message_id, msg.sender)
    return f"{verdict.reason}; set aside for a person (unknown-domain)"

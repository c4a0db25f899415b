"""Coordination and bookkeeping for the worker: leases, poll state, reminders sent.

Leases. A lease is a named lock with an expiry, held by one worker. ``acquire_lease`` is two
single statements (INSERT … ON CONFLICT DO NOTHING, then a conditional UPDATE), so two workers
can never both hold it; an expired lease is taken over; the holder renews it while it works.
The worker holds one lease per mailbox folder (``mailbox:<account>/<folder>``), which already
guarantees that no message is processed twice at once. For finer grain (several workers on
one folder), :func:`claim_message` is the same lease named ``message:<id>`` — the same code, no
extra columns on ``messages``. Call these in their own short unit of work so the lease is
committed (visible to others) at once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import case, delete, literal, or_, select, update
from sqlalchemy.orm import Session

from avsteg.storage.messages import utcnow
from avsteg.storage.models import REMINDER_KINDS, Lease, PollState, ReminderSent, UtcDateTime
from avsteg.storage.sql import upsert_insert


def acquire_lease(
    s: Session, name: str, holder: str, *, ttl_seconds: float, now: dt.datetime | None = None
) -> bool:
    """Take (or keep) the lease ``name`` for ``holder``; False while someone else holds it."""
    now = now or utcnow()
    expires = now + dt.timedelta(seconds=ttl_seconds)
    inserted = s.execute(
        upsert_insert(s, Lease)
        .values(name=name, holder=holder, acquired_at=now, expires_at=expires)
        .on_conflict_do_nothing(index_elements=[Lease.name])
        .returning(Lease.name)
    ).first()
    if inserted is not None:
        return True
    taken = s.execute(
        update(Lease)
        .where(Lease.name == name, or_(Lease.holder == holder, Lease.expires_at <= now))
        .values(
            holder=holder,
            acquired_at=case(
                (Lease.holder == holder, Lease.acquired_at), else_=literal(now, UtcDateTime())
            ),
            expires_at=expires,
        )
        .returning(Lease.name)
        .execution_options(synchronize_session=False)
    ).first()
    return taken is not None


def renew_lease(
    s: Session, name: str, holder: str, *, ttl_seconds: float, now: dt.datetime | None = None
) -> bool:
    """Extend a lease we still hold; False when it was taken over (stop working, then)."""
    now = now or utcnow()
    renewed = s.execute(
        update(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .values(expires_at=now + dt.timedelta(seconds=ttl_seconds))
        .returning(Lease.name)
        .execution_options(synchronize_session=False)
    ).first()
    return renewed is not None


def release_lease(s: Session, name: str, holder: str) -> bool:
    """Give a lease back (only our own); the row is coordination, not data, so it goes."""
    released = s.execute(
        delete(Lease)
        .where(Lease.name == name, Lease.holder == holder)
        .returning(Lease.name)
        .execution_options(synchronize_session=False)
    ).first()
    return released is not None


def lease_holder(s: Session, name: str, now: dt.datetime | None = None) -> str | None:
    """Who holds ``name`` right now (None when free or expired)."""
    lease = s.get(Lease, name, populate_existing=True)
    if lease is None or lease.expires_at <= (now or utcnow()):
        return None
    return lease.holder


def claim_message(
    s: Session, message_pk: int, holder: str, *, ttl_seconds: float, now: dt.datetime | None = None
) -> bool:
    """A per-message lease, for several workers sharing one folder."""
    return acquire_lease(s, f"message:{message_pk}", holder, ttl_seconds=ttl_seconds, now=now)


def release_message(s: Session, message_pk: int, holder: str) -> bool:
    return release_lease(s, f"message:{message_pk}", holder)


# -- poll state ---------------------------------------------------------------------------


def record_poll(
    s: Session,
    account: str,
    folder: str,
    *,
    uidvalidity: int | None = None,
    last_uid: int | None = None,
    error: str | None = None,
    now: dt.datetime | None = None,
) -> PollState:
    """Note a poll of ``account``/``folder``: a success clears the error, a failure keeps
    the last success so ``avsteg status`` can say how long the mailbox has been unreachable."""
    now = now or utcnow()
    state = s.get(PollState, (account, folder))
    if state is None:
        state = PollState(account=account, folder=folder)
        s.add(state)
    state.last_poll_at = now
    if uidvalidity is not None:
        state.uidvalidity = uidvalidity
    if last_uid is not None:
        state.last_uid = last_uid
    if error is None:
        state.last_success_at = now
        state.last_error = None
    else:
        state.last_error = error[:4000]
    s.flush()
    return state


def get_poll_state(s: Session, account: str, folder: str) -> PollState | None:
    return s.get(PollState, (account, folder))


def poll_states(s: Session) -> list[PollState]:
    return list(s.scalars(select(PollState).order_by(PollState.account, PollState.folder)))


# -- reminders ----------------------------------------------------------------------------


def record_reminder(
    s: Session, organisation: str, year: int, kind: str, *, now: dt.datetime | None = None
) -> bool:
    """Note that a reminder went out; False when it had been recorded already (send once)."""
    if kind not in REMINDER_KINDS:
        raise ValueError(f"unknown reminder kind {kind!r}")
    inserted = s.execute(
        upsert_insert(s, ReminderSent)
        .values(organisation=organisation, year=year, kind=kind, sent_at=now or utcnow())
        .on_conflict_do_nothing(
            index_elements=[ReminderSent.organisation, ReminderSent.year, ReminderSent.kind]
        )
        .returning(ReminderSent.id)
    ).first()
    return inserted is not None


def reminder_sent(s: Session, organisation: str, year: int, kind: str) -> bool:
    query = select(ReminderSent.id).where(
        ReminderSent.organisation == organisation,
        ReminderSent.year == year,
        ReminderSent.kind == kind,
    )
    return s.execute(query).first() is not None


def reminders_sent_in(s: Session, year: int) -> dict[tuple[str, str], dt.datetime]:
    """(organisation key, kind) → when, for the reminders about ``year`` sent so far."""
    rows = s.execute(
        select(ReminderSent.organisation, ReminderSent.kind, ReminderSent.sent_at)
        .where(ReminderSent.year == year)
    )
    return {(org, kind): sent_at for org, kind, sent_at in rows}

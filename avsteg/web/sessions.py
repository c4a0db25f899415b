"""Server-side sessions: the signed cookie carries only a random id (and the CSRF token); the
row in ``web_sessions`` (:mod:`avsteg.storage.web_sessions`) says who it is and whether it holds.

So "Logga ut" ends the session everywhere (a copied cookie is refused afterwards), `avsteg user
remove` or a changed role or password ends that person's open sessions, and the idle and
absolute limits are decided here, on the server, not by a cookie's age. Only the SHA-256 of the
id is stored. A request costs one primary-key read; ``last_seen_at`` is written at most once a
minute. Ended rows are pruned at sign-in, a week after they ended.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import secrets
from collections.abc import Callable

from avsteg.storage import Database, utcnow
from avsteg.storage.web_sessions import (
    end_session,
    find_session,
    prune_sessions,
    start_session,
    touch_session,
)
from avsteg.web.auth import ROLES, User

log = logging.getLogger(__name__)

TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often
KEEP_ENDED = dt.timedelta(days=7)  # ended rows stay this long (who was signed in when)


def hash_id(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


class SessionStore:
    """Starts, checks and ends the web app's sessions in the register's database."""

    def __init__(self, db: Database, *, absolute: dt.timedelta, idle: dt.timedelta,
                 clock: Callable[[], dt.datetime] = utcnow) -> None:
        self.db = db
        self.absolute = absolute
        self.idle = idle
        self.clock = clock

    def start(self, user: User, replacing: str | None = None) -> str:
        """A new session for ``user``; its id (for the cookie). A session the browser had before
        (``replacing``) ends: no fixation, no second live session from one browser."""
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        with self.db.unit_of_work() as s:
            if replacing:
                end_session(s, hash_id(replacing), "replaced", now)
            pruned = prune_sessions(s, ended_before=now - KEEP_ENDED,
                                    started_before=now - self.absolute - KEEP_ENDED)
            start_session(s, hash_id(session_id), name=user.name, role=user.role, via=user.via,
                          now=now)
        if pruned:
            log.info("pruned %d old web sessions", pruned)
        return session_id

    def resolve(self, session_id: str) -> User | None:
        """Who holds this session, or None when it has ended, expired or never existed."""
        key = hash_id(session_id)
        with self.db.unit_of_work(readonly=True) as s:
            row = find_session(s, key)
        if row is None or row.ended_at is not None or row.role not in ROLES:
            return None
        now = self.clock()
        if now - row.created_at > self.absolute or now - row.last_seen_at > self.idle:
            with self.db.unit_of_work() as s:
                end_session(s, key, "expired", now)
            log.info("web session of %s (%s) expired", row.name, row.via)
            return None
        if now - row.last_seen_at >= TOUCH_EVERY:
            with self.db.unit_of_work() as s:
                touch_session(s, key, now)
        return User(name=row.name, role=row.role, via=row.via)

    def end(self, session_id: str, reason: str = "signed-out") -> bool:
        with self.db.unit_of_work() as s:
            return end_session(s, hash_id(session_id), reason, self.clock())

"""Who is signed in: the seam every way of signing in goes through.

A user is a name and a role (``handläggare`` may act, ``läsare`` may only read). The session
lives on the server (:mod:`avsteg.web.sessions`, the ``web_sessions`` table); the signed cookie
holds only its random id under ``"sid"`` and the CSRF token under ``"csrf"``. The sign-in gate
(:class:`avsteg.web.security.SignInGate`) looks the id up once per request and leaves the user
in the request's scope, where :func:`current_user` finds it.

Local accounts (:mod:`avsteg.web.login`) are one way to sign in; Entra ID (OpenID Connect) is
another: it only has to call :func:`sign_in` with the user it found in the ID token. Routes
under ``/logga-in`` (and ``/auth/callback``) are reachable without a session (see :data:`PUBLIC_PREFIXES`).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request

CASEWORKER = "handläggare"
READER = "läsare"
ROLES = (CASEWORKER, READER)
SESSION_ID = "sid"  # the cookie's random session id (its hash is the row's key)
SESSION_CSRF = "csrf"
SCOPE_USER = "avsteg.user"  # where the sign-in gate leaves the user it found
# /auth/callback: where Entra ID sends the browser back after signing in (avsteg.web.oidc).
PUBLIC_PREFIXES = ("/healthz", "/static/", "/logga-in", "/auth/callback")


@dataclass(frozen=True)
class User:
    name: str
    role: str
    via: str = "local"  # "local" | "oidc"

    @property
    def may_act(self) -> bool:
        return self.role == CASEWORKER


async def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new id and CSRF token: no fixation of the old one,
    which ends)."""
    if user.role not in ROLES:
        raise ValueError(f"unknown role {user.role!r}")
    store = request.app.state.web.sessions
    old = request.session.get(SESSION_ID)
    session_id = await run_in_threadpool(store.start, user, str(old) if old else None)
    request.session.clear()
    request.session[SESSION_ID] = session_id
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)
    request.scope[SCOPE_USER] = user


async def sign_out(request: Request) -> None:
    """End the session on the server (a copy of the cookie is worthless after) and forget it."""
    session_id = request.session.get(SESSION_ID)
    if session_id:
        await run_in_threadpool(request.app.state.web.sessions.end, str(session_id))
    request.session.clear()
    request.scope[SCOPE_USER] = None


def current_user(request: Request) -> User | None:
    user = request.scope.get(SCOPE_USER)
    return user if isinstance(user, User) else None


def require_user(request: Request) -> User:
    user = current_user(request)
    if user is None:
        raise HTTPException(401)
    return user


def require_caseworker(request: Request) -> User:
    """The signed-in handläggare; a reader (or anyone else) gets 403."""
    user = require_user(request)
    if not user.may_act:
        raise HTTPException(403)
    return user


def csrf_token(request: Request) -> str:
    token = request.session.get(SESSION_CSRF)
    if not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return str(token)


class SignInLimiter:
    """Failed sign-ins per (name, address) and per address in a sliding window, in memory.

    One process serves the app; a restart forgets the count, which is acceptable for a form that
    also costs an Argon2 verification per try.
    """

    def __init__(self, attempts: int, window_seconds: float) -> None:
        self.attempts = attempts
        self.window = window_seconds
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, name: str, address: str, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        per_user = self._recent((name.strip().casefold(), address), now)
        per_address = self._recent(("", address), now)
        return len(per_user) >= self.attempts or len(per_address) >= self.attempts * 4

    def failed(self, name: str, address: str, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._recent((name.strip().casefold(), address), now).append(now)
        self._recent(("", address), now).append(now)

    def succeeded(self, name: str, address: str) -> None:
        self._failures.pop((name.strip().casefold(), address), None)

"""Who is signed in: the seam every way of signing in goes through.

A user is a name and a role (``handläggare`` may act, ``läsare`` may only read), kept in the
signed session cookie under ``"user"``::

    {"name": "Anna Svensson", "role": "handläggare", "via": "local", "since": 1767000000}

Local accounts (:mod:`avsteg.web.login`) are one way to sign in; Entra ID (OpenID Connect) is
another: it only has to call :func:`sign_in` with the user it found in the ID token. Routes
under ``/logga-in`` (and ``/auth/callback``) are reachable without a session (see :data:`PUBLIC_PREFIXES`).
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass

from starlette.exceptions import HTTPException
from starlette.requests import Request

CASEWORKER = "handläggare"
READER = "läsare"
ROLES = (CASEWORKER, READER)
SESSION_USER = "user"
SESSION_CSRF = "csrf"
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


def sign_in(request: Request, user: User) -> None:
    """Start a fresh session for ``user`` (a new CSRF token: no fixation of the old session)."""
    if user.role not in ROLES:
        raise ValueError(f"unknown role {user.role!r}")
    request.session.clear()
    request.session[SESSION_USER] = {
        "name": user.name, "role": user.role, "via": user.via, "since": int(time.time()),
    }
    request.session[SESSION_CSRF] = secrets.token_urlsafe(32)


def sign_out(request: Request) -> None:
    request.session.clear()


def current_user(request: Request) -> User | None:
    data = request.session.get(SESSION_USER)
    if not isinstance(data, dict) or data.get("role") not in ROLES or not data.get("name"):
        return None
    return User(name=str(data["name"]), role=str(data["role"]), via=str(data.get("via", "local")))


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

"""The app's protective layers, as plain ASGI middleware so no route can forget them.

* :class:`SchemeAwareSessions` — the signed session cookie (HttpOnly, SameSite=Lax), marked
  Secure whenever the request came over HTTPS (as the proxy says, when trusted). It carries the
  session's id and the CSRF token; who is signed in is kept on the server.
* :class:`SignInGate` — looks the session up on the server (:mod:`avsteg.web.sessions`);
  nothing but :data:`~avsteg.web.auth.PUBLIC_PREFIXES` without a live one.
* :class:`CsrfGuard` — every POST carries the session's token (form field or header), checked
  before any endpoint runs.
* :class:`SecurityHeaders` — a Content-Security-Policy without inline script or style, and the
  usual companions.
"""

from __future__ import annotations

import hmac
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import MutableHeaders
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avsteg.web.auth import PUBLIC_PREFIXES, SCOPE_USER, SESSION_CSRF, SESSION_ID

CSRF_FIELD = "csrf_token"
CSRF_HEADER = b"x-csrf-token"
MAX_FORM_BYTES = 256 * 1024
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
SESSION_COOKIE = "avsteg_session"
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}


class SchemeAwareSessions:
    """Starlette's signed-cookie sessions, with the Secure flag on every HTTPS request."""

    def __init__(self, app: ASGIApp, *, secret_key: str, max_age: int,
                 always_secure: bool = False) -> None:
        common: dict[str, Any] = {"secret_key": secret_key, "session_cookie": SESSION_COOKIE,
                                  "max_age": max_age, "same_site": "lax"}
        self.secure = SessionMiddleware(app, https_only=True, **common)
        self.plain = self.secure if always_secure else SessionMiddleware(app, **common)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        https = scope.get("scheme") in ("https", "wss")
        await (self.secure if https else self.plain)(scope, receive, send)


def _is_public(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC_PREFIXES)


# Never looked up: files and the health check need no session (and no database read).
UNCHECKED_PREFIXES = ("/static/", "/healthz")


class SignInGate:
    """Find who holds the session (one read on the server) and send anyone without a live one
    to the sign-in page (GET) or refuse them (other methods).

    A session ends when its person signs out or loses their account, ``web.session_hours``
    after sign-in however busy it was, or after ``web.session_idle_minutes`` without a request
    (:class:`avsteg.web.sessions.SessionStore`). The user found is left in the scope for
    :func:`avsteg.web.auth.current_user`, on the public pages too (the sign-in form redirects
    someone already signed in).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or any(path.startswith(p) for p in UNCHECKED_PREFIXES):
            await self.app(scope, receive, send)
            return
        session = scope.get("session", {})
        session_id = session.get(SESSION_ID)
        user = None
        if session_id:
            store = scope["app"].state.web.sessions
            user = await run_in_threadpool(store.resolve, str(session_id))
            if user is None:  # ended, expired or unknown: the cookie forgets it too
                session.clear()
        scope[SCOPE_USER] = user
        if user is not None or _is_public(path):
            await self.app(scope, receive, send)
            return
        target = scope["path"]
        if scope.get("query_string"):
            target += "?" + scope["query_string"].decode("latin-1")
        if scope["method"] in ("GET", "HEAD"):
            response = RedirectResponse(f"/logga-in?nasta={quote(target, safe='')}", 303)
        else:
            response = RedirectResponse("/logga-in", 303)
        await response(scope, receive, send)


class CsrfGuard:
    """Refuse (403) every POST whose token does not match the session's.

    The body is read here (forms are small, url-encoded) and handed on unchanged, so endpoints
    read their form as usual. A header ``X-CSRF-Token`` serves scripts (htmx) as well.
    """

    def __init__(self, app: ASGIApp, forbidden: ASGIApp) -> None:
        self.app = app
        self.forbidden = forbidden

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_FORM_BYTES:
                await self.forbidden(scope, receive, send)
                return
        expected = str(scope.get("session", {}).get(SESSION_CSRF) or "")
        given = dict(scope.get("headers", [])).get(CSRF_HEADER, b"").decode("latin-1")
        if not given:
            try:
                form = parse_qs(body.decode("utf-8", "replace"), max_num_fields=200)
            except ValueError:  # more fields than any form of ours has
                form = {}
            given = (form.get(CSRF_FIELD) or [""])[0]
        if not expected or not hmac.compare_digest(expected, given):
            scope["avsteg.csrf_failed"] = True
            await self.forbidden(scope, receive, send)
            return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if not scope["path"].startswith("/static/"):
                    headers.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_with_headers)

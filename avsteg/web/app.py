"""The web app's composition: routes, middleware, templates and Swedish error pages.

:func:`create_app` is given everything (settings, database, schema, pipeline factory) by the
``avsteg web`` command or a test; nothing here reads settings or opens a database by itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from avsteg.config.settings import Settings
from avsteg.domain.schema import Schema
from avsteg.storage import Database
from avsteg.web import actions, login, pages, pending, summary
from avsteg.web.auth import SignInLimiter
from avsteg.web.context import WebContext, error_page, web
from avsteg.web.formatting import FILTERS
from avsteg.web.security import (
    SECURITY_HEADERS,
    CsrfGuard,
    SchemeAwareSessions,
    SecurityHeaders,
    SignInGate,
)
from avsteg.web.sessions import SessionStore

log = logging.getLogger(__name__)
HERE = Path(__file__).parent

async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    if status == 401:
        return error_page(request, 403)
    return error_page(request, status)


async def _server_error(request: Request, exc: Exception) -> Response:
    log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    response = error_page(request, 500)
    # Starlette answers this outside the other middleware: the headers are set here.
    response.headers.update(SECURITY_HEADERS)
    return response


async def healthz(request: Request) -> Response:
    """For load balancers and compose: the process answers and the database is reachable."""
    try:
        web(request).db.table_names()
    except Exception:
        log.warning("health check: database unreachable", exc_info=True)
        return PlainTextResponse("database unreachable", status_code=503)
    return PlainTextResponse("ok")


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"),
                      autoescape=select_autoescape(["html", "svg"]),
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(FILTERS)
    return env


def routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        *login.routes(),
        *pages.routes(),
        *summary.routes(),
        *pending.routes(),
        *actions.routes(),
    ]


class _Forbidden:
    """The 403 page for a refused CSRF check (rendered with the app's templates)."""

    def __init__(self) -> None:
        self.app: Starlette | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = self.app
        response = error_page(Request(scope, receive), 403)
        await response(scope, receive, send)


def create_app(settings: Settings, db: Database, schema: Schema, *,
               pipeline_factory: Callable[[], Any] | None = None,
               extra_routes: list[BaseRoute] | None = None) -> ASGIApp:
    """The ASGI app. ``extra_routes`` (e.g. Entra ID sign-in under ``/logga-in/``) come first."""
    w = settings.web
    secret = w.secret_key or secrets.token_urlsafe(48)
    if not w.secret_key:
        log.warning("web.secret_key is not set: a random key is used; sessions end at restart")
    forbidden = _Forbidden()
    middleware = [
        Middleware(SecurityHeaders),
        Middleware(SchemeAwareSessions, secret_key=secret, max_age=int(w.session_hours * 3600),
                   always_secure=w.secure_cookies),
        Middleware(CsrfGuard, forbidden=forbidden),
        Middleware(SignInGate),
    ]
    app = Starlette(
        routes=[*(extra_routes or []), *routes()],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error, Exception: _server_error},
    )
    forbidden.app = app
    app.state.web = WebContext(
        settings=settings, db=db, schema=schema, templates=_templates(),
        limiter=SignInLimiter(w.login_attempts, w.login_window_seconds),
        sessions=SessionStore(db, absolute=dt.timedelta(hours=w.session_hours),
                              idle=dt.timedelta(minutes=w.session_idle_minutes)),
        pipeline_factory=pipeline_factory,
    )
    if w.trust_proxy_headers:
        from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

        # uvicorn types its middleware with its own ASGI protocol types; Starlette's are looser.
        return cast(ASGIApp, ProxyHeadersMiddleware(cast(Any, app), trusted_hosts="*"))
    return app


def starlette_app(app: ASGIApp) -> Starlette:
    """The Starlette app inside ``app`` (which may be wrapped for proxy headers)."""
    inner = getattr(app, "app", app)
    assert isinstance(inner, Starlette)
    return inner

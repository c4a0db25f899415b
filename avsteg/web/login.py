"""Signing in with a local account, and signing out (every way of signing in ends here)."""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from avsteg.web import accounts
from avsteg.web.auth import User, current_user, sign_in, sign_out
from avsteg.web.context import render, web

log = logging.getLogger(__name__)


def _safe_next(target: str | None) -> str:
    """Only paths of this site (no ``//evil``, no scheme): no open redirect after sign-in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/registret"


def client_address(request: Request) -> str:
    return request.client.host if request.client else "?"


def login_form(request: Request) -> Response:
    if current_user(request) is not None:
        return RedirectResponse(_safe_next(request.query_params.get("nasta")), 303)
    return render(request, "login.html", next=_safe_next(request.query_params.get("nasta")),
                  name="", error=None, oidc=request.app.state.web.extra.get("oidc_label"))


async def login_submit(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("anvandarnamn", "")).strip()
    password = str(form.get("losenord", ""))
    target = _safe_next(str(form.get("nasta", "")))
    ctx = web(request)
    address = client_address(request)
    if ctx.limiter.blocked(name, address):
        log.warning("sign-in refused: too many failures for %r from %s", name, address)
        return render(request, "login.html", status_code=429, next=target, name=name,
                      error="För många misslyckade försök. Vänta en stund och försök igen.")
    account = await run_in_threadpool(accounts.check_password, ctx.db, name, password) \
        if name and password else None
    if account is None:
        ctx.limiter.failed(name, address)
        log.info("sign-in failed for %r from %s", name, address)
        return render(request, "login.html", status_code=400, next=target, name=name,
                      error="Fel användarnamn eller lösenord.")
    ctx.limiter.succeeded(name, address)
    await sign_in(request, User(account.name, account.role, "local"))
    log.info("signed in: %s (%s)", account.name, account.role)
    return RedirectResponse(target, 303)


async def logout(request: Request) -> Response:
    user = current_user(request)
    await sign_out(request)
    if user is not None:
        log.info("signed out: %s (%s, via %s)", user.name, user.role, user.via)
    request.session["flash"] = "Du är utloggad."
    return RedirectResponse("/logga-in", 303)


def routes() -> list[BaseRoute]:
    return [
        Route("/logga-in", login_form, methods=["GET"]),
        Route("/logga-in", login_submit, methods=["POST"]),
        Route("/logga-ut", logout, methods=["POST"]),
    ]

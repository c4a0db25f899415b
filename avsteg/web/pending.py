"""Att hantera: the pending list of spec 3 and its actions, on the go-live service.

The list and every action are :mod:`avsteg.services.pending` (the same as ``avsteg pending``);
this module only turns forms into calls and answers into Swedish. Items are addressed by their
id (``M12`` for a message, ``R3`` for a reply).
"""

from __future__ import annotations

import logging
import re

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from avsteg.services import pending as service
from avsteg.services.report_actions import reprocess_by
from avsteg.web.auth import User, require_caseworker
from avsteg.web.context import WebContext, render, web

log = logging.getLogger(__name__)
ITEM_ID = re.compile(r"^[MR]\d{1,12}$")
ACTION_LABELS = {
    "register-anyway": "Registrera ändå",
    "trust-domain": "Lita på domänen",
    "resolve": "Markera som hanterad",
    "resend": "Skicka svaret igen",
    "reprocess": "Bearbeta igen",
}
OUTCOMES = {"registered": "registrerad", "new_version": "registrerad som ny version",
            "duplicate": "fanns redan (dubblett)", "rejected": "avvisad med felsvar",
            "ignored": "inte en rapport", "failed": "misslyckades, försök igen senare"}


def _items(ctx: WebContext) -> list[service.PendingItem]:
    return service.pending_items(
        ctx.db, remind_rejected_after_days=ctx.settings.policy.remind_rejected_after_days)


def pending_page(request: Request) -> Response:
    ctx = web(request)
    items = _items(ctx)
    return render(request, "pending.html", items=items, labels=ACTION_LABELS,
                  counts=service.count_by_kind(items), kind_labels=service.KIND_LABELS)


def _item_id(request: Request) -> str:
    item_id = str(request.path_params["item"])
    if not ITEM_ID.match(item_id):
        raise HTTPException(404)
    return item_id


def _done(request: Request, message: str) -> Response:
    request.session["flash"] = message
    return RedirectResponse("/att-hantera", 303)


def _pipeline(ctx: WebContext):
    if ctx.pipeline_factory is None:
        raise HTTPException(500)
    return ctx.pipeline_factory()


def _act(ctx: WebContext, user: User, action: str, item_id: str, form: FormData) -> str:
    """Do ``action`` on the item; the Swedish sentence to show afterwards."""
    note = str(form.get("anteckning", "")).strip()[:2000] or None
    if action == "register-anyway":
        done = service.register_anyway(_pipeline(ctx), item_id, actor=user.name, reason=note)
        refs = ", ".join(done.handled.references)
        return f"Rapporten är {OUTCOMES.get(done.handled.outcome, done.handled.outcome)}" + (
            f": {refs}. Avsändaren får kvittensen." if refs else ".")
    if action == "trust-domain":
        item = service.find_item(_items(ctx), item_id)
        if not item.domain:
            raise service.NotPending("avsändaren har ingen domän")
        trusted = service.trust_domain(ctx.db, item.domain, actor=user.name, reason=note)
        registered = service.register_waiting(_pipeline(ctx), trusted, actor=user.name,
                                              reason=note)
        refs = ", ".join(r for done in registered for r in done.handled.references)
        return (f"Domänen {trusted.domain} är betrodd från och med nu."
                + (f" Väntande rapporter registrerades: {refs}." if refs else ""))
    if action == "resolve":
        if not note:
            raise ValueError("Skriv en anteckning: vad som gjordes, eller varför inget behövs.")
        service.resolve(ctx.db, item_id, actor=user.name, note=note,
                        remind_rejected_after_days=ctx.settings.policy.remind_rejected_after_days)
        return "Markerad som hanterad."
    if action == "resend":
        service.resend(ctx.db, item_id, actor=user.name, note=note)
        return "Svaret ligger i kö igen och skickas av tjänsten inom kort."
    if action == "reprocess":
        item = service.find_item(_items(ctx), item_id)
        if item.message_pk is None or "reprocess" not in item.actions:
            raise service.NotPending("det här går inte att bearbeta igen")
        result = reprocess_by(_pipeline(ctx), item.message_pk, actor=user.name, reason=note)
        return f"Meddelandet bearbetades igen: {OUTCOMES.get(result.handled.outcome, '')}."
    raise HTTPException(404)


def _action_route(action: str):
    async def endpoint(request: Request) -> Response:
        user = require_caseworker(request)
        item_id = _item_id(request)
        form = await request.form()
        ctx = web(request)
        try:
            message = await run_in_threadpool(_act, ctx, user, action, item_id, form)
        except service.NotPending:
            return _done(request, "Det finns inget sådant att hantera längre; listan är uppdaterad.")
        except ValueError as exc:
            return _done(request, str(exc))
        log.info("%s: %s on %s", user.name, action, item_id)
        return _done(request, message)

    endpoint.__name__ = f"pending_{action.replace('-', '_')}"
    return endpoint


PATHS = {
    "register-anyway": "registrera",
    "trust-domain": "lita-pa-domanen",
    "resolve": "hanterad",
    "resend": "skicka-igen",
    "reprocess": "bearbeta-igen",
}


def routes() -> list[BaseRoute]:
    return [
        Route("/att-hantera", pending_page),
        *(Route(f"/att-hantera/{{item}}/{path}", _action_route(action), methods=["POST"])
          for action, path in PATHS.items()),
    ]

"""A handläggare's actions on a report: withdraw and undo, correct a field, reprocess a message.

Every POST here starts with :func:`~avsteg.web.auth.require_caseworker` (readers get 403; a test
walks every POST route of the app as a reader) and passes the CSRF check before it gets here.
The acts themselves, with their history rows, are :mod:`avsteg.register.actions`.
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from avsteg.domain.vocabulary import OUTCOMES, word
from avsteg.services import report_actions as acts
from avsteg.web import readmodel
from avsteg.web.auth import User, require_caseworker
from avsteg.web.context import WebContext, render, web

log = logging.getLogger(__name__)


def _ref(request: Request) -> str:
    return str(request.path_params["reference"]).upper()[:32]


def _back(request: Request, ref: str, message: str) -> Response:
    request.session["flash"] = message
    return RedirectResponse(f"/rapporter/{ref}", 303)


def withdraw_form(request: Request) -> Response:
    require_caseworker(request)
    ctx = web(request)
    story = readmodel.report_story(ctx.db, ctx.schema, _ref(request))
    if story is None:
        raise HTTPException(404)
    return render(request, "withdraw.html", story=story, error=None, reason="")


async def withdraw(request: Request) -> Response:
    user = require_caseworker(request)
    ctx = web(request)
    ref = _ref(request)
    reason = str((await request.form()).get("skal", ""))[:2000]
    try:
        done = await run_in_threadpool(acts.withdraw, ctx.db, ref, actor=user.name, reason=reason)
    except LookupError as exc:
        raise HTTPException(404) from exc
    except acts.ActionRefused as exc:
        story = readmodel.report_story(ctx.db, ctx.schema, ref)
        return render(request, "withdraw.html", status_code=400, story=story, error=str(exc),
                      reason=reason)
    log.info("%s withdrew %s", user.name, ref)
    return _back(request, done.reference, done.message)


async def undo_withdraw(request: Request) -> Response:
    user = require_caseworker(request)
    ctx = web(request)
    ref = _ref(request)
    try:
        done = await run_in_threadpool(acts.undo_withdraw, ctx.db, ref, actor=user.name)
    except LookupError as exc:
        raise HTTPException(404) from exc
    except acts.ActionRefused as exc:
        return _back(request, ref, str(exc))
    return _back(request, done.reference, done.message)


def _targets(story: readmodel.Story, schema) -> list[tuple[str, str, object]]:
    """(value of the option, what a person reads, current value) for every correctable field."""
    current = story.current
    out: list[tuple[str, str, object]] = [
        (f"report.{f.key}", f.label, current.report.get(f.key)) for f in schema.report_fields]
    for i, deviation in enumerate(current.deviations, start=1):
        out += [(f"{i}.{f.key}", f"Avsteg {i}: {f.label}", deviation.get(f.key))
                for f in schema.deviation_fields]
    return out


def correct_form(request: Request) -> Response:
    require_caseworker(request)
    ctx = web(request)
    story = readmodel.report_story(ctx.db, ctx.schema, _ref(request))
    if story is None:
        raise HTTPException(404)
    return render(request, "correct.html", story=story, targets=_targets(story, ctx.schema),
                  error=None, form={})


async def correct(request: Request) -> Response:
    user = require_caseworker(request)
    ctx = web(request)
    ref = _ref(request)
    form = await request.form()
    values = {k: str(form.get(k, ""))[:2000] for k in ("falt", "varde", "skal")}
    try:
        done = await run_in_threadpool(
            acts.correct, ctx.db, ctx.schema, ref, actor=user.name, target=values["falt"],
            value=values["varde"], reason=values["skal"])
    except LookupError as exc:
        raise HTTPException(404) from exc
    except acts.ActionRefused as exc:
        story = readmodel.report_story(ctx.db, ctx.schema, ref)
        if story is None:
            raise HTTPException(404) from exc
        return render(request, "correct.html", status_code=400, story=story,
                      targets=_targets(story, ctx.schema), error=str(exc), form=values)
    return _back(request, done.reference, done.message)


async def reprocess_message(request: Request) -> Response:
    """Run a stored message of this report through the pipeline again (``avsteg reprocess``)."""
    user = require_caseworker(request)
    ctx = web(request)
    ref = _ref(request)
    message_pk = int(request.path_params["message"])
    return await run_in_threadpool(_reprocess, request, ctx, user, ref, message_pk)


def _reprocess(request: Request, ctx: WebContext, user: User, ref: str, message_pk: int
               ) -> Response:
    if readmodel.message_bytes(ctx.db, ref, message_pk) is None:
        raise HTTPException(404)
    if ctx.pipeline_factory is None:
        raise HTTPException(500)
    result = acts.reprocess_by(ctx.pipeline_factory(), message_pk, actor=user.name)
    outcome = word(OUTCOMES, result.handled.outcome)
    if result.handled.outcome == "duplicate":
        outcome = "redan registrerad (dubblett)"
    return _back(request, ref, f"Meddelandet bearbetades igen: {outcome}.")


def routes() -> list[BaseRoute]:
    return [
        Route("/rapporter/{reference}/dra-tillbaka", withdraw_form, methods=["GET"]),
        Route("/rapporter/{reference}/dra-tillbaka", withdraw, methods=["POST"]),
        Route("/rapporter/{reference}/angra-tillbakadragning", undo_withdraw, methods=["POST"]),
        Route("/rapporter/{reference}/ratta", correct_form, methods=["GET"]),
        Route("/rapporter/{reference}/ratta", correct, methods=["POST"]),
        Route("/rapporter/{reference}/meddelanden/{message:int}/bearbeta-igen",
              reprocess_message, methods=["POST"]),
    ]

"""What every route shares: the app's context object, page rendering, Swedish error pages."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from jinja2 import Environment
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, Response

from avsteg.config.settings import Settings
from avsteg.domain.figures import Summary
from avsteg.domain.schema import Schema
from avsteg.storage import Database
from avsteg.web.auth import SignInLimiter, csrf_token, current_user
from avsteg.web.readmodel import Kept
from avsteg.web.sessions import SessionStore

log = logging.getLogger(__name__)

ERROR_TEXTS = {
    400: ("Felaktig begäran", "Sidan kunde inte visas för att begäran var felaktig."),
    403: ("Åtkomst nekad", "Du har inte behörighet att göra det här. Läsare kan se allt men "
          "inte ändra något; be en handläggare om hjälp."),
    404: ("Sidan finns inte", "Sidan eller rapporten du letar efter finns inte."),
    405: ("Metoden stöds inte", "Sidan kan inte användas på det sättet."),
    429: ("För många försök", "För många misslyckade inloggningar. Vänta en stund och försök "
          "igen."),
    500: ("Något gick fel", "Ett oväntat fel inträffade. Felet är loggat; försök igen om en "
          "stund eller kontakta den som driftar tjänsten."),
}


@dataclass
class WebContext:
    """What the routes need, in one object on ``app.state.web``."""

    settings: Settings
    db: Database
    schema: Schema
    templates: Environment
    limiter: SignInLimiter
    sessions: SessionStore
    # Builds the pipeline for reprocessing and register-anyway (the worker's own wiring).
    pipeline_factory: Callable[[], Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    # Kept until the register changes: Registret's filter choices, Sammanställning's figures.
    choices: Kept[dict[str, list[Any]]] = field(default_factory=Kept)
    figures: Kept[Summary] = field(default_factory=Kept)


def web(request: Request) -> WebContext:
    return request.app.state.web  # type: ignore[no-any-return]


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    ctx = web(request)
    user = current_user(request)
    flash = request.session.pop("flash", None) if "session" in request.scope else None
    html = ctx.templates.get_template(template).render(
        request=request, user=user, csrf=csrf_token(request) if "session" in request.scope else "",
        flash=flash, path=request.url.path, **context,
    )
    return HTMLResponse(html, status_code=status_code)


def error_page(request: Request, status: int) -> Response:
    title, text = ERROR_TEXTS.get(status, ERROR_TEXTS[500])
    try:
        return render(request, "error.html", status_code=status, title=title, text=text,
                      status=status)
    except Exception:  # the error page itself must never show a traceback
        log.exception("error page failed")
        return PlainTextResponse(f"{status} {title}", status_code=status)



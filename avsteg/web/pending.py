"""Att hantera: the pending list of spec 3 with its actions (built on the go-live service)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from avsteg.web.context import render


def pending_page(request: Request) -> Response:
    return render(request, "pending.html", items=[])


def routes() -> list[BaseRoute]:
    return [Route("/att-hantera", pending_page)]

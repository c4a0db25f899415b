"""Registret (filter, search, sort, page, figures, .xlsx of the same set) and a report's page."""

from __future__ import annotations

import datetime as dt
from urllib.parse import quote, urlencode

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from avsteg.domain.vocabulary import CURRENT, WITHDRAWN
from avsteg.register.export import build_xlsx
from avsteg.web import readmodel
from avsteg.web.context import render, web
from avsteg.web.readmodel import SORTS, Filters

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = [  # (sort key, header)
    ("referens", "Referens"), ("organisation", "Förvaltning/bolag"), ("typ", "Typ av rapport"),
    ("ar", "Rapportår"), ("avsteg", "Avsteg"), ("arbetstillfallen", "Arbetstillfällen"),
    ("inkommen", "Inkommen"), ("status", "Status"),
]


def filters_from(request: Request) -> Filters:
    q = request.query_params
    year = q.get("ar", "").strip()
    page = q.get("sida", "1").strip()
    sort = q.get("sort", "inkommen")
    status = q.get("status", "")
    return Filters(
        year=int(year) if year.isdigit() else None,
        organisation=q.get("organisation", "").strip()[:200],
        report_type=q.get("typ", "").strip()[:64],
        status=status if status in (CURRENT, WITHDRAWN) else "",
        q=q.get("q", "").strip()[:200],
        sort=sort if sort in SORTS else "inkommen",
        # Newest first by default; any column can be turned around with ``ordning``.
        descending=q["ordning"] == "fallande" if "ordning" in q else sort == "inkommen",
        page=int(page) if page.isdigit() else 1,
    )


def query_of(f: Filters, **change: object) -> str:
    """The query string for ``f`` with some parameters changed (links keep the other filters)."""
    values: dict[str, object] = {
        "ar": f.year or "", "organisation": f.organisation, "typ": f.report_type,
        "status": f.status, "q": f.q, "sort": f.sort,
        "ordning": "fallande" if f.descending else "stigande", "sida": f.page,
    }
    values.update(change)
    return urlencode({k: v for k, v in values.items() if v not in ("", None, 1) or k == "sort"})


def home(request: Request) -> Response:
    return RedirectResponse("/registret", 303)


def register(request: Request) -> Response:
    ctx = web(request)
    f = filters_from(request)
    page = readmodel.register_page(ctx.db, f, ctx.settings.web.page_size, ctx.choices)
    template = "register_results.html" if request.headers.get("HX-Request") else "register.html"
    return render(request, template, f=f, page=page, columns=COLUMNS, query_of=query_of,
                  statuses=(CURRENT, WITHDRAWN))


def register_xlsx(request: Request) -> Response:
    ctx = web(request)
    f = filters_from(request)
    selected = readmodel.filtered_register(ctx.db, ctx.schema, f)
    data = build_xlsx(selected, ctx.schema, generated_at=dt.datetime.now(dt.UTC))
    name = f"avstegsregister-{dt.date.today().isoformat()}.xlsx"
    return Response(data, media_type=XLSX, headers={
        "Content-Disposition": f"attachment; filename=\"{name}\""})


def _reference(request: Request) -> str:
    ref = str(request.path_params["reference"]).upper()
    if len(ref) > 32:
        raise HTTPException(404)
    return ref


def report(request: Request) -> Response:
    ctx = web(request)
    story = readmodel.report_story(ctx.db, ctx.schema, _reference(request))
    if story is None:
        raise HTTPException(404)
    return render(request, "report.html", story=story, schema=ctx.schema)


def _download_name(name: str) -> str:
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._- ") else "_" for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def message_eml(request: Request) -> Response:
    ctx = web(request)
    ref = _reference(request)
    raw = readmodel.message_bytes(ctx.db, ref, int(request.path_params["message"]))
    if raw is None:
        raise HTTPException(404)
    return Response(raw, media_type="message/rfc822", headers={
        "Content-Disposition": _download_name(f"{ref}-meddelande-{request.path_params['message']}.eml")})


def attachment(request: Request) -> Response:
    ctx = web(request)
    found = readmodel.attachment_of(ctx.db, _reference(request), int(request.path_params["message"]),
                                    int(request.path_params["index"]))
    if found is None:
        raise HTTPException(404)
    name, _content_type, data = found
    # Always a download of opaque bytes: a file from a sender is never rendered by the browser.
    return Response(data, media_type="application/octet-stream",
                    headers={"Content-Disposition": _download_name(name)})


def routes() -> list[BaseRoute]:
    return [
        Route("/", home),
        Route("/registret", register),
        Route("/registret.xlsx", register_xlsx),
        Route("/rapporter/{reference}", report),
        Route("/rapporter/{reference}/meddelanden/{message:int}.eml", message_eml),
        Route("/rapporter/{reference}/meddelanden/{message:int}/bilagor/{index:int}", attachment),
    ]

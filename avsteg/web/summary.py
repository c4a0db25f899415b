"""Sammanställning: figures per year, organisation, typ av insats and målgrupp; the board report."""

from __future__ import annotations

import datetime as dt

from markupsafe import Markup
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from avsteg.domain.figures import Totals
from avsteg.register.board_report import build_board_report
from avsteg.web import readmodel
from avsteg.web.charts import Bar, bar_chart
from avsteg.web.context import render, web

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _year(request: Request) -> int | None:
    text = request.query_params.get("ar", "").strip()
    return int(text) if text.isdigit() and len(text) == 4 else None


def _section(key: str, title: str, heading: str, groups: dict, chart_id: str) -> dict:
    rows: list[tuple[str, Totals]] = [(str(k) if k is not None else "Utan år", t)
                                      for k, t in groups.items()]
    chart = bar_chart(f"Arbetstillfällen per {heading.lower()}",
                      [Bar(label, t.jobs_created) for label, t in rows], chart_id)
    return {"key": key, "title": title, "heading": heading, "rows": rows, "chart": Markup(chart)}


def summary_page(request: Request) -> Response:
    ctx = web(request)
    year = _year(request)
    summary = readmodel.summary_for(ctx.db, ctx.schema, year, ctx.figures)
    years = readmodel.register_years(ctx.db)
    sections = [
        _section("ar", "Per rapportår", "Rapportår", summary.by_year, "diagram-ar"),
        _section("organisation", "Per förvaltning och bolag", "Förvaltning/bolag",
                 summary.by_organisation, "diagram-organisation"),
        _section("insats", "Per typ av insats", "Typ av insats", summary.by_measure,
                 "diagram-insats"),
        _section("malgrupp", "Per målgrupp", "Målgrupp", summary.by_target_group,
                 "diagram-malgrupp"),
    ]
    return render(request, "summary.html", summary=summary, sections=sections, year=year,
                  years=years)


def board_report(request: Request) -> Response:
    ctx = web(request)
    year = _year(request)
    register = readmodel.register_for_year(ctx.db, ctx.schema, year)
    data = build_board_report(register, ctx.schema, today=dt.date.today())
    name = f"namndrapport-{year or 'alla-ar'}.docx"
    return Response(data, media_type=DOCX,
                    headers={"Content-Disposition": f"attachment; filename=\"{name}\""})


def routes() -> list[BaseRoute]:
    return [
        Route("/sammanstallning", summary_page),
        Route("/sammanstallning/namndrapport.docx", board_report),
    ]

"""Bar charts as SVG drawn on the server: no script, same numbers as the table beside them.

Each chart is a ``<figure>`` whose SVG has ``role="img"`` and a title; the table next to it is
the accessible version (WCAG 1.1.1), so the SVG's bars carry no text of their own to read out.
Presentation attributes only (no ``style``), so the Content-Security-Policy stays strict.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

BAR_HEIGHT = 22
GAP = 8
LABEL_WIDTH = 250
BAR_WIDTH = 260
VALUE_WIDTH = 60
COLOUR = "#005a9e"  # contrast 7:1 on white


@dataclass(frozen=True)
class Bar:
    label: str
    value: float


def _short(text: str, limit: int = 38) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(title: str, bars: list[Bar], chart_id: str) -> str:
    """A horizontal bar chart; its figures are printed beside the bars as well."""
    height = max(1, len(bars)) * (BAR_HEIGHT + GAP) + GAP
    width = LABEL_WIDTH + BAR_WIDTH + VALUE_WIDTH
    top = max((b.value for b in bars), default=0) or 1
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-labelledby="{chart_id}-t" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'class="chart">',
        f'<title id="{chart_id}-t">{escape(title)} (samma siffror finns i tabellen)</title>',
    ]
    for i, bar in enumerate(bars):
        y = GAP + i * (BAR_HEIGHT + GAP)
        w = 0 if bar.value <= 0 else max(2.0, BAR_WIDTH * bar.value / top)
        middle = y + BAR_HEIGHT / 2
        parts.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{middle}" text-anchor="end" '
            f'dominant-baseline="middle" font-size="13" fill="#1a1a1a">{escape(_short(bar.label))}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y}" width="{w:.1f}" height="{BAR_HEIGHT}" '
            f'fill="{COLOUR}"/>'
            f'<text x="{LABEL_WIDTH + w + 6:.1f}" y="{middle}" dominant-baseline="middle" '
            f'font-size="13" fill="#1a1a1a">{_figure(bar.value)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _figure(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", "\u00a0")
    return f"{value:.1f}".replace(".", ",")

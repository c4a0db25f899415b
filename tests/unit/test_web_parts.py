"""Small parts of the web app: the sign-in limiter, the SVG charts, Swedish number formats."""

from __future__ import annotations

import re
from decimal import Decimal
from xml.etree import ElementTree

from avsteg.web.auth import SignInLimiter
from avsteg.web.charts import Bar, bar_chart
from avsteg.web.formatting import number


def test_the_limiter_counts_per_name_and_address_and_forgets_after_the_window() -> None:
    limiter = SignInLimiter(attempts=3, window_seconds=60)
    for t in (0, 1, 2):
        assert not limiter.blocked("anna", "10.0.0.1", now=t)
        limiter.failed("Anna ", "10.0.0.1", now=t)  # names compare trimmed and case-folded
    assert limiter.blocked("ANNA", "10.0.0.1", now=3)
    assert not limiter.blocked("anna", "10.0.0.2", now=3)  # another address
    assert not limiter.blocked("bo", "10.0.0.1", now=3)  # another name from the same address
    assert not limiter.blocked("anna", "10.0.0.1", now=62)  # the window has passed


def test_one_address_trying_many_names_is_stopped_too() -> None:
    limiter = SignInLimiter(attempts=2, window_seconds=60)
    for i in range(8):
        limiter.failed(f"namn{i}", "10.0.0.9", now=i)
    assert limiter.blocked("ett-nytt-namn", "10.0.0.9", now=9)


def test_a_chart_is_valid_svg_with_one_bar_and_figure_per_value() -> None:
    svg = bar_chart("Arbetstillfällen per år", [Bar("2025", 12), Bar("Förv. <&>", 3),
                                                Bar("Noll", 0)], "c1")
    root = ElementTree.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert root.get("role") == "img" and root.get("aria-labelledby") == "c1-t"
    assert "style" not in svg  # the CSP refuses inline styles
    widths = [float(r.get("width", "0")) for r in root.iter(f"{ns}rect")]
    assert widths[0] > widths[1] > widths[2] == 0
    assert abs(widths[0] / widths[1] - 4) < 0.01  # bars in proportion to the values
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert texts == ["2025", "12", "Förv. <&>", "3", "Noll", "0"]


def test_numbers_read_the_swedish_way() -> None:
    assert number(1234567) == "1\u00a0234\u00a0567"
    assert number(Decimal("2.50")) == "2,5"
    assert number(None) == "–"
    assert re.fullmatch(r"\d+", number(7))

"""How values read on the pages: Swedish dates, times, numbers and lists."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from avsteg.domain.localtime import local_time
from avsteg.domain.vocabulary import ACTIONS, OUTCOMES, REPLY_KINDS, REPLY_STATUSES, word


def when(value: Any) -> str:
    """``2026-03-05 10:30`` in Swedish local time; ISO text is accepted too."""
    if value is None or value == "":
        return "–"
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return local_time(value).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def number(value: Any) -> str:
    """``12 345`` and ``2,5``: a space between thousands, a decimal comma."""
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, (int, Decimal, float)):
        d = Decimal(str(value))
        if d == d.to_integral_value():
            return f"{int(d):,}".replace(",", "\u00a0")
        whole, _, frac = f"{d.normalize():f}".partition(".")
        return f"{int(whole):,}".replace(",", "\u00a0") + "," + frac
    return str(value)


def value(v: Any) -> str:
    """Any stored value as a person reads it."""
    if v is None or v == "" or v == []:
        return "–"
    if isinstance(v, (list, tuple)):
        return "; ".join(str(x) for x in v)
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return number(v)
    return str(v)


def field_value(v: Any, f: Any) -> str:
    """A template field's value: numbers grouped only where the field is a number (not a year)."""
    if getattr(f, "type", None) in ("integer", "decimal"):
        return value(v)
    if isinstance(v, (int, float, Decimal)) and not isinstance(v, bool):
        return str(v)
    return value(v)


def action(name: str) -> str:
    return word(ACTIONS, name)


def size(n: int) -> str:
    if n < 1024:
        return f"{n} byte"
    if n < 1024 * 1024:
        return f"{number(round(n / 1024))} kB"
    return f"{number(round(n / 1024 / 1024, 1))} MB"


FILTERS = {
    "when": when, "number": number, "value": value, "field_value": field_value, "action": action, "size": size,
    "outcome": lambda v: word(OUTCOMES, v) or "–",
    "reply_kind": lambda v: word(REPLY_KINDS, v),
    "reply_status": lambda v: word(REPLY_STATUSES, v),
}

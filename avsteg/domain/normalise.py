"""Raw cell values, as people type them, to the normalised values of spec 2.4.

Readers hand over what they found: Word gives one string per paragraph of a value cell, Excel
gives typed cells (str, int, float, bool, date/datetime). Each function here takes either shape
and returns a normalised value, ``None`` for an empty cell, or raises :class:`Invalid` naming the
schema message (``kind``) and the text the person will see quoted back (``value``).

Everything is pure standard library so the domain validator may import it.
"""
from __future__ import annotations

import datetime as dt
import math
import re
import unicodedata
from decimal import Decimal
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    pass


QUOTE_LIMIT = 80


class Invalid(ValueError):
    """Raised when a value is present but cannot be read as the field's type.

    ``kind`` is a key of ``schema.messages`` (``invalid_date``, ``negative``, …); ``value`` is the
    text quoted back to the sender; ``extra`` carries further message arguments.
    """

    def __init__(self, kind: str, value: str, **extra: object) -> None:
        if len(value) > QUOTE_LIMIT:  # a reply quotes what was found, not a whole pasted page
            value = value[: QUOTE_LIMIT - 1].rstrip() + "…"
        super().__init__(f"{kind}: {value!r}")
        self.kind = kind
        self.value = value
        self.extra = extra


class Number(NamedTuple):
    """A count or amount; ``approximate`` when the person wrote `ca 5`, `~5`, … (a warning).

    A NamedTuple rather than a frozen dataclass: one is built per number cell, a hot path.
    """

    value: int | Decimal
    approximate: bool = False


# Characters people (and Word) put where a space is meant, and invisible ones at the edges.
_SPACES = dict.fromkeys(map(ord, "\u00a0\u202f\u2007\u2009\u200a\u2002\u2003\u3000\t"), " ")
_INVISIBLE = "\u200b\u200c\u200d\u2060\ufeff"


def _clean_edges(text: str) -> str:
    return text.strip().strip(_INVISIBLE).strip()


def is_blank(raw: Any) -> bool:
    """Whether the cell was left empty (None, "", whitespace, or only empty paragraphs)."""
    if raw is None:
        return True
    if isinstance(raw, str):
        return not _clean_edges(raw)
    if isinstance(raw, (list, tuple)):
        for item in raw:
            if type(item) is str:  # a Word cell's lines: no call per line
                if item.strip().strip(_INVISIBLE).strip():
                    return False
            elif not is_blank(item):
                return False
        return True
    return False


def as_text(raw: Any) -> str | None:
    """The value as text: paragraphs joined by newlines, trimmed, inner whitespace as written."""
    return None if is_blank(raw) else text_of(raw)


def text_of(raw: Any) -> str | None:
    """:func:`as_text` of a value already known not to be blank (the check is done once)."""
    if isinstance(raw, str):
        text = raw
    elif isinstance(raw, (list, tuple)):
        if len(raw) == 1 and isinstance(raw[0], str):
            text = raw[0]  # a one-paragraph Word cell: joining one line is that line
        else:
            text = "\n".join(["" if item is None else str(item) for item in raw])
    elif isinstance(raw, bool):
        text = "Ja" if raw else "Nej"
    elif isinstance(raw, float) and raw.is_integer():
        text = str(int(raw))
    elif isinstance(raw, dt.datetime):
        text = raw.date().isoformat() if raw.time() == dt.time() else raw.isoformat(" ")
    elif isinstance(raw, dt.date):
        text = raw.isoformat()
    else:
        text = str(raw)
    return _clean_edges(unicodedata.normalize("NFC", text)) or None


def normalise_text(raw: Any) -> str | None:
    return as_text(raw)


_WHITESPACE = re.compile(r"\s+")


def one_line(shown: str | None) -> str | None:
    """Text of a one-value cell, runs of any whitespace (also NBSP, line breaks) as one space."""
    return None if shown is None else _WHITESPACE.sub(" ", shown.translate(_SPACES))


# ---------------------------------------------------------------- dates

_MONTHS = {
    **dict.fromkeys(("januari", "jan", "january"), 1),
    **dict.fromkeys(("februari", "feb", "febr", "february"), 2),
    **dict.fromkeys(("mars", "mar", "march"), 3),
    **dict.fromkeys(("april", "apr"), 4),
    **dict.fromkeys(("maj", "may"), 5),
    **dict.fromkeys(("juni", "jun", "june"), 6),
    **dict.fromkeys(("juli", "jul", "july"), 7),
    **dict.fromkeys(("augusti", "aug", "august"), 8),
    **dict.fromkeys(("september", "sep", "sept"), 9),
    **dict.fromkeys(("oktober", "okt", "october", "oct"), 10),
    **dict.fromkeys(("november", "nov"), 11),
    **dict.fromkeys(("december", "dec"), 12),
}
_SEP = r"\s*[-/.–−]\s*"
_YMD = re.compile(rf"(\d{{4}}){_SEP}(\d{{1,2}}){_SEP}(\d{{1,2}})")
_YMD_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_ISO_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_DMY = re.compile(rf"(\d{{1,2}}){_SEP}(\d{{1,2}}){_SEP}(\d{{4}}|\d{{2}})")
_D_MONTH_Y = re.compile(r"(\d{1,2})(?::[ae]|\.)?[\s.-]*([^\W\d_]+)\.?[\s,.-]*(\d{4}|\d{2})")
_PREFIX = re.compile(r"^(?:(?:mån|tis|ons|tors|fre|lör|sön)dag(?:en)?\s*,?\s*)?(?:den\s+)?")
_TIME = re.compile(r"(?:[ t]|\s+kl\.?\s*)\d{1,2}[:.]\d{2}(?:[:.]\d{2}(?:\.\d+)?)?$")
# Excel serial numbers accepted as dates: 1950-01-01 … 2100-12-31 in the 1900 system.
_SERIAL_MIN, _SERIAL_MAX = 18264, 73415


def _year4(text: str) -> int:
    year = int(text)
    return 2000 + year if len(text) == 2 else year


def excel_serial_to_date(serial: float, *, date1904: bool = False) -> dt.date:
    base = dt.date(1904, 1, 1) if date1904 else dt.date(1899, 12, 30)
    return base + dt.timedelta(days=math.floor(serial))


def normalise_date(raw: Any, *, date1904: bool = False) -> dt.date | None:
    """A date from an Excel date, an Excel serial number, or text in the Swedish styles."""
    return None if is_blank(raw) else date_value(raw, text_of(raw), date1904=date1904)


def date_value(raw: Any, shown: str | None, *, date1904: bool = False) -> dt.date:
    """:func:`normalise_date` of a non-blank ``raw`` whose ``shown = text_of(raw)`` is known."""
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    if isinstance(raw, (int, float, Decimal)) and not isinstance(raw, bool):
        if isinstance(raw, float) and not math.isfinite(raw):
            raise Invalid("invalid_date", str(raw))
        if float(raw) == int(raw) and 10_000_000 <= int(raw) <= 99_999_999:
            return normalise_date(str(int(raw)))  # type: ignore[return-value]  # 20260305 in a number cell
        offset = 1462 if date1904 else 0  # the 1904 system counts 1462 days fewer
        if _SERIAL_MIN <= float(raw) + offset <= _SERIAL_MAX:
            return excel_serial_to_date(float(raw), date1904=date1904)
        raise Invalid("invalid_date", shown or str(raw))
    parts: tuple[int, int, int] | None = None
    if shown is not None and (m := _ISO_DATE.fullmatch(shown)):
        parts = int(m[1]), int(m[2]), int(m[3])  # as the template asks; what _YMD makes of it
    else:
        text = _PREFIX.sub("", (one_line(shown) or "").casefold()).rstrip(".")
        text = _TIME.sub("", text).strip()
        if m := _YMD.fullmatch(text) or _YMD_COMPACT.fullmatch(text):
            parts = int(m[1]), int(m[2]), int(m[3])
        elif m := _DMY.fullmatch(text):
            parts = _year4(m[3]), int(m[2]), int(m[1])
        elif (m := _D_MONTH_Y.fullmatch(text)) and m[2] in _MONTHS:
            parts = _year4(m[3]), _MONTHS[m[2]], int(m[1])
    if parts is None:
        raise Invalid("invalid_date", shown or "")
    try:
        return dt.date(*parts)
    except ValueError:
        raise Invalid("invalid_date", shown or "") from None


# ---------------------------------------------------------------- numbers

_APPROX = re.compile(
    r"^(?:ca\.?|c:a|c\.a\.?|cirka|circa|ungefär|ung\.|runt|omkring|drygt|knappt|"
    r"uppskattningsvis|approx\.?|~|≈)\s*"
)
_ZERO_WORDS = {"inga", "ingen", "inget", "noll"}
_NUMERAL = r"[-−–]?\s*\d[\d ]*(?:[.,]\d[\d ]*)*"
_NUMBER = re.compile(rf"(?P<num>{_NUMERAL})?\s*(?P<unit>[^\W\d_]+\.?(?:\s+[^\W\d_]+\.?){{0,3}})?")
_DASHES = {"-", "−", "–", "—"}
_NANO = Decimal("1e-9")


# (group separator, decimal point, `1.200,5`-style pattern, `1.200.000`-style pattern)
_GROUPED = tuple(
    (group, point,
     re.compile(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})+{re.escape(point)}\d+"),
     re.compile(rf"\d{{1,3}}(?:{re.escape(group)}\d{{3}})+"))
    for group, point in ((".", ","), (",", "."))
)
_PLAIN_NUMERAL = re.compile(r"\d{1,3}(?: \d{3})+(?:[.,]\d+)?|\d+(?:[.,]\d+)?")
_ZERO_PHRASE = re.compile(r"[^\W\d_\s.]+[\w\s.]*")


def _numeral(body: str, *, integer: bool) -> Decimal | None:
    """Digits with Swedish or English separators → Decimal, or None when not a number."""
    s = body.strip()
    for group, point, with_point, thousands in _GROUPED:
        if with_point.fullmatch(s):  # 1.200,5 / 1,200.5
            return Decimal(s.replace(group, "").replace(point, "."))
        # 1.200.000 is always thousands; 1.200 only in a count (nobody means 1,2 people)
        if thousands.fullmatch(s) and (integer or s.count(group) > 1):
            return Decimal(s.replace(group, ""))
    if _PLAIN_NUMERAL.fullmatch(s):
        return Decimal(s.replace(" ", "").replace(",", "."))
    return None


def _tidy(value: Decimal) -> Decimal:
    return Decimal(int(value)) if value == value.to_integral_value() else value.normalize()


_TOO_BIG = 10**15


def _parse_number(raw: Any, shown: str | None, *, integer: bool, kind: str) -> tuple[Decimal, bool] | None:
    """(value, approximate) of a non-blank ``raw`` or None; raises Invalid(kind) or Invalid("negative")."""
    quoted = shown or ""
    if isinstance(raw, (bool, dt.date, dt.datetime)):
        raise Invalid(kind, quoted)
    if isinstance(raw, (int, float, Decimal)):
        if isinstance(raw, float):
            if not math.isfinite(raw) or abs(raw) >= _TOO_BIG:
                raise Invalid(kind, quoted)
            value = Decimal(repr(raw)).quantize(_NANO)
        else:
            value = Decimal(raw)
        approximate = False
    else:
        text = (one_line(shown) or "").casefold().rstrip(".").strip()
        if text.isascii() and text.isdigit():  # plain digits, by far the most common
            value, approximate = Decimal(text), False
        else:
            if text in _DASHES:
                return None  # a lone dash means "nothing to report" in Swedish forms
            approximate = bool(_APPROX.match(text))
            text = _APPROX.sub("", text)
            if text.split(" ", 1)[0] in _ZERO_WORDS and _ZERO_PHRASE.fullmatch(text):
                return Decimal(0), approximate
            m = _NUMBER.fullmatch(text)
            body = (m["num"] or "") if m else ""
            negative = body[:1] in _DASHES
            value_or_none = _numeral(body.lstrip("-−–").strip(), integer=integer) if body else None
            if value_or_none is None:
                raise Invalid(kind, quoted)
            value = -value_or_none if negative else value_or_none
    if value < 0:
        raise Invalid("negative", quoted)
    if value >= _TOO_BIG:  # no count in a report is this big; Decimal arithmetic would overflow
        raise Invalid(kind, quoted)
    if integer and value != value.to_integral_value():
        raise Invalid(kind, quoted)
    return _tidy(value), approximate


def integer_value(raw: Any, shown: str | None) -> Number | None:
    """:func:`normalise_integer` of a non-blank ``raw`` whose ``shown = text_of(raw)`` is known."""
    if shown is not None and shown.isascii() and shown.isdigit() and isinstance(raw, (str, list, tuple)):
        # Plain digits typed as text, by far the most common: what _parse_number makes of them.
        if len(shown) > 15 and int(shown) >= _TOO_BIG:
            raise Invalid("invalid_integer", shown)
        return Number(int(shown))
    parsed = _parse_number(raw, shown, integer=True, kind="invalid_integer")
    return None if parsed is None else Number(int(parsed[0]), parsed[1])


def decimal_value(raw: Any, shown: str | None) -> Number | None:
    """:func:`normalise_decimal` of a non-blank ``raw`` whose ``shown = text_of(raw)`` is known."""
    parsed = _parse_number(raw, shown, integer=False, kind="invalid_decimal")
    return None if parsed is None else Number(parsed[0], parsed[1])


def normalise_integer(raw: Any) -> Number | None:
    return None if is_blank(raw) else integer_value(raw, text_of(raw))


def normalise_decimal(raw: Any) -> Number | None:
    return None if is_blank(raw) else decimal_value(raw, text_of(raw))


_YEAR_TEXT = re.compile(r"(?:[^\W\d_]+:?\s*)?(\d{4})")


def normalise_year(raw: Any, *, date1904: bool = False) -> int | None:
    """A four-digit year from a number, text (`2026`, `år 2026`) or a date."""
    return None if is_blank(raw) else year_value(raw, text_of(raw), date1904=date1904)


def year_value(raw: Any, shown: str | None, *, date1904: bool = False) -> int:
    """:func:`normalise_year` of a non-blank ``raw`` whose ``shown = text_of(raw)`` is known."""
    if isinstance(raw, (dt.date, dt.datetime)):
        day = raw.date() if isinstance(raw, dt.datetime) else raw
        # 2026 typed into a date-styled cell shows up as 1905-07-18: read the serial back.
        serial = (day - (dt.date(1904, 1, 1) if date1904 else dt.date(1899, 12, 30))).days
        return serial if day.year < 1950 and 1000 <= serial <= 9999 else day.year
    if isinstance(raw, bool):
        raise Invalid("invalid_year", shown or "")
    if isinstance(raw, (int, float, Decimal)):
        if math.isfinite(raw) and 1000 <= raw <= 9999 and float(raw) == int(raw):
            return int(raw)
        raise Invalid("invalid_year", shown or "")
    text = (one_line(shown) or "").casefold().rstrip(".")
    if m := _YEAR_TEXT.fullmatch(text):
        return int(m[1])
    try:
        return date_value(raw, shown, date1904=date1904).year
    except Invalid:
        raise Invalid("invalid_year", shown or "") from None


__all__ = [
    "Invalid",
    "Number",
    "as_text",
    "date_value",
    "decimal_value",
    "excel_serial_to_date",
    "integer_value",
    "is_blank",
    "normalise_date",
    "normalise_decimal",
    "normalise_integer",
    "normalise_text",
    "normalise_year",
    "text_of",
    "year_value",
]

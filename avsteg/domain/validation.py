"""A found template → a :class:`ParsedReport`: normalised values, errors and warnings (spec 2.1).

Every rule is read from the schema (``required``/``required_for``, ``min``, ``max_offset_years``,
``not_before``, ``sum_of``, ``warn_missing``, ``type``, ``options``), so a relabelled or added
field needs no code. The hidden contract is *one error per defect*: a value that cannot be read
gets exactly one error, and rules that compare fields (``not_before``, ``sum_of``, the year range)
stay silent when a field they compare is empty or unreadable, because that field has its own error.

Choices made here, where the spec leaves room:

* ``sum_of``: the error is on the field that carries ``sum_of`` (the whole, e.g. jobs_created),
  and the message lists the parts that were filled in;
* the report year of a report whose year is not required is taken from the earliest date among
  the deviation date fields required in a Händelserapport; if that year is out of range, the error
  is on that deviation date (the field the person filled in), not on the empty year;
* the organisation is compared with ``schema.known_organisations`` (a warning only), on the report
  field :data:`ORGANISATION_KEY`.
"""
from __future__ import annotations

import datetime as dt
import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

from avsteg.domain import identifiers as ids
from avsteg.domain import normalise as n
from avsteg.domain.choices import chosen_in
from avsteg.domain.report import FoundTemplate, ParsedReport, Problem
from avsteg.domain.schema import Field, Schema

# The report field the known-organisations list applies to (the list is not tied to a field in
# schema.toml); when a schema has no such field the check is simply skipped.
ORGANISATION_KEY = "organisation"


class Cell(NamedTuple):
    """One field's outcome: its normalised value, or the reason it could not be read.

    A NamedTuple rather than a frozen dataclass: a report has a hundred or so of these, and a
    tuple is built several times faster.
    """

    value: Any = None  # None when empty or unreadable; [] never appears (empty choice → None)
    error: n.Invalid | None = None
    approximate: bool = False
    shown: str | None = None  # the value as written, quoted in warnings

    @property
    def empty(self) -> bool:
        return self.value is None and self.error is None


_EMPTY = Cell()


def _choice(raw: Any, f: Field) -> Any:
    chosen = chosen_in(raw, f)
    if f.type == "choice" and len(chosen) > 1:
        raise n.Invalid("choice_many", ", ".join(chosen))
    if not chosen:
        return None
    return chosen[0] if f.type == "choice" else chosen


# Field type → normaliser of a non-blank raw value and its text (``n.text_of``), computed once
# per cell. Numbers come back as n.Number (value + approximate).
Normaliser = Callable[[Any, "str | None", FoundTemplate], Any]
NORMALISERS: dict[str, Normaliser] = {
    "text": lambda raw, shown, found: shown,
    "phone": lambda raw, shown, found: ids.phone_value(raw, shown),
    "email": lambda raw, shown, found: ids.email_value(raw, shown),
    "orgnr": lambda raw, shown, found: ids.orgnr_value(raw, shown),
    "date": lambda raw, shown, found: n.date_value(raw, shown, date1904=found.date1904),
    "year": lambda raw, shown, found: n.year_value(raw, shown, date1904=found.date1904),
    "integer": lambda raw, shown, found: n.integer_value(raw, shown),
    "decimal": lambda raw, shown, found: n.decimal_value(raw, shown),
}


def normalise_cell(raw: Any, f: Field, found: FoundTemplate) -> Cell:
    if type(raw) is list and len(raw) == 1 and type(raw[0]) is str:
        # A one-line Word cell, the common case: its text is empty exactly when it is blank
        # (NFC changes no blank character into a visible one), so one look at it decides both.
        shown = n.text_of(raw[0])
        if shown is None:
            return _EMPTY
    elif n.is_blank(raw):
        return _EMPTY  # every normaliser reads a blank cell as None
    else:
        shown = None if f.is_choice else n.text_of(raw)
    if f.is_choice:
        # A choice needs the cell's text only to quote it in an error (``shown`` is for numbers).
        try:
            return Cell(value=_choice(raw, f))
        except n.Invalid as exc:
            return Cell(error=exc)
    if f.type == "text":  # most fields: the text is the value (NORMALISERS["text"], no call)
        return Cell(value=shown, shown=shown)
    try:
        value = NORMALISERS[f.type](raw, shown, found)
    except n.Invalid as exc:
        return Cell(error=exc, shown=shown)
    if isinstance(value, n.Number):
        return Cell(value=value.value, approximate=value.approximate, shown=shown)
    return Cell(value=value, shown=shown)


def show(value: Any) -> str:
    """A normalised value as a Swedish reader expects it in a message."""
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, Decimal):
        return format(value, "f").replace(".", ",")
    if isinstance(value, (list, tuple)):
        return ", ".join(map(show, value))
    return str(value)


class _Blank(dict):  # a message that names an argument we do not have prints it empty
    def __missing__(self, key: str) -> str:
        return ""


@dataclass
class _Checker:
    schema: Schema
    report_type: str | None
    today: dt.date
    errors: list[Problem]
    warnings: list[Problem]

    def message(self, kind: str, f: Field | None, **values: object) -> str:
        if f is not None:
            values.setdefault("label", f.label)
            values.setdefault("options", ", ".join(f.options))
            values.setdefault("min", show(int(f.min)) if f.min is not None else "")
            values.setdefault("max", show(self.year_max(f) or ""))
        return self.schema.messages[kind].format_map(_Blank(values))

    def error(self, f: Field, deviation: int | None, kind: str, **values: object) -> None:
        self.errors.append(Problem(f.key, deviation, f.label, self.message(kind, f, **values)))

    def warn(self, f: Field, deviation: int | None, kind: str, **values: object) -> None:
        self.warnings.append(Problem(f.key, deviation, f.label, self.message(kind, f, **values)))

    def year_max(self, f: Field) -> int | None:
        return None if f.max_offset_years is None else self.today.year + f.max_offset_years

    def check(self, fields: tuple[Field, ...], cells: Mapping[str, Cell], dev: int | None) -> None:
        """Every single-field and cross-field rule for one scope (the report or one deviation)."""
        for f in fields:
            cell = cells[f.key]
            if cell.error is not None:
                self.error(f, dev, cell.error.kind, value=cell.error.value, **cell.error.extra)
            elif cell.empty:
                if f.required_for(self.report_type, self.schema.kinds):
                    kind = {"choice": "choice_missing", "multichoice": "multichoice_missing"}
                    self.error(f, dev, kind.get(f.type, "required"))
                elif f.warn_missing:
                    self.warn(f, dev, "warn_missing")
            elif self.check_value(f, cell, cells, dev) and cell.approximate:
                self.warn(f, dev, "warn_approximate", value=cell.shown, number=show(cell.value))

    def check_value(self, f: Field, cell: Cell, cells: Mapping[str, Cell], dev: int | None) -> bool:
        """Range, not_before and sum_of rules for a readable value; False when one failed."""
        value = cell.value
        if f.type == "year" and not self.year_in_range(f, value):
            self.error(f, dev, "year_range", value=value)
            return False
        if f.type in ("integer", "decimal") and f.min is not None and value < f.min:
            self.error(f, dev, "below_min" if "below_min" in self.schema.messages else "negative",
                       value=cell.shown)
            return False
        other = cells.get(f.not_before) if f.not_before else None
        if other is not None and other.value is not None and value < other.value:
            of = self.schema.field(f.not_before)  # type: ignore[arg-type]
            self.error(f, dev, "not_before", value=show(value), other_label=of.label,
                       other_value=show(other.value))
            return False
        if f.sum_of:
            parts = [(self.schema.field(k), cells[k]) for k in f.sum_of if k in cells]
            if all(c.error is None for _, c in parts):
                filled = [(pf, c.value) for pf, c in parts if c.value is not None]
                total = sum(v for _, v in filled)
                if filled and total > value:
                    names = [pf.label for pf, _ in filled]
                    joined = " och ".join(filter(None, [", ".join(names[:-1]), names[-1]]))
                    self.error(f, dev, "sum_exceeds", parts=joined, total=show(total),
                               value=show(value))
                    return False
        return True

    def year_in_range(self, f: Field, year: int) -> bool:
        top = self.year_max(f)
        return (f.min is None or year >= f.min) and (top is None or year <= top)


def _report_type(schema: Schema, cells: Mapping[str, Cell]) -> str | None:
    """The chosen kind, from the report choice field whose options are the template kinds."""
    kinds = set(schema.kinds.values())
    for f in schema.report_fields:
        if f.type == "choice" and kinds <= set(f.options) and cells[f.key].value in kinds:
            return cells[f.key].value
    return None


def _derive_years(
    report: dict[str, Cell], deviations: list[dict[str, Cell]], checker: _Checker
) -> set[str]:
    """Fill empty, optional year fields from the earliest event date; returns the keys filled."""
    schema = checker.schema
    event_dates = [
        f for f in schema.deviation_fields
        if f.type == "date" and f.required_for(schema.kinds.get("event"), schema.kinds)
    ]
    dated = sorted(
        (cells[f.key].value, number, f)
        for number, cells in enumerate(deviations, 1)
        for f in event_dates
        if cells[f.key].value is not None
    )
    filled: set[str] = set()
    for f in schema.report_fields:
        cell = report[f.key]
        if f.type != "year" or not cell.empty or f.required_for(checker.report_type, schema.kinds):
            continue
        if not dated:
            continue
        earliest, number, date_field = dated[0]
        report[f.key] = Cell(value=earliest.year)
        filled.add(f.key)
        if not checker.year_in_range(f, earliest.year):
            checker.error(date_field, number, "year_range", value=earliest.year,
                          min=show(int(f.min)) if f.min is not None else "",
                          max=show(checker.year_max(f) or ""))
    return filled


_PUNCTUATION = re.compile(r"[^\w\s]")
_CITY_PREFIX = re.compile(r"^göteborgs stads?\s+(?=\w)")
_DISTRICT = re.compile(r"\bstadsdel\b")
_ORGANISATION_WORDS = re.compile(r"s?förvaltning(?:en)?\b|\b(?:ab|aktiebolag|sdf)\b")


def _fold_organisation(name: str) -> str:
    text = name.casefold().replace("&", " och ")
    text = _PUNCTUATION.sub(" ", text)
    text = _CITY_PREFIX.sub("", " ".join(text.split()))
    text = _ORGANISATION_WORDS.sub(" ", text)
    text = _DISTRICT.sub(" ", text)  # `SDF Majorna-Linné`, `Stadsdelsförvaltningen Angered`
    return " ".join(text.split())


def known_organisation(name: str, known: tuple[str, ...]) -> bool:
    """Whether ``name`` is one of ``known``, forgiving case, spacing, `AB`, `förvaltningen`, typos."""
    folded = _fold_organisation(name)
    if not folded:
        return False
    candidates = _folded_known(known)
    if folded in candidates:
        return True
    matcher = difflib.SequenceMatcher(None, b=folded)  # b is indexed once, compared many times
    for other in candidates:
        if 2 * min(len(other), len(folded)) < 0.88 * (len(other) + len(folded)):
            continue  # lengths alone rule out a ratio of 0.88
        matcher.set_seq1(other)
        if matcher.quick_ratio() >= 0.88 and matcher.ratio() >= 0.88:
            return True
    return False


@lru_cache(maxsize=8)
def _folded_known(known: tuple[str, ...]) -> frozenset[str]:
    return frozenset(f for f in map(_fold_organisation, known) if f)


def validate(found: FoundTemplate, schema: Schema, *, file: str, today: dt.date) -> ParsedReport:
    """Normalise every field and apply every rule of the schema; never raises for bad input."""
    report = {f.key: normalise_cell(found.report.get(f.key), f, found) for f in schema.report_fields}
    blocks = [
        {f.key: normalise_cell(raw.get(f.key), f, found) for f in schema.deviation_fields}
        for raw in found.deviations
    ]
    # Blank tables and rows are ignored; a wholly blank template still lists its required fields.
    deviations = [b for b in blocks if not all(c.empty for c in b.values())] or blocks[:1]
    checker = _Checker(schema, _report_type(schema, report), today, [], [])

    derived = _derive_years(report, deviations, checker)
    derived_errors = checker.errors
    checker.errors = []
    checker.check(tuple(f for f in schema.report_fields if f.key not in derived), report, None)
    organisation = report.get(ORGANISATION_KEY)
    if (
        organisation is not None
        and isinstance(organisation.value, str)
        and schema.known_organisations
        and not known_organisation(organisation.value, schema.known_organisations)
    ):
        checker.warn(schema.field(ORGANISATION_KEY), None, "warn_unknown_organisation",
                     value=organisation.value)
    if not deviations:
        checker.errors.append(Problem(None, None, None, checker.message("no_deviations", None)))
    for number, cells in enumerate(deviations, 1):
        checker.check(schema.deviation_fields, cells, number)
    # Report before deviations, each deviation's problems in template order.
    order = {f.key: i for i, f in enumerate(schema.fields)}
    checker.errors = sorted(
        checker.errors + derived_errors,
        key=lambda p: (p.deviation or 0, order.get(p.field or "", -1)),
    )

    return ParsedReport(
        file=file,
        format=found.format,
        status="rejected" if checker.errors else "accepted",
        template_version=found.version,
        report={key: cell.value for key, cell in report.items()},
        deviations=[{key: cell.value for key, cell in cells.items()} for cells in deviations],
        errors=checker.errors,
        warnings=checker.warnings,
    )

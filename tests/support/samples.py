"""Canonical values for round-trip tests: every key of the schema, valid under spec 2.1.

Generated from the schema (types, options, cross-field rules ``not_before`` and ``sum_of``), so
an added field gets values too. Kept apart from :mod:`tests.support.fill`, which renders them.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from avsteg.config.schema import default_schema
from avsteg.domain.report import jsonable
from avsteg.domain.schema import Field, Schema

SAMPLE_YEAR = 2025  # inside 2016..next year whenever the tests run

_TEXTS: dict[str, tuple[str, ...]] = {
    "contact_name": ("Anna Svensson", "Mohammed Ali", "Karin Lindqvist", "Erik Johansson"),
    "procurement": (
        "Städtjänster 2025",
        "Ramavtal markentreprenad",
        "Skolmåltider Hisingen",
        "Fastighetsskötsel Centrum",
        "Vinterväghållning",
    ),
    "supplier": (
        "Städ AB",
        "Grönyta Väst AB",
        "Måltidsbolaget i Göteborg AB",
        "Bygg & Mark Sverige AB",
        "Fönsterputs Öst HB",
    ),
    "reason": (
        "Leverantören hade redan ett eget program för arbetsträning.",
        "Uppdraget var för kort för att gå via stödfunktionen.",
        "Förvaltningen samarbetade redan med en lokal aktör.",
    ),
    "model_used": (
        "Leverantörens egen modell",
        "Direkt samarbete med Arbetsförmedlingen",
        "Jobbtorgets matchning",
    ),
    "partners": ("Arbetsförmedlingen", "Jobbtorg Göteborg", "Stadsmissionen"),
    "other_results": (
        "Två personer gick vidare till studier.",
        "Leverantören anställde en handledare.",
    ),
    "comment": ("Kontakt tagen med stödfunktionen i efterhand.", "Avtalet förlängdes under året."),
}


def _luhn_digit(nine: str) -> str:
    total = 0
    for i, ch in enumerate(nine):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def sample_orgnr(rng: random.Random) -> str:
    """A Luhn-valid organisationsnummer `NNNNNN-NNNN` (third digit ≥ 2, as for companies)."""
    nine = (
        rng.choice("5282")
        + str(rng.randint(0, 9))
        + str(rng.randint(2, 9))
        + "".join(str(rng.randint(0, 9)) for _ in range(6))
    )
    ten = nine + _luhn_digit(nine)
    return f"{ten[:6]}-{ten[6:]}"


def _sample_value(f: Field, rng: random.Random, schema: Schema, kind: str, year: int) -> Any:
    if f.type == "choice":
        if schema.kinds[kind] in f.options:  # the report type field, whatever it is called
            return schema.kinds[kind]
        return rng.choice(f.options)
    if f.type == "multichoice":
        chosen = set(rng.sample(f.options, k=rng.randint(1, min(3, len(f.options)))))
        return [o for o in f.options if o in chosen]
    if f.type == "year":
        return year
    if f.type == "date":
        return dt.date(year, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
    if f.type == "integer":
        return rng.randint(int(f.min or 0), 12)
    if f.type == "decimal":
        return Decimal(rng.randint(0, 48)) / 2
    if f.type == "orgnr":
        return sample_orgnr(rng)
    if f.type == "email":
        return f"{rng.choice(('anna.svensson', 'k.lindqvist', 'erik.j'))}@ink.goteborg.se"
    if f.type == "phone":
        return f"031-365 {rng.randint(10, 99)} {rng.randint(10, 99)}"
    if f.key == "case_number":
        return f"{rng.randint(100, 1999):04d}/{year % 100}"
    if f.key == "organisation" and schema.known_organisations:
        return rng.choice(schema.known_organisations)
    pool = _TEXTS.get(f.key)
    return rng.choice(pool) if pool else f"Exempel på {f.label.lower()} {rng.randint(1, 99)}"


_OTHER_TEXTS = ("mentorskap", "Studiebesök hos leverantören", "hemlösa", "Unga i Angered")


def _optional(f: Field, kind: str) -> bool:
    """May be left empty. A year is always given: an empty one in a Händelserapport is derived
    from the deviation dates, which would make the expected value differ from None."""
    if f.type == "year":
        return False
    return f.required is False or (f.required in ("event", "annual") and f.required != kind)


def _sample_record(
    fields: tuple[Field, ...], rng: random.Random, schema: Schema, kind: str, big: bool
) -> dict[str, Any]:
    record: dict[str, Any] = {}
    for f in fields:
        keep = not _optional(f, kind) or f.warn_missing or rng.random() >= 0.2
        record[f.key] = _sample_value(f, rng, schema, kind, SAMPLE_YEAR) if keep else None
    for f in fields:  # what `Annat` is: only when it was chosen, and not always said
        if f.describes is not None:
            chosen = record.get(f.describes) or []
            said = f.describes_option in chosen and rng.random() >= 0.3
            record[f.key] = rng.choice(_OTHER_TEXTS) if said else None
    for f in fields:  # cross-field rules, read from the schema
        value, other = record.get(f.key), record.get(f.not_before or "")
        if value is not None and other is not None and value < other:
            record[f.key] = other + dt.timedelta(days=rng.randint(30, 400))
        if f.sum_of and record[f.key] is not None:
            parts = sum(record.get(k) or 0 for k in f.sum_of)
            record[f.key] = parts + rng.randint(0, 4) + (1150 if big else 0)
    return record


def sample_report(
    schema: Schema | None = None, kind: str = "event", n_deviations: int = 1, seed: int = 0
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Canonical values for every report and deviation key, valid under every rule of spec 2.1.

    Values are Python values as the validator produces them: ``datetime.date``, ``int``,
    ``Decimal``, lists of option names in schema order, orgnr ``NNNNNN-NNNN``, trimmed text,
    ``None`` for some optional fields. The first deviation's job count is ≥ 1000 so that the
    "spaced" number style has a thousands separator to write. Compare with
    :func:`expected_json`.
    """
    schema = schema or default_schema()
    rng = random.Random(f"{seed}:{kind}:{n_deviations}")
    report = _sample_record(schema.report_fields, rng, schema, kind, big=False)
    deviations = [
        _sample_record(schema.deviation_fields, rng, schema, kind, big=(i == 0))
        for i in range(n_deviations)
    ]
    return report, deviations


def expected_json(
    report: dict[str, Any], deviations: list[dict[str, Any]]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """What ``avsteg parse --json`` prints for these canonical values (spec 2.4)."""
    return (
        {k: jsonable(v) for k, v in report.items()},
        [{k: jsonable(v) for k, v in d.items()} for d in deviations],
    )

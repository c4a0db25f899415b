"""The figures of the register: totals per organisation, year, typ av insats and målgrupp.

Two places sum them. A loaded :class:`~avsteg.domain.register.Register` (the export's sheet,
the board report) is summed here in Python by :func:`summarise`; the web app's
Sammanställning asks the database for the same sums grouped by organisation spelling and
year (:class:`Slice`) and by option, because loading a year of reports as rows to count them
took seconds on a large register. Both end in :func:`summary_of`, so the rules that are not
plain sums (which spelling of an organisation is printed, which options are listed in which
order) are written once, and a test holds the two paths to the same answer.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from avsteg.domain.register import (
    DeviationRow,
    Register,
    ReportRow,
    organisation_key,
    swedish_sort_key,
)
from avsteg.domain.schema import Schema


def _int(value: Any) -> int:
    return int(value) if value is not None else 0


def _dec(value: Any) -> Decimal:
    return Decimal(str(value)) if value is not None else Decimal(0)


@dataclass
class Totals:
    """Sums over a group of deviations, and how many reports they come from.

    ``reports`` counts each report once however many of its deviations are added (the
    references seen are kept aside, out of comparisons); :meth:`merge` adds groups that share
    no report, as the slices of the register do.
    """

    reports: int = 0
    deviations: int = 0
    jobs_created: int = 0
    employments: int = 0
    internships: int = 0
    fulltime_months: Decimal = Decimal(0)
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)

    def add_report(self, reference: str) -> None:
        if reference not in self._seen:
            self._seen.add(reference)
            self.reports += 1

    def add(self, deviation: DeviationRow) -> None:
        self.add_report(deviation.reference)
        self.deviations += 1
        self.jobs_created += _int(deviation.get("jobs_created"))
        self.employments += _int(deviation.get("employments"))
        self.internships += _int(deviation.get("internships"))
        self.fulltime_months += _dec(deviation.get("fulltime_months"))

    def merge(self, other: Totals) -> None:
        self.reports += other.reports
        self.deviations += other.deviations
        self.jobs_created += other.jobs_created
        self.employments += other.employments
        self.internships += other.internships
        self.fulltime_months += other.fulltime_months


@dataclass
class Summary:
    """The Sammanställning: totals overall and per organisation, measure, target group, year."""

    total: Totals
    by_organisation: dict[str, Totals]
    by_measure: dict[str, Totals]  # every option of the measures field in schema order, then others
    by_target_group: dict[str, Totals]
    by_year: dict[int | None, Totals]
    organisations: int  # distinct organisations with at least one active report


@dataclass(frozen=True)
class Slice:
    """The active reports of one organisation, spelled one way, and one year, with their sums.

    ``newest`` is when the newest of them arrived: of two spellings used equally often, the
    newer is printed. Slices share no report, so their totals add up.
    """

    organisation: str
    year: int | None
    newest: dt.datetime
    totals: Totals


def _options(schema: Schema, key: str) -> tuple[str, ...]:
    try:
        return schema.field(key).options
    except KeyError:
        return ()


def _spelling(name: str) -> str:
    return " ".join(name.split())


def _choose_names(counts: Mapping[str, Mapping[str, tuple[int, dt.datetime]]],
                  schema: Schema | None) -> dict[str, str]:
    known = {organisation_key(n): n for n in (schema.known_organisations if schema else ())}
    return {key: known.get(key) or max(spellings, key=lambda name: spellings[name])
            for key, spellings in counts.items()}


def organisation_names(reports: Sequence[ReportRow], schema: Schema | None = None
                       ) -> dict[str, str]:
    """Folded organisation key → the one name to print for it in figures and lists.

    The spelling in the schema's list of known organisations when the name is one of them
    (``idrotts- och föreningsförvaltningen`` is printed ``Idrotts- och
    föreningsförvaltningen``); otherwise the spelling most reports use, the newest on a tie.
    Without this, a table grouped by organisation would take whatever case the last
    reporter happened to type.
    """
    counts: dict[str, dict[str, tuple[int, dt.datetime]]] = {}
    for report in reports:
        name = _spelling(report.organisation)
        spellings = counts.setdefault(organisation_key(name), {})
        n, newest = spellings.get(name, (0, report.received_at))
        spellings[name] = (n + 1, max(newest, report.received_at))
    return _choose_names(counts, schema)


def _by_option(schema: Schema, key: str, found: Mapping[str, Totals]) -> dict[str, Totals]:
    """Every option of the schema in its order (zeros included), then any other, A to Ö."""
    out = {o: Totals() for o in _options(schema, key)}
    for option in sorted(found, key=swedish_sort_key):
        out.setdefault(option, Totals()).merge(found[option])
    return out


def summary_of(slices: Iterable[Slice], by_measure: Mapping[str, Totals],
               by_target_group: Mapping[str, Totals], schema: Schema) -> Summary:
    """The Sammanställning from the register's slices and its sums per option."""
    total = Totals()
    by_year: dict[int | None, Totals] = {}
    by_org_key: dict[str, Totals] = {}
    counts: dict[str, dict[str, tuple[int, dt.datetime]]] = {}
    for s in slices:
        total.merge(s.totals)
        by_year.setdefault(s.year, Totals()).merge(s.totals)
        name = _spelling(s.organisation)
        key = organisation_key(name)
        by_org_key.setdefault(key, Totals()).merge(s.totals)
        spellings = counts.setdefault(key, {})
        n, newest = spellings.get(name, (0, s.newest))
        spellings[name] = (n + s.totals.reports, max(newest, s.newest))
    names = _choose_names(counts, schema)
    by_org = {names[k]: by_org_key[k]
              for k in sorted(by_org_key, key=lambda k: swedish_sort_key(names[k]))}
    return Summary(
        total=total,
        by_organisation=by_org,
        by_measure=_by_option(schema, "measures", by_measure),
        by_target_group=_by_option(schema, "target_groups", by_target_group),
        by_year={y: by_year[y] for y in sorted(by_year, key=lambda y: (y is None, y or 0))},
        organisations=len(by_org),
    )


def summarise(register: Register, schema: Schema) -> Summary:
    """Figures over active (not withdrawn) reports; a deviation counts under each of its measures."""
    slices: dict[tuple[str, int | None], tuple[dt.datetime, Totals]] = {}
    by_option: dict[str, dict[str, Totals]] = {"measures": {}, "target_groups": {}}

    def slice_of(report: ReportRow) -> Totals:
        where = (report.organisation, report.year)
        newest, totals = slices.get(where, (report.received_at, Totals()))
        slices[where] = (max(newest, report.received_at), totals)
        return totals

    # Reports without deviations still count as reports of their organisation and year.
    for report in register.active_reports():
        slice_of(report).add_report(report.reference)
    for report, deviation in register.active_deviations():
        slice_of(report).add(deviation)
        for key, group in by_option.items():
            for option in deviation.get(key) or ():
                group.setdefault(option, Totals()).add(deviation)
    return summary_of(
        (Slice(org, year, newest, totals) for (org, year), (newest, totals) in slices.items()),
        by_option["measures"], by_option["target_groups"], schema)

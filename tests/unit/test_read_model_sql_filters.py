"""register_rows keeps to a year or a filtered set in SQL (bench/web.py: Sammanställning and the
xlsx of a filtered Registret on a large register) and still gives exactly what filtering in
Python gave: the same reports, deviations and versions."""

from __future__ import annotations

from avsteg.domain.register import Period
from avsteg.storage.read_model import list_reports, matching_report_ids, register_rows
from tests.unit.test_read_model import REPORTS, SCHEMA, register  # noqa: F401  (the fixture)


def test_a_year_is_the_same_as_filtering_the_whole_register(register):  # noqa: F811
    db, _, references = register
    with db.unit_of_work(readonly=True) as s:
        whole = register_rows(s, schema=SCHEMA)
        for year in (2025, 2026, 2027):
            by_year = register_rows(s, year=year, schema=SCHEMA)
            expected = whole.filtered(Period(year=year))
            assert by_year.reports == expected.reports
            assert by_year.deviations == expected.deviations
            assert by_year.versions == expected.versions
    assert [r.year for r in whole.reports] == [y for _, y in REPORTS]


def test_only_keeps_to_the_reports_registret_lists(register):  # noqa: F811
    db, _, references = register
    with db.unit_of_work(readonly=True) as s:
        for filters in ({"year": 2026}, {"organisation": REPORTS[0][0]}, {"status": "withdrawn"},
                        {"search": "lokalförv"}, {}):
            listed = {r.reference for r in list_reports(s, **filters).items}
            kept = register_rows(s, schema=SCHEMA, only=matching_report_ids(**filters))
            assert {r.reference for r in kept.reports} == listed, filters
            assert {d.reference for d in kept.deviations} <= listed
        assert len(register_rows(s, schema=SCHEMA, only=matching_report_ids(year=2026)).reports) == 2

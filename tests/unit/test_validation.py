"""validate(): every rule of spec 2.1, one error per defect, warnings that are only warnings."""
from __future__ import annotations

import copy
import datetime as dt
import json
import tomllib
from decimal import Decimal
from importlib import resources

import pytest

from avsteg.config.schema import default_schema, schema_from_dict
from avsteg.domain.report import FoundTemplate
from avsteg.domain.validation import known_organisation, validate

SCHEMA = default_schema()
TODAY = dt.date(2026, 3, 10)


def boxes(key, chosen=()):
    return [("☒ " if o in chosen else "☐ ") + o for o in SCHEMA.field(key).options]


def report(kind="Händelserapport", **changes):
    values = {
        "report_type": boxes("report_type", [kind]),
        "year": ["2026"] if kind == "Helårsrapport" else [],
        "organisation": ["Trafikkontoret"],
        "contact_name": ["Anna Berg"],
        "contact_email": ["anna.berg@trafikkontoret.goteborg.se"],
        "contact_phone": ["031-365 00 00"],
        "report_date": ["2026-03-06"],
    }
    values.update(changes)
    return values


def deviation(**changes):
    values = {
        "procurement": ["Städtjänster 2026"],
        "case_number": ["TK 2026-00123"],
        "supplier": ["Städ AB"],
        "supplier_orgnr": ["556677-8899"],
        "contract_start": ["2026-01-01"],
        "contract_end": ["2027-12-31"],
        "deviation_date": ["5 mars 2026"],
        "reason": ["Leverantören hade redan ett eget program."],
        "model_used": ["Leverantörens egen praktikmodell"],
        "measures": boxes("measures", ["Praktik", "Anställning"]),
        "target_groups": boxes("target_groups", ["Unga"]),
        "partners": ["Arbetsförmedlingen"],
        "jobs_created": ["5"],
        "employments": ["2"],
        "internships": ["3"],
        "fulltime_months": ["2,5"],
        "other_results": [],
        "comment": [],
    }
    values.update(changes)
    return values


def blank_deviation():
    return {f.key: boxes(f.key) if f.is_choice else [] for f in SCHEMA.deviation_fields}


def found(rep=None, devs=None, fmt="docx", **kw):
    return FoundTemplate(format=fmt, identifier="avstegsrapport", version="1",
                         report=rep if rep is not None else report(),
                         deviations=devs if devs is not None else [deviation()], **kw)


def run(f, schema=SCHEMA, today=TODAY):
    return validate(f, schema, file="mall.docx", today=today)


def error_fields(result):
    return [(e.field, e.deviation) for e in result.errors]


# ---------------------------------------------------------------- a good report


def test_a_complete_report_is_accepted_with_normalised_values():
    result = run(found(devs=[deviation(), blank_deviation(), blank_deviation()]))
    assert result.errors == []
    assert result.warnings == []
    assert result.status == "accepted"
    assert result.template_version == "1"
    assert set(result.report) == {f.key for f in SCHEMA.report_fields}
    assert len(result.deviations) == 1  # the two blank tables are dropped
    dev = result.deviations[0]
    assert set(dev) == {f.key for f in SCHEMA.deviation_fields}
    assert dev["deviation_date"] == dt.date(2026, 3, 5)
    assert dev["measures"] == ["Anställning", "Praktik"]
    assert dev["jobs_created"] == 5 and dev["fulltime_months"] == Decimal("2.5")
    assert dev["other_results"] is None
    assert result.report["report_type"] == "Händelserapport"
    assert result.report["year"] == 2026  # taken from the deviation date
    payload = json.loads(json.dumps(result.to_json()))
    assert payload["deviations"][0]["contract_start"] == "2026-01-01"
    assert payload["deviations"][0]["fulltime_months"] == 2.5


def test_an_excel_shaped_report():
    rep = {
        "report_type": "Helårsrapport", "year": 2025.0, "organisation": "Renova AB",
        "contact_name": "Per", "contact_email": "per@renova.se", "contact_phone": 313650000,
        "report_date": dt.datetime(2025, 12, 10),
    }
    dev = deviation(
        deviation_date=46086, contract_start=dt.datetime(2025, 1, 1), contract_end="2026-12-31",
        measures="Praktik; sommarjobb", target_groups="Unga\nNyanlända", jobs_created=4.0,
        employments=None, internships=4, supplier_orgnr=5566778899, fulltime_months=1.5,
    )
    result = run(found(rep, [dev, {k: None for k in dev}], fmt="xlsx"))
    assert result.errors == []
    assert result.report["year"] == 2025
    assert result.report["contact_phone"] == "0313650000"
    d = result.deviations[0]
    assert d["deviation_date"] == dt.date(2026, 3, 5)
    assert d["target_groups"] == ["Nyanlända", "Unga"]
    assert d["supplier_orgnr"] == "556677-8899"
    assert len(result.deviations) == 1


# ---------------------------------------------------------------- one defect, one error

REPORT_DEFECTS = [
    ("report_type", {"report_type": boxes("report_type")}),
    ("report_type", {"report_type": boxes("report_type", ["Händelserapport", "Helårsrapport"])}),
    ("report_type", {"report_type": ["☒ Kvartalsrapport"]}),
    ("year", {"year": ["2015"]}),
    ("year", {"year": ["2028"]}),
    ("year", {"year": ["tjugo"]}),
    ("organisation", {"organisation": []}),
    ("contact_name", {"contact_name": ["  "]}),
    ("contact_email", {"contact_email": []}),
    ("contact_email", {"contact_email": ["anna.berg.goteborg.se"]}),
    ("report_date", {"report_date": ["2026-02-30"]}),
]


@pytest.mark.parametrize("field, change", REPORT_DEFECTS)
def test_one_report_defect_gives_exactly_one_error(field, change):
    result = run(found(report(**change)))
    assert error_fields(result) == [(field, None)]
    assert result.errors[0].label == SCHEMA.field(field).label
    assert result.status == "rejected"


def test_an_annual_report_needs_its_year():
    assert run(found(report("Helårsrapport"))).errors == []
    result = run(found(report("Helårsrapport", year=[])))
    assert error_fields(result) == [("year", None)]
    assert "Rapportår" in result.errors[0].message


DEVIATION_DEFECTS = [
    ("procurement", {"procurement": []}),
    ("supplier", {"supplier": [""]}),
    ("supplier_orgnr", {"supplier_orgnr": ["556677-8898"]}),
    ("supplier_orgnr", {"supplier_orgnr": ["55667788"]}),
    ("contract_start", {"contract_start": ["31/2/2026"]}),  # and no not_before error on the end
    ("contract_end", {"contract_end": ["2025-12-31"]}),
    ("contract_end", {"contract_end": ["i höst"]}),
    ("deviation_date", {"deviation_date": []}),  # and no error on the empty year
    ("deviation_date", {"deviation_date": ["igår"]}),
    ("reason", {"reason": []}),
    ("model_used", {"model_used": []}),
    ("measures", {"measures": boxes("measures")}),
    ("measures", {"measures": ["☐ Praktik", "☒ Bananer"]}),
    ("measures", {"measures": []}),
    ("target_groups", {"target_groups": boxes("target_groups")}),
    ("jobs_created", {"jobs_created": []}),
    ("jobs_created", {"jobs_created": ["fem"]}),
    ("jobs_created", {"jobs_created": ["-3"]}),
    ("jobs_created", {"jobs_created": ["4"]}),  # 2 + 3 > 4: the whole carries the error
    ("jobs_created", {"employments": ["7"], "internships": []}),
    ("employments", {"employments": ["två"]}),  # unreadable part: no sum error besides
    ("internships", {"internships": ["2,5"]}),
    ("fulltime_months", {"fulltime_months": ["två"]}),
    ("fulltime_months", {"fulltime_months": ["-1"]}),
]


@pytest.mark.parametrize("field, change", DEVIATION_DEFECTS)
def test_one_deviation_defect_gives_exactly_one_error(field, change):
    result = run(found(devs=[deviation(**change)]))
    assert error_fields(result) == [(field, 1)]
    assert result.errors[0].label == SCHEMA.field(field).label
    assert result.errors[0].message  # Swedish text from schema.messages


def test_deviation_numbers_count_the_kept_deviations():
    devs = [deviation(), blank_deviation(), deviation(supplier=[]), blank_deviation()]
    result = run(found(report("Helårsrapport"), devs))
    assert len(result.deviations) == 2
    assert error_fields(result) == [("supplier", 2)]


def test_messages_say_what_was_found_and_what_is_expected():
    result = run(found(devs=[deviation(contract_end=["2025-12-31"], jobs_created=["4"])]))
    by_field = {e.field: e.message for e in result.errors}
    assert "2025-12-31" in by_field["contract_end"] and "2026-01-01" in by_field["contract_end"]
    assert "Avtalet gäller från" in by_field["contract_end"]
    sums = by_field["jobs_created"]
    assert "varav anställningar och varav praktikplatser" in sums and "5" in sums and "4" in sums
    bad_date = run(found(devs=[deviation(deviation_date=["2026-02-30"])])).errors[0].message
    assert "”2026-02-30”" in bad_date and "ÅÅÅÅ-MM-DD" in bad_date
    year = run(found(report("Helårsrapport", year=["2030"]))).errors[0].message
    assert "2030" in year and "2016" in year and "2027" in year


def test_zero_jobs_is_a_valid_answer():
    result = run(found(devs=[deviation(jobs_created=["0"], employments=[], internships=[])]))
    assert result.errors == []
    assert result.deviations[0]["jobs_created"] == 0


def test_a_blank_template_is_rejected_with_its_required_fields():
    rep = {f.key: boxes(f.key) if f.is_choice else [] for f in SCHEMA.report_fields}
    result = run(found(rep, [blank_deviation(), blank_deviation(), blank_deviation()]))
    assert result.status == "rejected"
    assert len(result.deviations) == 1
    required_report = {f.key for f in SCHEMA.report_fields if f.required is True}
    required_dev = {f.key for f in SCHEMA.deviation_fields if f.required is True}
    assert set(error_fields(result)) == {(k, None) for k in required_report} | {
        (k, 1) for k in required_dev}


def test_a_report_without_deviation_tables():
    result = run(found(devs=[]))
    assert [(e.field, e.deviation, e.label) for e in result.errors] == [(None, None, None)]
    assert result.status == "rejected"


# ---------------------------------------------------------------- the year of a Händelserapport


def test_event_year_comes_from_the_earliest_deviation_date():
    devs = [deviation(), deviation(deviation_date=["2025-11-20"])]
    result = run(found(devs=devs))
    assert result.errors == []
    assert result.report["year"] == 2025


def test_event_year_given_is_kept_and_checked():
    assert run(found(report(year=["2025"]))).report["year"] == 2025
    assert error_fields(run(found(report(year=["2015"])))) == [("year", None)]


def test_event_year_from_a_date_out_of_range_names_the_date():
    devs = [deviation(), deviation(deviation_date=["2010-05-01"], contract_start=[], contract_end=[])]
    result = run(found(devs=devs))
    assert error_fields(result) == [("deviation_date", 2)]


def test_event_without_any_date_has_only_the_date_error():
    result = run(found(devs=[deviation(deviation_date=[]), deviation(deviation_date=[])]))
    assert error_fields(result) == [("deviation_date", 1), ("deviation_date", 2)]
    assert result.report["year"] is None


def test_annual_report_does_not_require_deviation_dates():
    result = run(found(report("Helårsrapport"), [deviation(deviation_date=[])]))
    assert result.errors == []
    assert result.report["year"] == 2026


# ---------------------------------------------------------------- warnings


def test_missing_case_number_is_a_warning():
    result = run(found(devs=[deviation(case_number=[])]))
    assert result.errors == []
    assert [(w.field, w.deviation) for w in result.warnings] == [("case_number", 1)]
    assert result.status == "accepted"


def test_approximate_numbers_are_warnings():
    result = run(found(devs=[deviation(jobs_created=["ca 5"], fulltime_months=["~2,5"])]))
    assert result.errors == []
    assert [(w.field, w.deviation) for w in result.warnings] == [
        ("jobs_created", 1), ("fulltime_months", 1)]
    assert "ca 5" in result.warnings[0].message and "2,5" in result.warnings[1].message


def test_unknown_organisation_is_a_warning():
    result = run(found(report(organisation=["Bananrepubliken AB"])))
    assert result.errors == []
    assert [(w.field, w.deviation) for w in result.warnings] == [("organisation", None)]
    assert "Bananrepubliken AB" in result.warnings[0].message


@pytest.mark.parametrize("name", ["Trafikkontoret", "  trafikkontoret ", "Renova", "Renova AB",
                                  "Park- och naturförvaltningen", "park och natur",
                                  "Stadsbyggnadsförvaltningen", "Stadsbyggnad", "Göteborg Energi",
                                  "Göteborgs Stad, Trafikkontoret", "Socialförvaltningen  Hisingen",
                                  "Göteborg och Co", "Förskoleförvaltning", "Trafikkontor"])
def test_close_variants_of_known_organisations(name):
    assert known_organisation(name, SCHEMA.known_organisations)


@pytest.mark.parametrize("name", ["Bananrepubliken AB", "Volvo", "AB", "Förvaltningen"])
def test_unknown_organisations(name):
    assert not known_organisation(name, SCHEMA.known_organisations)


# ---------------------------------------------------------------- the schema drives it all


def edited_schema(edit):
    text = resources.files("avsteg.config").joinpath("schema.toml").read_text("utf-8")
    return schema_from_dict(tomllib.loads(edit(text)))


def test_a_relabelled_and_an_added_optional_field_need_no_code():
    def edit(text):
        text = text.replace('label = "Leverantör"', 'label = "Utförare"')
        return text + '\n[[deviation_fields]]\nkey = "sites"\nlabel = "Antal arbetsplatser"\n' \
                      'type = "integer"\nrequired = false\nmin = 0\n'

    schema = edited_schema(edit)
    rep = report()
    good = run(found(rep, [deviation(sites=["1 200"])]), schema=schema)
    assert good.errors == []
    assert good.deviations[0]["sites"] == 1200
    missing = run(found(rep, [deviation(supplier=[])]), schema=schema)
    assert [(e.field, e.label) for e in missing.errors] == [("supplier", "Utförare")]
    assert missing.deviations[0]["sites"] is None
    bad = run(found(rep, [deviation(sites=["många"])]), schema=schema)
    assert [(e.field, e.label) for e in bad.errors] == [("sites", "Antal arbetsplatser")]


def test_a_field_made_required_in_the_schema_is_required():
    schema = edited_schema(lambda t: t.replace(
        'key = "partners"\nlabel = "Samarbetspartner"\nsynonyms = ["Samarbetspartners", '
        '"Samarbetspart", "Partner"]\ntype = "text"\nrequired = false',
        'key = "partners"\nlabel = "Samarbetspartner"\nsynonyms = ["Samarbetspartners", '
        '"Samarbetspart", "Partner"]\ntype = "text"\nrequired = true'))
    assert schema.field("partners").required is True
    assert error_fields(run(found(devs=[deviation(partners=[])]), schema=schema)) == [("partners", 1)]
    assert run(found(devs=[deviation(partners=[])])).errors == []


def test_validate_does_not_change_its_input():
    f = found(devs=[deviation(), blank_deviation()])
    before = copy.deepcopy(f)
    run(f)
    assert f == before

"""The normalisers read what people really type (spec 2.3) into the values of spec 2.4."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from avsteg.config.schema import default_schema
from avsteg.domain import normalise as n
from avsteg.domain.choices import chosen_options
from avsteg.domain.identifiers import luhn_ok, normalise_email, normalise_orgnr, normalise_phone
from avsteg.domain.normalise import (
    Invalid,
    Number,
    as_text,
    is_blank,
    normalise_date,
    normalise_decimal,
    normalise_integer,
    normalise_text,
    normalise_year,
)

SCHEMA = default_schema()
MEASURES = SCHEMA.field("measures")
TARGETS = SCHEMA.field("target_groups")
REPORT_TYPE = SCHEMA.field("report_type")


def invalid_kind(func, raw, **kw) -> str:
    with pytest.raises(Invalid) as info:
        func(raw, **kw)
    return info.value.kind


# ---------------------------------------------------------------- blank and text


@pytest.mark.parametrize("raw", [None, "", "   ", [], [""], ["", "  "], "\u00a0\u200b"])
def test_blank_values(raw):
    assert is_blank(raw)
    assert as_text(raw) is None
    assert normalise_date(raw) is None
    assert normalise_integer(raw) is None
    assert chosen_options(raw, MEASURES) == []


@pytest.mark.parametrize("raw", [0, 0.0, False, "0", ["x"]])
def test_values_that_are_not_blank(raw):
    assert not is_blank(raw)


def test_text_is_trimmed_with_inner_whitespace_kept():
    assert normalise_text(["  Städ  och   fönster ", "rad två  "]) == "Städ  och   fönster \nrad två"
    assert normalise_text(["", "Mitt", ""]) == "Mitt"
    assert normalise_text(5.0) == "5"
    assert normalise_text(12) == "12"


# ---------------------------------------------------------------- dates

D = dt.date(2026, 3, 5)


@pytest.mark.parametrize(
    "raw",
    [
        "2026-03-05", "2026-3-5", "20260305", "5 mars 2026", "5 Mars 2026", "5 MARS 2026",
        "5:e mars 2026", "den 5 mars 2026", "torsdag 5 mars 2026", "5 mar 2026", "5 mar. 2026",
        "5/3/2026", "05/03/2026", "05.03.2026", "5.3.2026", "2026/03/05", "2026.03.05",
        " 2026-03-05 ", ["2026-03-05"], "2026-03-05 00:00:00", "5-mar-2026", "5/3/26",
        dt.date(2026, 3, 5), dt.datetime(2026, 3, 5, 14, 30), 46086, 46086.0, 46086.75, 20260305,
    ],
)
def test_date_styles(raw):
    assert normalise_date(raw) == D


def test_excel_serial_in_the_1904_system():
    assert normalise_date(46086 - 1462, date1904=True) == D


@pytest.mark.parametrize(
    "raw", ["2026-02-30", "30/2/2026", "31 april 2026", "mars 2026", "igår", "2026", 2026, "5 foo 2026",
            "2026-13-01", 1.5, True]
)
def test_impossible_or_unreadable_dates(raw):
    assert invalid_kind(normalise_date, raw) == "invalid_date"


def test_invalid_date_quotes_the_text_as_written():
    with pytest.raises(Invalid) as info:
        normalise_date(["  2026-02-30 "])
    assert info.value.value == "2026-02-30"


MONTH_NAMES = ["januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti",
               "september", "oktober", "november", "december"]
MONTH_ABBR = ["jan", "feb", "mar", "apr", "maj", "jun", "jul", "aug", "sep", "okt", "nov", "dec"]


@given(st.dates(min_value=dt.date(1990, 1, 1), max_value=dt.date(2099, 12, 31)))
def test_any_date_in_every_style_parses_back(day):
    styles = [
        day.isoformat(),
        f"{day.year}-{day.month}-{day.day}",
        day.strftime("%Y%m%d"),
        f"{day.day} {MONTH_NAMES[day.month - 1]} {day.year}",
        f"{day.day}:e {MONTH_NAMES[day.month - 1].upper()} {day.year}",
        f"{day.day} {MONTH_ABBR[day.month - 1].capitalize()} {day.year}",
        f"{day.day}/{day.month}/{day.year}",
        day.strftime("%d.%m.%Y"),
        day.strftime("%Y/%m/%d"),
        dt.datetime.combine(day, dt.time(8)),
        (day - dt.date(1899, 12, 30)).days,
    ]
    for raw in styles:
        assert normalise_date(raw) == day, raw
    assert normalise_date((day - dt.date(1904, 1, 1)).days, date1904=True) == day


# ---------------------------------------------------------------- numbers


@pytest.mark.parametrize(
    "raw, value, approximate",
    [
        ("5", 5, False), ("5 st", 5, False), ("5st", 5, False), ("5 st.", 5, False),
        ("5 personer", 5, False), ("ca 5", 5, True), ("ca. 5", 5, True), ("c:a 5", 5, True),
        ("cirka 5", 5, True), ("Ungefär 5", 5, True), ("~5", 5, True), ("~ 5 st", 5, True),
        ("1 200", 1200, False), ("1\u00a0200", 1200, False), ("1\u202f200", 1200, False),
        ("12 000 000", 12000000, False), ("1.200", 1200, False), ("2,0", 2, False),
        (5, 5, False), (5.0, 5, False), (Decimal(7), 7, False), ("0", 0, False), (0, 0, False),
        ("inga", 0, False), ("Noll", 0, False), ([" 5 "], 5, False),
    ],
)
def test_integers(raw, value, approximate):
    result = normalise_integer(raw)
    assert result == Number(value, approximate)
    assert type(result.value) is int


@pytest.mark.parametrize("raw", ["5,5", 5.5, "fem", "5-6", "5 eller 6", "st", "12 00", True,
                                 dt.date(2026, 1, 5)])
def test_not_integers(raw):
    assert invalid_kind(normalise_integer, raw) == "invalid_integer"


@pytest.mark.parametrize("raw", ["-1", "−3", "– 2", -4, -0.5, "ca -5"])
def test_negative_numbers(raw):
    assert invalid_kind(normalise_integer, raw) == "negative"
    assert invalid_kind(normalise_decimal, raw) == "negative"


def test_a_lone_dash_is_nothing():
    assert normalise_integer("-") is None


@pytest.mark.parametrize(
    "raw, value",
    [("2,5", "2.5"), ("2.5", "2.5"), (2.5, "2.5"), ("1 200,5", "1200.5"), ("ca 2,5 månader", "2.5"),
     ("3", "3"), (0.1 + 0.2, "0.3"), ("2,50", "2.5"), ("1.250.000", "1250000"), (100, "100")],
)
def test_decimals(raw, value):
    result = normalise_decimal(raw)
    assert isinstance(result.value, Decimal)
    assert result.value == Decimal(value)
    assert str(result.value) == value


def test_decimal_approximate_and_invalid():
    assert normalise_decimal("ca 2,5").approximate
    assert invalid_kind(normalise_decimal, "två och en halv") == "invalid_decimal"


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from([" ", "\u00a0", "\u202f"]),
       st.sampled_from(["", " st", "ca ", "~"]))
def test_integers_with_thousands_separators(value, sep, extra):
    grouped = f"{value:,}".replace(",", sep)
    text = f"{extra}{grouped}" if extra in ("ca ", "~") else f"{grouped}{extra}"
    result = normalise_integer(text)
    assert result.value == value
    assert result.approximate == (extra in ("ca ", "~"))


# ---------------------------------------------------------------- years


@pytest.mark.parametrize("raw", [2026, 2026.0, "2026", " 2026 ", "år 2026", "2026-03-05",
                                 dt.date(2026, 1, 1), dt.datetime(1905, 7, 18)])
def test_years(raw):
    assert normalise_year(raw) == 2026


@pytest.mark.parametrize("raw", ["tjugo", "20266", 26, 2026.5, "2025/2026"])
def test_not_years(raw):
    assert invalid_kind(normalise_year, raw) == "invalid_year"


# ---------------------------------------------------------------- organisationsnummer


@pytest.mark.parametrize(
    "raw",
    ["556677-8899", "5566778899", "16556677-8899", "165566778899", "SE556677889901",
     "se 556677-8899 01", " 556677 - 8899 ", "556 677 8899", 5566778899, ["556677-8899"]],
)
def test_orgnr_styles(raw):
    assert normalise_orgnr(raw) == "556677-8899"


def test_orgnr_of_a_sole_trader():
    assert normalise_orgnr("19811218-9876") == "811218-9876"
    assert normalise_orgnr("198112189876") == "811218-9876"


@pytest.mark.parametrize("raw", ["556677-8898", "55667788", "556677-88990", "abc", "17556677-8899",
                                 "SE5566778899"])
def test_invalid_orgnr(raw):
    assert invalid_kind(normalise_orgnr, raw) == "invalid_orgnr"


def luhn_digit(nine: str) -> str:
    return next(d for d in "0123456789" if luhn_ok(nine + d))


@given(st.text(alphabet="0123456789", min_size=9, max_size=9), st.integers(0, 9))
def test_any_luhn_valid_orgnr_in_every_style(nine, wrong):
    ten = nine + luhn_digit(nine)
    expected = f"{ten[:6]}-{ten[6:]}"
    for raw in (expected, ten, f"16{expected}", f"SE{ten}01", f"{ten[:3]} {ten[3:6]} - {ten[6:]}"):
        assert normalise_orgnr(raw) == expected
    bad = nine + str(wrong)
    if bad != ten:
        assert not luhn_ok(bad)
        assert invalid_kind(normalise_orgnr, bad) == "invalid_orgnr"


# ---------------------------------------------------------------- e-mail and phone


@pytest.mark.parametrize(
    "raw, address",
    [("anna@goteborg.se", "anna@goteborg.se"), ("  Anna.B@Goteborg.se ", "Anna.B@Goteborg.se"),
     ("Anna Berg <anna@goteborg.se>", "anna@goteborg.se"), ("mailto:anna@goteborg.se", "anna@goteborg.se"),
     (["anna@trafikkontoret.goteborg.se"], "anna@trafikkontoret.goteborg.se"),
     ("anna@goteborg.se.", "anna@goteborg.se")],
)
def test_emails(raw, address):
    assert normalise_email(raw) == address


@pytest.mark.parametrize("raw", ["anna", "anna@goteborg", "anna berg@goteborg.se", "a@@b.se",
                                 "a@b..se", ".a@b.se", "a@b.se; c@d.se", "anna.goteborg.se"])
def test_invalid_emails(raw):
    assert invalid_kind(normalise_email, raw) == "invalid_email"


def test_phone_as_written_and_excel_lost_zero():
    assert normalise_phone(["031-365 00 00 "]) == "031-365 00 00"
    assert normalise_phone(313650000) == "0313650000"
    assert normalise_phone(None) is None


# ---------------------------------------------------------------- choices


def boxes(field, marked=(), mark="☒ "):
    return [f"{mark}{o}" if o in marked else f"☐ {o}" for o in field.options]


@pytest.mark.parametrize("mark", ["☒ ", "☒", "☑ ", "✓ ", "✔ ", "✗ ", "✘ ", "■ ", "[x] ", "(x) ",
                                  "X ", "x ", "☐X ", "☐ x ", "X☐ ", "[X] "])
def test_every_mark_in_place_of_or_in_front_of_the_box(mark):
    lines = [f"{mark}{o}" if o == "Praktik" else f"☐ {o}" for o in MEASURES.options]
    assert chosen_options(lines, MEASURES) == ["Praktik"]


def test_mark_without_any_boxes_and_in_any_case():
    assert chosen_options(["X praktik", "x SOMMARJOBB"], MEASURES) == ["Praktik", "Sommarjobb"]
    assert chosen_options(["☐ Anställning", "☐ Praktik ☒"], MEASURES) == ["Praktik"]


def test_untouched_boxes_are_nothing_chosen():
    assert chosen_options(boxes(MEASURES), MEASURES) == []
    assert chosen_options(boxes(REPORT_TYPE), REPORT_TYPE) == []


def test_deleted_options_leave_the_chosen_ones():
    assert chosen_options(["☐ Praktik", "☐ Sommarjobb"], MEASURES) == ["Praktik", "Sommarjobb"]
    assert chosen_options(["☐ Helårsrapport"], REPORT_TYPE) == ["Helårsrapport"]


def test_a_box_removed_from_an_option_chooses_it():
    lines = boxes(MEASURES)
    lines[1] = "Praktik"
    assert chosen_options(lines, MEASURES) == ["Praktik"]


def test_free_text_any_case_on_word_boundaries_in_schema_order():
    assert chosen_options("praktik och anställning", MEASURES) == ["Anställning", "Praktik"]
    assert chosen_options("Praktik; Annat", MEASURES) == ["Praktik", "Annat"]
    assert chosen_options("Lärlingsplats, arbetsträning\nsommarjobb", MEASURES) == [
        "Lärlingsplats", "Arbetsträning", "Sommarjobb"]
    assert chosen_options("praktikplatser", MEASURES) == ["Praktik"]  # an option synonym
    assert chosen_options("Helår", REPORT_TYPE) == ["Helårsrapport"]
    assert chosen_options("Händelserapport", REPORT_TYPE) == ["Händelserapport"]


def test_annat_with_a_description_names_only_annat():
    assert chosen_options(["☐ Praktik", "☒ Annat: dialog med leverantör om praktik"], MEASURES) == [
        "Annat"]
    assert chosen_options("Annat: praktik hos leverantören", MEASURES) == ["Annat"]


def test_options_sharing_a_prefix():
    lines = boxes(TARGETS, marked=["Personer med försörjningsstöd"])
    assert chosen_options(lines, TARGETS) == ["Personer med försörjningsstöd"]
    assert chosen_options("personer med funktionsnedsättning", TARGETS) == [
        "Personer med funktionsnedsättning"]
    with pytest.raises(Invalid):
        chosen_options(["☒ Personer med"], TARGETS)


@pytest.mark.parametrize("raw, line", [(["☐ Praktik", "☒ Bananer"], "☒ Bananer"),
                                       ("bananer", "bananer"), (["X Bananer"], "X Bananer")])
def test_a_choice_that_names_no_option(raw, line):
    with pytest.raises(Invalid) as info:
        chosen_options(raw, MEASURES)
    assert (info.value.kind, info.value.value) == ("invalid_choice", line)


@given(st.sets(st.sampled_from(MEASURES.options), min_size=1),
       st.sampled_from(["☒ ", "☑", "✔ ", "[x] ", "X ", "x "]))
def test_any_marked_subset_is_chosen(chosen, mark):
    expected = [o for o in MEASURES.options if o in chosen]
    assert chosen_options(boxes(MEASURES, chosen, mark), MEASURES) == expected


@given(st.sets(st.sampled_from(MEASURES.options), min_size=1, max_size=len(MEASURES.options) - 1))
def test_any_subset_left_after_deleting_is_chosen(kept):
    expected = [o for o in MEASURES.options if o in kept]
    assert chosen_options([f"☐ {o}" for o in expected], MEASURES) == expected
    assert chosen_options("; ".join(o.lower() for o in expected), MEASURES) == expected


@pytest.mark.parametrize("raw", [float("nan"), float("inf"), 1e20, -1e300, "1" * 40])
def test_absurd_numbers_are_invalid_not_crashes(raw):
    for normalise in (n.normalise_integer, n.normalise_decimal, n.normalise_year):
        with pytest.raises(n.Invalid) as caught:
            normalise(raw)
        assert len(caught.value.value) <= n.QUOTE_LIMIT

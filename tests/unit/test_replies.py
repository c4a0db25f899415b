"""Receipts, error replies, mixed replies and help replies: every header and the Swedish text."""
from __future__ import annotations

import dataclasses
import datetime as dt
from email import message_from_bytes, policy

import pytest

from avsteg.config.schema import default_schema
from avsteg.domain.replies.sender import (
    RegisteredReport,
    RejectedFile,
    compose_help_reply,
    compose_reply,
    reply_subject,
)
from avsteg.domain.report import Problem
from avsteg.parsers.mail.reader import read_message
from tests.support import emails as E

SCHEMA = default_schema()
NOW = dt.datetime(2026, 3, 5, 10, 15, tzinfo=dt.UTC)
NAME = "Stödfunktionen för social hänsyn"
KW = {"schema": SCHEMA, "service_address": E.SERVICE, "service_name": NAME, "now": NOW}


def registered(reference="AVS-2026-0001", version=1, outcome="registered", warnings=()):
    return RegisteredReport(
        reference=reference, version=version, outcome=outcome, filename="Avstegsrapport.docx",
        report={"organisation": "Trafikkontoret", "report_type": "Händelserapport",
                "year": 2026},
        deviations=[
            {"procurement": "Städtjänster 2026", "supplier": "Städ AB", "jobs_created": 3},
            {"procurement": "Parkskötsel", "supplier": "Grön AB", "jobs_created": 0},
        ],
        warnings=warnings,
    )


REJECTED = RejectedFile(
    filename="Avsteg Q1.xlsx",
    errors=[
        Problem("supplier", 2, "Leverantör", "Fältet är tomt. Fyll i Leverantör."),
        Problem("report_type", None, "Typ av rapport", "Inget alternativ är valt."),
        Problem(None, None, None, "Filen är skyddad med lösenord."),
    ],
)


@pytest.fixture(scope="module")
def original():
    raw = E.simple(b"x", extra={"References": "<root@goteborg.se> <mid@goteborg.se>"})
    return read_message(raw)


def roundtrip(msg):
    """What the recipient's client sees: the bytes, parsed again."""
    return message_from_bytes(msg.as_bytes(), policy=policy.default)


def test_headers(original):
    msg = roundtrip(compose_reply(original, registered=[registered()], rejected=[], **KW))
    assert msg["From"].addresses[0].addr_spec == E.SERVICE
    assert msg["From"].addresses[0].display_name == NAME
    assert msg["To"].addresses[0].addr_spec == original.sender
    assert msg["Subject"] == "Re: Avstegsrapport [AVS-2026-0001]"
    assert msg["In-Reply-To"] == "<simple-1@goteborg.se>"
    assert msg["References"].split() == [
        "<root@goteborg.se>", "<mid@goteborg.se>", "<simple-1@goteborg.se>"]
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Message-ID"].endswith("@ink.goteborg.se>")
    assert msg["Date"].datetime == NOW
    assert msg.get_content_type() == "text/plain"
    assert msg.get_content_charset() == "utf-8"
    assert msg["Content-Transfer-Encoding"] in ("quoted-printable", "8bit")
    assert msg["Content-Language"] == "sv"


def test_reply_to_wins_and_no_message_id(original):
    other = dataclasses.replace(original, reply_to="svar@goteborg.se", message_id=None,
                                references=())
    msg = compose_reply(other, registered=[registered()], rejected=[], **KW)
    assert msg["To"] == "svar@goteborg.se"
    assert msg["In-Reply-To"] is None and msg["References"] is None
    a, b = (compose_reply(other, registered=[registered()], rejected=[], **KW) for _ in "ab")
    assert a["Message-ID"] != b["Message-ID"]


@pytest.mark.parametrize("subject,expected", [
    ("Avsteg", "Re: Avsteg"),
    ("Re: Avsteg", "Re: Avsteg"),
    ("RE: Avsteg", "RE: Avsteg"),
    ("SV: Avsteg", "Re: SV: Avsteg"),
    ("", "Re: (inget ämne)"),
])
def test_subject_never_double_re(subject, expected):
    assert reply_subject(subject) == expected


def test_subject_keeps_reference_once():
    assert reply_subject("Re: Rättelse AVS-2026-0001", ["AVS-2026-0001"]) == \
        "Re: Rättelse AVS-2026-0001"
    assert reply_subject("Avsteg", ["AVS-2026-0001", "AVS-2026-0002"]) == \
        "Re: Avsteg [AVS-2026-0001, AVS-2026-0002]"


def test_receipt_content(original):
    warning = Problem("case_number", 1, "Diarienummer", "Diarienummer saknas. Fyll gärna i det.")
    body = roundtrip(compose_reply(original, registered=[registered(warnings=[warning])],
                                   rejected=[], **KW)).get_content()
    assert "Tack! Din avstegsrapport är registrerad." in body
    assert "Referensnummer: AVS-2026-0001\n" in body
    assert "version" not in body.split("Referensnummer")[1].split("\n")[0]
    assert "Förvaltning/bolag: Trafikkontoret" in body
    assert "Typ av rapport: Händelserapport" in body
    assert "Rapportår: 2026" in body
    assert ("Avsteg 1: Upphandling/avtal: Städtjänster 2026; Leverantör: Städ AB; "
            "Antal arbetstillfällen: 3") in body
    assert "Avsteg 2: Upphandling/avtal: Parkskötsel; Leverantör: Grön AB; " \
           "Antal arbetstillfällen: 0" in body
    assert "- Avsteg 1, Diarienummer: Diarienummer saknas." in body
    assert "Svara på det här mejlet och bifoga den rättade mallen" in body
    assert "Behåll referensnumret (AVS-2026-0001) i ämnesraden" in body
    assert NAME in body and "Vänliga hälsningar" in body
    assert "INGENTING" not in body


def test_receipt_labels_come_from_the_schema(original):
    renamed = dataclasses.replace(SCHEMA, report_fields=tuple(
        dataclasses.replace(f, label="Organisation") if f.key == "organisation" else f
        for f in SCHEMA.report_fields))
    body = compose_reply(original, registered=[registered()], rejected=[],
                         **{**KW, "schema": renamed}).get_content()
    assert "Organisation: Trafikkontoret" in body and "Förvaltning/bolag" not in body


def test_new_version_and_duplicate(original):
    body = compose_reply(original, registered=[
        registered(version=2, outcome="new_version"),
        registered(reference="AVS-2026-0007", outcome="duplicate"),
    ], rejected=[], **KW).get_content()
    assert "Referensnummer: AVS-2026-0001, version 2" in body
    assert "redan registrerad som AVS-2026-0007" in body
    assert "inte registrerat den en gång till" in body


def test_error_reply_says_nothing_was_registered(original):
    msg = compose_reply(original, registered=[], rejected=[REJECTED], **KW)
    body = msg.get_content()
    # Said once, without shouting; the subject says it too (spec 3).
    assert body.count("registrerats") == 1 and "INGENTING" not in body and "INTE" not in body
    assert "men ingenting har registrerats" in body
    assert "Det här behöver rättas i Avsteg Q1.xlsx:" in body
    assert "- Avsteg 2, Leverantör: Fältet är tomt. Fyll i Leverantör." in body
    assert "- Typ av rapport: Inget alternativ är valt." in body
    assert "- Filen är skyddad med lösenord." in body
    assert "Referensnummer" not in body
    assert msg["Subject"] == "Re: Avstegsrapport [Ej registrerad]"


def test_error_subject_is_marked_once_and_a_later_receipt_drops_the_mark(original):
    again = dataclasses.replace(original, subject="Re: Avstegsrapport [Ej registrerad]")
    msg = compose_reply(again, registered=[], rejected=[REJECTED], **KW)
    assert msg["Subject"] == "Re: Avstegsrapport [Ej registrerad]"
    msg = compose_reply(again, registered=[registered()], rejected=[], **KW)
    assert msg["Subject"] == "Re: Avstegsrapport [AVS-2026-0001]"


def test_file_names_are_shown_without_where_they_were_found(original):
    forwarded = RejectedFile("vidarebefordrat/Avstegsrapport.docx", REJECTED.errors)
    body = compose_reply(original, registered=[dataclasses.replace(
        registered(), filename="arkiv.zip/Mall.xlsx")], rejected=[forwarded], **KW).get_content()
    assert "vidarebefordrat/" not in body and "arkiv.zip/" not in body
    assert "Det här behöver rättas i Avstegsrapport.docx:" in body and "Fil: Mall.xlsx" in body


def test_receipt_says_what_annat_is(original):
    item = registered()
    deviations = [dict(item.deviations[0], measures=["Praktik", "Annat"],
                       measures_other="mentorskap")]
    body = compose_reply(original, registered=[dataclasses.replace(item, deviations=deviations)],
                         rejected=[], **KW).get_content()
    assert "Annan typ av insats: mentorskap" in body


def test_mixed_reply_is_one_message_saying_both(original):
    msg = compose_reply(original, registered=[registered()], rejected=[REJECTED], **KW)
    body = msg.get_content()
    assert "En av dina avstegsrapporter är registrerad" in body
    assert "En fil kunde inte registreras" in body
    assert "Referensnummer: AVS-2026-0001" in body
    assert "- Avsteg 2, Leverantör: Fältet är tomt." in body
    assert "INGENTING" not in body
    assert msg["Subject"] == "Re: Avstegsrapport [AVS-2026-0001]"


def test_help_reply(original):
    msg = compose_help_reply(original, problems=["avstegsrapport.pdf: Filen är en PDF."], **KW)
    body = roundtrip(msg).get_content()
    assert "ingenting har registrerats" in body
    assert "- avstegsrapport.pdf: Filen är en PDF." in body
    assert ".docx" in body and ".xlsx" in body and E.SERVICE in body
    assert "Saknar du mallen?" in body and "bifogade" not in body  # nothing attached
    assert msg["Auto-Submitted"] == "auto-replied"
    assert msg["Subject"] == "Re: Avstegsrapport [Ej registrerad]"
    assert not msg.is_multipart()


def test_help_reply_with_blank_templates(original):
    docx = E.dummy_docx()
    blanks = [(f"Avstegsrapport – {kind}.{fmt}", docx) for kind in ("händelserapport", "helårsrapport")
              for fmt in ("docx", "xlsx")]
    msg = roundtrip(compose_help_reply(original, problems=["Avsteg.pdf: Filen är en PDF."], **KW,
                                       blank_templates=blanks))
    body = msg.get_body(("plain",)).get_content()
    assert body.count("bifogade") == 1 and "Saknar du mallen" not in body
    assert ("Tomma mallar för Händelserapport och Helårsrapport, i Word och Excel, finns bifogade"
            in body)
    assert "stödfunktionen" not in body.split("Vänliga hälsningar")[0].replace(
        "Har du frågor", "")  # no "ask the stödfunktion for the template" beside the attachments
    atts = list(msg.iter_attachments())
    assert [a.get_filename() for a in atts] == [name for name, _ in blanks]
    assert atts[0].get_content() == docx

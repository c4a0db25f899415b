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
    assert "INGENTING har registrerats" in body
    assert "Filen Avsteg Q1.xlsx har INTE registrerats" in body
    assert "- Avsteg 2, Leverantör: Fältet är tomt. Fyll i Leverantör." in body
    assert "- Typ av rapport: Inget alternativ är valt." in body
    assert "- Filen är skyddad med lösenord." in body
    assert "Referensnummer" not in body
    assert msg["Subject"] == "Re: Avstegsrapport"


def test_mixed_reply_is_one_message_saying_both(original):
    msg = compose_reply(original, registered=[registered()], rejected=[REJECTED], **KW)
    body = msg.get_content()
    assert "En av dina avstegsrapporter är registrerad" in body
    assert "En fil kunde INTE registreras" in body
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
    assert msg["Auto-Submitted"] == "auto-replied" and msg["Subject"] == "Re: Avstegsrapport"
    assert not msg.is_multipart()


def test_help_reply_with_blank_templates(original):
    docx = E.dummy_docx()
    msg = roundtrip(compose_help_reply(original, problems=[], **KW,
                                       blank_templates=[("Avstegsrapport.docx", docx)]))
    assert msg.get_body(("plain",)).get_content().count("Tomma mallar finns bifogade") == 1
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "Avstegsrapport.docx" and att.get_content() == docx

"""triage / why_not_reply / sender_allowed on parsed corpus messages (tests/support/emails.py)."""
from __future__ import annotations

import dataclasses

import pytest

from avsteg.domain.message import Attachment
from avsteg.domain.triage import Policy, sender_allowed, triage, why_not_reply
from avsteg.parsers.mail.reader import read_message
from tests.support import emails as E

POLICY = Policy(service_address=E.SERVICE, allowed_sender_domains=("goteborg.se",))


@pytest.fixture(scope="module")
def docx() -> bytes:
    return E.dummy_docx()


def is_template_for(docx: bytes):
    """Stands in for the template reader: the dummy docx is the template, nothing else is."""
    def is_template(att: Attachment) -> bool:
        return att.data == docx
    return is_template


@pytest.mark.parametrize("address,allowed", [
    ("x@goteborg.se", True), ("x@ink.goteborg.se", True), ("x@INK.Goteborg.SE", True),
    ("x@evilgoteborg.se", False), ("x@goteborg.se.evil.com", False), ("x@gmail.com", False),
    ("goteborg.se", False), ("", False),
])
def test_sender_allowed(address, allowed):
    assert sender_allowed(address, POLICY) is allowed


def test_sender_allowed_star_and_several_domains():
    assert sender_allowed("a@gmail.com", dataclasses.replace(POLICY, allowed_sender_domains=("*",)))
    two = dataclasses.replace(POLICY, allowed_sender_domains=("goteborg.se", "vgregion.se"))
    assert sender_allowed("a@x.vgregion.se", two) and not sender_allowed("a@gmail.com", two)


def _msg(raw: bytes, **changes):
    return dataclasses.replace(read_message(raw), **changes)


def with_headers(msg, **headers):
    merged = dict(msg.headers)
    merged.update({k.lower().replace("_", "-"): (v,) for k, v in headers.items()})
    return dataclasses.replace(msg, headers=merged)


def test_every_reason(docx):
    plain = read_message(E.simple(docx))
    assert why_not_reply(plain, POLICY) is None
    cases = {
        "own-address": _msg(E.simple(docx, sender=E.SERVICE)),
        "null-return-path": read_message(E.bounce()),
        "mailer-daemon": _msg(E.simple(docx, sender="MAILER-DAEMON@goteborg.se")),
        "delivery-report": dataclasses.replace(plain, content_type="multipart/report"),
        "auto-submitted": read_message(E.out_of_office()),
        "precedence-bulk": with_headers(plain, precedence="junk"),
        "list-mail": with_headers(plain, list_id="<x.lists.goteborg.se>"),
        "outside-domains": read_message(E.outsider(docx)),
        "no-sender": dataclasses.replace(plain, sender=""),
    }
    for reason, msg in cases.items():
        assert why_not_reply(msg, POLICY) == reason, reason
    assert why_not_reply(read_message(E.newsletter()), POLICY) == "precedence-bulk"


def test_own_address_any_case_and_in_reply_to(docx):
    plain = read_message(E.simple(docx))
    assert why_not_reply(dataclasses.replace(plain, reply_to="SocialHansyn@ink.goteborg.se"),
                         POLICY) == "own-address"


def test_bounce_other_forms(docx):
    plain = read_message(E.simple(docx))
    daemon = _msg(E.simple(docx, sender="postmaster@ink.goteborg.se"))
    assert why_not_reply(daemon, POLICY) == "mailer-daemon"
    failed = with_headers(plain, x_failed_recipients="x@goteborg.se")
    assert why_not_reply(failed, POLICY) == "delivery-report"


def test_auto_submitted_no_is_a_person(docx):
    plain = read_message(E.simple(docx))
    assert why_not_reply(with_headers(plain, auto_submitted="no"), POLICY) is None
    assert why_not_reply(with_headers(plain, auto_submitted="auto-generated; x=y"),
                         POLICY) == "auto-submitted"
    assert why_not_reply(with_headers(plain, x_autoreply="yes"), POLICY) == "auto-submitted"


def test_reply_to_outside_domains(docx):
    msg = read_message(E.simple(docx, extra={"Reply-To": "privat@gmail.com"}))
    assert why_not_reply(msg, POLICY) == "outside-domains"


def test_dmarc_fail_only_from_our_own_authserv_id(docx):
    trusting = dataclasses.replace(POLICY, trust_authentication_results=True,
                                   authserv_id="mx.goteborg.se")
    plain = read_message(E.simple(docx))
    ours = with_headers(plain, authentication_results="mx.goteborg.se; spf=pass; dmarc=fail "
                        "(p=reject) header.from=goteborg.se")
    forged = with_headers(plain, authentication_results="evil.example; dmarc=fail")
    passed = with_headers(plain, authentication_results="mx.goteborg.se; dmarc=pass")
    assert why_not_reply(ours, trusting) == "dmarc-fail"
    assert why_not_reply(forged, trusting) is None
    assert why_not_reply(passed, trusting) is None
    assert why_not_reply(ours, POLICY) is None  # not trusted unless configured


@pytest.mark.parametrize("builder", [
    E.simple, E.outlook_inline_image, E.apple_mail, E.octet_stream_upper, E.zipped, E.forwarded,
    E.winmail, E.smime_signed, E.latin1, E.no_id_no_date,
])
def test_every_report_shape_is_a_report(docx, builder):
    result = triage(read_message(builder(docx)), POLICY, is_template_for(docx))
    assert result.kind == "report" and result.reply_allowed
    assert [t.data for t in result.templates] == [docx]


def test_several_templates_are_several_reports(docx):
    raw = E.zipped(docx, extra_members={"andra.docx": docx})
    result = triage(read_message(raw), POLICY, is_template_for(docx))
    assert len(result.templates) == 2


def test_needs_help_for_pdf_and_encrypted_zip(docx):
    pdf = triage(read_message(E.pdf_report(E.dummy_pdf())), POLICY, is_template_for(docx))
    assert (pdf.kind, pdf.reply_allowed, pdf.templates) == ("needs_help", True, ())
    locked = E.simple(b"PK\x03\x04broken", "rapport.zip", subject="Avsteg Q1",
                      content_type="application/zip")
    assert triage(read_message(locked), POLICY, is_template_for(docx)).kind == "needs_help"
    encrypted = triage(read_message(E.smime_encrypted()), POLICY, is_template_for(docx))
    assert encrypted.kind == "needs_help"  # subject "Avstegsrapport"


def test_not_ours(docx):
    t = is_template_for(docx)
    question = triage(read_message(E.human_question()), POLICY, t)
    assert (question.kind, question.reason, question.reply_allowed) == (
        "not_ours", "no-attachment", False)
    other = triage(read_message(E.simple(b"%PDF-1.4 x", "faktura.pdf", subject="Faktura")),
                   POLICY, t)
    assert (other.kind, other.reason) == ("not_ours", "no-template")
    logo_only = read_message(E.outlook_inline_image(b"x", filename="a.txt", subject="Avsteg?"))
    logo_only = dataclasses.replace(logo_only, attachments=tuple(
        a for a in logo_only.attachments if a.inline))
    assert triage(logo_only, POLICY, t).kind == "not_ours"  # a signature logo is not a file


@pytest.mark.parametrize("raw_builder,reason", [
    (lambda d: E.outsider(d), "outside-domains"),
    (lambda d: E.simple(d, extra={"Auto-Submitted": "auto-generated"}), "auto-submitted"),
    (lambda d: E.simple(d, extra={"Return-Path": "<>"}), "null-return-path"),
    (lambda d: E.simple(d, sender=E.SERVICE), "own-address"),
])
def test_template_from_robots_or_outsiders_is_not_registered(docx, raw_builder, reason):
    result = triage(read_message(raw_builder(docx)), POLICY, is_template_for(docx))
    assert (result.kind, result.reason, result.reply_allowed) == ("not_ours", reason, False)
    assert [t.data for t in result.templates] == [docx]  # found, for the log, but not ours


def test_inline_and_problem_attachments_are_never_templates(docx):
    msg = read_message(E.simple(docx))
    calls = []

    def spy(att):
        calls.append(att.filename)
        return True

    bad = dataclasses.replace(msg.attachments[0], problem="trasig", filename="x.docx")
    logo = dataclasses.replace(msg.attachments[0], inline=True, filename="logo.png")
    msg = dataclasses.replace(msg, attachments=(bad, logo))
    result = triage(msg, POLICY, spy)
    assert calls == [] and result.kind == "needs_help"

"""Who owes a Helårsrapport, and the reminder they get."""
from __future__ import annotations

import datetime as dt
import email
import email.policy

from avsteg.config.schema import default_schema
from avsteg.domain.register import WITHDRAWN, ReportRow, VersionRow
from avsteg.domain.replies.reminders import Debtor, compose_reminder, who_owes_annual

SCHEMA = default_schema()
EVENT, ANNUAL = SCHEMA.kinds["event"], SCHEMA.kinds["annual"]
T0 = dt.datetime(2026, 2, 1, 8, 0, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 12, 1, 7, 0, tzinfo=dt.UTC)
SERVICE = "socialhansyn@ink.goteborg.se"
NAME = "Stödfunktionen för social hänsyn i upphandling"


def version(ref: str, org: str, kind: str, year: int, *, v: int = 1, day: int = 0,
            contact: str = "anna@goteborg.se", name: str | None = "Anna Andersson") -> VersionRow:
    return VersionRow(reference=ref, version=v, received_at=T0 + dt.timedelta(days=day),
                      message_id=f"<{ref}.{v}@x>", organisation=org, report_type=kind, year=year,
                      contact_name=name, contact_email=contact, deviations=2)


VERSIONS = [
    # Trafikkontoret: two event reports, a later one from another contact → owes, remind Bo.
    version("AVS-2026-0001", "Trafikkontoret", EVENT, 2026, day=1),
    version("AVS-2026-0005", "trafikkontoret ", EVENT, 2026, day=40, contact="bo@goteborg.se",
            name="Bo Berg"),
    # Higab: event and annual → does not owe, also when the names differ in case.
    version("AVS-2026-0002", "Higab AB", EVENT, 2026, day=2),
    version("AVS-2026-0003", "HIGAB AB", ANNUAL, 2026, day=300),
    # Renova: only an annual report → does not owe.
    version("AVS-2026-0004", "Renova AB", ANNUAL, 2026, day=3),
    # Liseberg: an event report for last year only → does not owe this year.
    version("AVS-2025-0009", "Liseberg AB", EVENT, 2025, day=4),
    # Kretslopp och vatten: its event report was corrected into an annual report → does not owe.
    version("AVS-2026-0006", "Kretslopp och vatten", EVENT, 2026, day=5),
    version("AVS-2026-0006", "Kretslopp och vatten", ANNUAL, 2026, v=2, day=6),
    # Göteborgs Hamn: an annual report corrected into an event report → owes.
    version("AVS-2026-0007", "Göteborgs Hamn AB", ANNUAL, 2026, day=7, contact="c@goteborg.se"),
    version("AVS-2026-0007", "Göteborgs Hamn AB", EVENT, 2026, v=2, day=8, contact="d@goteborg.se",
            name=None),
]


def test_picks_exactly_the_organisations_that_owe() -> None:
    debtors = who_owes_annual(VERSIONS, 2026)
    assert [d.organisation for d in debtors] == ["Göteborgs Hamn AB", "trafikkontoret"]
    hamn, trafik = debtors
    assert (trafik.contact_name, trafik.contact_email) == ("Bo Berg", "bo@goteborg.se")
    assert trafik.references == ("AVS-2026-0001", "AVS-2026-0005")
    assert trafik.deviations == 4
    assert (hamn.contact_name, hamn.contact_email) == (None, "d@goteborg.se")


def test_last_year_is_its_own_question() -> None:
    assert [d.organisation for d in who_owes_annual(VERSIONS, 2025)] == ["Liseberg AB"]
    assert who_owes_annual(VERSIONS, 2024) == []


def test_withdrawn_reports_do_not_count() -> None:
    def row(ref: str, kind: str, status: str) -> ReportRow:
        return ReportRow(reference=ref, version=1, received_at=T0, organisation="Higab AB",
                         report_type=kind, year=2026, contact_name="A", contact_email="a@goteborg.se",
                         deviations=1, jobs_created=1, status=status)

    # The annual report was withdrawn: the event report is still owed an annual one.
    owes = who_owes_annual([row("AVS-2026-0001", EVENT, "aktuell"),
                            row("AVS-2026-0002", ANNUAL, WITHDRAWN)], 2026)
    assert [d.organisation for d in owes] == ["Higab AB"]
    # The only event report was withdrawn: nothing is owed.
    assert who_owes_annual([row("AVS-2026-0001", EVENT, WITHDRAWN)], 2026) == []


def test_an_organisation_without_any_address_is_left_out() -> None:
    rows = [version("AVS-2026-0001", "Higab AB", EVENT, 2026, contact="")]
    assert who_owes_annual(rows, 2026) == []


DEBTOR = Debtor(organisation="Trafikkontoret", contact_name="Bo Berg",
                contact_email="bo@goteborg.se", references=("AVS-2026-0001", "AVS-2026-0005"))


def _parsed(message) -> email.message.EmailMessage:
    return email.message_from_bytes(message.as_bytes(), policy=email.policy.default)


def test_first_reminder() -> None:
    msg = _parsed(compose_reminder(DEBTOR, 2026, "first", SCHEMA, SERVICE, NAME, NOW))
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["To"].addresses[0].addr_spec == "bo@goteborg.se"
    assert msg["From"].addresses[0].addr_spec == SERVICE
    assert msg["From"].addresses[0].display_name == NAME
    assert msg["Message-ID"].strip("<>").endswith("@ink.goteborg.se")
    assert msg["Subject"] == "Påminnelse: helårsrapport om avsteg 2026 – Trafikkontoret"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW
    body = msg.get_body(("plain",)).get_content()
    assert body.startswith("Hej Bo Berg!")
    assert "2 händelserapporter" in body and "AVS-2026-0001, AVS-2026-0005" in body
    assert "helårsrapport för 2026" in body
    assert SERVICE in body
    assert "andra påminnelse" not in body


def test_second_reminder_differs_and_ids_are_unique() -> None:
    first = compose_reminder(DEBTOR, 2026, "first", SCHEMA, SERVICE, NAME, NOW)
    second = _parsed(compose_reminder(DEBTOR, 2026, "second", SCHEMA, SERVICE, NAME, NOW))
    assert second["Subject"].startswith("Andra påminnelsen: ")
    assert "andra påminnelse" in second.get_body(("plain",)).get_content()
    assert second["Message-ID"] != first["Message-ID"]
    assert second["X-Avsteg-Reminder"] == "2026 second"


def test_reminder_with_a_template_attached() -> None:
    msg = _parsed(compose_reminder(
        DEBTOR, 2026, "first", SCHEMA, SERVICE, NAME, NOW,
        attachments=[("Helårsrapport.docx", b"PK\x03\x04docx", ("application/vnd.openxmlformats-"
                      "officedocument.wordprocessingml.document"))],
    ))
    (part,) = list(msg.iter_attachments())
    assert part.get_filename() == "Helårsrapport.docx"
    assert part.get_content() == b"PK\x03\x04docx"

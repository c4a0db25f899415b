"""Who still owes a Helårsrapport, and the polite December reminder they get.

Pure logic: the scheduler job decides *when* (``schedules.first_reminder`` /
``second_reminder``), records what was sent (``reminders_sent``) and delivers the message;
this module decides *who* and *what it says*.

An organisation owes the year's Helårsrapport when it sent at least one Händelserapport for
that year and no Helårsrapport for it. Organisation names are compared without regard to case
or spacing (``Trafikkontoret`` and ``trafikkontoret `` are one organisation). The reminder goes
to the contact person of the organisation's latest report that year.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal, Protocol

from avsteg.domain.schema import Schema
from avsteg.register.rows import WITHDRAWN, organisation_key, swedish_sort_key

Which = Literal["first", "second"]


class ReportLike(Protocol):
    """What a :class:`~avsteg.register.rows.ReportRow` or ``VersionRow`` has in common."""

    reference: str
    version: int
    received_at: dt.datetime
    organisation: str
    report_type: str
    year: int | None
    contact_name: str | None
    contact_email: str | None


@dataclass(frozen=True)
class Debtor:
    """An organisation that owes a Helårsrapport, and whom to remind."""

    organisation: str  # as written in its latest report
    contact_name: str | None
    contact_email: str
    references: tuple[str, ...]  # the year's Händelserapporter, in reference order
    deviations: int = 0

    @property
    def key(self) -> str:
        """The organisation folded for case and spacing: record sent reminders under this."""
        return organisation_key(self.organisation)


def _newest_per_reference(rows: Sequence[ReportLike]) -> list[ReportLike]:
    """One row per report: its newest version (a correction may change type or year)."""
    newest: dict[str, ReportLike] = {}
    for row in rows:
        seen = newest.get(row.reference)
        if seen is None or row.version > seen.version:
            newest[row.reference] = row
    return list(newest.values())


def who_owes_annual(versions: Sequence[ReportLike], year: int, schema: Schema | None = None
                    ) -> list[Debtor]:
    """Organisations with Händelserapporter for ``year`` but no Helårsrapport for it.

    Accepts every version of every report (or only the newest ones); withdrawn reports (rows
    with ``status == "återkallad"``) count neither as an event nor as an annual report.
    Organisations without a contact e-mail cannot be reminded and are left out.
    """
    event = schema.kinds["event"] if schema else "Händelserapport"
    annual = schema.kinds["annual"] if schema else "Helårsrapport"
    reports = [
        r for r in _newest_per_reference(versions)
        if r.year == year and getattr(r, "status", None) != WITHDRAWN
    ]
    has_annual = {organisation_key(r.organisation) for r in reports if r.report_type == annual}
    events: dict[str, list[ReportLike]] = {}
    for r in reports:
        key = organisation_key(r.organisation)
        if r.report_type == event and key not in has_annual:
            events.setdefault(key, []).append(r)
    debtors = []
    for group in events.values():
        by_time = sorted(group, key=lambda r: (r.received_at, r.reference, r.version))
        with_email = [(r, r.contact_email.strip()) for r in by_time if r.contact_email]
        if not with_email:
            continue
        latest, address = with_email[-1]
        debtors.append(
            Debtor(
                organisation=by_time[-1].organisation.strip(),
                contact_name=latest.contact_name,
                contact_email=address,
                references=tuple(sorted(r.reference for r in group)),
                deviations=sum(getattr(r, "deviations", 0) or 0 for r in group),
            )
        )
    return sorted(debtors, key=lambda d: swedish_sort_key(d.organisation))


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def compose_reminder(
    debtor: Debtor,
    year: int,
    which: Which,
    schema: Schema,
    service_address: str,
    service_name: str,
    now: dt.datetime,
    attachments: Sequence[tuple[str, bytes, str]] = (),
) -> EmailMessage:
    """The reminder e-mail (Swedish, plain text), ready for the outbox.

    ``attachments`` are (file name, bytes, MIME type), e.g. a blank Helårsrapport template.
    """
    annual = schema.kinds["annual"]
    event_plural = schema.kinds["event"].lower() + "er"
    message = EmailMessage()
    message["From"] = Address(display_name=service_name, addr_spec=service_address)
    message["To"] = (
        Address(display_name=debtor.contact_name, addr_spec=debtor.contact_email)
        if debtor.contact_name
        else debtor.contact_email
    )
    prefix = "Påminnelse" if which == "first" else "Andra påminnelsen"
    message["Subject"] = f"{prefix}: {annual.lower()} om avsteg {year} – {debtor.organisation}"
    message["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=dt.UTC))
    message["Message-ID"] = make_msgid(idstring=f"reminder.{year}.{which}",
                                       domain=_domain(service_address))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # no out-of-office replies back to the service
    message["X-Avsteg-Reminder"] = f"{year} {which}"

    greeting = f"Hej {debtor.contact_name}!" if debtor.contact_name else "Hej!"
    count = len(debtor.references)
    reports = "en händelserapport" if count == 1 else f"{count} {event_plural}"
    lines = [
        greeting,
        "",
        (f"Under {year} har vi tagit emot {reports} om avsteg från {debtor.organisation} "
        f"({', '.join(debtor.references)}). Tack för dem!"),
        "",
        (f"Vi har ännu inte fått någon {annual.lower()} för {year}. Den som arbetar med social "
        f"hänsyn under hela året lämnar en {annual.lower()} i december, med årets alla avsteg."),
    ]
    if which == "second":
        lines += [
            "",
            ("Det här är en andra påminnelse. Om rapporten redan är på väg kan du bortse från "
            "det här meddelandet."),
        ]
    lines += [
        "",
        (f"Fyll i mallen för {annual.lower()} och skicka den som bilaga (Word eller Excel) till "
        f"{service_address}. Du får en kvittens med ett referensnummer när den är registrerad."),
        "",
        ("Har ni inte haft några fler avsteg, eller är det någon annan som ska lämna rapporten? "
        "Svara då på det här meddelandet, så hör vi av oss."),
        "",
        "Med vänliga hälsningar",
        service_name,
        service_address,
        "",
        "Det här meddelandet skickades automatiskt av avstegsregistret.",
    ]
    message.set_content("\n".join(lines) + "\n", charset="utf-8")
    for filename, data, mime in attachments:
        maintype, _, subtype = mime.partition("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=filename)
    return message

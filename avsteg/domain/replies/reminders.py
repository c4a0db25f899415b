"""Who still owes a Helårsrapport, and the polite December reminder they get.

Pure logic: the scheduler job decides *when* (``schedules.first_reminder`` /
``second_reminder``), records what was sent (``reminders_sent``) and delivers the message;
this module decides *who* and *what it says*.

An organisation owes the year's Helårsrapport when it sent at least one Händelserapport for
that year and no Helårsrapport for it. Organisation names are compared without regard to case
or spacing (``Trafikkontoret`` and ``trafikkontoret `` are one organisation). The reminder is
one message per organisation, addressed to every contact person named in its Händelserapporter
that year (the latest first): whoever of them writes the Helårsrapport gets it, and they see
that the others got it too.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Literal, Protocol

from avsteg.domain.register import WITHDRAWN, organisation_key, swedish_sort_key
from avsteg.domain.schema import Schema

Which = Literal["first", "second"]


class ReportLike(Protocol):
    """What a :class:`~avsteg.domain.register.ReportRow` or ``VersionRow`` has in common."""

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
    contact_name: str | None  # of the latest report: the first addressee
    contact_email: str
    references: tuple[str, ...]  # the year's Händelserapporter, in reference order
    deviations: int = 0
    # The other contacts of the year's Händelserapporter, (name, address), newest first.
    other_contacts: tuple[tuple[str | None, str], ...] = ()

    @property
    def contacts(self) -> tuple[tuple[str | None, str], ...]:
        """Everyone the reminder is addressed to, (name, address), the latest contact first."""
        return ((self.contact_name, self.contact_email), *self.other_contacts)

    @property
    def recipients(self) -> tuple[str, ...]:
        return tuple(address for _name, address in self.contacts)

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
    # The list's spelling for a known organisation, whatever case the reporter typed.
    known = {organisation_key(n): n for n in (schema.known_organisations if schema else ())}
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
        seen = {address.casefold()}
        others = []
        for r, other in reversed(with_email[:-1]):
            if other.casefold() not in seen:
                seen.add(other.casefold())
                others.append((r.contact_name, other))
        written = " ".join(by_time[-1].organisation.split())
        debtors.append(
            Debtor(
                organisation=known.get(organisation_key(written), written),
                contact_name=latest.contact_name,
                contact_email=address,
                references=tuple(sorted(r.reference for r in group)),
                deviations=sum(getattr(r, "deviations", 0) or 0 for r in group),
                other_contacts=tuple(others),
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
    message["To"] = [
        Address(display_name=name or "", addr_spec=address) for name, address in debtor.contacts
    ]
    prefix = "Påminnelse" if which == "first" else "Andra påminnelsen"
    message["Subject"] = f"{prefix}: {annual.lower()} om avsteg {year} – {debtor.organisation}"
    message["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=dt.UTC))
    message["Message-ID"] = make_msgid(idstring=f"reminder.{year}.{which}",
                                       domain=_domain(service_address))
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"  # no out-of-office replies back to the service
    message["X-Avsteg-Reminder"] = f"{year} {which}"

    names = [name for name, _address in debtor.contacts if name]
    if len(names) == len(debtor.contacts) and names:
        greeting = "Hej " + (" och ".join([", ".join(names[:-1]), names[-1]])
                             if len(names) > 1 else names[0]) + "!"
    else:
        greeting = "Hej!"
    count = len(debtor.references)
    reports = "en händelserapport" if count == 1 else f"{count} {event_plural}"
    lines = [
        greeting,
        "",
        (f"Under {year} har vi tagit emot {reports} om avsteg från {debtor.organisation} "
        f"({', '.join(debtor.references)}). Tack för {'den' if count == 1 else 'dem'}!"),
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

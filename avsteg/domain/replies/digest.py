"""The weekly digest for the stödfunktion: what came in, what changed, what waits for a person.

Pure composition: :class:`DigestData` (plain rows, gathered from the database by
:mod:`avsteg.services.jobs`) and the register workbook in, an :class:`EmailMessage` out. The
job queues it in the outbox (kind ``digest``); delivery is someone else's job.

The digest's Message-ID is derived from the day it covers (:func:`digest_message_id`), and the
outbox's Message-ID column is unique, so a restarted or second worker cannot queue the same
week's digest twice.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from avsteg.domain.localtime import local_time, show_time
from avsteg.domain.register import DigestData, ProblemLine, ReportLine

XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")
MAX_LINES_PER_SECTION = 50  # a flood of problems is summarised, the workbook has the rest


def _domain(address: str) -> str:
    return address.rpartition("@")[2] or "localhost"


def digest_message_id(day: dt.date, service_address: str) -> str:
    """One Message-ID per digest day: the outbox refuses a second digest for the same day."""
    return f"<digest.{day.isoformat()}.avsteg@{_domain(service_address)}>"


def attachment_name(day: dt.date) -> str:
    return f"Avstegsregistret {day.isoformat()}.xlsx"


def _when(moment: dt.datetime | None) -> str:
    return show_time(moment)


def _report_lines(rows: Sequence[ReportLine]) -> list[str]:
    out = []
    for r in rows[:MAX_LINES_PER_SECTION]:
        year = f" {r.year}" if r.year else ""
        version = f", version {r.version}" if r.version > 1 else ""
        out.append(
            f"  {r.reference} ({r.change}{version}) – {r.organisation or 'okänd'}, "
            f"{r.report_type}{year}: {r.deviations} avsteg, {r.jobs_created} arbetstillfällen"
        )
    if len(rows) > MAX_LINES_PER_SECTION:
        out.append(f"  … och {len(rows) - MAX_LINES_PER_SECTION} till (se bifogat register).")
    return out


def _problem_lines(rows: Sequence[ProblemLine]) -> list[str]:
    out = []
    for p in rows[:MAX_LINES_PER_SECTION]:
        subject = f" ”{p.subject}”" if p.subject else ""
        out.append(f"  {_when(p.when)}  {p.who or 'okänd avsändare'}{subject}")
        out.append(f"      {p.detail}")
    if len(rows) > MAX_LINES_PER_SECTION:
        out.append(f"  … och {len(rows) - MAX_LINES_PER_SECTION} till.")
    return out


def _section(title: str, lines: list[str], empty: str) -> list[str]:
    return [title, *(lines or [f"  {empty}"]), ""]


def digest_body(data: DigestData) -> str:
    """The Swedish plain-text body (separate from the envelope so it can be tested alone)."""
    start = local_time(data.period_start).date().isoformat()
    end = local_time(data.period_end).date().isoformat()
    lines = [
        "Hej!",
        "",
        f"Här är veckans sammanfattning av avstegsregistret för perioden {start} – {end}.",
        "",
        (f"Nya rapporter: {len(data.new_reports)}. Ändrade rapporter: "
         f"{len(data.changed_reports)}. Att hantera: {data.waiting}."),
        (f"Registret har nu {data.register_reports} rapporter med {data.register_deviations} "
         "avsteg (återkallade rapporter ej medräknade)."),
        "",
    ]
    lines += _section("NYA RAPPORTER", _report_lines(data.new_reports), "Inga nya rapporter.")
    lines += _section("ÄNDRADE RAPPORTER (rättelser och återkallelser)",
                      _report_lines(data.changed_reports), "Inga ändrade rapporter.")
    lines += ["ATT HANTERA", ""]
    lines += _section("Väntar på en person (samma lista som avsteg pending och webbens "
                      "Att hantera):", _problem_lines(data.pending), "Inget.")
    lines += _section("Avvisade meddelanden (avsändaren har fått besked om vad som ska rättas):",
                      _problem_lines(data.rejected_messages), "Inga.")
    lines += _section("Meddelanden som inte kunde behandlas (fel hos oss; försöks igen):",
                      _problem_lines(data.failed_messages), "Inga.")
    lines += _section("Svar som inte kunde levereras:",
                      _problem_lines(data.failed_replies), "Inga.")
    lines += [
        "Hela registret finns i den bifogade Excel-filen.",
        "Detaljer om en rapport: avsteg show REFERENSNUMMER.",
        "",
        "Det här meddelandet skickades automatiskt av avstegsregistret.",
    ]
    return "\n".join(lines) + "\n"


def compose_digest(
    data: DigestData,
    *,
    to: str,
    xlsx: bytes,
    service_address: str,
    service_name: str,
    now: dt.datetime,
) -> EmailMessage:
    """The digest e-mail with the register workbook attached, ready for the outbox."""
    day = local_time(now).date()
    week = day.isocalendar()
    message = EmailMessage()
    message["From"] = Address(display_name=service_name, addr_spec=service_address)
    message["To"] = to
    flag = f" – {data.waiting} att hantera" if data.waiting else ""
    message["Subject"] = (
        f"Avstegsregistret vecka {week.week} {week.year}: {len(data.new_reports)} nya, "
        f"{len(data.changed_reports)} ändrade{flag}"
    )
    message["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=dt.UTC))
    message["Message-ID"] = digest_message_id(day, service_address)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content(digest_body(data), charset="utf-8")
    message.add_attachment(xlsx, maintype=XLSX_TYPE[0], subtype=XLSX_TYPE[1],
                           filename=attachment_name(day))
    return message

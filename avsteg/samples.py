"""Sample mail for ``avsteg demo``: what a week in the shared mailbox looks like.

Reports in Word and Excel filled the way people fill them, one with mistakes, a forwarded one,
a correction sent as a reply to its receipt, a question from a person and an out-of-office
reply. Built from the generated templates, so the demo always matches the current schema.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from avsteg.domain.schema import Schema
from avsteg.forms.docx_template import build_docx
from avsteg.forms.fill import FillStyle, fill_docx
from avsteg.forms.fill_excel import fill_xlsx
from avsteg.forms.xlsx_template import build_xlsx

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Sample:
    name: str  # file name of the .eml
    story: str  # one line for the summary: what this message is
    raw: bytes


def _report(kind: str, organisation: str, name: str, address: str, year: int | None) -> dict:
    return {
        "report_type": kind,
        "year": year,
        "organisation": organisation,
        "contact_name": name,
        "contact_email": address,
        "contact_phone": "031-365 00 00",
        "report_date": None,
    }


def _deviation(procurement: str, supplier: str, orgnr: str | None, when: dt.date, jobs: int,
               employments: int, internships: int, measures: list[str], groups: list[str],
               months: str | None = "6", case: str | None = "2026-01234") -> dict:
    return {
        "procurement": procurement,
        "case_number": case,
        "supplier": supplier,
        "supplier_orgnr": orgnr,
        "contract_start": dt.date(when.year, 1, 1),
        "contract_end": dt.date(when.year + 2, 12, 31),
        "deviation_date": when,
        "reason": "Leverantören hade redan ett eget program för arbetsträning.",
        "model_used": "Leverantörens egen modell i samarbete med Jobbtorg Göteborg",
        "measures": measures,
        "target_groups": groups,
        "partners": "Jobbtorg Göteborg",
        "jobs_created": jobs,
        "employments": employments,
        "internships": internships,
        "fulltime_months": Decimal(months) if months else None,
        "other_results": None,
        "comment": None,
    }


def _mail(sender: str, name: str, to: str, subject: str, body: str, *, when: dt.datetime,
          attachments: Sequence[tuple[str, str, bytes]] = (), headers: dict | None = None,
          message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"{name} <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = message_id or make_msgid(domain=sender.split("@")[1])
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def first_batch(schema: Schema, service_address: str, today: dt.date) -> list[Sample]:
    """The morning's mail: four reports, a question and an out-of-office reply."""
    year = today.year
    at = dt.datetime.combine(today, dt.time(8, 0), tzinfo=dt.UTC)
    out: list[Sample] = []

    # 1. A Händelserapport in Word, boxes ticked with ☒.
    anna = ("anna.svensson@trafikkontoret.goteborg.se", "Anna Svensson")
    event = fill_docx(
        build_docx(schema, "event"),
        _report("Händelserapport", "Trafikkontoret", anna[1], anna[0], None),
        [_deviation("Vinterväghållning 2026", "Snöröjning Väst AB", "556036-0793",
                    dt.date(year, 2, 10), 4, 3, 1, ["Anställning", "Praktik"],
                    ["Långtidsarbetslösa", "Unga"])],
        FillStyle(mark="☒", date="swedish"), schema=schema,
    )
    out.append(Sample("01-handelserapport-word.eml", "Händelserapport i Word från Trafikkontoret",
                      _mail(anna[0], anna[1], service_address, "Avstegsrapport vinterväghållning",
                            "Hej!\n\nHär kommer vår avstegsrapport.\n\nVänliga hälsningar\nAnna",
                            when=at, attachments=[("Avstegsrapport vinterväghållning.docx", DOCX, event)]
                            ).as_bytes()))

    # 2. A Helårsrapport in Excel with three deviations.
    karin = ("karin.berg@framtiden.goteborg.se", "Karin Berg")
    annual = fill_xlsx(
        build_xlsx(schema, "annual"),
        _report("Helårsrapport", "Förvaltnings AB Framtiden", karin[1], karin[0], year),
        [
            _deviation("Fastighetsskötsel Centrum", "Fastighetsservice i Göteborg AB", "556677-8899",
                       dt.date(year, 3, 5), 6, 4, 2, ["Anställning", "Praktik"], ["Nyanlända"], "18"),
            _deviation("Fönsterputs", "Fönsterputs Öst HB", None, dt.date(year, 6, 1), 2, 0, 2,
                       ["Praktik"], ["Personer med funktionsnedsättning"], "3"),
            _deviation("Ombyggnad Kortedala", "Bygg & Mark Sverige AB", "556036-0793",
                       dt.date(year, 9, 15), 5, 5, 0, ["Lärlingsplats", "Anställning"],
                       ["Unga", "Personer med försörjningsstöd"], "30", case=None),
        ],
        FillStyle(number="excel", date="excel"), schema=schema,
    )
    out.append(Sample("02-helarsrapport-excel.eml", "Helårsrapport i Excel från Framtiden (3 avsteg)",
                      _mail(karin[0], karin[1], service_address, f"Helårsrapport avsteg {year}",
                            "Hej, bifogar årets helårsrapport.\n/Karin",
                            when=at + dt.timedelta(minutes=20),
                            attachments=[(f"Helårsrapport {year}.xlsx", XLSX, annual)]).as_bytes()))

    # 3. A report with mistakes: no supplier, an organisationsnummer that fails its check digit.
    omar = ("omar.haddad@grundskola.goteborg.se", "Omar Haddad")
    wrong = fill_docx(
        build_docx(schema, "event"),
        _report("Händelserapport", "Grundskoleförvaltningen", omar[1], omar[0], None),
        [_deviation("Skolmåltider Hisingen", "", "556677-8891", dt.date(year, 4, 2), 3, 2, 1,
                    ["Anställning"], ["Unga"])],
        FillStyle(mark="X"), schema=schema,
    )
    out.append(Sample("03-rapport-med-fel.eml", "Händelserapport med fel (leverantör saknas, fel orgnr)",
                      _mail(omar[0], omar[1], service_address, "Avsteg skolmåltider",
                            "Hej! Rapport bifogad.", when=at + dt.timedelta(minutes=45),
                            attachments=[("avsteg.docx", DOCX, wrong)]).as_bytes()))

    # 4. A report forwarded by a manager: the receipt goes to the manager.
    lena = ("lena.ek@kretsloppochvatten.goteborg.se", "Lena Ek")
    forwarded_doc = fill_docx(
        build_docx(schema, "event"),
        _report("Händelserapport", "Kretslopp och vatten", "Per Holm",
                "per.holm@kretsloppochvatten.goteborg.se", None),
        [_deviation("Ledningsförnyelse", "Rör & Schakt AB", None, dt.date(year, 5, 20), 1, 1, 0,
                    ["Anställning"], ["Nyanlända"])],
        FillStyle(mark="delete", number="st"), schema=schema,
    )
    inner = _mail("per.holm@kretsloppochvatten.goteborg.se", "Per Holm", lena[0],
                  "Avstegsrapport ledningsförnyelse", "Lena, kan du skicka in den här?",
                  when=at - dt.timedelta(days=1),
                  attachments=[("Avstegsrapport.docx", DOCX, forwarded_doc)])
    fwd = _mail(lena[0], lena[1], service_address, "VB: Avstegsrapport ledningsförnyelse",
                "Vidarebefordrar Pers rapport.\n/Lena", when=at + dt.timedelta(hours=1))
    fwd.add_attachment(inner)
    out.append(Sample("04-vidarebefordrad.eml", "Vidarebefordrad rapport (kvittensen går till Lena)",
                      fwd.as_bytes()))

    # 5. A question from a person: left for the stödfunktion, no reply.
    out.append(Sample("05-fraga.eml", "Fråga från en person (lämnas orörd, inget svar)",
                      _mail("sara.nilsson@stadsmiljo.goteborg.se", "Sara Nilsson", service_address,
                            "Fråga om social hänsyn",
                            "Hej! Hur vet jag om vi ska använda modellen för social hänsyn?",
                            when=at + dt.timedelta(hours=2)).as_bytes()))

    # 6. An out-of-office reply: never answered.
    out.append(Sample("06-frånvaro.eml", "Frånvaromeddelande (besvaras aldrig)",
                      _mail("jonas.ek@goteborg.se", "Jonas Ek", service_address,
                            "Automatiskt svar: Avstegsrapport", "Jag är på semester till måndag.",
                            when=at + dt.timedelta(hours=3),
                            headers={"Auto-Submitted": "auto-replied"}).as_bytes()))
    return out


def correction(schema: Schema, service_address: str, today: dt.date, receipt_id: str,
               reference: str) -> Sample:
    """Anna corrects her report by answering the receipt: a new version, the same reference."""
    year = today.year
    anna = ("anna.svensson@trafikkontoret.goteborg.se", "Anna Svensson")
    corrected = fill_docx(
        build_docx(schema, "event"),
        _report("Händelserapport", "Trafikkontoret", anna[1], anna[0], None),
        [_deviation("Vinterväghållning 2026", "Snöröjning Väst AB", "556036-0793",
                    dt.date(year, 2, 10), 5, 4, 1, ["Anställning", "Praktik"],
                    ["Långtidsarbetslösa", "Unga"])],
        FillStyle(mark="✓"), schema=schema,
    )
    at = dt.datetime.combine(today, dt.time(14, 0), tzinfo=dt.UTC)
    msg = _mail(anna[0], anna[1], service_address, f"SV: Kvittens {reference}",
                "Hej, vi blev fem, inte fyra. Rättad mall bifogad.\n/Anna", when=at,
                attachments=[("Avstegsrapport vinterväghållning v2.docx", DOCX, corrected)],
                headers={"In-Reply-To": f"<{receipt_id}>", "References": f"<{receipt_id}>"})
    return Sample("07-rattelse.eml", "Rättelse som svar på kvittensen (ny version)", msg.as_bytes())

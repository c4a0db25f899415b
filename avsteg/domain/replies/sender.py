"""The answers a sender gets: receipt, error reply, both at once, or help. Composed, not sent.

Every reply is a plain UTF-8 Swedish text, threaded to the original (``Re:`` subject,
``In-Reply-To``, ``References``), marked ``Auto-Submitted: auto-replied`` (RFC 3834) so other
robots do not answer it, and sent to ``Reply-To`` when present. Labels come from the schema, so a
renamed field in ``schema.toml`` is renamed in the replies too. Delivery is someone else's job:
these functions return :class:`email.message.EmailMessage` and touch nothing.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Literal

from avsteg.domain.message import InboundMessage
from avsteg.domain.replies.addresses import address_header
from avsteg.domain.report import Problem
from avsteg.domain.schema import Schema
from avsteg.domain.swedish import count

Outcome = Literal["registered", "new_version", "duplicate"]
DEVIATION_SUMMARY = ("procurement", "supplier", "jobs_created")
REPORT_SUMMARY = ("organisation", "report_type", "year")
MAX_REFERENCES = 20
# Added to the subject of a reply after which nothing is in the register (spec 3).
NOT_REGISTERED = "[Ej registrerad]"
# A help reply's line for a readable Word/Excel file that is not the template (a document the
# sender wrote themselves): the register can only read the template's fields.
NOT_A_TEMPLATE = (
    "Filen är inte mallen för avstegsrapporter, så uppgifterna kan inte läsas in. Fyll i mallen "
    "och skicka den som bilaga (.docx eller .xlsx)."
)


@dataclass(frozen=True)
class RegisteredReport:
    """One template that is in the register (now, as a new version, or from before)."""

    reference: str  # AVS-2026-0001
    version: int
    outcome: Outcome
    filename: str
    report: Mapping[str, Any]  # normalised report values by schema key
    deviations: Sequence[Mapping[str, Any]]
    warnings: Sequence[Problem] = field(default_factory=tuple)


@dataclass(frozen=True)
class RejectedFile:
    """One template (or would-be template) that could not be registered."""

    filename: str
    errors: Sequence[Problem]
    warnings: Sequence[Problem] = field(default_factory=tuple)


MAX_LISTED_FILES = 20
"""A reply lists this many files at most, then "och N till": a message with 500 attachments must
not be answered with 500 lines (the pipeline lists what may be a template first)."""


def compose_reply(
    original: InboundMessage,
    *,
    registered: Sequence[RegisteredReport],
    rejected: Sequence[RejectedFile],
    schema: Schema,
    service_address: str,
    service_name: str,
    now: dt.datetime,
) -> EmailMessage:
    """ONE reply for a message: receipts for what was registered, errors for what was not."""
    new = [r for r in registered if r.outcome != "duplicate"]
    dups = [r for r in registered if r.outcome == "duplicate"]
    lines = ["Hej!", "", _intro(len(new), len(dups), len(rejected)), ""]
    for item in new:
        lines += _receipt(item, schema) + [""]
    for dup in dups:
        lines += [
            f"Filen {file_name(dup.filename)} är redan registrerad som {dup.reference}"
            + (f" (version {dup.version})" if dup.version > 1 else "")
            + ". Vi har inte registrerat den en gång till.",
            "",
        ]
    for bad in rejected[:MAX_LISTED_FILES]:
        lines += _rejection(bad, schema) + [""]
    if len(rejected) > MAX_LISTED_FILES:
        lines += [f"… och {len(rejected) - MAX_LISTED_FILES} filer till som inte heller har "
                  "registrerats.", ""]
    lines += _how_to_correct(registered, rejected)
    lines += _signature(service_name)
    references = [r.reference for r in registered]
    return _envelope(original, "\n".join(lines), references=references,
                     service_address=service_address, service_name=service_name, now=now,
                     not_registered=not registered)


def compose_help_reply(
    original: InboundMessage,
    *,
    problems: Sequence[str],
    schema: Schema,
    service_address: str,
    service_name: str,
    now: dt.datetime,
    blank_templates: Sequence[tuple[str, bytes]] = (),
) -> EmailMessage:
    """The answer to a message that meant to report but carried no readable template.

    ``blank_templates`` are attached, and the text says so once; without them it says how to
    get the template."""
    lines = [
        "Hej!",
        "",
        (
            "Tack för ditt mejl. Vi hittade ingen avstegsrapport som vi kan läsa in i det, så "
            "ingenting har registrerats."
        ),
        "",
    ]
    if problems:
        lines += ["Det här hittade vi:"] + [f"- {p}" for p in problems[:MAX_LISTED_FILES]]
        if len(problems) > MAX_LISTED_FILES:
            lines.append(f"- … och {len(problems) - MAX_LISTED_FILES} till")
        lines.append("")
    if blank_templates:
        lines += [
            _attached_text(schema, blank_templates) + " Fyll i den som passar och skicka den "
            f"som bilaga (.docx eller .xlsx) till {service_address}.",
            "",
        ]
    else:
        lines += [
            "Så skickar du rapporten: fyll i mallen och skicka den som bilaga i Word-format "
            f"(.docx) eller Excel-format (.xlsx) till {service_address}. Saknar du mallen? "
            "Svara på det här mejlet, så skickar vi den till dig.",
            "",
        ]
    lines += _signature(service_name)
    msg = _envelope(original, "\n".join(lines), references=[], service_address=service_address,
                    service_name=service_name, now=now, not_registered=True)
    for filename, data in blank_templates:
        maintype, subtype = _attachment_type(filename)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def _attached_text(schema: Schema, blank_templates: Sequence[tuple[str, bytes]]) -> str:
    """One sentence naming what is attached (the kinds and formats of the blank templates)."""
    names = [n.casefold() for n, _ in blank_templates]
    kinds = [k for k in schema.kinds.values() if any(k.casefold() in n for n in names)]
    formats = [label for ext, label in ((".docx", "Word"), (".xlsx", "Excel"))
               if any(n.endswith(ext) for n in names)]
    what = " och ".join(kinds) if kinds else "mallen"
    how = " och ".join(formats)
    return (f"Tomma mallar för {what}" + (f", i {how}," if how else "")
            + " finns bifogade i det här mejlet.")


# --- body parts ------------------------------------------------------------------------------


def _intro(new: int, dups: int, rejected: int) -> str:
    if rejected and not (new or dups):
        return ("Vi har tagit emot din avstegsrapport, men ingenting har registrerats: nedan "
                "står vad som behöver rättas." if rejected == 1 else
                f"Vi har tagit emot dina {rejected} avstegsrapporter, men ingenting har "
                "registrerats: nedan står vad som behöver rättas.")
    parts = []
    if new:
        parts.append("Tack! Din avstegsrapport är registrerad." if new == 1 and not rejected
                     else f"Tack! {new} av dina avstegsrapporter är registrerade." if new > 1
                     else "Tack! En av dina avstegsrapporter är registrerad.")
    elif dups:
        parts.append("Tack! Det du skickade är redan registrerat sedan tidigare.")
    if rejected:
        files = "En fil" if rejected == 1 else count(rejected, "fil")
        parts.append(f"{files} kunde inte registreras; se nedan vad som behöver rättas.")
    return " ".join(parts)


def _receipt(item: RegisteredReport, schema: Schema) -> list[str]:
    heading = f"Referensnummer: {item.reference}"
    if item.version > 1:
        heading += f", version {item.version} (ersätter tidigare version)"
    lines = [heading, f"Fil: {file_name(item.filename)}"]
    for key in REPORT_SUMMARY:
        value = item.report.get(key)
        if value not in (None, "", []):
            lines.append(f"{_label(schema, key)}: {_show(value)}")
    for number, deviation in enumerate(item.deviations, start=1):
        summary = "; ".join(
            f"{_label(schema, key)}: {_show(deviation.get(key))}" for key in DEVIATION_SUMMARY
        )
        for f in schema.describers(schema.deviation_fields):  # what `Annat` is, when given
            if deviation.get(f.key):
                summary += f"; {f.label}: {_show(deviation.get(f.key))}"
        lines.append(f"{schema.deviation_heading} {number}: {summary}")
    if item.warnings:
        lines.append("Att kontrollera (rapporten är registrerad ändå):")
        lines += [_problem_line(p, schema) for p in item.warnings]
    return lines


def _rejection(item: RejectedFile, schema: Schema) -> list[str]:
    lines = [f"Det här behöver rättas i {file_name(item.filename)}:"]
    lines += [_problem_line(p, schema) for p in item.errors]
    if item.warnings:
        lines.append("Kontrollera också:")
        lines += [_problem_line(p, schema) for p in item.warnings]
    return lines


def _how_to_correct(registered: Sequence[RegisteredReport],
                    rejected: Sequence[RejectedFile]) -> list[str]:
    lines: list[str] = []
    if rejected:
        lines += [
            (
                "Rätta uppgifterna i mallen och skicka den igen som bilaga, gärna som svar på "
                "det här mejlet."
            ),
            "",
        ]
    if registered:
        refs = ", ".join(dict.fromkeys(r.reference for r in registered))
        lines += [
            (
                "Vill du rätta en registrerad rapport? Svara på det här mejlet och bifoga den "
                f"rättade mallen. Behåll referensnumret ({refs}) i ämnesraden, så sparas den "
                "rättade mallen som en ny version av samma rapport."
            ),
            "",
        ]
    return lines


def _signature(service_name: str) -> list[str]:
    return [
        "Har du frågor? Svara på det här mejlet, så hör vi av oss.",
        "",
        "Vänliga hälsningar",
        service_name,
        "",
        "(Det här är ett automatiskt svar.)",
    ]


def _label(schema: Schema, key: str) -> str:
    try:
        return schema.field(key).label
    except KeyError:
        return key


def _problem_line(problem: Problem, schema: Schema) -> str:
    where = []
    if problem.deviation:
        where.append(f"{schema.deviation_heading} {problem.deviation}")
    label = problem.label or (_label(schema, problem.field) if problem.field else None)
    if label:
        where.append(label)
    return f"- {', '.join(where)}: {problem.message}" if where else f"- {problem.message}"


def _show(value: Any) -> str:
    if value is None or value == "":
        return "–"
    if isinstance(value, bool):
        return "ja" if value else "nej"
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, (Decimal, float)):
        text = format(Decimal(str(value)).normalize(), "f")
        return text.replace(".", ",")
    if isinstance(value, (list, tuple)):
        return ", ".join(_show(v) for v in value) or "–"
    return str(value)


# --- headers ---------------------------------------------------------------------------------


def reply_subject(subject: str, references: Sequence[str] = (), *,
                  not_registered: bool = False) -> str:
    """``Re: <subject>`` (never ``Re: Re:``), with the reference numbers kept in it, or with
    ``[Ej registrerad]`` when nothing from the message is in the register (spec 3)."""
    subject = " ".join(subject.split()) or "(inget ämne)"
    if not subject.casefold().startswith("re:"):
        subject = f"Re: {subject}"
    missing = [r for r in dict.fromkeys(references) if r.casefold() not in subject.casefold()]
    if not_registered and not references:
        if NOT_REGISTERED.casefold() in subject.casefold():
            return subject
        return f"{subject} {NOT_REGISTERED}"
    # A corrected report answered with a receipt: the earlier mark no longer holds.
    subject = " ".join(subject.replace(NOT_REGISTERED, " ").split())
    return subject + (f" [{', '.join(missing)}]" if missing else "")


def file_name(path: str) -> str:
    """The name a sender gave the file, without where we found it (``vidarebefordrat/…``)."""
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def _envelope(original: InboundMessage, body: str, *, references: Sequence[str],
              service_address: str, service_name: str, now: dt.datetime,
              not_registered: bool = False) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = address_header(service_name, service_address)
    if original.reply_to:
        msg["To"] = original.reply_to
    else:
        msg["To"] = address_header(original.sender_name or "", original.sender)
    msg["Subject"] = reply_subject(original.subject, references, not_registered=not_registered)
    msg["Date"] = format_datetime(now if now.tzinfo else now.replace(tzinfo=dt.UTC))
    domain = service_address.rpartition("@")[2] or None
    msg["Message-ID"] = make_msgid(domain=domain)
    if original.message_id:
        msg["In-Reply-To"] = f"<{original.message_id}>"
    chain = list(dict.fromkeys([*original.references, *filter(None, [original.message_id])]))
    if len(chain) > MAX_REFERENCES:  # keep the thread's root and the newest ones (RFC 5322)
        chain = chain[:1] + chain[-(MAX_REFERENCES - 1):]
    if chain:
        msg["References"] = " ".join(f"<{c}>" for c in chain)
    msg["Auto-Submitted"] = "auto-replied"
    msg["X-Auto-Response-Suppress"] = "All"
    msg.set_content(body + "\n", subtype="plain", charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = "sv"  # after set_content, which clears every Content-* header
    return msg


def _attachment_type(filename: str) -> tuple[str, str]:
    lower = filename.lower()
    if lower.endswith(".docx"):
        return "application", "vnd.openxmlformats-officedocument.wordprocessingml.document"
    if lower.endswith(".xlsx"):
        return "application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return "application", "octet-stream"

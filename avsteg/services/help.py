"""What a help reply lists and attaches, for a message that meant to report but has no template.

The list names each file that looks like a report but is not a readable template, those that
may be the template first (a reply lists only the first few, see ``domain.replies.sender``);
blank templates are attached so the sender can start again.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from avsteg.domain.message import InboundMessage
from avsteg.domain.replies.sender import NOT_A_TEMPLATE
from avsteg.domain.schema import Schema
from avsteg.parsers.template import parse_attachment


def help_problems(msg: InboundMessage, schema: Schema, *, today: dt.date) -> list[str]:
    """One line per file: what it is instead of a template (the sender's own documents last)."""
    first, last = [], []
    for a in msg.attachments:
        if a.problem:
            first.append(f"{a.filename}: {a.problem}")
            continue
        if a.inline:
            continue
        parsed = parse_attachment(a.path, a.data, schema, today=today)
        if parsed.status == "rejected" and parsed.errors:
            first.append(f"{a.filename}: {parsed.errors[0].message}")
        elif parsed.status == "not_a_report":  # a document of their own, not the template
            last.append(f"{a.filename}: {NOT_A_TEMPLATE}")
    return first + last


@dataclass
class BlankTemplates:
    """Blank templates to attach to a help reply, built once."""

    _built: list[tuple[str, bytes]] = field(default_factory=list)

    def get(self, schema: Schema) -> list[tuple[str, bytes]]:
        if not self._built:
            # Imported here, with a reason: python-docx and openpyxl (with numpy) add ~0.5 s to
            # the worker's start-up, and only a help reply needs them.
            from avsteg.forms.docx_template import build_docx  # see above: start-up time
            from avsteg.forms.xlsx_template import build_xlsx  # see above: start-up time

            # Both kinds in both formats: the sender may need either (spec 3, issue 10).
            self._built = [
                (f"Avstegsrapport – {name.lower()}.{fmt}", build(schema, kind))
                for kind, name in schema.kinds.items()
                for fmt, build in (("docx", build_docx), ("xlsx", build_xlsx))
            ]
        return self._built

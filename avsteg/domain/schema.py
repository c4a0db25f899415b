"""The template schema as plain values.

Everything that knows about fields (templates, parser, validator, database columns, register
export, replies) asks this object instead of hard-coding a key or a label, so that a changed
label or an added optional field stays an edit of ``config/schema.toml``.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

FieldType = Literal[
    "text", "email", "phone", "date", "year", "integer", "decimal", "orgnr", "choice", "multichoice"
]
Scope = Literal["report", "deviation"]


def label_key(text: str) -> str:
    """Fold a label as people type it (`Leverantör *:`, ` leverantör`) to one comparable form."""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ")
    text = text.strip().rstrip(":*").strip().rstrip(":*").strip()
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*/\s*", "/", text)
    return text.casefold()


@dataclass(frozen=True)
class Field:
    key: str
    label: str
    type: FieldType
    scope: Scope
    required: bool | Literal["event", "annual"] = False
    synonyms: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    option_synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    min: float | None = None
    max_offset_years: int | None = None
    not_before: str | None = None
    sum_of: tuple[str, ...] = ()
    warn_missing: bool = False
    help: dict[str, str] = field(default_factory=dict)  # kind → hint printed in that template
    former_help: tuple[str, ...] = ()
    describes: str | None = None  # the choice field whose `describes_option` this text explains
    describes_option: str | None = None
    example: str | None = None  # an example value the template's hint shows

    @property
    def printed(self) -> bool:
        """Whether the template has a row (Word) or column (Excel) for this field."""
        return self.describes is None

    @property
    def is_choice(self) -> bool:
        return self.type in ("choice", "multichoice")

    def required_for(self, report_type: str | None, kinds: dict[str, str]) -> bool:
        """Whether an empty value is an error, given the report's type (if known)."""
        if self.required is True:
            return True
        if self.required == "event":
            return report_type == kinds["event"]
        if self.required == "annual":
            return report_type == kinds["annual"]
        return False

    @property
    def marked_required(self) -> bool:
        """Whether the template prints ` *` after the label."""
        return self.required is not False

    def all_labels(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)


@dataclass(frozen=True)
class Schema:
    identifier: str
    version: str
    title: str
    service_address: str
    kinds: dict[str, str]  # {"event": "Händelserapport", "annual": "Helårsrapport"}
    annual_deviation_tables: int
    report_sheet: str
    deviation_sheet: str
    deviation_heading: str
    instructions: tuple[str, ...]
    annual_copy_hint: str
    messages: dict[str, str]
    report_fields: tuple[Field, ...]
    deviation_fields: tuple[Field, ...]
    known_organisations: tuple[str, ...] = ()
    fill_instructions: dict[str, str] = dataclasses.field(default_factory=dict)  # format → how to fill in
    hints: dict[str, str] = dataclasses.field(default_factory=dict)  # type or "fmt.type" → hint
    annual_copy_hint_xlsx: str = ""
    # Organisation → the mail domains it sends from (spec 3): the city's companies do not all
    # send from goteborg.se. Their union joins policy.allowed_sender_domains.
    organisation_domains: dict[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)

    @property
    def mail_domains(self) -> tuple[str, ...]:
        """Every organisation's mail domains, once each, in the schema's order."""
        return tuple(dict.fromkeys(d for ds in self.organisation_domains.values() for d in ds))

    @property
    def fields(self) -> tuple[Field, ...]:
        return self.report_fields + self.deviation_fields

    def field(self, key: str) -> Field:
        for f in self.fields:
            if f.key == key:
                return f
        raise KeyError(key)

    def label_index(self) -> dict[str, Field]:
        """Folded label or synonym → field. Labels win over synonyms when they collide."""
        index: dict[str, Field] = {}
        for f in self.fields:
            for syn in f.synonyms:
                index.setdefault(label_key(syn), f)
        for f in self.fields:
            index[label_key(f.label)] = f
        return index

    def message(self, name: str, **values: object) -> str:
        return self.messages[name].format(**values)

    def instructions_for(self, fmt: str, kind: str) -> tuple[str, ...]:
        """The instructions a template of ``fmt`` and ``kind`` prints, in order."""
        lines = list(self.instructions)
        fill = self.fill_instructions.get(fmt)
        if fill:
            lines.insert(1, fill)
        copy_hint = self.annual_copy_hint_xlsx if fmt == "xlsx" else self.annual_copy_hint
        if kind == "annual" and copy_hint:
            lines.append(copy_hint)
        return tuple(lines)

    def hint(self, f: Field, kind: str, fmt: str) -> str:
        """The hint under a label (Word) or in its comment (Excel): the field's own help for
        this kind, then the format hint of its type."""
        type_hint = self.hints.get(f"{fmt}.{f.type}") or self.hints.get(f.type)
        return " ".join(p for p in (f.help.get(kind), type_hint) if p)

    def other_hint(self, f: Field) -> tuple[str, str] | None:
        """``(option, line)``: the line printed next to a choice option (`Annat`) that a
        ``describes`` field explains; None when no field describes an option of ``f``."""
        for other in self.fields:
            if other.describes == f.key and other.describes_option and "other" in self.hints:
                option = other.describes_option
                return option, self.hints["other"].format(option=option, example=other.example or "")
        return None

    def describers(self, scope_fields: tuple[Field, ...]) -> tuple[Field, ...]:
        return tuple(f for f in scope_fields if f.describes is not None)

    def printed_fields(self, scope_fields: tuple[Field, ...]) -> tuple[Field, ...]:
        """The fields a template prints, in order (not the ones read from another field)."""
        return tuple(f for f in scope_fields if f.printed)
